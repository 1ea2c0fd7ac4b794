//! The "Object Created" notice S3 hands to the event bus, and the sequencers that order notices
//! for one key. Whoever creates an object (the store on a commit, the SFTP server writing to an
//! external S3 that sends no events, a restart announcing what no execution took up) builds its
//! notice here, so every notice has the same fields and every sequencer comes from one rule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Who asked, for the event's `requester` and `source-ip-address`.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Access key id.
    pub access_key: String,
    /// Client address.
    pub source_ip: String,
    /// Request id.
    pub request_id: String,
}

/// The event S3 sends to EventBridge when an object is created.
#[derive(Debug, Clone)]
pub struct ObjectCreated {
    /// Bucket name.
    pub bucket: String,
    /// Object key, not encoded.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// The new version's id (versioned buckets only; absent for `null` versions).
    pub version_id: Option<String>,
    /// Hex string that orders events for the same key.
    pub sequencer: String,
    /// `PutObject`, `CopyObject` or `CompleteMultipartUpload`.
    pub reason: &'static str,
    /// The request's id.
    pub request_id: String,
    /// Who made the request (access key id, or the role a service acted as).
    pub requester: String,
    /// Client address.
    pub source_ip: String,
    /// When it happened.
    pub time: SystemTime,
    /// Holds the simulator's clock from the write until the bus has taken the event (the
    /// handoff between the two tasks is work in flight on a virtual clock).
    pub in_flight: Option<std::sync::Arc<crate::clock::Busy>>,
}

/// The object a notice is about.
#[derive(Debug, Clone)]
pub struct CreatedObject<'a> {
    /// Bucket name.
    pub bucket: &'a str,
    /// Object key, not encoded.
    pub key: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// ETag, with or without its quotes.
    pub etag: &'a str,
    /// The new version's id, on versioned buckets.
    pub version_id: Option<&'a str>,
    /// Its sequencer (from a [`Sequencer`], or the one its creation was first announced with).
    pub sequencer: &'a str,
}

impl ObjectCreated {
    /// The notice for `object`, created by `caller`'s `reason` request at `time`.
    pub fn new(object: CreatedObject<'_>, reason: &'static str, caller: &Caller, time: SystemTime) -> Self {
        Self {
            bucket: object.bucket.to_string(),
            key: object.key.to_string(),
            size: object.size,
            etag: object.etag.trim_matches('"').to_string(),
            version_id: object.version_id.map(str::to_string),
            sequencer: object.sequencer.to_string(),
            reason,
            request_id: caller.request_id.clone(),
            requester: caller.access_key.clone(),
            source_ip: caller.source_ip.clone(),
            time,
            in_flight: None,
        }
    }

    /// The same notice, holding `busy` until the bus takes it.
    pub fn holding(mut self, busy: crate::clock::Busy) -> Self {
        self.in_flight = Some(std::sync::Arc::new(busy));
        self
    }
}

/// Hands out sequencers: 18 upper-case hex digits (the width of S3's), strictly increasing,
/// anchored to the wall clock's milliseconds so that a later process (a restart over a data
/// directory, a second writer) continues above every sequencer an earlier one handed out. The
/// wall clock, not the simulator's: a virtual clock may start behind the time of a saved run.
#[derive(Debug, Default)]
pub struct Sequencer(AtomicU64);

impl Sequencer {
    /// A sequencer that has handed out nothing yet.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// The next sequencer.
    pub fn next(&self) -> String {
        let floor = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let floor = floor << 16;
        let prev = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(floor.max(last + 1)));
        let value = floor.max(prev.unwrap_or_default() + 1);
        format!("{value:018X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_increase_and_order_as_strings() {
        let s = Sequencer::default();
        let mut last = String::new();
        for _ in 0..10_000 {
            let next = s.next();
            assert_eq!(next.len(), 18, "{next}");
            assert!(next > last, "{next} after {last}");
            last = next;
        }
        // A later process's sequencer starts above the first's (it hands out fewer than 65,536
        // a millisecond).
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = Sequencer::default().next();
        assert!(later > last, "{later} after {last}");
    }

    #[test]
    fn a_notice_carries_the_object_without_etag_quotes() {
        let caller = Caller { access_key: "AKIA".into(), source_ip: "10.0.0.1".into(), request_id: "REQ".into() };
        let object = CreatedObject {
            bucket: "b",
            key: "a b.csv",
            size: 3,
            etag: "\"abc\"",
            version_id: Some("v1"),
            sequencer: "000000000000000001",
        };
        let n = ObjectCreated::new(object, "PutObject", &caller, SystemTime::UNIX_EPOCH);
        assert_eq!((n.etag.as_str(), n.requester.as_str(), n.version_id.as_deref()), ("abc", "AKIA", Some("v1")));
    }
}
