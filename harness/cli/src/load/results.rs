//! A shard's results as files (`summary.json`, the report; `histograms.hlog`, the HdrHistogram
//! interval log), in a directory or under an S3 prefix (`--results s3://bucket/prefix`), and
//! merging them: counters and accounting add up, histograms add up, and the thresholds are
//! judged again over the whole fleet.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::metrics::Metrics;
use super::plan::Shard;
use super::thresholds::{Observed, Threshold};
use super::tracker::Accounting;
use crate::load::report::{Facts, LoadReport};
use crate::targets::Clients;

/// The report of a shard.
pub const SUMMARY: &str = "summary.json";
/// Its histograms.
pub const HISTOGRAMS: &str = "histograms.hlog";

/// Where results go or come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Dir(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix (no trailing slash).
        prefix: String,
    },
}

impl std::str::FromStr for Location {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(format!("{s:?}: expected s3://BUCKET/PREFIX"));
                }
                Ok(Location::S3 { bucket: bucket.into(), prefix: prefix.trim_end_matches('/').into() })
            }
            None => Ok(Location::Dir(PathBuf::from(s))),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Dir(d) => write!(f, "{}", d.display()),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// The directory (or key prefix) of one shard's results.
pub fn shard_dir(run_id: &str, shard: Shard) -> String {
    format!("{run_id}/shard-{}-of-{}", shard.index, shard.count)
}

fn key(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() { rest.to_string() } else { format!("{prefix}/{rest}") }
}

/// Writes a shard's report and histograms to `loc` (under `<run>/shard-I-of-N/`).
pub async fn write(
    loc: &Location,
    clients: Option<&Clients>,
    report: &LoadReport,
    metrics: &Metrics,
    shard: Shard,
) -> anyhow::Result<String> {
    let started = UNIX_EPOCH + Duration::from_millis(report.started_ms);
    let ended = UNIX_EPOCH + Duration::from_millis(report.ended_ms);
    let files = [(SUMMARY, report.json()), (HISTOGRAMS, metrics.interval_log(started, ended))];
    let dir = shard_dir(&report.run_id, shard);
    match loc {
        Location::Dir(root) => {
            let d = root.join(&dir);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            for (name, body) in files {
                std::fs::write(d.join(name), body).with_context(|| format!("writing {}", d.join(name).display()))?;
            }
            Ok(d.display().to_string())
        }
        Location::S3 { bucket, prefix } => {
            let c = clients.context("--results s3://... needs AWS credentials")?;
            for (name, body) in files {
                let k = key(prefix, &format!("{dir}/{name}"));
                c.s3.put_object()
                    .bucket(bucket)
                    .key(&k)
                    .body(body.into_bytes().into())
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
                    .with_context(|| format!("uploading s3://{bucket}/{k}"))?;
            }
            Ok(format!("s3://{bucket}/{}", key(prefix, &dir)))
        }
    }
}

/// One shard's results, read back.
pub struct ShardResult {
    /// Where from.
    pub source: String,
    /// Its report.
    pub report: LoadReport,
    /// Its histograms and counters.
    pub metrics: Metrics,
}

fn parse_shard(source: &str, summary: &str, hlog: &str) -> anyhow::Result<ShardResult> {
    let report: LoadReport =
        serde_json::from_str(summary).with_context(|| format!("{source}/{SUMMARY}: not a load report"))?;
    let mut metrics = Metrics::new(Duration::from_secs(report.interval_s));
    metrics.read_interval_log(hlog).map_err(|e| anyhow::anyhow!("{source}/{HISTOGRAMS}: {e}"))?;
    metrics.counters = report.counters();
    metrics.errors = report.errors.clone();
    Ok(ShardResult { source: source.into(), report, metrics })
}

