//! `harness load`: upload load against any target, every file followed to its `transferred`
//! record.
//!
//! ```text
//! commands   the `harness load` commands: flags, validate, replay, merge, run
//! profile    the profile file (closed, open or replay model; sizes; bounds; thresholds)
//! quantity   sizes and durations as profiles write them
//! sizes      file sizes drawn per file, the same on every shard
//! plan       sessions or arrivals over time; shards; the reporting interval (pure)
//! user       a session's SFTP work: login, upload on a channel, measured
//! engine     drives the sessions the plan asks for
//! sample     what sessions and the tracker send; the one aggregator
//! metrics    HDR histograms per stage and interval, counters, errors; interval logs; merge
//! tracker    follows each file through the pipeline's probes; accounts for every file
//! thresholds pass/fail criteria
//! results    a shard's results in a directory or S3; merging shards
//! replay     a profile from exported Transfer Family session logs
//! report     a run's report as data, with its JSON and JUnit writers; report_html its HTML
//! quotas     Transfer Family's documented limits, as warnings
//! ```

pub mod commands;
pub mod engine;
pub mod metrics;
pub mod plan;
pub mod profile;
pub mod quantity;
pub mod quotas;
pub mod replay;
pub mod report;
pub mod report_html;
pub mod results;
pub mod sample;
pub mod sizes;
pub mod thresholds;
pub mod tracker;
pub mod user;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use self::engine::Engine;
use self::metrics::Metrics;
use self::plan::{Plan, Shard};
use self::profile::{Model, Profile};
use self::sample::{Aggregator, Snapshot};
use self::thresholds::{Observed, Threshold};
use self::tracker::TrackerConfig;
use self::user::Ctx;
use crate::load::report::{Facts, LoadReport};
use crate::targets::{self, Kind, SimSettings, TargetSpec};

/// How to run a profile, besides the profile.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Which part of the run this process does.
    pub shard: Shard,
    /// The run's id, shared by its shards (the key prefix `<prefix>/<run id>/`).
    pub run_id: String,
    /// Thresholds besides the profile's.
    pub thresholds: Vec<String>,
    /// Fraction of files checked byte for byte at the destination.
    pub verify_sample: f64,
    /// Stop generating load as soon as a threshold is breached.
    pub abort_on_fail: bool,
    /// Replay speed.
    pub speed: f64,
    /// Pause between the tracker's polls (default: 20 ms on the simulator, 500 ms elsewhere).
    pub poll: Option<Duration>,
    /// Simulator settings (the harness's own tests break stages with them).
    pub sim: SimSettings,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            shard: Shard::default(),
            run_id: new_run_id(),
            thresholds: Vec::new(),
            verify_sample: 1.0,
            abort_on_fail: false,
            speed: 1.0,
            poll: None,
            sim: SimSettings::default(),
        }
    }
}

/// A fresh run id: the start time and a random suffix (sortable, unique).
pub fn new_run_id() -> String {
    let t = time::OffsetDateTime::now_utc();
    let stamp =
        t.format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]")).unwrap_or_default();
    format!("{stamp}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6])
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Generating load.
    Loading,
    /// Load done; waiting for the pipeline to finish the files.
    Draining,
}

/// Receives a run's progress (the console prints it).
pub trait LoadProgress {
    /// The run began.
    fn started(&mut self, profile: &Profile, target: &str, shard: Shard, warnings: &[String]);
    /// A periodic view.
    fn tick(&mut self, phase: Phase, snapshot: &Snapshot, in_pipeline: u64);
    /// Something worth a line (an abort).
    fn note(&mut self, line: &str);
    /// The run is over.
    fn finished(&mut self, report: &LoadReport);
}

/// A finished run.
pub struct LoadRun {
    /// Its report.
    pub report: LoadReport,
    /// Its measurements (for `--hdr` and `--results`).
    pub metrics: Metrics,
    /// Clients of the target, when it had credentials (for `--results s3://`).
    pub clients: Option<targets::Clients>,
}

/// Parses thresholds, so a typo stops the run before any load.
pub fn parse_thresholds(profile: &Profile, extra: &[String]) -> anyhow::Result<Vec<Threshold>> {
    profile
        .thresholds
        .iter()
        .chain(extra)
        .map(|t| t.parse::<Threshold>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)
}

/// Runs `profile` against `spec`.
pub async fn run_load(
    profile: &Profile,
    spec: &TargetSpec,
    opts: &LoadOptions,
    progress: &mut dyn LoadProgress,
) -> anyhow::Result<LoadRun> {
    let users: Vec<targets::User> =
        profile.users.iter().map(|u| targets::User { name: u.clone(), home: Default::default() }).collect();
    parse_thresholds(profile, &opts.thresholds)?;
    spec.supports(&opts.sim).map_err(|u| anyhow::anyhow!("needs {}: {}", u.needs, u.reason))?;
    let session = targets::open(spec, &users, &opts.sim).await.context("opening the target")?;
    run_on(profile, session, opts, progress).await
}

