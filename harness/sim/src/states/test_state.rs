//! The TestState API (`AWSStepFunctions.TestState`): one state run once, in isolation, with
//! what it did at each data-processing step, and its retry and catch decision reported instead
//! of carried out (https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html,
//! API reference https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html).
//!
//! Expected values come from AWS-recorded LocalStack snapshots (`@markers.aws.validated`) in
//! localstack/localstack `tests/aws/services/stepfunctions/v2/test_state/`:
//! `test_state_mock_validation.snapshot.json` (validation messages),
//! `test_state_configuration.snapshot.json` (RETRIABLE, FAILED, CAUGHT_ERROR and errorDetails)
//! and `test_test_state_mock_scenarios.snapshot.json` (a mocked success).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::definition::{Definition, State};
use super::failure::TaskFailure;
use super::interpreter::{Run, error_matches, scheduled_backoff};
use super::paths;
use super::service::StepFunctions;
use crate::json_protocol::{ApiError, parse_input};

/// TestState's request (`TestStateInput` in the service model).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestStateInput {
    definition: String,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    inspection_level: Option<String>,
    #[serde(default)]
    reveal_secrets: Option<bool>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    state_name: Option<String>,
    #[serde(default)]
    mock: Option<MockInput>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    state_configuration: Option<StateConfiguration>,
}

/// `MockInput`: the state's result or error, instead of calling its service.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MockInput {
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    error_output: Option<MockErrorOutput>,
    /// STRICT (default), PRESENT or NONE: how closely a mocked result must match the API's
    /// response shape. The simulator has no service models, so it checks only that the result
    /// is JSON (AWS refuses non-JSON even under NONE).
    #[serde(default)]
    #[allow(dead_code)]
    field_validation_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MockErrorOutput {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

/// `TestStateConfiguration`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateConfiguration {
    /// How many retries the state has already had: decides RETRIABLE against MaxAttempts.
    #[serde(default)]
    retrier_retry_count: Option<u32>,
}

/// What the test decided.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Succeeded,
    Failed,
    Retriable,
    CaughtError,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Retriable => "RETRIABLE",
            Self::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// The data after each processing step, for `inspectionData` (DEBUG and TRACE).
#[derive(Debug, Default)]
struct Trace {
    after_input_path: Option<Value>,
    after_parameters: Option<Value>,
    result: Option<Value>,
    after_result_selector: Option<Value>,
    after_result_path: Option<Value>,
}

/// The state's result: from the mock, or from its service.
enum Source {
    Result(Value),
    Error(TaskFailure),
    Service,
}

/// The name TestState gives a state tested on its own (`$$.State.Name` in the AWS-recorded
/// context of `test_state_configuration.snapshot.json`).
const SINGLE_STATE_NAME: &str = "StateName";

fn invalid_definition(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidDefinition", message)
}

/// A lone state as a one-state definition, with placeholder states for the names it points to,
/// so the creation-time checks of [`Definition::parse`] apply to it as they do to a machine.
fn single_state_definition(text: &str) -> Result<Definition, ApiError> {
    let state: Value = serde_json::from_str(text)
        .map_err(|e| invalid_definition(format!("Invalid State Machine Definition: not JSON: {e}")))?;
    if !state.is_object() {
        return Err(invalid_definition("Invalid State Machine Definition: a state must be a JSON object"));
    }
    let mut states = Map::new();
    let mut targets: Vec<&str> = Vec::new();
    targets.extend(state.get("Next").and_then(Value::as_str));
    targets.extend(state.get("Default").and_then(Value::as_str));
    for list in ["Catch", "Choices"] {
        for entry in state.get(list).and_then(Value::as_array).into_iter().flatten() {
            targets.extend(entry.get("Next").and_then(Value::as_str));
        }
    }
    for t in targets {
        states.insert(t.to_string(), json!({"Type": "Succeed"}));
    }
    states.insert(SINGLE_STATE_NAME.into(), state.clone());
    let def = json!({"StartAt": SINGLE_STATE_NAME, "States": states});
    Definition::parse(&def.to_string()).map_err(|e| invalid_definition(e.to_string()))
}

