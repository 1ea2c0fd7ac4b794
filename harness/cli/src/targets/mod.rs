//! Targets: where a run's SFTP server and AWS APIs are, what the stack's resources are called,
//! and which accounts the run acts as. A [`TargetSpec`] is what the user asked for; [`open`]
//! resolves it into a [`Session`] (a [`Target`], SDK [`Clients`], the SFTP accounts, and the
//! simulator when one runs), after asking whether the target supports what the run needs.

mod accounts;
mod args;
mod clients;
mod embedded;
mod endpoint;
pub mod localstack;
mod settings;
mod stack;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

pub use accounts::Account;
pub use args::TargetArgs;
pub use clients::Clients;
pub use settings::{ClockKind, SimSettings};
pub use stack::{StackOutputs, TargetError};

/// Where the harness finds the shared files and the function to run.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `infra/`.
    pub infra: PathBuf,
    /// Command that starts the copy function's `bootstrap`.
    pub function_command: Vec<String>,
}

/// Where a run goes, as the user asked.
#[derive(Debug, Clone)]
pub enum TargetSpec {
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
        stack: PathBuf,
        /// `NAME=KEYPATH` accounts the run's users act as, in order.
        users: Vec<(String, PathBuf)>,
    },
}

/// What a target cannot do that a run asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// What the run needs (`the embedded simulator's S3`).
    pub needs: &'static str,
    /// Why this target lacks it.
    pub reason: &'static str,
}

impl TargetSpec {
    /// Whether this target can honour `settings`: simulator knobs exist only where the
    /// simulator runs, S3 faults only where the simulator is the S3.
    pub fn supports(&self, settings: &SimSettings) -> Result<(), Unsupported> {
        match self {
            TargetSpec::Embedded(_) => Ok(()),
            TargetSpec::Endpoint { .. } if !settings.breaks.is_empty() => Err(Unsupported {
                needs: "the embedded simulator",
                reason: "breaks act on the simulated S3, DynamoDB and SFTP together",
            }),
            TargetSpec::Endpoint { .. } if settings.restart_after_ms.is_some() => Err(Unsupported {
                needs: "the embedded simulator's S3 and DynamoDB",
                reason: "a restart keeps what the simulator stores; the endpoint's S3 sends it no events to redo",
            }),
            TargetSpec::Endpoint { .. } if !settings.dynamodb_faults.is_empty() => Err(Unsupported {
                needs: "the embedded simulator's DynamoDB",
                reason: "DynamoDB faults exist only where the simulator serves DynamoDB",
            }),
            TargetSpec::Endpoint { .. } if !settings.s3_faults.is_empty() || !settings.create_destination_bucket => {
                Err(Unsupported {
                    needs: "the embedded simulator's S3",
                    reason: "S3 faults and a missing destination exist only in the simulated S3",
                })
            }
            TargetSpec::Endpoint { .. } => Ok(()),
            TargetSpec::Aws { .. } if !settings.is_default() => Err(Unsupported {
                needs: "the embedded simulator",
                reason: "its [sim] settings (faults, clock, knobs) exist only in the simulator",
            }),
            TargetSpec::Aws { .. } => Ok(()),
        }
    }
}

/// A user the run declares: its name and home, as the stack's users file would.
#[derive(Debug, Clone)]
pub struct User {
    /// Name (also its folder in the source bucket unless the home says otherwise).
    pub name: String,
    /// Home directory.
    pub home: sim::sftp::users::HomeSpec,
}

/// Which kind of target: what `--target` names, and what a resolved [`Target`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The in-process simulator (no Docker, no AWS account).
    Embedded,
    /// A stack deployed from infra/ (needs --stack; backend checks need AWS credentials).
    Aws,
    /// An AWS-compatible endpoint such as LocalStack or moto, for S3 and DynamoDB; the
    /// simulator for the rest.
    Endpoint,
    /// LocalStack started in Docker (`--features testcontainers`): once started, an endpoint.
    Localstack,
}

