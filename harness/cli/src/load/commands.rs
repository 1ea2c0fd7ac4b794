//! The `harness load` commands: their flags, and each command as a function (validate profiles,
//! write a replay profile, merge shards' results, run a profile) returning what the console
//! prints. Nothing here prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::profile::Profile;
use super::report::LoadReport;
use super::results::{self, Location};
use super::{LoadOptions, LoadProgress, new_run_id, parse_thresholds, quotas, replay, run_load};
use crate::report;
use crate::targets::{self, Paths, TargetArgs};

/// `harness load [PROFILE|PATH]`, or one of its subcommands.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadCommand {
    #[command(subcommand)]
    pub action: Option<LoadAction>,
    /// Profile name (`smoke`: scenarios/load/smoke.toml) or a profile file's path.
    pub profile: Option<String>,
    /// Run the profile in this file instead.
    #[arg(long, conflicts_with = "profile")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub args: LoadArgs,
}

/// Options of `harness load`.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Directory holding load profiles.
    #[arg(long, global = true, default_value_os_t = crate::checkout_dir("scenarios/load"))]
    pub profiles: PathBuf,
    #[command(flatten)]
    to: TargetArgs,
    /// Do part I of N of the run (0-based: 0/3, 1/3, 2/3), for a fleet of load generators.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    shard: super::plan::Shard,
    /// The run's id, the same on every shard (default: a fresh one; on Kubernetes, the Job's name).
    #[arg(long, env = "HARNESS_RUN_ID")]
    run_id: Option<String>,
    /// A pass/fail criterion besides the profile's (`pipeline.p99<2s`, `errors.rate<0.1%`,
    /// `files.lost==0`, `throughput.files_per_s>=20`, `write_rate.p50>1MiB/s`); repeatable.
    #[arg(long = "threshold", global = true, value_name = "EXPR")]
    thresholds: Vec<String>,
    /// Check this share of files byte for byte at the destination (`10%`, `0.1`; default all).
    #[arg(long, value_name = "SHARE", default_value = "100%", value_parser = parse_share)]
    verify_sample: f64,
    /// Stop generating load as soon as a threshold is breached.
    #[arg(long)]
    abort_on_fail: bool,
    /// Replay speed (`2`: twice as fast as recorded).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Pause between the pipeline tracker's polls (default 20ms on the simulator, 500ms on a
    /// deployed stack).
    #[arg(long, value_name = "DURATION")]
    poll: Option<super::quantity::Span>,
    #[command(flatten)]
    files: report::Files,
    /// Write the HdrHistogram interval log (and the summary) to this directory.
    #[arg(long, global = true, value_name = "DIR")]
    hdr: Option<PathBuf>,
    /// Break a stage on purpose (the harness's own tests: show the load run fails when it does).
    #[arg(long = "break", hide = true, value_name = "NAME")]
    breaks: Vec<sim::breaks::Break>,
    /// Put this shard's results (summary and histograms) under a directory or s3://BUCKET/PREFIX,
    /// for `harness load merge`.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    results: Option<String>,
}

