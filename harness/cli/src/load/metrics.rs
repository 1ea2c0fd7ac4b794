//! What a load run measured: an HDR histogram per stage for the whole run, per-interval
//! histograms of the two latencies charts show over time, counters per interval, errors by
//! class. Shards write it as an HdrHistogram interval log plus counters, and merging shards adds
//! them up.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// A measured stage. Latencies are recorded in microseconds; `WriteRate` in KiB/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// TCP connect.
    Connect,
    /// SSH key exchange, to the host key check.
    Handshake,
    /// Public-key authentication.
    Auth,
    /// Session channel and SFTP subsystem.
    Channel,
    /// From when a file was due to when its upload began (open model: the server's queue).
    Queue,
    /// SSH_FXP_OPEN.
    Open,
    /// Every write of a file, acknowledged.
    Write,
    /// A file's write throughput.
    WriteRate,
    /// SSH_FXP_CLOSE.
    Close,
    /// A file from when it was due to its acknowledged close.
    Upload,
    /// Close -> the S3 event's time (whole seconds, as S3 stamps events).
    ObjectCreated,
    /// Close -> the execution's start.
    ExecutionStarted,
    /// Close -> the function's transfer timestamp in the record.
    FunctionDone,
    /// Close -> the record read `transferred` (the pipeline's latency).
    Pipeline,
    /// Close -> the destination object checked.
    Destination,
}

impl Metric {
    /// Every metric, in the pipeline's order.
    pub const ALL: [Metric; 15] = [
        Metric::Connect,
        Metric::Handshake,
        Metric::Auth,
        Metric::Channel,
        Metric::Queue,
        Metric::Open,
        Metric::Write,
        Metric::WriteRate,
        Metric::Close,
        Metric::Upload,
        Metric::ObjectCreated,
        Metric::ExecutionStarted,
        Metric::FunctionDone,
        Metric::Pipeline,
        Metric::Destination,
    ];

    /// Its name in thresholds, reports and histogram logs.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Connect => "connect",
            Metric::Handshake => "handshake",
            Metric::Auth => "auth",
            Metric::Channel => "channel",
            Metric::Queue => "queue",
            Metric::Open => "open",
            Metric::Write => "write",
            Metric::WriteRate => "write_rate",
            Metric::Close => "close",
            Metric::Upload => "upload",
            Metric::ObjectCreated => "object_created",
            Metric::ExecutionStarted => "execution_started",
            Metric::FunctionDone => "function_done",
            Metric::Pipeline => "pipeline",
            Metric::Destination => "destination",
        }
    }

    /// The metric named `name`.
    pub fn named(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether it is a rate (KiB/s) rather than a latency.
    pub fn is_rate(&self) -> bool {
        matches!(self, Metric::WriteRate)
    }

    /// Whether intervals keep a histogram of it (for latency-over-time charts).
    pub fn over_time(&self) -> bool {
        matches!(self, Metric::Upload | Metric::Pipeline)
    }
}

/// Counters of one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Sessions logged in.
    pub sessions: u64,
    /// Files whose close was acknowledged.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files whose record read `transferred`.
    pub transferred: u64,
    /// Errors of any class.
    pub errors: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.sessions += o.sessions;
        self.files += o.files;
        self.bytes += o.bytes;
        self.transferred += o.transferred;
        self.errors += o.errors;
    }
}

/// Errors of one class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorClass {
    /// How many.
    pub count: u64,
    /// The first one's message, as an example.
    pub example: String,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Interval length (intervals start at multiples of it since the epoch).
    pub interval: Duration,
    /// The whole run, per metric.
    pub totals: BTreeMap<Metric, Histogram<u64>>,
    /// Per interval (by its start, seconds since the epoch): histograms of the `over_time`
    /// metrics.
    pub intervals: BTreeMap<u64, BTreeMap<Metric, Histogram<u64>>>,
    /// Per interval: counters.
    pub counters: BTreeMap<u64, Counters>,
    /// Errors by class (`connect`, `auth`, `write`, `lost`, ...).
    pub errors: BTreeMap<String, ErrorClass>,
}

