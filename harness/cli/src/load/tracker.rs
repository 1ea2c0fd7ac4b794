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
use std::time::{Duration, Instant, SystemTime};

use copy_lambda::metadata::Status;
use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
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
    last_error: Option<String>,
}

/// A verified file's outcome.
enum Verified {
    Ok(Vec<(Metric, Duration)>),
    Wrong(String),
    Duplicated(String),
    Error(ProbeError),
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

async fn track(
    clients: Clients,
    cfg: TrackerConfig,
    samples: Samples,
    mut rx: mpsc::UnboundedReceiver<UploadedFile>,
) -> Accounting {
    let mut acc = Accounting::default();
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    let mut verifying = FuturesUnordered::new();
    let mut open = true;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        // New files.
        while let Ok(f) = rx.try_recv() {
            acc.uploaded += 1;
            pending.insert(f.key.clone(), Pending { file: f, file_id: None, last_error: None });
        }
        if open && rx.is_closed() && rx.is_empty() {
            open = false;
            drain_deadline = Some(Instant::now() + cfg.drain_timeout);
        }
        // Source versions, hence record ids.
        let unversioned: Vec<String> =
            pending.iter().filter(|(_, p)| p.file_id.is_none()).map(|(k, _)| k.clone()).take(1000).collect();
        let heads = futures::stream::iter(unversioned.into_iter().map(|key| {
            let clients = &clients;
            let bucket = &cfg.source_bucket;
            async move {
                let r = s3::head(clients, bucket, &key).await;
                (key, r)
            }
        }))
        .buffer_unordered(cfg.concurrency)
        .collect::<Vec<_>>()
        .await;
        for (key, r) in heads {
            let Some(p) = pending.get_mut(&key) else { continue };
            match r {
                Ok(Some(facts)) => {
                    let version = facts.version_id.unwrap_or_else(|| "null".into());
                    p.file_id = Some(copy_lambda::metadata::file_id(&cfg.source_bucket, &key, &version));
                }
                Ok(None) => {
                    p.last_error = Some(format!("s3://{}/{key} does not exist after its close", cfg.source_bucket))
                }
                Err(e) => {
                    acc.probe_errors += 1;
                    p.last_error = Some(e.to_string());
                }
            }
        }
        // Records.
        let ids: Vec<(String, String)> =
            pending.iter().filter_map(|(k, p)| p.file_id.clone().map(|id| (id, k.clone()))).collect();
        if !ids.is_empty() {
            let id_list: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
            match dynamodb::records(&clients, &cfg.table, &id_list).await {
                Ok(found) => {
                    for (id, key) in ids {
                        let Some(record) = found.get(&id) else { continue };
                        let status = record.status();
                        match status {
                            Some(Status::Transferred) => {
                                let p = pending.remove(&key).expect("pending");
                                let seen = SystemTime::now();
                                let mut stages = vec![(Metric::Pipeline, p.file.closed.elapsed())];
                                if let Some(t) = record.s("upload_timestamp").as_deref().and_then(parse_time) {
                                    stages.push((Metric::ObjectCreated, since(t, p.file.closed_at)));
                                }
                                if let Some(t) = record.s("transfer_timestamp").as_deref().and_then(parse_time) {
                                    stages.push((Metric::FunctionDone, since(t, p.file.closed_at)));
                                }
                                let _ = seen;
                                if sampled(&key, cfg.verify_sample) {
                                    let arn = record.s("execution_arn");
                                    verifying.push(verify(&clients, &cfg, p.file, arn, stages));
                                } else {
                                    acc.transferred += 1;
                                    samples.send(Sample::Tracked { closed_at: p.file.closed_at, stages });
                                }
                            }
                            Some(Status::Failed | Status::Skipped | Status::Superseded) => {
                                let p = pending.remove(&key).expect("pending");
                                acc.failed += 1;
                                let why = format!(
                                    "{key}: record {} ({})",
                                    status.map_or("?", |s| s.as_str()),
                                    record.s("error_message").unwrap_or_default()
                                );
                                samples.send(Sample::Error {
                                    at: SystemTime::now(),
                                    class: "failed",
                                    message: why.clone(),
                                });
                                acc.problem(why);
                                drop(p);
                            }
                            _ => {}
                        }
                    }
                }
                Err(e) => {
                    acc.probe_errors += 1;
                    warn!(error = %e, "reading records");
                    for (_, key) in ids {
                        if let Some(p) = pending.get_mut(&key) {
                            p.last_error = Some(e.to_string());
                        }
                    }
                }
            }
        }
        // Verifications that finished.
        while let Some(Some((file, outcome))) = futures::future::FutureExt::now_or_never(verifying.next()) {
            settle(&mut acc, &samples, &mut pending, file, outcome);
        }
        let done = !open && pending.is_empty();
        if done {
            while let Some((file, outcome)) = verifying.next().await {
                settle(&mut acc, &samples, &mut pending, file, outcome);
            }
            if pending.is_empty() {
                break;
            }
        }
        if drain_deadline.is_some_and(|d| Instant::now() >= d) {
            // Whatever is still being verified gets until the end of its calls.
            while let Some((file, outcome)) = verifying.next().await {
                settle(&mut acc, &samples, &mut pending, file, outcome);
            }
            for (key, p) in std::mem::take(&mut pending) {
                acc.lost += 1;
                let why = format!(
                    "{key}: not transferred {:.0} s after its close{}",
                    p.file.closed.elapsed().as_secs_f64(),
                    p.last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
                );
                samples.send(Sample::Error { at: SystemTime::now(), class: "lost", message: why.clone() });
                acc.problem(why);
            }
            break;
        }
        let pause = tokio::time::sleep(cfg.poll);
        tokio::pin!(pause);
        // Wake for new files or finished verifications too.
        tokio::select! {
            _ = &mut pause => {}
            Some((file, outcome)) = verifying.next(), if !verifying.is_empty() => {
                settle(&mut acc, &samples, &mut pending, file, outcome);
            }
        }
    }
    debug!(?acc, "tracked");
    acc
}

fn settle(
    acc: &mut Accounting,
    samples: &Samples,
    pending: &mut BTreeMap<String, Pending>,
    file: UploadedFile,
    outcome: Verified,
) {
    match outcome {
        Verified::Ok(stages) => {
            acc.transferred += 1;
            acc.verified += 1;
            samples.send(Sample::Tracked { closed_at: file.closed_at, stages });
        }
        Verified::Wrong(why) => {
            acc.transferred += 1;
            acc.wrong += 1;
            samples.send(Sample::Error { at: SystemTime::now(), class: "wrong", message: why.clone() });
            acc.problem(why);
        }
        Verified::Duplicated(why) => {
            acc.transferred += 1;
            acc.duplicated += 1;
            samples.send(Sample::Error { at: SystemTime::now(), class: "duplicated", message: why.clone() });
            acc.problem(why);
        }
        Verified::Error(e) => {
            // Looked at again on the next poll.
            acc.probe_errors += 1;
            let key = file.key.clone();
            pending.insert(key, Pending { file, file_id: None, last_error: Some(e.to_string()) });
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
        let digest = s3::digest(clients, &cfg.destination_bucket, &key).await?;
        let dest = format!("s3://{}/{key}", cfg.destination_bucket);
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
