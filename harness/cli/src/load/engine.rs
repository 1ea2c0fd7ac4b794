//! Drives the sessions a plan asks for: the closed model keeps a number of sessions looping
//! (login, uploads over channels, logout); the open model starts files at their arrival times and
//! opens sessions on demand up to a cap, each file's latency counting from when it was due; a
//! replay starts recorded sessions at their recorded times.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info_span};

use super::plan::{Plan, Shard};
use super::profile::{Closed, Open, Profile, Replay};
use super::user::{Ctx, Job};
use crate::sftp_client::SftpChannel;
use crate::targets::Account;

/// How often the closed model looks at its target number of sessions.
const TICK: Duration = Duration::from_millis(50);

/// One run of the engine.
pub struct Engine {
    /// What sessions share.
    pub ctx: Arc<Ctx>,
    /// The accounts, in the profile's `users` order.
    pub accounts: Vec<Account>,
    /// What to do.
    pub plan: Plan,
    /// Which part.
    pub shard: Shard,
    /// Seed of file sizes and contents.
    pub seed: u64,
    /// Set to stop early (`--abort-on-fail`, Ctrl-C): no new files; sessions finish theirs.
    pub stop: Arc<AtomicBool>,
    /// Replay speed (2.0: twice as fast).
    pub speed: f64,
}

/// A 64-bit mix of two numbers, for per-file seeds.
fn seed_of(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (z ^ (z >> 29)) | 1
}

impl Engine {
    /// Runs `profile` until its plan ends (or `stop`), then waits for every session to finish.
    pub async fn run(&self, profile: &Profile) {
        match (&profile.closed, &profile.open, &profile.replay) {
            (Some(c), _, _) => self.closed(profile, c).await,
            (_, Some(o), _) => self.open(profile, o).await,
            (_, _, Some(r)) => self.replay(r).await,
            _ => {}
        }
    }

    fn account_for_slot(&self, slot: u32) -> Account {
        self.accounts[slot as usize % self.accounts.len()].clone()
    }

