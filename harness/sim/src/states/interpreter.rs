//! Runs one execution of a definition, state by state, recording AWS's history events.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tracing::{Instrument, debug, info_span};

use super::definition::{Definition, Retrier, State};
use super::failure::TaskFailure;
use super::paths;

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

pub use crate::clock::Clock;

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
    /// The `skip-waits` break: Wait states and backoffs take no time.
    pub skip_waits: bool,
    /// History sink.
    pub record: Recorder,
    /// The definition's TimeoutSeconds.
    pub timeout: Option<u64>,
    /// States entered so far (each adds two history events).
    pub transitions: std::sync::atomic::AtomicUsize,
    /// Holds the clock from the execution's start until its first state runs (the start is
    /// work in flight: a virtual clock must not jump between StartExecution and the first state).
    pub starting: std::sync::Mutex<Option<crate::clock::Busy>>,
    /// The Step Functions Local test case this execution runs under (`arn#TestCase`), if any.
    pub mocks: Option<Arc<super::mock::ExecutionMocks>>,
}

/// Step Functions' quota on one execution's history: "If the execution history reaches this
/// quota, the execution fails" (Step Functions quotas, "Execution history").
pub const MAX_HISTORY_EVENTS: usize = 25_000;

/// Whether a retrier's or catcher's `ErrorEquals` covers `error`.
pub(super) fn error_matches(names: &[String], error: &str) -> bool {
    names.iter().any(|n| {
        n == error
            || (n == "States.ALL" && error != "States.Runtime")
            || (n == "States.TaskFailed" && error != "States.Timeout" && error != "States.Runtime")
    })
}

/// The wait before retry `retries_done + 1`, before jitter: IntervalSeconds ·
/// BackoffRate^retries_done, capped by MaxDelaySeconds.
pub(super) fn scheduled_backoff(r: &Retrier, retries_done: u32) -> f64 {
    let secs = r.interval_seconds * r.backoff_rate.powi(retries_done as i32);
    r.max_delay_seconds.map_or(secs, |cap| secs.min(cap))
}

fn backoff(r: &Retrier, retries_done: u32) -> Duration {
    let mut secs = scheduled_backoff(r, retries_done);
    if r.jitter_strategy.as_deref() == Some("FULL") {
        secs *= rand_unit();
    }
    Duration::from_secs_f64(secs.max(0.0))
}

fn rand_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

fn state_context(context: &Value, name: &str, entered: &str, retry_count: u32) -> Value {
    let mut ctx = context.clone();
    ctx["State"] = json!({
        "Name": name,
        "EnteredTime": entered,
        "RetryCount": retry_count,
    });
    ctx
}

impl Run {
    async fn pause(&self, d: Duration) {
        if !self.skip_waits {
            self.clock.while_idle(self.clock.sleep(d)).await;
        }
    }

    /// Runs to the end: the output, or the error and cause that failed the execution.
    pub async fn execute(&self, input: Value) -> Result<Value, TaskFailure> {
        self.run_machine(&self.definition, input, self.context.clone()).await
    }

