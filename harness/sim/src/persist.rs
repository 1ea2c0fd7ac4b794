//! `--data-dir`: what the simulator keeps across restarts, and where. S3 bodies are files and
//! DynamoDB is an SQLite database from the start; buckets and versions, logs and executions
//! are snapshots written atomically twice a second and at shutdown.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves the old
/// contents or the new, never half of either.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("{}.{n}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// The layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// `dir`, created if missing.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self(dir.to_path_buf()))
    }

    /// The SFTP host key kept here, made on first use.
    pub fn host_key(&self) -> std::io::Result<russh::keys::ssh_key::PrivateKey> {
        use russh::keys::ssh_key::{Algorithm, LineEnding, PrivateKey};
        let path = self.0.join("host_key");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                PrivateKey::from_openssh(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).map_err(std::io::Error::other)?;
                let text = key.to_openssh(LineEnding::LF).map_err(std::io::Error::other)?;
                write_atomically(&path, text.as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// The Transfer Family server id kept here, made with `make` on first use.
    pub fn server_id(&self, make: impl FnOnce() -> String) -> std::io::Result<String> {
        let path = self.0.join("server-id");
        match std::fs::read_to_string(&path) {
            Ok(id) => Ok(id.trim().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = make();
                write_atomically(&path, id.as_bytes())?;
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// S3's bodies and state.
    pub fn s3(&self) -> PathBuf {
        self.0.join("s3")
    }

    /// DynamoDB's SQLite database.
    pub fn dynamodb(&self) -> PathBuf {
        self.0.join("dynamodb.sqlite")
    }

    /// CloudWatch Logs' groups.
    pub fn logs(&self) -> PathBuf {
        self.0.join("logs.json")
    }

    /// SQS's queues (the rule's dead letters).
    pub fn queues(&self) -> PathBuf {
        self.0.join("queues.json")
    }

    /// Step Functions' executions.
    pub fn executions(&self) -> PathBuf {
        self.0.join("executions.json")
    }
}
