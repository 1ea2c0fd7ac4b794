//! Runs one scenario: open the target, upload over SFTP, then check every stage.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::checks::{self, Failure, judged};
use super::file::{self, Scenario};
use super::plan::{self, Homes};
use super::steps;
use crate::report::{Check, Progress, Recorder, Report, Stage};
use crate::targets::{self, Session, TargetSpec};

fn epoch_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The users a scenario declares, as a target needs them.
pub(crate) fn declared_users(scenario: &Scenario) -> Vec<targets::User> {
    scenario.users.iter().map(|u| targets::User { name: u.name.clone(), home: u.home_spec() }).collect()
}

/// Runs one scenario against `spec` and reports every check to `progress` as it finishes.
pub async fn run_scenario(
    scenario: &Scenario,
    spec: &TargetSpec,
    progress: &mut dyn Progress,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let users: Vec<String> = scenario.users.iter().map(|u| u.name.clone()).collect();
    let mut rec = Recorder::start(Report::new(&scenario.name, &scenario.description, users), progress);
    match spec.supports(&scenario.sim) {
        Err(unsupported) => rec.add(Check::skipped(
            Stage::Target,
            format!("scenario {} needs {}", scenario.name, unsupported.needs),
            unsupported.reason,
        )),
        Ok(()) => {
            let session = targets::open(spec, &declared_users(scenario), &scenario.sim)
                .await
                .map_err(|e| e.context(format!("scenario {}", scenario.name)))?;
            rec.target(session.description.clone());
            run_checks(scenario, &session, &mut rec).await;
            session.close();
        }
    }
    Ok(rec.finish(started.elapsed()))
}

