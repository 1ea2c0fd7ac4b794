//! Samples and the one task that aggregates them: sessions, uploads and the pipeline tracker
//! only send what they saw; the aggregator owns the histograms and answers snapshots.

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};

use super::metrics::{Metric, Metrics};
use crate::sftp_client::{ConnectTimings, UploadTimings};

/// What a session, upload or tracker saw.
#[derive(Debug)]
pub enum Sample {
    /// A session logged in.
    LoggedIn {
        /// When.
        at: SystemTime,
        /// How long each step took.
        timings: ConnectTimings,
    },
    /// A session ended (it had logged in).
    LoggedOut,
    /// A file's upload was acknowledged.
    Uploaded {
        /// From when it was due to when its upload began.
        queued: Duration,
        /// From when it was due to its acknowledged close.
        total: Duration,
        /// The SFTP steps.
        timings: UploadTimings,
    },
    /// A file's way through the pipeline, each stage from its close.
    Tracked {
        /// When its close was acknowledged.
        closed_at: SystemTime,
        /// (stage, time since close).
        stages: Vec<(Metric, Duration)>,
    },
    /// Something failed.
    Error {
        /// When.
        at: SystemTime,
        /// Its class (`connect`, `auth`, `write`, `lost`, ...).
        class: &'static str,
        /// What happened.
        message: String,
    },
}

/// A view of the run so far, for progress lines and `--abort-on-fail`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Sessions logged in now.
    pub sessions: u64,
    /// Most sessions at once so far.
    pub peak_sessions: u64,
    /// The measurements so far.
    pub metrics: Metrics,
}

enum Msg {
    Sample(Sample),
    Snapshot(oneshot::Sender<Snapshot>),
}

/// Sends samples to the aggregator.
#[derive(Clone)]
pub struct Samples(mpsc::UnboundedSender<Msg>);

impl Samples {
    /// Sends one sample (dropped silently once the aggregator has finished: the run is over).
    pub fn send(&self, s: Sample) {
        let _ = self.0.send(Msg::Sample(s));
    }

    /// Sends an error of `class`.
    pub fn error(&self, class: &'static str, message: impl Into<String>) {
        self.send(Sample::Error { at: SystemTime::now(), class, message: message.into() });
    }
}

/// The aggregator task.
pub struct Aggregator {
    samples: Samples,
    task: tokio::task::JoinHandle<Metrics>,
}

impl Aggregator {
    /// Starts aggregating into intervals of `interval`.
    pub fn spawn(interval: Duration) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut m = Metrics::new(interval);
            let (mut sessions, mut peak) = (0u64, 0u64);
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Sample(s) => apply(&mut m, &mut sessions, &mut peak, s),
                    Msg::Snapshot(reply) => {
                        let _ = reply.send(Snapshot {
                            elapsed: started.elapsed(),
                            sessions,
                            peak_sessions: peak,
                            metrics: m.clone(),
                        });
                    }
                }
            }
            m
        });
        Aggregator { samples: Samples(tx), task }
    }

    /// Where to send samples.
    pub fn samples(&self) -> Samples {
        self.samples.clone()
    }

    /// The run so far.
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.samples.0.send(Msg::Snapshot(tx)).ok()?;
        rx.await.ok()
    }

    /// Waits for every sender to go, then returns what was measured.
    pub async fn finish(self) -> Metrics {
        drop(self.samples);
        self.task.await.expect("the aggregator does not panic")
    }
}

fn apply(m: &mut Metrics, sessions: &mut u64, peak: &mut u64, s: Sample) {
    match s {
        Sample::LoggedIn { at, timings } => {
            *sessions += 1;
            *peak = (*peak).max(*sessions);
            m.count(at).sessions += 1;
            m.record(Metric::Connect, at, timings.tcp);
            m.record(Metric::Handshake, at, timings.handshake);
            m.record(Metric::Auth, at, timings.auth);
            m.record(Metric::Channel, at, timings.channel);
        }
        Sample::LoggedOut => *sessions = sessions.saturating_sub(1),
        Sample::Uploaded { queued, total, timings } => {
            let at = timings.closed_at;
            let c = m.count(at);
            c.files += 1;
            c.bytes += timings.bytes;
            m.record(Metric::Queue, at, queued);
            m.record(Metric::Open, at, timings.open);
            m.record(Metric::Write, at, timings.write);
            m.record(Metric::Close, at, timings.close);
            m.record(Metric::Upload, at, total);
            let secs = timings.write.as_secs_f64().max(1e-6);
            m.record_rate(Metric::WriteRate, at, timings.bytes as f64 / 1024.0 / secs);
        }
        Sample::Tracked { closed_at, stages } => {
            for (metric, d) in stages {
                if metric == Metric::Pipeline {
                    m.count(closed_at + d).transferred += 1;
                }
                m.record(metric, closed_at + d, d);
            }
        }
        Sample::Error { at, class, message } => m.error(at, class, &message),
    }
}
