//! `harness bench pipeline`: on the embedded target, N concurrent sessions of small files, each
//! followed to its `transferred` record: close -> transferred p50/p99 over several rounds; then
//! the most sessions held at once with no error (doubling until one appears, or the cap).

use super::Quiet;
use anyhow::bail;

use crate::load::{LoadOptions, profile::Profile};
use crate::targets::TargetSpec;

/// Options of `harness bench pipeline`.
#[derive(clap::Args, Clone)]
pub struct PipelineBenchArgs {
    /// Concurrent sessions.
    #[arg(long, default_value_t = 50)]
    pub sessions: u32,
    /// Files each session uploads.
    #[arg(long, default_value_t = 10)]
    pub files: u32,
    /// Size of each file.
    #[arg(long, default_value = "4KiB")]
    pub size: String,
    /// Pause between a session's files (`0s`: as fast as the pipeline takes them).
    #[arg(long, default_value = "1s")]
    pub think: String,
    /// Rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Look for the most sessions held at once with no error, up to this many (0: skip).
    #[arg(long, default_value_t = 800)]
    pub most_sessions: u32,
}

/// One round's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Round {
    /// Sessions asked for.
    pub sessions: u32,
    /// Most held at once.
    pub peak_sessions: u64,
    /// Files uploaded and transferred.
    pub files: u64,
    /// close -> the record's transfer timestamp (the function's clock), ms.
    pub recorded_p50_ms: f64,
    /// close -> the record's transfer timestamp, ms.
    pub recorded_p99_ms: f64,
    /// close -> transferred as the harness saw it, ms.
    pub pipeline_p50_ms: f64,
    /// close -> transferred, ms.
    pub pipeline_p99_ms: f64,
    /// due -> close, ms.
    pub upload_p99_ms: f64,
    /// Files per second uploaded.
    pub files_per_s: f64,
    /// Errors by class (`class: count`).
    pub errors: Vec<String>,
}

async fn round(spec: &TargetSpec, sessions: u32, files: u32, size: &str, think: &str) -> anyhow::Result<Round> {
    let text = format!(
        "name = \"bench-pipeline\"\nusers = [\"acme\", \"globex\"]\niterations = {sessions}\n[files]\nsize = \"{size}\"\n[closed]\nsessions = {sessions}\nfiles_per_session = {files}\nthink_time = \"{think}\"\n"
    );
    let profile = Profile::parse(&text, std::path::Path::new("bench-pipeline.toml"))?;
    let run = crate::load::run_load(&profile, spec, &LoadOptions::default(), &mut Quiet).await?;
    let r = &run.report;
    let ms =
        |m: crate::load::metrics::Metric, f: fn(&crate::load::report::StageStats) -> f64| r.stage(m).map_or(0.0, f);
    use crate::load::metrics::Metric;
    Ok(Round {
        sessions,
        peak_sessions: r.peak_sessions,
        files: r.accounting.as_ref().map_or(0, |a| a.transferred),
        recorded_p50_ms: ms(Metric::FunctionDone, |s| s.p50),
        recorded_p99_ms: ms(Metric::FunctionDone, |s| s.p99),
        pipeline_p50_ms: ms(Metric::Pipeline, |s| s.p50),
        pipeline_p99_ms: ms(Metric::Pipeline, |s| s.p99),
        upload_p99_ms: ms(Metric::Upload, |s| s.p99),
        files_per_s: r.files_per_s,
        errors: r
            .errors
            .iter()
            .map(|(c, e)| format!("{c}: {}", e.count))
            .chain(r.failures.iter().filter(|f| !f.starts_with("threshold")).cloned())
            .collect(),
    })
}

/// The rounds at `args.sessions`, then the search for the most sessions (each as it ends).
pub async fn run(
    args: &PipelineBenchArgs,
    spec: &TargetSpec,
    mut note: impl FnMut(&Round),
) -> anyhow::Result<(Vec<Round>, Option<Round>, Option<Round>)> {
    let mut rounds = Vec::new();
    for _ in 0..args.rounds {
        let r = round(spec, args.sessions, args.files, &args.size, &args.think).await?;
        note(&r);
        if !r.errors.is_empty() {
            bail!("{} sessions: {}", args.sessions, r.errors.join(", "));
        }
        rounds.push(r);
    }
    // Held: every session logs in, uploads, waits 5 s, uploads again, so all overlap.
    let (mut best, mut first_bad) = (None, None);
    let mut n = args.sessions.max(1);
    while args.most_sessions > 0 && n <= args.most_sessions {
        let r = round(spec, n, 2, &args.size, "5s").await?;
        note(&r);
        if !r.errors.is_empty() || r.peak_sessions < n as u64 {
            first_bad = Some(r);
            break;
        }
        best = Some(r);
        n *= 2;
    }
    Ok((rounds, best, first_bad))
}
