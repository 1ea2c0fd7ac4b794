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
use crate::target::Target;

/// Where the harness finds the shared files and the function to run.
pub struct Paths {
    /// `infra/`.
    pub infra: PathBuf,
    /// Command that starts the copy function's `bootstrap`.
    pub function_command: Vec<String>,
}

/// What one source key must end as.
enum Expect {
    Transferred {
        content: Content,
        copy_method: Option<String>,
    },
    Failed {
        error_contains: Option<String>,
    },
    Skipped,
    /// Nothing may exist for this key: no source object, no record, no copy, no parts.
    Absent {
        why: &'static str,
    },
}

struct Planned {
    user: String,
    key: String,
    expect: Expect,
    lambda_invocations: Option<u32>,
    attempts: Option<u64>,
    error_type: Option<String>,
}

impl Planned {
    fn status(&self) -> &'static str {
        match self.expect {
            Expect::Transferred { .. } => "transferred",
            Expect::Failed { .. } => "failed",
            Expect::Skipped => "skipped",
            Expect::Absent { .. } => "absent",
        }
    }
}

fn content_of(u: &scenario::Upload, seed: u64) -> Content {
    match (&u.content, u.size) {
        (Some(text), _) => Content::Literal(text.clone().into_bytes()),
        (None, size) => Content::Generated { size: size.unwrap_or(0), seed },
    }
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

/// Where a scenario runs.
pub enum RunTarget {
    /// The embedded simulator, started for the run.
    Embedded(Paths),
    /// An AWS-compatible endpoint (moto, LocalStack) holding S3 and DynamoDB; the simulator
    /// supplies SFTP, EventBridge, Step Functions, Lambda and Logs.
    Endpoint {
        /// Simulator files and function command.
        paths: Paths,
        /// Endpoint URL.
        endpoint: String,
        /// Create the buckets and the table there first.
        provision: bool,
    },
    /// A deployed stack (its `terraform output -json` document), with real partner accounts.
    Aws {
        /// The outputs document.
        stack: std::path::PathBuf,
        /// `NAME=KEYPATH` accounts the scenario's users act as, in order.
        users: Vec<(String, std::path::PathBuf)>,
    },
}

/// The SFTP account a scenario user acts as.
#[derive(Clone)]
struct Account {
    name: String,
    key: russh::keys::PrivateKey,
}

/// Runs one scenario and reports every check.
pub async fn run_scenario(scenario: &Scenario, target: &RunTarget) -> anyhow::Result<Report> {
    let started = Instant::now();
    println!("scenario {}: {}", scenario.name, scenario.description.trim());
    let mut report = Report::new(&scenario.name, &scenario.description, Vec::new());
    match target {
        RunTarget::Embedded(paths) => {
            let accounts: BTreeMap<String, Account> = scenario
                .users
                .iter()
                .map(|u| (u.name.clone(), Account { name: u.name.clone(), key: generate_key() }))
                .collect();
            let simulator = start_simulator(scenario, paths, &accounts, None).await?;
            let ep = Target::from_sim(&simulator.endpoints);
            report.target = format!(
                "embedded simulator (sftp {}:{}, aws {}, server {})",
                ep.sftp_host,
                ep.sftp_port,
                ep.endpoint_url.as_deref().unwrap_or_default(),
                simulator.endpoints.server_id
            );
            println!("target {}", report.target);
            let clients = Clients::for_endpoint(
                ep.endpoint_url.as_deref().unwrap_or_default(),
                &ep.region,
                sim::ACCESS_KEY_ID,
                sim::SECRET_ACCESS_KEY,
            );
            run_checks(scenario, &ep, &accounts, Some(&clients), &mut report).await;
            simulator.shutdown();
        }
        RunTarget::Endpoint { paths, endpoint, provision } => {
            if !scenario.sim.s3_faults.is_empty() || !scenario.sim.create_destination_bucket {
                report.add(Check {
                    stage: "target",
                    name: format!("scenario {} needs the embedded simulator's S3", scenario.name),
                    outcome: Outcome::Skipped(
                        "S3 faults and a missing destination exist only in the simulated S3".into(),
                    ),
                    detail: String::new(),
                    elapsed: Duration::ZERO,
                });
            } else {
                let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into());
                let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into());
                let names = sim::SimConfig::new(paths.infra.clone(), Vec::new());
                let data = Clients::for_endpoint(endpoint, sim::REGION, &key, &secret);
                if *provision {
                    provision_endpoint(&data, &names).await?;
                } else {
                    check_provisioned(&data, &names, endpoint).await?;
                }
                let accounts: BTreeMap<String, Account> = scenario
                    .users
                    .iter()
                    .map(|u| (u.name.clone(), Account { name: u.name.clone(), key: generate_key() }))
                    .collect();
                let external = sim::ExternalAws {
                    endpoint: endpoint.clone(),
                    access_key_id: key.clone(),
                    secret_access_key: secret.clone(),
                };
                let simulator = start_simulator(scenario, paths, &accounts, Some(external)).await?;
                let ep = Target::from_sim(&simulator.endpoints);
                report.target = format!(
                    "endpoint {endpoint}: S3 and DynamoDB from the endpoint; SFTP, EventBridge, Step Functions, Lambda and Logs from the simulator (aws {})",
                    simulator.endpoints.aws
                );
                println!("target {}", report.target);
                let clients = Clients::split(endpoint, &simulator.endpoints.aws, sim::REGION, &key, &secret);
                run_checks(scenario, &ep, &accounts, Some(&clients), &mut report).await;
                simulator.shutdown();
            }
        }
        RunTarget::Aws { stack, users } => {
            let outputs = crate::target::StackOutputs::load(stack)?;
            let ep = Target::from_stack(&outputs);
            if scenario.users.len() > users.len() {
                anyhow::bail!(
                    "scenario {} needs {} SFTP account(s) but {} were given: pass --user NAME=KEYFILE for each",
                    scenario.name,
                    scenario.users.len(),
                    users.len()
                );
            }
            let mut accounts = BTreeMap::new();
            for (u, (name, path)) in scenario.users.iter().zip(users) {
                let key = russh::keys::load_secret_key(path, None)
                    .with_context(|| format!("reading the SSH private key of {name} from {}", path.display()))?;
                accounts.insert(u.name.clone(), Account { name: name.clone(), key });
            }
            let clients = Clients::from_environment(&ep.region).await;
            report.target = format!(
                "aws {} (sftp {}:{}, {})",
                ep.region,
                ep.sftp_host,
                ep.sftp_port,
                if clients.is_some() {
                    "backend checks with the caller's AWS credentials"
                } else {
                    "partner mode: no AWS credentials"
                }
            );
            println!("target {}", report.target);
            if !scenario.sim.is_default() {
                report.add(Check {
                    stage: "target",
                    name: format!("scenario {} needs the embedded simulator", scenario.name),
                    outcome: Outcome::Skipped(
                        "its [sim] settings (faults, clock, knobs) exist only in the simulator".into(),
                    ),
                    detail: String::new(),
                    elapsed: Duration::ZERO,
                });
            } else {
                run_checks(scenario, &ep, &accounts, clients.as_ref(), &mut report).await;
            }
        }
    }
    report.users = scenario.users.iter().map(|u| u.name.clone()).collect();
    report.summary(started.elapsed());
    Ok(report)
}

