//! The `aws` target, with `harness sim` standing in for a deployed stack: a partner with only an
//! SFTP key gets the SFTP checks and sees the backend checks skipped; with credentials and
//! `AWS_ENDPOINT_URL` every check runs through the same code path as against AWS.

mod common;

use common::{SimProcess, start_sim};

use std::process::Command;

/// The outputs document an operator would hand over, describing `harness sim`.
fn outputs(sim: &SimProcess) -> std::path::PathBuf {
    let i = &sim.info;
    let addr: std::net::SocketAddr = i["sftp"].as_str().unwrap().parse().unwrap();
    let doc = serde_json::json!({"harness": {"sensitive": false, "value": {
        "schema_version": 1,
        "region": i["region"],
        "sftp": {"host": addr.ip().to_string(), "port": addr.port(), "server_id": i["server_id"],
                 "host_key_fingerprint": i["host_key_fingerprint"], "elastic_ips": [], "users": [i["user"]]},
        "buckets": {"source": i["source_bucket"], "destination": i["destination_bucket"]},
        "table": i["table"],
        "state_machine_arn": i["state_machine_arn"],
        "function_name": "partner-intake-copy",
        "event_rule": "partner-intake-transfer-object-created",
        "log_groups": {"sftp": i["sftp_log_group"], "function": i["function_log_group"], "state_machine": "/aws/vendedlogs/states/partner-intake-transfer"}
    }}});
    let path = sim.dir.path().join("outputs.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn harness_aws(sim: &SimProcess, stack: &std::path::Path, credentials: bool) -> (i32, String) {
    let i = &sim.info;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(["scenario", "smoke", "--target", "aws", "--stack"])
        .arg(stack)
        .arg("--user")
        .arg(format!("{}={}", i["user"].as_str().unwrap(), i["private_key"].as_str().unwrap()))
        .env("RUST_LOG", "error")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if credentials {
        cmd.env("AWS_ACCESS_KEY_ID", i["access_key_id"].as_str().unwrap())
            .env("AWS_SECRET_ACCESS_KEY", i["secret_access_key"].as_str().unwrap())
            .env("AWS_ENDPOINT_URL", i["aws"].as_str().unwrap());
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn partner_mode_runs_the_sftp_checks_and_skips_the_backend() {
    let sim = start_sim();
    let stack = outputs(&sim);
    let (code, out) = harness_aws(&sim, &stack, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("partner mode: no AWS credentials"), "{out}");
    for check in
        ["logs in with its SSH key", "uploads /inbound/orders.csv", "sees its uploads", "cannot leave its home"]
    {
        assert!(
            out.lines().any(|l| l.contains("PASS  [sftp]") && l.contains(check)),
            "no passed check {check:?}:\n{out}"
        );
    }
    for stage in ["dynamodb", "stepfunctions", "s3", "logs"] {
        assert!(out.contains(&format!("SKIP  [{stage}]")), "{stage} not skipped:\n{out}");
    }
    assert!(out.contains("skipped: no AWS credentials") && !out.contains("FAIL"), "{out}");
}

#[test]
fn with_credentials_the_aws_target_checks_every_stage() {
    let sim = start_sim();
    let stack = outputs(&sim);
    let (code, out) = harness_aws(&sim, &stack, true);
    assert_eq!(code, 0, "{out}");
    for stage in ["[sftp]", "[dynamodb]", "[stepfunctions]", "[s3]", "[logs]"] {
        assert!(out.contains(&format!("PASS  {stage}")), "no passed {stage} check:\n{out}");
    }
    assert!(!out.contains("SKIP") && !out.contains("FAIL"), "{out}");
}

#[test]
fn aws_target_errors_are_usage_errors() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_harness")).args(["scenario", "smoke", "--target", "aws"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stack"));
}

#[test]
fn localstack_without_docker_says_so_in_one_line() {
    let docker = Command::new("docker").args(["info"]).output().is_ok_and(|o| o.status.success());
    if docker {
        eprintln!("SKIPPED: a Docker engine is available here, so the no-Docker message cannot be checked");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["scenario", "smoke", "--target", "localstack"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no Docker engine") && err.contains("--endpoint-url"), "{err}");
}

/// Wherever a Docker engine runs, `--target localstack` starts LocalStack (through
/// testcontainers when built with `--features testcontainers`, else the docker CLI) and the
/// smoke scenario passes against it; elsewhere there is nothing to start, and the test says so.
#[test]
fn localstack_runs_the_smoke_scenario_where_docker_is() {
    let docker = Command::new("docker").args(["info"]).output().is_ok_and(|o| o.status.success());
    if !docker {
        eprintln!(
            "SKIPPED: no Docker engine here (none can be installed on this machine), so LocalStack was not started"
        );
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["scenario", "smoke", "--target", "localstack"])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("scenario smoke PASSED"), "{text}");
}
