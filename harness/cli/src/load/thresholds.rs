//! Pass/fail criteria over a run: `pipeline.p99<2s`, `errors.rate<0.1%`, `files.lost==0`,
//! `throughput.files_per_s>=20`, `write_rate.p50>1MiB/s`. Parsed once (a bad one is a usage error
//! before any load starts), judged against the measurements, one result per threshold.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::metrics::{Metric, Metrics};
use super::quantity::Span;
use super::tracker::Accounting;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => (observed - limit).abs() < 1e-9,
        }
    }
}

/// What a threshold is about.
#[derive(Debug, Clone, PartialEq)]
enum Subject {
    /// A statistic of a stage's histogram: `p99`, `max`, `mean`, `count`...
    Stage(Metric, Stat),
    /// Errors over files plus errors.
    ErrorRate,
    /// Errors of one class, or all (`None`).
    Errors(Option<String>),
    /// Files by outcome: `lost`, `failed`, `wrong`, `duplicated`, `transferred`, `uploaded`.
    Files(String),
    /// `files_per_s` or `mib_per_s`.
    Throughput(String),
    /// Most sessions at once.
    PeakSessions,
}

/// A statistic of a histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    Quantile(f64),
    Max,
    Min,
    Mean,
    Count,
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub text: String,
    subject: Subject,
    op: Op,
    /// In the subject's unit: microseconds, KiB/s, a ratio, a count.
    limit: f64,
}

/// How one threshold came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// As written.
    pub threshold: String,
    /// What was measured, in the threshold's unit.
    pub observed: String,
    /// Whether it held.
    pub passed: bool,
    /// Why it could not be judged on this target (then it neither passes nor fails the run).
    pub skipped: Option<String>,
}

const FILE_OUTCOMES: [&str; 7] = ["uploaded", "transferred", "verified", "failed", "lost", "wrong", "duplicated"];

fn parse_stat(s: &str) -> Option<Stat> {
    Some(match s {
        "max" => Stat::Max,
        "min" => Stat::Min,
        "mean" | "avg" => Stat::Mean,
        "count" => Stat::Count,
        "p50" | "med" => Stat::Quantile(0.5),
        _ => {
            let p: f64 = s.strip_prefix('p')?.parse().ok()?;
            (0.0..=100.0).contains(&p).then_some(Stat::Quantile(p / 100.0))?
        }
    })
}

/// A rate in KiB/s: `10MiB/s`, `500KiB/s`, or a number of KiB/s.
fn parse_rate(s: &str) -> Option<f64> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("MiB/s") {
        (n, 1024.0)
    } else if let Some(n) = t.strip_suffix("KiB/s") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix("GiB/s") {
        (n, 1024.0 * 1024.0)
    } else {
        (t, 1.0)
    };
    num.trim().parse::<f64>().ok().map(|n| n * scale)
}

