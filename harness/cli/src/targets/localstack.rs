//! `--target localstack`: LocalStack in Docker (the pinned community image of
//! docker/compose.yaml), used as an `endpoint` target with the stack provisioned. Built with the
//! `testcontainers` feature, the container is started through testcontainers (its LocalStack
//! module) on an ephemeral port and removed when the run ends; without it, with the docker CLI
//! on port 4566, left running for the next run.

use std::process::Command;
#[cfg(not(feature = "testcontainers"))]
use std::time::{Duration, Instant};

#[cfg(not(feature = "testcontainers"))]
use anyhow::Context;
use anyhow::bail;

/// The image: a community release that needs no auth token.
pub const IMAGE: &str = "localstack/localstack:3.8.1";
/// Its tag.
#[cfg(feature = "testcontainers")]
const TAG: &str = "3.8.1";
#[cfg(not(feature = "testcontainers"))]
const CONTAINER: &str = "partner-intake-localstack";
#[cfg(not(feature = "testcontainers"))]
const URL: &str = "http://127.0.0.1:4566";

fn docker_works() -> bool {
    Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output().is_ok_and(|o| o.status.success())
}

const NO_DOCKER: &str = "no Docker engine is reachable, so LocalStack cannot start here; run LocalStack elsewhere and use --target endpoint --endpoint-url URL";

/// The container testcontainers started, removed when [`stop`] drops it.
#[cfg(feature = "testcontainers")]
static RUNNING: std::sync::Mutex<
    Option<testcontainers_modules::testcontainers::ContainerAsync<testcontainers_modules::localstack::LocalStack>>,
> = std::sync::Mutex::new(None);

/// Starts LocalStack through testcontainers and returns its endpoint URL (inside the runtime).
#[cfg(feature = "testcontainers")]
pub fn start() -> anyhow::Result<String> {
    use testcontainers_modules::localstack::LocalStack;
    use testcontainers_modules::testcontainers::{ImageExt, runners::AsyncRunner};
    if !docker_works() {
        bail!("{NO_DOCKER}");
    }
    let started = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async {
            let c = LocalStack::default().with_tag(TAG).with_env_var("SERVICES", "s3,dynamodb,sts").start().await?;
            let port = c.get_host_port_ipv4(4566).await?;
            Ok::<_, testcontainers_modules::testcontainers::TestcontainersError>((c, port))
        })
    });
    let (container, port) = started.map_err(|e| anyhow::anyhow!("testcontainers could not start {IMAGE}: {e}"))?;
    *RUNNING.lock().unwrap() = Some(container);
    Ok(format!("http://127.0.0.1:{port}"))
}

/// Removes the container [`start`] started, if any.
pub fn stop() {
    #[cfg(feature = "testcontainers")]
    drop(RUNNING.lock().unwrap().take());
}

/// Starts LocalStack (or reuses the running container) and returns its endpoint URL.
#[cfg(not(feature = "testcontainers"))]
pub fn start() -> anyhow::Result<String> {
    if !docker_works() {
        bail!("{NO_DOCKER}");
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
