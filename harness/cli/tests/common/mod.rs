//! Helpers shared by the end-to-end tests: `harness sim` as a child process, and clients of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `harness sim --json` on free ports, killed on drop.
pub struct SimProcess {
    child: Child,
    /// The `--json` line: endpoints, user, key paths, credentials.
    pub info: serde_json::Value,
    /// Where it wrote the user's key and known_hosts.
    pub dir: tempfile::TempDir,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // SIGTERM, so the simulator removes its stored objects; SIGKILL only if it hangs.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
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
    /// The SFTP address.
    pub fn sftp(&self) -> std::net::SocketAddr {
        self.info["sftp"].as_str().unwrap().parse().unwrap()
    }

    /// A string field of the `--json` line.
    pub fn get(&self, field: &str) -> &str {
        self.info[field].as_str().unwrap_or_else(|| panic!("no {field} in {}", self.info))
    }
}

/// Starts `harness sim` and waits for its `--json` line (printed once everything listens).
pub fn start_sim() -> SimProcess {
    start_sim_with(&[])
}

/// Starts `harness sim` with extra arguments.
pub fn start_sim_with(extra: &[&str]) -> SimProcess {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["sim", "--json", "--sftp-port", "0", "--port", "0", "--dynamodb-port", "0", "--key-dir"])
        .arg(dir.path())
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("harness sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let info: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad --json line {line:?}: {e}"));
    SimProcess { child, info, dir }
}

/// The headless Chromium on PATH; `None` (a failure under CI) where there is none.
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        testkit::unavailable(
            "headless Chromium",
            "none of chromium, chromium-browser, google-chrome runs (apt-get install chromium; .ci/run does)",
        );
    }
    found
}

/// The `aws` CLI against a running `harness sim`, with its credentials: (succeeded, output).
pub fn aws(sim: &SimProcess, args: &[&str]) -> (bool, String) {
    let i = &sim.info;
    let out = Command::new("aws")
        .arg("--endpoint-url")
        .arg(i["aws"].as_str().unwrap())
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", i["access_key_id"].as_str().unwrap())
        .env("AWS_SECRET_ACCESS_KEY", i["secret_access_key"].as_str().unwrap())
        .env("AWS_DEFAULT_REGION", i["region"].as_str().unwrap())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("aws runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Defined for every paramiko script: `refused(what, call)` prints whether the server refused.
const PARAMIKO_PRELUDE: &str = r#"
def refused(what, call):
    try:
        call()
        print("refused", what, "NO")
    except IOError as e:
        print("refused", what, "yes:", e)
"#;

/// Runs a Python script that uses paramiko with `args`: its output, or `None` (after saying so)
/// where the pinned paramiko cannot be provisioned.
pub fn run_paramiko(script: &str, args: &[&std::ffi::OsStr]) -> Option<(bool, String)> {
    let python = match testkit::python_module("paramiko") {
        Ok(python) => python,
        Err(why) => {
            testkit::unavailable("paramiko", &why);
            return None;
        }
    };
    let program = format!("{PARAMIKO_PRELUDE}{script}");
    let out = python.command().args(["-c", &program]).args(args).output().expect("python runs");
    let t = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success(), t))
}

/// How OpenSSH's `sftp` logs in to a server under test.
pub struct SftpLogin<'a> {
    /// Server host.
    pub host: &'a str,
    /// Server port.
    pub port: u16,
    /// User name.
    pub user: &'a str,
    /// Private key file.
    pub key: &'a std::path::Path,
    /// known_hosts file holding the server's host key.
    pub known_hosts: &'a std::path::Path,
}

impl SftpLogin<'_> {
    /// `sftp -b` with `script`, the host key checked, no prompts; `options` are extra `-o` values.
    pub fn batch(&self, script: &str, options: &[&str]) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let batch = dir.path().join("batch");
        std::fs::write(&batch, script).unwrap();
        Command::new("sftp")
            .arg("-b")
            .arg(&batch)
            .args(["-P", &self.port.to_string(), "-i"])
            .arg(self.key)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "ConnectTimeout=10", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(options.iter().flat_map(|o| ["-o", o]))
            .arg(format!("{}@{}", self.user, self.host))
            .output()
            .expect("sftp runs")
    }
}

impl SimProcess {
    /// `sftp -b` as the simulator's user, with the key it wrote or `key`.
    pub fn sftp_batch(&self, script: &str, key: Option<&std::path::Path>, options: &[&str]) -> std::process::Output {
        let addr = self.sftp();
        let host = addr.ip().to_string();
        let own = std::path::PathBuf::from(self.get("private_key"));
        let known_hosts = std::path::PathBuf::from(self.get("known_hosts"));
        let login = SftpLogin {
            host: &host,
            port: addr.port(),
            user: self.get("user"),
            key: key.unwrap_or(&own),
            known_hosts: &known_hosts,
        };
        login.batch(script, options)
    }
}
