//! The simulator's time. Real time by default; sped up by a factor (waits and backoffs only);
//! or virtual: the clock runs with real time, and whenever nothing is in flight (no function
//! running, no request being served, no execution between its waits) it jumps to the next
//! timer. Work still takes real time, but a one-hour Wait or a 2-4-8 s retry schedule costs
//! none, and every timestamp the simulator writes (history, logs, objects) is on that clock.
//!
//! "In flight" is what holds a [`Busy`] guard. The clock jumps only after it has been idle for
//! a short real pause ([`QUIET`]), so a handoff between two tasks (a function's reply reaching
//! the execution that waits for it) is not mistaken for idleness.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// How long the virtual clock must see nothing in flight before it jumps.
pub const QUIET: Duration = Duration::from_millis(3);

/// How the clock runs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Real time.
    Real,
    /// The state machine's waits, backoffs and timeouts this many times shorter; timestamps
    /// and the other services' timers stay real.
    Scaled(f64),
    /// Time jumps to the next timer whenever nothing is in flight.
    Virtual,
}

/// The clock every simulated service reads and waits on. Cloning shares it.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    /// How far the virtual clock is ahead of real time, in nanoseconds.
    ahead: AtomicU64,
    /// Guards held, less the sleeps that released theirs ([`Clock::while_idle`]).
    busy: AtomicI64,
    /// Bumped by every busy start and every new timer: the jump's "nothing happened" test.
    activity: AtomicU64,
    /// Pending deadlines (virtual nanoseconds since the epoch, a unique id).
    timers: Mutex<BTreeSet<(u128, u64)>>,
    next_id: AtomicU64,
    /// Tells sleepers the clock jumped (the value is the new `ahead`).
    jumped: watch::Sender<u64>,
    /// The task that jumps; started again if its runtime went away.
    advancer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Wakes the advancer when a timer is added.
    timer_added: tokio::sync::Notify,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").field("mode", &self.inner.mode).field("ahead", &self.ahead()).finish()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new(Mode::Real)
    }
}

/// Marks work in flight: the virtual clock does not jump while one is held.
#[must_use = "the work is in flight only while the guard lives"]
pub struct Busy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Busy")
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.inner.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A future's time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct Elapsed;

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

struct Timer<'a> {
    inner: &'a Inner,
    key: (u128, u64),
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.inner.timers.lock().unwrap().remove(&self.key);
    }
}

