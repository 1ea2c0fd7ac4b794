//! `harness bench upload`: one large file, side by side in one run, rounds alternating:
//!
//! - the simulator against OpenSSH's sshd, both fed by OpenSSH's `sftp` client (same file, same
//!   cipher);
//! - the harness's own client against OpenSSH's client, both to the same sshd (the same bytes:
//!   generated content, written to disk for OpenSSH);
//! - the simulator's peak resident memory (VmHWM) over a larger upload.
//!
//! The simulator runs as its own process (`harness sim`), so its memory and CPU are its own.

use super::median;
use std::time::Instant;

use anyhow::Context;

use super::sim_process::{SimProcess, openssh_put, settle};
use super::sshd::Sshd;
use crate::content::Content;
use crate::load::quantity::Bytes;
use crate::sftp_client::SftpClient;

/// Options of `harness bench upload`.
#[derive(clap::Args, Clone)]
pub struct UploadBenchArgs {
    /// Size of the file.
    #[arg(long, default_value = "1GiB")]
    pub size: String,
    /// Rounds (each runs every side once).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// The cipher both clients ask for (sshd offers only this one; the harness's client, russh,
    /// has no aes128-gcm).
    #[arg(long, default_value = "aes256-gcm@openssh.com")]
    pub cipher: String,
    /// Size of the upload the simulator's peak memory is read after (0: skip).
    #[arg(long, default_value = "2GiB")]
    pub peak_size: String,
    /// Size of the one upload of a scenario run on the embedded target, whose upload and
    /// byte-for-byte destination check are timed (0: skip).
    #[arg(long, default_value = "256MiB")]
    pub scenario_size: String,
}

/// MiB/s of a side, each round and the median.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Side {
    /// Each round's MiB/s.
    pub rounds: Vec<f64>,
    /// Their median.
    pub median: f64,
}

/// Every figure of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadBench {
    /// File size in bytes.
    pub size: u64,
    /// Negotiated cipher.
    pub cipher: String,
    /// OpenSSH's client to the simulator.
    pub openssh_to_sim: Side,
    /// OpenSSH's client to sshd.
    pub openssh_to_sshd: Side,
    /// The harness's client to sshd.
    pub harness_to_sshd: Side,
    /// Simulator / sshd, per round's pair, median.
    pub sim_vs_sshd: f64,
    /// Harness client / OpenSSH client, per round's pair, median.
    pub harness_vs_openssh: f64,
    /// The simulator's resident memory after start-up, MiB.
    pub sim_rss_start_mib: f64,
    /// The simulator's peak resident memory after the rounds, MiB.
    pub sim_peak_after_rounds_mib: f64,
    /// Size of the peak-memory upload (0: skipped).
    pub peak_size: u64,
    /// The simulator's peak resident memory after it, MiB.
    pub sim_peak_mib: f64,
    /// The scenario's upload and destination check (absent: skipped).
    pub scenario: Option<ScenarioUpload>,
}

/// One scenario run with one large upload, as its report times it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioUpload {
    /// Upload size in bytes.
    pub size: u64,
    /// The upload check: open, writes, close.
    pub upload_s: f64,
    /// The destination's byte-for-byte check.
    pub destination_check_s: f64,
    /// The whole run, spawn to exit.
    pub wall_s: f64,
}

/// Runs a scenario of one `size` upload in a child `harness scenario --file` and reads the
/// upload's and the destination check's times from its JSON report.
pub fn scenario_upload(size: u64) -> anyhow::Result<ScenarioUpload> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench-upload.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"bench-upload\"\ndescription = \"one large upload, copied byte for byte\"\ntimeout_seconds = 600\n[[users]]\nname = \"acme\"\n[[uploads]]\nuser = \"acme\"\npath = \"inbound/big.csv\"\nsize = {size}\n"
        ),
    )?;
    let report = dir.path().join("report.json");
    let t = Instant::now();
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["scenario", "--file"])
        .arg(&file)
        .arg("--json")
        .arg(&report)
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .output()
        .context("running harness scenario")?;
    let wall_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "the upload scenario failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    let checks = doc["runs"][0]["checks"].as_array().context("no checks in the scenario's report")?;
    let took = |part: &str| {
        checks
            .iter()
            .find(|c| c["name"].as_str().is_some_and(|n| n.contains(part)))
            .and_then(|c| c["elapsed"].as_f64())
            .with_context(|| format!("no check {part:?} in the scenario's report"))
    };
    Ok(ScenarioUpload {
        size,
        upload_s: took("uploads /inbound/big.csv")?,
        destination_check_s: took("matches the upload byte for byte")?,
        wall_s,
    })
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64 / secs.max(1e-9)
}

/// Writes `content` to `path` a MiB at a time.
fn write_content(path: &std::path::Path, content: &Content) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < content.len() {
        let n = (content.len() - off).min(buf.len() as u64) as usize;
        content.fill(off, &mut buf[..n]);
        f.write_all(&buf[..n])?;
        off += n as u64;
    }
    f.flush()?;
    Ok(())
}