/// `$$` for the tested state: an express execution's context (AWS records
/// `arn:...:express:...` ids), with the caller's `context` merged over it.
fn context_object(name: &str, input: &Value, role_arn: &str, retry_count: u32, given: Option<Value>) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    let machine = "TestStateMachine";
    let mut ctx = json!({
        "Execution": {
            "Id": format!("arn:aws:states:{}:{}:express:{machine}:{id}", crate::REGION, crate::ACCOUNT_ID),
            "Input": input,
            "Name": id,
            "RoleArn": role_arn,
            "StartTime": crate::iso_now(),
        },
        "StateMachine": {
            "Id": format!("arn:aws:states:{}:{}:stateMachine:{machine}", crate::REGION, crate::ACCOUNT_ID),
            "Name": machine,
        },
        "State": {"Name": name, "EnteredTime": crate::iso_now(), "RetryCount": retry_count},
    });
    if let Some(given) = given {
        merge(&mut ctx, given);
    }
    ctx
}

/// Objects merge key by key; anything else replaces.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Runs one TestState request.
pub async fn handle(sfn: &StepFunctions, body: &[u8]) -> Result<Value, ApiError> {
    let input: TestStateInput = parse_input(body)?;
    let level = input.inspection_level.as_deref().unwrap_or("INFO");
    if !matches!(level, "INFO" | "DEBUG" | "TRACE") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: \
             Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
        )));
    }
    let (definition, name) = match &input.state_name {
        Some(name) => {
            let def = Definition::parse(&input.definition).map_err(|e| invalid_definition(e.to_string()))?;
            if !def.states.contains_key(name) {
                return Err(invalid_definition(format!(
                    "State '{name}' is not defined in the state machine definition"
                )));
            }
            (def, name.clone())
        }
        None => (single_state_definition(&input.definition)?, SINGLE_STATE_NAME.to_string()),
    };
    let state = definition.states[&name].clone();

    let source = match &input.mock {
        Some(mock) => {
            if !matches!(state.kind.as_str(), "Task" | "Map" | "Parallel") {
                return Err(ApiError::validation(format!(
                    "State type '{}' is not supported when a mock is specified",
                    state.kind
                )));
            }
            if input.reveal_secrets == Some(true) {
                return Err(ApiError::validation("TestState does not support RevealSecrets when a mock is specified."));
            }
            match (&mock.result, &mock.error_output) {
                (Some(r), None) => {
                    let v: Value = serde_json::from_str(r)
                        .map_err(|e| ApiError::validation(format!("Mocked result must be valid JSON: {e}")))?;
                    check_mocked_result(&state, &v)?;
                    Source::Result(v)
                }
                (None, Some(e)) => {
                    Source::Error(TaskFailure { error: e.error.clone().unwrap_or_default(), cause: e.cause.clone() })
                }
                _ => {
                    return Err(ApiError::validation(
                        "A test mock should have only one of the following fields: [result, errorOutput].",
                    ));
                }
            }
        }
        None if matches!(state.kind.as_str(), "Map" | "Parallel") => {
            return Err(invalid_definition(
                "TestState API does not support Map or Parallel states. Supported state types include: \
                 [Task, Wait, Pass, Succeed, Fail, Choice]",
            ));
        }
        None => Source::Service,
    };

    let raw_input: Value = serde_json::from_str(input.input.as_deref().unwrap_or("{}")).map_err(|e| {
        ApiError::client("InvalidExecutionInput", format!("Invalid State Machine Execution Input: {e}"))
    })?;
    let given_context = match &input.context {
        Some(c) => Some(
            serde_json::from_str::<Value>(c)
                .map_err(|e| ApiError::validation(format!("context must be a JSON object: {e}")))?,
        ),
        None => None,
    };
    let retry_count = input.state_configuration.as_ref().and_then(|c| c.retrier_retry_count).unwrap_or(0);
    let role = input.role_arn.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:role/TestState", crate::ACCOUNT_ID));
    let ctx = context_object(&name, &raw_input, &role, retry_count, given_context);

    let mut trace = Trace::default();
    let run = Tested { sfn, definition: Arc::new(definition.clone()), name: &name, state: &state, ctx: &ctx };
    let outcome = run.evaluate(raw_input.clone(), source, &mut trace).await;

    let mut out = Map::new();
    let mut error_details = Map::new();
    let status = match outcome {
        Ok((output, next)) => {
            out.insert("output".into(), json!(output.to_string()));
            if let Some(n) = next {
                out.insert("nextState".into(), json!(n));
            }
            Status::Succeeded
        }
        Err(failure) => {
            out.insert("error".into(), json!(failure.error));
            if let Some(c) = &failure.cause {
                out.insert("cause".into(), json!(c));
            }
            decide(&state, raw_input, &failure, retry_count, &mut out, &mut error_details)
        }
    };
    out.insert("status".into(), json!(status.as_str()));
    if level != "INFO" {
        let mut data = Map::new();
        let steps = [
            ("input", Some(&ctx["Execution"]["Input"])),
            ("afterInputPath", trace.after_input_path.as_ref()),
            ("afterParameters", trace.after_parameters.as_ref()),
            ("result", trace.result.as_ref()),
            ("afterResultSelector", trace.after_result_selector.as_ref()),
            ("afterResultPath", trace.after_result_path.as_ref()),
        ];
        for (k, v) in steps {
            if let Some(v) = v {
                data.insert(k.into(), json!(v.to_string()));
            }
        }
        // No Assign in this interpreter: the variables after the state are those it was given.
        if let Some(v) = &input.variables {
            data.insert("variables".into(), json!(v));
        }
        if !error_details.is_empty() {
            data.insert("errorDetails".into(), Value::Object(error_details));
        }
        out.insert("inspectionData".into(), Value::Object(data));
    }
    Ok(Value::Object(out))
}

