//! Follows every uploaded file through the pipeline, through the probes: its source version
//! (HeadObject), its record (BatchGetItem, a hundred files a call), the execution's start, and
//! for the files it verifies the destination's bytes (SHA-256) and copies (versions). At the
//! end every file is accounted for: transferred, failed, lost, wrong or duplicated.
//!
//! Stage times are the pipeline's own timestamps against the client's clock at close: the S3
//! event's `time` (whole seconds), the execution's `startDate`, the record's
//! `transfer_timestamp`; `pipeline` and `destination` are when this tracker saw them, so their
//! resolution is its poll interval. A server stamp before the close (clock skew, whole seconds)
//! counts as zero.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use copy_lambda::metadata::Status;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use super::metrics::Metric;
use super::sample::{Sample, Samples};
use crate::probes::{ProbeError, dynamodb, s3, stepfunctions};
use crate::targets::Clients;

/// An uploaded file to follow.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// Its key in the source bucket.
    pub key: String,
    /// Bytes uploaded.
    pub size: u64,
    /// SHA-256 of them, hex.
    pub sha256: String,
    /// When the close was acknowledged.
    pub closed_at: SystemTime,
    /// The same moment on the monotonic clock.
    pub closed: Instant,
}

/// Where the pipeline keeps things, and how hard to look.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Source bucket.
    pub source_bucket: String,
    /// Destination bucket.
    pub destination_bucket: String,
    /// Metadata table.
    pub table: String,
    /// Pause between polls.
    pub poll: Duration,
    /// Fraction of files (0..=1) whose destination bytes, copies and execution are checked.
    pub verify_sample: f64,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// How long to keep looking after the last upload.
    pub drain_timeout: Duration,
}

/// What became of the uploaded files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    /// Files whose close was acknowledged.
    pub uploaded: u64,
    /// Their record reads `transferred` (and, where verified, the destination is right).
    pub transferred: u64,
    /// Of those, checked byte for byte with exactly one destination copy.
    pub verified: u64,
    /// Their record reads `failed` (or another end than `transferred`).
    pub failed: u64,
    /// Never `transferred` by the end of the drain.
    pub lost: u64,
    /// The destination's bytes differ from the upload's.
    pub wrong: u64,
    /// The destination holds more than one copy.
    pub duplicated: u64,
    /// Probe calls that failed (and were tried again).
    pub probe_errors: u64,
    /// The first few problems, each naming the file.
    pub problems: Vec<String>,
}

impl Accounting {
    /// Files that did not end as they must.
    pub fn bad(&self) -> u64 {
        self.failed + self.lost + self.wrong + self.duplicated
    }

    /// Whether every uploaded file is accounted for.
    pub fn adds_up(&self) -> bool {
        self.uploaded == self.transferred + self.failed + self.lost
    }

    /// Adds another shard's accounting.
    pub fn merge(&mut self, o: &Accounting) {
        self.uploaded += o.uploaded;
        self.transferred += o.transferred;
        self.verified += o.verified;
        self.failed += o.failed;
        self.lost += o.lost;
        self.wrong += o.wrong;
        self.duplicated += o.duplicated;
        self.probe_errors += o.probe_errors;
        for p in &o.problems {
            if self.problems.len() < MAX_PROBLEMS {
                self.problems.push(p.clone());
            }
        }
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

const MAX_PROBLEMS: usize = 20;

/// Whether `key` is in the verified sample (deterministic, so reruns and shards agree).
fn sampled(key: &str, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    (h % 10_000) as f64 / 10_000.0 < fraction
}

fn since(t: SystemTime, closed_at: SystemTime) -> Duration {
    t.duration_since(closed_at).unwrap_or_default()
}

fn parse_time(s: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().map(SystemTime::from)
}

struct Pending {
    file: UploadedFile,
    file_id: Option<String>,
    /// A HeadObject or verification is under way.
    busy: bool,
    last_error: Option<String>,
}

/// A verified file's outcome.
enum Verified {
    Ok(Vec<(Metric, Duration)>),
    Wrong(String),
    Duplicated(String),
    Error(ProbeError),
}

/// What a spawned call reports back.
enum Done {
    /// HeadObject of the source: its version, hence the record's id.
    Head(String, Result<Option<String>, ProbeError>),
    /// A verification.
    Verify(UploadedFile, Verified),
}

/// Starts following files; send each uploaded file, then drop the sender. The result comes when
/// every file is settled or the drain times out.
pub fn spawn(
    clients: Clients,
    cfg: TrackerConfig,
    samples: Samples,
) -> (mpsc::UnboundedSender<UploadedFile>, tokio::task::JoinHandle<Accounting>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(track(clients, cfg, samples, rx));
    (tx, task)
}

/// The tracker's state: what is pending, and the calls in flight (each its own task, bounded
/// by a semaphore, so a slow verification never holds up reading records).
struct Tracker {
    clients: Clients,
    cfg: Arc<TrackerConfig>,
    samples: Samples,
    acc: Accounting,
    pending: BTreeMap<String, Pending>,
    calls: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<Done>,
    in_flight: usize,
}

async fn track(
    clients: Clients,
    cfg: TrackerConfig,
    samples: Samples,
    mut rx: mpsc::UnboundedReceiver<UploadedFile>,
) -> Accounting {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let calls = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let poll = cfg.poll;
    let drain = cfg.drain_timeout;
    let mut t = Tracker {
        clients,
        cfg: Arc::new(cfg),
        samples,
        acc: Accounting::default(),
        pending: BTreeMap::new(),
        calls,
        done_tx,
        in_flight: 0,
    };
    let mut open = true;
    let mut deadline: Option<Instant> = None;
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            f = rx.recv(), if open => match f {
                Some(f) => t.add(f),
                None => {
                    open = false;
                    deadline = Some(Instant::now() + drain);
                }
            },
            Some(d) = done_rx.recv() => t.finished(d),
            _ = ticker.tick() => t.read_records().await,
        }
        if !open && t.pending.is_empty() && t.in_flight == 0 {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // Verifications under way get until the end of their calls.
            while t.in_flight > 0 {
                match done_rx.recv().await {
                    Some(d) => t.finished(d),
                    None => break,
                }
            }
            t.give_up();
            break;
        }
    }
    debug!(acc = ?t.acc, "tracked");
    t.acc
}

