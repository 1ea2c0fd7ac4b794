//! Each simulated service through its real wire protocol, driven by the official AWS SDK
//! clients over loopback sockets. The Lambda function here is a standard-library Python
//! runtime, so the Runtime API is exercised by a client that is not ours.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use sha2::Digest;
use sim::{SimConfig, Simulator};

fn infra() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra")
}

fn echo_function() -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/echo_runtime.py");
    vec!["python3".into(), "-u".into(), script.to_string_lossy().into_owned()]
}

async fn start(configure: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut config = SimConfig::new(infra(), echo_function());
    configure(&mut config);
    Simulator::start(config).await.expect("simulator starts")
}

fn sdk_config(endpoint: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .http_client(sim::http_client())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(sim::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::from_keys(sim::ACCESS_KEY_ID, secret, None),
        ))
        .build()
}

fn s3(endpoint: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint, secret)).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn wait_execution(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = sfn.describe_execution().execution_arn(arn).send().await.unwrap();
        if d.status().as_str() != "RUNNING" || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn s3_objects_multipart_and_sigv4() {
    let sim = start(|_| {}).await;
    let ep = &sim.endpoints;
    let client = s3(&ep.aws, sim::SECRET_ACCESS_KEY);
    let bucket = &ep.destination_bucket;
    client.put_object().bucket(bucket).key("a/b c.txt").body(ByteStream::from_static(b"hello")).send().await.unwrap();
    let got = client.get_object().bucket(bucket).key("a/b c.txt").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");
    let listed = client.list_objects_v2().bucket(bucket).prefix("a/").delimiter("/").send().await.unwrap();
    assert_eq!(listed.contents().len(), 1);

    let up = client.create_multipart_upload().bucket(bucket).key("big").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part1 = vec![1u8; 5 * 1024 * 1024];
    let e1 = client
        .upload_part()
        .bucket(bucket)
        .key("big")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(part1))
        .send()
        .await
        .unwrap();
    let e2 = client
        .upload_part()
        .bucket(bucket)
        .key("big")
        .upload_id(id)
        .part_number(2)
        .body(ByteStream::from_static(b"tail"))
        .send()
        .await
        .unwrap();
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let parts = vec![
        CompletedPart::builder().part_number(1).e_tag(e1.e_tag().unwrap()).build(),
        CompletedPart::builder().part_number(2).e_tag(e2.e_tag().unwrap()).build(),
    ];
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key("big")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let head = client.head_object().bucket(bucket).key("big").send().await.unwrap();
    assert_eq!(head.content_length(), Some(5 * 1024 * 1024 + 4));
    assert!(head.e_tag().unwrap().ends_with("-2\""));
    assert!(sim.s3_store.open_uploads().is_empty());

    use aws_sdk_s3::error::ProvideErrorMetadata;
    let missing = client.get_object().bucket("no-such-bucket").key("k").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchBucket"));
    let forged = s3(&ep.aws, "wrong-secret").list_buckets().send().await.unwrap_err();
    assert_eq!(forged.code(), Some("SignatureDoesNotMatch"));
}

