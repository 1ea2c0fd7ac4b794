//! Runs one execution of a definition, state by state, recording AWS's history events.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tracing::{Instrument, debug, info_span};

use super::definition::{Definition, Retrier, State};
use super::paths::{self, PathError};

/// A task's failure: the error name Step Functions matches on, and its cause.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    /// Error name (`Lambda.Unknown`, `States.Timeout`, the function's errorType, ...).
    pub error: String,
    /// Cause text (for Lambda, the JSON error document).
    pub cause: String,
}

impl TaskFailure {
    /// A failure with this error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: cause.into() }
    }
}

impl From<PathError> for TaskFailure {
    fn from(e: PathError) -> Self {
        Self::new(e.error, e.message)
    }
}

/// What a Task calls.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskTarget {
    /// A Lambda function, by name or ARN.
    Lambda(String),
    /// A DynamoDB API action (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`).
    DynamoDb(String),
}

/// Calls a task's target with its parameters and returns the service's result.
pub type TaskInvoker = Arc<dyn Fn(TaskTarget, Value) -> BoxFuture<'static, Result<Value, TaskFailure>> + Send + Sync>;

/// The clock waits and backoffs run on; `scale` > 1 makes them shorter by that factor.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// How much faster than real time.
    pub scale: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

impl Clock {
    /// The real duration of `d` simulated.
    pub fn real(&self, d: Duration) -> Duration {
        if self.scale <= 0.0 { d } else { d.div_f64(self.scale) }
    }

    /// Sleeps for `d` of simulated time.
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(self.real(d)).await;
    }
}

/// Receives history events as the execution runs.
pub type Recorder = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// What an execution needs to run.
pub struct Run {
    /// The definition.
    pub definition: Arc<Definition>,
    /// The context object (`$$`).
    pub context: Value,
    /// Lambda invoker.
    pub invoker: TaskInvoker,
    /// Waits and backoff clock.
    pub clock: Clock,
    /// History sink.
    pub record: Recorder,
    /// The definition's TimeoutSeconds.
    pub timeout: Option<u64>,
}

fn error_matches(names: &[String], error: &str) -> bool {
    names.iter().any(|n| {
        n == error
            || (n == "States.ALL" && error != "States.Runtime")
            || (n == "States.TaskFailed" && error != "States.Timeout" && error != "States.Runtime")
    })
}

fn backoff(r: &Retrier, retries_done: u32) -> Duration {
    let mut secs = r.interval_seconds * r.backoff_rate.powi(retries_done as i32);
    if let Some(cap) = r.max_delay_seconds {
        secs = secs.min(cap);
    }
    if r.jitter_strategy.as_deref() == Some("FULL") {
        secs *= rand_unit();
    }
    Duration::from_secs_f64(secs.max(0.0))
}

fn rand_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

fn state_context(context: &Value, name: &str, retry_count: u32) -> Value {
    let mut ctx = context.clone();
    ctx["State"] = json!({
        "Name": name,
        "EnteredTime": crate::iso_now(),
        "RetryCount": retry_count,
    });
    ctx
}

impl Run {
    /// Runs to the end: the output, or the error and cause that failed the execution.
    pub async fn execute(&self, input: Value) -> Result<Value, TaskFailure> {
        let mut name = self.definition.start_at.clone();
        let mut input = input;
        loop {
            let state = &self.definition.states[&name];
            let span = info_span!("state", name = %name, kind = %state.kind);
            (self.record)(
                &format!("{}StateEntered", state.kind),
                json!({"stateEnteredEventDetails": {"name": name, "input": input.to_string()}}),
            );
            let step = self.step(&name, state, input).instrument(span).await;
            match step {
                Step::Next(next, output) => {
                    (self.record)(
                        &format!("{}StateExited", state.kind),
                        json!({"stateExitedEventDetails": {"name": name, "output": output.to_string()}}),
                    );
                    input = output;
                    name = next;
                }
                Step::End(output) => {
                    (self.record)(
                        &format!("{}StateExited", state.kind),
                        json!({"stateExitedEventDetails": {"name": name, "output": output.to_string()}}),
                    );
                    return Ok(output);
                }
                Step::Fail(failure) => return Err(failure),
            }
        }
    }

