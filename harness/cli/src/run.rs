//! Runs a scenario on the embedded target: start the simulator, upload over SFTP, then check
//! every stage through the AWS APIs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::aws::Clients;
use crate::content::Content;
use crate::report::{Check, Outcome, Report};
use crate::scenario::{self, Scenario};
use crate::sftp_client::{SftpClient, generate_key};

/// Where the harness finds the shared files and the function to run.
pub struct Paths {
    /// `infra/`.
    pub infra: PathBuf,
    /// Command that starts the copy function's `bootstrap`.
    pub function_command: Vec<String>,
}

struct Planned {
    user: String,
    path: String,
    key: String,
    content: Content,
    expect: scenario::Outcome,
    error_contains: Option<String>,
}

fn check(stage: &'static str, name: impl Into<String>, started: Instant, result: Result<String, String>) -> Check {
    let (outcome, detail) = match result {
        Ok(detail) => (Outcome::Pass, detail),
        Err(reason) => (Outcome::Fail(reason), String::new()),
    };
    Check { stage, name: name.into(), outcome, detail, elapsed: started.elapsed() }
}

/// Polls `probe` until it yields `Some` or the deadline passes.
async fn wait_for<T, F, Fut>(deadline: Instant, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Runs one scenario; returns the number of failed checks.
pub async fn run_scenario(scenario: &Scenario, paths: &Paths) -> anyhow::Result<usize> {
    let started = Instant::now();
    println!("scenario {}: {}", scenario.name, scenario.description.trim());
    let keys: BTreeMap<String, _> = scenario.users.iter().map(|u| (u.name.clone(), generate_key())).collect();
    let mut config = sim::SimConfig::new(paths.infra.clone(), paths.function_command.clone());
    config.users =
        keys.iter().map(|(n, k)| sim::UserConfig { name: n.clone(), keys: vec![k.public_key().clone()] }).collect();
    config.create_destination_bucket = scenario.sim.create_destination_bucket;
    let simulator = sim::Simulator::start(config).await.context("starting the embedded simulator")?;
    let ep = simulator.endpoints.clone();
    println!("target embedded: sftp {} | aws {} | server {}", ep.sftp, ep.aws, ep.server_id);
    let clients = Clients::for_endpoint(&ep.aws, &ep.region, sim::ACCESS_KEY_ID, sim::SECRET_ACCESS_KEY);

    let planned: Vec<Planned> = scenario
        .uploads
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let path = u.path.trim_start_matches('/').to_string();
            Planned {
                key: format!("{}/{path}", u.user),
                user: u.user.clone(),
                content: match (&u.content, u.size) {
                    (Some(text), _) => Content::Literal(text.clone().into_bytes()),
                    (None, size) => Content::Generated { size: size.unwrap_or(0), seed: i as u64 + 1 },
                },
                path,
                expect: u.expect,
                error_contains: u.error_contains.clone(),
            }
        })
        .collect();

    let mut report = Report::default();
    // Upload: one SFTP session per user, users in parallel.
    let uploads = scenario.users.iter().map(|u| {
        let key = keys[&u.name].clone();
        let files: Vec<&Planned> = planned.iter().filter(|p| p.user == u.name).collect();
        let ep = ep.clone();
        async move {
            let t = Instant::now();
            let mut checks = Vec::new();
            let client = match SftpClient::connect(ep.sftp, Some(ep.host_key_fingerprint.clone()), &u.name, &key).await
            {
                Ok(c) => {
                    checks.push(check(
                        "sftp",
                        format!("{} logs in with its SSH key", u.name),
                        t,
                        Ok(format!("host key {}", ep.host_key_fingerprint)),
                    ));
                    c
                }
                Err(e) => {
                    checks.push(check("sftp", format!("{} logs in with its SSH key", u.name), t, Err(e.to_string())));
                    return checks;
                }
            };
            for f in files {
                let t = Instant::now();
                let parent = f.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let result = async {
                    client.mkdir_all(parent).await?;
                    client.upload(&format!("/{}", f.path), &f.content).await
                }
                .await;
                checks.push(check(
                    "sftp",
                    format!("{} uploads /{}", f.user, f.path),
                    t,
                    result
                        .map(|n| format!("{n} bytes, {:.0} ms", t.elapsed().as_secs_f64() * 1000.0))
                        .map_err(|e| e.to_string()),
                ));
            }
            client.close().await;
            checks
        }
    });
    for checks in futures::future::join_all(uploads).await {
        for c in checks {
            report.add(c);
        }
    }

    let deadline = Instant::now() + Duration::from_secs(scenario.timeout_seconds);
    for f in &planned {
        for c in check_file(&clients, &ep, f, deadline).await {
            report.add(c);
        }
    }
    for u in &scenario.users {
        let expected: BTreeSet<String> = planned.iter().filter(|p| p.user == u.name).map(|p| p.key.clone()).collect();
        let t = Instant::now();
        report.add(check(
            "s3",
            format!("{}'s files land under {}/ only", u.name, u.name),
            t,
            own_prefix_only(&clients, &ep, &u.name, &expected).await,
        ));
        let t = Instant::now();
        report.add(check(
            "logs",
            format!("{}'s session log has CONNECTED, OPEN, CLOSE, DISCONNECTED", u.name),
            t,
            session_log(&clients, &ep, &u.name, deadline).await,
        ));
    }
    let t = Instant::now();
    report.add(check(
        "logs",
        "copy function log has START, END and REPORT lines",
        t,
        function_log(&clients, &ep, deadline).await,
    ));
    report.summary(&scenario.name, started.elapsed());
    simulator.shutdown();
    Ok(report.failed())
}

