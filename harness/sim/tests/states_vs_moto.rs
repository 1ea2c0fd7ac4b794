//! The same state machines on the simulator and on moto's Step Functions executor (moto
//! 5.2.5, which runs definitions once `execute_state_machine` is switched on): status and
//! output must agree. Definitions use Pass, Choice, Map, Parallel, paths and intrinsics, so
//! no task results need mocking. Skipped with a message where moto cannot start
//! (a failure under `CI=true`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn client(endpoint: &str, key: &str, secret: &str) -> aws_sdk_sfn::Client {
    let conf = aws_config::SdkConfig::builder()
        .http_client(sim::http_client())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::from_keys(key, secret, None),
        ))
        .build();
    aws_sdk_sfn::Client::new(&conf)
}

async fn run(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    definition: &Value,
    input: &Value,
) -> (String, Option<Value>, Option<String>) {
    let machine = sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/sfn")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let exec = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name(format!("{name}-run"))
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = sfn.describe_execution().execution_arn(exec.execution_arn()).send().await.unwrap();
        if d.status().as_str() != "RUNNING" || Instant::now() > deadline {
            let output =
                d.output().map(|o| serde_json::from_str(o).unwrap_or_else(|_| Value::String(format!("unparsed: {o}"))));
            return (d.status().as_str().to_string(), output, d.error().map(str::to_string));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn machines() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "paths",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.a", "Parameters": {"x.$": "$.b", "fixed": 1},
                   "ResultPath": "$.r", "OutputPath": "$.r", "End": true}}}),
            json!({"a": {"b": [1, 2]}}),
        ),
        (
            "result-path-null",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ignored": true}, "ResultPath": null, "End": true}}}),
            json!({"keep": "me"}),
        ),
        (
            "choice",
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [
                    {"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 10}, {"Variable": "$.s", "StringMatches": "in*.csv"}], "Next": "Big"},
                    {"Variable": "$.n", "NumericLessThan": 10, "Next": "Small"}], "Default": "Other"},
                "Big": {"Type": "Pass", "Result": "big", "End": true},
                "Small": {"Type": "Pass", "Result": "small", "End": true},
                "Other": {"Type": "Pass", "Result": "other", "End": true}}}),
            json!({"n": 12, "s": "inbound.csv"}),
        ),
        (
            "intrinsics",
            json!({"StartAt": "I", "States": {"I": {"Type": "Pass", "Parameters": {
                "greeting.$": "States.Format('Hello, {}', $.name)",
                "parsed.$": "States.StringToJson($.json)",
                "arr.$": "States.Array(1, $.name)",
                "len.$": "States.ArrayLength($.list)",
                "sum.$": "States.MathAdd($.n, 5)",
                "parts.$": "States.StringSplit($.csv, ',')",
                "hash.$": "States.Hash($.name, 'SHA-256')",
                "b64.$": "States.Base64Encode($.name)"}, "End": true}}}),
            json!({"name": "acme", "json": "{\"a\":1}", "list": [1, 2, 3], "n": 2, "csv": "a,b,c"}),
        ),
        (
            "map",
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}},
                "ResultPath": "$.out", "End": true}}}),
            json!({"items": [1, "two", {"three": 3}]}),
        ),
        (
            "parallel",
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.x", "End": true}}}], "End": true}}}),
            json!({"x": {"y": 1}}),
        ),
        (
            "fail-caught",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E1", "Cause": "c"}}}],
                      "Catch": [{"ErrorEquals": ["E1"], "ResultPath": "$.err", "Next": "Done"}], "End": true},
                "Done": {"Type": "Pass", "End": true}}}),
            json!({"in": 1}),
        ),
        (
            "fail",
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Custom", "Cause": "because"}}}),
            json!({}),
        ),
    ]
}

/// Where moto differs from AWS; we follow AWS.
const MOTO_DIFFERS: &[(&str, &str)] = &[(
    "choice",
    "an execution whose output is a JSON string: AWS's DescribeExecution returns it JSON-encoded (\"big\"); moto returns the bare text (big)",
)];

#[tokio::test]
async fn simulator_and_moto_agree() {
    let moto = match testkit::moto::Moto::start(true) {
        Ok(moto) => moto,
        Err(why) => return testkit::unavailable("moto's server", &why),
    };
    let infra = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra");
    let sim = sim::Simulator::start(sim::SimConfig::new(infra, vec!["true".into()])).await.unwrap();
    let ours = client(&sim.endpoints.aws, sim::ACCESS_KEY_ID, sim::SECRET_ACCESS_KEY);
    let theirs = client(&format!("http://127.0.0.1:{}", moto.port), "testing", "testing");
    let mut differences = Vec::new();
    for (name, definition, input) in machines() {
        let a = run(&ours, name, &definition, &input).await;
        let b = run(&theirs, name, &definition, &input).await;
        assert!(b.0 == "FAILED" || b.1.is_some(), "{name}: moto did not execute: {b:?}");
        if a != b {
            differences.push((name, format!("simulator {a:?}\nmoto      {b:?}")));
        }
    }
    let listed: Vec<&str> = MOTO_DIFFERS.iter().map(|(n, _)| *n).collect();
    let found: Vec<&str> = differences.iter().map(|(n, _)| *n).collect();
    assert_eq!(found, listed, "{differences:#?}");
}