/// Creates the stack's buckets and table at an AWS-compatible endpoint (`--provision`).
async fn provision_endpoint(c: &Clients, names: &sim::SimConfig) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    for bucket in [&names.source_bucket, &names.destination_bucket] {
        if c.s3.head_bucket().bucket(bucket.as_str()).send().await.is_err() {
            c.s3.create_bucket()
                .bucket(bucket.as_str())
                .send()
                .await
                .with_context(|| format!("creating bucket {bucket}"))?;
        }
    }
    if c.dynamodb.describe_table().table_name(&names.table).send().await.is_err() {
        c.dynamodb
            .create_table()
            .table_name(&names.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("file_id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(KeySchemaElement::builder().attribute_name("file_id").key_type(KeyType::Hash).build()?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .with_context(|| format!("creating table {}", names.table))?;
    }
    Ok(())
}

/// Says what is missing at the endpoint, and how to create it.
async fn check_provisioned(c: &Clients, names: &sim::SimConfig, endpoint: &str) -> anyhow::Result<()> {
    for bucket in [&names.source_bucket, &names.destination_bucket] {
        if c.s3.head_bucket().bucket(bucket.as_str()).send().await.is_err() {
            anyhow::bail!("bucket {bucket} does not exist at {endpoint}: create it, or pass --provision");
        }
    }
    if c.dynamodb.describe_table().table_name(&names.table).send().await.is_err() {
        anyhow::bail!("table {} does not exist at {endpoint}: create it, or pass --provision", names.table);
    }
    Ok(())
}

async fn start_simulator(
    scenario: &Scenario,
    paths: &Paths,
    accounts: &BTreeMap<String, Account>,
    external: Option<sim::ExternalAws>,
) -> anyhow::Result<sim::Simulator> {
    let mut config = sim::SimConfig::new(paths.infra.clone(), paths.function_command.clone());
    config.external = external;
    config.users = scenario
        .users
        .iter()
        .map(|u| {
            let a = &accounts[&u.name];
            sim::UserConfig { home: u.home_spec(), ..sim::UserConfig::new(&a.name, vec![a.key.public_key().clone()]) }
        })
        .collect();
    config.create_destination_bucket = scenario.sim.create_destination_bucket;
    config.function_env = scenario.sim.function_env.clone();
    config.delivery.duplicates = scenario.sim.duplicate_deliveries;
    config.delivery.jitter = Duration::from_millis(scenario.sim.delivery_jitter_ms);
    config.function_timeout_seconds = scenario.sim.function_timeout_seconds;
    config.function_reserved_concurrency = scenario.sim.function_reserved_concurrency;
    if let Some(scale) = scenario.sim.clock_scale {
        config.clock = sim::states::Clock { scale };
    }
    config.s3_faults = scenario.sim.s3_faults.clone();
    sim::Simulator::start(config).await.context("starting the embedded simulator")
}

/// Uploads over SFTP, then checks every stage; backend checks are skipped without `clients`.
async fn run_checks(
    scenario: &Scenario,
    ep: &Target,
    accounts: &BTreeMap<String, Account>,
    clients: Option<&Clients>,
    report: &mut Report,
) {
    // The last upload of a key decides what it must end as. Keys are where the user's home
    // directory puts a path in the source bucket.
    let home = |user: &str| accounts.get(user).map(|a| a.name.clone()).unwrap_or_else(|| user.to_string());
    let homes: BTreeMap<&str, sim::sftp::HomeDirectory> = scenario
        .users
        .iter()
        .filter_map(|u| Some((u.name.as_str(), u.home_spec().home(&home(&u.name), &ep.source_bucket).ok()?)))
        .collect();
    let key_for = |user: &str, path: &str| -> Option<String> {
        let h = homes.get(user)?;
        match h.resolve(&h.segments(path)) {
            sim::sftp::Resolved::S3 { bucket, key } if bucket == ep.source_bucket && !key.is_empty() => Some(key),
            _ => None,
        }
    };
    let mut planned: Vec<Planned> = Vec::new();
    for d in &scenario.directories {
        let Some(key) = key_for(&d.user, &d.path) else { continue };
        let key = format!("{key}/");
        planned.push(Planned {
            user: home(&d.user),
            key,
            expect: Expect::Skipped,
            lambda_invocations: None,
            attempts: None,
            error_type: None,
        });
    }
    for (i, u) in scenario.uploads.iter().enumerate() {
        // A path outside the source bucket or the mappings can only be refused, checked at upload.
        let Some(uploaded_key) = key_for(&u.user, &u.path) else { continue };
        let absent = |why| Planned {
            user: home(&u.user),
            key: uploaded_key.clone(),
            expect: Expect::Absent { why },
            lambda_invocations: None,
            attempts: None,
            error_type: None,
        };
        if u.expect == scenario::Outcome::Refused {
            planned.retain(|p| p.key != uploaded_key);
            planned.push(absent("the SFTP server refused the upload"));
            continue;
        }
        if u.interrupt_after.is_some() {
            planned.retain(|p| p.key != uploaded_key);
            planned.push(absent("the connection dropped before the file was closed"));
            continue;
        }
        let key = match &u.rename_to {
            Some(to) => {
                planned.retain(|p| p.key != uploaded_key);
                // A `.filepart` never reaches the pipeline. Any other name was a complete object
                // for a moment, so whether it was copied before the rename depends on timing.
                if uploaded_key.ends_with(".filepart") {
                    planned.push(absent("renamed away; .filepart names are not transferred"));
                }
                let Some(key) = key_for(&u.user, to) else { continue };
                key
            }
            None => uploaded_key.clone(),
        };
        let expect = match u.expect {
            scenario::Outcome::Transferred => {
                Expect::Transferred { content: content_of(u, i as u64 + 1), copy_method: u.copy_method.clone() }
            }
            scenario::Outcome::Failed | scenario::Outcome::Refused => {
                Expect::Failed { error_contains: u.error_contains.clone() }
            }
        };
        planned.retain(|p| p.key != key);
        planned.push(Planned {
            user: home(&u.user),
            key,
            expect,
            lambda_invocations: u.lambda_invocations,
            attempts: u.attempts,
            error_type: u.error_type.clone(),
        });
    }

    for key in &scenario.absent_keys {
        planned.push(Planned {
            user: String::new(),
            key: key.trim_start_matches('/').to_string(),
            expect: Expect::Absent { why: "outside the uploading user's home" },
            lambda_invocations: None,
            attempts: None,
            error_type: None,
        });
    }

    // Upload: one SFTP session per user, users in parallel, each user's steps in order.
    let uploads = scenario.users.iter().map(|u| {
        let account = accounts[&u.name].clone();
        let dirs: Vec<&scenario::Directory> = scenario.directories.iter().filter(|d| d.user == u.name).collect();
        let files: Vec<(usize, &scenario::Upload)> =
            scenario.uploads.iter().enumerate().filter(|(_, f)| f.user == u.name).collect();
        let ep = ep.clone();
        let landing = homes.get(u.name.as_str()).map_or("/", |h| h.landing()).to_string();
        async move { sftp_steps(&ep, &account, &landing, dirs, files).await }
    });
    for checks in futures::future::join_all(uploads).await {
        for c in checks {
            report.add(c);
        }
    }

    for (i, login) in scenario.logins.iter().enumerate() {
        report.add(login_attempt(ep, accounts, login, i).await);
    }

    let Some(clients) = clients else {
        for stage in ["dynamodb", "stepfunctions", "s3", "logs"] {
            report.add(Check {
                stage,
                name: format!("{stage} checks of the pipeline"),
                outcome: Outcome::Skipped("no AWS credentials".into()),
                detail: String::new(),
                elapsed: Duration::ZERO,
            });
        }
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(scenario.timeout_seconds);
    for f in &planned {
        let deliveries = 1 + scenario.sim.duplicate_deliveries as usize;
        for c in check_file(clients, ep, f, deliveries, deadline).await {
            report.add(c);
        }
    }
    let all_homes: BTreeSet<String> = scenario.users.iter().map(|u| home(&u.name)).collect();
    // Keys some user's own upload accounts for, whichever user it was.
    let accounted: BTreeSet<String> =
        planned.iter().filter(|p| !matches!(p.expect, Expect::Absent { .. })).map(|p| p.key.clone()).collect();
    for u in &scenario.users {
        let name = home(&u.name);
        let expected: BTreeSet<String> = planned
            .iter()
            .filter(|p| p.user == name && !p.key.ends_with('/') && !matches!(p.expect, Expect::Absent { .. }))
            .map(|p| p.key.clone())
            .collect();
        let t = Instant::now();
        report.add(check(
            "s3",
            format!("{name}'s files land under {name}/ only"),
            t,
            own_prefix_only(clients, ep, &name, &expected, &all_homes, &accounted).await,
        ));
        let mut wanted = vec!["CONNECTED"];
        if scenario.uploads.iter().any(|x| x.user == u.name) {
            wanted.extend(["OPEN", "CLOSE"]);
        }
        if scenario.directories.iter().any(|x| x.user == u.name) {
            wanted.push("MKDIR");
        }
        wanted.push("DISCONNECTED");
        let t = Instant::now();
        report.add(check(
            "logs",
            format!("{name}'s session log has {}", wanted.join(", ")),
            t,
            session_log(clients, ep, &name, &wanted, deadline).await,
        ));
    }
    let refused: BTreeSet<String> =
        scenario.logins.iter().filter(|l| l.expect == scenario::LoginOutcome::Refused).map(|l| home(&l.user)).collect();
    for user in refused {
        let t = Instant::now();
        report.add(check(
            "logs",
            format!("refused logins as {user} are logged as AUTH_FAILURE"),
            t,
            auth_failures(clients, ep, &user, deadline).await,
        ));
    }
    if scenario.expect_throttling {
        let t = Instant::now();
        report.add(check(
            "stepfunctions",
            "some invocations were throttled and retried (Lambda.TooManyRequestsException)",
            t,
            throttled(clients, &ep.state_machine_arn).await,
        ));
    }
    if planned.iter().any(|p| !matches!(p.expect, Expect::Absent { .. })) {
        let t = Instant::now();
        report.add(check(
            "logs",
            "copy function log has START, END and REPORT lines",
            t,
            function_log(clients, ep, deadline).await,
        ));
    }
}

/// A scenario path in the user's view: absolute as written, or from the landing directory.
fn absolute(landing: &str, path: &str) -> String {
    if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", landing.trim_end_matches('/')) }
}

/// One account's SFTP session: log in, create directories, upload, list, and try to leave the home.
async fn sftp_steps(
    ep: &Target,
    account: &Account,
    landing: &str,
    dirs: Vec<&scenario::Directory>,
    files: Vec<(usize, &scenario::Upload)>,
) -> Vec<Check> {
    let name = &account.name;
    let t = Instant::now();
    let mut checks = Vec::new();
    let client =
        match SftpClient::connect(&ep.sftp_host, ep.sftp_port, ep.host_key_fingerprint.clone(), name, &account.key)
            .await
        {
            Ok(c) => {
                let pinned = ep.host_key_fingerprint.as_deref().unwrap_or("not pinned");
                checks.push(check(
                    "sftp",
                    format!("{name} logs in with its SSH key"),
                    t,
                    Ok(format!("host key {pinned}")),
                ));
                c
            }
            Err(e) => {
                checks.push(check("sftp", format!("{name} logs in with its SSH key"), t, Err(e.to_string())));
                return checks;
            }
        };
    for d in dirs {
        let t = Instant::now();
        let dir = absolute(landing, d.path.trim_end_matches('/'));
        let result = client.mkdir_all(&dir).await;
        checks.push(check(
            "sftp",
            format!("{name} creates directory {dir}"),
            t,
            result.map(|_| String::new()).map_err(|e| e.to_string()),
        ));
    }
    let mut uploaded: Vec<String> = Vec::new();
    for (i, f) in files {
        let t = Instant::now();
        let path = absolute(landing, &f.path);
        let content = content_of(f, i as u64 + 1);
        let parent = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        if let Some(cut) = f.interrupt_after {
            // A separate connection, dropped mid-file like a partner's lost network.
            let result = async {
                client.mkdir_all(parent).await?;
                let other = SftpClient::connect(
                    &ep.sftp_host,
                    ep.sftp_port,
                    ep.host_key_fingerprint.clone(),
                    name,
                    &account.key,
                )
                .await?;
                other.upload_and_drop(&path, &content, cut).await
            }
            .await;
            checks.push(check(
                "sftp",
                format!("{name} drops the connection {cut} bytes into {path}"),
                t,
                result.map(|n| format!("{n} bytes sent, file never closed")).map_err(|e| e.to_string()),
            ));
            continue;
        }
        let renamed_to = f.rename_to.as_deref().map(|to| absolute(landing, to));
        let refused = f.expect == scenario::Outcome::Refused;
        let result = async {
            // A refusal is about the write itself, not the directories on the way.
            if !refused {
                client.mkdir_all(parent).await?;
            }
            let n = client.upload(&path, &content).await?;
            if let Some(to) = &renamed_to {
                client.rename(&path, to).await?;
            }
            Ok::<u64, crate::sftp_client::ClientError>(n)
        }
        .await;
        if refused {
            let wanted = f.error_contains.as_deref().unwrap_or("");
            let outcome = match result {
                Ok(n) => Err(format!("the server accepted {n} bytes; it must refuse this path")),
                Err(e) if e.to_string().contains(wanted) => Ok(e.to_string()),
                Err(e) => Err(format!("refused, but not with {wanted:?}: {e}")),
            };
            checks.push(check("sftp", format!("{name} is refused an upload to {path}"), t, outcome));
            continue;
        }
        if result.is_ok() {
            uploaded.push(renamed_to.clone().unwrap_or_else(|| path.clone()));
        }
        let renamed = renamed_to.map(|to| format!(" and renames it to {to}")).unwrap_or_default();
        checks.push(check(
            "sftp",
            format!("{name} uploads {path}{renamed}"),
            t,
            result.map(|n| format!("{n} bytes, sha256 {}", content.sha256())).map_err(|e| e.to_string()),
        ));
    }
    if !uploaded.is_empty() {
        let t = Instant::now();
        let mut missing = Vec::new();
        for path in &uploaded {
            let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            match client.list(if dir.is_empty() { "/" } else { dir }).await {
                Ok(names) if names.iter().any(|n| n == file) => {}
                Ok(_) => missing.push(path.clone()),
                Err(e) => missing.push(format!("{path} ({e})")),
            }
        }
        checks.push(check(
            "sftp",
            format!("{name} sees its uploads in directory listings"),
            t,
            if missing.is_empty() {
                Ok(format!("{} file(s) listed", uploaded.len()))
            } else {
                Err(format!("not listed: {missing:?}"))
            },
        ));
    }
    let t = Instant::now();
    checks.push(check("sftp", format!("{name} cannot leave its home (/.., //, ../..)"), t, stays_home(&client).await));
    client.close().await;
    checks
}

/// One login attempt with the key the scenario names.
async fn login_attempt(
    ep: &Target,
    accounts: &BTreeMap<String, Account>,
    login: &scenario::Login,
    index: usize,
) -> Check {
    let t = Instant::now();
    let user = &accounts[&login.user].name;
    let (key, which) = match &login.key {
        scenario::LoginKey::Own => (accounts[&login.user].key.clone(), "its own key".to_string()),
        scenario::LoginKey::Unknown => (generate_key(), "an unknown key".to_string()),
        scenario::LoginKey::OtherUser(o) => (accounts[o].key.clone(), format!("{}'s key", accounts[o].name)),
    };
    let result = SftpClient::connect(&ep.sftp_host, ep.sftp_port, ep.host_key_fingerprint.clone(), user, &key).await;
    let verdict = match (login.expect, result) {
        (scenario::LoginOutcome::Accepted, Ok(c)) => {
            c.close().await;
            Ok("logged in".to_string())
        }
        (scenario::LoginOutcome::Refused, Err(crate::sftp_client::ClientError::AuthRefused { .. })) => {
            Ok("the server refused the key".to_string())
        }
        (scenario::LoginOutcome::Accepted, Err(e)) => Err(e.to_string()),
        (scenario::LoginOutcome::Refused, Ok(c)) => {
            c.close().await;
            Err("the server let it in".to_string())
        }
        (scenario::LoginOutcome::Refused, Err(e)) => Err(format!("failed otherwise than by refusing the key: {e}")),
    };
    let expect = if login.expect == scenario::LoginOutcome::Accepted { "logs in" } else { "is refused" };
    check("sftp", format!("login {index}: {user} with {which} {expect}"), t, verdict)
}

async fn auth_failures(clients: &Clients, ep: &Target, user: &str, deadline: Instant) -> Result<String, String> {
    let found = wait_for(deadline, || async {
        let out = clients
            .logs
            .filter_log_events()
            .log_group_name(&ep.sftp_log_group)
            .filter_pattern(format!("{{ $.activity-type = \"AUTH_FAILURE\" && $.user = \"{user}\" }}"))
            .send()
            .await
            .ok()?;
        let events = out.events();
        (!events.is_empty()).then_some(events.len())
    })
    .await;
    found
        .map(|n| format!("{n} AUTH_FAILURE line(s) in {}", ep.sftp_log_group))
        .ok_or_else(|| format!("no AUTH_FAILURE for {user} in {}", ep.sftp_log_group))
}

/// Every way up resolves to the home itself, and lists the same entries as `/`.
async fn stays_home(client: &SftpClient) -> Result<String, String> {
    let root = client.list("/").await.map_err(|e| e.to_string())?;
    for attempt in ["/..", "//..", "../..", "/./../../", "/../../etc"] {
        let real = client.realpath(attempt).await.map_err(|e| e.to_string())?;
        if !(real == "/" || (attempt.ends_with("etc") && real == "/etc")) {
            return Err(format!("{attempt} resolves to {real}, outside the home"));
        }
    }
    let above = client.list("/..").await.map_err(|e| e.to_string())?;
    if above != root {
        return Err(format!("listing /.. shows {above:?}, the home shows {root:?}"));
    }
    Ok(format!("/.. resolves to /; {} entries in the home", root.len()))
}

/// Every record whose decoded `key` is `key` (there must be exactly one).
async fn records_for(clients: &Clients, table: &str, key: &str) -> Vec<BTreeMap<String, AttributeValue>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let Ok(page) = clients
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression("#k = :k")
            .expression_attribute_names("#k", "key")
            .expression_attribute_values(":k", AttributeValue::S(key.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
        else {
            return out;
        };
        out.extend(page.items().iter().map(|i| i.clone().into_iter().collect()));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

fn attr_s(item: &BTreeMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn attr_n(item: &BTreeMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

struct ExecutionFacts {
    arn: String,
    status: String,
    error: Option<String>,
    lambda_tasks: usize,
}

/// Every execution whose input names `key`.
async fn executions_for(clients: &Clients, machine: &str, key: &str) -> Option<Vec<ExecutionFacts>> {
    let list = clients.sfn.list_executions().state_machine_arn(machine).send().await.ok()?;
    let mut out = Vec::new();
    for e in list.executions() {
        let d = clients.sfn.describe_execution().execution_arn(e.execution_arn()).send().await.ok()?;
        let input: serde_json::Value = serde_json::from_str(d.input().unwrap_or("{}")).ok()?;
        let raw = input.get("key").and_then(|k| k.as_str()).unwrap_or_default();
        if copy_lambda::keys::decode_event_key(raw) != key {
            continue;
        }
        let history =
            clients.sfn.get_execution_history().execution_arn(e.execution_arn()).max_results(1000).send().await.ok()?;
        let lambda_tasks = history
            .events()
            .iter()
            .filter(|h| h.task_scheduled_event_details().is_some_and(|t| t.resource_type() == "lambda"))
            .count();
        out.push(ExecutionFacts {
            arn: d.execution_arn().to_string(),
            status: d.status().as_str().to_string(),
            error: d.error().map(str::to_string),
            lambda_tasks,
        });
    }
    Some(out)
}

/// Checks one key's journey; `deliveries` is how many executions each of its events starts.
async fn check_file(clients: &Clients, ep: &Target, f: &Planned, deliveries: usize, deadline: Instant) -> Vec<Check> {
    if let Expect::Absent { why } = f.expect {
        return vec![check_absent(clients, ep, f, why).await];
    }
    let mut checks = Vec::new();
    let want = f.status();

    // The executions for this key all finish, as expected.
    let t = Instant::now();
    let want_exec = if want == "failed" { "FAILED" } else { "SUCCEEDED" };
    let execs = wait_for(deadline, || async {
        executions_for(clients, &ep.state_machine_arn, &f.key)
            .await
            .filter(|e| e.len() >= deliveries && e.iter().all(|x| x.status != "RUNNING"))
    })
    .await;
    let lambda_tasks: usize = execs.iter().flatten().map(|e| e.lambda_tasks).sum();
    checks.push(check(
        "stepfunctions",
        format!("executions for {} {want_exec}", f.key),
        t,
        match &execs {
            Some(all) if all.iter().all(|e| e.status == want_exec) => {
                Ok(format!("{} execution(s), {lambda_tasks} function invocation(s); {}", all.len(), all[0].arn))
            }
            Some(all) => {
                let bad = all.iter().find(|e| e.status != want_exec).expect("one differs");
                Err(format!("{} is {} ({})", bad.arn, bad.status, bad.error.clone().unwrap_or_default()))
            }
            None => Err(format!("no finished execution for {} by the deadline", f.key)),
        },
    ));

    // Exactly one record, in the expected final status.
    let t = Instant::now();
    let items = records_for(clients, &ep.table, &f.key).await;
    let record_result = match items.as_slice() {
        [] => Err(format!("no record for {} in {}", f.key, ep.table)),
        [i] => {
            let status = attr_s(i, "status").unwrap_or_default();
            let err_msg = attr_s(i, "error_message");
            let up = attr_s(i, "upload_timestamp");
            let tr = attr_s(i, "transfer_timestamp");
            let method = attr_s(i, "copy_method").unwrap_or_default();
            let attempts = attr_n(i, "attempts").unwrap_or(0);
            if status != want {
                Err(format!(
                    "status is {status}, expected {want}; error_message: {}",
                    err_msg.as_deref().unwrap_or("-")
                ))
            } else if want != "skipped" && (up.is_none() || tr.is_none()) {
                Err(format!("status {status} but timestamps missing: upload {up:?}, transfer {tr:?}"))
            } else if attr_s(i, "customer_id").as_deref() != Some(f.user.as_str()) {
                Err(format!("customer_id is {:?}, expected {:?}", attr_s(i, "customer_id"), f.user))
            } else {
                let error_type = attr_s(i, "error_type").unwrap_or_default();
                match &f.expect {
                    _ if f.attempts.is_some_and(|a| a != attempts) => {
                        Err(format!("attempts is {attempts}, expected {}", f.attempts.unwrap_or_default()))
                    }
                    _ if f.error_type.as_ref().is_some_and(|t| !error_type.contains(t.as_str())) => Err(format!(
                        "error_type is {error_type:?}, expected {:?}",
                        f.error_type.as_deref().unwrap_or_default()
                    )),
                    Expect::Failed { error_contains: Some(needle) }
                        if !err_msg.as_deref().unwrap_or("").contains(needle.as_str()) =>
                    {
                        Err(format!("error_message {err_msg:?} does not mention {needle:?}"))
                    }
                    Expect::Transferred { copy_method: Some(m), .. } if !method.contains(m.as_str()) => {
                        Err(format!("copied with {method:?}, expected {m:?}"))
                    }
                    _ => Ok(format!(
                        "status {status}, attempts {attempts}{}{}",
                        if method.is_empty() { String::new() } else { format!(", {method}") },
                        err_msg.map(|m| format!(", error_message: {m}")).unwrap_or_default()
                    )),
                }
            }
        }
        many => Err(format!("{} records for {}, expected one", many.len(), f.key)),
    };
    checks.push(check("dynamodb", format!("one record for {}, {want}", f.key), t, record_result));

    if let Some(max) = f.lambda_invocations {
        let t = Instant::now();
        checks.push(check(
            "stepfunctions",
            format!("the copy function ran at most {max} time(s) for {}", f.key),
            t,
            if lambda_tasks as u32 <= max {
                Ok(format!("{lambda_tasks}"))
            } else {
                Err(format!("it ran {lambda_tasks} times"))
            },
        ));
    }

    // The destination holds the same bytes (or nothing).
    let t = Instant::now();
    let dest = destination_sha256(clients, &ep.destination_bucket, &f.key).await;
    checks.push(match &f.expect {
        Expect::Transferred { content, .. } => {
            let expected_sha = content.sha256();
            check(
                "s3",
                format!("s3://{}/{} matches the upload byte for byte", ep.destination_bucket, f.key),
                t,
                match dest {
                    Ok((size, sha)) if sha == expected_sha && size == content.len() => {
                        Ok(format!("{size} bytes, sha256 {}", &sha[..16]))
                    }
                    Ok((size, sha)) => Err(format!(
                        "{size} bytes sha256 {sha}, expected {} bytes sha256 {expected_sha}",
                        content.len()
                    )),
                    Err(e) => Err(e),
                },
            )
        }
        _ => check(
            "s3",
            format!("no object s3://{}/{}", ep.destination_bucket, f.key),
            t,
            match dest {
                Ok((size, _)) => Err(format!("an object of {size} bytes exists")),
                Err(_) => Ok("absent".into()),
            },
        ),
    });
    checks
}

/// Nothing exists for a key that must not: no source object, no open multipart upload, no
/// record, no copy.
async fn check_absent(clients: &Clients, ep: &Target, f: &Planned, why: &str) -> Check {
    let t = Instant::now();
    let leftovers = || async {
        let mut found = Vec::new();
        if clients.s3.head_object().bucket(&ep.source_bucket).key(&f.key).send().await.is_ok() {
            found.push(format!("s3://{}/{}", ep.source_bucket, f.key));
        }
        if clients.s3.head_object().bucket(&ep.destination_bucket).key(&f.key).send().await.is_ok() {
            found.push(format!("s3://{}/{}", ep.destination_bucket, f.key));
        }
        if let Ok(up) = clients.s3.list_multipart_uploads().bucket(&ep.source_bucket).prefix(&f.key).send().await
            && !up.uploads().is_empty()
        {
            found.push(format!("{} open multipart upload(s)", up.uploads().len()));
        }
        let records = records_for(clients, &ep.table, &f.key).await;
        if !records.is_empty() {
            found.push(format!("{} record(s)", records.len()));
        }
        found
    };
    // A dropped connection's parts are aborted asynchronously: wait for them to go, then make
    // sure nothing comes back (a wrongly triggered pipeline would show up within a moment).
    let deadline = Instant::now() + Duration::from_secs(15);
    let gone = wait_for(deadline, || async { leftovers().await.is_empty().then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found = leftovers().await;
    check(
        "s3",
        format!("nothing exists for {} ({why})", f.key),
        t,
        if gone.is_some() && found.is_empty() {
            Ok("no object, no parts, no record, no copy".into())
        } else {
            Err(format!("found {}", found.join(", ")))
        },
    )
}

async fn throttled(clients: &Clients, machine: &str) -> Result<String, String> {
    let list = clients.sfn.list_executions().state_machine_arn(machine).send().await.map_err(|e| format!("{e:?}"))?;
    let mut count = 0;
    for e in list.executions() {
        let history = clients
            .sfn
            .get_execution_history()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        count += history
            .events()
            .iter()
            .filter(|h| {
                h.task_failed_event_details().and_then(|d| d.error()) == Some("Lambda.TooManyRequestsException")
            })
            .count();
    }
    if count > 0 { Ok(format!("{count} throttled invocation(s)")) } else { Err("no invocation was throttled".into()) }
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

/// The user's uploads are under its prefix, and none of them under another user's (unless an
/// upload of the scenario accounts for it). Checked key by key, so earlier runs on a persistent target
/// (a deployed stack, an endpoint) do not matter.
async fn own_prefix_only(
    clients: &Clients,
    ep: &Target,
    user: &str,
    expected: &BTreeSet<String>,
    others: &BTreeSet<String>,
    accounted: &BTreeSet<String>,
) -> Result<String, String> {
    let exists =
        |key: String| async move { clients.s3.head_object().bucket(&ep.source_bucket).key(key).send().await.is_ok() };
    let mut missing = Vec::new();
    for key in expected {
        if !exists(key.clone()).await {
            missing.push(key.clone());
        }
    }
    if !missing.is_empty() {
        return Err(format!("missing from s3://{}: {missing:?}", ep.source_bucket));
    }
    for key in expected {
        let relative = key.strip_prefix(&format!("{user}/")).unwrap_or(key);
        for other in others.iter().filter(|o| o.as_str() != user) {
            let elsewhere = format!("{other}/{relative}");
            if !accounted.contains(&elsewhere) && exists(elsewhere.clone()).await {
                return Err(format!("{key} also appeared as {elsewhere}"));
            }
        }
    }
    Ok(format!("{} object(s) in s3://{}/{user}/, none under other users' folders", expected.len(), ep.source_bucket))
}

async fn session_log(
    clients: &Clients,
    ep: &Target,
    user: &str,
    wanted: &[&str],
    deadline: Instant,
) -> Result<String, String> {
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

async fn function_log(clients: &Clients, ep: &Target, deadline: Instant) -> Result<String, String> {
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