impl std::str::FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let bad = |why: String| format!("threshold {t:?}: {why}");
        let (pos, op, len) = ["<=", ">=", "==", "<", ">"]
            .iter()
            .filter_map(|o| t.find(o).map(|p| (p, *o)))
            .min_by_key(|(p, o)| (*p, std::cmp::Reverse(o.len())))
            .map(|(p, o)| {
                let op = match o {
                    "<=" => Op::Le,
                    ">=" => Op::Ge,
                    "==" => Op::Eq,
                    "<" => Op::Lt,
                    _ => Op::Gt,
                };
                (p, op, o.len())
            })
            .ok_or_else(|| bad("no comparison: write METRIC.STAT<VALUE, such as pipeline.p99<2s".into()))?;
        let (left, right) = (t[..pos].trim(), t[pos + len..].trim());
        let (name, stat) =
            left.split_once('.').ok_or_else(|| bad(format!("{left:?} has no statistic (pipeline.p99)")))?;
        let metric_names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        let (subject, limit) = match name {
            "errors" if stat == "rate" => {
                let limit = match right.strip_suffix('%') {
                    Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
                    None => right.parse::<f64>(),
                }
                .map_err(|_| bad(format!("{right:?} is not a rate (0.1% or 0.001)")))?;
                (Subject::ErrorRate, limit)
            }
            "errors" => {
                let limit = right.parse().map_err(|_| bad(format!("{right:?} is not a count")))?;
                (Subject::Errors((stat != "count").then(|| stat.to_string())), limit)
            }
            "files" => {
                if !FILE_OUTCOMES.contains(&stat) {
                    return Err(bad(format!("files.{stat}: expected one of {}", FILE_OUTCOMES.join(", "))));
                }
                (Subject::Files(stat.into()), right.parse().map_err(|_| bad(format!("{right:?} is not a count")))?)
            }
            "throughput" => {
                if stat != "files_per_s" && stat != "mib_per_s" {
                    return Err(bad("throughput.files_per_s or throughput.mib_per_s".into()));
                }
                (
                    Subject::Throughput(stat.into()),
                    right.parse().map_err(|_| bad(format!("{right:?} is not a number")))?,
                )
            }
            "sessions" if stat == "peak" => {
                (Subject::PeakSessions, right.parse().map_err(|_| bad(format!("{right:?} is not a count")))?)
            }
            _ => {
                let metric = Metric::named(name).ok_or_else(|| {
                    bad(format!(
                        "no metric {name:?} (metrics: {}; also errors, files, throughput, sessions)",
                        metric_names.join(", ")
                    ))
                })?;
                let stat = parse_stat(stat).ok_or_else(|| {
                    bad(format!("no statistic {stat:?} (p50, p90, p99, p99.9, max, min, mean, count)"))
                })?;
                let limit = match stat {
                    Stat::Count => right.parse().map_err(|_| bad(format!("{right:?} is not a count")))?,
                    _ if metric.is_rate() => {
                        parse_rate(right).ok_or_else(|| bad(format!("{right:?} is not a rate (10MiB/s, 500KiB/s)")))?
                    }
                    _ => right.parse::<Span>().map_err(|e| bad(e.to_string()))?.0.as_micros() as f64,
                };
                (Subject::Stage(metric, stat), limit)
            }
        };
        Ok(Threshold { text: t.to_string(), subject, op, limit })
    }
}

/// What thresholds are judged against.
pub struct Observed<'a> {
    /// The measurements.
    pub metrics: &'a Metrics,
    /// What became of the files (`None`: not followed, partner mode).
    pub accounting: Option<&'a Accounting>,
    /// The run's length.
    pub elapsed: Duration,
    /// Most sessions at once.
    pub peak_sessions: u64,
}

fn pipeline_metric(m: Metric) -> bool {
    matches!(
        m,
        Metric::ObjectCreated
            | Metric::ExecutionStarted
            | Metric::FunctionDone
            | Metric::Pipeline
            | Metric::Destination
    )
}

fn show_micros(us: f64) -> String {
    Span(Duration::from_micros(us.max(0.0) as u64)).to_string()
}

