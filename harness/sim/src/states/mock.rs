//! Step Functions Local's mocked service integrations: the `MockConfigFile.json` format
//! (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html) and the
//! per-execution bookkeeping that hands a Task state its mocked response by call number.
//!
//! An execution uses a test case when StartExecution's `stateMachineArn` ends with
//! `#TestCaseName` (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-test-sm-exec.html).
//! Task states the test case names never reach their service; the others call it as usual.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::failure::TaskFailure;

/// Why a mock configuration file cannot be used: what, where (a JSON pointer into the file),
/// and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum MockConfigError {
    /// The file could not be read.
    #[error("cannot read the Step Functions mock config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{file}: not JSON: {message}")]
    Json {
        /// The file (or `<text>`).
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The JSON does not have the shape Step Functions Local reads.
    #[error("{file} at {at}: {reason}")]
    Invalid {
        /// The file (or `<text>`).
        file: String,
        /// JSON pointer (`/MockedResponses/MockedLambdaRetry/1-2/Throw/Cause`).
        at: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// What one mocked invocation does: `Return` a result or `Throw` an error.
#[derive(Debug, Clone, PartialEq)]
pub enum MockedOutcome {
    /// The Task's result, as the service would have returned it (for `lambda:invoke`, the
    /// whole Invoke response: `StatusCode`, `Payload`, ...).
    Return(Value),
    /// The Task fails with this error and cause (matched by Retry and Catch).
    Throw {
        /// Error name.
        error: String,
        /// Cause.
        cause: String,
    },
}

/// One `MockedResponses` entry: outcomes by invocation number, ranges inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct MockedResponse {
    /// `(first, last, outcome)`, sorted and without overlaps (checked at parse).
    pub invocations: Vec<(u32, u32, MockedOutcome)>,
}

impl MockedResponse {
    /// The outcome for the `n`-th call (0-based), if the file gives one.
    pub fn outcome(&self, n: u32) -> Option<&MockedOutcome> {
        self.invocations.iter().find(|(a, b, _)| (*a..=*b).contains(&n)).map(|(_, _, o)| o)
    }
}

/// A parsed `MockConfigFile.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockConfig {
    /// State machine name -> test case name -> state name -> mocked response name.
    pub state_machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// Mocked responses by name.
    pub responses: BTreeMap<String, MockedResponse>,
}