async fn record(clients: &Clients, table: &str, file_id: &str) -> Option<BTreeMap<String, AttributeValue>> {
    let out = clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key("file_id", AttributeValue::S(file_id.into()))
        .consistent_read(true)
        .send()
        .await
        .ok()?;
    out.item().map(|i| i.clone().into_iter().collect())
}

fn attr_s(item: &BTreeMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

async fn check_file(clients: &Clients, ep: &sim::Endpoints, f: &Planned, deadline: Instant) -> Vec<Check> {
    let mut checks = Vec::new();
    let file_id = copy_lambda::metadata::file_id(&ep.source_bucket, &f.key);
    let want = match f.expect {
        scenario::Outcome::Transferred => "transferred",
        scenario::Outcome::Failed => "failed",
    };

    // The record reaches its final status.
    let t = Instant::now();
    let item = wait_for(deadline, || async {
        record(clients, &ep.table, &file_id)
            .await
            .filter(|i| matches!(attr_s(i, "status").as_deref(), Some("transferred" | "failed")))
    })
    .await;
    let record_result = match &item {
        None => Err(match record(clients, &ep.table, &file_id).await {
            Some(i) => format!("record {file_id} is still {:?} at the deadline", attr_s(&i, "status")),
            None => format!("no record {file_id} in {} by the deadline", ep.table),
        }),
        Some(i) => {
            let status = attr_s(i, "status").unwrap_or_default();
            let err_msg = attr_s(i, "error_message");
            let up = attr_s(i, "upload_timestamp");
            let tr = attr_s(i, "transfer_timestamp");
            if status != want {
                Err(format!(
                    "status is {status}, expected {want}; error_message: {}",
                    err_msg.as_deref().unwrap_or("-")
                ))
            } else if up.is_none() || tr.is_none() {
                Err(format!("status {status} but timestamps missing: upload {up:?}, transfer {tr:?}"))
            } else if let (Some(needle), scenario::Outcome::Failed) = (&f.error_contains, f.expect) {
                match &err_msg {
                    Some(m) if m.contains(needle.as_str()) => Ok(format!("status {status}, error_message: {m}")),
                    other => Err(format!("error_message {other:?} does not mention {needle:?}")),
                }
            } else if attr_s(i, "customer_id").as_deref() != Some(f.user.as_str()) {
                Err(format!("customer_id is {:?}, expected {:?}", attr_s(i, "customer_id"), f.user))
            } else {
                Ok(format!(
                    "file_id {file_id}, status {status}, uploaded {}, transferred {}",
                    up.unwrap_or_default(),
                    tr.unwrap_or_default()
                ))
            }
        }
    };
    checks.push(check("dynamodb", format!("record for {} is {want}", f.key), t, record_result));

    // The execution for this key finished as expected.
    let t = Instant::now();
    let want_exec = if want == "transferred" { "SUCCEEDED" } else { "FAILED" };
    let exec = wait_for(deadline, || async {
        execution_for(clients, &ep.state_machine_arn, &f.key).await.filter(|(_, s, _)| s != "RUNNING")
    })
    .await;
    checks.push(check(
        "stepfunctions",
        format!("execution for {} {want_exec}", f.key),
        t,
        match exec {
            Some((arn, status, _)) if status == want_exec => Ok(arn),
            Some((arn, status, error)) => Err(format!("{arn} is {status} ({})", error.unwrap_or_default())),
            None => Err(format!("no finished execution for {} by the deadline", f.key)),
        },
    ));

    // The destination holds the same bytes (or nothing, for a failed copy).
    let t = Instant::now();
    let dest = destination_sha256(clients, &ep.destination_bucket, &f.key).await;
    let expected_sha = f.content.sha256();
    checks.push(match f.expect {
        scenario::Outcome::Transferred => check(
            "s3",
            format!("s3://{}/{} matches the upload byte for byte", ep.destination_bucket, f.key),
            t,
            match dest {
                Ok((size, sha)) if sha == expected_sha && size == f.content.len() => {
                    Ok(format!("{size} bytes, sha256 {}", &sha[..16]))
                }
                Ok((size, sha)) => {
                    Err(format!("{size} bytes sha256 {sha}, expected {} bytes sha256 {expected_sha}", f.content.len()))
                }
                Err(e) => Err(e),
            },
        ),
        scenario::Outcome::Failed => check(
            "s3",
            format!("no object s3://{}/{} after the failed copy", ep.destination_bucket, f.key),
            t,
            match dest {
                Ok((size, _)) => Err(format!("an object of {size} bytes exists")),
                Err(_) => Ok("absent".into()),
            },
        ),
    });
    checks
}

async fn execution_for(clients: &Clients, machine: &str, key: &str) -> Option<(String, String, Option<String>)> {
    let list = clients.sfn.list_executions().state_machine_arn(machine).send().await.ok()?;
    for e in list.executions() {
        let d = clients.sfn.describe_execution().execution_arn(e.execution_arn()).send().await.ok()?;
        let input: serde_json::Value = serde_json::from_str(d.input().unwrap_or("{}")).ok()?;
        let raw = input.get("key").and_then(|k| k.as_str()).unwrap_or_default();
        if copy_lambda::keys::decode_event_key(raw) == key {
            return Some((
                d.execution_arn().to_string(),
                d.status().as_str().to_string(),
                d.error().map(str::to_string),
            ));
        }
    }
    None
}

async fn destination_sha256(clients: &Clients, bucket: &str, key: &str) -> Result<(u64, String), String> {
    let out = clients.s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        format!("GetObject s3://{bucket}/{key}: {}", e.code().unwrap_or("error"))
    })?;
    let mut reader = out.body.into_async_read();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