#[tokio::test]
async fn dynamodb_through_the_gateway() {
    let sim = start(|_| {}).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    use aws_sdk_dynamodb::types::AttributeValue;
    ddb.put_item()
        .table_name(&sim.endpoints.table)
        .item("file_id", AttributeValue::S("x".into()))
        .item("status", AttributeValue::S("uploaded".into()))
        .send()
        .await
        .unwrap();
    let err = ddb
        .put_item()
        .table_name(&sim.endpoints.table)
        .item("file_id", AttributeValue::S("x".into()))
        .condition_expression("attribute_not_exists(file_id)")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{:?}", err.into_service_error()).contains("ConditionalCheckFailed"));
    let item = ddb
        .get_item()
        .table_name(&sim.endpoints.table)
        .key("file_id", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(item.item().unwrap()["status"].as_s().unwrap(), "uploaded");
}

#[tokio::test]
async fn object_created_event_starts_the_shared_state_machine() {
    let sim = start(|_| {}).await;
    let ep = &sim.endpoints;
    let client = s3(&ep.aws, sim::SECRET_ACCESS_KEY);
    client
        .put_object()
        .bucket(&ep.source_bucket)
        .key("acme/in/red flower+1.csv")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    client
        .put_object()
        .bucket(&ep.destination_bucket)
        .key("ignored.csv")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&ep.aws, sim::SECRET_ACCESS_KEY));
    let deadline = Instant::now() + Duration::from_secs(20);
    let arn = loop {
        let list = sfn.list_executions().state_machine_arn(&ep.state_machine_arn).send().await.unwrap();
        if let Some(e) = list.executions().first() {
            break e.execution_arn().to_string();
        }
        assert!(Instant::now() < deadline, "no execution started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let done = wait_execution(&sfn, &arn).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED", "{:?}", done.cause());
    let input: serde_json::Value = serde_json::from_str(done.input().unwrap()).unwrap();
    // The transformer's output: the key as it is, the version the versioned source bucket gave.
    let sequencer = input["sequencer"].as_str().unwrap_or_default().to_string();
    let version = input["version_id"].as_str().unwrap_or_default().to_string();
    assert!(!sequencer.is_empty() && version.len() == 32, "{input}");
    assert_eq!(
        input,
        serde_json::json!({
            "source_bucket": ep.source_bucket,
            "destination_bucket": ep.destination_bucket,
            "key": "acme/in/red flower+1.csv",
            "size": 1,
            "etag": "9dd4e461268c8034f5c8564e155c67a6",
            "sequencer": sequencer,
            "version_id": version,
            "event_time": input["event_time"],
        })
    );
    let output: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["transfer"]["result"]["function"], "partner-intake-copy");
    let list = sfn.list_executions().state_machine_arn(&ep.state_machine_arn).send().await.unwrap();
    assert_eq!(list.executions().len(), 1, "only the source bucket's object matches the rule");
    let history = sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
    let kinds: Vec<&str> = history.events().iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    assert!(kinds.contains(&"TaskScheduled") && kinds.contains(&"TaskSucceeded"));
}

async fn run_machine(
    sim: &Simulator,
    name: &str,
    definition: serde_json::Value,
    input: serde_json::Value,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    let machine = sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::000000000000:role/x")
        .send()
        .await
        .unwrap();
    let exec = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name("run-1")
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    wait_execution(&sfn, exec.execution_arn()).await
}

fn task_machine(resource: &str, retry: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": resource, "Retry": retry, "ResultPath": "$.out", "End": true}
        }
    })
}

