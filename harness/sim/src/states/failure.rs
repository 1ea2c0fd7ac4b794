//! A task's failure: the error name Step Functions matches Retry and Catch on, and its cause.
//! Shared by the interpreter, Choice rules, mocks and TestState.

use serde_json::{Value, json};

use super::paths::PathError;

/// A task's failure: the error name Step Functions matches on, and its cause.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    /// Error name (`Lambda.Unknown`, `States.Timeout`, the function's errorType, ...).
    pub error: String,
    /// Cause text (for Lambda, the JSON error document); task timeouts carry none.
    pub cause: Option<String>,
}

impl TaskFailure {
    /// A failure with this error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: Some(cause.into()) }
    }

    /// A failure with no cause, as a task's timeout is.
    pub fn without_cause(error: impl Into<String>) -> Self {
        Self { error: error.into(), cause: None }
    }

    /// The error output a Catch passes on: `Error`, and `Cause` when there is one.
    pub fn error_output(&self) -> Value {
        let mut out = json!({"Error": self.error});
        if let Some(c) = &self.cause {
            out["Cause"] = json!(c);
        }
        out
    }
}

impl From<PathError> for TaskFailure {
    fn from(e: PathError) -> Self {
        Self::new(e.error, e.message)
    }
}
