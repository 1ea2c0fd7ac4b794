//! The harness binary end to end: scenarios run against the embedded simulator through real
//! sockets, and a broken stage fails the run with the cause named.

use std::process::Command;

#[path = "common/check_kinds.rs"]
mod check_kinds;

fn harness(args: &[&str]) -> (i32, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_harness")).args(args).env("RUST_LOG", "error").output().expect("harness runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn smoke_passes_every_stage() {
    let (code, out) = harness(&["scenario", "smoke"]);
    assert_eq!(code, 0, "{out}");
    for stage in ["[sftp]", "[dynamodb]", "[stepfunctions]", "[s3]", "[logs]"] {
        assert!(out.contains(&format!("PASS  {stage}")), "no passed {stage} check:\n{out}");
    }
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("scenario smoke PASSED"), "{out}");
}

#[test]
fn multi_user_passes() {
    let (code, out) = harness(&["scenario", "multi-user"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("globex's files land under globex/ only"), "{out}");
}

/// Runs a shipped scenario on the embedded target: it passes, and every check it ran has a kind
/// (a row in checks_fail.rs that breaks it).
fn shipped_scenario_passes(name: &str) {
    let reports = tempfile::tempdir().unwrap();
    let report = reports.path().join(format!("{name}.json"));
    let (code, out) = harness(&["scenario", name, "--json", report.to_str().unwrap()]);
    assert_eq!(code, 0, "scenario {name} failed:\n{out}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for c in json["runs"][0]["checks"].as_array().unwrap() {
        let check = c["name"].as_str().unwrap();
        assert!(
            check_kinds::kind_of(check).is_some(),
            "{name}: check {check:?} has no kind in tests/common/check_kinds.rs: add one, and a row in checks_fail.rs that breaks it"
        );
    }
}

/// One test per shipped scenario (so they run side by side), and the list of them.
macro_rules! shipped_scenarios {
    ($($test:ident => $name:literal,)*) => {
        /// Every scenario this file runs.
        const SHIPPED: &[&str] = &[$($name),*];
        /// Each shipped scenario passes on the embedded target.
        mod shipped {
            $(
                #[test]
                fn $test() {
                    super::shipped_scenario_passes($name);
                }
            )*
        }
    };
}

shipped_scenarios! {
    bad_key => "bad-key",
    checksum_mismatch => "checksum-mismatch",
    duplicate_delivery => "duplicate-delivery",
    dynamodb_throttled => "dynamodb-throttled",
    folder_marker => "folder-marker",
    function_killed => "function-killed",
    function_timeout => "function-timeout",
    homes => "homes",
    interrupted_upload => "interrupted-upload",
    isolation => "isolation",
    large_file => "large-file",
    late_older_event => "late-older-event",
    long_wait => "long-wait",
    missing_destination => "missing-destination",
    multi_user => "multi-user",
    overwrite_during_copy => "overwrite-during-copy",
    partner_acceptance => "partner-acceptance",
    restart_mid_pipeline => "restart-mid-pipeline",
    retry_schedule => "retry-schedule",
    retry_then_succeed => "retry-then-succeed",
    slow_storage => "slow-storage",
    smoke => "smoke",
    special_keys => "special-keys",
    target_fails_to_dlq => "target-fails-to-dlq",
    throttled => "throttled",
    uploaded_first => "uploaded-first",
    winscp_style => "winscp-style",
}

/// Every scenario shipped in `scenarios/` has its test above.
#[test]
fn every_shipped_scenario_has_a_test() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))?
        })
        .collect();
    names.sort();
    assert_eq!(names, SHIPPED, "add a row to shipped_scenarios! for each scenario file");
}

#[test]
fn missing_destination_bucket_fails_the_run_and_names_the_cause() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/missing-destination.toml");
    let (code, out) = harness(&["scenario", "--file", fixture]);
    assert_eq!(code, 1, "{out}");
    let record_line = out.lines().skip_while(|l| !l.contains("FAIL  [dynamodb]")).nth(1).unwrap_or_default();
    assert!(record_line.contains("status is failed"), "{out}");
    assert!(record_line.contains("NoSuchBucket") && record_line.contains("s3://partner-intake-destination/"), "{out}");
}

/// A scenario's `[sim] sfn_mock_config` and `sfn_test_case` run the pipeline's executions under
/// Step Functions Local's mocks: TransferFile throws the mocked error without calling the
/// function, and the state machine's Catch records it in DynamoDB.
#[test]
fn a_mock_config_test_case_drives_the_pipeline() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mocked-copy.toml");
    let (code, out) = harness(&["scenario", "--file", fixture]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("status failed, attempts 0") && out.contains("mocked: the destination refused"), "{out}");
    assert!(out.contains("closes with ExecutionFailed"), "{out}");
}

#[test]
fn unknown_scenario_is_a_usage_error() {
    let (code, out) = harness(&["scenario", "no-such-scenario"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no-such-scenario.toml"), "{out}");
}

#[test]
fn list_shows_the_scenarios() {
    let (code, out) = harness(&["scenario", "--list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("smoke") && out.contains("multi-user"), "{out}");
}

#[test]
fn validate_checks_every_shipped_file_and_names_a_bad_one() {
    let (code, out) = harness(&["scenario", "validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 invalid"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n[[users]]\nname = \"a\"\n[[uploads]]\nuser = \"a\"\npath = \"x.csv\"\nsize = -5\n",
    )
    .unwrap();
    let (code, out) = harness(&["scenario", "validate", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad.toml") && out.contains("line 7") && out.contains("size"), "{out}");
}
