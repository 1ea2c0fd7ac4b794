//! A virtual user's SFTP work: log in, upload a file on a channel, report what it saw. The
//! engine decides when; this module only does and measures.

use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use super::sample::{Sample, Samples};
use super::tracker::UploadedFile;
use crate::content::Content;
use crate::sftp_client::{ClientError, SftpChannel, SftpClient};
use crate::targets::{Account, Target};

/// One file to upload.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its name in the run's directory.
    pub name: String,
    /// Size.
    pub size: u64,
    /// Content seed (distinct files differ).
    pub seed: u64,
    /// When it was due: latency counts from here, not from when a channel was free.
    pub due: Instant,
}

/// What every session of a run shares.
pub struct Ctx {
    /// Where the SFTP server is.
    pub target: Target,
    /// The aggregator.
    pub samples: Samples,
    /// The pipeline tracker (none in partner mode).
    pub tracker: Option<mpsc::UnboundedSender<UploadedFile>>,
    /// The run's directory under each user's home (`load/<run id>`).
    pub run_dir: String,
    /// The profile's user names, in order (accounts are given in the same order).
    pub user_names: Vec<String>,
}

/// The class of a failed login.
fn login_class(e: &ClientError) -> &'static str {
    match e {
        ClientError::AuthRefused { .. } => "auth",
        ClientError::Ssh { message, .. } if message.starts_with("TCP connect") => "connect",
        ClientError::Ssh { .. } => "handshake",
        ClientError::Sftp { .. } => "channel",
    }
}

/// The class of a failed upload.
fn upload_class(e: &ClientError) -> &'static str {
    match e {
        ClientError::Sftp { operation: "open", .. } => "open",
        ClientError::Sftp { operation: "close", .. } => "close",
        ClientError::Sftp { .. } => "write",
        _ => "connection",
    }
}

impl Ctx {
    /// Logs in as `account`; `None` (after reporting why) when it fails.
    pub async fn login(&self, account: &Account) -> Option<SftpClient> {
        let t = &self.target;
        match SftpClient::connect_timed(
            &t.sftp_host,
            t.sftp_port,
            t.host_key_fingerprint.clone(),
            &account.name,
            &account.key,
        )
        .await
        {
            Ok((client, timings)) => {
                self.samples.send(Sample::LoggedIn { at: SystemTime::now(), timings });
                Some(client)
            }
            Err(e) => {
                self.samples.error(login_class(&e), e.to_string());
                None
            }
        }
    }

    /// Ends a logged-in session.
    pub async fn logout(&self, client: SftpClient) {
        client.close().await;
        self.samples.send(Sample::LoggedOut);
    }

    /// The channels of `client` besides its first, up to `total` in all; a channel that does
    /// not open is reported and left out.
    pub async fn channels(&self, client: &SftpClient, total: u32) -> Vec<SftpChannel> {
        let mut out = Vec::new();
        for _ in 1..total {
            match client.open_channel().await {
                Ok(c) => out.push(c),
                Err(e) => self.samples.error("channel", e.to_string()),
            }
        }
        out
    }

    /// Uploads `job` as `account` on `channel`: whether it worked (failures are reported).
    pub async fn upload(&self, channel: &SftpChannel, account: &Account, job: &Job) -> bool {
        let started = Instant::now();
        let path = format!("{}/{}", self.run_dir, job.name);
        let content = Content::Generated { size: job.size, seed: job.seed };
        match channel.upload(&path, &content).await {
            Ok(timings) => {
                let closed = Instant::now();
                if let Some(tracker) = &self.tracker {
                    // Default homes: the user's folder in the source bucket.
                    let _ = tracker.send(UploadedFile {
                        key: format!("{}/{path}", account.name),
                        size: timings.bytes,
                        sha256: timings.sha256.clone(),
                        closed_at: timings.closed_at,
                        closed,
                    });
                }
                self.samples.send(Sample::Uploaded {
                    queued: started.saturating_duration_since(job.due),
                    total: closed.saturating_duration_since(job.due),
                    timings,
                });
                true
            }
            Err(e) => {
                self.samples.error(upload_class(&e), e.to_string());
                false
            }
        }
    }

    /// Creates the run's directory in `account`'s home (before the run; not measured).
    pub async fn prepare(&self, account: &Account) -> Result<(), ClientError> {
        let t = &self.target;
        let client =
            SftpClient::connect(&t.sftp_host, t.sftp_port, t.host_key_fingerprint.clone(), &account.name, &account.key)
                .await?;
        let made = client.mkdir_all(&self.run_dir).await;
        client.close().await;
        made
    }
}