#[tokio::test]
async fn lambda_errors_surface_with_aws_names() {
    let sim = start(|c| c.function_timeout_seconds = Some(1)).await;
    let function = format!("arn:aws:lambda:{}:{}:function:partner-intake-copy", sim::REGION, sim::ACCOUNT_ID);

    let ok =
        run_machine(&sim, "echo", task_machine(&function, serde_json::json!([])), serde_json::json!({"n": 1})).await;
    assert_eq!(ok.status().as_str(), "SUCCEEDED");
    let out: serde_json::Value = serde_json::from_str(ok.output().unwrap()).unwrap();
    assert_eq!(out["out"]["echo"]["n"], 1);
    assert_eq!(out["out"]["memory"], "256");
    assert_eq!(out["out"]["deadline_set"], true);
    // The instance stays warm: the next invocation runs in the same process.
    let again =
        run_machine(&sim, "echo-again", task_machine(&function, serde_json::json!([])), serde_json::json!({"n": 2}))
            .await;
    let again: serde_json::Value = serde_json::from_str(again.output().unwrap()).unwrap();
    assert_eq!(again["out"]["pid"], out["out"]["pid"], "warm reuse");

    let failed = run_machine(
        &sim,
        "fail",
        task_machine(&function, serde_json::json!([])),
        serde_json::json!({"action": "fail", "errorType": "CopyFailed"}),
    )
    .await;
    assert_eq!((failed.status().as_str(), failed.error()), ("FAILED", Some("CopyFailed")));

    let crashed = run_machine(
        &sim,
        "crash",
        task_machine(&function, serde_json::json!([])),
        serde_json::json!({"action": "crash"}),
    )
    .await;
    // As a killed runtime reaches a Step Functions Catch in AWS: the payload's errorType as the
    // error, the payload as the cause (a catcher's input recorded from AWS in
    // department-for-transport-BODS/bods-backend, tests/timetables_etl/exception_handler).
    assert_eq!(crashed.error(), Some("Runtime.ExitError"));
    let cause: serde_json::Value = serde_json::from_str(crashed.cause().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "Runtime.ExitError");
    assert!(
        cause["errorMessage"].as_str().unwrap().contains("Error: Runtime exited with error: exit status"),
        "{cause}"
    );
    // After a crash the next invocation is a cold start in a new process.
    let cold =
        run_machine(&sim, "after-crash", task_machine(&function, serde_json::json!([])), serde_json::json!({})).await;
    let cold: serde_json::Value = serde_json::from_str(cold.output().unwrap()).unwrap();
    assert_ne!(cold["out"]["pid"], out["out"]["pid"], "cold start after a crash");

    let timed_out = run_machine(
        &sim,
        "slow",
        task_machine(&function, serde_json::json!([])),
        serde_json::json!({"action": "sleep", "seconds": 5}),
    )
    .await;
    assert_eq!(timed_out.error(), Some("Lambda.Unknown"));
    assert!(timed_out.cause().unwrap().contains("Task timed out after 1.00 seconds"));

    let missing = run_machine(
        &sim,
        "missing",
        task_machine("arn:aws:lambda:us-east-1:000000000000:function:nope", serde_json::json!([])),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(missing.error(), Some("Lambda.ResourceNotFoundException"));

    // Retry applies before the execution fails: two retries of a failing task, then failure.
    let retried = run_machine(
        &sim,
        "retried",
        task_machine(&function, serde_json::json!([{"ErrorEquals": ["Boom"], "IntervalSeconds": 0, "MaxAttempts": 2}])),
        serde_json::json!({"action": "fail"}),
    )
    .await;
    assert_eq!(retried.error(), Some("Boom"));
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    let history = sfn.get_execution_history().execution_arn(retried.execution_arn()).send().await.unwrap();
    let attempts = history.events().iter().filter(|e| e.r#type().as_str() == "TaskFailed").count();
    assert_eq!(attempts, 3);

    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    let reports = logs
        .filter_log_events()
        .log_group_name(&sim.endpoints.function_log_group)
        .filter_pattern("REPORT")
        .send()
        .await
        .unwrap();
    assert!(reports.events().len() >= 5);
}

#[tokio::test]
async fn invalid_definitions_are_rejected_with_the_reason() {
    let sim = start(|_| {}).await;
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    let bad = serde_json::json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}});
    let err =
        sfn.create_state_machine().name("bad").definition(bad.to_string()).role_arn("r").send().await.unwrap_err();
    let message = format!("{:?}", err.into_service_error());
    assert!(message.contains("InvalidDefinition") && message.contains("Nowhere"), "{message}");
}

