//! Execution logs in CloudWatch Logs: with a logging configuration, Step Functions writes each
//! history event its level includes to the configured log group, one JSON object per event.
//!
//! The shape follows real logs, since AWS's pages show none: every scalar a string (`id`,
//! `previous_event_id`, `event_timestamp` in epoch milliseconds, `redrive_count`), `details` the
//! history event's `*EventDetails` unwrapped, and `includeExecutionData: false` dropping only
//! `input`/`inputDetails`/`output`/`outputDetails` (an AWS log quoted in
//! https://github.com/linz/geostore/pull/2300, and the AWS-validated snapshot
//! `tests/aws/services/stepfunctions/v2/logs/test_logs.snapshot.json` in localstack/localstack).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::history::{Execution, HistoryEvent};
use crate::logs::LogStore;

/// A logging configuration's level (https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Every event.
    All,
    /// Errors: the fatal events, failed states and tasks.
    Error,
    /// Only an execution's abort, failure or timeout.
    Fatal,
    /// Nothing.
    Off,
}

const FATAL: &[&str] = &["ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"];
const ERROR: &[&str] = &[
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapStateAborted",
    "MapStateFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "TaskStateAborted",
    "WaitStateAborted",
];

impl Level {
    /// Whether an event of this type is logged at this level.
    pub fn includes(self, kind: &str) -> bool {
        match self {
            Level::All => true,
            Level::Error => FATAL.contains(&kind) || ERROR.contains(&kind),
            Level::Fatal => FATAL.contains(&kind),
            Level::Off => false,
        }
    }
}

/// `infra/definitions/state-machine-logging.json`: what the stack's `logging_configuration` sets.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Which events.
    pub level: Level,
    /// Whether inputs and outputs are written.
    pub include_execution_data: bool,
}

/// Writes executions' events to one log group.
#[derive(Clone)]
pub struct ExecutionLogs {
    store: Arc<LogStore>,
    group: String,
    config: LoggingConfig,
}

/// The log group the stack creates for a state machine.
pub fn log_group_of(machine_name: &str) -> String {
    format!("/aws/vendedlogs/states/{machine_name}")
}

fn ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl ExecutionLogs {
    /// Logs to `group` in `store` as `config` says.
    pub fn new(store: Arc<LogStore>, group: impl Into<String>, config: LoggingConfig) -> Self {
        let group = group.into();
        if config.level != Level::Off {
            store.ensure_group(&group);
        }
        Self { store, group, config }
    }

    /// The log group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Logs the execution's last history event, if its level includes it.
    pub fn write_last(&self, e: &Execution) {
        let Some(event) = e.history.last() else { return };
        if !self.config.level.includes(&event.kind) {
            return;
        }
        let id = e.history.len();
        let redrives = e.history.iter().filter(|h| h.kind == "ExecutionRedriven").count();
        let line = entry(event, id, &e.arn, redrives, self.config.include_execution_data);
        self.store.put_at(&self.group, &stream_of(e), ms(event.timestamp), line);
    }
}

/// AWS names streams `states/<state machine>/<start minute>/<8 hex digits>`.
fn stream_of(e: &Execution) -> String {
    use std::hash::{Hash, Hasher};
    let machine = e.machine_arn.rsplit(':').next().unwrap_or_default();
    let minute = time::OffsetDateTime::from(e.start)
        .format(&time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]"))
        .unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    e.arn.hash(&mut h);
    format!("states/{machine}/{minute}/{:08x}", h.finish() as u32)
}

