//! The scenario's checks: each asks the probes for facts and judges them against the plan.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::plan::{Expect, Planned};
use crate::probes::{ProbeError, dynamodb, logs, s3, stepfunctions, wait_until};
use crate::report::{Check, Outcome, Stage};
use crate::sftp_client::ClientError;
use crate::targets::{Clients, Target};

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The pipeline showed something other than expected; the text says what.
    #[error("{0}")]
    Saw(String),
    /// A probe's call failed in a way the check cannot interpret.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// An SFTP step failed.
    #[error(transparent)]
    Sftp(#[from] ClientError),
}

/// A finished check from its result: the evidence, or why it failed.
pub fn judged(stage: Stage, name: impl Into<String>, started: Instant, result: Result<String, Failure>) -> Check {
    let (outcome, detail) = match result {
        Ok(detail) => (Outcome::Pass, detail),
        Err(reason) => (Outcome::Fail(reason.to_string()), String::new()),
    };
    Check { stage, name: name.into(), outcome, detail, elapsed: started.elapsed() }
}

/// Checks one key's journey; `deliveries` is how many executions each of its events starts.
pub async fn check_file(
    clients: &Clients,
    ep: &Target,
    f: &Planned,
    deliveries: usize,
    deadline: Instant,
) -> Vec<Check> {
    if let Expect::Absent { why } = f.expect {
        return vec![check_absent(clients, ep, f, why).await];
    }
    let mut checks = Vec::new();
    let want = f.status();

    // The executions for this key all finish, as expected.
    let t = Instant::now();
    let want_exec = if want == "failed" { "FAILED" } else { "SUCCEEDED" };
    let execs = wait_until(deadline, || async {
        stepfunctions::executions_for_key(clients, &ep.state_machine_arn, &f.key)
            .await
            .ok()
            .filter(|e| e.len() >= deliveries && e.iter().all(|x| x.status != "RUNNING"))
    })
    .await;
    let lambda_tasks: usize = execs.iter().flatten().map(|e| e.lambda_tasks).sum();
    checks.push(judged(
        Stage::Stepfunctions,
        format!("executions for {} {want_exec}", f.key),
        t,
        match &execs {
            Some(all) if all.iter().all(|e| e.status == want_exec) => {
                Ok(format!("{} execution(s), {lambda_tasks} function invocation(s); {}", all.len(), all[0].arn))
            }
            Some(all) => {
                let bad = all.iter().find(|e| e.status != want_exec).expect("one differs");
                Err(Failure::Saw(format!("{} is {} ({})", bad.arn, bad.status, bad.error.clone().unwrap_or_default())))
            }
            None => Err(Failure::Saw(format!("no finished execution for {} by the deadline", f.key))),
        },
    ));

    // Exactly one record, in the expected final status.
    let t = Instant::now();
    let items = dynamodb::records_for_key(clients, &ep.table, &f.key).await.unwrap_or_default();
    checks.push(judged(
        Stage::Dynamodb,
        format!("one record for {}, {want}", f.key),
        t,
        judge_record(f, &items, &ep.table),
    ));

    if let Some(max) = f.lambda_invocations {
        let t = Instant::now();
        checks.push(judged(
            Stage::Stepfunctions,
            format!("the copy function ran at most {max} time(s) for {}", f.key),
            t,
            if lambda_tasks as u32 <= max {
                Ok(format!("{lambda_tasks}"))
            } else {
                Err(Failure::Saw(format!("it ran {lambda_tasks} times")))
            },
        ));
    }

    // The destination holds the same bytes (or nothing).
    let t = Instant::now();
    let dest = s3::digest(clients, &ep.destination_bucket, &f.key).await;
    checks.push(match &f.expect {
        Expect::Transferred { content, .. } => {
            let expected_sha = content.sha256();
            judged(
                Stage::S3,
                format!("s3://{}/{} matches the upload byte for byte", ep.destination_bucket, f.key),
                t,
                match dest {
                    Ok(Some(d)) if d.sha256 == expected_sha && d.size == content.len() => {
                        Ok(format!("{} bytes, sha256 {}", d.size, &d.sha256[..16]))
                    }
                    Ok(Some(d)) => Err(Failure::Saw(format!(
                        "{} bytes sha256 {}, expected {} bytes sha256 {expected_sha}",
                        d.size,
                        d.sha256,
                        content.len()
                    ))),
                    Ok(None) => {
                        Err(Failure::Saw(format!("GetObject s3://{}/{}: NoSuchKey", ep.destination_bucket, f.key)))
                    }
                    Err(e) => Err(e.into()),
                },
            )
        }
        _ => judged(
            Stage::S3,
            format!("no object s3://{}/{}", ep.destination_bucket, f.key),
            t,
            match dest {
                Ok(Some(d)) => Err(Failure::Saw(format!("an object of {} bytes exists", d.size))),
                _ => Ok("absent".into()),
            },
        ),
    });
    checks
}

