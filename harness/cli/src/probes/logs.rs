//! CloudWatch Logs: the events of a log group, by stream prefix and filter pattern.

use super::ProbeError;
use crate::targets::Clients;

/// One log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// Its stream.
    pub stream: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The line.
    pub message: String,
}

impl LogEvent {
    /// The message as JSON, when it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.message).ok()
    }
}

/// What to read of a log group.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only streams whose name starts so.
    pub stream_prefix: Option<String>,
    /// A CloudWatch Logs filter pattern.
    pub filter_pattern: Option<String>,
    /// Only events at or after this time (ms since the epoch).
    pub start_time: Option<i64>,
}

/// FilterLogEvents over every page.
pub async fn events(c: &Clients, group: &str, q: &Query) -> Result<Vec<LogEvent>, ProbeError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .logs
            .filter_log_events()
            .log_group_name(group)
            .set_log_stream_name_prefix(q.stream_prefix.clone())
            .set_filter_pattern(q.filter_pattern.clone())
            .set_start_time(q.start_time)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("logs", "FilterLogEvents", group, &e))?;
        out.extend(page.events().iter().map(|e| LogEvent {
            stream: e.log_stream_name().unwrap_or_default().to_string(),
            timestamp: e.timestamp().unwrap_or_default(),
            message: e.message().unwrap_or_default().to_string(),
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}
