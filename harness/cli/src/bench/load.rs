//! `harness bench load`: `harness load` with N sessions against N OpenSSH `sftp -b` processes
//! uploading the same number of files of the same size to the same sshd, alternating, several
//! rounds: files/s, MiB/s and client CPU seconds per GiB, side by side.

use super::{Quiet, median};
use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};

use super::cpu_seconds;
use super::sshd::Sshd;
use crate::content::Content;
use crate::load::quantity::Bytes;
use crate::load::{LoadOptions, profile::Profile};
use crate::targets::{Account, Kind, Session, Target};

/// Options of `harness bench load`.
#[derive(clap::Args, Clone)]
pub struct LoadBenchArgs {
    /// Session counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    pub sessions: Vec<u32>,
    /// Files each session uploads.
    #[arg(long, default_value_t = 10)]
    pub files: u32,
    /// Size of each file.
    #[arg(long, default_value = "1MiB")]
    pub size: String,
    /// Rounds (each runs both clients once).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// The one cipher sshd offers, so both clients use it.
    #[arg(long, default_value = "aes256-gcm@openssh.com")]
    pub cipher: String,
}

/// One client's figures (medians over the rounds).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Side {
    /// Files per second.
    pub files_per_s: f64,
    /// MiB per second.
    pub mib_per_s: f64,
    /// Client CPU seconds per GiB uploaded.
    pub cpu_s_per_gib: f64,
}

/// One session count, both clients.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// Sessions at once.
    pub sessions: u32,
    /// `harness load`.
    pub harness: Side,
    /// N `sftp -b` processes.
    pub openssh: Side,
}

fn side(files: u64, bytes: u64, secs: f64, cpu: f64) -> Side {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    Side {
        files_per_s: files as f64 / secs,
        mib_per_s: bytes as f64 / (1u64 << 20) as f64 / secs,
        cpu_s_per_gib: cpu / gib.max(1e-9),
    }
}

async fn harness_round(sshd: &Sshd, sessions: u32, files: u32, size: u64) -> anyhow::Result<Side> {
    let text = format!(
        "name = \"bench\"\nusers = [\"bench\"]\niterations = {sessions}\n[files]\nsize = {size}\n[closed]\nsessions = {sessions}\nfiles_per_session = {files}\n"
    );
    let profile = Profile::parse(&text, std::path::Path::new("bench.toml"))?;
    let target = Target {
        kind: Kind::Aws,
        sftp_host: "127.0.0.1".into(),
        sftp_port: sshd.port,
        host_key_fingerprint: Some(sshd.fingerprint.clone()),
        region: String::new(),
        endpoint_url: None,
        data_endpoint_url: None,
        source_bucket: String::new(),
        destination_bucket: String::new(),
        table: String::new(),
        state_machine_arn: String::new(),
        sftp_log_group: String::new(),
        function_log_group: String::new(),
        state_machine_log_group: String::new(),
        dead_letter_queue: None,
    };
    let accounts = BTreeMap::from([("bench".to_string(), Account { name: sshd.user.clone(), key: sshd.key()? })]);
    let session = Session::sftp_only(target, accounts, "sshd".into());
    let cpu = cpu_seconds(false);
    let t = Instant::now();
    let run = crate::load::run_on(&profile, session, &LoadOptions::default(), &mut Quiet).await?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds(false) - cpu;
    let c = &run.report.totals;
    let want = sessions as u64 * files as u64;
    if c.files != want || !run.report.errors.is_empty() {
        bail!("harness load uploaded {} of {want} files: {:?}", c.files, run.report.errors);
    }
    Ok(side(c.files, c.bytes, secs, cpu))
}

fn openssh_round(
    sshd: &Sshd,
    sessions: u32,
    files: u32,
    local: &[std::path::PathBuf],
    round: u32,
) -> anyhow::Result<Side> {
    let scripts = tempfile::tempdir()?;
    let mut paths = Vec::new();
    for s in 0..sessions {
        let mut script = String::new();
        for (i, f) in local.iter().enumerate().take(files as usize) {
            script.push_str(&format!("put {} o{round}-s{s}-f{i}.bin\n", f.display()));
        }
        let p = scripts.path().join(format!("s{s}"));
        std::fs::write(&p, script)?;
        paths.push(p);
    }
    let cpu = cpu_seconds(true);
    let t = Instant::now();
    let children: Vec<_> =
        paths.iter().map(|p| sshd.sftp_batch(p)).collect::<Result<_, _>>().context("starting sftp")?;
    for c in children {
        let out = c.wait_with_output()?;
        if !out.status.success() {
            bail!("sftp -b failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds(true) - cpu;
    let n = sessions as u64 * files as u64;
    let bytes: u64 =
        local.iter().take(files as usize).map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum::<u64>()
            * sessions as u64;
    Ok(side(n, bytes, secs, cpu))
}

/// Runs the benchmark; `note` hears each round as it ends.
pub async fn run(args: &LoadBenchArgs, mut note: impl FnMut(String)) -> anyhow::Result<Vec<Row>> {
    let size: Bytes = args.size.parse().map_err(|e| anyhow::anyhow!("--size: {e}"))?;
    let sshd = Sshd::start(&args.cipher)?;
    let local_dir = tempfile::tempdir()?;
    let mut local = Vec::new();
    for i in 0..args.files {
        let p = local_dir.path().join(format!("f{i}.bin"));
        let c = Content::Generated { size: size.0, seed: i as u64 + 1 };
        let mut buf = vec![0u8; size.0 as usize];
        c.fill(0, &mut buf);
        std::fs::write(&p, buf)?;
        local.push(p);
    }
    let mut rows = Vec::new();
    for &n in &args.sessions {
        let (mut h, mut o) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            // Alternate which goes first, so neither always meets a warm (or tired) server.
            let (a, b) = if round % 2 == 0 {
                let a = harness_round(&sshd, n, args.files, size.0).await?;
                (a, openssh_round(&sshd, n, args.files, &local, round)?)
            } else {
                let b = openssh_round(&sshd, n, args.files, &local, round)?;
                (harness_round(&sshd, n, args.files, size.0).await?, b)
            };
            note(format!(
                "  {n:>3} sessions round {round}: harness {:.1} files/s {:.1} MiB/s {:.2} CPU-s/GiB; openssh {:.1} files/s {:.1} MiB/s {:.2} CPU-s/GiB",
                a.files_per_s, a.mib_per_s, a.cpu_s_per_gib, b.files_per_s, b.mib_per_s, b.cpu_s_per_gib
            ));
            h.push(a);
            o.push(b);
            // Keep the disk free between rounds.
            for e in std::fs::read_dir(&sshd.upload_dir)?.flatten() {
                let p = e.path();
                let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            }
        }
        let med = |v: &[Side], f: fn(&Side) -> f64| median(v.iter().map(f).collect());
        let summarise = |v: &[Side]| Side {
            files_per_s: med(v, |s| s.files_per_s),
            mib_per_s: med(v, |s| s.mib_per_s),
            cpu_s_per_gib: med(v, |s| s.cpu_s_per_gib),
        };
        rows.push(Row { sessions: n, harness: summarise(&h), openssh: summarise(&o) });
    }
    Ok(rows)
}
