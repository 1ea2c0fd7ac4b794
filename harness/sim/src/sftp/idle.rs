//! The idle timeout on a virtual clock. russh's own inactivity timeout runs on real time; under
//! a virtual clock a connection is instead watched here: it is work in flight while its client
//! has sent something within the last [`GRACE`] of real time (a handshake or an upload must not
//! see the clock jump between its packets), and idle otherwise, when it is closed once the
//! virtual clock has run its idle timeout past the last byte. An open file alone does not hold
//! the clock: a client that stalls mid-upload is idle, as Transfer Family's timeout sees it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// How long after its client's last byte a connection still counts as in flight.
pub const GRACE: Duration = Duration::from_millis(100);

/// When a connection's client last sent something.
pub struct Activity {
    clock: Clock,
    real: std::sync::Mutex<Instant>,
    /// On the clock, in milliseconds since the epoch.
    at: AtomicI64,
    touched: tokio::sync::Notify,
}

impl Activity {
    /// Activity starting now.
    pub fn new(clock: Clock) -> Arc<Self> {
        let at = AtomicI64::new(clock.now_millis());
        Arc::new(Self { clock, real: std::sync::Mutex::new(Instant::now()), at, touched: Default::default() })
    }

    fn touch(&self) {
        *self.real.lock().unwrap() = Instant::now();
        self.at.store(self.clock.now_millis(), Ordering::SeqCst);
        self.touched.notify_one();
    }

    /// Closes the connection (through `disconnect`) once it has been idle for `timeout` on the
    /// clock; holds the clock while the client is active. Runs until then.
    pub async fn watch<F: std::future::Future<Output = ()>>(self: Arc<Self>, timeout: Duration, disconnect: F) {
        let mut busy = None;
        loop {
            let since = self.real.lock().unwrap().elapsed();
            if since < GRACE {
                busy.get_or_insert_with(|| self.clock.busy());
                tokio::time::sleep(GRACE - since).await;
                continue;
            }
            busy = None;
            let idle = Duration::from_millis((self.clock.now_millis() - self.at.load(Ordering::SeqCst)).max(0) as u64);
            if idle >= timeout {
                disconnect.await;
                return;
            }
            tokio::select! {
                _ = self.clock.sleep_unscaled(timeout - idle) => {}
                _ = self.touched.notified() => {}
            }
        }
    }
}

impl super::tap::OnRead for Arc<Activity> {
    fn on_read(&mut self, fresh: &[u8]) -> usize {
        if !fresh.is_empty() {
            self.touch();
        }
        fresh.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_idle_connection_is_closed_on_the_virtual_clock() {
        let clock = Clock::virtual_time();
        let activity = Activity::new(clock.clone());
        let wall = Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel();
        activity.watch(Duration::from_secs(1800), async move { tx.send(()).unwrap() }).await;
        rx.await.unwrap();
        assert!(clock.ahead() >= Duration::from_secs(1799), "{:?}", clock.ahead());
        assert!(wall.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn an_active_client_holds_the_clock() {
        let clock = Clock::virtual_time();
        let activity = Activity::new(clock.clone());
        let watcher = tokio::spawn(activity.clone().watch(Duration::from_secs(60), async {}));
        let other = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(3600)).await })
        };
        for _ in 0..5 {
            activity.touch();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(clock.ahead() < Duration::from_secs(1), "jumped under an active client: {:?}", clock.ahead());
        // Once quiet, the idle timeout (60 s) comes before the other timer (an hour).
        tokio::time::timeout(Duration::from_secs(2), watcher).await.expect("closed when idle").unwrap();
        assert!(clock.ahead() >= Duration::from_secs(59) && clock.ahead() < Duration::from_secs(3600));
        other.abort();
    }
}
