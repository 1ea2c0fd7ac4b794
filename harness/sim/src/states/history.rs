//! An execution's record and its history, as GetExecutionHistory and the execution log show
//! them: shared by the service that keeps executions and the log that writes their events.

use std::time::SystemTime;

use serde_json::Value;

/// An execution's status, as AWS spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExecutionStatus {
    /// Still going.
    Running,
    /// Finished with output.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// The execution's TimeoutSeconds passed.
    TimedOut,
    /// Stopped by StopExecution.
    Aborted,
}

impl ExecutionStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
        }
    }
}

/// One recorded history event.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HistoryEvent {
    /// Event type (`ExecutionStarted`, `TaskStateEntered`, ...).
    pub kind: String,
    /// When.
    pub timestamp: SystemTime,
    /// The `...EventDetails` member.
    pub details: Value,
}

/// An execution's record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Execution {
    /// Execution ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Its state machine's ARN.
    pub machine_arn: String,
    /// Status.
    pub status: ExecutionStatus,
    /// Input document.
    pub input: String,
    /// Output document when succeeded.
    pub output: Option<String>,
    /// Error name when failed.
    pub error: Option<String>,
    /// Cause when failed.
    pub cause: Option<String>,
    /// Start time.
    pub start: SystemTime,
    /// Stop time.
    pub stop: Option<SystemTime>,
    /// History.
    pub history: Vec<HistoryEvent>,
}
