//! `harness sim` used the way a person would: OpenSSH's `sftp -b` uploads with the key it
//! wrote, and the `aws` CLI reads the destination bucket and the DynamoDB record.

mod common;

use common::{aws, start_sim};

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn openssh_sftp_uploads_and_aws_cli_sees_the_result() {
    if !testkit::need(&[("sftp", "-h"), ("aws", "--version")]) {
        return;
    }
    let sim = start_sim();
    let i = &sim.info;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report 2026.csv");
    std::fs::write(&file, "id,amount\n1,10\n2,20\n").unwrap();
    let script = format!("mkdir inbound\ncd inbound\nput \"{}\"\nls -l\n", file.display());
    let out = sim.sftp_batch(&script, None, &[]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sftp failed:\n{text}");
    assert!(text.contains("report 2026.csv"), "ls does not show the upload:\n{text}");

    let key = format!("{}/inbound/report 2026.csv", i["user"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let values = serde_json::json!({":k": {"S": key}}).to_string();
    let record = loop {
        let (ok, out) = aws(
            &sim,
            &[
                "dynamodb",
                "scan",
                "--table-name",
                i["table"].as_str().unwrap(),
                "--filter-expression",
                "#k = :k",
                "--expression-attribute-names",
                r##"{"#k":"key"}"##,
                "--expression-attribute-values",
                &values,
            ],
        );
        if ok && out.contains("\"transferred\"") {
            break out;
        }
        assert!(Instant::now() < deadline, "record never became transferred: {out}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(record.contains("inbound/report 2026.csv"), "{record}");
    let (ok, listing) =
        aws(&sim, &["s3", "ls", &format!("s3://{}/", i["destination_bucket"].as_str().unwrap()), "--recursive"]);
    assert!(ok && listing.contains("inbound/report 2026.csv"), "{listing}");
    let (ok, executions) = aws(
        &sim,
        &["stepfunctions", "list-executions", "--state-machine-arn", i["state_machine_arn"].as_str().unwrap()],
    );
    assert!(ok && executions.contains("SUCCEEDED"), "{executions}");
    let listed: serde_json::Value = serde_json::from_str(&executions).unwrap();
    // The upload's execution (the mkdir's folder marker has one too), found by its input.
    let arns: Vec<String> = listed["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["executionArn"].as_str().unwrap().to_string())
        .collect();
    let mut found = None;
    for arn in &arns {
        let (ok, described) = aws(&sim, &["stepfunctions", "describe-execution", "--execution-arn", arn]);
        if ok && described.contains("report") {
            found = Some((arn.clone(), described));
        }
    }
    let (arn, described) = found.unwrap_or_else(|| panic!("no execution for the upload among {arns:?}"));
    assert!(described.contains("\"status\": \"SUCCEEDED\""), "{described}");
    let (ok, history) = aws(&sim, &["stepfunctions", "get-execution-history", "--execution-arn", &arn]);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap_or_else(|e| panic!("{ok} {e}: {history}"));
    let kinds: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert!(kinds.contains(&"TaskSucceeded") && kinds.last() == Some(&"ExecutionSucceeded"), "{kinds:?}");
}

#[test]
fn openssh_sftp_is_refused_with_an_unknown_key() {
    if !testkit::need(&[("sftp", "-h"), ("ssh-keygen", "-?")]) {
        return;
    }
    let sim = start_sim();
    let i = &sim.info;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("stranger");
    assert!(
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success()
    );
    let out = sim.sftp_batch("ls\n", Some(&key), &[]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("Permission denied"), "{text}");
    let (ok, logs) = aws(
        &sim,
        &[
            "logs",
            "filter-log-events",
            "--log-group-name",
            i["sftp_log_group"].as_str().unwrap(),
            "--filter-pattern",
            r#"{ $.activity-type = "AUTH_FAILURE" }"#,
        ],
    );
    assert!(ok && logs.contains("AUTH_FAILURE"), "{logs}");
}
