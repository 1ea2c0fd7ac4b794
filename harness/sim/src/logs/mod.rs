//! CloudWatch Logs: log groups and streams in memory, and the Logs API calls the checks use.

mod api;
mod filter;

pub use api::handle as handle_api;
pub use filter::FilterPattern;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One log line.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// Milliseconds since the epoch when the event happened.
    pub timestamp: i64,
    /// The line.
    pub message: String,
    /// Milliseconds since the epoch when it was stored.
    pub ingestion_time: i64,
}

#[derive(Default, Serialize, serde::Deserialize)]
struct Group {
    created: i64,
    streams: BTreeMap<String, Stream>,
}

#[derive(Default, Serialize, serde::Deserialize)]
struct Stream {
    created: i64,
    events: Vec<LogEvent>,
}

/// All log groups of the simulator.
#[derive(Default)]
pub struct LogStore {
    groups: Mutex<BTreeMap<String, Group>>,
    /// Event, ingestion and creation times are on this clock.
    clock: crate::clock::Clock,
}

impl LogStore {
    /// The groups an earlier run saved to `path` (none when there is no such file).
    pub fn load(path: &std::path::Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let groups = serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
                })?;
                Ok(Self { groups: Mutex::new(groups), clock: Default::default() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// Stamps events on `clock`.
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Self { clock, ..self }
    }

    /// Writes every group to `path` (atomically).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&*self.groups.lock().unwrap()).map_err(std::io::Error::other)?;
        crate::persist::write_atomically(path, &bytes)
    }
}

/// Milliseconds since the Unix epoch, real time.
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A stream's summary, as DescribeLogStreams gives it.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    /// Stream name.
    pub name: String,
    /// Creation time (ms).
    pub created: i64,
    /// First event's timestamp.
    pub first: Option<i64>,
    /// Last event's timestamp.
    pub last: Option<i64>,
}

impl LogStore {
    /// Creates the group if it is missing.
    pub fn ensure_group(&self, group: &str) {
        let mut groups = self.groups.lock().unwrap();
        groups
            .entry(group.to_string())
            .or_insert_with(|| Group { created: self.clock.now_millis(), ..Default::default() });
    }

    /// Whether the group exists.
    pub fn has_group(&self, group: &str) -> bool {
        self.groups.lock().unwrap().contains_key(group)
    }

    /// Creates the stream (and its group) if missing.
    pub fn ensure_stream(&self, group: &str, stream: &str) {
        let mut groups = self.groups.lock().unwrap();
        let g = groups
            .entry(group.to_string())
            .or_insert_with(|| Group { created: self.clock.now_millis(), ..Default::default() });
        g.streams
            .entry(stream.to_string())
            .or_insert_with(|| Stream { created: self.clock.now_millis(), events: Vec::new() });
    }

    /// Appends a line now.
    pub fn put(&self, group: &str, stream: &str, message: impl Into<String>) {
        let now = self.clock.now_millis();
        self.put_at(group, stream, now, message.into());
    }

    /// Appends a line with an explicit event time.
    pub fn put_at(&self, group: &str, stream: &str, timestamp: i64, message: String) {
        let mut groups = self.groups.lock().unwrap();
        let g = groups
            .entry(group.to_string())
            .or_insert_with(|| Group { created: self.clock.now_millis(), ..Default::default() });
        let s = g
            .streams
            .entry(stream.to_string())
            .or_insert_with(|| Stream { created: self.clock.now_millis(), events: Vec::new() });
        s.events.push(LogEvent { timestamp, message, ingestion_time: self.clock.now_millis() });
    }

    /// Group names with a prefix.
    pub fn groups(&self, prefix: &str) -> Vec<(String, i64)> {
        let groups = self.groups.lock().unwrap();
        groups.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(n, g)| (n.clone(), g.created)).collect()
    }

    /// Streams of a group, or `None` if the group is missing.
    pub fn streams(&self, group: &str, prefix: &str) -> Option<Vec<StreamInfo>> {
        let groups = self.groups.lock().unwrap();
        let g = groups.get(group)?;
        Some(
            g.streams
                .iter()
                .filter(|(n, _)| n.starts_with(prefix))
                .map(|(n, s)| StreamInfo {
                    name: n.clone(),
                    created: s.created,
                    first: s.events.first().map(|e| e.timestamp),
                    last: s.events.last().map(|e| e.timestamp),
                })
                .collect(),
        )
    }

    /// Events of one stream, or `None` if group or stream is missing.
    pub fn events(&self, group: &str, stream: &str) -> Option<Vec<LogEvent>> {
        let groups = self.groups.lock().unwrap();
        groups.get(group)?.streams.get(stream).map(|s| s.events.clone())
    }

    /// Events of every stream of a group (stream, event), in time order.
    pub fn all_events(&self, group: &str) -> Option<Vec<(String, LogEvent)>> {
        let groups = self.groups.lock().unwrap();
        let g = groups.get(group)?;
        let mut out: Vec<(String, LogEvent)> =
            g.streams.iter().flat_map(|(n, s)| s.events.iter().map(move |e| (n.clone(), e.clone()))).collect();
        out.sort_by_key(|(_, e)| e.timestamp);
        Some(out)
    }
}
