//! The harness's SFTP client: russh over a real socket, public-key auth, the server's host key
//! pinned, files opened write-only and streamed with many writes in flight.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{FuturesUnordered, StreamExt};
use russh::keys::PrivateKeyWithHashAlg;
use russh::keys::ssh_key::{self, HashAlg, PrivateKey};
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use sha2::{Digest, Sha256};
use tracing::{Instrument, debug, info_span};

use crate::content::Content;

/// Why an SFTP step failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP or SSH failure.
    #[error("ssh to {addr}: {message}")]
    Ssh {
        /// Server.
        addr: String,
        /// What happened.
        message: String,
    },
    /// The server refused the key.
    #[error("user {user}: public key refused by the server")]
    AuthRefused {
        /// User.
        user: String,
    },
    /// An SFTP request failed.
    #[error("sftp {operation} {path}: {message}")]
    Sftp {
        /// Operation.
        operation: &'static str,
        /// Path.
        path: String,
        /// The server's status and message.
        message: String,
    },
}

/// Bytes per SFTP write (OpenSSH's default request size).
const WRITE_SIZE: usize = 32 * 1024;
/// Writes in flight per file.
const WRITES_IN_FLIGHT: usize = 64;

struct Handler {
    expected: Option<String>,
    /// When the server's host key arrived: the key exchange's end, as the client sees it.
    host_key_at: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl russh::client::Handler for Handler {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        *self.host_key_at.lock().unwrap() = Some(Instant::now());
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else { return Ok(false) };
        Ok(match &self.expected {
            Some(fp) => key.fingerprint(HashAlg::Sha256).to_string() == *fp,
            None => true,
        })
    }
}

/// How long each step of logging in took.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectTimings {
    /// TCP connect.
    pub tcp: Duration,
    /// SSH version exchange and key exchange, until the host key was checked.
    pub handshake: Duration,
    /// Public-key authentication (from the host key check, so the end of the key exchange
    /// counts here).
    pub auth: Duration,
    /// Opening the session channel and starting the SFTP subsystem.
    pub channel: Duration,
}

/// How long each step of one upload took.
#[derive(Debug, Clone)]
pub struct UploadTimings {
    /// SSH_FXP_OPEN.
    pub open: Duration,
    /// Every write, acknowledged.
    pub write: Duration,
    /// SSH_FXP_CLOSE, acknowledged: the server has the whole file.
    pub close: Duration,
    /// When the close was acknowledged (wall clock, for the pipeline's timestamps).
    pub closed_at: SystemTime,
    /// Bytes written.
    pub bytes: u64,
    /// SHA-256 of the bytes written, hex.
    pub sha256: String,
}

/// A logged-in SSH connection with one SFTP channel; [`SftpClient::open_channel`] opens more
/// (Transfer Family allows ten per connection).
pub struct SftpClient {
    ssh: russh::client::Handle<Handler>,
    primary: SftpChannel,
    addr: String,
}

/// One SFTP channel (subsystem) of a connection.
pub struct SftpChannel {
    sftp: RawSftpSession,
}

fn sftp_err(operation: &'static str, path: &str, e: russh_sftp::client::error::Error) -> ClientError {
    ClientError::Sftp { operation, path: path.into(), message: e.to_string() }
}

async fn open_sftp(ssh: &russh::client::Handle<Handler>, addr: &str) -> Result<SftpChannel, ClientError> {
    let ssh_err = |e: russh::Error| ClientError::Ssh { addr: addr.into(), message: e.to_string() };
    let channel = ssh.channel_open_session().await.map_err(ssh_err)?;
    channel.request_subsystem(true, "sftp").await.map_err(ssh_err)?;
    let sftp = RawSftpSession::new(channel.into_stream());
    sftp.init().await.map_err(|e| sftp_err("init", "", e))?;
    Ok(SftpChannel { sftp })
}

impl SftpClient {
    /// Connects, checks the host key against `host_fingerprint` (SHA256:...), and logs in.
    pub async fn connect(
        host: &str,
        port: u16,
        host_fingerprint: Option<String>,
        user: &str,
        key: &PrivateKey,
    ) -> Result<Self, ClientError> {
        Self::connect_timed(host, port, host_fingerprint, user, key).await.map(|(c, _)| c)
    }