/// SigV4 as S3 checks it: a wrong secret, a clock over 15 minutes off, a body that is not the
/// one signed, and an expired presigned URL each get S3's error (codes from S3's error
/// responses: SignatureDoesNotMatch, RequestTimeTooSkewed, XAmzContentSHA256Mismatch,
/// AccessDenied "Request has expired").
#[tokio::test]
async fn sigv4_failures_get_s3s_errors() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let sim = start(|_| {}).await;
    let ep = &sim.endpoints;
    let good = s3(&ep.aws, sim::SECRET_ACCESS_KEY);
    let wrong = s3(&ep.aws, "wrong-secret").list_buckets().send().await.unwrap_err();
    assert_eq!(wrong.code(), Some("SignatureDoesNotMatch"));

    let late = std::time::SystemTime::now() - std::time::Duration::from_secs(16 * 60);
    let skewed_conf = aws_sdk_s3::config::Builder::from(&sdk_config(&ep.aws, sim::SECRET_ACCESS_KEY))
        .force_path_style(true)
        .time_source(aws_smithy_async::time::StaticTimeSource::new(late))
        // The SDK corrects its clock from the error's Date header and retries: one attempt.
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    let skewed = aws_sdk_s3::Client::from_conf(skewed_conf).list_buckets().send().await.unwrap_err();
    assert_eq!(skewed.code(), Some("RequestTimeTooSkewed"), "{skewed:?}");

    good.put_object().bucket(&ep.source_bucket).key("p.txt").body(b"hello".to_vec().into()).send().await.unwrap();
    let presign = aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(1)).unwrap();
    let url = good.get_object().bucket(&ep.source_bucket).key("p.txt").presigned(presign).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // curl runs off the test's one runtime thread, which serves the simulator.
    let curl = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || std::process::Command::new("curl").args(args).output().unwrap())
            .await
            .unwrap()
    };
    if testkit::need(&[("curl", "--version")]) {
        let out = curl(["-s", "-m", "20", "-w", "\n%{http_code}", url.uri()].map(String::from).to_vec()).await;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.ends_with("403") && text.contains("AccessDenied") && text.contains("Request has expired"),
            "{text}"
        );

        // A body other than the one whose hash was signed (curl signs the header it is given).
        let put = format!("{}/{}/tampered.txt", ep.aws, ep.source_bucket);
        let other = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // sha256("hello")
        let mut args: Vec<String> =
            ["-s", "-m", "20", "-w", "\n%{http_code}", "-X", "PUT", "--data-binary", "not hello"]
                .map(String::from)
                .to_vec();
        args.extend(["--aws-sigv4".into(), format!("aws:amz:{}:s3", sim::REGION)]);
        args.extend(["--user".into(), format!("{}:{}", sim::ACCESS_KEY_ID, sim::SECRET_ACCESS_KEY)]);
        args.extend(["-H".into(), format!("x-amz-content-sha256: {other}"), put]);
        let out = curl(args).await;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.ends_with("400") && text.contains("XAmzContentSHA256Mismatch"), "{text}");
        let gone = good.head_object().bucket(&ep.source_bucket).key("tampered.txt").send().await;
        assert!(gone.is_err(), "a refused body never becomes an object");
    }
}

/// JSON-protocol bodies are bounded per service (Step Functions: its 1 MB request quota); an
/// oversized one is refused with a message naming the limit, and the next request is served.
#[tokio::test]
async fn oversized_json_bodies_are_refused_with_the_limit() {
    let sim = start(|_| {}).await;
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let err =
        sfn.start_execution().state_machine_arn(&sim.endpoints.state_machine_arn).input(huge).send().await.unwrap_err();
    let message = format!("{:?}", err.into_service_error());
    assert!(message.contains("ValidationException") && message.contains("1 MB per request"), "{message}");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let event = InputLogEvent::builder().timestamp(1).message("\u{1}".repeat(2 * 1024 * 1024)).build().unwrap();
    let err =
        logs.put_log_events().log_group_name("/g").log_stream_name("s").log_events(event).send().await.unwrap_err();
    let message = format!("{:?}", err.into_service_error());
    assert!(message.contains("over 8388608 bytes"), "{message}");
    assert!(sfn.list_state_machines().send().await.is_ok(), "the gateway serves on");
}