/// Escapes a name for a JSON pointer (RFC 6901).
fn pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl MockConfig {
    /// Reads and checks a mock configuration file.
    pub fn load(path: &Path) -> Result<Self, MockConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| MockConfigError::Read { path: path.into(), source })?;
        Self::parse_named(&text, &path.display().to_string())
    }

    /// Parses mock configuration text.
    pub fn parse(text: &str) -> Result<Self, MockConfigError> {
        Self::parse_named(text, "<text>")
    }

    fn parse_named(text: &str, file: &str) -> Result<Self, MockConfigError> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| MockConfigError::Json { file: file.into(), message: e.to_string() })?;
        let bad = |at: String, reason: String| MockConfigError::Invalid { file: file.into(), at, reason };
        let object = |v: &Value, at: &str, what: &str| -> Result<serde_json::Map<String, Value>, MockConfigError> {
            v.as_object().cloned().ok_or_else(|| bad(at.into(), format!("{what} must be a JSON object, found {v}")))
        };
        let root = object(&root, "", "the mock config")?;
        for key in root.keys() {
            if key != "StateMachines" && key != "MockedResponses" {
                return Err(bad(
                    format!("/{}", pointer(key)),
                    format!("unknown field {key:?}: the top level has only StateMachines and MockedResponses"),
                ));
            }
        }

        let mut responses = BTreeMap::new();
        let empty = Value::Object(Default::default());
        let raw_responses =
            object(root.get("MockedResponses").unwrap_or(&empty), "/MockedResponses", "MockedResponses")?;
        for (name, entry) in &raw_responses {
            let at = format!("/MockedResponses/{}", pointer(name));
            let entry = object(entry, &at, "a mocked response")?;
            let mut invocations = Vec::new();
            for (key, response) in &entry {
                let at = format!("{at}/{}", pointer(key));
                let (first, last) = invocation_range(key).ok_or_else(|| {
                    bad(
                        at.clone(),
                        format!(
                            "{key:?} is not an invocation number: use \"0\", \"1\", ... or an inclusive range \"1-2\" (first <= last)"
                        ),
                    )
                })?;
                let response = object(response, &at, "an invocation's response")?;
                let outcome = match (response.get("Return"), response.get("Throw"), response.len()) {
                    (Some(v), None, 1) => MockedOutcome::Return(v.clone()),
                    (None, Some(t), 1) => {
                        let field = |f: &str| -> Result<String, MockConfigError> {
                            t.get(f).and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
                                bad(
                                    format!("{at}/Throw/{f}"),
                                    format!("Throw needs {f} as a string (\"Throw\": {{\"Error\": \"...\", \"Cause\": \"...\"}})"),
                                )
                            })
                        };
                        MockedOutcome::Throw { error: field("Error")?, cause: field("Cause")? }
                    }
                    _ => {
                        let fields: Vec<&String> = response.keys().collect();
                        return Err(bad(
                            at,
                            format!("a response must contain a single field named Return or Throw, found {fields:?}"),
                        ));
                    }
                };
                invocations.push((first, last, outcome));
            }
            invocations.sort_by_key(|(a, _, _)| *a);
            for pair in invocations.windows(2) {
                if pair[1].0 <= pair[0].1 {
                    return Err(bad(
                        at,
                        format!(
                            "invocations {}-{} and {}-{} overlap: give each call number one response",
                            pair[0].0, pair[0].1, pair[1].0, pair[1].1
                        ),
                    ));
                }
            }
            responses.insert(name.clone(), MockedResponse { invocations });
        }

        let mut state_machines = BTreeMap::new();
        let raw_machines = object(root.get("StateMachines").unwrap_or(&empty), "/StateMachines", "StateMachines")?;
        for (machine, value) in &raw_machines {
            let at = format!("/StateMachines/{}", pointer(machine));
            let value = object(value, &at, "a state machine's entry")?;
            let cases = value.get("TestCases").ok_or_else(|| {
                bad(
                    at.clone(),
                    "a state machine's entry needs TestCases: {\"TestCases\": {\"HappyPath\": {...}}}".into(),
                )
            })?;
            if let Some(other) = value.keys().find(|k| *k != "TestCases") {
                return Err(bad(
                    format!("{at}/{}", pointer(other)),
                    format!("unknown field {other:?}: a state machine's entry has only TestCases"),
                ));
            }
            let at = format!("{at}/TestCases");
            let mut parsed_cases = BTreeMap::new();
            for (case, states) in &object(cases, &at, "TestCases")? {
                let at = format!("{at}/{}", pointer(case));
                let mut mapping = BTreeMap::new();
                for (state, response) in &object(states, &at, "a test case")? {
                    let at = format!("{at}/{}", pointer(state));
                    let response = response.as_str().ok_or_else(|| {
                        bad(
                            at.clone(),
                            format!("a test case maps a state name to a MockedResponses name, found {response}"),
                        )
                    })?;
                    if !responses.contains_key(response) {
                        return Err(bad(
                            at,
                            format!(
                                "no mocked response named {response:?}: define it under MockedResponses (defined: {:?})",
                                responses.keys().collect::<Vec<_>>()
                            ),
                        ));
                    }
                    mapping.insert(state.clone(), response.to_string());
                }
                parsed_cases.insert(case.clone(), mapping);
            }
            state_machines.insert(machine.clone(), parsed_cases);
        }
        Ok(Self { state_machines, responses })
    }

    /// The mocks of one execution of `machine` under `test_case`; the error says what the file
    /// defines instead.
    pub fn test_case(&self, machine: &str, test_case: &str) -> Result<ExecutionMocks, String> {
        let cases = self.state_machines.get(machine).ok_or_else(|| {
            format!(
                "the Step Functions mock config has no state machine named {machine:?} (it defines {:?})",
                self.state_machines.keys().collect::<Vec<_>>()
            )
        })?;
        let states = cases.get(test_case).ok_or_else(|| {
            format!(
                "the Step Functions mock config has no test case {test_case:?} for state machine {machine:?} (it defines {:?})",
                cases.keys().collect::<Vec<_>>()
            )
        })?;
        let states = states
            .iter()
            .map(|(state, response)| {
                let mocked = MockedState {
                    response_name: response.clone(),
                    response: self.responses[response].clone(),
                    calls: Mutex::new(0),
                };
                (state.clone(), mocked)
            })
            .collect();
        Ok(ExecutionMocks { test_case: test_case.into(), states })
    }
}

