//! moto's server (`python3 -m moto.server`) on a free loopback port, for differential tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The version the tests' expectations were checked against (pinned in
/// `python-requirements.txt`, provisioned by [`crate::python`]).
pub const VERSION: &str = "5.2.5";

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: tempfile::NamedTempFile,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto's server and waits until it answers; `Err` says why it did not, with its
    /// stderr. `execute_state_machines` asks moto to run Step Functions definitions (off by
    /// default in moto).
    pub fn start(execute_state_machines: bool) -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let log = tempfile::NamedTempFile::new().map_err(|e| format!("no file for its stderr: {e}"))?;
        let python = crate::python::python()?;
        let child = python
            .command()
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log.reopen().map_err(|e| format!("no file for its stderr: {e}"))?)
            .spawn()
            .map_err(|e| format!("{} does not run: {e}", python.exe().display()))?;
        let mut moto = Moto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!(
                    "moto's server ({}) exited ({status}): {}",
                    python.exe().display(),
                    tail(&moto.log)
                ));
            }
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
                if execute_state_machines {
                    configure(stream, r#"{"stepfunctions":{"execute_state_machine":true}}"#)
                        .map_err(|e| format!("moto's /moto-api/config: {e}; {}", tail(&moto.log)))?;
                }
                return Ok(moto);
            }
            if Instant::now() >= deadline {
                return Err(format!("moto's server did not listen within 30 s: {}", tail(&moto.log)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The end of what the server wrote to stderr (its request log and tracebacks).
    pub fn stderr_tail(&self) -> String {
        tail(&self.log)
    }
}

/// POSTs moto's configuration API.
fn configure(mut s: TcpStream, body: &str) -> Result<(), String> {
    let req = format!(
        "POST /moto-api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    if resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.1 201") {
        Ok(())
    } else {
        Err(format!("answered {:?}", resp.lines().next().unwrap_or("nothing")))
    }
}

/// The last lines of a child's stderr, kept in a file (a pipe nobody reads blocks it once full).
fn tail(log: &tempfile::NamedTempFile) -> String {
    let text = std::fs::read_to_string(log.path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(8)..].join(" | ");
    if tail.is_empty() { "(nothing on stderr)".into() } else { tail }
}