/// Everything a run needs to reach the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Kind.
    pub kind: Kind,
    /// SFTP host.
    pub sftp_host: String,
    /// SFTP port.
    pub sftp_port: u16,
    /// Host key fingerprint to pin.
    pub host_key_fingerprint: Option<String>,
    /// AWS region.
    pub region: String,
    /// Endpoint URL for every AWS API (None: AWS's own endpoints).
    pub endpoint_url: Option<String>,
    /// Where S3 and DynamoDB are when not at `endpoint_url` (an external endpoint).
    pub data_endpoint_url: Option<String>,
    /// Source bucket.
    pub source_bucket: String,
    /// Destination bucket.
    pub destination_bucket: String,
    /// Metadata table.
    pub table: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Session log group.
    pub sftp_log_group: String,
    /// Function log group.
    pub function_log_group: String,
    /// The state machine's execution log group.
    pub state_machine_log_group: String,
    /// URL of the rule's dead-letter queue, where the target says.
    pub dead_letter_queue: Option<String>,
}

/// An open target: where everything is, the clients to ask it, the accounts to act as. The
/// simulator, when one runs, stops when the session is closed or dropped.
pub struct Session {
    /// Where the pipeline is.
    pub target: Target,
    /// One line saying what runs where.
    pub description: String,
    /// Clients for the backend checks; `None` without AWS credentials (partner mode).
    pub clients: Option<Clients>,
    /// The SFTP account each declared user acts as.
    pub accounts: BTreeMap<String, Account>,
    simulator: std::sync::Mutex<Option<sim::Simulator>>,
    restartable: Option<embedded::Restartable>,
}

impl Session {
    /// Lets the S3 requests the scenario's `hold` faults keep waiting go on.
    pub fn release_held_requests(&self) {
        if let Some(s) = &*self.simulator.lock().unwrap() {
            s.release_held_requests();
        }
    }

    /// Restarts the simulator where the run asked for it (`[sim] restart_after_ms`): same
    /// endpoints, its state carried across. `false` if this session cannot.
    pub async fn restart_simulator(&self) -> anyhow::Result<bool> {
        let Some(r) = &self.restartable else { return Ok(false) };
        let Some(old) = self.simulator.lock().unwrap().take() else { return Ok(false) };
        let new = r.restart(old).await?;
        *self.simulator.lock().unwrap() = Some(new);
        Ok(true)
    }

    /// A plain SFTP server (no pipeline behind it, no AWS): what `harness bench` measures
    /// against sshd.
    pub fn sftp_only(target: Target, accounts: BTreeMap<String, Account>, description: String) -> Session {
        Session { target, description, clients: None, accounts, simulator: Default::default(), restartable: None }
    }

    /// A pipeline running elsewhere (a `harness sim` process, a stack) with these clients.
    pub fn remote(
        target: Target,
        clients: Clients,
        accounts: BTreeMap<String, Account>,
        description: String,
    ) -> Session {
        Session {
            target,
            description,
            clients: Some(clients),
            accounts,
            simulator: Default::default(),
            restartable: None,
        }
    }

    /// Stops the simulator, if one runs.
    pub fn close(self) {
        if let Some(s) = &*self.simulator.lock().unwrap() {
            s.shutdown();
        }
    }
}

