//! State machines and their executions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span};

use super::definition::Definition;
use super::history::{Execution, ExecutionStatus, HistoryEvent};
use super::interpreter::{Clock, Run, TaskInvoker};
use crate::json_protocol::ApiError;

struct Machine {
    name: String,
    definition: Arc<Definition>,
    text: String,
    role_arn: String,
    created: SystemTime,
}

#[derive(Default)]
struct Inner {
    machines: BTreeMap<String, Machine>,
    executions: BTreeMap<String, Execution>,
    order: Vec<String>,
    cancel: BTreeMap<String, CancellationToken>,
    /// Running executions started under a mock config test case (`arn#TestCase`).
    mocks: BTreeMap<String, Arc<super::mock::ExecutionMocks>>,
}

/// The Step Functions service.
#[derive(Clone)]
pub struct StepFunctions {
    inner: Arc<Mutex<Inner>>,
    invoker: TaskInvoker,
    clock: Clock,
    /// The `drop-task-failed-events` break.
    drop_task_failed: bool,
    /// The `skip-waits` break.
    skip_waits: bool,
    /// Where execution events are logged, when the machine has a logging configuration.
    logs: Option<super::logging::ExecutionLogs>,
    /// Step Functions Local's mocked service integrations, for `StartExecution` on `arn#TestCase`.
    mock_config: Option<Arc<super::mock::MockConfig>>,
}

/// Appends an event to the history and to the execution log.
fn push(logs: &Option<super::logging::ExecutionLogs>, e: &mut Execution, event: HistoryEvent) {
    e.history.push(event);
    if let Some(l) = logs {
        l.write_last(e);
    }
}