fn judge_record(f: &Planned, items: &[dynamodb::Record], table: &str) -> Result<String, Failure> {
    let want = f.status();
    let saw = |s: String| Err(Failure::Saw(s));
    let i = match items {
        [] => return saw(format!("no record for {} in {table}", f.key)),
        [i] => i,
        many => return saw(format!("{} records for {}, expected one", many.len(), f.key)),
    };
    let status = i.s("status").unwrap_or_default();
    let err_msg = i.s("error_message");
    let up = i.s("upload_timestamp");
    let tr = i.s("transfer_timestamp");
    let method = i.s("copy_method").unwrap_or_default();
    let attempts = i.n("attempts").unwrap_or(0);
    if status != want {
        return saw(format!(
            "status is {status}, expected {want}; error_message: {}",
            err_msg.as_deref().unwrap_or("-")
        ));
    }
    if want != "skipped" && (up.is_none() || tr.is_none()) {
        return saw(format!("status {status} but timestamps missing: upload {up:?}, transfer {tr:?}"));
    }
    if i.s("customer_id").as_deref() != Some(f.user.as_str()) {
        return saw(format!("customer_id is {:?}, expected {:?}", i.s("customer_id"), f.user));
    }
    let error_type = i.s("error_type").unwrap_or_default();
    match &f.expect {
        _ if f.attempts.is_some_and(|a| a != attempts) => {
            saw(format!("attempts is {attempts}, expected {}", f.attempts.unwrap_or_default()))
        }
        _ if f.error_type.as_ref().is_some_and(|t| !error_type.contains(t.as_str())) => {
            saw(format!("error_type is {error_type:?}, expected {:?}", f.error_type.as_deref().unwrap_or_default()))
        }
        Expect::Failed { error_contains: Some(needle) }
            if !err_msg.as_deref().unwrap_or("").contains(needle.as_str()) =>
        {
            saw(format!("error_message {err_msg:?} does not mention {needle:?}"))
        }
        Expect::Transferred { copy_method: Some(m), .. } if !method.contains(m.as_str()) => {
            saw(format!("copied with {method:?}, expected {m:?}"))
        }
        _ => Ok(format!(
            "status {status}, attempts {attempts}{}{}",
            if method.is_empty() { String::new() } else { format!(", {method}") },
            err_msg.map(|m| format!(", error_message: {m}")).unwrap_or_default()
        )),
    }
}