    async fn step(&self, name: &str, s: &State, raw_input: Value) -> Step {
        match self.try_step(name, s, raw_input.clone()).await {
            Ok(step) => step,
            Err(failure) => self.catch(s, raw_input, failure),
        }
    }

    fn after(&self, s: &State, output: Value) -> Step {
        match (&s.next, s.end) {
            (Some(n), _) => Step::Next(n.clone(), output),
            _ => Step::End(output),
        }
    }

    fn catch(&self, s: &State, raw_input: Value, failure: TaskFailure) -> Step {
        for c in &s.catch {
            if error_matches(&c.error_equals, &failure.error) {
                let error_output = json!({"Error": failure.error, "Cause": failure.cause});
                return match paths::place(raw_input, c.result_path.as_deref(), error_output) {
                    Ok(out) => Step::Next(c.next.clone(), out),
                    Err(e) => Step::Fail(e.into()),
                };
            }
        }
        Step::Fail(failure)
    }

    async fn try_step(&self, name: &str, s: &State, raw_input: Value) -> Result<Step, TaskFailure> {
        let ctx = state_context(&self.context, name, 0);
        let effective = match &s.input_path {
            Some(p) => paths::select(p, &raw_input, &ctx, "InputPath")?,
            None => json!({}),
        };
        let finish = |result: Value| -> Result<Value, TaskFailure> {
            let placed = paths::place(raw_input.clone(), s.result_path.as_deref(), result)?;
            Ok(match &s.output_path {
                Some(p) => paths::select(p, &placed, &ctx, "OutputPath")?,
                None => json!({}),
            })
        };
        match s.kind.as_str() {
            "Pass" => {
                let result = match (&s.result, &s.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(t)) => paths::fill(t, &effective, &ctx)?,
                    (None, None) => effective,
                };
                Ok(self.after(s, finish(result)?))
            }
            "Succeed" => Ok(Step::End(match &s.output_path {
                Some(p) => paths::select(p, &effective, &ctx, "OutputPath")?,
                None => json!({}),
            })),
            "Fail" => {
                let error = match &s.error_path {
                    Some(p) => paths::select(p, &raw_input, &ctx, "ErrorPath")?.as_str().map(str::to_string),
                    None => s.error.clone(),
                };
                let cause = match &s.cause_path {
                    Some(p) => paths::select(p, &raw_input, &ctx, "CausePath")?.as_str().map(str::to_string),
                    None => s.cause.clone(),
                };
                let error = error.unwrap_or_default();
                let cause = cause.unwrap_or_default();
                (self.record)("FailStateEntered", json!({}));
                Ok(Step::Fail(TaskFailure::new(error, cause)))
            }
            "Wait" => {
                let secs = match (&s.seconds, &s.seconds_path) {
                    (Some(n), _) => *n as f64,
                    (None, Some(p)) => paths::select(p, &effective, &ctx, "SecondsPath")?.as_f64().unwrap_or(0.0),
                    _ => 0.0,
                };
                self.clock.sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                Ok(self.after(s, finish(effective.clone()).map(|_| effective)?))
            }
            "Choice" => {
                for rule in &s.choices {
                    if super::choice::evaluate(rule, &effective, &ctx)? {
                        let next = rule["Next"].as_str().unwrap_or_default().to_string();
                        let out = match &s.output_path {
                            Some(p) => paths::select(p, &effective, &ctx, "OutputPath")?,
                            None => json!({}),
                        };
                        return Ok(Step::Next(next, out));
                    }
                }
                match &s.default {
                    Some(d) => Ok(Step::Next(d.clone(), effective)),
                    None => Err(TaskFailure::new(
                        "States.NoChoiceMatched",
                        format!("No Choice Rules matched and no Default was specified in state '{name}'"),
                    )),
                }
            }
            "Task" => {
                let params = match &s.parameters {
                    Some(t) => paths::fill(t, &effective, &ctx)?,
                    None => effective,
                };
                let result = self.run_task(name, s, params).await?;
                let result = match &s.result_selector {
                    Some(t) => paths::fill(t, &result, &ctx)?,
                    None => result,
                };
                Ok(self.after(s, finish(result)?))
            }
            other => Err(TaskFailure::new("States.Runtime", format!("state type {other} is not supported"))),
        }
    }

    /// Invokes the task's resource, applying the retriers.
    async fn run_task(&self, name: &str, s: &State, params: Value) -> Result<Value, TaskFailure> {
        let resource = s.resource.clone().unwrap_or_default();
        let mut counters = vec![0u32; s.retry.len()];
        loop {
            let outcome = self.invoke_once(&resource, s, params.clone()).await;
            let failure = match outcome {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let retrier = s.retry.iter().enumerate().find(|(_, r)| error_matches(&r.error_equals, &failure.error));
            match retrier {
                Some((i, r)) if counters[i] < r.max_attempts => {
                    let wait = backoff(r, counters[i]);
                    counters[i] += 1;
                    debug!(state = name, error = %failure.error, attempt = counters[i], ?wait, "retrying");
                    self.clock.sleep(wait).await;
                }
                _ => return Err(failure),
            }
        }
    }

    async fn invoke_once(&self, resource: &str, s: &State, params: Value) -> Result<Value, TaskFailure> {
        let (resource_type, kind, target, payload, wrap) = if resource == "arn:aws:states:::lambda:invoke" {
            let function = params
                .get("FunctionName")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| TaskFailure::new("States.Runtime", "lambda:invoke needs Parameters.FunctionName"))?;
            (
                "lambda",
                "invoke",
                TaskTarget::Lambda(function),
                params.get("Payload").cloned().unwrap_or(json!({})),
                true,
            )
        } else if resource.starts_with("arn:aws:lambda:") {
            ("lambda", "function", TaskTarget::Lambda(resource.to_string()), params.clone(), false)
        } else if let Some(action) = resource.strip_prefix("arn:aws:states:::dynamodb:") {
            let api = match action {
                "getItem" => "GetItem",
                "putItem" => "PutItem",
                "updateItem" => "UpdateItem",
                "deleteItem" => "DeleteItem",
                other => {
                    return Err(TaskFailure::new(
                        "States.Runtime",
                        format!("dynamodb:{other} is not an optimized integration"),
                    ));
                }
            };
            ("dynamodb", action, TaskTarget::DynamoDb(api.to_string()), params.clone(), false)
        } else {
            return Err(TaskFailure::new(
                "States.Runtime",
                format!("resource {resource} is not supported by the simulator"),
            ));
        };
        (self.record)(
            "TaskScheduled",
            json!({"taskScheduledEventDetails": {
                "resourceType": resource_type, "resource": kind, "region": crate::REGION,
                "parameters": params.to_string(),
                "timeoutInSeconds": s.timeout_seconds,
            }}),
        );
        (self.record)(
            "TaskStarted",
            json!({"taskStartedEventDetails": {"resourceType": resource_type, "resource": kind}}),
        );
        let call = (self.invoker)(target, payload);
        let outcome = match s.timeout_seconds {
            Some(t) => match tokio::time::timeout(self.clock.real(Duration::from_secs(t)), call).await {
                Ok(r) => r,
                Err(_) => Err(TaskFailure::new("States.Timeout", format!("Task timed out after {t} seconds"))),
            },
            None => call.await,
        };
        match outcome {
            Ok(result) => {
                let output = if wrap {
                    json!({
                        "ExecutedVersion": "$LATEST",
                        "Payload": result,
                        "SdkHttpMetadata": {"HttpStatusCode": 200},
                        "SdkResponseMetadata": {"RequestId": uuid::Uuid::new_v4().to_string()},
                        "StatusCode": 200,
                    })
                } else {
                    result
                };
                (self.record)(
                    "TaskSucceeded",
                    json!({"taskSucceededEventDetails": {"resourceType": resource_type, "resource": kind, "output": output.to_string()}}),
                );
                Ok(output)
            }
            Err(f) => {
                let key =
                    if f.error == "States.Timeout" { "taskTimedOutEventDetails" } else { "taskFailedEventDetails" };
                let kind_name = if f.error == "States.Timeout" { "TaskTimedOut" } else { "TaskFailed" };
                (self.record)(
                    kind_name,
                    json!({ key: {"resourceType": resource_type, "resource": kind, "error": f.error, "cause": f.cause}}),
                );
                Err(f)
            }
        }
    }
}

enum Step {
    Next(String, Value),
    End(Value),
    Fail(TaskFailure),
}