/// Runs `profile` on an open session (closed at the end).
pub async fn run_on(
    profile: &Profile,
    session: targets::Session,
    opts: &LoadOptions,
    progress: &mut dyn LoadProgress,
) -> anyhow::Result<LoadRun> {
    let thresholds = parse_thresholds(profile, &opts.thresholds)?;
    let warnings = quotas::warnings(profile, opts.shard.count);
    let accounts: Vec<targets::Account> = profile.users.iter().map(|u| session.accounts[u].clone()).collect();
    let plan = Plan::of(profile, opts.shard);
    let aggregator = Aggregator::spawn(plan.interval);
    let t = &session.target;
    let (tracker_tx, tracker) = match &session.clients {
        Some(c) => {
            let poll = opts.poll.unwrap_or(match t.kind {
                Kind::Aws => Duration::from_millis(500),
                _ => Duration::from_millis(20),
            });
            let cfg = TrackerConfig {
                source_bucket: t.source_bucket.clone(),
                destination_bucket: t.destination_bucket.clone(),
                table: t.table.clone(),
                poll,
                verify_sample: opts.verify_sample.clamp(0.0, 1.0),
                concurrency: 32,
                drain_timeout: profile.drain_timeout.0,
            };
            let (tx, task) = tracker::spawn(c.clone(), cfg, aggregator.samples());
            (Some(tx), Some(task))
        }
        None => (None, None),
    };
    let ctx = Arc::new(Ctx {
        target: t.clone(),
        samples: aggregator.samples(),
        tracker: tracker_tx,
        run_dir: format!("{}/{}", profile.prefix.trim_matches('/'), opts.run_id),
        user_names: profile.users.clone(),
    });
    for a in &accounts {
        ctx.prepare(a).await.with_context(|| format!("creating {} in {}'s home", ctx.run_dir, a.name))?;
    }
    progress.started(profile, &session.description, opts.shard, &warnings);
    let stop = Arc::new(AtomicBool::new(false));
    let engine = Engine {
        ctx: ctx.clone(),
        accounts,
        plan: plan.clone(),
        shard: opts.shard,
        seed: seed_of_run(&opts.run_id),
        stop: stop.clone(),
        speed: opts.speed,
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    drop(ctx);
    // The engine owns the sessions' context, whose tracker sender closing tells the tracker the
    // uploads are over: it goes when the engine does.
    let mut run = Box::pin(async move { engine.run(profile).await });
    let every = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut interrupted = Box::pin(tokio::signal::ctrl_c());
    let mut aborted = false;
    loop {
        tokio::select! {
            _ = &mut run => break,
            _ = ticker.tick() => {
                if let Some(s) = aggregator.snapshot().await {
                    progress.tick(Phase::Loading, &s, 0);
                    if opts.abort_on_fail && !aborted {
                        let observed = Observed { metrics: &s.metrics, accounting: None, elapsed: s.elapsed, peak_sessions: s.peak_sessions };
                        // Mid-run, only what has been measured can breach (no samples yet is not a breach).
                        if let Some(r) = thresholds.iter().map(|t| t.judge(&observed)).find(|r| !r.passed && r.skipped.is_none() && r.observed != "no samples") {
                            progress.note(&format!("aborting: threshold {} breached ({}); finishing the files under way", r.threshold, r.observed));
                            stop.store(true, Ordering::Relaxed);
                            aborted = true;
                        }
                    }
                }
            }
            _ = &mut interrupted, if !aborted => {
                progress.note("interrupted: no new files; finishing the files under way");
                stop.store(true, Ordering::Relaxed);
                aborted = true;
            }
        }
    }
    drop(run);
    let ended_load = SystemTime::now();
    let accounting = match tracker {
        Some(task) => {
            let mut task = Box::pin(task);
            loop {
                tokio::select! {
                    a = &mut task => break Some(a.context("the pipeline tracker stopped")?),
                    _ = ticker.tick() => {
                        if let Some(s) = aggregator.snapshot().await {
                            let c = s.metrics.total_counters();
                            let settled = c.transferred + s.metrics.errors.iter().filter(|(k, _)| ["failed", "lost", "wrong", "duplicated"].contains(&k.as_str())).map(|(_, e)| e.count).sum::<u64>();
                            progress.tick(Phase::Draining, &s, c.files.saturating_sub(settled));
                        }
                    }
                }
            }
        }
        None => None,
    };
    let peak = aggregator.snapshot().await.map_or(0, |s| s.peak_sessions);
    let metrics = aggregator.finish().await;
    let elapsed = ended_load.duration_since(started).unwrap_or(clock.elapsed());
    let observed = Observed { metrics: &metrics, accounting: accounting.as_ref(), elapsed, peak_sessions: peak };
    let results = thresholds.iter().map(|t| t.judge(&observed)).collect();
    let facts = Facts {
        profile: profile.name.clone(),
        description: profile.description.clone(),
        target: session.description.clone(),
        run_id: opts.run_id.clone(),
        shards: vec![opts.shard.to_string()],
        model: match profile.model() {
            Model::Closed => "closed",
            Model::Open => "open",
            Model::Replay => "replay",
        }
        .into(),
        started,
        ended: ended_load.max(started + Duration::from_millis(1)),
        peak_sessions: peak,
        warnings,
    };
    let report = LoadReport::build(facts, &metrics, accounting, results);
    progress.finished(&report);
    let clients = session.clients.clone();
    session.close();
    Ok(LoadRun { report, metrics, clients })
}

/// The seed of a run's sizes and contents: every shard of one run draws the same.
fn seed_of_run(run_id: &str) -> u64 {
    run_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}