impl Tracker {
    fn add(&mut self, f: UploadedFile) {
        self.acc.uploaded += 1;
        let key = f.key.clone();
        self.pending.insert(key.clone(), Pending { file: f, file_id: None, busy: false, last_error: None });
        self.head(key);
    }

    /// Asks S3 for the source object's version, in its own task.
    fn head(&mut self, key: String) {
        if let Some(p) = self.pending.get_mut(&key) {
            p.busy = true;
        }
        self.in_flight += 1;
        let (clients, cfg, calls, tx) =
            (self.clients.clone(), self.cfg.clone(), self.calls.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let _permit = calls.acquire_owned().await;
            let r = s3::head(&clients, &cfg.source_bucket, &key)
                .await
                .map(|h| h.map(|f| f.version_id.unwrap_or_else(|| "null".into())));
            let _ = tx.send(Done::Head(key, r));
        });
    }

    fn finished(&mut self, d: Done) {
        self.in_flight -= 1;
        match d {
            Done::Head(key, r) => {
                let bucket = self.cfg.source_bucket.clone();
                let Some(p) = self.pending.get_mut(&key) else { return };
                p.busy = false;
                match r {
                    Ok(Some(version)) => p.file_id = Some(copy_lambda::metadata::file_id(&bucket, &key, &version)),
                    Ok(None) => p.last_error = Some(format!("s3://{bucket}/{key} does not exist after its close")),
                    Err(e) => {
                        self.acc.probe_errors += 1;
                        p.last_error = Some(e.to_string());
                    }
                }
            }
            Done::Verify(file, outcome) => self.settle(file, outcome),
        }
    }

    /// One round of record reads: every pending file with a known id and no call under way.
    async fn read_records(&mut self) {
        // Files whose source version is still unknown (a failed HEAD) are asked again.
        let retry: Vec<String> =
            self.pending.iter().filter(|(_, p)| p.file_id.is_none() && !p.busy).map(|(k, _)| k.clone()).collect();
        for key in retry {
            self.head(key);
        }
        let ids: Vec<(String, String)> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.busy)
            .filter_map(|(k, p)| p.file_id.clone().map(|id| (id, k.clone())))
            .collect();
        if ids.is_empty() {
            return;
        }
        let id_list: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
        let found = match dynamodb::records(&self.clients, &self.cfg.table, &id_list).await {
            Ok(found) => found,
            Err(e) => {
                self.acc.probe_errors += 1;
                warn!(error = %e, "reading records");
                for (_, key) in ids {
                    if let Some(p) = self.pending.get_mut(&key) {
                        p.last_error = Some(e.to_string());
                    }
                }
                return;
            }
        };
        for (id, key) in ids {
            let Some(record) = found.get(&id) else { continue };
            match record.status() {
                Some(Status::Transferred) => {
                    let Some(p) = self.pending.get_mut(&key) else { continue };
                    let mut stages = vec![(Metric::Pipeline, p.file.closed.elapsed())];
                    if let Some(t) = record.s("upload_timestamp").as_deref().and_then(parse_time) {
                        stages.push((Metric::ObjectCreated, since(t, p.file.closed_at)));
                    }
                    if let Some(t) = record.s("transfer_timestamp").as_deref().and_then(parse_time) {
                        stages.push((Metric::FunctionDone, since(t, p.file.closed_at)));
                    }
                    if sampled(&key, self.cfg.verify_sample) {
                        p.busy = true;
                        let file = p.file.clone();
                        self.verify(file, record.s("execution_arn"), stages);
                    } else {
                        let p = self.pending.remove(&key).expect("pending");
                        self.acc.transferred += 1;
                        self.samples.send(Sample::Tracked { closed_at: p.file.closed_at, stages });
                    }
                }
                Some(status @ (Status::Failed | Status::Skipped | Status::Superseded)) => {
                    self.pending.remove(&key);
                    self.acc.failed += 1;
                    let why = format!(
                        "{key}: record {} ({})",
                        status.as_str(),
                        record.s("error_message").unwrap_or_default()
                    );
                    self.samples.send(Sample::Error { at: SystemTime::now(), class: "failed", message: why.clone() });
                    self.acc.problem(why);
                }
                _ => {}
            }
        }
    }

    /// Checks a transferred file's destination, in its own task.
    fn verify(&mut self, file: UploadedFile, arn: Option<String>, stages: Vec<(Metric, Duration)>) {
        self.in_flight += 1;
        let (clients, cfg, calls, tx) =
            (self.clients.clone(), self.cfg.clone(), self.calls.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let _permit = calls.acquire_owned().await;
            let (file, outcome) = verify(&clients, &cfg, file, arn, stages).await;
            let _ = tx.send(Done::Verify(file, outcome));
        });
    }

    fn settle(&mut self, file: UploadedFile, outcome: Verified) {
        let key = file.key.clone();
        match outcome {
            Verified::Error(e) => {
                // Looked at again on the next round of reads.
                self.acc.probe_errors += 1;
                if let Some(p) = self.pending.get_mut(&key) {
                    p.busy = false;
                    p.last_error = Some(e.to_string());
                }
                return;
            }
            Verified::Ok(stages) => {
                self.acc.transferred += 1;
                self.acc.verified += 1;
                self.samples.send(Sample::Tracked { closed_at: file.closed_at, stages });
            }
            Verified::Wrong(why) => {
                self.acc.transferred += 1;
                self.acc.wrong += 1;
                self.samples.send(Sample::Error { at: SystemTime::now(), class: "wrong", message: why.clone() });
                self.acc.problem(why);
            }
            Verified::Duplicated(why) => {
                self.acc.transferred += 1;
                self.acc.duplicated += 1;
                self.samples.send(Sample::Error { at: SystemTime::now(), class: "duplicated", message: why.clone() });
                self.acc.problem(why);
            }
        }
        self.pending.remove(&key);
    }

    /// The drain is over: what is still pending is lost.
    fn give_up(&mut self) {
        for (key, p) in std::mem::take(&mut self.pending) {
            self.acc.lost += 1;
            let why = format!(
                "{key}: not transferred {:.0} s after its close{}",
                p.file.closed.elapsed().as_secs_f64(),
                p.last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
            );
            self.samples.send(Sample::Error { at: SystemTime::now(), class: "lost", message: why.clone() });
            self.acc.problem(why);
        }
    }
}