/// Every shard result under `loc` (a shard's own directory, a run's, or a prefix holding
/// several runs' shards: all are read).
pub async fn read(loc: &Location, clients: Option<&Clients>) -> anyhow::Result<Vec<ShardResult>> {
    let mut out = Vec::new();
    match loc {
        Location::Dir(root) => {
            let mut dirs = Vec::new();
            find_dirs(root, &mut dirs)?;
            dirs.sort();
            for d in dirs {
                let summary = std::fs::read_to_string(d.join(SUMMARY))?;
                let hlog = std::fs::read_to_string(d.join(HISTOGRAMS))
                    .with_context(|| format!("{}: {SUMMARY} without {HISTOGRAMS}", d.display()))?;
                out.push(parse_shard(&d.display().to_string(), &summary, &hlog)?);
            }
        }
        Location::S3 { bucket, prefix } => {
            let c = clients.context("reading s3://... needs AWS credentials")?;
            let mut keys = Vec::new();
            let mut token = None;
            loop {
                let page =
                    c.s3.list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix.as_str())
                        .set_continuation_token(token)
                        .send()
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
                        .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
                keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
                token = page.next_continuation_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            keys.sort();
            for k in keys.iter().filter(|k| k.ends_with(&format!("/{SUMMARY}"))) {
                let dir = k.trim_end_matches(SUMMARY).trim_end_matches('/');
                let get = |key: String| async move {
                    let o =
                        c.s3.get_object()
                            .bucket(bucket)
                            .key(&key)
                            .send()
                            .await
                            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
                            .with_context(|| format!("reading s3://{bucket}/{key}"))?;
                    let bytes = o.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?;
                    anyhow::Ok(String::from_utf8_lossy(&bytes.into_bytes()).into_owned())
                };
                let summary = get(k.clone()).await?;
                let hlog = get(format!("{dir}/{HISTOGRAMS}")).await?;
                out.push(parse_shard(&format!("s3://{bucket}/{dir}"), &summary, &hlog)?);
            }
        }
    }
    if out.is_empty() {
        bail!("no shard results ({SUMMARY} and {HISTOGRAMS}) under {loc}");
    }
    Ok(out)
}

fn find_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if dir.join(SUMMARY).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            find_dirs(&p, out)?;
        }
    }
    Ok(())
}

/// The fleet's report: shards' measurements added up, thresholds (the shards' own, plus
/// `extra`) judged over the whole.
pub fn merge(shards: &[ShardResult], extra: &[String]) -> anyhow::Result<(LoadReport, Metrics)> {
    let first = shards.first().context("no shards to merge")?;
    let mut metrics = Metrics::new(first.metrics.interval);
    let mut accounting: Option<Accounting> = None;
    let mut peak = 0;
    let mut seen: Vec<String> = Vec::new();
    for s in shards {
        if s.report.profile != first.report.profile || s.report.run_id != first.report.run_id {
            bail!(
                "{} is run {} of {}, {} is run {} of {}: merge one run's shards at a time",
                first.source,
                first.report.run_id,
                first.report.profile,
                s.source,
                s.report.run_id,
                s.report.profile
            );
        }
        for shard in &s.report.shards {
            if seen.contains(shard) {
                bail!("shard {shard} appears twice ({}): each shard's results once", s.source);
            }
            seen.push(shard.clone());
        }
        metrics.merge(&s.metrics).map_err(|e| anyhow::anyhow!("{}: {e}", s.source))?;
        if let Some(a) = &s.report.accounting {
            accounting.get_or_insert_with(Accounting::default).merge(a);
        }
        peak += s.report.peak_sessions;
    }
    let count = first.report.shards.first().and_then(|s| s.split_once('/')).map(|(_, n)| n.to_string());
    if let Some(n) = count.and_then(|n| n.parse::<usize>().ok())
        && n != seen.len()
    {
        bail!("{} of {n} shards found ({}): a missing shard's load would go uncounted", seen.len(), seen.join(", "));
    }
    let mut texts: Vec<String> = Vec::new();
    for t in first.report.thresholds.iter().map(|t| t.threshold.clone()).chain(extra.iter().cloned()) {
        if !texts.contains(&t) {
            texts.push(t);
        }
    }
    let thresholds: Vec<Threshold> =
        texts.iter().map(|t| t.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?;
    let started = shards.iter().map(|s| s.report.started_ms).min().unwrap_or(0);
    let ended = shards.iter().map(|s| s.report.ended_ms).max().unwrap_or(started);
    let elapsed = Duration::from_millis(ended.saturating_sub(started));
    let observed = Observed { metrics: &metrics, accounting: accounting.as_ref(), elapsed, peak_sessions: peak };
    let results = thresholds.iter().map(|t| t.judge(&observed)).collect();
    let mut warnings: Vec<String> = Vec::new();
    for s in shards {
        for w in &s.report.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
    }
    seen.sort();
    let facts = Facts {
        profile: first.report.profile.clone(),
        description: first.report.description.clone(),
        target: first.report.target.clone(),
        run_id: first.report.run_id.clone(),
        shards: seen,
        model: first.report.model.clone(),
        started: UNIX_EPOCH + Duration::from_millis(started),
        ended: UNIX_EPOCH + Duration::from_millis(ended),
        peak_sessions: peak,
        warnings,
    };
    Ok((LoadReport::build(facts, &metrics, accounting, results), metrics))
}