fn to_epoch(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl StepFunctions {
    /// A service invoking Lambda through `invoker`, with waits on `clock`.
    pub fn new(invoker: TaskInvoker, clock: Clock) -> Self {
        Self {
            inner: Arc::default(),
            invoker,
            clock,
            drop_task_failed: false,
            skip_waits: false,
            logs: None,
            mock_config: None,
        }
    }

    /// Logs every execution's events as the stack's logging configuration says.
    pub fn with_logging(self, logs: super::logging::ExecutionLogs) -> Self {
        Self { logs: Some(logs), ..self }
    }

    /// Serves Step Functions Local's mocked service integrations from `config`: an execution
    /// started on `<state machine ARN>#<test case>` gets that test case's mocked Task results.
    pub fn with_mock_config(self, config: super::mock::MockConfig) -> Self {
        Self { mock_config: Some(Arc::new(config)), ..self }
    }

    /// What TestState runs tasks with: the invoker and clock executions use.
    pub(super) fn task_runtime(&self) -> (TaskInvoker, Clock) {
        (self.invoker.clone(), self.clock.clone())
    }

    /// Breaks histories as `breaks` say (for the harness's own tests).
    pub fn with_breaks(self, breaks: &crate::breaks::Breaks) -> Self {
        Self {
            drop_task_failed: breaks.has(crate::breaks::Break::DropTaskFailedEvents),
            skip_waits: breaks.has(crate::breaks::Break::SkipWaits),
            ..self
        }
    }

    /// Creates a state machine; returns its ARN.
    pub fn create_state_machine(&self, name: &str, definition: &str, role_arn: &str) -> Result<String, ApiError> {
        let parsed = Definition::parse(definition).map_err(|e| ApiError::client("InvalidDefinition", e.to_string()))?;
        let arn = format!("arn:aws:states:{}:{}:stateMachine:{name}", crate::REGION, crate::ACCOUNT_ID);
        let mut inner = self.inner.lock().unwrap();
        if let Some(existing) = inner.machines.get(&arn) {
            if existing.text != definition {
                return Err(ApiError::client(
                    "StateMachineAlreadyExists",
                    format!("State Machine Already Exists: '{arn}'"),
                ));
            }
            return Ok(arn);
        }
        inner.machines.insert(
            arn.clone(),
            Machine {
                name: name.into(),
                definition: Arc::new(parsed),
                text: definition.into(),
                role_arn: role_arn.into(),
                created: self.clock.now(),
            },
        );
        Ok(arn)
    }

    /// Starts an execution; a repeated name with the same input while running returns the same ARN.
    pub fn start_execution(
        &self,
        machine_arn: &str,
        name: Option<String>,
        input: Option<String>,
    ) -> Result<(String, SystemTime), ApiError> {
        let (machine_arn, mocks) = self.test_case(machine_arn)?;
        let input = input.unwrap_or_else(|| "{}".into());
        let parsed: Value = serde_json::from_str(&input)
            .map_err(|e| ApiError::client("InvalidExecutionInput", format!("Invalid execution input: {e}")))?;
        let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if name.is_empty()
            || name.len() > 80
            || name.chars().any(|c| " <>{}[]?*\"#%\\^|~`$&,;:/".contains(c) || c.is_control())
        {
            return Err(ApiError::client("InvalidName", format!("Invalid Name: '{name}'")));
        }
        let mut inner = self.inner.lock().unwrap();
        let machine = inner.machines.get(machine_arn).ok_or_else(|| {
            ApiError::client("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{machine_arn}'"))
        })?;
        let arn = format!("arn:aws:states:{}:{}:execution:{}:{name}", crate::REGION, crate::ACCOUNT_ID, machine.name);
        if let Some(existing) = inner.executions.get(&arn) {
            if existing.status == ExecutionStatus::Running && existing.input == input {
                return Ok((arn, existing.start));
            }
            return Err(ApiError::client("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'")));
        }
        let definition = machine.definition.clone();
        let role_arn = machine.role_arn.clone();
        let start = self.clock.now();
        let context = json!({
            "Execution": {"Id": arn, "Name": name, "Input": parsed, "StartTime": crate::events::s3_event_time(start), "RoleArn": role_arn},
            "StateMachine": {"Id": machine_arn, "Name": machine.name},
        });
        inner.executions.insert(
            arn.clone(),
            Execution {
                arn: arn.clone(),
                name: name.clone(),
                machine_arn: machine_arn.into(),
                status: ExecutionStatus::Running,
                input: input.clone(),
                output: None,
                error: None,
                cause: None,
                start,
                stop: None,
                history: Vec::new(),
            },
        );
        let e = inner.executions.get_mut(&arn).expect("just inserted");
        let started = HistoryEvent {
            kind: "ExecutionStarted".into(),
            timestamp: start,
            details: json!({"executionStartedEventDetails": {"input": input, "roleArn": role_arn}}),
        };
        push(&self.logs, e, started);
        inner.order.push(arn.clone());
        let token = CancellationToken::new();
        inner.cancel.insert(arn.clone(), token.clone());
        if let Some(m) = mocks {
            inner.mocks.insert(arn.clone(), Arc::new(m));
        }
        drop(inner);

        self.launch(&arn, &name, definition, context, parsed, token);
        Ok((arn, start))
    }

    /// Runs an execution already recorded as running, in the background.
    fn launch(
        &self,
        arn: &str,
        name: &str,
        definition: Arc<Definition>,
        context: Value,
        parsed: Value,
        token: CancellationToken,
    ) {
        let arn = arn.to_string();
        let name = name.to_string();
        let record_inner = self.inner.clone();
        let record_arn = arn.clone();
        let drop_task_failed = self.drop_task_failed;
        let clock = self.clock.clone();
        let logs = self.logs.clone();
        let mocks = self.inner.lock().unwrap().mocks.get(&arn).cloned();
        let run = Run {
            mocks,
            starting: std::sync::Mutex::new(Some(self.clock.busy())),
            transitions: Default::default(),
            timeout: definition.timeout_seconds,
            definition,
            context,
            invoker: self.invoker.clone(),
            clock: self.clock.clone(),
            skip_waits: self.skip_waits,
            record: Arc::new(move |kind: &str, details: Value| {
                if drop_task_failed && kind == "TaskFailed" {
                    return;
                }
                if let Some(e) = record_inner.lock().unwrap().executions.get_mut(&record_arn) {
                    push(&logs, e, HistoryEvent { kind: kind.into(), timestamp: clock.now(), details });
                }
            }),
        };
        let this = self.clone();
        let exec_arn = arn.clone();
        let span = info_span!("execution", name = %name);
        tokio::spawn(
            async move {
                let timeout = run.timeout.map(Duration::from_secs);
                let body = run.execute(parsed);
                let clock = this.clock.clone();
                let outcome = tokio::select! {
                    _ = token.cancelled() => None,
                    r = async { match timeout { Some(t) => clock.timeout(t, body).await.ok(), None => Some(body.await) } } => Some(r),
                };
                this.finish(&exec_arn, outcome);
            }
            .instrument(span),
        );
    }

    /// Stops every running execution where it is, recording nothing (the simulator is going
    /// away; with a data directory they are redriven when it starts again).
    pub fn shutdown(&self) {
        let tokens: Vec<CancellationToken> = self.inner.lock().unwrap().cancel.values().cloned().collect();
        tokens.iter().for_each(CancellationToken::cancel);
    }

    /// Every execution, oldest first (what `--data-dir` keeps).
    pub fn snapshot(&self) -> Vec<Execution> {
        let inner = self.inner.lock().unwrap();
        inner.order.iter().filter_map(|a| inner.executions.get(a).cloned()).collect()
    }

    /// Takes back the executions of an earlier run. Those that were running when it stopped
    /// are redriven from their start (an `ExecutionRedriven` event in their history): every
    /// state of the shipped machine is safe to run again. Returns how many were redriven.
    pub fn restore(&self, executions: Vec<Execution>) -> usize {
        let mut redriven = 0;
        for mut e in executions {
            let mut inner = self.inner.lock().unwrap();
            let Some(machine) = inner.machines.get(&e.machine_arn) else { continue };
            let definition = machine.definition.clone();
            let context = json!({
                "Execution": {"Id": e.arn, "Name": e.name, "Input": serde_json::from_str::<Value>(&e.input).unwrap_or(Value::Null),
                    "StartTime": crate::events::s3_event_time(e.start), "RoleArn": machine.role_arn, "RedriveCount": 1},
                "StateMachine": {"Id": e.machine_arn, "Name": machine.name},
            });
            let running = e.status == ExecutionStatus::Running;
            if running {
                let redriven = HistoryEvent {
                    kind: "ExecutionRedriven".into(),
                    timestamp: self.clock.now(),
                    details: json!({"executionRedrivenEventDetails": {"redriveCount": 1}}),
                };
                push(&self.logs, &mut e, redriven);
            }
            let (arn, name, input) = (e.arn.clone(), e.name.clone(), e.input.clone());
            inner.order.push(arn.clone());
            inner.executions.insert(arn.clone(), e);
            if running {
                let token = CancellationToken::new();
                inner.cancel.insert(arn.clone(), token.clone());
                drop(inner);
                let parsed = serde_json::from_str(&input).unwrap_or(Value::Null);
                self.launch(&arn, &name, definition, context, parsed, token);
                redriven += 1;
            }
        }
        redriven
    }

    fn finish(&self, arn: &str, outcome: Option<Option<Result<Value, super::failure::TaskFailure>>>) {
        let mut inner = self.inner.lock().unwrap();
        inner.cancel.remove(arn);
        inner.mocks.remove(arn);
        let Some(e) = inner.executions.get_mut(arn) else { return };
        if e.status != ExecutionStatus::Running {
            return;
        }
        let now = self.clock.now();
        e.stop = Some(now);
        let (status, kind, details) = match outcome {
            None => return,
            Some(None) => (
                ExecutionStatus::TimedOut,
                "ExecutionTimedOut",
                json!({"executionTimedOutEventDetails": {"error": "States.Timeout", "cause": "The execution timed out"}}),
            ),
            Some(Some(Ok(output))) => {
                e.output = Some(output.to_string());
                (
                    ExecutionStatus::Succeeded,
                    "ExecutionSucceeded",
                    json!({"executionSucceededEventDetails": {"output": output.to_string()}}),
                )
            }
            Some(Some(Err(f))) => {
                e.error = Some(f.error.clone());
                e.cause = f.cause.clone();
                (
                    ExecutionStatus::Failed,
                    "ExecutionFailed",
                    json!({"executionFailedEventDetails": f.error_output().as_object().map(|o| {
                        o.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect::<serde_json::Map<_, _>>()
                    })}),
                )
            }
        };
        if status == ExecutionStatus::TimedOut {
            e.error = Some("States.Timeout".into());
        }
        e.status = status;
        push(&self.logs, e, HistoryEvent { kind: kind.into(), timestamp: now, details });
        info!(execution = %e.name, status = status.as_str(), "execution finished");
    }

    /// Stops a running execution.
    pub fn stop_execution(
        &self,
        arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<SystemTime, ApiError> {
        let mut inner = self.inner.lock().unwrap();
        let token = inner.cancel.remove(arn);
        let e = inner.executions.get_mut(arn).ok_or_else(|| not_found(arn))?;
        let now = self.clock.now();
        if e.status == ExecutionStatus::Running {
            e.status = ExecutionStatus::Aborted;
            e.stop = Some(now);
            e.error = error.clone();
            e.cause = cause.clone();
            let aborted = HistoryEvent {
                kind: "ExecutionAborted".into(),
                timestamp: now,
                details: json!({"executionAbortedEventDetails": {"error": error, "cause": cause}}),
            };
            push(&self.logs, e, aborted);
        }
        if let Some(t) = token {
            t.cancel();
        }
        Ok(now)
    }

    /// A copy of one execution.
    pub fn execution(&self, arn: &str) -> Result<Execution, ApiError> {
        self.inner.lock().unwrap().executions.get(arn).cloned().ok_or_else(|| not_found(arn))
    }

    /// Executions of a machine, newest first, optionally by status.
    pub fn executions(&self, machine_arn: &str, status: Option<&str>) -> Result<Vec<Execution>, ApiError> {
        let inner = self.inner.lock().unwrap();
        if !inner.machines.contains_key(machine_arn) {
            return Err(ApiError::client(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{machine_arn}'"),
            ));
        }
        Ok(inner
            .order
            .iter()
            .rev()
            .filter_map(|a| inner.executions.get(a))
            .filter(|e| e.machine_arn == machine_arn && status.is_none_or(|s| e.status.as_str() == s))
            .cloned()
            .collect())
    }

    /// State machines (arn, name, created).
    pub fn machines(&self) -> Vec<(String, String, f64)> {
        let inner = self.inner.lock().unwrap();
        inner.machines.iter().map(|(a, m)| (a.clone(), m.name.clone(), to_epoch(m.created))).collect()
    }

    /// A machine's definition text and role.
    pub fn machine(&self, arn: &str) -> Result<(String, String, String, f64), ApiError> {
        let inner = self.inner.lock().unwrap();
        let m = inner.machines.get(arn).ok_or_else(|| {
            ApiError::client("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
        })?;
        Ok((m.name.clone(), m.text.clone(), m.role_arn.clone(), to_epoch(m.created)))
    }
}

impl StepFunctions {
    /// Splits Step Functions Local's test case suffix off a StartExecution ARN
    /// (`...:stateMachine:LambdaSQSIntegration#HappyPath`): the machine's own ARN, and the
    /// mocks of that test case. The developer guide does not say what Step Functions Local
    /// answers for a test case its file lacks; a ValidationException naming the ones it has
    /// tells the caller what to fix.
    fn test_case<'a>(&self, machine_arn: &'a str) -> Result<(&'a str, Option<super::mock::ExecutionMocks>), ApiError> {
        let Some((arn, case)) = machine_arn.split_once('#') else { return Ok((machine_arn, None)) };
        let Some(config) = &self.mock_config else {
            return Err(ApiError::client(
                "StateMachineDoesNotExist",
                format!(
                    "State Machine Does Not Exist: '{machine_arn}' (a '#TestCase' suffix selects a mocked test case: \
                     start the simulator with --sfn-mock-config FILE)"
                ),
            ));
        };
        let name = arn.rsplit(':').next().unwrap_or_default();
        let mocks = config.test_case(name, case).map_err(ApiError::validation)?;
        Ok((arn, Some(mocks)))
    }
}