/// A mocked Map or Parallel result must be an array (Parallel: one item per branch); the
/// messages are AWS's (`test_state_mock_validation.snapshot.json`).
fn check_mocked_result(state: &State, v: &Value) -> Result<(), ApiError> {
    match state.kind.as_str() {
        "Map" | "Parallel" if !v.is_array() => Err(ApiError::validation("Mocked result must be an array.")),
        "Parallel" if v.as_array().map(Vec::len) != Some(state.branches.len()) => Err(ApiError::validation(
            "Mocked result must contain the same number of items as number of Parallel branches.",
        )),
        _ => Ok(()),
    }
}

/// What a failed state would do next, reported rather than done: a matching retrier with
/// attempts left makes it RETRIABLE (with the backoff it would wait); otherwise a matching
/// catcher makes it CAUGHT_ERROR (its Next, the error output placed at its ResultPath);
/// otherwise FAILED. `retryIndex` is reported whenever a retrier matched, spent or not
/// (AWS-recorded FAILED with `{"retryIndex": 0}` at retrierRetryCount = MaxAttempts).
fn decide(
    state: &State,
    raw_input: Value,
    failure: &TaskFailure,
    retry_count: u32,
    out: &mut Map<String, Value>,
    details: &mut Map<String, Value>,
) -> Status {
    if let Some((i, r)) = state.retry.iter().enumerate().find(|(_, r)| error_matches(&r.error_equals, &failure.error)) {
        details.insert("retryIndex".into(), json!(i));
        if retry_count < r.max_attempts {
            // The schedule before jitter: a FULL jitter's random draw would make the answer
            // differ from call to call.
            let secs = scheduled_backoff(r, retry_count);
            details.insert("retryBackoffIntervalSeconds".into(), json!(secs.round() as u64));
            return Status::Retriable;
        }
    }
    if let Some((i, c)) = state.catch.iter().enumerate().find(|(_, c)| error_matches(&c.error_equals, &failure.error)) {
        return match paths::place(raw_input, c.result_path.as_deref(), failure.error_output()) {
            Ok(output) => {
                details.insert("catchIndex".into(), json!(i));
                out.insert("output".into(), json!(output.to_string()));
                out.insert("nextState".into(), json!(c.next));
                Status::CaughtError
            }
            Err(e) => {
                out.insert("error".into(), json!(e.error));
                out.insert("cause".into(), json!(e.message));
                Status::Failed
            }
        };
    }
    Status::Failed
}