    async fn closed(&self, profile: &Profile, c: &Closed) {
        let start = Instant::now();
        let end = self.plan.ramp.length().map(|l| start + l);
        let remaining = Arc::new(AtomicI64::new(self.plan.iterations.map_or(i64::MAX, |n| n as i64)));
        let desired = Arc::new(AtomicU32::new(0));
        let mut running: Vec<bool> = Vec::new();
        let mut tasks = JoinSet::new();
        let done = Arc::new(Mutex::new(mpsc::unbounded_channel::<u32>()));
        loop {
            // Sessions that ended leave their slot free to start again if still wanted.
            while let Ok(k) = done.lock().await.1.try_recv() {
                running[k as usize] = false;
            }
            let over = end.is_some_and(|e| Instant::now() >= e)
                || remaining.load(Ordering::Relaxed) <= 0
                || self.stop.load(Ordering::Relaxed);
            if over {
                desired.store(0, Ordering::Relaxed);
                break;
            }
            let global = self.plan.ramp.at(start.elapsed()).round().max(0.0) as u32;
            let want = self.shard.slots_below(global);
            desired.store(want, Ordering::Relaxed);
            if running.len() < want as usize {
                running.resize(want as usize, false);
            }
            for k in 0..want {
                if running[k as usize] {
                    continue;
                }
                running[k as usize] = true;
                let slot = self.shard.slot(k);
                let session = ClosedSession {
                    ctx: self.ctx.clone(),
                    account: self.account_for_slot(slot),
                    slot,
                    local: k,
                    desired: desired.clone(),
                    remaining: remaining.clone(),
                    stop: self.stop.clone(),
                    files: c.files_per_session,
                    channels: c.channels.min(c.files_per_session),
                    think: c.think_time.0,
                    sizes: profile.files.size.clone(),
                    seed: self.seed,
                };
                let done = done.lock().await.0.clone();
                tasks.spawn(
                    async move {
                        session.run().await;
                        let _ = done.send(k);
                    }
                    .instrument(info_span!("session", slot)),
                );
            }
            tokio::time::sleep(TICK).await;
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn open(&self, profile: &Profile, o: &Open) {
        let start = Instant::now();
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let queue = Arc::new(OpenQueue {
            jobs: Mutex::new(rx),
            waiting: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            sessions: AtomicU32::new(0),
        });
        let mut tasks = JoinSet::new();
        let mut opened = 0u32;
        let limit = self.plan.iterations.unwrap_or(u64::MAX);
        let spawn_session = |tasks: &mut JoinSet<()>, opened: &mut u32| {
            let slot = self.shard.slot(*opened);
            *opened += 1;
            queue.sessions.fetch_add(1, Ordering::Relaxed);
            let s = OpenSession {
                ctx: self.ctx.clone(),
                account: self.account_for_slot(slot),
                queue: queue.clone(),
                channels: o.channels,
            };
            tasks.spawn(s.run().instrument(info_span!("session", slot)));
        };
        let mut n = 0u64;
        while n < limit && !self.stop.load(Ordering::Relaxed) {
            let Some(at) = self.plan.ramp.time_of(n as f64) else { break };
            if !self.shard.owns(n) {
                n += 1;
                continue;
            }
            let due = start + at;
            tokio::time::sleep_until(due.into()).await;
            let job = Job {
                name: format!("f{n:08}.bin"),
                size: profile.files.size.size_of(self.seed, n),
                seed: seed_of(self.seed, n, 0),
                due,
            };
            queue.waiting.fetch_add(1, Ordering::Relaxed);
            if tx.send(job).is_err() {
                break;
            }
            // A file with no free channel gets a new session, up to the cap; beyond it, it waits
            // (and its wait counts in its latency).
            let waiting = queue.waiting.load(Ordering::Relaxed);
            let sessions = queue.sessions.load(Ordering::Relaxed);
            if waiting > queue.idle.load(Ordering::Relaxed) && sessions < o.max_sessions {
                spawn_session(&mut tasks, &mut opened);
            }
            n += 1;
        }
        drop(tx);
        // Files still queued need a session even if every one before failed to log in.
        while queue.waiting.load(Ordering::Relaxed) > 0 && !self.stop.load(Ordering::Relaxed) {
            if queue.sessions.load(Ordering::Relaxed) == 0 {
                spawn_session(&mut tasks, &mut opened);
            }
            tokio::time::sleep(TICK).await;
            if opened > o.max_sessions.saturating_mul(20) {
                break;
            }
        }
        while tasks.join_next().await.is_some() {}
        // Stopped early, or no session could take them: files that were due but never started.
        let mut jobs = queue.jobs.lock().await;
        while let Ok(job) = jobs.try_recv() {
            self.ctx
                .samples
                .error("unsent", format!("{}: due but never uploaded (no session could take it)", job.name));
        }
    }

    async fn replay(&self, r: &Replay) {
        let start = Instant::now();
        let speed = self.speed.max(1e-3);
        let scaled = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() / speed);
        let mut tasks = JoinSet::new();
        for (i, s) in r.sessions.iter().enumerate() {
            if !self.shard.owns(i as u64) || self.stop.load(Ordering::Relaxed) {
                continue;
            }
            let users = &self.ctx.user_names;
            let Some(u) = users.iter().position(|n| *n == s.user) else { continue };
            let account = self.accounts[u % self.accounts.len()].clone();
            let ctx = self.ctx.clone();
            let stop = self.stop.clone();
            let session_start = start + scaled(s.start.0);
            let jobs: Vec<Job> = s
                .files
                .iter()
                .enumerate()
                .map(|(j, f)| Job {
                    name: format!("r{i:05}-{j:04}.bin"),
                    size: f.size.0,
                    seed: seed_of(self.seed, i as u64, j as u64),
                    due: session_start + scaled(f.at.0),
                })
                .collect();
            tasks.spawn(
                async move {
                    tokio::time::sleep_until(session_start.into()).await;
                    let Some(client) = ctx.login(&account).await else {
                        for job in &jobs {
                            ctx.samples.error("unsent", format!("{}: its session could not log in", job.name));
                        }
                        return;
                    };
                    for job in &jobs {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep_until(job.due.into()).await;
                        ctx.upload(client.channel(), &account, job).await;
                    }
                    ctx.logout(client).await;
                }
                .instrument(info_span!("session", replayed = i)),
            );
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// A closed-model session slot: iterations until the target drops below it.
struct ClosedSession {
    ctx: Arc<Ctx>,
    account: Account,
    slot: u32,
    local: u32,
    desired: Arc<AtomicU32>,
    remaining: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
    files: u32,
    channels: u32,
    think: Duration,
    sizes: super::profile::SizeDistribution,
    seed: u64,
}

impl ClosedSession {
    async fn run(self) {
        let mut seq = 0u64;
        while self.local < self.desired.load(Ordering::Relaxed)
            && !self.stop.load(Ordering::Relaxed)
            && self.remaining.fetch_sub(1, Ordering::Relaxed) > 0
        {
            let Some(client) = self.ctx.login(&self.account).await else {
                // Not a tight loop against a server that refuses.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let extra = self.ctx.channels(&client, self.channels).await;
            let channels: Vec<&SftpChannel> = std::iter::once(client.channel()).chain(extra.iter()).collect();
            let width = channels.len() as u64;
            let first = seq;
            seq += self.files as u64;
            let lanes = channels.iter().enumerate().map(|(lane, channel)| {
                let this = &self;
                async move {
                    let mut f = first + lane as u64;
                    let mut n = 0;
                    while f < first + this.files as u64 {
                        if n > 0 && !this.think.is_zero() {
                            tokio::time::sleep(this.think).await;
                        }
                        let job = Job {
                            name: format!("c{:05}-{f:06}.bin", this.slot),
                            size: this.sizes.size_of(seed_of(this.seed, this.slot as u64, 1), f),
                            seed: seed_of(this.seed, this.slot as u64, f),
                            due: Instant::now(),
                        };
                        this.ctx.upload(channel, &this.account, &job).await;
                        f += width;
                        n += 1;
                    }
                }
            });
            futures::future::join_all(lanes).await;
            drop(extra);
            self.ctx.logout(client).await;
        }
        debug!(slot = self.slot, "session slot done");
    }
}

/// The open model's queue of due files, shared by its sessions' channels.
struct OpenQueue {
    jobs: Mutex<mpsc::UnboundedReceiver<Job>>,
    /// Files queued, not yet taken.
    waiting: AtomicUsize,
    /// Channels waiting for a file.
    idle: AtomicUsize,
    /// Sessions open or opening.
    sessions: AtomicU32,
}

/// An open-model session: channels that take due files until the queue closes.
struct OpenSession {
    ctx: Arc<Ctx>,
    account: Account,
    queue: Arc<OpenQueue>,
    channels: u32,
}

impl OpenSession {
    async fn run(self) {
        let Some(client) = self.ctx.login(&self.account).await else {
            self.queue.sessions.fetch_sub(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        };
        let extra = self.ctx.channels(&client, self.channels).await;
        let channels: Vec<&SftpChannel> = std::iter::once(client.channel()).chain(extra.iter()).collect();
        let workers = channels.into_iter().map(|channel| {
            let queue = &self.queue;
            let ctx = &self.ctx;
            let account = &self.account;
            async move {
                loop {
                    queue.idle.fetch_add(1, Ordering::Relaxed);
                    let job = queue.jobs.lock().await.recv().await;
                    queue.idle.fetch_sub(1, Ordering::Relaxed);
                    let Some(job) = job else { break };
                    queue.waiting.fetch_sub(1, Ordering::Relaxed);
                    if !ctx.upload(channel, account, &job).await && channel_is_gone(channel).await {
                        break;
                    }
                }
            }
        });
        futures::future::join_all(workers).await;
        drop(extra);
        self.ctx.logout(client).await;
        self.queue.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a channel whose upload failed is still usable (a refused file leaves it so; a lost
/// connection does not).
async fn channel_is_gone(channel: &SftpChannel) -> bool {
    channel.list(".").await.is_err()
}
