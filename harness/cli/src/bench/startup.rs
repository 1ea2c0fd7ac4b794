//! `harness bench startup`: how soon `harness sim` is ready (spawn to its JSON line, every port
//! listening) against moto's server (spawn to its first HTTP answer), and the smoke scenario's
//! whole wall time, each the median of several rounds, in one run.

use super::median;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::sim_process::SimProcess;

/// Options of `harness bench startup`.
#[derive(clap::Args, Clone)]
pub struct StartupBenchArgs {
    /// Rounds of each measurement.
    #[arg(long, default_value_t = 7)]
    pub rounds: u32,
    /// The Python that has moto's server (`pip install 'moto[server]'`).
    #[arg(long, default_value = "python3")]
    pub python: String,
}

/// Every figure of one run, seconds (medians).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StartupBench {
    /// `harness sim`: spawn to its JSON line.
    pub sim_ready: f64,
    /// moto's server: spawn to its first HTTP answer.
    pub moto_ready: f64,
    /// `harness scenario smoke`: spawn to exit.
    pub smoke_wall: f64,
    /// Rounds of each.
    pub rounds: u32,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether an HTTP server on `port` answers a request with a status line.
fn answers(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/")
}

fn moto_round(python: &str) -> anyhow::Result<f64> {
    let port = free_port()?;
    let t = Instant::now();
    let mut child = Command::new(python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {python} -m moto.server"))?;
    let deadline = t + Duration::from_secs(60);
    loop {
        if answers(port) {
            let secs = t.elapsed().as_secs_f64();
            let _ = child.kill();
            let _ = child.wait();
            return Ok(secs);
        }
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            bail!("moto's server exited ({status}): {} (pip install 'moto[server]')", err.trim());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("moto's server did not answer within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn smoke_round() -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let out = Command::new(exe)
        .args(["scenario", "smoke"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .context("running harness scenario smoke")?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "the smoke scenario failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(secs)
}

/// Runs the benchmark; `note` hears each round as it ends.
pub fn run(args: &StartupBenchArgs, mut note: impl FnMut(String)) -> anyhow::Result<StartupBench> {
    let (mut sim, mut moto, mut smoke) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let s = SimProcess::start()?.ready_after.as_secs_f64();
        let m = moto_round(&args.python)?;
        let w = smoke_round()?;
        note(format!(
            "round {round}: harness sim ready {:.0} ms, moto server {:.0} ms, smoke scenario {:.0} ms",
            s * 1e3,
            m * 1e3,
            w * 1e3
        ));
        sim.push(s);
        moto.push(m);
        smoke.push(w);
    }
    Ok(StartupBench {
        sim_ready: median(sim),
        moto_ready: median(moto),
        smoke_wall: median(smoke),
        rounds: args.rounds,
    })
}
