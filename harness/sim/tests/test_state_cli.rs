//! The `aws` CLI's `stepfunctions test-state` against the simulator over loopback: what the
//! CLI sends (botocore's TestState shapes) and what it prints back. Expected values follow the
//! AWS-recorded LocalStack snapshots cited in `src/states/test_state.rs`.

use std::path::PathBuf;

use serde_json::{Value, json};
use sim::{SimConfig, Simulator};

fn infra() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra")
}

fn echo_function() -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/echo_runtime.py");
    vec!["python3".into(), "-u".into(), script.to_string_lossy().into_owned()]
}

/// A Task that retries and catches `States.TaskFailed`, as the three calls below test it.
fn task_state() -> String {
    json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "partner-intake-copy", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "RecordFailure", "ResultPath": "$.error"}],
        "Next": "Done"
    })
    .to_string()
}

/// Runs `aws stepfunctions test-state` with `args`; returns the JSON it printed.
async fn test_state(endpoint: String, args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("aws")
            .args(["stepfunctions", "test-state", "--endpoint-url", &endpoint, "--output", "json"])
            .args(&args)
            // The model puts TestState on `sync-<host>` (endpoint hostPrefix "sync-"), which
            // does not resolve for 127.0.0.1; botocore's switch turns the prefix off.
            .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
            .env("AWS_ACCESS_KEY_ID", sim::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", sim::SECRET_ACCESS_KEY)
            .env("AWS_DEFAULT_REGION", sim::REGION)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// (a) a mocked result: SUCCEEDED and the state's Next; (b) a mocked error the Catch takes:
/// CAUGHT_ERROR, the catcher's Next, the error output at its ResultPath; (c) the same error
/// after one retry: RETRIABLE, waiting IntervalSeconds · BackoffRate¹ = 6 s before the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_tests_a_state_with_mocks() {
    if !testkit::need(&[("aws", "--version")]) {
        return;
    }
    let sim = Simulator::start(SimConfig::new(infra(), echo_function())).await.expect("simulator starts");
    let endpoint = sim.endpoints.aws.clone();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            vec!["--definition".into(), task_state(), "--input".into(), r#"{"file":"a.csv"}"#.into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };

    let succeeded =
        test_state(endpoint.clone(), args(&["--mock", r#"{"result":"{\"Payload\":{\"ok\":true}}"}"#])).await;
    assert_eq!(
        succeeded,
        json!({"output": r#"{"Payload":{"ok":true}}"#, "nextState": "Done", "status": "SUCCEEDED"}),
        "the CLI prints output as a JSON string"
    );

    let caught = test_state(
        endpoint.clone(),
        args(&[
            "--mock",
            r#"{"errorOutput":{"error":"States.TaskFailed","cause":"boom"}}"#,
            "--state-configuration",
            "retrierRetryCount=3",
            "--inspection-level",
            "DEBUG",
        ]),
    )
    .await;
    assert_eq!(caught["status"], "CAUGHT_ERROR");
    assert_eq!(caught["nextState"], "RecordFailure");
    assert_eq!((&caught["error"], &caught["cause"]), (&json!("States.TaskFailed"), &json!("boom")));
    let output: Value = serde_json::from_str(caught["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"file": "a.csv", "error": {"Error": "States.TaskFailed", "Cause": "boom"}}));
    assert_eq!(caught["inspectionData"]["errorDetails"], json!({"catchIndex": 0, "retryIndex": 0}));
    assert_eq!(caught["inspectionData"]["input"], r#"{"file":"a.csv"}"#);

    let retriable = test_state(
        endpoint,
        args(&[
            "--mock",
            r#"{"errorOutput":{"error":"States.TaskFailed","cause":"boom"}}"#,
            "--state-configuration",
            "retrierRetryCount=1",
            "--inspection-level",
            "DEBUG",
        ]),
    )
    .await;
    assert_eq!(retriable["status"], "RETRIABLE");
    assert_eq!(retriable["inspectionData"]["errorDetails"], json!({"retryBackoffIntervalSeconds": 6, "retryIndex": 0}));
    assert!(retriable.get("output").is_none() && retriable.get("nextState").is_none(), "{retriable}");
    sim.shutdown();
}
