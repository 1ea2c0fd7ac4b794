//! `harness bench soak`: many concurrent sessions uploading many files each to `harness sim`
//! running as its own process, every file followed to its `transferred` record and checked
//! byte for byte, while the simulator's resident memory is sampled: it must do the work with
//! no error, lose no file, and stay under a memory bound.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::Quiet;
use super::sim_process::{SimProcess, proc_status_kib, settle};
use crate::load::{LoadOptions, profile::Profile};
use crate::targets::{Account, Clients, Kind, Session, Target};

/// Options of `harness bench soak`.
#[derive(clap::Args, Clone)]
pub struct SoakBenchArgs {
    /// Concurrent sessions.
    #[arg(long, default_value_t = 100)]
    pub sessions: u32,
    /// Files each session uploads.
    #[arg(long, default_value_t = 20)]
    pub files: u32,
    /// Size of each file.
    #[arg(long, default_value = "16KiB")]
    pub size: String,
    /// Rounds against the same simulator (memory after each shows whether it keeps growing).
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// Fail when the simulator's peak resident memory exceeds this many MiB.
    #[arg(long, default_value_t = 1024.0)]
    pub max_rss_mib: f64,
}

/// What a soak measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Soak {
    /// Sessions run at once.
    pub sessions: u32,
    /// Most sessions seen open at once.
    pub peak_sessions: u64,
    /// Files uploaded.
    pub uploaded: u64,
    /// Files whose record reached `transferred`.
    pub transferred: u64,
    /// Files checked byte for byte at the destination.
    pub verified: u64,
    /// Files that never arrived, or arrived wrong.
    pub lost: u64,
    /// Errors by class.
    pub errors: Vec<String>,
    /// Wall time of the load, seconds.
    pub wall_s: f64,
    /// Files per second.
    pub files_per_s: f64,
    /// close -> transferred p99, ms.
    pub pipeline_p99_ms: f64,
    /// The simulator's resident memory before the load, MiB.
    pub rss_before_mib: f64,
    /// Its peak (VmHWM), MiB.
    pub rss_peak_mib: f64,
    /// After each round, once idle, MiB.
    pub rss_after_mib: Vec<f64>,
    /// The bound it had to stay under.
    pub max_rss_mib: f64,
}

impl Soak {
    /// What went wrong, if anything: errors, lost files, memory over the bound.
    pub fn problems(&self) -> Vec<String> {
        let mut p = self.errors.clone();
        let expected = self.uploaded;
        if self.lost > 0 || self.verified < expected || self.transferred < expected {
            p.push(format!(
                "{} uploaded, {} transferred, {} verified, {} lost",
                self.uploaded, self.transferred, self.verified, self.lost
            ));
        }
        if self.rss_peak_mib > self.max_rss_mib {
            p.push(format!("peak RSS {:.0} MiB over the {:.0} MiB bound", self.rss_peak_mib, self.max_rss_mib));
        }
        p
    }
}

fn mib(pid: u32, field: &str) -> f64 {
    proc_status_kib(pid, field).map_or(0.0, |k| k as f64 / 1024.0)
}

/// Runs the soak.
pub async fn run(args: &SoakBenchArgs) -> anyhow::Result<Soak> {
    let sim = tokio::task::spawn_blocking(SimProcess::start).await??;
    let pid = sim.pid();
    let info = &sim.info;
    let field = |k: &str| info[k].as_str().map(str::to_string).with_context(|| format!("no {k:?} in {info}"));
    let aws = field("aws")?;
    let region = field("region")?;
    let target = Target {
        kind: Kind::Embedded,
        sftp_host: "127.0.0.1".into(),
        sftp_port: sim.sftp_port,
        host_key_fingerprint: Some(field("host_key_fingerprint")?),
        region: region.clone(),
        endpoint_url: Some(aws.clone()),
        data_endpoint_url: None,
        source_bucket: field("source_bucket")?,
        destination_bucket: field("destination_bucket")?,
        table: field("table")?,
        state_machine_arn: field("state_machine_arn")?,
        sftp_log_group: field("sftp_log_group")?,
        function_log_group: field("function_log_group")?,
        state_machine_log_group: field("state_machine_log_group")?,
        dead_letter_queue: Some(field("dead_letter_queue")?),
    };
    let key = russh::keys::load_secret_key(&sim.key_path, None).context("reading the simulator's user key")?;
    let text = format!(
        "name = \"soak\"\nusers = [\"{}\"]\niterations = {}\n[files]\nsize = \"{}\"\n[closed]\nsessions = {}\nfiles_per_session = {}\n",
        sim.user, args.sessions, args.size, args.sessions, args.files
    );
    let profile = Profile::parse(&text, std::path::Path::new("soak.toml"))?;
    let mut soak = Soak {
        sessions: args.sessions,
        peak_sessions: 0,
        uploaded: 0,
        transferred: 0,
        verified: 0,
        lost: 0,
        errors: Vec::new(),
        wall_s: 0.0,
        files_per_s: 0.0,
        pipeline_p99_ms: 0.0,
        rss_before_mib: mib(pid, "VmRSS"),
        rss_peak_mib: 0.0,
        rss_after_mib: Vec::new(),
        max_rss_mib: args.max_rss_mib,
    };
    for _ in 0..args.rounds.max(1) {
        let clients = Clients::for_endpoint(&aws, &region, sim::ACCESS_KEY_ID, sim::SECRET_ACCESS_KEY);
        let accounts = BTreeMap::from([(sim.user.clone(), Account { name: sim.user.clone(), key: key.clone() })]);
        let session = Session::remote(target.clone(), clients, accounts, format!("harness sim (pid {pid})"));
        let t = Instant::now();
        let run = crate::load::run_on(&profile, session, &LoadOptions::default(), &mut Quiet).await?;
        soak.wall_s += t.elapsed().as_secs_f64();
        tokio::task::spawn_blocking(move || settle(pid)).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = &run.report;
        let acc = r.accounting.clone().unwrap_or_default();
        soak.peak_sessions = soak.peak_sessions.max(r.peak_sessions);
        soak.uploaded += acc.uploaded;
        soak.transferred += acc.transferred;
        soak.verified += acc.verified;
        soak.lost += acc.lost + acc.wrong;
        soak.errors.extend(
            r.errors
                .iter()
                .map(|(c, e)| format!("{c}: {}", e.count))
                .chain(r.failures.iter().filter(|f| !f.starts_with("threshold")).cloned()),
        );
        soak.pipeline_p99_ms =
            soak.pipeline_p99_ms.max(r.stage(crate::load::metrics::Metric::Pipeline).map_or(0.0, |s| s.p99));
        soak.rss_after_mib.push(mib(pid, "VmRSS"));
    }
    soak.files_per_s = soak.uploaded as f64 / soak.wall_s.max(1e-9);
    soak.rss_peak_mib = mib(pid, "VmHWM");
    Ok(soak)
}
