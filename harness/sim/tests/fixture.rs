//! The simulator as a fixture in a crate's own `cargo test`: copy this file into your crate
//! (with `partner-intake-sim`, `tokio`, `russh`, `russh-sftp` and `aws-sdk-dynamodb` as
//! dev-dependencies), point `INFRA` at the `infra/` directory you deploy and `function()` at
//! your function's Lambda `bootstrap`. It uploads a file over SFTP and waits for the pipeline's
//! record to say `transferred`, all on loopback, on ephemeral ports.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::keys::{PrivateKeyWithHashAlg, ssh_key};
use tokio::io::AsyncWriteExt;

/// The definition files Terraform deploys (state machine, event pattern, policies, ...).
const INFRA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra");

/// The function to run as the copy Lambda: here this workspace's `copy-lambda`, built for the
/// test (yours is whatever `cargo build` makes of your function's `bootstrap`). `--workspace`
/// keeps the features the test run built with, so nothing but the binary is built again.
fn function() -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--workspace", "--bin", "bootstrap", "--message-format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building the function: {}", String::from_utf8_lossy(&out.stderr));
    let executable = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "bootstrap")
        .find_map(|m| m["executable"].as_str().map(str::to_string))
        .expect("cargo names the bootstrap it built");
    vec![executable]
}

/// Pins the simulator's host key, as a client should pin Transfer Family's.
struct PinnedHostKey(ssh_key::PublicKey);

impl russh::client::Handler for PinnedHostKey {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(
            matches!(key, russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } if key.key_data() == self.0.key_data()),
        )
    }
}

/// Uploads `body` to `path` in `user`'s home over SFTP.
async fn upload(sim: &sim::Simulator, user: &str, key: &ssh_key::PrivateKey, path: &str, body: &[u8]) {
    let sftp = sim.sftp();
    let config = Arc::new(russh::client::Config::default());
    let mut ssh = russh::client::connect(config, sftp.addr, PinnedHostKey(sftp.host_key)).await.expect("connects");
    let auth = ssh.authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None)).await.unwrap();
    assert!(auth.success(), "the key logs in");
    let channel = ssh.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let session = russh_sftp::client::SftpSession::new(channel.into_stream()).await.unwrap();
    let mut file = session.create(path).await.unwrap();
    file.write_all(body).await.unwrap();
    file.shutdown().await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_sftp_is_recorded_transferred() {
    let mut config = sim::SimConfig::new(PathBuf::from(INFRA), function());
    let (user, key) = sim::UserConfig::with_generated_key("acme");
    config.users.push(user);
    let sim = sim::Simulator::start(config).await.expect("the simulator starts");

    upload(&sim, "acme", &key, "inbound/orders.csv", b"order_id,amount\n1001,19.99\n").await;

    // The record the copy function keeps, read through the SDK like any DynamoDB table.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sim.sdk_config());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let items =
            dynamodb.scan().table_name(&sim.endpoints.table).send().await.expect("scan").items.unwrap_or_default();
        let status = items
            .iter()
            .find(|i| i.get("key").and_then(|k| k.as_s().ok()).is_some_and(|k| k == "acme/inbound/orders.csv"))
            .and_then(|i| i.get("status")?.as_s().ok().cloned());
        if status.as_deref() == Some("transferred") || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.as_deref(), Some("transferred"));

    let copied =
        sim.s3().get_object().bucket(&sim.endpoints.destination_bucket).key("acme/inbound/orders.csv").send().await;
    assert!(copied.is_ok(), "the copy is at the destination");
    // Dropping `sim` stops every service and removes its storage.
}