/// Uploads over SFTP, then checks every stage; backend checks are skipped without clients.
async fn run_checks(scenario: &Scenario, session: &Session, rec: &mut Recorder<'_>) {
    // Logs are read from here on: entries of earlier runs on a persistent target do not count.
    // A second of slack for clocks (CloudWatch timestamps are the writer's).
    let since_ms = epoch_ms() - 1000;
    let ep = &session.target;
    let accounts = &session.accounts;
    let names: BTreeMap<&str, String> = scenario
        .users
        .iter()
        .map(|u| (u.name.as_str(), accounts.get(&u.name).map_or_else(|| u.name.clone(), |a| a.name.clone())))
        .collect();
    let users = scenario.users.iter().map(|u| (u.name.as_str(), u)).collect();
    let homes = Homes { names, users, source_bucket: &ep.source_bucket };
    let planned = plan::plan(scenario, &homes);

    // Upload: one SFTP session per user, users in parallel, each user's steps in order.
    let uploads = scenario.users.iter().map(|u| {
        let account = accounts[&u.name].clone();
        let dirs: Vec<&file::Directory> = scenario.directories.iter().filter(|d| d.user == u.name).collect();
        let files: Vec<(usize, &file::Upload)> =
            scenario.uploads.iter().enumerate().filter(|(_, f)| f.user == u.name).collect();
        let landing = homes.landing(&u.name);
        let path_home = u.home_directory_type == Some(sim::sftp::users::HomeType::Path);
        let bucket = ep.source_bucket.clone();
        async move { steps::sftp_steps(ep, &account, &landing, path_home.then_some(bucket.as_str()), dirs, files).await }
    });
    for checks in futures::future::join_all(uploads).await {
        rec.extend(checks);
    }
    for (i, login) in scenario.logins.iter().enumerate() {
        rec.add(steps::login_attempt(ep, accounts, login, i).await);
    }
    if let Some(after) = scenario.sim.restart_after_ms {
        tokio::time::sleep(Duration::from_millis(after)).await;
        let t = Instant::now();
        let result = match session.restart_simulator().await {
            Ok(true) => match &session.clients {
                Some(clients) => checks::kept_uploads(clients, ep, &planned).await,
                None => Ok("stopped and started again on the same ports".to_string()),
            },
            Ok(false) => Err(Failure::Saw("this target cannot restart its simulator".into())),
            Err(e) => Err(Failure::Saw(format!("{e:#}"))),
        };
        rec.add(judged(
            Stage::Target,
            format!("the simulator restarts {after} ms after the uploads and keeps them"),
            t,
            result,
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(scenario.timeout_seconds);

    let Some(clients) = &session.clients else {
        session.release_held_requests();
        for stage in [Stage::Dynamodb, Stage::Stepfunctions, Stage::S3, Stage::Logs] {
            rec.add(Check::skipped(stage, format!("{stage} checks of the pipeline"), "no AWS credentials"));
        }
        return;
    };
    // What must hold before the held copies go on; then they go on, whatever was found.
    for kp in planned.iter().filter(|k| k.uploads.last().is_some_and(|p| p.uploaded_first)) {
        let t = Instant::now();
        rec.add(judged(
            Stage::Dynamodb,
            format!("the record of {} reads uploaded before the copy starts", kp.key),
            t,
            checks::uploaded_before_copy(clients, ep, kp, deadline).await,
        ));
    }
    session.release_held_requests();
    let checks_started = Instant::now();
    for kp in planned.iter().filter(|k| !k.is_absent() && !k.is_dead_lettered()) {
        let deliveries = 1 + scenario.sim.duplicate_deliveries as usize;
        rec.extend(checks::check_key(clients, ep, kp, deliveries, since_ms, deadline).await);
    }
    // Absent keys are watched as long as the pipeline took to finish the others.
    let settle = checks_started.elapsed().max(checks::MIN_SETTLE);
    for kp in planned.iter().filter(|k| k.is_absent()) {
        let why = match kp.uploads.last().map(|p| &p.expect) {
            Some(plan::Expect::Absent { why }) => why,
            _ => "",
        };
        rec.add(checks::check_absent(clients, ep, kp, why, settle, deadline).await);
    }
    for kp in planned.iter().filter(|k| k.is_dead_lettered()) {
        let code = match kp.uploads.last().map(|p| &p.expect) {
            Some(plan::Expect::DeadLettered { error_code }) => error_code.as_deref(),
            _ => None,
        };
        rec.add(checks::check_dead_lettered(clients, ep, kp, code, settle, deadline).await);
    }
    let all_homes: BTreeSet<String> = scenario.users.iter().map(|u| homes.name(&u.name)).collect();
    // Keys some user's own upload accounts for, whichever user it was.
    let accounted: BTreeSet<String> = planned.iter().filter(|p| !p.is_absent()).map(|p| p.key.clone()).collect();
    for u in &scenario.users {
        let name = homes.name(&u.name);
        let expected: BTreeSet<String> = planned
            .iter()
            .filter(|p| p.user == name && !p.key.ends_with('/') && !p.is_absent())
            .map(|p| p.key.clone())
            .collect();
        let t = Instant::now();
        rec.add(judged(
            Stage::S3,
            format!("{name}'s files land under {name}/ only"),
            t,
            checks::own_prefix_only(clients, ep, &name, &expected, &all_homes, &accounted).await,
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
        rec.add(judged(
            Stage::Logs,
            format!("{name}'s session log has {}", wanted.join(", ")),
            t,
            checks::session_log(clients, ep, &name, &wanted, since_ms, deadline).await,
        ));
    }
    let refused: BTreeSet<String> = scenario
        .logins
        .iter()
        .filter(|l| l.expect == file::LoginOutcome::Refused)
        .map(|l| homes.name(&l.user))
        .collect();
    for user in refused {
        let t = Instant::now();
        rec.add(judged(
            Stage::Logs,
            format!("refused logins as {user} are logged as AUTH_FAILURE"),
            t,
            checks::auth_failures(clients, ep, &user, since_ms, deadline).await,
        ));
    }
    // Scenario-wide expectations about the executions of this run's files.
    let keys: Vec<&str> = planned.iter().filter(|k| !k.is_absent()).map(|k| k.key.as_str()).collect();
    let machine = &ep.state_machine_arn;
    if scenario.expect_throttling {
        let t = Instant::now();
        let name = "some invocations were throttled and retried (Lambda.TooManyRequestsException)";
        rec.add(judged(Stage::Stepfunctions, name, t, checks::throttled(clients, machine, &keys).await));
    }
    if scenario.expect_redriven {
        let t = Instant::now();
        let name = "executions the restart cut short were redriven (ExecutionRedriven)";
        rec.add(judged(Stage::Stepfunctions, name, t, checks::redriven(clients, machine, &keys).await));
    }
    if let Some(schedule) = &scenario.expect_retry_schedule {
        let t = Instant::now();
        let secs: Vec<String> = schedule.seconds.iter().map(|s| format!("{s} s")).collect();
        let name = format!("retries of {} waited {} (execution history)", schedule.state, secs.join(", "));
        let result = checks::retry_schedule(clients, machine, &keys, &schedule.state, &schedule.seconds).await;
        rec.add(judged(Stage::Stepfunctions, name, t, result));
    }
    for d in &scenario.expect_state_durations {
        let t = Instant::now();
        let name = format!("state {} lasted {} s (execution history)", d.state, d.seconds);
        let result = checks::state_duration(clients, machine, &keys, &d.state, d.seconds).await;
        rec.add(judged(Stage::Stepfunctions, name, t, result));
    }
    if !scenario.expect_task_errors.is_empty() {
        let t = Instant::now();
        let name = format!("tasks failed with {} and the executions went on", scenario.expect_task_errors.join(", "));
        let result = checks::task_errors(clients, machine, &keys, &scenario.expect_task_errors).await;
        rec.add(judged(Stage::Stepfunctions, name, t, result));
    }
    // The function's own word for every file that must be copied or superseded.
    let outcomes: Vec<(&str, &[&str])> = planned
        .iter()
        .filter_map(|k| {
            let last = k.uploads.last()?;
            let want: &[&str] = match last.expect {
                plan::Expect::Transferred { .. } => &["transferred"],
                plan::Expect::Superseded => &["superseded"],
                _ => return None,
            };
            Some((k.key.as_str(), want))
        })
        .collect();
    if !outcomes.is_empty() {
        let t = Instant::now();
        rec.add(judged(
            Stage::Logs,
            format!("the copy function logged the end of each of {} file(s)", outcomes.len()),
            t,
            checks::function_log(clients, ep, &outcomes, since_ms, deadline).await,
        ));
    }
}
