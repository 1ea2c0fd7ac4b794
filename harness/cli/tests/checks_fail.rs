//! Every check the harness ships can say "no": for each kind of check, a shipped scenario runs
//! with one stage broken on purpose (`harness scenario --break NAME`, see `sim::breaks`) and the
//! check watching that stage fails, with a message naming what was wrong; the other checks that
//! fail are the ones downstream of the broken stage, listed in the row. `every_kind_has_a_break`
//! finds a row for each kind of check, and `scenarios.rs` a kind for each check the shipped
//! scenarios report, so a new check without a break fails.

use std::process::Command;

#[path = "common/check_kinds.rs"]
mod check_kinds;
use check_kinds::{KINDS, kind_of};

/// Which scenario breaks which check, and what else fails downstream.
struct Row {
    scenario: &'static str,
    breaks: &'static [&'static str],
    /// The kind that must fail, and text its reason must contain.
    fails: &'static str,
    reason: &'static str,
    /// Other kinds that may fail with it (downstream of the broken stage).
    also: &'static [&'static str],
}

/// The workspace root, where `scenarios/` and `infra/` are.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(row: &Row) {
    let dir = tempfile::tempdir().unwrap();
    // The shipped scenario, with a short deadline: a broken stage never shows what a check
    // waits for, and the check then gives up at the deadline.
    let shipped = std::fs::read_to_string(root().join(format!("scenarios/{}.toml", row.scenario))).unwrap();
    let mut text = String::new();
    let mut top = true;
    for l in shipped.lines().filter(|l| !l.starts_with("timeout_seconds")) {
        if top && l.starts_with('[') {
            text.push_str("timeout_seconds = 10\n");
            top = false;
        }
        text.push_str(l);
        text.push('\n');
    }
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    let report = dir.path().join("r.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(root()).args(["scenario", "--file"]).arg(&file).arg("--json").arg(&report).env("RUST_LOG", "error");
    for b in row.breaks {
        cmd.args(["--break", b]);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{} with {:?} must fail:\n{text}", row.scenario, row.breaks);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let failed: Vec<(String, String)> = json["runs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["reason"].as_str().unwrap_or_default().to_string()))
        .collect();
    let target: Vec<&(String, String)> = failed.iter().filter(|(n, _)| kind_of(n) == Some(row.fails)).collect();
    assert!(!target.is_empty(), "{} with {:?}: no {} check failed:\n{text}", row.scenario, row.breaks, row.fails);
    assert!(
        target.iter().any(|(_, r)| r.contains(row.reason)),
        "{} with {:?}: the {} check failed, but not saying {:?}:\n{text}",
        row.scenario,
        row.breaks,
        row.fails,
        row.reason
    );
    for (name, reason) in &failed {
        let k = kind_of(name);
        assert!(
            k == Some(row.fails) || k.is_some_and(|k| row.also.contains(&k)),
            "{} with {:?}: {name:?} ({k:?}) failed too ({reason}); only {} and {:?} may:\n{text}",
            row.scenario,
            row.breaks,
            row.fails,
            row.also
        );
    }
}

macro_rules! rows {
    ($($test:ident: $scenario:literal, [$($b:literal),*] => $fails:literal, $reason:literal, [$($also:expr),*];)*) => {
        /// The table: test name, scenario, breaks => failing kind, reason, downstream kinds.
        const ROWS: &[(&str, Row)] = &[$((stringify!($test), Row {
            scenario: $scenario,
            breaks: &[$($b),*],
            fails: $fails,
            reason: $reason,
            also: &[$($also),*],
        })),*];
        $(
            #[test]
            fn $test() {
                run(&ROWS.iter().find(|(n, _)| *n == stringify!($test)).unwrap().1);
            }
        )*
    };
}