impl Threshold {
    /// Judges the threshold.
    pub fn judge(&self, o: &Observed<'_>) -> ThresholdResult {
        let result = |observed: f64, shown: String| ThresholdResult {
            threshold: self.text.clone(),
            observed: shown,
            passed: self.op.holds(observed, self.limit),
            skipped: None,
        };
        let skipped = |why: &str| ThresholdResult {
            threshold: self.text.clone(),
            observed: "-".into(),
            passed: true,
            skipped: Some(why.into()),
        };
        let files = o.metrics.total_counters().files;
        match &self.subject {
            Subject::Stage(m, stat) => {
                let Some(h) = o.metrics.totals.get(m).filter(|h| !h.is_empty()) else {
                    if pipeline_metric(*m) && o.accounting.is_none() {
                        return skipped("the pipeline is not followed without AWS credentials");
                    }
                    if matches!(stat, Stat::Count) {
                        return result(0.0, "0".into());
                    }
                    // Nothing measured is not a pass: the stage never happened.
                    return ThresholdResult {
                        threshold: self.text.clone(),
                        observed: "no samples".into(),
                        passed: false,
                        skipped: None,
                    };
                };
                let v = match stat {
                    Stat::Quantile(q) => h.value_at_quantile(*q) as f64,
                    Stat::Max => h.max() as f64,
                    Stat::Min => h.min() as f64,
                    Stat::Mean => h.mean(),
                    Stat::Count => return result(h.len() as f64, h.len().to_string()),
                };
                let shown = if m.is_rate() { format!("{:.1}MiB/s", v / 1024.0) } else { show_micros(v) };
                result(v, shown)
            }
            Subject::ErrorRate => {
                let errors = o.metrics.error_count() as f64;
                let rate = if errors == 0.0 { 0.0 } else { errors / (files as f64 + errors) };
                result(rate, format!("{:.3}% ({errors} of {} attempts)", rate * 100.0, files as f64 + errors))
            }
            Subject::Errors(class) => {
                let n = match class {
                    Some(c) => o.metrics.errors.get(c).map_or(0, |e| e.count),
                    None => o.metrics.error_count(),
                };
                result(n as f64, n.to_string())
            }
            Subject::Files(outcome) => {
                let Some(a) = o.accounting else {
                    return if outcome == "uploaded" {
                        result(files as f64, files.to_string())
                    } else {
                        skipped("the pipeline is not followed without AWS credentials")
                    };
                };
                let n = match outcome.as_str() {
                    "uploaded" => a.uploaded,
                    "transferred" => a.transferred,
                    "verified" => a.verified,
                    "failed" => a.failed,
                    "lost" => a.lost,
                    "wrong" => a.wrong,
                    _ => a.duplicated,
                };
                result(n as f64, n.to_string())
            }
            Subject::Throughput(what) => {
                let secs = o.elapsed.as_secs_f64().max(1e-3);
                let c = o.metrics.total_counters();
                let v = if what == "files_per_s" {
                    c.files as f64 / secs
                } else {
                    c.bytes as f64 / (1024.0 * 1024.0) / secs
                };
                result(v, format!("{v:.2}"))
            }
            Subject::PeakSessions => result(o.peak_sessions as f64, o.peak_sessions.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn thresholds_parse_with_clear_errors() {
        let t: Threshold = "pipeline.p99<2s".parse().unwrap();
        assert_eq!(t.subject, Subject::Stage(Metric::Pipeline, Stat::Quantile(0.99)));
        assert_eq!(t.limit, 2_000_000.0);
        let t: Threshold = "upload.p99.9 <= 150ms".parse().unwrap();
        assert_eq!((t.op, t.limit), (Op::Le, 150_000.0));
        let t: Threshold = "errors.rate<0.1%".parse().unwrap();
        assert!((t.limit - 0.001).abs() < 1e-12);
        assert_eq!("write_rate.p50>1MiB/s".parse::<Threshold>().unwrap().limit, 1024.0);
        let e = "pipelin.p99<2s".parse::<Threshold>().unwrap_err();
        assert!(e.contains("no metric \"pipelin\"") && e.contains("pipeline"), "{e}");
        let e = "pipeline.p99<2 parsecs".parse::<Threshold>().unwrap_err();
        assert!(e.contains("not a duration"), "{e}");
        let e = "files.gone==0".parse::<Threshold>().unwrap_err();
        assert!(e.contains("expected one of"), "{e}");
        assert!("pipeline.p99".parse::<Threshold>().unwrap_err().contains("no comparison"));
    }

    #[test]
    fn thresholds_judge_what_was_measured() {
        let mut m = Metrics::new(Duration::from_secs(1));
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for i in 1..=100u64 {
            m.record(Metric::Pipeline, at, Duration::from_millis(i * 10));
            m.count(at).files += 1;
        }
        m.error(at, "auth", "refused");
        let acc = Accounting { uploaded: 100, transferred: 99, lost: 1, ..Default::default() };
        let o = Observed { metrics: &m, accounting: Some(&acc), elapsed: Duration::from_secs(10), peak_sessions: 4 };
        let judge = |t: &str| t.parse::<Threshold>().unwrap().judge(&o);
        assert!(judge("pipeline.p99<1.1s").passed);
        assert!(!judge("pipeline.p99<900ms").passed);
        assert!(!judge("files.lost==0").passed);
        assert!(judge("errors.auth==1").passed);
        assert!(!judge("errors.rate<0.5%").passed);
        assert!(judge("throughput.files_per_s>=10").passed);
        assert!(judge("sessions.peak>=4").passed);
        // A stage that never happened does not pass a latency threshold.
        let r = judge("destination.p99<1s");
        assert!(!r.passed && r.observed == "no samples", "{r:?}");
        let partner = Observed { accounting: None, ..o };
        let r = "function_done.p99<1s".parse::<Threshold>().unwrap().judge(&partner);
        assert!(r.skipped.is_some(), "{r:?}");
    }
}
