//! The scenario's checks: each asks the probes for facts and judges them against the plan.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use copy_lambda::event::sequencer_order;

use super::plan::{Expect, KeyPlan, Planned};
use crate::probes::{ProbeError, dynamodb, logs, s3, sqs, stepfunctions, wait_for};
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
    since_ms: i64,
    deadline: Instant,
) -> Vec<Check> {
    if kp.is_absent() {
        return Vec::new();
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
        let t = Instant::now();
        checks.push(judged(
            Stage::Logs,
            format!("the execution log of {label} closes with {}", closing_event(want_exec)),
            t,
            execution_log(clients, ep, group, want_exec, since_ms, deadline).await,
        ));
        if let Some(count) = planned.lambda_invocations {
            // Step Functions' history says how often it asked; the function's own log how
            // often it ran. Both must agree with the plan.
            let t = Instant::now();
            let sequencer = group[0].input_str("sequencer");
            let result = if !count.holds(tasks as u32) {
                Err(Failure::Saw(format!("Step Functions invoked it {tasks} time(s)")))
            } else {
                match invocations_logged(clients, ep, key, sequencer, tasks, since_ms, deadline).await {
                    Ok(ran) if ran == tasks => Ok(format!(
                        "{tasks} task(s) in the executions' history, {ran} invocation(s) in the function's log"
                    )),
                    Ok(ran) => Err(Failure::Saw(format!(
                        "{tasks} task(s) in the executions' history but {ran} invocation(s) in {}",
                        ep.function_log_group
                    ))),
                    Err(e) => Err(e),
                }
            };
            checks.push(judged(
                Stage::Stepfunctions,
                format!("the copy function ran {count} time(s) for {label}"),
                t,
                result,
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
            // Hashed as it was sent: not generated again.
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
                Ok(None) => Ok("absent".into()),
                Err(e) => Err(e.into()),
            },
        ),
    });
    // Every execution has finished: a multipart copy still open at the destination was
    // orphaned by an attempt that died (its parts are billed until a lifecycle rule aborts it).
    let t = Instant::now();
    checks.push(judged(
        Stage::S3,
        format!("no multipart copy of {key} left open at the destination"),
        t,
        match s3::open_uploads_of(clients, &ep.destination_bucket, key).await {
            Ok(0) => Ok("none open".into()),
            Ok(n) => Err(Failure::Saw(format!("{n} open multipart upload(s) of s3://{}/{key}", ep.destination_bucket))),
            Err(e) if e.code == "NoSuchBucket" => Ok("no destination bucket, so nothing open".into()),
            Err(e) => Err(e.into()),
        },
    ));
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

/// How long absence checks watch: as long as the run's pipeline took to bring its other files to
/// their end (so a wrongly started pipeline would have shown up), at least [`MIN_SETTLE`].
pub const MIN_SETTLE: Duration = Duration::from_secs(3);

/// Nothing exists for a key that must not: no source object, no open multipart upload, no
/// record, no execution, no copy; and nothing appears while the check watches for `settle`.
/// An error it cannot interpret fails it.
pub async fn check_absent(
    clients: &Clients,
    ep: &Target,
    f: &KeyPlan,
    why: &str,
    settle: Duration,
    deadline: Instant,
) -> Check {
    let t = Instant::now();
    let leftovers = || async {
        let mut found = Vec::new();
        for bucket in [&ep.source_bucket, &ep.destination_bucket] {
            if s3::head(clients, bucket, &f.key).await?.is_some() {
                found.push(format!("s3://{bucket}/{}", f.key));
            }
        }
        let n = s3::open_uploads(clients, &ep.source_bucket, &f.key).await?;
        if n > 0 {
            found.push(format!("{n} open multipart upload(s)"));
        }
        found.extend(pipeline_traces(clients, ep, &f.key).await?);
        Ok::<_, ProbeError>(found)
    };
    let name = format!("nothing exists for {} ({why})", f.key);
    // A dropped connection's parts are aborted asynchronously: wait for them to go, then watch.
    let gone = wait_for(deadline, || async { Ok(leftovers().await?.is_empty().then_some(())) }).await;
    match gone {
        Err(e) => return judged(Stage::S3, name, t, Err(e.into())),
        Ok(None) => {
            let found = leftovers().await.map(|f| f.join(", ")).unwrap_or_else(|e| e.to_string());
            return judged(Stage::S3, name, t, Err(Failure::Saw(format!("found {found} by the deadline"))));
        }
        Ok(Some(())) => {}
    }
    let until = (Instant::now() + settle).min(deadline);
    loop {
        match leftovers().await {
            Err(e) => return judged(Stage::S3, name, t, Err(e.into())),
            Ok(found) if !found.is_empty() => {
                return judged(Stage::S3, name, t, Err(Failure::Saw(format!("{} appeared", found.join(", ")))));
            }
            Ok(_) if Instant::now() >= until => break,
            Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    judged(
        Stage::S3,
        name,
        t,
        Ok(format!("no object, parts, record, execution or copy, watched for {:.1} s", settle.as_secs_f64())),
    )
}

/// What the pipeline holds for `key` past S3: its records and its executions, as "N record(s)"
/// and "N execution(s)" (empty when there are none).
async fn pipeline_traces(clients: &Clients, ep: &Target, key: &str) -> Result<Vec<String>, ProbeError> {
    let mut found = Vec::new();
    let records = dynamodb::records_for_key(clients, &ep.table, key).await?;
    if !records.is_empty() {
        found.push(format!("{} record(s)", records.len()));
    }
    let executions = stepfunctions::executions_for_key(clients, &ep.state_machine_arn, key).await?;
    if !executions.is_empty() {
        found.push(format!("{} execution(s)", executions.len()));
    }
    Ok(found)
}

/// An upload EventBridge could not deliver: the source object exists, its event is in the
/// rule's dead-letter queue (with `code` when given), and no execution, record or copy exists
/// for it, watched for `settle`. An error it cannot interpret fails it.
pub async fn check_dead_lettered(
    clients: &Clients,
    ep: &Target,
    f: &KeyPlan,
    code: Option<&str>,
    settle: Duration,
    deadline: Instant,
) -> Check {
    let t = Instant::now();
    let key = &f.key;
    let name = format!("the event for {key} is in the dead-letter queue, with no execution or record");
    let Some(url) = ep.dead_letter_queue.as_deref() else {
        return judged(
            Stage::Eventbridge,
            name,
            t,
            Err(Failure::Saw("the target names no dead-letter queue (outputs without dead_letter_queue)".into())),
        );
    };
    let letter = wait_for(deadline, || async {
        let letters = sqs::dead_letters_for_key(clients, url, key).await?;
        Ok(letters.into_iter().find(|l| code.is_none_or(|c| l.error_code == c)))
    })
    .await;
    let letter = match letter {
        Ok(Some(l)) => l,
        Ok(None) => {
            let why = match code {
                Some(c) => format!("no message for {key} with ERROR_CODE {c} in {url} by the deadline"),
                None => format!("no message for {key} in {url} by the deadline"),
            };
            return judged(Stage::Eventbridge, name, t, Err(Failure::Saw(why)));
        }
        Err(e) => return judged(Stage::Eventbridge, name, t, Err(e.into())),
    };
    let leftovers = || async {
        let mut found = Vec::new();
        if s3::head(clients, &ep.source_bucket, key).await?.is_none() {
            found.push(format!("no source object s3://{}/{key}", ep.source_bucket));
        }
        if s3::head(clients, &ep.destination_bucket, key).await?.is_some() {
            found.push(format!("a copy s3://{}/{key}", ep.destination_bucket));
        }
        found.extend(pipeline_traces(clients, ep, key).await?);
        Ok::<_, ProbeError>(found)
    };
    let watch_until = Instant::now() + settle;
    loop {
        match leftovers().await {
            Ok(found) if !found.is_empty() => {
                return judged(Stage::Eventbridge, name, t, Err(Failure::Saw(found.join(", "))));
            }
            Ok(_) if Instant::now() >= watch_until => break,
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return judged(Stage::Eventbridge, name, t, Err(e.into())),
        }
    }
    let exhausted = letter.exhausted.map(|c| format!(", {c} exhausted")).unwrap_or_default();
    judged(
        Stage::Eventbridge,
        name,
        t,
        Ok(format!(
            "{} after {} retries{exhausted}: {}",
            letter.error_code,
            letter.retry_attempts,
            letter.error_message.chars().take(120).collect::<String>()
        )),
    )
}

/// Some invocation for this run's keys was throttled and retried.
pub async fn throttled(clients: &Clients, machine: &str, keys: &[&str]) -> Result<String, Failure> {
    let mut count = 0;
    for key in keys {
        count += stepfunctions::executions_for_key(clients, machine, key)
            .await?
            .iter()
            .map(|e| e.throttled_tasks)
            .sum::<usize>();
    }
    if count > 0 {
        Ok(format!("{count} throttled invocation(s) of this run's {} file(s)", keys.len()))
    } else {
        Err(Failure::Saw(format!("none of this run's {} file(s) had a throttled invocation", keys.len())))
    }
}

/// After a restart, every uploaded object is still in the source bucket.
pub async fn kept_uploads(clients: &Clients, ep: &Target, planned: &[KeyPlan]) -> Result<String, Failure> {
    let keys: Vec<&KeyPlan> = planned.iter().filter(|k| !k.is_absent()).collect();
    for k in &keys {
        if s3::head(clients, &ep.source_bucket, &k.key).await?.is_none() {
            return Err(Failure::Saw(format!("s3://{}/{} is gone after the restart", ep.source_bucket, k.key)));
        }
    }
    Ok(format!("same ports; all {} uploaded object(s) still in s3://{}", keys.len(), ep.source_bucket))
}

/// Some execution of this run's keys was redriven, and each redriven one succeeded.
pub async fn redriven(clients: &Clients, machine: &str, keys: &[&str]) -> Result<String, Failure> {
    let mut redriven = Vec::new();
    for key in keys {
        for e in stepfunctions::executions_for_key(clients, machine, key).await? {
            if e.redriven {
                redriven.push((key.to_string(), e.status.clone()));
            }
        }
    }
    if redriven.is_empty() {
        return Err(Failure::Saw(format!("no execution of this run's {} file(s) was redriven", keys.len())));
    }
    let summary: Vec<String> = redriven.iter().map(|(k, s)| format!("{k} {s}")).collect();
    if redriven.iter().any(|(_, s)| s != "SUCCEEDED") {
        return Err(Failure::Saw(format!("a redriven execution did not succeed: {}", summary.join(", "))));
    }
    Ok(format!("{} redriven: {}", redriven.len(), summary.join(", ")))
}

/// Each of `wanted` failed some task of this run's keys (in the executions' history).
pub async fn task_errors(
    clients: &Clients,
    machine: &str,
    keys: &[&str],
    wanted: &[String],
) -> Result<String, Failure> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for key in keys {
        for e in stepfunctions::executions_for_key(clients, machine, key).await? {
            for error in e.task_errors {
                *seen.entry(error).or_default() += 1;
            }
        }
    }
    let missing: Vec<&str> = wanted.iter().filter(|w| !seen.contains_key(*w)).map(String::as_str).collect();
    let summary = seen.iter().map(|(e, n)| format!("{e} x{n}")).collect::<Vec<_>>().join(", ");
    if missing.is_empty() {
        Ok(format!("failed tasks: {summary}"))
    } else {
        let summary = if summary.is_empty() { "none".to_string() } else { summary };
        Err(Failure::Saw(format!("no task failed with {}; failed tasks: {summary}", missing.join(", "))))
    }
}

/// Every upload of the user's lands under the literal prefix `<user>/`, and none of them under
/// another user's folder (unless an upload of the scenario accounts for it). Checked key by
/// key, so earlier runs on a persistent target (a deployed stack, an endpoint) do not matter.
pub async fn own_prefix_only(
    clients: &Clients,
    ep: &Target,
    user: &str,
    expected: &BTreeSet<String>,
    others: &BTreeSet<String>,
    accounted: &BTreeSet<String>,
) -> Result<String, Failure> {
    let prefix = format!("{user}/");
    if let Some(k) = expected.iter().find(|k| !k.starts_with(&prefix)) {
        return Err(Failure::Saw(format!("{user}'s upload is declared to land at {k}, outside {prefix}")));
    }
    let mut missing = Vec::new();
    for key in expected {
        if s3::head(clients, &ep.source_bucket, key).await?.is_none() {
            missing.push(key.clone());
        }
    }
    if !missing.is_empty() {
        return Err(Failure::Saw(format!("missing from s3://{}/{prefix}: {missing:?}", ep.source_bucket)));
    }
    for key in expected {
        let relative = &key[prefix.len()..];
        for other in others.iter().filter(|o| o.as_str() != user) {
            let elsewhere = format!("{other}/{relative}");
            if !accounted.contains(&elsewhere) && s3::head(clients, &ep.source_bucket, &elsewhere).await?.is_some() {
                return Err(Failure::Saw(format!("{key} also appeared as {elsewhere}")));
            }
        }
    }
    Ok(format!("{} object(s) in s3://{}/{prefix}, none under other users' folders", expected.len(), ep.source_bucket))
}

/// The user's session log, since the run started, shows every activity type in `wanted`.
pub async fn session_log(
    clients: &Clients,
    ep: &Target,
    user: &str,
    wanted: &[&str],
    since_ms: i64,
    deadline: Instant,
) -> Result<String, Failure> {
    let query =
        logs::Query { stream_prefix: Some(format!("{user}.")), start_time: Some(since_ms), ..Default::default() };
    let last = std::sync::Mutex::new(BTreeSet::new());
    let seen = wait_for(deadline, || async {
        let events = logs::events(clients, &ep.sftp_log_group, &query).await?;
        let types: BTreeSet<String> = events
            .iter()
            .filter_map(logs::LogEvent::json)
            .filter_map(|v| v.get("activity-type")?.as_str().map(str::to_string))
            .collect();
        *last.lock().unwrap() = types.clone();
        Ok(wanted.iter().all(|w| types.contains(*w)).then_some(types))
    })
    .await?;
    match seen {
        Some(types) => Ok(format!(
            "{} in {} since the run started",
            types.into_iter().collect::<Vec<_>>().join(","),
            ep.sftp_log_group
        )),
        None => {
            let have = last.into_inner().unwrap_or_default();
            let lacking: Vec<&str> = wanted.iter().copied().filter(|w| !have.contains(*w)).collect();
            Err(Failure::Saw(format!(
                "{} has no {lacking:?} for {user} since the run started (it has {have:?})",
                ep.sftp_log_group
            )))
        }
    }
}

/// Refused logins as `user`, since the run started, left AUTH_FAILURE lines.
pub async fn auth_failures(
    clients: &Clients,
    ep: &Target,
    user: &str,
    since_ms: i64,
    deadline: Instant,
) -> Result<String, Failure> {
    let query = logs::Query {
        filter_pattern: Some(format!("{{ $.activity-type = \"AUTH_FAILURE\" && $.user = \"{user}\" }}")),
        start_time: Some(since_ms),
        ..Default::default()
    };
    let found = wait_for(deadline, || async {
        let events = logs::events(clients, &ep.sftp_log_group, &query).await?;
        Ok((!events.is_empty()).then_some(events.len()))
    })
    .await?;
    found.map(|n| format!("{n} AUTH_FAILURE line(s) in {} since the run started", ep.sftp_log_group)).ok_or_else(|| {
        Failure::Saw(format!("no AUTH_FAILURE for {user} in {} since the run started", ep.sftp_log_group))
    })
}

/// The copy function's own log, since the run started, has its `finished` line for each key,
/// with the outcome the key must end with (the runtime's START/END/REPORT lines, which the
/// platform writes, prove nothing of the function).
/// Distinct invocations (request IDs) whose "received" line in the function's log names this
/// key and upload (sequencer); waits until there are `want` of them or the deadline passes.
async fn invocations_logged(
    clients: &Clients,
    ep: &Target,
    key: &str,
    sequencer: &str,
    want: usize,
    since_ms: i64,
    deadline: Instant,
) -> Result<usize, Failure> {
    let query = logs::Query { start_time: Some(since_ms), ..Default::default() };
    let seen = std::sync::atomic::AtomicUsize::new(0);
    wait_for(deadline, || async {
        let events = logs::events(clients, &ep.function_log_group, &query).await?;
        let ids: BTreeSet<String> = events
            .iter()
            .filter_map(logs::LogEvent::json)
            .filter(|v| {
                v["fields"]["stage"] == "received"
                    && v["span"]["key"] == key
                    && (sequencer.is_empty() || v["fields"]["sequencer"] == sequencer)
            })
            .filter_map(|v| v["span"]["request_id"].as_str().map(str::to_string))
            .collect();
        seen.store(ids.len(), std::sync::atomic::Ordering::Relaxed);
        Ok((ids.len() >= want).then_some(()))
    })
    .await?;
    Ok(seen.into_inner())
}

pub async fn function_log(
    clients: &Clients,
    ep: &Target,
    outcomes: &[(&str, &[&str])],
    since_ms: i64,
    deadline: Instant,
) -> Result<String, Failure> {
    let query = logs::Query { start_time: Some(since_ms), ..Default::default() };
    let missing = std::sync::Mutex::new(Vec::new());
    let found = wait_for(deadline, || async {
        let events = logs::events(clients, &ep.function_log_group, &query).await?;
        let finished: Vec<(String, String)> = events
            .iter()
            .filter_map(logs::LogEvent::json)
            .filter(|v| v["fields"]["stage"] == "finished")
            .map(|v| {
                let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
                (s(&v["span"]["key"]), s(&v["fields"]["outcome"]))
            })
            .collect();
        let lacking: Vec<String> = outcomes
            .iter()
            .filter(|(key, want)| !finished.iter().any(|(k, o)| k == key && want.contains(&o.as_str())))
            .map(|(key, want)| format!("{key} ({})", want.join(" or ")))
            .collect();
        let n = finished.len();
        *missing.lock().unwrap() = lacking;
        Ok(missing.lock().unwrap().is_empty().then_some(n))
    })
    .await?;
    found.map(|n| format!("{n} finished line(s) in {} since the run started", ep.function_log_group)).ok_or_else(|| {
        Failure::Saw(format!(
            "{} has no finished line for {:?}",
            ep.function_log_group,
            missing.into_inner().unwrap_or_default()
        ))
    })
}

/// The history event that ends an execution with `status`.
fn closing_event(status: &str) -> &'static str {
    match status {
        "SUCCEEDED" => "ExecutionSucceeded",
        "FAILED" => "ExecutionFailed",
        "TIMED_OUT" => "ExecutionTimedOut",
        "ABORTED" => "ExecutionAborted",
        _ => "ExecutionStarted",
    }
}

/// Each execution's closing event is in the state machine's log group, as Step Functions logs
/// it (`execution_arn`, `type`; an `ExecutionFailed` carries the execution's cause).
pub async fn execution_log(
    clients: &Clients,
    ep: &Target,
    execs: &[stepfunctions::Execution],
    want_status: &str,
    since_ms: i64,
    deadline: Instant,
) -> Result<String, Failure> {
    let group = &ep.state_machine_log_group;
    let kind = closing_event(want_status);
    if kind == "ExecutionStarted" {
        return Err(Failure::Saw(format!("{want_status} is not a status an execution ends with")));
    }
    if execs.is_empty() {
        return Err(Failure::Saw("no execution to look for".into()));
    }
    let wanted: Vec<(&str, &str, Option<&str>)> =
        execs.iter().map(|e| (e.arn.as_str(), kind, e.cause.as_deref())).collect();
    let query = logs::Query { start_time: Some(since_ms), ..Default::default() };
    let last = std::sync::Mutex::new(Vec::<String>::new());
    let found = wait_for(deadline, || async {
        let events = logs::events(clients, group, &query).await?;
        let mut missing = Vec::new();
        for (arn, kind, cause) in &wanted {
            let hit = events.iter().filter_map(|e| e.json()).find(|j| {
                j["execution_arn"].as_str() == Some(arn) && j["type"].as_str() == Some(kind) && j["id"].is_string()
            });
            match hit {
                Some(j)
                    if *kind == "ExecutionFailed" && cause.is_some() && j["details"]["cause"].as_str() != *cause =>
                {
                    missing.push(format!("{kind} of {arn} without its cause (logged {})", j["details"]))
                }
                Some(_) => {}
                None => missing.push(format!("no {kind} for {arn}")),
            }
        }
        let done = missing.is_empty();
        *last.lock().unwrap() = missing;
        Ok(done.then_some(events.len()))
    })
    .await?;
    match found {
        Some(n) => Ok(format!(
            "{} closing event(s) among {n} entr(ies) of {group}: {}",
            wanted.len(),
            wanted.iter().map(|(_, k, _)| *k).collect::<Vec<_>>().join(", ")
        )),
        None => Err(Failure::Saw(format!("{} in {group}", last.into_inner().unwrap_or_default().join("; ")))),
    }
}

/// Real work between two attempts (an invocation's reply, the next scheduling) on top of the
/// wait itself.
const SCHEDULE_SLACK: f64 = 1.0;

fn seconds_list(v: &[f64]) -> String {
    v.iter().map(|s| format!("{s:.3} s")).collect::<Vec<_>>().join(", ")
}

/// Every execution of this run's keys waited `want` between its failed attempts of `state`
/// (each gap at least the scheduled wait, and less than a second over it).
pub async fn retry_schedule(
    clients: &Clients,
    machine: &str,
    keys: &[&str],
    state: &str,
    want: &[f64],
) -> Result<String, Failure> {
    if want.is_empty() {
        return Err(Failure::Saw(
            "the schedule lists no wait: expect_retry_schedule.seconds needs at least one".into(),
        ));
    }
    let mut seen = Vec::new();
    for key in keys {
        for e in stepfunctions::executions_for_key(clients, machine, key).await? {
            let gaps = e.retry_gaps(state);
            let fits = gaps.len() == want.len()
                && gaps.iter().zip(want).all(|(g, w)| *g >= w - 0.001 && *g < w + SCHEDULE_SLACK);
            if !fits {
                return Err(Failure::Saw(format!(
                    "{} waited {} between its attempts of {state}, the schedule is {}",
                    e.arn,
                    if gaps.is_empty() { "nothing".to_string() } else { seconds_list(&gaps) },
                    seconds_list(want)
                )));
            }
            seen.push(gaps);
        }
    }
    if seen.is_empty() {
        return Err(Failure::Saw(format!("no execution of this run's {} file(s)", keys.len())));
    }
    Ok(format!(
        "{} execution(s); history gaps {}",
        seen.len(),
        seen.iter().map(|g| seconds_list(g)).collect::<Vec<_>>().join(" | ")
    ))
}

/// Every execution of this run's keys spent `want` seconds in `state` (entry to exit).
pub async fn state_duration(
    clients: &Clients,
    machine: &str,
    keys: &[&str],
    state: &str,
    want: f64,
) -> Result<String, Failure> {
    let mut seen = Vec::new();
    for key in keys {
        for e in stepfunctions::executions_for_key(clients, machine, key).await? {
            match e.state_duration(state) {
                Some(d) if d >= want - 0.001 && d < want + SCHEDULE_SLACK => seen.push(d),
                Some(d) => {
                    return Err(Failure::Saw(format!("{} spent {d:.3} s in {state}, not {want} s", e.arn)));
                }
                None => return Err(Failure::Saw(format!("{} never entered and left {state}", e.arn))),
            }
        }
    }
    if seen.is_empty() {
        return Err(Failure::Saw(format!("no execution of this run's {} file(s)", keys.len())));
    }
    Ok(format!("{} execution(s): {}", seen.len(), seconds_list(&seen)))
}
