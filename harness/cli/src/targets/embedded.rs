//! `--target embedded` (and the simulator half of `endpoint`): the simulator started for a run,
//! configured from the run's users and `[sim]` settings.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;

use super::{Account, Paths, SimSettings, User};

/// A simulator the run may restart: how it was configured, and the data directory that
/// carries its state across (a run's `[sim] restart_after_ms`).
pub struct Restartable {
    config: sim::SimConfig,
    _data: tempfile::TempDir,
}

impl Restartable {
    /// Stops `old` (it saves its state) and starts its successor on the same ports, with the
    /// same host key, server id and data.
    pub async fn restart(&self, old: sim::Simulator) -> anyhow::Result<sim::Simulator> {
        let mut config = self.config.clone();
        if config.breaks.has(sim::breaks::Break::RestartLosesData) {
            config.data_dir = Some(tempfile::Builder::new().prefix("harness-sim-lost-").tempdir()?.keep());
        }
        config.sftp_port = old.endpoints.sftp.port();
        config.gateway_port = old.endpoints.aws.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        config.dynamodb_port = old.endpoints.dynamodb.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        old.shutdown();
        drop(old);
        // Its listeners close as their tasks see the stop: retry the binds briefly.
        let mut tries = 0;
        loop {
            match sim::Simulator::start(config.clone()).await {
                Ok(s) => return Ok(s),
                Err(sim::StartError::Bind { .. }) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e).context("restarting the embedded simulator"),
            }
        }
    }
}

/// Starts the simulator with `users` (as `accounts`) and `settings`; S3 and DynamoDB at
/// `external` when given. With `restart_after_ms`, it keeps a data directory and comes back
/// with what restarts it.
pub async fn start(
    paths: &Paths,
    users: &[User],
    accounts: &BTreeMap<String, Account>,
    settings: &SimSettings,
    external: Option<sim::ExternalAws>,
) -> anyhow::Result<(sim::Simulator, Option<Restartable>)> {
    let mut config = sim::SimConfig::new(paths.infra.clone(), paths.function_command.clone());
    config.external = external;
    config.users = users
        .iter()
        .map(|u| {
            let a = &accounts[&u.name];
            sim::UserConfig { home: u.home.clone(), ..sim::UserConfig::new(&a.name, vec![a.key.public_key().clone()]) }
        })
        .collect();
    config.create_destination_bucket = settings.create_destination_bucket;
    config.function_env = settings.function_env.clone();
    config.delivery.duplicates = settings.duplicate_deliveries;
    config.delivery.jitter = Duration::from_millis(settings.delivery_jitter_ms);
    config.function_timeout_seconds = settings.function_timeout_seconds;
    config.function_reserved_concurrency = settings.function_reserved_concurrency;
    config.clock = super::settings::ClockKind::clock(settings.clock, settings.clock_scale);
    config.s3_faults = settings.s3_faults.clone();
    config.delivery.delays = settings.delivery_delays.clone();
    config.hold_invocations = settings.hold_function;
    config.function_kills = settings.function_kills.clone();
    config.dynamodb_faults = settings.dynamodb_faults.clone();
    config.target_faults = settings.target_faults.clone();
    config.breaks = sim::breaks::Breaks::new(settings.breaks.iter().copied());
    config.sfn_mock_config = settings.sfn_mock_config.clone();
    config.sfn_test_case = settings.sfn_test_case.clone();
    config.state_machine_variant =
        sim::states::variant::Variant { retriers: settings.retriers.clone(), waits: settings.waits.clone() };
    let restartable = match settings.restart_after_ms {
        Some(_) => {
            let data = tempfile::Builder::new().prefix("harness-sim-data-").tempdir()?;
            config.data_dir = Some(data.path().to_path_buf());
            Some(Restartable { config: config.clone(), _data: data })
        }
        None => None,
    };
    let simulator = sim::Simulator::start(config).await.context("starting the embedded simulator")?;
    Ok((simulator, restartable))
}
