//! OpenSSH's sshd with internal-sftp on a loopback port, for benchmarks: its own host key, one
//! user (the caller, with a fresh key), one cipher so both clients negotiate the same. As root
//! it chroots into a directory under /run (sshd demands root-owned parents); otherwise it starts
//! SFTP sessions in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running sshd, stopped on drop.
pub struct Sshd {
    child: Child,
    _dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// That user's private key file.
    pub key_path: PathBuf,
    /// The server's host key fingerprint (SHA256:...).
    pub fingerprint: String,
    /// known_hosts for OpenSSH's client.
    pub known_hosts: PathBuf,
    /// Where uploads land on disk.
    pub upload_dir: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) -> anyhow::Result<()> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .context("running ssh-keygen (apt-get install openssh-client)")?;
    if !out.status.success() {
        bail!("ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl Sshd {
    /// Starts sshd offering only `cipher`.
    pub fn start(cipher: &str) -> anyhow::Result<Sshd> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .context("no sshd (apt-get install openssh-server)")?;
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let dir = if root {
            tempfile::Builder::new().prefix("harness-bench-sshd-").tempdir_in("/run")?
        } else {
            tempfile::Builder::new().prefix("harness-bench-sshd-").tempdir()?
        };
        let d = dir.path();
        keygen(&d.join("host"))?;
        keygen(&d.join("user"))?;
        std::fs::copy(d.join("user.pub"), d.join("authorized_keys"))?;
        let chroot = d.join("chroot");
        std::fs::create_dir(&chroot)?;
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let user = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?.trim().to_string();
        let sftp = if root {
            format!("ChrootDirectory {}\nForceCommand internal-sftp\n", chroot.display())
        } else {
            format!("ForceCommand internal-sftp -d {}\n", chroot.display())
        };
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nCiphers {cipher}\nMaxSessions 100\nMaxStartups 200:30:400\nSubsystem sftp internal-sftp\n{sftp}",
            d.join("host").display(),
            d.join("sshd.pid").display(),
            d.join("authorized_keys").display(),
        );
        std::fs::write(d.join("sshd_config"), config)?;
        let log = std::fs::File::create(d.join("sshd.log"))?;
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting sshd")?;
        let mut s = Sshd {
            child,
            port,
            user,
            key_path: d.join("user"),
            fingerprint: String::new(),
            known_hosts: d.join("known_hosts"),
            upload_dir: chroot,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let said = || std::fs::read_to_string(s._dir.path().join("sshd.log")).unwrap_or_default();
            if let Ok(Some(status)) = s.child.try_wait() {
                bail!("sshd exited ({status}): {}", said());
            }
            if Instant::now() > deadline {
                bail!("sshd did not listen within 10 s: {}", said());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let host_pub = std::fs::read_to_string(s._dir.path().join("host.pub"))?;
        std::fs::write(&s.known_hosts, format!("[127.0.0.1]:{port} {host_pub}"))?;
        let key = russh::keys::ssh_key::PublicKey::from_openssh(host_pub.trim())?;
        s.fingerprint = key.fingerprint(russh::keys::ssh_key::HashAlg::Sha256).to_string();
        Ok(s)
    }

    /// `sftp -b SCRIPT` as the user, host key checked (the child, to wait for).
    pub fn sftp_batch(&self, script: &Path) -> std::io::Result<Child> {
        Command::new("sftp")
            .arg("-b")
            .arg(script)
            .args(["-P", &self.port.to_string(), "-i"])
            .arg(&self.key_path)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .arg(format!("{}@127.0.0.1", self.user))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
    }

    /// The user's private key.
    pub fn key(&self) -> anyhow::Result<russh::keys::PrivateKey> {
        russh::keys::load_secret_key(&self.key_path, None).context("reading the bench user's key")
    }
}