    /// Runs a state machine (the whole definition, a Parallel branch or a Map iteration).
    fn run_machine<'a>(
        &'a self,
        def: &'a Definition,
        input: Value,
        ctx: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            // Each machine (the execution, a branch, an iteration) is work in flight except
            // while it waits on the clock or on its own branches.
            let _busy = self.clock.busy();
            drop(self.starting.lock().unwrap().take());
            let mut name = def.start_at.clone();
            let mut input = input;
            loop {
                // Found by the state_machine fuzz target: a Pass/Choice loop never awaited, so
                // it held its runtime thread and could not be stopped, its history growing.
                tokio::task::yield_now().await;
                let entered = self.transitions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if 2 * entered + 2 >= MAX_HISTORY_EVENTS {
                    return Err(TaskFailure::new(
                        "States.Runtime",
                        format!("The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."),
                    ));
                }
                let state = &def.states[&name];
                let span = info_span!("state", name = %name, kind = %state.kind);
                (self.record)(
                    &format!("{}StateEntered", state.kind),
                    json!({"stateEnteredEventDetails": {"name": name, "input": input.to_string()}}),
                );
                let step = self.step(&name, state, input, &ctx).instrument(span).await;
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
        })
    }

    async fn step(&self, name: &str, s: &State, raw_input: Value, ctx: &Value) -> Step {
        match self.try_step(name, s, raw_input.clone(), ctx).await {
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
                let error_output = failure.error_output();
                return match paths::place(raw_input, c.result_path.as_deref(), error_output) {
                    Ok(out) => Step::Next(c.next.clone(), out),
                    Err(e) => Step::Fail(e.into()),
                };
            }
        }
        Step::Fail(failure)
    }

    async fn try_step(&self, name: &str, s: &State, raw_input: Value, base_ctx: &Value) -> Result<Step, TaskFailure> {
        let entered = self.clock.iso_now();
        let ctx = state_context(base_ctx, name, &entered, 0);
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
                let wait = match (&s.seconds, &s.seconds_path, &s.timestamp, &s.timestamp_path) {
                    (Some(n), ..) => Duration::from_secs(*n),
                    (_, Some(p), ..) => {
                        let v = paths::select(p, &effective, &ctx, "SecondsPath")?;
                        let n = v.as_u64().ok_or_else(|| {
                            TaskFailure::new(
                                "States.Runtime",
                                format!("SecondsPath {p} must select a non-negative integer, got {v}"),
                            )
                        })?;
                        Duration::from_secs(n)
                    }
                    (_, _, Some(t), _) => until(t, self.clock.now())?,
                    (_, _, _, Some(p)) => {
                        let v = paths::select(p, &effective, &ctx, "TimestampPath")?;
                        until(v.as_str().unwrap_or_default(), self.clock.now())?
                    }
                    _ => Duration::ZERO,
                };
                self.pause(wait).await;
                let out = match &s.output_path {
                    Some(p) => paths::select(p, &effective, &ctx, "OutputPath")?,
                    None => json!({}),
                };
                Ok(self.after(s, out))
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
                    // The Default branch leaves through OutputPath too (the state's filter,
                    // not the rule's).
                    Some(d) => Ok(Step::Next(
                        d.clone(),
                        match &s.output_path {
                            Some(p) => paths::select(p, &effective, &ctx, "OutputPath")?,
                            None => json!({}),
                        },
                    )),
                    None => Err(TaskFailure::new(
                        "States.NoChoiceMatched",
                        format!("No Choice Rules matched and no Default was specified in state '{name}'"),
                    )),
                }
            }
            "Task" => {
                let resource = s.resource.clone().unwrap_or_default();
                // Parameters are filled again for each attempt: `$$.State.RetryCount` counts.
                let result = self
                    .retrying(name, s, |retries| {
                        let (effective, entered, resource) = (&effective, &entered, &resource);
                        async move {
                            let ctx = state_context(base_ctx, name, entered, retries);
                            let params = match &s.parameters {
                                Some(t) => paths::fill(t, effective, &ctx)?,
                                None => effective.clone(),
                            };
                            self.invoke_once(name, resource, s, params).await
                        }
                    })
                    .await?;
                let result = match &s.result_selector {
                    Some(t) => paths::fill(t, &result, &ctx)?,
                    None => result,
                };
                Ok(self.after(s, finish(result)?))
            }
            "Parallel" => {
                let params = match &s.parameters {
                    Some(t) => paths::fill(t, &effective, &ctx)?,
                    None => effective,
                };
                (self.record)("ParallelStateStarted", json!({}));
                let outcome = self
                    .retrying(name, s, |_| async {
                        let branches = s.branches.iter().map(|b| self.run_machine(b, params.clone(), base_ctx.clone()));
                        // The first failing branch fails the state; the others are dropped.
                        self.clock.while_idle(futures::future::try_join_all(branches)).await.map(Value::Array)
                    })
                    .await;
                (self.record)(
                    if outcome.is_ok() { "ParallelStateSucceeded" } else { "ParallelStateFailed" },
                    json!({}),
                );
                let result = match &s.result_selector {
                    Some(t) => paths::fill(t, &outcome?, &ctx)?,
                    None => outcome?,
                };
                Ok(self.after(s, finish(result)?))
            }
            "Map" => {
                let items = match &s.items_path {
                    Some(p) => paths::select(p, &effective, &ctx, "ItemsPath")?,
                    None => effective.clone(),
                };
                let items = items.as_array().cloned().ok_or_else(|| {
                    TaskFailure::new(
                        "States.Runtime",
                        format!("ItemsPath of state '{name}' must select an array, got {items}"),
                    )
                })?;
                let processor = s.item_processor.as_deref().expect("validated");
                let limit = match s.max_concurrency {
                    None | Some(0) => items.len().max(1),
                    Some(n) => n as usize,
                };
                (self.record)("MapStateStarted", json!({"mapStateStartedEventDetails": {"length": items.len()}}));
                let effective = &effective;
                let outcome = self
                    .retrying(name, s, |_| async {
                        use futures::stream::{StreamExt, TryStreamExt};
                        let iterations = futures::stream::iter(items.iter().cloned().enumerate())
                            .map(|(index, item)| {
                                let mut item_ctx = ctx.clone();
                                item_ctx["Map"] = json!({"Item": {"Index": index, "Value": item}});
                                let selector = s.item_selector.as_ref().or(s.parameters.as_ref());
                                async move {
                                    let input = match selector {
                                        Some(t) => paths::fill(t, effective, &item_ctx)?,
                                        None => item,
                                    };
                                    (self.record)(
                                        "MapIterationStarted",
                                        json!({"mapIterationStartedEventDetails": {"name": name, "index": index}}),
                                    );
                                    let r = self.run_machine(processor, input, base_ctx.clone()).await;
                                    let kind = if r.is_ok() { "MapIterationSucceeded" } else { "MapIterationFailed" };
                                    (self.record)(
                                        kind,
                                        json!({"mapIterationSucceededEventDetails": {"name": name, "index": index}}),
                                    );
                                    r
                                }
                            })
                            .buffered(limit)
                            .try_collect::<Vec<Value>>();
                        self.clock.while_idle(iterations).await.map(Value::Array)
                    })
                    .await;
                (self.record)(if outcome.is_ok() { "MapStateSucceeded" } else { "MapStateFailed" }, json!({}));
                let result = match &s.result_selector {
                    Some(t) => paths::fill(t, &outcome?, &ctx)?,
                    None => outcome?,
                };
                Ok(self.after(s, finish(result)?))
            }
            other => Err(TaskFailure::new("States.Runtime", format!("state type {other} is not supported"))),
        }
    }

    /// Runs `attempt` until it succeeds, or until no retrier matches its error or has attempts
    /// left; each retrier keeps its own count.
    async fn retrying<F, Fut>(&self, name: &str, s: &State, mut attempt: F) -> Result<Value, TaskFailure>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<Value, TaskFailure>>,
    {
        let mut counters = vec![0u32; s.retry.len()];
        loop {
            let failure = match attempt(counters.iter().sum()).await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let retrier = s.retry.iter().enumerate().find(|(_, r)| error_matches(&r.error_equals, &failure.error));
            match retrier {
                Some((i, r)) if counters[i] < r.max_attempts => {
                    let wait = backoff(r, counters[i]);
                    counters[i] += 1;
                    debug!(state = name, error = %failure.error, attempt = counters[i], ?wait, "retrying");
                    self.pause(wait).await;
                }
                _ => return Err(failure),
            }
        }
    }

    /// One call of a Task's resource (mocked when the execution's test case names the state).
    pub(super) async fn invoke_once(
        &self,
        name: &str,
        resource: &str,
        s: &State,
        params: Value,
    ) -> Result<Value, TaskFailure> {
        if let Some(outcome) = self.mocks.as_ref().and_then(|m| m.next(name)) {
            return self.mocked_task(resource, &params, outcome);
        }
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
            Some(t) => match self.clock.timeout(Duration::from_secs(t), call).await {
                Ok(r) => r,
                // A task's timeout carries no Cause (TaskTimedOut has only the error).
                Err(_) => Err(TaskFailure::without_cause("States.Timeout")),
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
                let mut details = json!({"resourceType": resource_type, "resource": kind, "error": f.error});
                if let Some(c) = &f.cause {
                    details["cause"] = json!(c);
                }
                (self.record)(kind_name, json!({ key: details }));
                Err(f)
            }
        }
    }
}