fn histogram() -> Histogram<u64> {
    // Auto-resizing, three significant digits: small while latencies are, exact enough for p99.9.
    Histogram::new(3).expect("3 significant digits are valid")
}

/// Records `v`, growing the histogram as needed (`saturating_record` would clamp to its current
/// range instead).
fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Metrics {
    /// Nothing measured yet, reporting every `interval`.
    pub fn new(interval: Duration) -> Self {
        Metrics {
            interval: interval.max(Duration::from_secs(1)),
            totals: BTreeMap::new(),
            intervals: BTreeMap::new(),
            counters: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    fn slot(&self, at: SystemTime) -> u64 {
        let l = self.interval.as_secs();
        epoch_secs(at) / l * l
    }

    /// Records one value of `metric` observed at `at`: a latency, or KiB/s for rates.
    pub fn record(&mut self, metric: Metric, at: SystemTime, value: Duration) {
        let v = (value.as_micros() as u64).max(1);
        self.record_raw(metric, at, v);
    }

    /// Records a rate in KiB/s.
    pub fn record_rate(&mut self, metric: Metric, at: SystemTime, kib_per_s: f64) {
        self.record_raw(metric, at, (kib_per_s.round() as u64).max(1));
    }

    fn record_raw(&mut self, metric: Metric, at: SystemTime, v: u64) {
        record(self.totals.entry(metric).or_insert_with(histogram), v);
        if metric.over_time() {
            let slot = self.slot(at);
            record(self.intervals.entry(slot).or_default().entry(metric).or_insert_with(histogram), v);
        }
    }

    /// The counters of the interval holding `at`.
    pub fn count(&mut self, at: SystemTime) -> &mut Counters {
        let slot = self.slot(at);
        self.counters.entry(slot).or_default()
    }

    /// Records an error of `class`.
    pub fn error(&mut self, at: SystemTime, class: &str, message: &str) {
        self.count(at).errors += 1;
        let e = self.errors.entry(class.to_string()).or_default();
        if e.count == 0 {
            e.example = message.chars().take(300).collect();
        }
        e.count += 1;
    }

    /// All counters added up.
    pub fn total_counters(&self) -> Counters {
        let mut t = Counters::default();
        for c in self.counters.values() {
            t.add(c);
        }
        t
    }

    /// Errors of every class.
    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }

    /// Adds another shard's measurements (same interval length).
    pub fn merge(&mut self, other: &Metrics) -> Result<(), String> {
        if other.interval != self.interval {
            return Err(format!(
                "shards used different reporting intervals ({:?} and {:?}): run them from the same profile",
                self.interval, other.interval
            ));
        }
        for (m, h) in &other.totals {
            self.totals.entry(*m).or_insert_with(histogram).add(h).map_err(|e| format!("{e:?}"))?;
        }
        for (slot, hs) in &other.intervals {
            let mine = self.intervals.entry(*slot).or_default();
            for (m, h) in hs {
                mine.entry(*m).or_insert_with(histogram).add(h).map_err(|e| format!("{e:?}"))?;
            }
        }
        for (slot, c) in &other.counters {
            self.counters.entry(*slot).or_default().add(c);
        }
        for (class, e) in &other.errors {
            let mine = self.errors.entry(class.clone()).or_default();
            if mine.count == 0 {
                mine.example = e.example.clone();
            }
            mine.count += e.count;
        }
        Ok(())
    }

    /// The histograms as an HdrHistogram interval log (readable by HdrHistogram's own tools):
    /// each metric's whole-run histogram tagged `<metric>` over the run, and per-interval
    /// histograms tagged `<metric>@interval`. Latencies are in microseconds (the log's
    /// MaxValueDivisor turns them into milliseconds for its max column).
    pub fn interval_log(&self, started: SystemTime, ended: SystemTime) -> String {
        let mut out = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        {
            let mut w = IntervalLogWriterBuilder::new()
                .add_comment("partner-intake harness load: latencies in microseconds, write_rate in KiB/s")
                .add_comment(&format!("interval {}s", self.interval.as_secs()))
                .with_start_time(started)
                .with_max_value_divisor(1000.0)
                .begin_log_with(&mut out, &mut ser)
                .expect("writing to memory");
            let start = started.duration_since(UNIX_EPOCH).unwrap_or_default();
            let length = ended.duration_since(started).unwrap_or_default();
            for (m, h) in &self.totals {
                let tag = Tag::new(m.name());
                w.write_histogram(h, start, length, tag).expect("writing to memory");
            }
            for (slot, hs) in &self.intervals {
                for (m, h) in hs {
                    let tag = format!("{}@interval", m.name());
                    w.write_histogram(h, Duration::from_secs(*slot), self.interval, Tag::new(&tag))
                        .expect("writing to memory");
                }
            }
        }
        String::from_utf8(out).expect("interval logs are ASCII")
    }

    /// Reads the histograms back from [`Metrics::interval_log`]'s text.
    pub fn read_interval_log(&mut self, text: &str) -> Result<(), String> {
        let mut de = Deserializer::new();
        for entry in IntervalLogIterator::new(text.as_bytes()) {
            let LogEntry::Interval(i) = entry.map_err(|e| format!("not an interval log: {e:?}"))? else { continue };
            let tag = i.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
            let (name, per_interval) = match tag.strip_suffix("@interval") {
                Some(n) => (n.to_string(), true),
                None => (tag.clone(), false),
            };
            let metric = Metric::named(&name).ok_or_else(|| format!("unknown metric tag {tag:?}"))?;
            let bytes = base64_decode(i.encoded_histogram())?;
            let h: Histogram<u64> =
                de.deserialize(&mut bytes.as_slice()).map_err(|e| format!("histogram {tag}: {e:?}"))?;
            let target = if per_interval {
                self.intervals.entry(i.start_timestamp().as_secs()).or_default().entry(metric).or_insert_with(histogram)
            } else {
                self.totals.entry(metric).or_insert_with(histogram)
            };
            target.add(&h).map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    }
}

/// Standard base64 (the interval log's encoding of each histogram).
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|e| format!("bad base64 in interval log: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_log_round_trips_and_shards_merge() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut a = Metrics::new(Duration::from_secs(1));
        for i in 0..100u64 {
            let at = t0 + Duration::from_millis(i * 30);
            a.record(Metric::Pipeline, at, Duration::from_millis(10 + i));
            a.record(Metric::Connect, at, Duration::from_micros(300));
            a.count(at).files += 1;
        }
        a.error(t0, "lost", "s/k.bin: no record by the deadline");
        let log = a.interval_log(t0, t0 + Duration::from_secs(3));
        assert!(log.contains("Tag=pipeline@interval"), "{log}");
        let mut back = Metrics::new(Duration::from_secs(1));
        back.read_interval_log(&log).unwrap();
        assert_eq!(back.totals[&Metric::Pipeline].len(), 100);
        assert_eq!(
            back.totals[&Metric::Pipeline].value_at_quantile(0.5),
            a.totals[&Metric::Pipeline].value_at_quantile(0.5)
        );
        assert_eq!(back.intervals.len(), a.intervals.len());
        let mut merged = a.clone();
        merged.merge(&a).unwrap();
        assert_eq!(merged.totals[&Metric::Pipeline].len(), 200);
        assert_eq!(merged.total_counters().files, 200);
        assert_eq!(merged.errors["lost"].count, 2);
        assert!(merged.merge(&Metrics::new(Duration::from_secs(5))).is_err());
    }
}
