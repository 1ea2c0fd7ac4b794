//! A profile from real traffic: Transfer Family's structured session logs, as `aws logs
//! filter-log-events --output json` exports them, become a replay profile with each session's
//! start, its uploads' start times (OPEN) and sizes (`bytes-in` of their CLOSE). User names
//! and paths are replaced (`replay-1`, ...); nothing of the partners' data stays.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Why the logs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Not a FilterLogEvents document.
    #[error("{0}: not the output of `aws logs filter-log-events --output json` ({1})")]
    NotEvents(String, String),
    /// No session uploaded anything.
    #[error("{0}: no session in these logs uploaded a file (no CLOSE with bytes-in)")]
    NoUploads(String),
}

/// FilterLogEvents' response (the CLI joins its pages).
#[derive(Deserialize)]
struct Events {
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    log_stream_name: String,
    /// Epoch milliseconds.
    timestamp: i64,
    message: String,
}

/// A session found in the logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Its user, renamed.
    pub user: String,
    /// Milliseconds from the first session's start.
    pub start_ms: i64,
    /// (milliseconds from the session's start, bytes) of each upload.
    pub files: Vec<(i64, u64)>,
}

/// What the logs held.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Sessions by start.
    pub sessions: Vec<Session>,
    /// Renamed users, in order.
    pub users: Vec<String>,
    /// Most sessions open at once.
    pub peak_sessions: usize,
    /// Log lines that were not structured JSON entries (skipped).
    pub skipped_lines: usize,
}

#[derive(Default)]
struct Building {
    user: Option<String>,
    connected: Option<i64>,
    first: i64,
    last: i64,
    opens: BTreeMap<String, Vec<i64>>,
    files: Vec<(i64, u64)>,
}

fn bytes_in(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Reads the exported logs; `name` names them in errors.
pub fn read(text: &str, name: &str) -> Result<Traffic, ReplayError> {
    let doc: Events = serde_json::from_str(text).map_err(|e| ReplayError::NotEvents(name.into(), e.to_string()))?;
    let mut sessions: BTreeMap<String, Building> = BTreeMap::new();
    let mut skipped_lines = 0;
    let mut events = doc.events;
    events.sort_by_key(|e| e.timestamp);
    for e in &events {
        let Ok(entry) = serde_json::from_str::<Value>(&e.message) else {
            skipped_lines += 1;
            continue;
        };
        let Some(session_id) = entry.get("session-id").and_then(Value::as_str) else {
            // ERRORS stream entries (KEX_FAILURE) have no session.
            skipped_lines += 1;
            continue;
        };
        let s = sessions
            .entry(session_id.to_string())
            .or_insert_with(|| Building { first: e.timestamp, ..Default::default() });
        s.last = e.timestamp;
        if s.user.is_none() {
            s.user = entry
                .get("user")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| e.log_stream_name.rsplit_once('.').map(|(u, _)| u.to_string()));
        }
        let path = entry.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
        match entry.get("activity-type").and_then(Value::as_str).unwrap_or_default() {
            "CONNECTED" => s.connected = Some(e.timestamp),
            "OPEN" if entry.get("mode").and_then(Value::as_str).is_some_and(|m| m.contains("WRITE")) => {
                s.opens.entry(path).or_default().push(e.timestamp);
            }
            "CLOSE" => {
                if let Some(bytes) = entry.get("bytes-in").and_then(bytes_in) {
                    let opened = s.opens.get_mut(&path).and_then(|v| (!v.is_empty()).then(|| v.remove(0)));
                    s.files.push((opened.unwrap_or(e.timestamp), bytes));
                }
            }
            _ => {}
        }
    }
    let mut users: Vec<String> = Vec::new();
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    // (connected, closed, user, [(write time, bytes)]) per session found.
    type Found = (i64, i64, String, Vec<(i64, u64)>);
    let mut found: Vec<Found> = Vec::new();
    let mut ordered: Vec<&Building> = sessions.values().collect();
    ordered.sort_by_key(|s| s.connected.unwrap_or(s.first));
    for s in ordered {
        let start = s.connected.unwrap_or(s.first);
        let user = s.user.clone().unwrap_or_else(|| "unknown".into());
        let next = format!("replay-{}", renamed.len() + 1);
        let alias = renamed.entry(user).or_insert(next).clone();
        if !users.contains(&alias) {
            users.push(alias.clone());
        }
        let mut files: Vec<(i64, u64)> = s.files.iter().map(|(t, b)| (t - start, *b)).collect();
        files.sort();
        found.push((start, s.last, alias, files));
    }
    if found.iter().all(|s| s.3.is_empty()) {
        return Err(ReplayError::NoUploads(name.into()));
    }
    let origin = found.first().map_or(0, |s| s.0);
    let mut edges: Vec<(i64, i32)> = found.iter().flat_map(|s| [(s.0, 1), (s.1, -1)]).collect();
    edges.sort();
    let (mut open, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        open += d;
        peak = peak.max(open);
    }
    Ok(Traffic {
        sessions: found
            .into_iter()
            .filter(|s| !s.3.is_empty())
            .map(|(start, _, user, files)| Session { user, start_ms: start - origin, files })
            .collect(),
        users,
        peak_sessions: peak.max(0) as usize,
        skipped_lines,
    })
}