async fn harness_put(sshd: &Sshd, content: &Content, remote: &str) -> anyhow::Result<f64> {
    let key = sshd.key()?;
    let client = SftpClient::connect("127.0.0.1", sshd.port, Some(sshd.fingerprint.clone()), &sshd.user, &key).await?;
    let t = Instant::now();
    let up = client.channel().upload(remote, content).await?;
    let secs = t.elapsed().as_secs_f64();
    client.close().await;
    anyhow::ensure!(up.bytes == content.len(), "harness client wrote {} of {} bytes", up.bytes, content.len());
    Ok(secs)
}

fn clear(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(e.path());
    }
}

/// Runs the benchmark; `note` hears each round as it ends.
pub async fn run(args: &UploadBenchArgs, mut note: impl FnMut(String)) -> anyhow::Result<UploadBench> {
    let size: Bytes = args.size.parse().map_err(|e| anyhow::anyhow!("--size: {e}"))?;
    let peak: Bytes = args.peak_size.parse().map_err(|e| anyhow::anyhow!("--peak-size: {e}"))?;
    let work = tempfile::Builder::new().prefix("harness-bench-upload-").tempdir()?;
    let content = Content::Generated { size: size.0, seed: 1 };
    let local = work.path().join("big.bin");
    write_content(&local, &content).context("writing the file to upload")?;
    let sshd = Sshd::start(&args.cipher)?;
    let sim = SimProcess::start()?;
    let sim_rss_start_mib = sim.memory_mib("VmRSS").unwrap_or(0.0);
    let (mut to_sim, mut to_sshd, mut harness) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sim_ratio, mut client_ratio) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let remote = format!("r{round}.bin");
        let sim_put = || {
            let s =
                openssh_put(sim.sftp_port, &sim.user, &sim.key_path, &sim.known_hosts, &args.cipher, &local, &remote);
            settle(sim.pid());
            s
        };
        let sshd_put = || {
            let s =
                openssh_put(sshd.port, &sshd.user, &sshd.key_path, &sshd.known_hosts, &args.cipher, &local, &remote);
            clear(&sshd.upload_dir);
            s
        };
        // Alternate the order, so no side always meets a warm page cache or a busy disk.
        let (a, b, c) = if round % 2 == 0 {
            let a = sim_put()?;
            let b = sshd_put()?;
            let c = harness_put(&sshd, &content, &remote).await?;
            (a, b, c)
        } else {
            let c = harness_put(&sshd, &content, &remote).await?;
            let b = sshd_put()?;
            let a = sim_put()?;
            (a, b, c)
        };
        clear(&sshd.upload_dir);
        let (a, b, c) = (mib_per_s(size.0, a), mib_per_s(size.0, b), mib_per_s(size.0, c));
        note(format!(
            "round {round}: OpenSSH client -> simulator {a:.1} MiB/s, -> sshd {b:.1} MiB/s ({:.2}x); harness client -> sshd {c:.1} MiB/s ({:.2}x)",
            a / b,
            c / b
        ));
        sim_ratio.push(a / b);
        client_ratio.push(c / b);
        to_sim.push(a);
        to_sshd.push(b);
        harness.push(c);
    }
    let sim_peak_after_rounds_mib = sim.memory_mib("VmHWM").unwrap_or(0.0);
    let mut sim_peak_mib = sim_peak_after_rounds_mib;
    if peak.0 > 0 {
        let big = work.path().join("peak.bin");
        write_content(&big, &Content::Generated { size: peak.0, seed: 2 })?;
        let secs =
            openssh_put(sim.sftp_port, &sim.user, &sim.key_path, &sim.known_hosts, &args.cipher, &big, "peak.bin")?;
        settle(sim.pid());
        sim_peak_mib = sim.memory_mib("VmHWM").unwrap_or(0.0);
        note(format!(
            "peak: {} to the simulator at {:.1} MiB/s, its peak resident memory {sim_peak_mib:.0} MiB",
            peak,
            mib_per_s(peak.0, secs)
        ));
    }
    drop(sim);
    let scenario_size: Bytes = args.scenario_size.parse().map_err(|e| anyhow::anyhow!("--scenario-size: {e}"))?;
    let scenario = if scenario_size.0 > 0 {
        let s = scenario_upload(scenario_size.0)?;
        note(format!(
            "scenario: {} upload {:.2} s ({:.1} MiB/s), destination check {:.2} s, whole run {:.2} s",
            scenario_size,
            s.upload_s,
            mib_per_s(s.size, s.upload_s),
            s.destination_check_s,
            s.wall_s
        ));
        Some(s)
    } else {
        None
    };
    let side = |v: Vec<f64>| Side { median: median(v.clone()), rounds: v };
    Ok(UploadBench {
        size: size.0,
        cipher: args.cipher.clone(),
        openssh_to_sim: side(to_sim),
        openssh_to_sshd: side(to_sshd),
        harness_to_sshd: side(harness),
        sim_vs_sshd: median(sim_ratio),
        harness_vs_openssh: median(client_ratio),
        sim_rss_start_mib,
        sim_peak_after_rounds_mib,
        peak_size: peak.0,
        sim_peak_mib,
        scenario,
    })
}
