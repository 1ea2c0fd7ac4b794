//! `--target embedded` (and the simulator half of `endpoint`): the simulator started for a run,
//! configured from the run's users and `[sim]` settings.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;

use super::{Account, Paths, SimSettings, User};

/// Starts the simulator with `users` (as `accounts`) and `settings`; S3 and DynamoDB at
/// `external` when given.
pub async fn start(
    paths: &Paths,
    users: &[User],
    accounts: &BTreeMap<String, Account>,
    settings: &SimSettings,
    external: Option<sim::ExternalAws>,
) -> anyhow::Result<sim::Simulator> {
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
    if let Some(scale) = settings.clock_scale {
        config.clock = sim::states::Clock { scale };
    }
    config.s3_faults = settings.s3_faults.clone();
    config.delivery.delays = settings.delivery_delays.clone();
    config.hold_invocations = settings.hold_function;
    config.function_kills = settings.function_kills.clone();
    config.dynamodb_faults = settings.dynamodb_faults.clone();
    config.target_faults = settings.target_faults.clone();
    config.breaks = sim::breaks::Breaks::new(settings.breaks.iter().copied());
    sim::Simulator::start(config).await.context("starting the embedded simulator")
}
