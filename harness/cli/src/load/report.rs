//! A load run's report as data: totals, per-stage latency statistics, what happened each
//! interval, errors, what became of every file, thresholds. Built from the measurements (one
//! shard's, or merged shards'); written as JSON (`--json`, also what `load merge` reads back),
//! JUnit (`--junit`, a testcase per threshold) and HTML (`--report`, see [`super::load_html`]).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::metrics::{Counters, ErrorClass, Metric, Metrics};
use super::thresholds::ThresholdResult;
use super::tracker::Accounting;
use crate::report::xml;

/// Latency (ms) or rate (KiB/s) statistics of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    /// The metric's name.
    pub metric: String,
    /// `ms` or `KiB/s`.
    pub unit: String,
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th.
    pub p95: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

/// Percentiles of one interval's latencies, in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th.
    pub p90: f64,
    /// 99th.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// One interval of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalRow {
    /// Its start, seconds since the epoch.
    pub t: u64,
    /// What was counted.
    #[serde(flatten)]
    pub counters: Counters,
    /// Upload latency (due -> close), when any file closed.
    pub upload: Option<Percentiles>,
    /// Pipeline latency (close -> transferred), when any file was transferred.
    pub pipeline: Option<Percentiles>,
}

/// A load run's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Report format version.
    pub version: u32,
    /// The profile's name.
    pub profile: String,
    /// What it measures.
    pub description: String,
    /// Where it ran.
    pub target: String,
    /// The run's id (shared by its shards).
    pub run_id: String,
    /// The shards it covers (`0/3`, ...).
    pub shards: Vec<String>,
    /// `closed`, `open` or `replay`.
    pub model: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Its start, milliseconds since the epoch.
    pub started_ms: u64,
    /// Its end, milliseconds since the epoch.
    pub ended_ms: u64,
    /// Reporting interval, seconds.
    pub interval_s: u64,
    /// Most sessions at once (merged: the sum of each shard's most).
    pub peak_sessions: u64,
    /// Totals.
    pub totals: Counters,
    /// Files per second over the run.
    pub files_per_s: f64,
    /// MiB per second over the run.
    pub mib_per_s: f64,
    /// Statistics per stage, in the pipeline's order.
    pub stages: Vec<StageStats>,
    /// Every interval.
    pub series: Vec<IntervalRow>,
    /// Errors by class.
    pub errors: BTreeMap<String, ErrorClass>,
    /// What became of the files (`None`: not followed, partner mode).
    pub accounting: Option<Accounting>,
    /// Each threshold.
    pub thresholds: Vec<ThresholdResult>,
    /// The profile beyond documented limits.
    pub warnings: Vec<String>,
    /// Why it failed (empty: it passed).
    pub failures: Vec<String>,
}

/// The report format version.
pub const REPORT_VERSION: u32 = 1;

fn ms(us: f64) -> f64 {
    (us / 10.0).round() / 100.0
}

fn stats(metric: Metric, h: &Histogram<u64>) -> StageStats {
    let scale = |v: f64| if metric.is_rate() { v } else { ms(v) };
    StageStats {
        metric: metric.name().into(),
        unit: if metric.is_rate() { "KiB/s" } else { "ms" }.into(),
        count: h.len(),
        min: scale(h.min() as f64),
        mean: scale(h.mean()),
        p50: scale(h.value_at_quantile(0.5) as f64),
        p90: scale(h.value_at_quantile(0.9) as f64),
        p95: scale(h.value_at_quantile(0.95) as f64),
        p99: scale(h.value_at_quantile(0.99) as f64),
        p999: scale(h.value_at_quantile(0.999) as f64),
        max: scale(h.max() as f64),
    }
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    Percentiles {
        count: h.len(),
        p50: ms(h.value_at_quantile(0.5) as f64),
        p90: ms(h.value_at_quantile(0.9) as f64),
        p99: ms(h.value_at_quantile(0.99) as f64),
        max: ms(h.max() as f64),
    }
}