#[tokio::test]
async fn logs_api_filters_by_term_and_json_field() {
    let sim = start(|_| {}).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    logs.create_log_group().log_group_name("/test").send().await.unwrap();
    logs.create_log_stream().log_group_name("/test").log_stream_name("s").send().await.unwrap();
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for m in [r#"{"activity-type":"OPEN","user":"a"}"#, r#"{"activity-type":"CLOSE","user":"a"}"#, "plain ERROR line"] {
        logs.put_log_events()
            .log_group_name("/test")
            .log_stream_name("s")
            .log_events(InputLogEvent::builder().timestamp(now).message(m).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    let json = logs
        .filter_log_events()
        .log_group_name("/test")
        .filter_pattern(r#"{ $.activity-type = "OPEN" }"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json.events().len(), 1);
    let term = logs.filter_log_events().log_group_name("/test").filter_pattern("ERROR").send().await.unwrap();
    assert_eq!(term.events().len(), 1);
    let all =
        logs.get_log_events().log_group_name("/test").log_stream_name("s").start_from_head(true).send().await.unwrap();
    assert_eq!(all.events().len(), 3);
}

#[tokio::test]
async fn parallel_map_wait_choice_and_the_context_object() {
    let sim = start(|c| c.clock = sim::clock::Clock::scaled(10_000.0)).await;
    let definition = serde_json::json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"branch": "a", "n.$": "$.n"}, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 3600, "Next": "B2"},
                                                "B2": {"Type": "Pass", "Result": "b", "End": true}}}
                ],
                "ResultPath": "$.parallel",
                "Next": "Each"
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "n.$": "$.n"},
                "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
                    "Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.value, $.n)", "index.$": "$.index"}, "End": true}}},
                "ResultPath": "$.mapped",
                "Next": "Decide"
            },
            "Decide": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.mapped[2].sum", "NumericEquals": 13, "Next": "Name"}],
                "Default": "Wrong"
            },
            "Name": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution.Name", "state.$": "$$.State.Name",
                     "parallel.$": "$.parallel", "mapped.$": "$.mapped"}, "End": true},
            "Wrong": {"Type": "Fail", "Error": "Wrong", "Cause": "choice did not match"}
        }
    });
    let started = Instant::now();
    let done = run_machine(&sim, "shapes", definition, serde_json::json!({"n": 10, "items": [1, 2, 3]})).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED", "{:?} {:?}", done.error(), done.cause());
    assert!(started.elapsed() < Duration::from_secs(20), "an hour-long Wait on a 10,000x clock");
    let out: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(out["execution"], "run-1");
    assert_eq!(out["state"], "Name");
    assert_eq!(out["parallel"], serde_json::json!([{"branch": "a", "n": 10}, "b"]));
    assert_eq!(
        out["mapped"],
        serde_json::json!([{"sum": 11, "index": 0}, {"sum": 12, "index": 1}, {"sum": 13, "index": 2}])
    );
}

#[tokio::test]
async fn a_failing_branch_is_caught_and_execution_names_are_unique() {
    let sim = start(|_| {}).await;
    let definition = serde_json::json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "branch failed"}}}
                ],
                "Catch": [{"ErrorEquals": ["Custom.Error"], "ResultPath": "$.caught", "Next": "Done"}],
                "End": true
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let done = run_machine(&sim, "catching", definition, serde_json::json!({})).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED");
    let out: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(out["caught"], serde_json::json!({"Error": "Custom.Error", "Cause": "branch failed"}));

    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY));
    let again = sfn
        .start_execution()
        .state_machine_arn(done.state_machine_arn())
        .name("run-1")
        .input("{\"other\":1}")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{:?}", again.into_service_error()).contains("ExecutionAlreadyExists"));

    // StopExecution aborts a waiting execution.
    let waiting = serde_json::json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let machine =
        sfn.create_state_machine().name("waiting").definition(waiting.to_string()).role_arn("r").send().await.unwrap();
    let exec = sfn.start_execution().state_machine_arn(machine.state_machine_arn()).name("w1").send().await.unwrap();
    sfn.stop_execution()
        .execution_arn(exec.execution_arn())
        .error("Operator")
        .cause("stopped by a test")
        .send()
        .await
        .unwrap();
    let stopped = sfn.describe_execution().execution_arn(exec.execution_arn()).send().await.unwrap();
    assert_eq!((stopped.status().as_str(), stopped.error()), ("ABORTED", Some("Operator")));
}