    /// [`SftpClient::connect`], saying how long each step took.
    pub async fn connect_timed(
        host: &str,
        port: u16,
        host_fingerprint: Option<String>,
        user: &str,
        key: &PrivateKey,
    ) -> Result<(Self, ConnectTimings), ClientError> {
        let addr = format!("{host}:{port}");
        let ssh_err = |e: russh::Error| ClientError::Ssh { addr: addr.clone(), message: e.to_string() };
        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| ClientError::Ssh { addr: addr.clone(), message: format!("TCP connect: {e}") })?;
        let _ = tcp.set_nodelay(true);
        let connected = Instant::now();
        let host_key_at = Arc::new(std::sync::Mutex::new(None));
        let handler = Handler { expected: host_fingerprint, host_key_at: host_key_at.clone() };
        let config = Arc::new(russh::client::Config::default());
        let mut ssh = russh::client::connect_stream(config, tcp, handler).await.map_err(ssh_err)?;
        let hash = match key.algorithm() {
            ssh_key::Algorithm::Rsa { .. } => ssh.best_supported_rsa_hash().await.map_err(ssh_err)?.flatten(),
            _ => None,
        };
        let auth = ssh
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key.clone()), hash))
            .await
            .map_err(ssh_err)?;
        if !auth.success() {
            return Err(ClientError::AuthRefused { user: user.into() });
        }
        let authed = Instant::now();
        let kex_done = host_key_at.lock().unwrap().unwrap_or(connected).clamp(connected, authed);
        let primary = open_sftp(&ssh, &addr).await?;
        let timings = ConnectTimings {
            tcp: connected - started,
            handshake: kex_done - connected,
            auth: authed - kex_done,
            channel: authed.elapsed(),
        };
        Ok((Self { ssh, primary, addr }, timings))
    }

    /// Another SFTP channel on this connection.
    pub async fn open_channel(&self) -> Result<SftpChannel, ClientError> {
        open_sftp(&self.ssh, &self.addr).await
    }

    /// The channel opened with the connection.
    pub fn channel(&self) -> &SftpChannel {
        &self.primary
    }

    /// Creates each missing directory on the way to `dir` (`/a/b/c`, or `a/b/c` from the home
    /// directory).
    pub async fn mkdir_all(&self, dir: &str) -> Result<(), ClientError> {
        self.primary.mkdir_all(dir).await
    }

    /// Uploads `content` to `path` on the first channel.
    pub async fn upload(&self, path: &str, content: &Content) -> Result<UploadTimings, ClientError> {
        self.primary.upload(path, content).await
    }

    /// Renames a file.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), ClientError> {
        self.primary.sftp.rename(from, to).await.map_err(|e| sftp_err("rename", from, e))?;
        Ok(())
    }

    /// Writes the first `cut` bytes of `content` to `path`, then drops the connection without
    /// closing the file, as a lost network would.
    pub async fn upload_and_drop(self, path: &str, content: &Content, cut: u64) -> Result<u64, ClientError> {
        let sftp = &self.primary.sftp;
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        let handle =
            sftp.open(path, flags, FileAttributes::default()).await.map_err(|e| sftp_err("open", path, e))?.handle;
        let total = cut.min(content.len());
        let mut offset = 0;
        while offset < total {
            let n = (total - offset).min(WRITE_SIZE as u64) as usize;
            let mut buf = vec![0u8; n];
            content.fill(offset, &mut buf);
            sftp.write(handle.as_str(), offset, buf).await.map_err(|e| sftp_err("write", path, e))?;
            offset += n as u64;
        }
        // No CLOSE, no SSH disconnect: the TCP connection just goes away.
        drop(self);
        Ok(total)
    }

    /// Names in a directory (without `.` and `..`), sorted.
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, ClientError> {
        self.primary.list(dir).await
    }

    /// The server's canonical form of a path.
    pub async fn realpath(&self, path: &str) -> Result<String, ClientError> {
        let name = self.primary.sftp.realpath(path).await.map_err(|e| sftp_err("realpath", path, e))?;
        Ok(name.files.into_iter().next().map(|f| f.filename).unwrap_or_default())
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.primary.sftp.close_session();
        let _ = self.ssh.disconnect(russh::Disconnect::ByApplication, "", "en").await;
        debug!(addr = %self.addr, "disconnected");
    }
}