/// The subcommands of `harness load`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum LoadAction {
    /// Check load profiles against the schema (all of scenarios/load/ when none are named).
    Validate {
        /// Files to check.
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of load profiles.
    Schema,
    /// Merge shards' results (directories or s3://BUCKET/PREFIX) and judge the thresholds over
    /// the whole fleet.
    Merge {
        /// Where the shards put their results.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Write a replay profile from Transfer Family session logs (`aws logs filter-log-events
    /// --log-group-name /aws/transfer/SERVER --output json > logs.json`).
    Replay {
        /// The exported logs.
        logs: PathBuf,
        /// The profile's name.
        #[arg(long, default_value = "replay")]
        name: String,
        /// Write the profile here (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

impl LoadCommand {
    /// The profile file to run: its name or path, or `--file`.
    pub fn chosen(&self) -> anyhow::Result<PathBuf> {
        match (self.profile.as_deref(), &self.file) {
            (_, Some(f)) => Ok(f.clone()),
            (Some(n), None) => Ok(crate::named::resolve(&self.args.profiles, n)),
            (None, None) => bail!("name a load profile (in {}) or pass --file PATH", self.args.profiles.display()),
        }
    }
}

/// A share written `10%` or `0.1`.
fn parse_share(s: &str) -> Result<f64, String> {
    let v = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.trim().parse::<f64>(),
    };
    match v {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected a share from 0% to 100% (10%, 0.1)")),
    }
}

fn write_reports(files: &report::Files, r: &LoadReport) -> anyhow::Result<()> {
    files.write(|| r.json(), || r.junit(), || super::report_html::render(r))
}

/// A profile that loads, with what `validate` warns of.
#[derive(Debug)]
pub struct Valid {
    /// The profile's name.
    pub name: String,
    /// Where it asks more than Transfer Family's documented quotas allow.
    pub warnings: Vec<String>,
}

/// The files `validate` checks: those named, or every profile of `dir`.
pub fn to_validate(dir: &Path, files: Vec<PathBuf>) -> Vec<PathBuf> {
    if files.is_empty() { Profile::list(dir).into_iter().map(|(_, p)| p).collect() } else { files }
}

/// `harness load validate`: whether each profile loads and its thresholds parse.
pub fn validate(files: &[PathBuf]) -> Vec<(PathBuf, Result<Valid, String>)> {
    let check = |f: &PathBuf| -> Result<Valid, String> {
        let p = Profile::load(f).map_err(|e| e.to_string())?;
        parse_thresholds(&p, &[]).map_err(|e| format!("{}: {e}", f.display()))?;
        Ok(Valid { warnings: quotas::warnings(&p, 1), name: p.name })
    };
    files.iter().map(|f| (f.clone(), check(f))).collect()
}

/// A replay profile written.
#[derive(Debug)]
pub struct Replayed {
    /// The profile's text.
    pub profile: String,
    /// Sessions in it.
    pub sessions: usize,
    /// Most sessions at once.
    pub peak_sessions: usize,
}

/// `harness load replay`: a profile from exported session logs, checked to load back, and
/// written to `output` when given.
pub fn write_replay(logs: &Path, name: &str, output: Option<&Path>) -> anyhow::Result<Replayed> {
    let text = std::fs::read_to_string(logs).with_context(|| format!("reading {}", logs.display()))?;
    let traffic = replay::read(&text, &logs.display().to_string())?;
    let profile =
        traffic.profile(name, &logs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    Profile::parse(&profile, Path::new(name)).context("the replay profile does not load back")?;
    if let Some(path) = output {
        std::fs::write(path, &profile).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Replayed { profile, sessions: traffic.sessions.len(), peak_sessions: traffic.peak_sessions })
}

/// `harness load merge`: the shards' results (S3 read with the caller's credentials, as the
/// shards wrote them), judged together.
pub async fn merge(sources: &[String], args: &LoadArgs) -> anyhow::Result<LoadReport> {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let clients = targets::Clients::from_environment(&region).await;
    let mut shards = Vec::new();
    for src in sources {
        let loc: Location = src.parse().map_err(anyhow::Error::msg)?;
        shards.extend(results::read(&loc, clients.as_ref()).await?);
    }
    let (report, metrics) = results::merge(&shards, &args.thresholds)?;
    write_reports(&args.files, &report)?;
    if let Some(dir) = &args.hdr {
        results::write(&Location::Dir(dir.clone()), None, &report, &metrics, Default::default()).await?;
    }
    Ok(report)
}

/// A finished `harness load PROFILE`.
pub struct Ran {
    /// Its report.
    pub report: LoadReport,
    /// Where its shard results went (`--results`).
    pub results: Option<String>,
}

/// `harness load PROFILE`: the run, its reports, its histograms and shard results.
pub async fn run(path: &Path, args: &LoadArgs, paths: Paths, progress: &mut dyn LoadProgress) -> anyhow::Result<Ran> {
    let profile = Profile::load(path)?;
    let mut sim = targets::SimSettings::default();
    sim.breaks.extend(args.breaks.iter().copied());
    let opts = LoadOptions {
        shard: args.shard,
        run_id: args.run_id.clone().unwrap_or_else(new_run_id),
        thresholds: args.thresholds.clone(),
        verify_sample: args.verify_sample,
        abort_on_fail: args.abort_on_fail,
        speed: args.speed,
        poll: args.poll.map(|p| p.0),
        sim,
    };
    let results_at: Option<Location> =
        args.results.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    let spec = args.to.spec(paths)?;
    let run = run_load(&profile, &spec, &opts, progress).await?;
    write_reports(&args.files, &run.report)?;
    if let Some(dir) = &args.hdr {
        results::write(&Location::Dir(dir.clone()), None, &run.report, &run.metrics, opts.shard).await?;
    }
    let results = match &results_at {
        Some(loc) => Some(results::write(loc, run.clients.as_ref(), &run.report, &run.metrics, opts.shard).await?),
        None => None,
    };
    Ok(Ran { report: run.report, results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_read_as_percentages_or_fractions() {
        assert_eq!(parse_share("10%"), Ok(0.1));
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("120%").unwrap_err().contains("from 0% to 100%"));
    }
}