impl Clock {
    /// A clock running as `mode` says.
    pub fn new(mode: Mode) -> Self {
        Self {
            inner: Arc::new(Inner {
                mode,
                ahead: AtomicU64::new(0),
                busy: AtomicI64::new(0),
                activity: AtomicU64::new(0),
                timers: Mutex::new(BTreeSet::new()),
                next_id: AtomicU64::new(0),
                jumped: watch::channel(0).0,
                advancer: Mutex::new(None),
                timer_added: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Waits and backoffs `scale` times shorter (below 1: longer; 1, zero or less: real time).
    pub fn scaled(scale: f64) -> Self {
        Self::new(if scale > 0.0 && scale.is_finite() && scale != 1.0 { Mode::Scaled(scale) } else { Mode::Real })
    }

    /// A virtual clock.
    pub fn virtual_time() -> Self {
        Self::new(Mode::Virtual)
    }

    /// How it runs.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Whether it is virtual.
    pub fn is_virtual(&self) -> bool {
        self.inner.mode == Mode::Virtual
    }

    /// How far ahead of real time it is.
    pub fn ahead(&self) -> Duration {
        Duration::from_nanos(self.inner.ahead.load(Ordering::SeqCst))
    }

    /// Now, on this clock.
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + self.ahead()
    }

    /// Milliseconds since the epoch, now.
    pub fn now_millis(&self) -> i64 {
        nanos(self.now()).div_euclid(1_000_000) as i64
    }

    /// Now as RFC 3339 with a `Z` offset, to the second (as EventBridge and S3 events write it).
    pub fn iso_now(&self) -> String {
        rfc3339_seconds(self.now())
    }

    /// The real time `d` of simulated time takes (only a scaled clock shortens it).
    pub fn real(&self, d: Duration) -> Duration {
        match self.inner.mode {
            Mode::Scaled(s) => d.div_f64(s),
            _ => d,
        }
    }

    /// Marks work in flight until the guard drops.
    pub fn busy(&self) -> Busy {
        self.inner.activity.fetch_add(1, Ordering::SeqCst);
        self.inner.busy.fetch_add(1, Ordering::SeqCst);
        Busy { inner: self.inner.clone() }
    }

    /// Moves a virtual clock forward by `d` (waking whatever that makes due); other clocks
    /// cannot be moved, nor any clock past what its nanosecond count holds (about 584 years).
    pub fn advance(&self, d: Duration) -> Result<Duration, NotVirtual> {
        if !self.is_virtual() {
            return Err(NotVirtual::Real(self.inner.mode));
        }
        let by = u64::try_from(d.as_nanos()).map_err(|_| NotVirtual::TooFar)?;
        if !self.jump(by) {
            return Err(NotVirtual::TooFar);
        }
        Ok(self.ahead())
    }

    /// Moves the clock `by` nanoseconds on, unless that overflows it.
    fn jump(&self, by: u64) -> bool {
        let moved = self.inner.ahead.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| a.checked_add(by));
        match moved {
            Ok(before) => {
                self.inner.jumped.send_replace(before + by);
                true
            }
            Err(_) => false,
        }
    }

    /// Sleeps for `d` of this clock's time. A busy guard held across the sleep keeps a
    /// virtual clock from jumping: sleep inside [`Clock::while_idle`].
    pub async fn sleep(&self, d: Duration) {
        match self.inner.mode {
            Mode::Real => tokio::time::sleep(d).await,
            Mode::Scaled(_) => tokio::time::sleep(self.real(d)).await,
            Mode::Virtual => self.virtual_sleep(d).await,
        }
    }

    /// Sleeps for `d` of a service's own time (a function's timeout, a delivery's retry pause):
    /// virtual on a virtual clock, never shortened by a scale, which speeds up only the state
    /// machine's waits and backoffs.
    pub async fn sleep_unscaled(&self, d: Duration) {
        match self.inner.mode {
            Mode::Virtual => self.virtual_sleep(d).await,
            _ => tokio::time::sleep(d).await,
        }
    }

    /// Awaits `f` as time not in flight: the caller holds a [`Busy`] guard, which counts as
    /// released while `f` runs (a Wait, a backoff, branches that hold their own guards).
    pub async fn while_idle<F: Future>(&self, f: F) -> F::Output {
        struct Back<'a>(&'a Inner);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                self.0.activity.fetch_add(1, Ordering::SeqCst);
                self.0.busy.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.inner.busy.fetch_sub(1, Ordering::SeqCst);
        let _back = Back(&self.inner);
        f.await
    }

    /// Runs `f`, giving up after `d` of this clock's time.
    pub async fn timeout<T>(&self, d: Duration, f: impl Future<Output = T>) -> Result<T, Elapsed> {
        tokio::select! {
            v = f => Ok(v),
            _ = self.sleep(d) => Err(Elapsed),
        }
    }

    async fn virtual_sleep(&self, d: Duration) {
        self.start_advancer();
        let deadline = nanos(self.now()) + d.as_nanos();
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let _timer = {
            self.inner.timers.lock().unwrap().insert((deadline, id));
            self.inner.activity.fetch_add(1, Ordering::SeqCst);
            self.inner.timer_added.notify_one();
            Timer { inner: &self.inner, key: (deadline, id) }
        };
        let mut jumped = self.inner.jumped.subscribe();
        loop {
            let now = nanos(self.now());
            if now >= deadline {
                return;
            }
            let left = Duration::from_nanos((deadline - now).min(u64::MAX as u128) as u64);
            tokio::select! {
                _ = tokio::time::sleep(left) => {}
                _ = jumped.changed() => {}
            }
        }
    }

    /// The task that makes an idle virtual clock jump; it ends when the clock is dropped, and is
    /// started again when the runtime it ran on has gone (a clock outliving a test's runtime).
    fn start_advancer(&self) {
        let mut advancer = self.inner.advancer.lock().unwrap();
        if advancer.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        *advancer = Some(tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                if inner.timers.lock().unwrap().is_empty() {
                    // Nothing to jump to: park until a timer comes (or look again in a while, to
                    // notice the clock is gone).
                    // (Holding the clock a second at most after it is dropped.)
                    let added = inner.timer_added.notified();
                    tokio::pin!(added);
                    added.as_mut().enable();
                    if inner.timers.lock().unwrap().is_empty() {
                        let _ = tokio::time::timeout(Duration::from_secs(1), added).await;
                    }
                    continue;
                }
                let before = inner.activity.load(Ordering::SeqCst);
                let idle = inner.busy.load(Ordering::SeqCst) <= 0;
                let jumped = inner.jumped.subscribe();
                drop(inner);
                tokio::time::sleep(QUIET).await;
                let Some(inner) = weak.upgrade() else { return };
                if !idle
                    || inner.busy.load(Ordering::SeqCst) > 0
                    || inner.activity.load(Ordering::SeqCst) != before
                    || jumped.has_changed().unwrap_or(false)
                {
                    continue;
                }
                let first = inner.timers.lock().unwrap().first().map(|(d, _)| *d);
                let Some(first) = first else { continue };
                let now = nanos(SystemTime::now()) + inner.ahead.load(Ordering::SeqCst) as u128;
                if first > now {
                    let by = (first - now).min(u64::MAX as u128) as u64;
                    Clock { inner }.jump(by);
                }
            }
        }));
    }
}