/// `"3"` -> (3, 3); `"1-2"` -> (1, 2).
fn invocation_range(key: &str) -> Option<(u32, u32)> {
    let number = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) { None } else { s.parse().ok() }
    };
    match key.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            (a <= b).then_some((a, b))
        }
        None => number(key).map(|n| (n, n)),
    }
}

#[derive(Debug)]
struct MockedState {
    response_name: String,
    response: MockedResponse,
    /// Calls so far: retries and later visits each take the next number.
    calls: Mutex<u32>,
}

/// One execution's mocked Task states, each counting its calls.
#[derive(Debug)]
pub struct ExecutionMocks {
    test_case: String,
    states: BTreeMap<String, MockedState>,
}

impl ExecutionMocks {
    /// The next outcome of `state`'s task: `None` when the test case does not mock the state
    /// (it calls the real service). A call number the response does not cover fails the task
    /// with `States.Runtime`, as Step Functions Local does when "you do not specify a mocked
    /// response" (the doc gives no error name; `States.Runtime` is what floci observed of
    /// amazon/aws-stepfunctions-local:2.0.0, floci-io/floci#2823).
    pub fn next(&self, state: &str) -> Option<Result<Value, TaskFailure>> {
        let mocked = self.states.get(state)?;
        let n = {
            let mut calls = mocked.calls.lock().unwrap();
            let n = *calls;
            *calls += 1;
            n
        };
        Some(match mocked.response.outcome(n) {
            Some(MockedOutcome::Return(v)) => Ok(v.clone()),
            Some(MockedOutcome::Throw { error, cause }) => Err(TaskFailure::new(error, cause)),
            None => Err(TaskFailure::new(
                "States.Runtime",
                format!(
                    "The mocked response {:?} of test case {:?} has no response for invocation {n} of state {state:?}",
                    mocked.response_name, self.test_case
                ),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    /// The example file of the developer guide, verbatim
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html,
    /// "Introducing structure of mock configuration").
    pub(crate) const DOC_EXAMPLE: &str = r#"{
  "StateMachines":{
    "LambdaSQSIntegration":{
      "TestCases":{
        "HappyPath":{
          "LambdaState":"MockedLambdaSuccess",
          "SQSState":"MockedSQSSuccess"
        },
        "RetryPath":{
          "LambdaState":"MockedLambdaRetry",
          "SQSState":"MockedSQSSuccess"
        },
        "HybridPath":{
          "LambdaState":"MockedLambdaSuccess"
        }
      }
    }
  },
  "MockedResponses":{
    "MockedLambdaSuccess":{
      "0":{
        "Return":{
          "StatusCode":200,
          "Payload":{
            "StatusCode":200,
            "body":"Hello from Lambda!"
          }
        }
      }
    },
    "LambdaMockedResourceNotReady":{
      "0":{
        "Throw":{
          "Error":"Lambda.ResourceNotReadyException",
          "Cause":"Lambda resource is not ready."
        }
      }
    },
    "MockedSQSSuccess":{
      "0":{
        "Return":{
          "MD5OfMessageBody":"3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
          "MessageId":"3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
        }
      }
    },
    "MockedLambdaRetry":{
      "0":{
        "Throw":{
          "Error":"Lambda.ResourceNotReadyException",
          "Cause":"Lambda resource is not ready."
        }
      },
      "1-2":{
        "Throw":{
          "Error":"Lambda.TimeoutException",
          "Cause":"Lambda timed out."
        }
      },
      "3":{
        "Return":{
          "StatusCode":200,
          "Payload":{
            "StatusCode":200,
            "body":"Hello from Lambda!"
          }
        }
      }
    }
  }
}"#;

    #[test]
    fn the_developer_guide_example_parses() {
        let c = MockConfig::parse(DOC_EXAMPLE).unwrap();
        let cases = &c.state_machines["LambdaSQSIntegration"];
        assert_eq!(cases.keys().collect::<Vec<_>>(), ["HappyPath", "HybridPath", "RetryPath"]);
        assert_eq!(cases["HybridPath"].len(), 1);
        assert_eq!(cases["RetryPath"]["LambdaState"], "MockedLambdaRetry");
        let retry = &c.responses["MockedLambdaRetry"];
        assert_eq!(retry.invocations.iter().map(|(a, b, _)| (*a, *b)).collect::<Vec<_>>(), [(0, 0), (1, 2), (3, 3)]);
        assert_eq!(
            retry.outcome(2),
            Some(&MockedOutcome::Throw { error: "Lambda.TimeoutException".into(), cause: "Lambda timed out.".into() })
        );
        assert!(
            matches!(retry.outcome(3), Some(MockedOutcome::Return(v)) if v["Payload"]["body"] == "Hello from Lambda!")
        );
        assert_eq!(retry.outcome(4), None);
    }

    #[test]
    fn calls_take_numbers_in_order_and_run_out() {
        let c = MockConfig::parse(DOC_EXAMPLE).unwrap();
        let m = c.test_case("LambdaSQSIntegration", "RetryPath").unwrap();
        let errors: Vec<String> = (0..3).map(|_| m.next("LambdaState").unwrap().unwrap_err().error).collect::<Vec<_>>();
        assert_eq!(errors, ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException"]);
        assert_eq!(m.next("LambdaState").unwrap().unwrap()["StatusCode"], 200);
        let spent = m.next("LambdaState").unwrap().unwrap_err();
        assert_eq!(spent.error, "States.Runtime");
        assert!(spent.cause.unwrap().contains("invocation 4"), "names the call number");
        assert!(m.next("SomeOtherState").is_none(), "states the test case does not name call the service");
        let unknown = c.test_case("LambdaSQSIntegration", "SadPath").unwrap_err();
        assert!(unknown.contains("HappyPath"), "{unknown}");
    }

    /// The developer guide's LambdaSQSIntegration machine (its state names; `LambdaState`
    /// retries the two errors the RetryPath throws), run through the service with the guide's
    /// file: HappyPath gets the mocked returns; RetryPath consumes "0", "1-2" and "3" in order,
    /// as the guide's "consecutive attempt numbers" say retries do
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-test-sm-exec.html).
    #[tokio::test]
    async fn executions_on_arn_hash_test_case_use_its_mocks() {
        use super::super::{Clock, ExecutionStatus, StepFunctions, TaskInvoker};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let invoker: TaskInvoker = Arc::new(move |_, p| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(p) })
        });
        let sfn = StepFunctions::new(invoker, Clock::scaled(1000.0))
            .with_mock_config(MockConfig::parse(DOC_EXAMPLE).unwrap());
        let def = json!({"StartAt": "LambdaState", "States": {
            "LambdaState": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "HelloFunction", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                    "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}],
                "ResultSelector": {"body.$": "$.Payload.body"}, "Next": "SQSState"},
            "SQSState": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody.$": "$"},
                "ResultPath": "$.sent", "End": true}}});
        let machine = sfn
            .create_state_machine("LambdaSQSIntegration", &def.to_string(), "arn:aws:iam::000000000000:role/r")
            .unwrap();
        let finished = |arn: String| {
            let sfn = sfn.clone();
            async move {
                for _ in 0..1000 {
                    let e = sfn.execution(&arn).unwrap();
                    if e.status != ExecutionStatus::Running {
                        return e;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                panic!("{arn} still running");
            }
        };

        let (arn, _) = sfn
            .start_execution(&format!("{machine}#HappyPath"), Some("executionWithHappyPathMockedServices".into()), None)
            .unwrap();
        assert_eq!(
            arn,
            "arn:aws:states:us-east-1:000000000000:execution:LambdaSQSIntegration:executionWithHappyPathMockedServices"
        );
        let e = finished(arn).await;
        assert_eq!((e.status, e.machine_arn.as_str()), (ExecutionStatus::Succeeded, machine.as_str()));
        let output: Value = serde_json::from_str(e.output.as_deref().unwrap()).unwrap();
        assert_eq!(output["body"], "Hello from Lambda!", "the mocked Return is the whole Invoke response");
        assert_eq!(output["sent"]["MessageId"], "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51");
        let kinds: Vec<&str> = e.history.iter().map(|h| h.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "TaskSucceeded").count(), 2, "{kinds:?}");

        let (arn, _) = sfn.start_execution(&format!("{machine}#RetryPath"), Some("retry".into()), None).unwrap();
        let e = finished(arn).await;
        assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.error);
        let failed: Vec<&str> = e
            .history
            .iter()
            .filter(|h| h.kind == "TaskFailed")
            .map(|h| h.details["taskFailedEventDetails"]["error"].as_str().unwrap())
            .collect();
        assert_eq!(failed, ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException"]);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "a mocked Task never reaches its service");

        let unknown = sfn.start_execution(&format!("{machine}#SadPath"), None, None).unwrap_err();
        assert_eq!(unknown.code, "ValidationException");
        assert!(unknown.message.contains("RetryPath"), "{}", unknown.message);
        let unmocked = StepFunctions::new(Arc::new(|_, p| Box::pin(async move { Ok(p) })), Clock::default());
        let e = unmocked.start_execution(&format!("{machine}#HappyPath"), None, None).unwrap_err();
        assert!(e.message.contains("--sfn-mock-config"), "{}", e.message);
    }