/// The shipped state machine with a task that times out (an error without a Cause, which a
/// plain `$.error.Cause` path would turn into an uncatchable States.Runtime): the failure is
/// still recorded, with the record schema every writer uses.
#[tokio::test]
async fn a_timed_out_task_without_cause_is_still_recorded() {
    // The shipped infra/, with TransferFile's TimeoutSeconds lowered to 1 s.
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("definitions");
    std::fs::create_dir(&defs).unwrap();
    for f in std::fs::read_dir(infra().join("definitions")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, defs.join(f.file_name().unwrap())).unwrap();
    }
    let asl = defs.join("state-machine.asl.json");
    let mut def: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&asl).unwrap()).unwrap();
    def["States"]["TransferFile"]["TimeoutSeconds"] = serde_json::json!(1);
    std::fs::write(&asl, def.to_string()).unwrap();
    let mut config = SimConfig::new(dir.path().to_path_buf(), vec!["sleep".into(), "600".into()]);
    config.clock = sim::clock::Clock::scaled(100.0);
    let sim = Simulator::start(config).await.unwrap();
    let ep = &sim.endpoints;
    let conf = sdk_config(&ep.aws, sim::SECRET_ACCESS_KEY);
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let input = serde_json::json!({"source_bucket": ep.source_bucket, "destination_bucket": ep.destination_bucket,
        "key": "acme/x.csv", "size": 3, "etag": "e", "sequencer": "0A", "version_id": "v1", "event_time": "2026-12-01T00:00:00Z"});
    let started = sfn
        .start_execution()
        .state_machine_arn(&ep.state_machine_arn)
        .name("timeout")
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    let done = wait_execution(&sfn, started.execution_arn()).await;
    assert_eq!(done.status().as_str(), "FAILED");
    assert_eq!(done.error(), Some("States.Timeout"));
    let history = sfn.get_execution_history().execution_arn(started.execution_arn()).send().await.unwrap();
    let timed_out = history.events().iter().find_map(|e| e.task_timed_out_event_details()).expect("TaskTimedOut");
    assert_eq!(timed_out.cause(), None, "a task timeout carries no cause");
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let file_id = hex::encode(sha2::Sha256::digest(format!("{}/acme/x.csv#v1", ep.source_bucket)));
    let item = ddb
        .get_item()
        .table_name(&ep.table)
        .key("file_id", aws_sdk_dynamodb::types::AttributeValue::S(file_id))
        .send()
        .await
        .unwrap()
        .item
        .expect("recorded");
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    assert_eq!(
        (s("status").as_str(), s("error_type").as_str(), s("error_message").as_str()),
        ("failed", "States.Timeout", "")
    );
    for field in [
        "source_bucket",
        "destination_bucket",
        "key",
        "version_id",
        "sequencer",
        "customer_id",
        "upload_timestamp",
        "attempts",
    ] {
        assert!(item.contains_key(field), "the failure record lacks {field}: {item:?}");
    }
    assert_eq!(s("customer_id"), "acme");
}