/// How long from `now` until an RFC 3339 timestamp (zero if it has passed).
fn until(timestamp: &str, now: std::time::SystemTime) -> Result<Duration, TaskFailure> {
    let t = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .map_err(|e| TaskFailure::new("States.Runtime", format!("invalid timestamp {timestamp:?}: {e}")))?;
    let secs = (t - time::OffsetDateTime::from(now)).as_seconds_f64();
    Ok(Duration::from_secs_f64(secs.max(0.0)))
}

enum Step {
    Next(String, Value),
    End(Value),
    Fail(TaskFailure),
}

impl Run {
    /// A mocked Task's call: the history a real call records (TaskScheduled, TaskStarted, then
    /// TaskSucceeded or TaskFailed), with the outcome from the mock config and no service
    /// reached, so a mocked resource need not be one the simulator integrates.
    pub(super) fn mocked_task(
        &self,
        resource: &str,
        params: &Value,
        outcome: Result<Value, TaskFailure>,
    ) -> Result<Value, TaskFailure> {
        let (resource_type, kind) = resource_parts(resource);
        (self.record)(
            "TaskScheduled",
            json!({"taskScheduledEventDetails": {
                "resourceType": resource_type, "resource": kind, "region": crate::REGION,
                "parameters": params.to_string(),
            }}),
        );
        (self.record)(
            "TaskStarted",
            json!({"taskStartedEventDetails": {"resourceType": resource_type, "resource": kind}}),
        );
        match &outcome {
            Ok(output) => (self.record)(
                "TaskSucceeded",
                json!({"taskSucceededEventDetails": {"resourceType": resource_type, "resource": kind, "output": output.to_string()}}),
            ),
            Err(f) => (self.record)(
                "TaskFailed",
                json!({"taskFailedEventDetails": {"resourceType": resource_type, "resource": kind, "error": f.error, "cause": f.cause}}),
            ),
        }
        outcome
    }
}

/// History's `resourceType` and `resource` of a Task resource ARN:
/// `arn:aws:states:::sqs:sendMessage` -> (`sqs`, `sendMessage`); a Lambda function ARN ->
/// (`lambda`, `function`).
fn resource_parts(resource: &str) -> (String, String) {
    if resource.starts_with("arn:aws:lambda:") {
        return ("lambda".into(), "function".into());
    }
    match resource.strip_prefix("arn:aws:states:::").and_then(|r| r.split_once(':')) {
        Some((service, action)) => (service.into(), action.into()),
        None => ("unknown".into(), resource.into()),
    }
}
