//! The scenario's checks: each asks the probes for facts and judges them against the plan.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use copy_lambda::event::sequencer_order;

use super::plan::{Expect, KeyPlan, Planned};
use crate::probes::{ProbeError, dynamodb, logs, s3, stepfunctions, wait_for, wait_until};
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

/// Checks one key's journey: every upload's executions and record, its copies, and what the
/// destination holds. `deliveries` is how many executions each event starts.
pub async fn check_key(
    clients: &Clients,
    ep: &Target,
    kp: &KeyPlan,
    deliveries: usize,
    deadline: Instant,
) -> Vec<Check> {
    if let Some(Expect::Absent { why }) = kp.uploads.last().map(|p| &p.expect) {
        return vec![check_absent(clients, ep, kp, why).await];
    }
    let mut checks = Vec::new();
    let n = kp.uploads.len();
    let key = &kp.key;

    // Every event's executions, all finished; grouped by upload (an upload's events share its
    // sequencer), oldest upload first.
    let t = Instant::now();
    let wanted = n * deliveries;
    let last_seen = std::sync::Mutex::new(Vec::new());
    let execs = wait_for(deadline, || async {
        let all = stepfunctions::executions_for_key(clients, &ep.state_machine_arn, key).await?;
        let done = all.len() >= wanted && all.iter().all(|x| x.status != "RUNNING");
        *last_seen.lock().unwrap() = all.iter().map(|e| e.status.clone()).collect::<Vec<_>>();
        Ok(done.then_some(all))
    })
    .await;
    let last_seen = last_seen.into_inner().unwrap_or_default();
    let execs = match execs {
        Ok(Some(e)) => e,
        Ok(None) => {
            checks.push(judged(
                Stage::Stepfunctions,
                format!("executions for {key} finish"),
                t,
                Err(Failure::Saw(format!(
                    "{} of {wanted} execution(s) by the deadline, statuses {last_seen:?}",
                    last_seen.len()
                ))),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(judged(Stage::Stepfunctions, format!("executions for {key} finish"), t, Err(e.into())));
            return checks;
        }
    };
    let mut groups: BTreeMap<String, Vec<stepfunctions::Execution>> = BTreeMap::new();
    for e in execs {
        groups.entry(sequencer_order(e.input_str("sequencer"))).or_default().push(e);
    }
    if groups.len() != n {
        checks.push(judged(
            Stage::Stepfunctions,
            format!("{n} upload(s) of {key} each start their executions"),
            t,
            Err(Failure::Saw(format!("executions carry {} distinct upload(s)", groups.len()))),
        ));
        return checks;
    }

    let versioned = groups.values().any(|g| !g[0].input_str("version_id").is_empty());
    let dest_copies = match kp.uploads.iter().any(|p| p.copies.is_some()) {
        true => Some(copies_by_sequencer(clients, &ep.destination_bucket, key).await),
        false => None,
    };
    let mut newest_transferred = None;
    for (i, ((_, group), planned)) in groups.iter().zip(&kp.uploads).enumerate() {
        let label = if n > 1 { format!("{key} (upload {} of {n})", i + 1) } else { key.clone() };
        let want_exec = planned.execution_status();
        let tasks: usize = group.iter().map(|e| e.lambda_tasks).sum();
        let t = Instant::now();
        checks.push(judged(
            Stage::Stepfunctions,
            format!("executions for {label} {want_exec}"),
            t,
            if group.len() != deliveries {
                Err(Failure::Saw(format!("{} execution(s), expected {deliveries}", group.len())))
            } else if let Some(bad) = group.iter().find(|e| e.status != want_exec) {
                Err(Failure::Saw(format!("{} is {} ({})", bad.arn, bad.status, bad.error.clone().unwrap_or_default())))
            } else {
                Ok(format!("{} execution(s), {tasks} function invocation(s); {}", group.len(), group[0].arn))
            },
        ));
        if let Some(count) = planned.lambda_invocations {
            checks.push(judged(
                Stage::Stepfunctions,
                format!("the copy function ran {count} time(s) for {label}"),
                Instant::now(),
                if count.holds(tasks as u32) {
                    Ok(format!("{tasks}"))
                } else {
                    Err(Failure::Saw(format!("it ran {tasks} time(s)")))
                },
            ));
        }

        // The upload's record: on an unversioned bucket the key has one record, the newest
        // upload's.
        let version = group[0].input_str("version_id");
        if versioned || i + 1 == n {
            let t = Instant::now();
            let file_id = copy_lambda::metadata::file_id(&ep.source_bucket, key, version);
            let statuses = planned.statuses().join(" or ");
            let result = match dynamodb::record(clients, &ep.table, &file_id).await {
                Ok(Some(r)) => judge_record(kp, planned, &r),
                Ok(None) => Err(Failure::Saw(format!("no record {file_id} for {key} in {}", ep.table))),
                Err(e) => Err(e.into()),
            };
            if let Ok(detail) = &result
                && detail.starts_with("status transferred")
            {
                newest_transferred = planned.content().cloned();
            }
            checks.push(judged(Stage::Dynamodb, format!("the record of {label} is {statuses}"), t, result));
        }

        if let (Some(count), Some(copies)) = (planned.copies, &dest_copies) {
            let sequencer = group[0].input_str("sequencer");
            checks.push(judged(
                Stage::S3,
                format!("{count} cop(ies) of {label} at the destination"),
                Instant::now(),
                match copies {
                    Ok(by) => {
                        let c = by.get(sequencer).copied().unwrap_or(0);
                        if count.holds(c) {
                            Ok(format!("{c} destination version(s) from this upload"))
                        } else {
                            Err(Failure::Saw(format!("{c} destination version(s) from this upload")))
                        }
                    }
                    Err(e) => Err(Failure::Saw(e.to_string())),
                },
            ));
        }
    }

    // The destination holds the newest transferred upload's bytes (or nothing).
    let t = Instant::now();
    let dest = s3::digest(clients, &ep.destination_bucket, key).await;
    checks.push(match (&newest_transferred, kp.is_marker()) {
        (Some(content), _) => {
            let expected_sha = content.sha256();
            judged(
                Stage::S3,
                format!("s3://{}/{key} matches the upload byte for byte", ep.destination_bucket),
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
                    Ok(None) => Err(Failure::Saw(format!("GetObject s3://{}/{key}: NoSuchKey", ep.destination_bucket))),
                    Err(e) => Err(e.into()),
                },
            )
        }
        _ => judged(
            Stage::S3,
            format!("no object s3://{}/{key}", ep.destination_bucket),
            t,
            match dest {
                Ok(Some(d)) => Err(Failure::Saw(format!("an object of {} bytes exists", d.size))),
                _ => Ok("absent".into()),
            },
        ),
    });
    checks
}

/// Destination versions of `key` per source sequencer, from the copies' provenance.
async fn copies_by_sequencer(clients: &Clients, bucket: &str, key: &str) -> Result<BTreeMap<String, u32>, ProbeError> {
    let mut by = BTreeMap::new();
    for v in s3::versions(clients, bucket, key).await? {
        if let Some(h) = s3::head_version(clients, bucket, key, v.as_deref()).await?
            && let Some(seq) = h.metadata.get(copy_lambda::copy::provenance::SEQUENCER)
        {
            *by.entry(seq.clone()).or_insert(0) += 1;
        }
    }
    Ok(by)
}

fn judge_record(kp: &KeyPlan, f: &Planned, i: &dynamodb::Record) -> Result<String, Failure> {
    let saw = |s: String| Err(Failure::Saw(s));
    let status = i.s("status").unwrap_or_default();
    let err_msg = i.s("error_message");
    let method = i.s("copy_method").unwrap_or_default();
    let attempts = i.n("attempts").unwrap_or(0);
    if !f.statuses().contains(&status.as_str()) {
        return saw(format!(
            "status is {status}, expected {}; error_message: {}",
            f.statuses().join(" or "),
            err_msg.as_deref().unwrap_or("-")
        ));
    }
    let missing: Vec<&str> = copy_lambda::metadata::SCHEMA.into_iter().filter(|a| !i.item.contains_key(*a)).collect();
    if !missing.is_empty() {
        return saw(format!("status {status} but the record lacks {missing:?}"));
    }
    if status != "skipped" && i.s("transfer_timestamp").is_none() {
        return saw(format!("status {status} but no transfer_timestamp"));
    }
    if i.s("customer_id").as_deref() != Some(kp.user.as_str()) {
        return saw(format!("customer_id is {:?}, expected {:?}", i.s("customer_id"), kp.user));
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

/// Before the copy is released, the upload's record reads `uploaded`, with the schema every
/// writer uses, and the destination holds nothing of it.
pub async fn uploaded_before_copy(
    clients: &Clients,
    ep: &Target,
    kp: &KeyPlan,
    deadline: Instant,
) -> Result<String, Failure> {
    let Some(src) = s3::head(clients, &ep.source_bucket, &kp.key).await? else {
        return Err(Failure::Saw(format!("no s3://{}/{}", ep.source_bucket, kp.key)));
    };
    let file_id = copy_lambda::metadata::file_id(&ep.source_bucket, &kp.key, src.version_id.as_deref().unwrap_or(""));
    let record = wait_for(deadline, || async { dynamodb::record(clients, &ep.table, &file_id).await }).await?;
    let Some(r) = record else {
        return Err(Failure::Saw(format!("no record {file_id} by the deadline")));
    };
    let status = r.s("status").unwrap_or_default();
    let missing: Vec<&str> = copy_lambda::metadata::SCHEMA.into_iter().filter(|a| !r.item.contains_key(*a)).collect();
    if status != "uploaded" || !missing.is_empty() {
        return Err(Failure::Saw(format!("the record is {status:?}, lacking {missing:?}")));
    }
    if let Some(d) = s3::head(clients, &ep.destination_bucket, &kp.key).await? {
        return Err(Failure::Saw(format!("the destination already holds {} bytes", d.size)));
    }
    Ok(format!("record {file_id} uploaded, upload_timestamp {}", r.s("upload_timestamp").unwrap_or_default()))
}

/// Nothing exists for a key that must not: no source object, no open multipart upload, no
/// record, no copy.
async fn check_absent(clients: &Clients, ep: &Target, f: &KeyPlan, why: &str) -> Check {
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