rows! {
    login_refused_keys: "smoke", ["refuse-logins"] => "login", "public key refused", ["session-log", "executions-finish", "own-prefix", "function-log"];
    mkdir_refused: "folder-marker", ["refuse-writes"] => "mkdir", "denied", ["upload", "listing", "executions-finish", "own-prefix", "session-log", "function-log"];
    upload_refused: "smoke", ["refuse-writes"] => "upload", "denied", ["executions-finish", "own-prefix", "session-log", "function-log"];
    interrupt_refused: "interrupted-upload", ["refuse-writes"] => "interrupt", "denied", ["upload", "executions-finish", "own-prefix", "session-log", "function-log", "listing"];
    listing_hidden: "smoke", ["hide-listings"] => "listing", "not listed", ["stays-home"];
    home_escaped: "smoke", ["escape-home"] => "stays-home", "outside the home", [];
    policy_ignored: "homes", ["ignore-policy"] => "refused-upload", "the server accepted", ["stays-path-home", "absent", "own-prefix", "session-log"];
    path_home_left: "homes", ["ignore-policy"] => "stays-path-home", "showed", ["refused-upload", "absent", "own-prefix", "session-log"];
    any_key_accepted: "bad-key", ["accept-any-key"] => "login-refused", "the server let it in", ["auth-failure"];
    own_key_refused: "bad-key", ["refuse-logins"] => "login-accepted", "public key refused", ["login", "login-refused", "session-log", "executions-finish", "own-prefix", "function-log"];
    interrupted_kept: "interrupted-upload", ["keep-interrupted-uploads"] => "absent", "", [];
    no_execution: "smoke", ["no-execution"] => "executions-finish", "by the deadline", ["function-log"];
    double_invocation: "duplicate-delivery", ["double-invoke"] => "invocations", "invocation(s) in /aws/lambda", [];
    copied_twice: "duplicate-delivery", ["copy-twice"] => "copies", "2 destination version(s)", [];
    corrupt_copy: "smoke", ["corrupt-copy"] => "destination", "ChecksumMismatch", [];
    // The function verifies its copy, so a missing one is caught there first.
    skipped_copy: "smoke", ["skip-copy"] => "executions", "is FAILED (CopyFailed)", ["record", "function-log", "execution-log"];
    copied_elsewhere: "smoke", ["copy-elsewhere"] => "record", "status is failed", ["executions", "function-log", "execution-log"];
    wrong_status: "smoke", ["wrong-status"] => "record", "status is skipped", ["no-destination"];
    no_record_upload: "uploaded-first", ["drop-record-upload"] => "uploaded-first", "no record", ["executions-finish", "function-log"];
    not_throttled: "throttled", ["no-throttling"] => "throttled", "none of this run's", [];
    close_not_logged: "smoke", ["drop-close-log"] => "session-log", "CLOSE", [];
    auth_failure_not_logged: "bad-key", ["drop-auth-failure-log"] => "auth-failure", "no AUTH_FAILURE", [];
    function_silent: "smoke", ["drop-function-log"] => "function-log", "no finished line", [];
    uploads_misplaced: "smoke", ["misplace-uploads"] => "own-prefix", "missing from", ["listing", "executions-finish", "function-log"];
    // The function removes a copy that fails verification: one stored twice leaves the other.
    failed_copy_left: "checksum-mismatch", ["copy-twice"] => "no-destination", "bytes exists", ["copies"];
    copy_upload_orphaned: "large-file", ["stray-copy-uploads"] => "open-uploads", "1 open multipart upload(s)", [];
    dead_letters_dropped: "target-fails-to-dlq", ["drop-dead-letters"] => "dead-letter", "no message for acme/inbound/orphan.csv", [];
    restart_lost_data: "restart-mid-pipeline", ["restart-loses-data"] => "restart", "is gone after the restart", ["executions-finish", "redriven", "function-log", "own-prefix", "session-log"];
    running_forgotten: "restart-mid-pipeline", ["forget-running-executions"] => "redriven", "was redriven", [];
    execution_log_dropped: "smoke", ["drop-execution-logs"] => "execution-log", "no ExecutionSucceeded", [];
    retries_unspaced: "retry-schedule", ["skip-waits"] => "retry-schedule", "between its attempts of TransferFile", [];
    wait_skipped: "long-wait", ["skip-waits"] => "state-duration", "in WaitBeforeTransferFile, not 3600 s", [];
    task_errors_hidden: "function-killed", ["drop-task-failed-events"] => "task-errors", "no task failed with Runtime.ExitError", [];
}

/// Every kind of check has a row that breaks it (`scenarios.rs` checks that every check the
/// shipped scenarios report has a kind).
#[test]
fn every_kind_has_a_break() {
    for k in KINDS {
        assert!(ROWS.iter().any(|(_, r)| r.fails == k.name), "no row breaks the {} checks", k.name);
    }
}