    /// Each malformed file names the place and the fix.
    #[test]
    fn malformed_files_say_what_where_and_how() {
        let cases = [
            (
                r#"{"MockedResponses":{"R":{"0":{"Throw":{"Error":"E"}}}}}"#,
                "/MockedResponses/R/0/Throw/Cause",
                "Cause as a string",
            ),
            (
                r#"{"MockedResponses":{"R":{"0":{"Throw":{"Error":1,"Cause":"c"}}}}}"#,
                "/MockedResponses/R/0/Throw/Error",
                "string",
            ),
            (r#"{"MockedResponses":{"R":{"2-1":{"Return":{}}}}}"#, "/MockedResponses/R/2-1", "inclusive range"),
            (r#"{"MockedResponses":{"R":{"x":{"Return":{}}}}}"#, "/MockedResponses/R/x", "invocation number"),
            (r#"{"MockedResponses":{"R":{"0":{"Return":{},"Throw":{}}}}}"#, "/MockedResponses/R/0", "single field"),
            (r#"{"MockedResponses":{"R":{"0-2":{"Return":1},"2":{"Return":2}}}}"#, "/MockedResponses/R", "overlap"),
            (
                r#"{"StateMachines":{"M":{"TestCases":{"T":{"S":"Nope"}}}},"MockedResponses":{}}"#,
                "/StateMachines/M/TestCases/T/S",
                "define it under MockedResponses",
            ),
            (r#"{"StateMachines":{"M":{}}}"#, "/StateMachines/M", "needs TestCases"),
            (r#"{"StateMachine":{}}"#, "/StateMachine", "unknown field"),
        ];
        for (text, at_expected, reason_part) in cases {
            match MockConfig::parse(text) {
                Err(MockConfigError::Invalid { at, reason, .. }) => {
                    assert_eq!(at, at_expected, "{text}");
                    assert!(reason.contains(reason_part), "{text}: {reason}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(MockConfig::parse("{"), Err(MockConfigError::Json { .. })));
    }
}