impl SftpChannel {
    /// Creates each missing directory on the way to `dir`.
    pub async fn mkdir_all(&self, dir: &str) -> Result<(), ClientError> {
        let mut path = String::new();
        for seg in dir.split('/').filter(|s| !s.is_empty()) {
            if dir.starts_with('/') || !path.is_empty() {
                path.push('/');
            }
            path.push_str(seg);
            if self.sftp.stat(path.clone()).await.is_ok() {
                continue;
            }
            if let Err(e) = self.sftp.mkdir(path.clone(), FileAttributes::default()).await {
                // Another client (a shard of the same run) may have made it meanwhile.
                if self.sftp.stat(path.clone()).await.is_err() {
                    return Err(sftp_err("mkdir", &path, e));
                }
            }
        }
        Ok(())
    }

    /// Uploads `content` to `path`, write-only, keeping [`WRITES_IN_FLIGHT`] writes in flight;
    /// hashes the bytes as they go out, in order.
    pub async fn upload(&self, path: &str, content: &Content) -> Result<UploadTimings, ClientError> {
        let span = info_span!("upload", path, size = content.len());
        async {
            let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
            let t0 = Instant::now();
            let handle = self
                .sftp
                .open(path, flags, FileAttributes::default())
                .await
                .map_err(|e| sftp_err("open", path, e))?
                .handle;
            let opened = Instant::now();
            let total = content.len();
            let mut hasher = Sha256::new();
            let mut offset = 0u64;
            let mut in_flight = FuturesUnordered::new();
            while offset < total || !in_flight.is_empty() {
                while offset < total && in_flight.len() < WRITES_IN_FLIGHT {
                    let n = (total - offset).min(WRITE_SIZE as u64) as usize;
                    let mut buf = vec![0u8; n];
                    content.fill(offset, &mut buf);
                    hasher.update(&buf);
                    in_flight.push(self.sftp.write(handle.as_str(), offset, buf));
                    offset += n as u64;
                }
                if let Some(r) = in_flight.next().await {
                    let status = r.map_err(|e| sftp_err("write", path, e))?;
                    if status.status_code != StatusCode::Ok {
                        return Err(ClientError::Sftp {
                            operation: "write",
                            path: path.into(),
                            message: status.error_message,
                        });
                    }
                }
            }
            drop(in_flight);
            let written = Instant::now();
            self.sftp.close(handle.as_str()).await.map_err(|e| sftp_err("close", path, e))?;
            let closed = Instant::now();
            debug!(bytes = total, "uploaded");
            let sha256 = hex::encode(hasher.finalize());
            content.remember_sha256(&sha256);
            Ok(UploadTimings {
                open: opened - t0,
                write: written - opened,
                close: closed - written,
                closed_at: SystemTime::now(),
                bytes: total,
                sha256,
            })
        }
        .instrument(span)
        .await
    }

    /// Names in a directory (without `.` and `..`), sorted.
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, ClientError> {
        let handle = self.sftp.opendir(dir).await.map_err(|e| sftp_err("opendir", dir, e))?.handle;
        let mut names = Vec::new();
        loop {
            match self.sftp.readdir(handle.as_str()).await {
                Ok(batch) => {
                    names.extend(batch.files.into_iter().map(|f| f.filename).filter(|n| n != "." && n != ".."))
                }
                Err(russh_sftp::client::error::Error::Status(s)) if s.status_code == StatusCode::Eof => break,
                Err(e) => return Err(sftp_err("readdir", dir, e)),
            }
        }
        let _ = self.sftp.close(handle.as_str()).await;
        names.sort();
        Ok(names)
    }
}

/// A fresh Ed25519 key for a scenario user.
pub fn generate_key() -> PrivateKey {
    PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519).expect("ed25519 key generation")
}
