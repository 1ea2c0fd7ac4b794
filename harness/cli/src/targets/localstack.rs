//! `--target localstack`: LocalStack in Docker (the pinned community image of
//! docker/compose.yaml), used as an `endpoint` target with the stack provisioned.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The image: a community release that needs no auth token.
pub const IMAGE: &str = "localstack/localstack:3.8.1";
const CONTAINER: &str = "partner-intake-localstack";
const URL: &str = "http://127.0.0.1:4566";

fn docker_works() -> bool {
    Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output().is_ok_and(|o| o.status.success())
}

/// Starts LocalStack (or reuses the running container) and returns its endpoint URL.
pub fn start() -> anyhow::Result<String> {
    if !docker_works() {
        bail!(
            "no Docker engine is reachable, so LocalStack cannot start here; run LocalStack elsewhere and use --target endpoint --endpoint-url URL"
        );
    }
    let running = Command::new("docker")
        .args(["ps", "--filter", &format!("name={CONTAINER}"), "--format", "{{.Names}}"])
        .output()
        .context("docker ps")?;
    if !String::from_utf8_lossy(&running.stdout).contains(CONTAINER) {
        let status = Command::new("docker")
            .args(["run", "-d", "--rm", "--name", CONTAINER, "-p", "127.0.0.1:4566:4566"])
            .args(["-e", "SERVICES=s3,dynamodb,sts", IMAGE])
            .status()
            .context("docker run")?;
        if !status.success() {
            bail!("docker run {IMAGE} failed");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect("127.0.0.1:4566").is_ok() {
            return Ok(URL.to_string());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!("LocalStack did not answer on {URL} within two minutes (docker logs {CONTAINER})")
}
