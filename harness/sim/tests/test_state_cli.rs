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

/// Runs `aws stepfunctions <args>` against `endpoint` with the simulator's credentials;
/// returns the JSON it printed.
async fn sfn_cli(endpoint: String, args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("aws")
            .args(["stepfunctions", "--endpoint-url", &endpoint, "--output", "json"])
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

/// Runs `aws stepfunctions test-state` with `args`; returns the JSON it printed.
async fn test_state(endpoint: String, args: Vec<String>) -> Value {
    sfn_cli(endpoint, std::iter::once("test-state".to_string()).chain(args).collect()).await
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

/// `SimConfig::sfn_mock_config` (`harness sim --sfn-mock-config`): the `aws` CLI starts the
/// shipped state machine on `<ARN>#MockedCopy` as Step Functions Local's guide shows
/// (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-test-sm-exec.html): the
/// mocked TransferFile returns the file's response without the function running, while
/// RecordUpload, which the test case does not name, writes to the simulated DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_runs_a_mock_config_test_case() {
    if !testkit::need(&[("aws", "--version")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("MockConfigFile.json");
    let mocks = json!({
        "StateMachines": {"partner-intake-transfer": {"TestCases": {"MockedCopy": {"TransferFile": "CopySucceeds"}}}},
        "MockedResponses": {"CopySucceeds": {"0": {"Return": {"StatusCode": 200, "Payload": {"mocked": true}}}}}
    });
    std::fs::write(&file, mocks.to_string()).unwrap();
    let mut config = SimConfig::new(infra(), echo_function());
    config.sfn_mock_config = Some(file);
    let sim = Simulator::start(config).await.expect("simulator starts");
    let endpoint = sim.endpoints.aws.clone();
    let input = json!({"source_bucket": sim.endpoints.source_bucket, "destination_bucket": sim.endpoints.destination_bucket,
        "key": "acme/mocked.csv", "version_id": "v1", "etag": "e", "sequencer": "01", "size": 4,
        "event_time": "2026-01-01T00:00:00Z"});
    let started = sfn_cli(
        endpoint.clone(),
        vec![
            "start-execution".into(),
            "--state-machine-arn".into(),
            format!("{}#MockedCopy", sim.endpoints.state_machine_arn),
            "--name".into(),
            "executionWithMockedCopy".into(),
            "--input".into(),
            input.to_string(),
        ],
    )
    .await;
    let arn = started["executionArn"].as_str().unwrap().to_string();
    assert!(arn.ends_with(":execution:partner-intake-transfer:executionWithMockedCopy"), "{arn}");
    let described = loop {
        let d =
            sfn_cli(endpoint.clone(), vec!["describe-execution".into(), "--execution-arn".into(), arn.clone()]).await;
        if d["status"] != "RUNNING" {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["stateMachineArn"], sim.endpoints.state_machine_arn.as_str(), "the ARN without its suffix");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["transfer"]["result"], json!({"mocked": true}), "{output}");
    let table = sim.endpoints.table.clone();
    let scan = tokio::task::spawn_blocking(move || {
        std::process::Command::new("aws")
            .args(["dynamodb", "scan", "--endpoint-url", &endpoint, "--table-name", &table, "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", sim::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", sim::SECRET_ACCESS_KEY)
            .env("AWS_DEFAULT_REGION", sim::REGION)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let scan: Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert_eq!(scan["Items"][0]["key"]["S"], "acme/mocked.csv", "the unmocked RecordUpload reached DynamoDB: {scan}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"MockedResponses":{"R":{"0":{"Throw":{"Error":"E"}}}}}"#).unwrap();
    let mut config = SimConfig::new(infra(), echo_function());
    config.sfn_mock_config = Some(bad);
    let e = Simulator::start(config).await.err().expect("a malformed mock config stops the start");
    assert!(e.to_string().contains("/MockedResponses/R/0/Throw/Cause"), "{e}");
    sim.shutdown();
}