/// Resolves `spec` for a run of `users` with `settings`: starts the simulator where one is
/// needed, provisions or checks the endpoint, loads the stack and its accounts.
pub async fn open(spec: &TargetSpec, users: &[User], settings: &SimSettings) -> anyhow::Result<Session> {
    match spec {
        TargetSpec::Embedded(paths) => {
            let accounts = accounts::generated(users);
            let (simulator, restartable) = embedded::start(paths, users, &accounts, settings, None).await?;
            let target = Target::from_sim(&simulator.endpoints);
            let description = format!(
                "embedded simulator (sftp {}:{}, aws {}, server {})",
                target.sftp_host,
                target.sftp_port,
                target.endpoint_url.as_deref().unwrap_or_default(),
                simulator.endpoints.server_id
            );
            let clients = Clients::for_endpoint(
                target.endpoint_url.as_deref().unwrap_or_default(),
                &target.region,
                sim::ACCESS_KEY_ID,
                sim::SECRET_ACCESS_KEY,
            );
            let simulator = std::sync::Mutex::new(Some(simulator));
            Ok(Session { target, description, clients: Some(clients), accounts, simulator, restartable })
        }
        TargetSpec::Endpoint { paths, endpoint, provision } => {
            let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into());
            let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into());
            let names = sim::SimConfig::new(paths.infra.clone(), Vec::new());
            let data = Clients::for_endpoint(endpoint, sim::REGION, &key, &secret);
            if *provision {
                endpoint::provision(&data, &names).await?;
            } else {
                endpoint::check_provisioned(&data, &names, endpoint).await?;
            }
            let accounts = accounts::generated(users);
            let external = sim::ExternalAws {
                endpoint: endpoint.clone(),
                access_key_id: key.clone(),
                secret_access_key: secret.clone(),
            };
            let (simulator, restartable) = embedded::start(paths, users, &accounts, settings, Some(external)).await?;
            let target = Target::from_sim(&simulator.endpoints);
            let description = format!(
                "endpoint {endpoint}: S3 and DynamoDB from the endpoint; SFTP, EventBridge, Step Functions, Lambda and Logs from the simulator (aws {})",
                simulator.endpoints.aws
            );
            let clients = Clients::split(endpoint, &simulator.endpoints.aws, sim::REGION, &key, &secret);
            let simulator = std::sync::Mutex::new(Some(simulator));
            Ok(Session { target, description, clients: Some(clients), accounts, simulator, restartable })
        }
        TargetSpec::Aws { stack, users: given } => {
            let (outputs, accounts) = stack_accounts(stack, users, given)?;
            let target = Target::from_stack(&outputs);
            let clients = Clients::from_environment(&target.region).await;
            let description = format!(
                "aws {} (sftp {}:{}, {})",
                target.region,
                target.sftp_host,
                target.sftp_port,
                if clients.is_some() {
                    "backend checks with the caller's AWS credentials"
                } else {
                    "partner mode: no AWS credentials"
                }
            );
            Ok(Session { target, description, clients, accounts, simulator: Default::default(), restartable: None })
        }
    }
}

/// A deployed stack's outputs and the account each declared user acts as: the `--user`
/// accounts in order, each one a user of the stack, each key readable.
fn stack_accounts(
    stack: &std::path::Path,
    users: &[User],
    given: &[(String, PathBuf)],
) -> anyhow::Result<(StackOutputs, BTreeMap<String, Account>)> {
    let outputs = StackOutputs::load(stack)?;
    if users.len() > given.len() {
        anyhow::bail!(
            "the run needs {} SFTP account(s) ({}) but {} were given: pass --user NAME=KEYFILE for each",
            users.len(),
            users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", "),
            given.len()
        );
    }
    let mut accounts = BTreeMap::new();
    for (u, (name, path)) in users.iter().zip(given) {
        if !outputs.sftp.users.is_empty() && !outputs.sftp.users.contains(name) {
            anyhow::bail!(
                "--user {name}: the stack in {} has no such SFTP user (it has {}); add it to the stack's users",
                stack.display(),
                outputs.sftp.users.join(", ")
            );
        }
        let key = russh::keys::load_secret_key(path, None)
            .with_context(|| format!("reading the SSH private key of {name} from {}", path.display()))?;
        accounts.insert(u.name.clone(), Account { name: name.clone(), key });
    }
    Ok((outputs, accounts))
}

/// What a run on `spec` would do, found without starting or contacting anything.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Where it would run.
    pub description: String,
    /// Each declared user and the account it would act as.
    pub accounts: Vec<(String, String)>,
}