fn not_found(arn: &str) -> ApiError {
    ApiError::client("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

/// Seconds since the epoch, as the JSON protocol carries timestamps.
pub fn epoch(t: SystemTime) -> f64 {
    to_epoch(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the state_machine fuzz target: a Choice that loops back to a Pass forever held its
    /// runtime thread and grew its history without end. It now fails at Step Functions' history
    /// quota, and can be stopped before that.
    #[tokio::test]
    async fn an_endless_loop_fails_at_the_history_quota_and_can_be_stopped() {
        let invoker: TaskInvoker = Arc::new(|_, p| Box::pin(async move { Ok(p) }));
        let sfn = StepFunctions::new(invoker, Clock::default());
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 0, "Next": "E"}], "Default": "P"},
            "E": {"Type": "Succeed"}}});
        let machine = sfn.create_state_machine("loop", &def.to_string(), "arn:aws:iam::000000000000:role/r").unwrap();
        let (arn, _) = sfn.start_execution(&machine, None, Some(r#"{"n": 1}"#.into())).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let e = loop {
            let e = sfn.execution(&arn).unwrap();
            if e.status != ExecutionStatus::Running || std::time::Instant::now() > deadline {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(e.status, ExecutionStatus::Failed);
        assert_eq!(e.error.as_deref(), Some("States.Runtime"));
        assert!(e.history.len() <= super::super::interpreter::MAX_HISTORY_EVENTS, "{} events", e.history.len());

        let (arn, _) = sfn.start_execution(&machine, Some("stopped".into()), Some(r#"{"n": 1}"#.into())).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        sfn.stop_execution(&arn, None, None).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sfn.execution(&arn).unwrap().status, ExecutionStatus::Aborted);
    }

    async fn finished(sfn: &StepFunctions, arn: &str) -> Execution {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let e = sfn.execution(arn).unwrap();
            if e.status != ExecutionStatus::Running || std::time::Instant::now() > deadline {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// `$$.State.RetryCount` is 0 on the first attempt, then 1, 2 on the retries
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html), and
    /// each retry waits IntervalSeconds x BackoffRate^n on the clock: on a virtual one, exactly.
    #[tokio::test]
    async fn retries_count_in_the_context_and_wait_their_schedule_on_a_virtual_clock() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let calls = seen.clone();
        let invoker: TaskInvoker = Arc::new(move |_, p: Value| {
            let calls = calls.clone();
            Box::pin(async move {
                let mut c = calls.lock().unwrap();
                c.push(p["retry"].as_u64().unwrap());
                if c.len() < 3 {
                    Err(super::super::TaskFailure::new("Busy", "try again"))
                } else {
                    Ok(json!({"done": true}))
                }
            })
        });
        let sfn = StepFunctions::new(invoker, Clock::virtual_time());
        let def = json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "Parameters": {"retry.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 10, "BackoffRate": 3.0, "MaxAttempts": 3}],
            "End": true}}});
        let machine = sfn.create_state_machine("m", &def.to_string(), "arn:aws:iam::000000000000:role/r").unwrap();
        let wall = std::time::Instant::now();
        let (arn, _) = sfn.start_execution(&machine, None, None).unwrap();
        let e = finished(&sfn, &arn).await;
        assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.error);
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2]);
        let at = |kind: &str, n: usize| e.history.iter().filter(|h| h.kind == kind).nth(n).unwrap().timestamp;
        let gap = |n| at("TaskScheduled", n + 1).duration_since(at("TaskFailed", n)).unwrap().as_secs_f64();
        assert!((10.0..10.5).contains(&gap(0)) && (30.0..30.5).contains(&gap(1)), "{} {}", gap(0), gap(1));
        assert!(wall.elapsed() < Duration::from_secs(5), "40 s of backoff took {:?}", wall.elapsed());
    }

    /// A Choice's Default branch passes its input on through the state's OutputPath, as a
    /// matched rule does (https://states-language.net/spec.html#choice-state: "Choice states
    /// ... InputPath and OutputPath").
    #[tokio::test]
    async fn a_choice_default_applies_output_path() {
        let invoker: TaskInvoker = Arc::new(|_, p| Box::pin(async move { Ok(p) }));
        let sfn = StepFunctions::new(invoker, Clock::default());
        let def = json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "OutputPath": "$.keep",
                "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "Done"}], "Default": "Done"},
            "Done": {"Type": "Succeed"}}});
        let machine = sfn.create_state_machine("c", &def.to_string(), "arn:aws:iam::000000000000:role/r").unwrap();
        for n in [0, 1] {
            let input = json!({"n": n, "keep": {"k": n}, "drop": true}).to_string();
            let (arn, _) = sfn.start_execution(&machine, None, Some(input)).unwrap();
            let e = finished(&sfn, &arn).await;
            assert_eq!(e.output.as_deref(), Some(json!({"k": n}).to_string().as_str()), "n = {n}");
        }
    }
}
