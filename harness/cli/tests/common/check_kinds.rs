//! The kinds of check the harness ships, by a stable part of their names: `checks_fail.rs`
//! breaks each kind, `scenarios.rs` finds a kind for every check the shipped scenarios report.

/// A kind of check: a stable part of its name.
pub struct Kind {
    pub name: &'static str,
    pub pattern: &'static str,
}

pub const KINDS: &[Kind] = &[
    Kind { name: "login", pattern: "logs in with its SSH key" },
    Kind { name: "mkdir", pattern: "creates directory" },
    Kind { name: "upload", pattern: " uploads /" },
    Kind { name: "interrupt", pattern: "drops the connection" },
    Kind { name: "refused-upload", pattern: "is refused an upload to" },
    Kind { name: "listing", pattern: "sees its uploads in directory listings" },
    Kind { name: "stays-home", pattern: "cannot leave its home" },
    Kind { name: "stays-path-home", pattern: "cannot read outside its PATH home" },
    Kind { name: "login-refused", pattern: " is refused" },
    Kind { name: "login-accepted", pattern: " logs in" },
    Kind { name: "executions-finish", pattern: "finish" },
    Kind { name: "executions", pattern: "executions for " },
    Kind { name: "invocations", pattern: "the copy function ran " },
    Kind { name: "record", pattern: "the record of " },
    Kind { name: "uploaded-first", pattern: "reads uploaded before the copy starts" },
    Kind { name: "copies", pattern: "cop(ies) of" },
    Kind { name: "destination", pattern: "matches the upload byte for byte" },
    Kind { name: "no-destination", pattern: "no object s3://" },
    Kind { name: "absent", pattern: "nothing exists for" },
    Kind { name: "own-prefix", pattern: "files land under" },
    Kind { name: "session-log", pattern: "session log has" },
    Kind { name: "auth-failure", pattern: "are logged as AUTH_FAILURE" },
    Kind { name: "throttled", pattern: "were throttled and retried" },
    Kind { name: "function-log", pattern: "the copy function logged the end" },
    Kind { name: "open-uploads", pattern: "left open at the destination" },
    Kind { name: "task-errors", pattern: "and the executions went on" },
    Kind { name: "dead-letter", pattern: "is in the dead-letter queue" },
    Kind { name: "redriven", pattern: "were redriven (ExecutionRedriven)" },
    Kind { name: "restart", pattern: "the simulator restarts" },
    Kind { name: "execution-log", pattern: "the execution log of " },
    Kind { name: "retry-schedule", pattern: "waited" },
    Kind { name: "state-duration", pattern: "s (execution history)" },
];

/// The kind of a check, by its name (the first pattern that matches, so specific ones first).
pub fn kind_of(check: &str) -> Option<&'static str> {
    let order = [
        "uploaded-first",
        "stays-path-home",
        "refused-upload",
        "login",
        "mkdir",
        "upload",
        "interrupt",
        "listing",
        "stays-home",
        "invocations",
        "function-log",
        "record",
        "copies",
        "destination",
        "no-destination",
        "absent",
        "own-prefix",
        "session-log",
        "auth-failure",
        "throttled",
        "open-uploads",
        "task-errors",
        "dead-letter",
        "redriven",
        "restart",
        "execution-log",
        "retry-schedule",
        "state-duration",
        "executions-finish",
        "executions",
        "login-refused",
        "login-accepted",
    ];
    order.into_iter().find(|k| {
        let p = KINDS.iter().find(|x| x.name == *k).expect("every ordered kind is listed").pattern;
        match *k {
            // "executions for X finish" vs "executions for X SUCCEEDED".
            "executions-finish" => {
                check.starts_with("executions for ") && check.ends_with(" finish")
                    || check.contains("each start their executions")
            }
            "login-refused" | "login-accepted" => check.starts_with("login ") && check.ends_with(p.trim_start()),
            _ => check.contains(p),
        }
    })
}