impl Traffic {
    /// A load profile replaying it.
    pub fn profile(&self, name: &str, source: &str) -> String {
        let files: usize = self.sessions.iter().map(|s| s.files.len()).sum();
        let bytes: u64 = self.sessions.iter().flat_map(|s| s.files.iter().map(|f| f.1)).sum();
        let users: Vec<&String> = self.users.iter().filter(|u| self.sessions.iter().any(|s| s.user == **u)).collect();
        let mut out = format!(
            "#:schema ./load.schema.json\n# Replayed from {source}: {} session(s), {files} file(s), {bytes} bytes, at most {} session(s) at once.\n# User names and paths are replaced.\nname = {name:?}\ndescription = \"replay of {} recorded session(s)\"\nusers = [{}]\n\n[replay]\n",
            self.sessions.len(),
            self.peak_sessions,
            self.sessions.len(),
            users.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", ")
        );
        for s in &self.sessions {
            out.push_str(&format!(
                "\n[[replay.sessions]]\nstart = \"{}ms\"\nuser = {:?}\nfiles = [\n",
                s.start_ms, s.user
            ));
            for (at, size) in &s.files {
                out.push_str(&format!("  {{ at = \"{at}ms\", size = {size} }},\n"));
            }
            out.push_str("]\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example session (cw-example-logs.html), exported as FilterLogEvents
    /// returns it: see tests/fixtures/README.md.
    #[test]
    fn the_documented_session_becomes_a_replay() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transfer-session-logs.json");
        let t = read(&std::fs::read_to_string(path).unwrap(), path).unwrap();
        assert_eq!(t.sessions.len(), 3, "{t:?}");
        assert_eq!(t.sessions[0].files, vec![(1000, 121)]);
        assert_eq!(t.sessions[0].start_ms, 0);
        assert_eq!(t.users, vec!["replay-1", "replay-2"]);
        assert_eq!(t.peak_sessions, 2);
        assert_eq!(t.skipped_lines, 1, "the ERRORS stream's KEX_FAILURE has no session");
        let text = t.profile("replayed", "fixture");
        assert!(!text.contains("log-me") && !text.contains("config-file"), "names must not leak:\n{text}");
        let p = crate::load::profile::Profile::parse(&text, std::path::Path::new("replayed.toml")).unwrap();
        assert_eq!(p.replay.unwrap().sessions.len(), 3);
    }

    #[test]
    fn other_documents_are_refused_with_the_reason() {
        let e = read("{\"nope\": 1}", "x.json").unwrap_err().to_string();
        assert!(e.contains("x.json: not the output of `aws logs filter-log-events"), "{e}");
        let e = read("{\"events\": []}", "y.json").unwrap_err().to_string();
        assert!(e.contains("no session"), "{e}");
    }
}