/// Nothing exists for a key that must not: no source object, no open multipart upload, no
/// record, no copy.
async fn check_absent(clients: &Clients, ep: &Target, f: &Planned, why: &str) -> Check {
    let t = Instant::now();
    let leftovers = || async {
        let mut found = Vec::new();
        if matches!(s3::head(clients, &ep.source_bucket, &f.key).await, Ok(Some(_))) {
            found.push(format!("s3://{}/{}", ep.source_bucket, f.key));
        }
        if matches!(s3::head(clients, &ep.destination_bucket, &f.key).await, Ok(Some(_))) {
            found.push(format!("s3://{}/{}", ep.destination_bucket, f.key));
        }
        if let Ok(n) = s3::open_uploads(clients, &ep.source_bucket, &f.key).await
            && n > 0
        {
            found.push(format!("{n} open multipart upload(s)"));
        }
        let records = dynamodb::records_for_key(clients, &ep.table, &f.key).await.unwrap_or_default();
        if !records.is_empty() {
            found.push(format!("{} record(s)", records.len()));
        }
        found
    };
    // A dropped connection's parts are aborted asynchronously: wait for them to go, then make
    // sure nothing comes back (a wrongly triggered pipeline would show up within a moment).
    let deadline = Instant::now() + Duration::from_secs(15);
    let gone = wait_until(deadline, || async { leftovers().await.is_empty().then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found = leftovers().await;
    judged(
        Stage::S3,
        format!("nothing exists for {} ({why})", f.key),
        t,
        if gone.is_some() && found.is_empty() {
            Ok("no object, no parts, no record, no copy".into())
        } else {
            Err(Failure::Saw(format!("found {}", found.join(", "))))
        },
    )
}

/// Some invocation was throttled and retried.
pub async fn throttled(clients: &Clients, machine: &str) -> Result<String, Failure> {
    let count: usize = stepfunctions::executions(clients, machine).await?.iter().map(|e| e.throttled_tasks).sum();
    if count > 0 {
        Ok(format!("{count} throttled invocation(s)"))
    } else {
        Err(Failure::Saw("no invocation was throttled".into()))
    }
}

/// The user's uploads are under its prefix, and none of them under another user's (unless an
/// upload of the scenario accounts for it). Checked key by key, so earlier runs on a persistent
/// target (a deployed stack, an endpoint) do not matter.
pub async fn own_prefix_only(
    clients: &Clients,
    ep: &Target,
    user: &str,
    expected: &BTreeSet<String>,
    others: &BTreeSet<String>,
    accounted: &BTreeSet<String>,
) -> Result<String, Failure> {
    let exists = |key: String| async move { matches!(s3::head(clients, &ep.source_bucket, &key).await, Ok(Some(_))) };
    let mut missing = Vec::new();
    for key in expected {
        if !exists(key.clone()).await {
            missing.push(key.clone());
        }
    }
    if !missing.is_empty() {
        return Err(Failure::Saw(format!("missing from s3://{}: {missing:?}", ep.source_bucket)));
    }
    for key in expected {
        let relative = key.strip_prefix(&format!("{user}/")).unwrap_or(key);
        for other in others.iter().filter(|o| o.as_str() != user) {
            let elsewhere = format!("{other}/{relative}");
            if !accounted.contains(&elsewhere) && exists(elsewhere.clone()).await {
                return Err(Failure::Saw(format!("{key} also appeared as {elsewhere}")));
            }
        }
    }
    Ok(format!("{} object(s) in s3://{}/{user}/, none under other users' folders", expected.len(), ep.source_bucket))
}

/// The user's session log shows every activity type in `wanted`.
pub async fn session_log(
    clients: &Clients,
    ep: &Target,
    user: &str,
    wanted: &[&str],
    deadline: Instant,
) -> Result<String, Failure> {
    let query = logs::Query { stream_prefix: Some(format!("{user}.")), ..Default::default() };
    let seen = wait_until(deadline, || async {
        let events = logs::events(clients, &ep.sftp_log_group, &query).await.ok()?;
        let types: BTreeSet<String> = events
            .iter()
            .filter_map(logs::LogEvent::json)
            .filter_map(|v| v.get("activity-type")?.as_str().map(str::to_string))
            .collect();
        wanted.iter().all(|w| types.contains(*w)).then_some(types)
    })
    .await;
    match seen {
        Some(types) => Ok(format!("{} in {}", types.into_iter().collect::<Vec<_>>().join(","), ep.sftp_log_group)),
        None => Err(Failure::Saw(format!("{} lacks some of {wanted:?} for {user}", ep.sftp_log_group))),
    }
}

/// Refused logins as `user` left AUTH_FAILURE lines.
pub async fn auth_failures(clients: &Clients, ep: &Target, user: &str, deadline: Instant) -> Result<String, Failure> {
    let query = logs::Query {
        filter_pattern: Some(format!("{{ $.activity-type = \"AUTH_FAILURE\" && $.user = \"{user}\" }}")),
        ..Default::default()
    };
    let found = wait_until(deadline, || async {
        let events = logs::events(clients, &ep.sftp_log_group, &query).await.ok()?;
        (!events.is_empty()).then_some(events.len())
    })
    .await;
    found
        .map(|n| format!("{n} AUTH_FAILURE line(s) in {}", ep.sftp_log_group))
        .ok_or_else(|| Failure::Saw(format!("no AUTH_FAILURE for {user} in {}", ep.sftp_log_group)))
}

/// The copy function's log has the runtime's START, END and REPORT lines.
pub async fn function_log(clients: &Clients, ep: &Target, deadline: Instant) -> Result<String, Failure> {
    let found = wait_until(deadline, || async {
        let events = logs::events(clients, &ep.function_log_group, &logs::Query::default()).await.ok()?;
        let has = |p: &str| events.iter().any(|e| e.message.starts_with(p));
        (has("START RequestId") && has("END RequestId") && has("REPORT RequestId")).then_some(events.len())
    })
    .await;
    found
        .map(|n| format!("{n} lines in {}", ep.function_log_group))
        .ok_or_else(|| Failure::Saw(format!("{} lacks START/END/REPORT", ep.function_log_group)))
}
