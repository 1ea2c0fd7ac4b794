//! The invocation's deadline: every AWS call is bounded by the time left, less a margin kept for
//! recording the outcome, so the function fails retryably before Lambda would kill it.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

/// Time kept back for the final record write and the reply (a quarter of the time when the
/// whole invocation is shorter than four of these).
pub const MARGIN: Duration = Duration::from_secs(3);

/// When the invocation must be done.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    /// The same moment as milliseconds since the epoch (for records and leases).
    epoch_ms: u64,
    margin: Duration,
}

/// The deadline passed (less the margin) before a call finished.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} did not finish before the invocation's deadline ({left_ms} ms were left)")]
pub struct DeadlineExceeded {
    /// What was cut short.
    pub what: String,
    /// Milliseconds that were left when it started.
    pub left_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Deadline {
    /// From the Runtime API's `Lambda-Runtime-Deadline-Ms` (milliseconds since the epoch).
    pub fn from_epoch_ms(epoch_ms: u64) -> Self {
        let left = Duration::from_millis(epoch_ms.saturating_sub(now_ms()));
        Self { at: Instant::now() + left, epoch_ms, margin: MARGIN.min(left / 4) }
    }

    /// A deadline `d` from now.
    pub fn after(d: Duration) -> Self {
        Self { at: Instant::now() + d, epoch_ms: now_ms() + d.as_millis() as u64, margin: MARGIN.min(d / 4) }
    }

    /// Milliseconds since the epoch.
    pub fn epoch_ms(&self) -> u64 {
        self.epoch_ms
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time left for work, the margin kept back.
    pub fn usable(&self) -> Duration {
        self.remaining().saturating_sub(self.margin)
    }

    /// Runs `f`, giving up when the usable time runs out.
    pub async fn within<T>(&self, what: impl Into<String>, f: impl Future<Output = T>) -> Result<T, DeadlineExceeded> {
        let usable = self.usable();
        let what = what.into();
        if usable.is_zero() {
            return Err(DeadlineExceeded { what, left_ms: self.remaining().as_millis() as u64 });
        }
        tokio::time::timeout(usable, f).await.map_err(|_| DeadlineExceeded { what, left_ms: usable.as_millis() as u64 })
    }
}

/// Milliseconds since the epoch, now.
pub fn epoch_now_ms() -> u64 {
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_past_the_usable_time_are_cut_short() {
        let d = Deadline::after(MARGIN * 4 + Duration::from_millis(50));
        assert!(d.within("quick", async { 1 }).await.is_ok());
        let slow = d.within("slow", tokio::time::sleep(Duration::from_secs(60))).await;
        assert!(slow.unwrap_err().to_string().starts_with("slow did not finish"));
        // A short invocation keeps a quarter of its time back.
        let short = Deadline::after(Duration::from_millis(1000));
        assert!(short.usable() <= Duration::from_millis(750) && short.usable() > Duration::from_millis(600));
        assert!(Deadline::after(Duration::ZERO).within("late", async {}).await.is_err());
        let e = Deadline::from_epoch_ms(epoch_now_ms() + 60_000);
        assert!(e.remaining() > Duration::from_secs(59));
    }
}
