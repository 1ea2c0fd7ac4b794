//! `harness sim --json` as a child process, for figures that must not share a process with the
//! client: its own peak memory, its start-up time, its CPU.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running `harness sim`, stopped on drop.
pub struct SimProcess {
    child: Child,
    _dir: tempfile::TempDir,
    /// From spawn to its JSON line: listening on every port.
    pub ready_after: Duration,
    /// SFTP port on 127.0.0.1.
    pub sftp_port: u16,
    /// The generated user.
    pub user: String,
    /// That user's private key file.
    pub key_path: PathBuf,
    /// known_hosts naming the simulator's host key.
    pub known_hosts: PathBuf,
    /// Its whole `--json` line (endpoints, names, credentials).
    pub info: serde_json::Value,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // SIGTERM first: a killed simulator leaves its stored objects behind in the temporary
        // directory (gigabytes after a copy benchmark); SIGKILL only if it does not stop.
        // SAFETY: kill(2) with the pid of a child we have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SimProcess {
    /// Starts this executable's `sim` on ephemeral ports and waits for its JSON line.
    pub fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the harness executable")?;
        let dir = tempfile::Builder::new().prefix("harness-bench-sim-").tempdir()?;
        let stderr = std::fs::File::create(dir.path().join("stderr"))?;
        let t = Instant::now();
        let mut child = Command::new(exe)
            .args(["sim", "--json", "--sftp-port", "0", "--port", "0", "--dynamodb-port", "0", "--key-dir"])
            .arg(dir.path())
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting harness sim")?;
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let ready_after = t.elapsed();
        let said = || std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
        if read.is_err() || line.trim().is_empty() {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            bail!("harness sim printed no JSON line ({status}): {}", said());
        }
        let v: serde_json::Value = serde_json::from_str(&line).context("harness sim's JSON line")?;
        let field = |k: &str| v[k].as_str().map(str::to_string).with_context(|| format!("no {k:?} in {line}"));
        let sftp = field("sftp")?;
        let sftp_port =
            sftp.rsplit(':').next().and_then(|p| p.parse().ok()).with_context(|| format!("sftp {sftp:?}"))?;
        Ok(Self {
            ready_after,
            sftp_port,
            user: field("user")?,
            key_path: field("private_key")?.into(),
            known_hosts: field("known_hosts")?.into(),
            info: v.clone(),
            child,
            _dir: dir,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of /proc/PID/status in MiB (`VmHWM`: peak resident memory; `VmRSS`: now).
    pub fn memory_mib(&self, field: &str) -> Option<f64> {
        proc_status_kib(self.child.id(), field).map(|k| k as f64 / 1024.0)
    }
}

/// A `kB` field of /proc/PID/status.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU seconds (user + system) of a process and its waited-for children, from /proc/PID/stat.
pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its closing parenthesis.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let sum: u64 = [11, 12, 13, 14].iter().filter_map(|i| f.get(*i)?.parse::<u64>().ok()).sum();
    Some(sum as f64 / ticks)
}

/// Waits until `pid` has used under 20 ms of CPU in 250 ms (work from the last upload, such
/// as the pipeline's copy, done), or 30 s passed.
pub fn settle(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = proc_cpu_seconds(pid).unwrap_or(0.0);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        let now = proc_cpu_seconds(pid).unwrap_or(0.0);
        if now - last < 0.02 {
            return;
        }
        last = now;
    }
}

/// `sftp -b` of one `put LOCAL REMOTE`, host key checked, one cipher; seconds it took. A failed
/// upload is an error, never a fast one.
pub fn openssh_put(
    port: u16,
    user: &str,
    key: &Path,
    known_hosts: &Path,
    cipher: &str,
    local: &Path,
    remote: &str,
) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("batch");
    std::fs::write(&script, format!("put {} {remote}\n", local.display()))?;
    let t = Instant::now();
    let out = Command::new("sftp")
        .arg("-b")
        .arg(&script)
        .args(["-P", &port.to_string(), "-i"])
        .arg(key)
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", &format!("Ciphers={cipher}")])
        .arg(format!("{user}@127.0.0.1"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running sftp (apt-get install openssh-client)")?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("sftp put to port {port} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(secs)
}