/// Checks offline what [`open`] would check (settings the target lacks, missing or unknown
/// accounts, unreadable keys, a bad outputs document) and says what the run would use.
pub fn dry_run(spec: &TargetSpec, users: &[User], settings: &SimSettings) -> anyhow::Result<DryRun> {
    spec.supports(settings).map_err(|u| anyhow::anyhow!("needs {}: {}", u.needs, u.reason))?;
    let own = |users: &[User]| users.iter().map(|u| (u.name.clone(), u.name.clone())).collect();
    Ok(match spec {
        TargetSpec::Embedded(_) => DryRun { description: "embedded simulator".into(), accounts: own(users) },
        TargetSpec::Endpoint { endpoint, .. } => {
            DryRun { description: format!("endpoint {endpoint} with the simulator"), accounts: own(users) }
        }
        TargetSpec::Aws { stack, users: given } => {
            let (outputs, accounts) = stack_accounts(stack, users, given)?;
            DryRun {
                description: format!("aws {} (sftp {}:{})", outputs.region, outputs.sftp.host, outputs.sftp.port),
                accounts: users.iter().map(|u| (u.name.clone(), accounts[&u.name].name.clone())).collect(),
            }
        }
    })
}

impl Target {
    /// The deployed stack described by its outputs document.
    pub fn from_stack(o: &StackOutputs) -> Self {
        Self {
            kind: Kind::Aws,
            sftp_host: o.sftp.host.clone(),
            sftp_port: o.sftp.port,
            host_key_fingerprint: Some(o.sftp.host_key_fingerprint.clone()).filter(|f| !f.is_empty()),
            region: o.region.clone(),
            endpoint_url: None,
            data_endpoint_url: None,
            source_bucket: o.buckets.source.clone(),
            destination_bucket: o.buckets.destination.clone(),
            table: o.table.clone(),
            state_machine_arn: o.state_machine_arn.clone(),
            sftp_log_group: o.log_groups.sftp.clone(),
            dead_letter_queue: o.dead_letter_queue.clone(),
            function_log_group: o.log_groups.function.clone(),
            state_machine_log_group: o.log_groups.state_machine.clone(),
        }
    }

    /// The running embedded simulator.
    pub fn from_sim(ep: &sim::Endpoints) -> Self {
        Self {
            kind: if ep.external { Kind::Endpoint } else { Kind::Embedded },
            sftp_host: ep.sftp.ip().to_string(),
            sftp_port: ep.sftp.port(),
            host_key_fingerprint: Some(ep.host_key_fingerprint.clone()),
            region: ep.region.clone(),
            endpoint_url: Some(ep.aws.clone()),
            data_endpoint_url: ep.external.then(|| ep.data_endpoint.clone()),
            source_bucket: ep.source_bucket.clone(),
            destination_bucket: ep.destination_bucket.clone(),
            table: ep.table.clone(),
            state_machine_arn: ep.state_machine_arn.clone(),
            sftp_log_group: ep.sftp_log_group.clone(),
            dead_letter_queue: Some(ep.dead_letter_queue.clone()),
            function_log_group: ep.function_log_group.clone(),
            state_machine_log_group: ep.state_machine_log_group.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_settings_are_refused_where_no_simulator_runs() {
        let paths = Paths { infra: PathBuf::from("infra"), function_command: Vec::new() };
        let faults = SimSettings { s3_faults: vec![sim::s3::Fault::default()], ..Default::default() };
        let knobs = SimSettings { duplicate_deliveries: 1, ..Default::default() };
        let aws = TargetSpec::Aws { stack: PathBuf::from("o.json"), users: Vec::new() };
        let endpoint = TargetSpec::Endpoint { paths: paths.clone(), endpoint: "http://x".into(), provision: false };
        assert!(TargetSpec::Embedded(paths).supports(&faults).is_ok());
        assert!(endpoint.supports(&knobs).is_ok());
        assert!(endpoint.supports(&faults).is_err());
        assert!(aws.supports(&knobs).is_err());
        assert!(aws.supports(&SimSettings::default()).is_ok());
    }
}