/// The clock cannot be moved by hand.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum NotVirtual {
    /// Only a virtual clock moves.
    #[error("the clock is {0:?}, not virtual: start the simulator with --clock virtual to move it")]
    Real(Mode),
    /// Past what the clock can count.
    #[error("that is further than the clock can count (about 584 years ahead of real time)")]
    TooFar,
}

/// A time as EventBridge and Step Functions' APIs write whole seconds (`2026-11-26T17:07:31Z`).
pub fn rfc3339_seconds(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn an_idle_virtual_clock_jumps_to_each_timer() {
        let clock = Clock::virtual_time();
        let (wall, start) = (Instant::now(), clock.now());
        clock.sleep(Duration::from_secs(3600)).await;
        let slept = clock.now().duration_since(start).unwrap();
        assert!(slept >= Duration::from_secs(3600) && slept < Duration::from_secs(3601), "{slept:?}");
        assert!(wall.elapsed() < Duration::from_secs(1), "an hour took {:?} of wall time", wall.elapsed());
    }

    #[tokio::test]
    async fn work_in_flight_holds_the_clock() {
        let clock = Clock::virtual_time();
        let busy = clock.busy();
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(60)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(clock.ahead() < Duration::from_secs(1), "jumped while busy: {:?}", clock.ahead());
        assert!(!sleeper.is_finished());
        drop(busy);
        tokio::time::timeout(Duration::from_secs(2), sleeper).await.expect("woke once idle").unwrap();
        assert!(clock.ahead() >= Duration::from_secs(59));
    }

    #[tokio::test]
    async fn timers_wake_in_order_of_their_deadlines() {
        let clock = Clock::virtual_time();
        let order = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|s| {
                let (clock, order) = (clock.clone(), order.clone());
                tokio::spawn(async move {
                    clock.sleep(Duration::from_secs(s)).await;
                    order.lock().unwrap().push(s);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![10, 20, 30]);
    }

    #[tokio::test]
    async fn a_timeout_runs_on_the_clock_and_a_cancelled_timer_is_forgotten() {
        let clock = Clock::virtual_time();
        let never = std::future::pending::<()>();
        assert_eq!(clock.timeout(Duration::from_secs(900), never).await, Err(Elapsed));
        assert_eq!(clock.timeout(Duration::from_secs(900), async { 7 }).await, Ok(7));
        assert!(clock.inner.timers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_a_virtual_clock_moves_by_hand() {
        let clock = Clock::virtual_time();
        let ahead = clock.advance(Duration::from_secs(90)).unwrap();
        assert_eq!(ahead, Duration::from_secs(90));
        assert!(Clock::default().advance(Duration::from_secs(1)).is_err());
        // Past what the nanosecond count holds: refused, the clock where it was.
        assert!(matches!(clock.advance(Duration::MAX), Err(NotVirtual::TooFar)));
        assert!(matches!(clock.advance(Duration::from_nanos(u64::MAX)), Err(NotVirtual::TooFar)));
        assert_eq!(clock.ahead(), Duration::from_secs(90));
    }

    /// A clock made on one runtime still jumps on the next (a test's runtime ends, the clock
    /// lives on in a restarted simulator).
    #[test]
    fn a_clock_outliving_its_runtime_still_jumps() {
        let clock = Clock::virtual_time();
        for _ in 0..2 {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let c = clock.clone();
            rt.block_on(async move {
                tokio::time::timeout(Duration::from_secs(5), c.sleep(Duration::from_secs(600))).await.expect("jumped")
            });
        }
        assert!(clock.ahead() >= Duration::from_secs(1199), "{:?}", clock.ahead());
    }
}