async fn verify(
    clients: &Clients,
    cfg: &TrackerConfig,
    file: UploadedFile,
    execution_arn: Option<String>,
    mut stages: Vec<(Metric, Duration)>,
) -> (UploadedFile, Verified) {
    let key = file.key.clone();
    let outcome = async {
        if let Some(arn) = execution_arn.as_deref().filter(|a| !a.is_empty()) {
            let started = stepfunctions::started_at(clients, arn).await?;
            stages.push((Metric::ExecutionStarted, since(started, file.closed_at)));
        }
        let dest = format!("s3://{}/{key}", cfg.destination_bucket);
        let digest = match s3::digest(clients, &cfg.destination_bucket, &key).await {
            // The bytes S3 returns do not match the checksum it stored: wrong, not unreadable.
            Err(e) if e.code == "ChecksumMismatch" => return Ok(Verified::Wrong(format!("{dest}: {e}"))),
            r => r?,
        };
        let Some(d) = digest else {
            return Ok(Verified::Wrong(format!("{dest}: missing, though its record reads transferred")));
        };
        if d.sha256 != file.sha256 || d.size != file.size {
            return Ok(Verified::Wrong(format!(
                "{dest}: {} bytes sha256 {}, uploaded {} bytes sha256 {}",
                d.size, d.sha256, file.size, file.sha256
            )));
        }
        let copies = s3::versions(clients, &cfg.destination_bucket, &key).await?.len();
        if copies != 1 {
            return Ok(Verified::Duplicated(format!("{dest}: {copies} versions, one upload")));
        }
        stages.push((Metric::Destination, file.closed.elapsed()));
        Ok::<_, ProbeError>(Verified::Ok(std::mem::take(&mut stages)))
    }
    .await;
    (file, outcome.unwrap_or_else(Verified::Error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_deterministic_and_near_their_fraction() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("acme/load/run/f{i:08}.bin")).collect();
        let n = keys.iter().filter(|k| sampled(k, 0.1)).count();
        assert!((800..1200).contains(&n), "{n}");
        assert!(keys.iter().all(|k| sampled(k, 1.0)));
        assert_eq!(sampled(&keys[7], 0.5), sampled(&keys[7], 0.5));
    }

    #[test]
    fn record_times_parse_as_the_function_and_s3_write_them() {
        assert!(parse_time("2021-11-12T00:00:00Z").is_some());
        assert!(parse_time("2026-12-01T10:00:00.123Z").is_some());
    }
}