/// An event the rule cannot deliver (its state machine "missing") lands in the stack's
/// dead-letter queue, and the `aws` CLI reads it there over the SQS protocol: the original
/// event as the body, EventBridge's attributes beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_reads_dead_letters_over_sqs() {
    if !testkit::need(&[("aws", "--version")]) {
        return;
    }
    let sim = start(|c| {
        c.target_faults = vec![sim::events::TargetFault {
            input_contains: None,
            error: sim::events::TargetFaultKind::Missing,
            times: None,
        }]
    })
    .await;
    let ep = sim.endpoints.clone();
    s3(&ep.aws, sim::SECRET_ACCESS_KEY)
        .put_object()
        .bucket(&ep.source_bucket)
        .key("acme/inbound/lost.csv")
        .body(ByteStream::from_static(b"a,b\n"))
        .send()
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("aws")
            .args(["sqs", "receive-message", "--endpoint-url", &ep.aws, "--queue-url", &ep.dead_letter_queue])
            .args(["--message-attribute-names", "All", "--wait-time-seconds", "10", "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", sim::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", sim::SECRET_ACCESS_KEY)
            .env("AWS_DEFAULT_REGION", sim::REGION)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_str(&text).unwrap();
    let m = &got["Messages"][0];
    let event: serde_json::Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
    assert_eq!(event["detail-type"], "Object Created");
    assert_eq!(event["detail"]["object"]["key"], "acme/inbound/lost.csv");
    assert_eq!(m["MessageAttributes"]["ERROR_CODE"]["StringValue"], "NO_RESOURCE");
    assert_eq!(m["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"], "0");
    let rule = m["MessageAttributes"]["RULE_ARN"]["StringValue"].as_str().unwrap();
    assert!(rule.ends_with(":rule/partner-intake-transfer-object-created"), "{rule}");
    let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(m["Body"].as_str().unwrap().as_bytes()));
    assert_eq!(m["MD5OfBody"], md5.as_str());
}

/// CloudWatch Logs' PutLogEvents batch rules (API reference: 10,000 events, 1,048,576 bytes
/// counting 26 bytes per event, chronological order) and DynamoDB's 400 KB item, each with the
/// error AWS answers, through the SDKs.
#[tokio::test]
async fn logs_batches_and_dynamodb_items_meet_aws_limits() {
    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let sim = start(|_| {}).await;
    let conf = sdk_config(&sim.endpoints.aws, sim::SECRET_ACCESS_KEY);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    logs.create_log_group().log_group_name("/limits").send().await.unwrap();
    logs.create_log_stream().log_group_name("/limits").log_stream_name("s").send().await.unwrap();
    let event = |ts: i64, msg: String| InputLogEvent::builder().timestamp(ts).message(msg).build().unwrap();
    let put = |events: Vec<InputLogEvent>| {
        logs.put_log_events().log_group_name("/limits").log_stream_name("s").set_log_events(Some(events)).send()
    };
    // Exactly at the batch limit: one message of 1,048,550 bytes plus its 26.
    put(vec![event(1, "x".repeat(1_048_550))]).await.unwrap();
    let e = put(vec![event(1, "x".repeat(1_048_551))]).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterException"), "{e:?}");
    assert!(e.message().unwrap_or_default().contains("Upload too large"), "{e:?}");
    let many: Vec<InputLogEvent> = (0..10_001).map(|i| event(i, "m".into())).collect();
    let e = put(many).await.unwrap_err();
    assert!(e.message().unwrap_or_default().contains("less than or equal to 10000"), "{e:?}");
    let e = put(vec![event(5, "b".into()), event(4, "a".into())]).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterException"), "{e:?}");
    assert!(e.message().unwrap_or_default().contains("chronological order"), "{e:?}");

    use aws_sdk_dynamodb::types::AttributeValue;
    let db = aws_sdk_dynamodb::Client::new(&conf);
    let item = |size: usize| {
        db.put_item()
            .table_name(&sim.endpoints.table)
            .item("file_id", AttributeValue::S("limits".into()))
            .item("blob", AttributeValue::S("y".repeat(size)))
    };
    item(1000).send().await.unwrap();
    let e = item(410 * 1024).send().await.unwrap_err();
    assert_eq!(aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e), Some("ValidationException"), "{e:?}");
    let msg = aws_sdk_dynamodb::error::ProvideErrorMetadata::message(&e).unwrap_or_default().to_string();
    assert!(msg.contains("Item size has exceeded the maximum allowed size"), "{msg}");
}