/// What a report is built from besides the measurements.
pub struct Facts {
    /// Profile name.
    pub profile: String,
    /// Its description.
    pub description: String,
    /// Where it ran.
    pub target: String,
    /// Run id.
    pub run_id: String,
    /// Shards covered.
    pub shards: Vec<String>,
    /// Model.
    pub model: String,
    /// Start.
    pub started: SystemTime,
    /// End.
    pub ended: SystemTime,
    /// Most sessions at once.
    pub peak_sessions: u64,
    /// Quota warnings.
    pub warnings: Vec<String>,
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl LoadReport {
    /// The report of `metrics` and `accounting`, with the thresholds' results.
    pub fn build(
        facts: Facts,
        metrics: &Metrics,
        accounting: Option<Accounting>,
        thresholds: Vec<ThresholdResult>,
    ) -> LoadReport {
        let totals = metrics.total_counters();
        let secs = facts.ended.duration_since(facts.started).unwrap_or_default().as_secs_f64().max(1e-3);
        let stages = Metric::ALL.iter().filter_map(|m| metrics.totals.get(m).map(|h| stats(*m, h))).collect();
        let slots: std::collections::BTreeSet<u64> =
            metrics.counters.keys().chain(metrics.intervals.keys()).copied().collect();
        let series = slots
            .into_iter()
            .map(|t| {
                let hs = metrics.intervals.get(&t);
                IntervalRow {
                    t,
                    counters: metrics.counters.get(&t).cloned().unwrap_or_default(),
                    upload: hs.and_then(|h| h.get(&Metric::Upload)).map(percentiles),
                    pipeline: hs.and_then(|h| h.get(&Metric::Pipeline)).map(percentiles),
                }
            })
            .collect();
        let mut failures: Vec<String> = thresholds
            .iter()
            .filter(|t| !t.passed && t.skipped.is_none())
            .map(|t| format!("threshold {} breached: {}", t.threshold, t.observed))
            .collect();
        if totals.files == 0 {
            failures.push("no file was uploaded".into());
        }
        if let Some(a) = &accounting {
            for (n, what) in [(a.lost, "lost"), (a.failed, "failed"), (a.wrong, "wrong"), (a.duplicated, "duplicated")]
            {
                if n > 0 {
                    failures.push(format!("{n} file(s) {what}"));
                }
            }
            if !a.adds_up() {
                failures.push(format!(
                    "files do not add up: {} uploaded, {} transferred + {} failed + {} lost",
                    a.uploaded, a.transferred, a.failed, a.lost
                ));
            }
        }
        LoadReport {
            version: REPORT_VERSION,
            profile: facts.profile,
            description: facts.description,
            target: facts.target,
            run_id: facts.run_id,
            shards: facts.shards,
            model: facts.model,
            started: crate::report::rfc3339(facts.started),
            started_ms: epoch_ms(facts.started),
            ended_ms: epoch_ms(facts.ended),
            interval_s: metrics.interval.as_secs(),
            peak_sessions: facts.peak_sessions,
            files_per_s: totals.files as f64 / secs,
            mib_per_s: totals.bytes as f64 / (1024.0 * 1024.0) / secs,
            totals,
            stages,
            series,
            errors: metrics.errors.clone(),
            accounting,
            thresholds,
            warnings: facts.warnings,
            failures,
        }
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Its length.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.ended_ms.saturating_sub(self.started_ms))
    }

    /// The counters per interval, as measurements (for merging shards).
    pub fn counters(&self) -> BTreeMap<u64, Counters> {
        self.series.iter().map(|r| (r.t, r.counters.clone())).collect()
    }

    /// The statistics of one stage.
    pub fn stage(&self, metric: Metric) -> Option<&StageStats> {
        self.stages.iter().find(|s| s.metric == metric.name())
    }

    /// JSON (`--json`; `load merge` reads it back).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize") + "\n"
    }

    /// JUnit XML: a testcase per threshold, and one for the files' accounting.
    pub fn junit(&self) -> String {
        let mut cases = String::new();
        let mut failures = 0;
        let mut skipped = 0;
        let suite = xml(&format!("load.{}", self.profile));
        for t in &self.thresholds {
            cases.push_str(&format!("    <testcase classname=\"{suite}\" name=\"{}\" time=\"0\">", xml(&t.threshold)));
            if let Some(why) = &t.skipped {
                skipped += 1;
                cases.push_str(&format!("<skipped message=\"{}\"/>", xml(why)));
            } else if !t.passed {
                failures += 1;
                let m = format!("observed {}", t.observed);
                cases.push_str(&format!(
                    "<failure message=\"{}\" type=\"ThresholdBreached\">{}</failure>",
                    xml(&m),
                    xml(&m)
                ));
            }
            cases.push_str(&format!("<system-out>observed {}</system-out></testcase>\n", xml(&t.observed)));
        }
        let accounting_failures: Vec<&String> = self.failures.iter().filter(|f| !f.starts_with("threshold ")).collect();
        cases.push_str(&format!("    <testcase classname=\"{suite}\" name=\"every file accounted for\" time=\"0\">"));
        if !accounting_failures.is_empty() {
            failures += 1;
            let m = accounting_failures.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ");
            let problems = self.accounting.as_ref().map(|a| a.problems.join("\n")).unwrap_or_default();
            cases.push_str(&format!(
                "<failure message=\"{}\" type=\"FilesUnaccounted\">{}</failure>",
                xml(&m),
                xml(&format!("{m}\n{problems}"))
            ));
        }
        cases.push_str("</testcase>\n");
        let tests = self.thresholds.len() + 1;
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"harness load\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">\n  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">\n    <properties><property name=\"target\" value=\"{}\"/><property name=\"run\" value=\"{}\"/><property name=\"shards\" value=\"{}\"/></properties>\n{cases}  </testsuite>\n</testsuites>\n",
            self.elapsed().as_secs_f64(),
            self.elapsed().as_secs_f64(),
            xml(self.started.trim_end_matches('Z')),
            xml(&self.target),
            xml(&self.run_id),
            xml(&self.shards.join(",")),
        )
    }
}