/// One log line: the event `id` (1-based) of `arn`'s history.
fn entry(event: &HistoryEvent, id: usize, arn: &str, redrives: usize, include_data: bool) -> String {
    let mut details: Map<String, Value> = event
        .details
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (field, marker) in [("input", "inputDetails"), ("output", "outputDetails")] {
        if !include_data {
            details.remove(field);
            details.remove(marker);
        } else if details.contains_key(field) {
            details.insert(marker.into(), json!({"truncated": false}));
        }
    }
    json!({
        "id": id.to_string(),
        "type": event.kind,
        "details": details,
        "previous_event_id": (id - 1).to_string(),
        "event_timestamp": ms(event.timestamp).to_string(),
        "execution_arn": arn,
        "redrive_count": redrives.to_string(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::ExecutionStatus;
    use std::time::{Duration, SystemTime};

    fn execution(history: Vec<(&str, Value)>) -> Execution {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_668_385_713_883);
        Execution {
            arn: "arn:aws:states:us-east-1:000000000000:execution:sm:run-1".into(),
            name: "run-1".into(),
            machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:sm".into(),
            status: ExecutionStatus::Running,
            input: "{}".into(),
            output: None,
            error: None,
            cause: None,
            start: t,
            stop: None,
            history: history
                .into_iter()
                .map(|(k, d)| HistoryEvent { kind: k.into(), timestamp: t, details: d })
                .collect(),
        }
    }

    fn logged(config: LoggingConfig, e: &Execution) -> Vec<Value> {
        let store = Arc::new(LogStore::default());
        let logs = ExecutionLogs::new(store.clone(), "/aws/vendedlogs/states/sm", config);
        for n in 1..=e.history.len() {
            let mut prefix = e.clone();
            prefix.history.truncate(n);
            logs.write_last(&prefix);
        }
        let events = store.all_events("/aws/vendedlogs/states/sm").unwrap_or_default();
        events.iter().map(|(_, ev)| serde_json::from_str(&ev.message).unwrap()).collect()
    }

    fn run() -> Execution {
        execution(vec![
            ("ExecutionStarted", json!({"executionStartedEventDetails": {"input": "{}", "roleArn": "arn:role"}})),
            ("PassStateEntered", json!({"stateEnteredEventDetails": {"name": "State_1", "input": "{}"}})),
            ("PassStateExited", json!({"stateExitedEventDetails": {"name": "State_1", "output": "{}"}})),
            (
                "ExecutionFailed",
                json!({"executionFailedEventDetails": {"error": "SomeFailure", "cause": "This state machines raises a 'SomeFailure' failure."}}),
            ),
        ])
    }

    /// Without execution data, as the AWS-validated snapshot (LocalStack's `test_logs.snapshot.json`)
    /// records it: `{"id": "1", "type": "ExecutionStarted", "details": {"roleArn": ...},
    /// "previous_event_id": "0", "event_timestamp": ..., "execution_arn": ..., "redrive_count": "0"}`
    /// and `{"id": "3", "type": "PassStateExited", "details": {"name": "State_1"}, "previous_event_id": "2", ...}`.
    #[test]
    fn entries_match_aws_logs_without_execution_data() {
        let lines = logged(LoggingConfig { level: Level::All, include_execution_data: false }, &run());
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            json!({"id": "1", "type": "ExecutionStarted", "details": {"roleArn": "arn:role"}, "previous_event_id": "0",
                "event_timestamp": "1668385713883", "execution_arn": "arn:aws:states:us-east-1:000000000000:execution:sm:run-1",
                "redrive_count": "0"})
        );
        assert_eq!(lines[2]["details"], json!({"name": "State_1"}));
        assert_eq!(lines[2]["previous_event_id"], "2");
        assert_eq!(
            lines[3]["details"],
            json!({"cause": "This state machines raises a 'SomeFailure' failure.", "error": "SomeFailure"})
        );
    }

    /// With execution data, inputs and outputs come with `inputDetails`/`outputDetails`.
    #[test]
    fn execution_data_adds_inputs_and_outputs() {
        let lines = logged(LoggingConfig { level: Level::All, include_execution_data: true }, &run());
        assert_eq!(
            lines[0]["details"],
            json!({"input": "{}", "inputDetails": {"truncated": false}, "roleArn": "arn:role"})
        );
        assert_eq!(lines[2]["details"]["outputDetails"], json!({"truncated": false}));
    }

    /// Levels as https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html lists them.
    #[test]
    fn levels_filter_events() {
        let kinds = |level| -> Vec<String> {
            logged(LoggingConfig { level, include_execution_data: false }, &run())
                .iter()
                .map(|l| l["type"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(kinds(Level::Fatal), ["ExecutionFailed"]);
        assert_eq!(kinds(Level::Error), ["ExecutionFailed"]);
        assert!(kinds(Level::Off).is_empty());
        assert!(Level::Error.includes("TaskFailed") && !Level::Fatal.includes("TaskFailed"));
    }

    #[test]
    fn the_shipped_configuration_parses() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/definitions/state-machine-logging.json"),
        )
        .unwrap();
        let c: LoggingConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(c.level, Level::All);
    }
}