async fn own_prefix_only(
    clients: &Clients,
    ep: &sim::Endpoints,
    user: &str,
    expected: &BTreeSet<String>,
) -> Result<String, String> {
    let mut files = BTreeSet::new();
    let mut token = None;
    loop {
        let out = clients
            .s3
            .list_objects_v2()
            .bucket(&ep.source_bucket)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        for o in out.contents() {
            let k = o.key().unwrap_or_default();
            if !k.ends_with('/') && expected.contains(k) {
                files.insert(k.to_string());
            } else if !k.ends_with('/') && k.starts_with(&format!("{user}/")) {
                return Err(format!("unexpected object {k} under {user}/"));
            }
        }
        token = out.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if &files != expected {
        let missing: Vec<_> = expected.difference(&files).collect();
        return Err(format!("missing from s3://{}: {missing:?}", ep.source_bucket));
    }
    Ok(format!("{} object(s) in s3://{}/{user}/", files.len(), ep.source_bucket))
}

async fn session_log(clients: &Clients, ep: &sim::Endpoints, user: &str, deadline: Instant) -> Result<String, String> {
    let wanted = ["CONNECTED", "OPEN", "CLOSE", "DISCONNECTED"];
    let seen = wait_for(deadline, || async {
        let out = clients
            .logs
            .filter_log_events()
            .log_group_name(&ep.sftp_log_group)
            .log_stream_name_prefix(format!("{user}."))
            .send()
            .await
            .ok()?;
        let types: BTreeSet<String> = out
            .events()
            .iter()
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(e.message()?).ok())
            .filter_map(|v| v.get("activity-type")?.as_str().map(str::to_string))
            .collect();
        wanted.iter().all(|w| types.contains(*w)).then_some(types)
    })
    .await;
    match seen {
        Some(types) => Ok(format!("{} in {}", types.into_iter().collect::<Vec<_>>().join(","), ep.sftp_log_group)),
        None => Err(format!("{} lacks some of {wanted:?} for {user}", ep.sftp_log_group)),
    }
}

async fn function_log(clients: &Clients, ep: &sim::Endpoints, deadline: Instant) -> Result<String, String> {
    let found = wait_for(deadline, || async {
        let out = clients.logs.filter_log_events().log_group_name(&ep.function_log_group).send().await.ok()?;
        let msgs: Vec<&str> = out.events().iter().filter_map(|e| e.message()).collect();
        let has = |p: &str| msgs.iter().any(|m| m.starts_with(p));
        (has("START RequestId") && has("END RequestId") && has("REPORT RequestId")).then_some(msgs.len())
    })
    .await;
    found
        .map(|n| format!("{n} lines in {}", ep.function_log_group))
        .ok_or_else(|| format!("{} lacks START/END/REPORT", ep.function_log_group))
}
