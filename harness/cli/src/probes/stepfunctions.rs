//! Step Functions: the state machine's executions, their input and what their history shows.

use super::ProbeError;
use crate::targets::Clients;

/// One execution, described and with its history read.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Its ARN.
    pub arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    /// The error it failed with.
    pub error: Option<String>,
    /// Its input document.
    pub input: serde_json::Value,
    /// Lambda tasks scheduled (each one an invocation of the function).
    pub lambda_tasks: usize,
    /// Tasks that failed with `Lambda.TooManyRequestsException` (throttled invocations).
    pub throttled_tasks: usize,
    /// The error of every failed task, in history order.
    pub task_errors: Vec<String>,
    /// Whether it was redriven (an `ExecutionRedriven` event).
    pub redriven: bool,
    /// The cause it failed with.
    pub cause: Option<String>,
    /// Its history events, in order.
    pub history: Vec<HistoryEntry>,
}

/// One history event: its type, time and the state it happened in.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// `TaskStateEntered`, `TaskFailed`, ...
    pub kind: String,
    /// Its timestamp (on the target's clock: virtual under a virtual simulator).
    pub at: std::time::SystemTime,
    /// The state last entered when it happened.
    pub state: Option<String>,
}

impl Execution {
    /// The waits between each failed attempt of `state` and the next, in seconds.
    pub fn retry_gaps(&self, state: &str) -> Vec<f64> {
        let mut gaps = Vec::new();
        let mut failed = None;
        for h in self.history.iter().filter(|h| h.state.as_deref() == Some(state)) {
            match h.kind.as_str() {
                "TaskFailed" | "TaskTimedOut" | "LambdaFunctionFailed" | "LambdaFunctionTimedOut" => {
                    failed = Some(h.at)
                }
                "TaskScheduled" | "LambdaFunctionScheduled" => {
                    if let Some(f) = failed.take() {
                        gaps.push(h.at.duration_since(f).unwrap_or_default().as_secs_f64());
                    }
                }
                _ => {}
            }
        }
        gaps
    }

    /// How long `state` lasted, from its entry to its exit, in seconds.
    pub fn state_duration(&self, state: &str) -> Option<f64> {
        let mine = || self.history.iter().filter(|h| h.state.as_deref() == Some(state));
        let entered = mine().find(|h| h.kind.ends_with("StateEntered"))?.at;
        let exited = mine().find(|h| h.kind.ends_with("StateExited"))?.at;
        Some(exited.duration_since(entered).unwrap_or_default().as_secs_f64())
    }
}

/// Every execution ARN of the state machine (all pages).
pub async fn execution_arns(c: &Clients, machine: &str) -> Result<Vec<String>, ProbeError> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .sfn
            .list_executions()
            .state_machine_arn(machine)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("stepfunctions", "ListExecutions", machine, &e))?;
        arns.extend(page.executions().iter().map(|e| e.execution_arn().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(arns);
        }
    }
}

async fn describe(
    c: &Clients,
    arn: &str,
) -> Result<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput, ProbeError> {
    c.sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| ProbeError::from_sdk("stepfunctions", "DescribeExecution", arn, &e))
}

/// Describes one execution and reads its history.
pub async fn execution(c: &Clients, arn: &str) -> Result<Execution, ProbeError> {
    let d = describe(c, arn).await?;
    let input = serde_json::from_str(d.input().unwrap_or("{}")).unwrap_or(serde_json::Value::Null);
    let (mut lambda_tasks, mut throttled_tasks, mut task_errors, mut redriven) = (0, 0, Vec::new(), false);
    let (mut history, mut state) = (Vec::new(), None::<String>);
    let mut token = None;
    loop {
        let page = c
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("stepfunctions", "GetExecutionHistory", arn, &e))?;
        for h in page.events() {
            if let Some(name) = h.state_entered_event_details().map(|d| d.name()) {
                state = Some(name.to_string());
            }
            history.push(HistoryEntry {
                kind: h.r#type().as_str().to_string(),
                at: std::time::SystemTime::try_from(*h.timestamp()).unwrap_or(std::time::UNIX_EPOCH),
                state: state.clone(),
            });
            if h.task_scheduled_event_details().is_some_and(|t| t.resource_type() == "lambda") {
                lambda_tasks += 1;
            }
            redriven |= h.r#type().as_str() == "ExecutionRedriven";
            if let Some(error) = h.task_failed_event_details().and_then(|d| d.error()) {
                throttled_tasks += usize::from(error == "Lambda.TooManyRequestsException");
                task_errors.push(error.to_string());
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(Execution {
        arn: d.execution_arn().to_string(),
        status: d.status().as_str().to_string(),
        error: d.error().map(str::to_string),
        input,
        lambda_tasks,
        throttled_tasks,
        task_errors,
        redriven,
        cause: d.cause().map(str::to_string),
        history,
    })
}

impl Execution {
    /// A string field of its input.
    pub fn input_str(&self, field: &str) -> &str {
        self.input.get(field).and_then(|v| v.as_str()).unwrap_or_default()
    }
}

/// Every execution whose input's `key` is `key` (events carry keys as they are).
pub async fn executions_for_key(c: &Clients, machine: &str, key: &str) -> Result<Vec<Execution>, ProbeError> {
    let mut out = Vec::new();
    for arn in execution_arns(c, machine).await? {
        let e = execution(c, &arn).await?;
        let raw = e.input.get("key").and_then(|k| k.as_str()).unwrap_or_default();
        if raw == key {
            out.push(e);
        }
    }
    Ok(out)
}

/// Every execution of the state machine.
pub async fn executions(c: &Clients, machine: &str) -> Result<Vec<Execution>, ProbeError> {
    let mut out = Vec::new();
    for arn in execution_arns(c, machine).await? {
        out.push(execution(c, &arn).await?);
    }
    Ok(out)
}

/// When an execution started (DescribeExecution's `startDate`, millisecond precision).
pub async fn started_at(c: &Clients, arn: &str) -> Result<std::time::SystemTime, ProbeError> {
    let d = describe(c, arn).await?;
    std::time::SystemTime::try_from(*d.start_date())
        .map_err(|e| ProbeError::local("stepfunctions", "DescribeExecution", arn, e))
}