/// The state under test and where it runs.
struct Tested<'a> {
    sfn: &'a StepFunctions,
    definition: Arc<Definition>,
    name: &'a str,
    state: &'a State,
    ctx: &'a Value,
}

impl Tested<'_> {
    /// The state's output and next state, or its failure; `trace` records each step.
    async fn evaluate(
        &self,
        raw_input: Value,
        source: Source,
        trace: &mut Trace,
    ) -> Result<(Value, Option<String>), TaskFailure> {
        let s = self.state;
        let ctx = self.ctx;
        let effective = match &s.input_path {
            Some(p) => paths::select(p, &raw_input, ctx, "InputPath")?,
            None => json!({}),
        };
        trace.after_input_path = Some(effective.clone());
        let output_of = |v: &Value| -> Result<Value, TaskFailure> {
            Ok(match &s.output_path {
                Some(p) => paths::select(p, v, ctx, "OutputPath")?,
                None => json!({}),
            })
        };
        let next = s.next.clone();
        match s.kind.as_str() {
            "Succeed" => Ok((output_of(&effective)?, None)),
            "Fail" => {
                let pick =
                    |path: &Option<String>, fixed: &Option<String>, field| -> Result<Option<String>, TaskFailure> {
                        Ok(match path {
                            Some(p) => paths::select(p, &raw_input, ctx, field)?.as_str().map(str::to_string),
                            None => fixed.clone(),
                        })
                    };
                let error = pick(&s.error_path, &s.error, "ErrorPath")?.unwrap_or_default();
                let cause = pick(&s.cause_path, &s.cause, "CausePath")?;
                Err(TaskFailure { error, cause })
            }
            // TestState never waits: the state's output comes back at once.
            "Wait" => Ok((output_of(&effective)?, next)),
            "Choice" => {
                for rule in &s.choices {
                    if super::choice::evaluate(rule, &effective, ctx)? {
                        let target = rule["Next"].as_str().unwrap_or_default().to_string();
                        return Ok((output_of(&effective)?, Some(target)));
                    }
                }
                match &s.default {
                    Some(d) => Ok((output_of(&effective)?, Some(d.clone()))),
                    None => Err(TaskFailure::new(
                        "States.NoChoiceMatched",
                        format!("No Choice Rules matched and no Default was specified in state '{}'", self.name),
                    )),
                }
            }
            "Pass" | "Task" | "Map" | "Parallel" => {
                let params = match &s.parameters {
                    Some(t) => {
                        let filled = paths::fill(t, &effective, ctx)?;
                        trace.after_parameters = Some(filled.clone());
                        filled
                    }
                    None => effective,
                };
                let result = match (s.kind.as_str(), source) {
                    ("Pass", _) => s.result.clone().unwrap_or(params),
                    (_, Source::Result(v)) => v,
                    (_, Source::Error(f)) => return Err(f),
                    (_, Source::Service) => self.call_service(params).await?,
                };
                trace.result = Some(result.clone());
                let result = match (&s.result_selector, s.kind.as_str()) {
                    (Some(t), "Task" | "Map" | "Parallel") => {
                        let selected = paths::fill(t, &result, ctx)?;
                        trace.after_result_selector = Some(selected.clone());
                        selected
                    }
                    _ => result,
                };
                let placed = paths::place(raw_input, s.result_path.as_deref(), result)?;
                trace.after_result_path = Some(placed.clone());
                Ok((output_of(&placed)?, next))
            }
            other => Err(TaskFailure::new("States.Runtime", format!("state type {other} is not supported"))),
        }
    }

    /// One call of the Task's resource through the simulator's services, as an execution
    /// would make it (no history is kept: TestState has none).
    async fn call_service(&self, params: Value) -> Result<Value, TaskFailure> {
        let (invoker, clock) = self.sfn.task_runtime();
        let run = Run {
            definition: self.definition.clone(),
            context: self.ctx.clone(),
            invoker,
            clock,
            record: Arc::new(|_: &str, _: Value| {}),
            timeout: None,
            transitions: Default::default(),
            mocks: None,
            skip_waits: false,
            starting: Default::default(),
        };
        let resource = self.state.resource.clone().unwrap_or_default();
        run.invoke_once(self.name, &resource, self.state, params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> StepFunctions {
        // The "service" echoes its payload, so an unmocked Task's result is its input.
        let invoker: super::super::TaskInvoker = Arc::new(|_, p| Box::pin(async move { Ok(json!({"echo": p})) }));
        StepFunctions::new(invoker, super::super::Clock::default())
    }

    async fn test_state(body: Value) -> Result<Value, ApiError> {
        handle(&service(), body.to_string().as_bytes()).await
    }

    fn task(extra: Value) -> String {
        let mut t = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "Next": "After"});
        merge(&mut t, extra);
        t.to_string()
    }

    /// `test_test_state_mock_scenarios.snapshot.json` (recorded 24-11-2025): a mocked result
    /// on a `lambda:invoke` Task at INFO is the output, as a JSON string, and SUCCEEDED.
    #[tokio::test]
    async fn a_mocked_result_is_the_output() {
        let mock = r#"{"Payload": "function output", "SdkHttpMetadata": {"HttpStatusCode": 200}}"#;
        let def = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"}, "End": true});
        let out =
            test_state(json!({"definition": def.to_string(), "input": "{}", "mock": {"result": mock}})).await.unwrap();
        assert_eq!(out["status"], "SUCCEEDED");
        assert_eq!(
            serde_json::from_str::<Value>(out["output"].as_str().unwrap()).unwrap(),
            serde_json::from_str::<Value>(mock).unwrap()
        );
        assert!(out.get("nextState").is_none() && out.get("inspectionData").is_none(), "{out}");
    }

    #[tokio::test]
    async fn debug_shows_each_data_processing_step() {
        let def = task(json!({"ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.r", "OutputPath": "$.r"}));
        let out = test_state(json!({"definition": def, "input": r#"{"k": 1}"#, "inspectionLevel": "DEBUG",
            "mock": {"result": r#"{"Payload": {"ok": true}}"#}}))
        .await
        .unwrap();
        assert_eq!(out["nextState"], "After");
        assert_eq!(out["output"], r#"{"p":{"ok":true}}"#);
        let d = &out["inspectionData"];
        assert_eq!(d["input"], r#"{"k":1}"#);
        assert_eq!(d["afterInputPath"], r#"{"k":1}"#);
        assert_eq!(d["afterParameters"], r#"{"FunctionName":"f","Payload":{"k":1}}"#);
        assert_eq!(d["result"], r#"{"Payload":{"ok":true}}"#);
        assert_eq!(d["afterResultSelector"], r#"{"p":{"ok":true}}"#);
        assert_eq!(d["afterResultPath"], r#"{"k":1,"r":{"p":{"ok":true}}}"#);
    }

    /// `test_state_configuration.snapshot.json` (recorded Nov 2025): Retry {IntervalSeconds 1,
    /// MaxAttempts 5, BackoffRate 2}, a mocked error and retrierRetryCount 4 is RETRIABLE with
    /// `{"retryBackoffIntervalSeconds": 16, "retryIndex": 0}`, no output and no nextState; at
    /// retrierRetryCount 5 it is FAILED with `{"retryIndex": 0}`.
    #[tokio::test]
    async fn retriers_decide_retriable_until_their_attempts_are_spent() {
        let def = task(
            json!({"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2}]}),
        );
        let request = |count: u32| {
            json!({"definition": def, "inspectionLevel": "DEBUG", "stateConfiguration": {"retrierRetryCount": count},
                "mock": {"errorOutput": {"error": "MockException", "cause": "Mock the error cause."}}})
        };
        let out = test_state(request(4)).await.unwrap();
        assert_eq!(out["status"], "RETRIABLE");
        assert_eq!((&out["error"], &out["cause"]), (&json!("MockException"), &json!("Mock the error cause.")));
        assert_eq!(out["inspectionData"]["errorDetails"], json!({"retryBackoffIntervalSeconds": 16, "retryIndex": 0}));
        assert!(out.get("output").is_none() && out.get("nextState").is_none(), "{out}");
        let out = test_state(request(5)).await.unwrap();
        assert_eq!(out["status"], "FAILED");
        assert_eq!(out["inspectionData"]["errorDetails"], json!({"retryIndex": 0}));
    }

    #[tokio::test]
    async fn max_delay_caps_the_backoff() {
        let def = task(
            json!({"Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 3, "BackoffRate": 2, "MaxDelaySeconds": 5}]}),
        );
        let out = test_state(json!({"definition": def, "inspectionLevel": "DEBUG",
            "stateConfiguration": {"retrierRetryCount": 2}, "mock": {"errorOutput": {"error": "E", "cause": "c"}}}))
        .await
        .unwrap();
        assert_eq!(out["inspectionData"]["errorDetails"]["retryBackoffIntervalSeconds"], 5);
    }

    /// Same snapshot file: a caught error is CAUGHT_ERROR with the catcher's Next, the error
    /// output where the catcher's ResultPath puts it, and `catchIndex`.
    #[tokio::test]
    async fn a_caught_error_goes_to_the_catchers_next() {
        let def = task(json!({"Catch": [{"ErrorEquals": ["Other"], "Next": "Elsewhere"},
            {"ErrorEquals": ["States.TaskFailed"], "Next": "HandleFailure", "ResultPath": "$.error"}]}));
        let out = test_state(json!({"definition": def, "input": r#"{"k": 1}"#, "inspectionLevel": "DEBUG",
            "mock": {"errorOutput": {"error": "States.TaskFailed", "cause": "boom"}}}))
        .await
        .unwrap();
        assert_eq!(out["status"], "CAUGHT_ERROR");
        assert_eq!(out["nextState"], "HandleFailure");
        assert_eq!(out["error"], "States.TaskFailed");
        assert_eq!(
            serde_json::from_str::<Value>(out["output"].as_str().unwrap()).unwrap(),
            json!({"k": 1, "error": {"Error": "States.TaskFailed", "Cause": "boom"}})
        );
        assert_eq!(out["inspectionData"]["errorDetails"], json!({"catchIndex": 1}));
    }

    /// `test_state_mock_validation.snapshot.json`: AWS's own messages.
    #[tokio::test]
    async fn mocks_are_validated_as_aws_validates_them() {
        let both = test_state(json!({"definition": task(json!({})),
            "mock": {"result": "{}", "errorOutput": {"error": "E", "cause": "c"}}}))
        .await
        .unwrap_err();
        assert_eq!(
            (both.code, both.message.as_str()),
            ("ValidationException", "A test mock should have only one of the following fields: [result, errorOutput].")
        );
        for kind in ["Pass", "Fail", "Succeed"] {
            let mut state = json!({"Type": kind});
            if kind == "Pass" {
                state["End"] = json!(true);
            }
            let e = test_state(json!({"definition": state.to_string(), "mock": {"result": "{}"}})).await.unwrap_err();
            assert_eq!(e.message, format!("State type '{kind}' is not supported when a mock is specified"));
        }
        let parallel = json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]});
        let e = test_state(json!({"definition": parallel.to_string()})).await.unwrap_err();
        assert_eq!(e.code, "InvalidDefinition");
        assert!(e.message.starts_with("TestState API does not support Map or Parallel states."), "{}", e.message);
        let e = test_state(json!({"definition": parallel.to_string(), "mock": {"result": "{}"}})).await.unwrap_err();
        assert_eq!(e.message, "Mocked result must be an array.");
        let e =
            test_state(json!({"definition": parallel.to_string(), "mock": {"result": "[1, 2]"}})).await.unwrap_err();
        assert_eq!(e.message, "Mocked result must contain the same number of items as number of Parallel branches.");
        let ok = test_state(json!({"definition": parallel.to_string(), "mock": {"result": "[1]"}})).await.unwrap();
        assert_eq!(ok["output"], "[1]");
        let e = test_state(json!({"definition": task(json!({})), "mock": {"result": "not json"}})).await.unwrap_err();
        assert_eq!(e.code, "ValidationException");
    }

    #[tokio::test]
    async fn an_unmocked_task_calls_the_service_once() {
        let out = test_state(json!({"definition": task(json!({})), "input": r#"{"k": 1}"#})).await.unwrap();
        let output: Value = serde_json::from_str(out["output"].as_str().unwrap()).unwrap();
        assert_eq!(output["Payload"], json!({"echo": {"k": 1}}), "lambda:invoke's response wraps the function's");
        assert_eq!(out["status"], "SUCCEEDED");
    }

    #[tokio::test]
    async fn flow_states_without_a_mock() {
        let choice = json!({"Type": "Choice", "Default": "D",
            "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}]});
        let out = test_state(json!({"definition": choice.to_string(), "input": r#"{"n": 2}"#})).await.unwrap();
        assert_eq!((&out["status"], &out["nextState"]), (&json!("SUCCEEDED"), &json!("Big")));
        // A Wait of a day answers at once.
        let wait = json!({"Type": "Wait", "Seconds": 86400, "Next": "W"});
        let out = test_state(json!({"definition": wait.to_string()})).await.unwrap();
        assert_eq!(out["nextState"], "W");
        let fail = json!({"Type": "Fail", "Error": "Bad", "Cause": "why"});
        let out = test_state(json!({"definition": fail.to_string()})).await.unwrap();
        assert_eq!((&out["status"], &out["error"], &out["cause"]), (&json!("FAILED"), &json!("Bad"), &json!("why")));
        let pass = json!({"Type": "Pass", "Parameters": {"who.$": "$$.State.Name", "x.$": "$$.Extra"}, "End": true});
        let out = test_state(json!({"definition": pass.to_string(), "context": r#"{"Extra": 7}"#})).await.unwrap();
        assert_eq!(out["output"], r#"{"who":"StateName","x":7}"#, "context merges into $$");
    }

    #[tokio::test]
    async fn state_name_picks_a_state_of_a_whole_machine() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "Next": "C"},
            "C": {"Type": "Succeed"}}});
        let out =
            test_state(json!({"definition": def.to_string(), "stateName": "B", "mock": {"result": "{\"r\": 1}"}}))
                .await
                .unwrap();
        assert_eq!((&out["output"], &out["nextState"]), (&json!(r#"{"r":1}"#), &json!("C")));
        let e = test_state(json!({"definition": def.to_string(), "stateName": "Z"})).await.unwrap_err();
        assert_eq!(e.code, "InvalidDefinition");
    }
}
