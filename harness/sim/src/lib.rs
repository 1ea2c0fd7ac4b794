//! An in-process simulator of the partner file intake pipeline: Transfer Family SFTP, S3,
//! EventBridge, Step Functions, Lambda, DynamoDB and CloudWatch Logs, each speaking its AWS
//! wire protocol on loopback.
//!
//! The simulator knows nothing of scenarios or of the copy function: it runs whatever command
//! it is given as the function's `bootstrap`, and the definition files under `infra/`.
//!
//! # In your own tests
//!
//! The simulator is a test fixture: [`Simulator::start`] binds ephemeral loopback ports (every
//! port in [`SimConfig::new`] is 0), [`Simulator::sdk_config`] points any `aws-sdk-*` client at
//! it, [`Simulator::sftp`] says where to connect and which host key to pin, and dropping the
//! [`Simulator`] stops everything and removes its storage.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // The definition files Terraform deploys, and your function's Lambda `bootstrap`.
//! let mut config = sim::SimConfig::new("infra".into(), vec!["target/debug/bootstrap".into()]);
//! let (user, key) = sim::UserConfig::with_generated_key("acme");
//! config.users.push(user);
//! let sim = sim::Simulator::start(config).await?;
//! let dynamodb = aws_sdk_dynamodb::Client::new(&sim.sdk_config());
//! let sftp = sim.sftp(); // connect to sftp.addr as "acme" with `key`, pin sftp.host_key
//! # let _ = (dynamodb, sftp, key);
//! # Ok(()) }
//! ```
//!
//! `harness/sim/tests/fixture.rs` is a whole test to copy: upload over SFTP, await the record.

pub mod breaks;
pub mod clock;
mod config;
mod countdown;
pub mod definitions;
pub mod dynamodb;
pub mod events;
pub mod gateway;
pub mod json_protocol;
pub mod lambda;
pub mod logs;
pub mod persist;
pub mod pipeline;
pub mod s3;
pub mod sftp;
mod snapshot;
pub mod sqs;
pub mod states;
mod users;

pub use config::{ExternalAws, SimConfig};
pub use users::UserConfig;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use russh::keys::ssh_key;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// The region every simulated resource lives in.
pub const REGION: &str = "us-east-1";
/// The simulated account.
pub const ACCOUNT_ID: &str = "000000000000";
/// Access key the simulator's S3 endpoint accepts (SigV4 is verified).
pub const ACCESS_KEY_ID: &str = "AKIASIMULATOR0000000";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "simulator/secret/key/0000000000000000000";

/// Now, as RFC 3339 with a `Z` offset.
pub fn iso_now() -> String {
    events::s3_event_time(std::time::SystemTime::now())
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A definition file is missing or wrong.
    #[error(transparent)]
    DefinitionFile(#[from] definitions::DefinitionFileError),
    /// The state machine definition is invalid.
    #[error("{file}: {source}")]
    StateMachine {
        /// The file.
        file: String,
        /// Why.
        source: json_protocol::ApiError,
    },
    /// The event pattern is invalid.
    #[error("{file}: {source}")]
    Pattern {
        /// The file.
        file: String,
        /// Why.
        source: events::PatternError,
    },
    /// The input transformer is invalid.
    #[error("{file}: {source}")]
    Transformer {
        /// The file.
        file: String,
        /// Why.
        source: events::TransformError,
    },
    /// A settings file is not valid JSON of the expected shape.
    #[error("{file}: {message}")]
    Settings {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source} (is another simulator running? choose another port)")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A user's home or policies cannot be used.
    #[error("SFTP user {user:?}: {message}")]
    User {
        /// The user.
        user: String,
        /// Why.
        message: String,
    },
    /// The Step Functions Local mock config file is missing or malformed.
    #[error(transparent)]
    MockConfig(#[from] states::MockConfigError),
    /// The run's variant of the state machine does not apply to its definition.
    #[error("{file}: {source}")]
    Variant {
        /// The definition file.
        file: String,
        /// Why.
        source: states::variant::VariantError,
    },
    /// Something the simulator keeps (in `--data-dir`, or a listener's address) could not be
    /// read or written.
    #[error("{what}: {source}")]
    Io {
        /// What (`--data-dir executions`, `s3 storage`, `a listener's address`).
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The external endpoint's host does not resolve.
    #[error("cannot resolve {endpoint}: {reason}")]
    Endpoint {
        /// The endpoint URL.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// DynamoDB's store could not be opened.
    #[error("dynamodb: {0}")]
    DynamoDbStore(#[from] dynoxide::errors::DynoxideError),
    /// The metadata table could not be made.
    #[error(transparent)]
    Table(#[from] dynamodb::TableError),
    /// A bucket could not be made.
    #[error("bucket: {0}")]
    Bucket(#[from] s3::StoreError),
    /// The SFTP server's host key could not be generated.
    #[error("host key: {0}")]
    HostKey(#[from] ssh_key::Error),
    /// The SFTP server's security policy is not one Transfer Family has.
    #[error(transparent)]
    SecurityPolicy(#[from] sftp::UnknownPolicy),
}

impl StartError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// Where everything listens, and the names a client needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoints {
    /// SFTP address.
    pub sftp: SocketAddr,
    /// SFTP host key fingerprint (SHA256:...).
    pub host_key_fingerprint: String,
    /// SFTP host public key (OpenSSH format).
    pub host_public_key: String,
    /// URL of the gateway serving S3, Step Functions, Logs and DynamoDB.
    pub aws: String,
    /// Where S3 and DynamoDB are: the gateway, or the external endpoint.
    pub data_endpoint: String,
    /// Whether S3 and DynamoDB come from an external endpoint.
    pub external: bool,
    /// DynamoDB's own URL.
    pub dynamodb: String,
    /// Transfer Family server id.
    pub server_id: String,
    /// Session log group.
    pub sftp_log_group: String,
    /// URL of the rule's dead-letter queue (SQS, on the gateway).
    pub dead_letter_queue: String,
    /// The copy function's log group.
    pub function_log_group: String,
    /// The state machine's execution log group.
    pub state_machine_log_group: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Region.
    pub region: String,
    /// Source bucket.
    pub source_bucket: String,
    /// Destination bucket.
    pub destination_bucket: String,
    /// Metadata table.
    pub table: String,
}

/// A running simulator; dropping it (or [`Simulator::shutdown`]) stops everything.
pub struct Simulator {
    /// Where to reach it.
    pub endpoints: Endpoints,
    /// The object store, for checks the S3 API cannot make (open multipart uploads).
    pub s3_store: Arc<s3::S3Store>,
    s3_faults: Arc<s3::Faults>,
    lambda: lambda::LambdaService,
    routes: Arc<gateway::Routes>,
    sftp: Arc<sftp::SftpServer>,
    data_dir: Option<persist::DataDir>,
    bus: Arc<events::EventBus>,
    stop: CancellationToken,
}

async fn bind(host: &str, port: u16) -> Result<TcpListener, StartError> {
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr).await.map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(StartError::io("a listener's address"))
}

fn server_id() -> String {
    format!("s-{}", &uuid::Uuid::new_v4().simple().to_string()[..17])
}

/// The simulator's three listeners, bound first: a port in use stops the start before any
/// service runs.
struct Listeners {
    gateway: TcpListener,
    dynamodb: TcpListener,
    sftp: TcpListener,
}

impl Listeners {
    async fn bind(config: &SimConfig) -> Result<Self, StartError> {
        Ok(Self {
            gateway: bind(&config.host, config.gateway_port).await?,
            dynamodb: bind(&config.host, config.dynamodb_port).await?,
            sftp: bind(&config.host, config.sftp_port).await?,
        })
    }
}

/// Where S3 and DynamoDB are and how to sign for them: the gateway and the simulator's keys, or
/// an external endpoint and its keys.
struct DataPlane {
    gateway_url: String,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    /// The table's DynamoDB, for the state machine's DynamoDB integration.
    table: SocketAddr,
}

impl DataPlane {
    async fn of(config: &SimConfig, gateway_url: &str, dynamodb: SocketAddr) -> Result<Self, StartError> {
        Ok(match &config.external {
            Some(x) => Self {
                gateway_url: gateway_url.into(),
                endpoint: x.endpoint.clone(),
                access_key_id: x.access_key_id.clone(),
                secret_access_key: x.secret_access_key.clone(),
                table: endpoint_addr(&x.endpoint).await?,
            },
            None => Self {
                gateway_url: gateway_url.into(),
                endpoint: gateway_url.into(),
                access_key_id: ACCESS_KEY_ID.into(),
                secret_access_key: SECRET_ACCESS_KEY.into(),
                table: dynamodb,
            },
        })
    }

    /// The environment every function process gets to reach the simulated services.
    fn function_env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("AWS_ENDPOINT_URL".to_string(), self.gateway_url.clone()),
            ("AWS_ENDPOINT_URL_S3".to_string(), self.endpoint.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), self.endpoint.clone()),
            ("AWS_REGION".to_string(), REGION.to_string()),
            ("AWS_DEFAULT_REGION".to_string(), REGION.to_string()),
            ("AWS_ACCESS_KEY_ID".to_string(), self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), self.secret_access_key.clone()),
        ])
    }

    /// The S3 client the SFTP server writes through, as Transfer Family does: without client
    /// checksums, so its objects get S3's default full-object CRC64NVME.
    fn sftp_s3_client(&self) -> aws_sdk_s3::Client {
        let client = s3_client_with(&self.endpoint, &self.access_key_id, &self.secret_access_key);
        aws_sdk_s3::Client::from_conf(
            client
                .config()
                .to_builder()
                .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                .build(),
        )
    }
}

/// The values Terraform fills into the definition files' `${...}` placeholders.
fn placeholders(config: &SimConfig) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("source_bucket", config.source_bucket.clone()),
        ("destination_bucket", config.destination_bucket.clone()),
        ("copy_function_arn", function_arn(&config.function_name)),
        ("metadata_table", config.table.clone()),
    ])
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

/// A `--data-dir` failure, naming what could not be kept.
fn kept(what: &str, e: std::io::Error) -> StartError {
    StartError::io(format!("--data-dir {what}"))(e)
}

/// DynamoDB (dynoxide on SQLite) on its own listener, with the metadata table.
async fn start_dynamodb(
    listener: TcpListener,
    data_dir: Option<&persist::DataDir>,
    table: &str,
    stop: CancellationToken,
) -> Result<SocketAddr, StartError> {
    let addr = local_addr(&listener)?;
    let db = match data_dir {
        Some(d) => dynoxide::Database::new(&d.dynamodb().to_string_lossy()),
        None => dynoxide::Database::memory(),
    }?;
    tokio::spawn(async move {
        let _ = dynoxide::server::serve_with_shutdown(listener, db, async move { stop.cancelled().await }).await;
    });
    dynamodb::create_metadata_table(addr, table).await?;
    Ok(addr)
}

/// The copy function, deployed with its settings file and the run's overrides.
fn deploy_function(
    config: &SimConfig,
    mut settings: lambda::FunctionSettings,
    logs: &Arc<logs::LogStore>,
    data: &DataPlane,
    breaks: &Arc<breaks::Breaks>,
) -> lambda::LambdaService {
    let lambda = lambda::LambdaService::new(logs.clone(), data.function_env())
        .with_breaks(breaks.clone())
        .with_kills(config.function_kills.clone())
        .with_clock(config.clock.clone());
    if config.hold_invocations {
        lambda.hold();
    }
    settings.environment.insert("METADATA_TABLE".into(), config.table.clone());
    settings.environment.extend(config.function_env.clone());
    if let Some(t) = config.function_timeout_seconds {
        settings.timeout_seconds = t;
    }
    if let Some(c) = config.function_reserved_concurrency {
        settings.reserved_concurrency = Some(c);
    }
    lambda.deploy(lambda::FunctionSpec {
        name: config.function_name.clone(),
        settings,
        command: config.function_command.clone(),
    });
    lambda
}

/// Step Functions with the shipped state machine (its executions logged to its log group as
/// the stack configures it): the service and the machine's ARN.
fn step_functions(
    config: &SimConfig,
    workflow: definitions::Workflow,
    logs: &Arc<logs::LogStore>,
    invoker: states::TaskInvoker,
    breaks: &breaks::Breaks,
) -> Result<(states::StepFunctions, String), StartError> {
    let log_group = states::logging::log_group_of(&config.state_machine_name);
    let execution_logs = states::logging::ExecutionLogs::new(logs.clone(), log_group, workflow.logging);
    let mut sfn = states::StepFunctions::new(invoker, config.clock.clone()).with_breaks(breaks);
    if !breaks.has(breaks::Break::DropExecutionLogs) {
        sfn = sfn.with_logging(execution_logs);
    }
    if let Some(path) = &config.sfn_mock_config {
        sfn = sfn.with_mock_config(states::MockConfig::load(path)?);
    }
    let role = format!("arn:aws:iam::{ACCOUNT_ID}:role/{}-sfn", config.state_machine_name);
    let machine_arn = sfn
        .create_state_machine(&config.state_machine_name, &workflow.state_machine, &role)
        .map_err(|source| StartError::StateMachine { file: definitions::STATE_MACHINE.into(), source })?;
    Ok((sfn, machine_arn))
}

/// EventBridge's default bus with the stack's rule (pattern, input transformer, retry policy,
/// dead-letter queue) targeting the state machine; SQS holds the dead-letter queue.
fn event_bus(
    config: &SimConfig,
    rule: definitions::RuleDefinition,
    sfn: &states::StepFunctions,
    machine_arn: &str,
    queues: &Arc<sqs::Queues>,
    breaks: &breaks::Breaks,
) -> Arc<events::EventBus> {
    // With a test case, the rule's target is `arn#TestCase` (Step Functions Local's way of
    // choosing mocks); the executions' ARNs stay plain.
    let target_arn = match &config.sfn_test_case {
        Some(case) => format!("{machine_arn}#{case}"),
        None => machine_arn.to_string(),
    };
    let target = pipeline::rule_starts_execution(sfn.clone(), target_arn, config.target_faults.clone(), breaks);
    let rule = events::Rule {
        name: format!("{}-object-created", config.state_machine_name),
        pattern: rule.pattern,
        transformer: Some(rule.transformer),
        target,
        target_arn: machine_arn.to_string(),
        retry: rule.retry_policy,
        dead_letter: (!breaks.has(breaks::Break::DropDeadLetters))
            .then(|| events::DeadLetter { queues: queues.clone(), queue: dead_letter_queue(config) }),
    };
    Arc::new(events::EventBus::new(vec![rule], config.delivery.clone()).with_clock(config.clock.clone()))
}

/// The stack's dead-letter queue (infra/modules/workflow: "<name>-undelivered-events").
fn dead_letter_queue(config: &SimConfig) -> String {
    format!("{}-undelivered-events", config.state_machine_name)
}

/// The object store with the stack's buckets (kept in the data directory, if any), announcing
/// creations on `notices`.
fn s3_store(
    config: &SimConfig,
    buckets: &definitions::BucketsFile,
    data_dir: Option<&persist::DataDir>,
    notices: tokio::sync::mpsc::UnboundedSender<s3::ObjectCreated>,
) -> Result<Arc<s3::S3Store>, StartError> {
    let store = match data_dir {
        Some(d) => s3::S3Store::open(&d.s3(), notices),
        None => s3::S3Store::new(notices),
    }
    .map_err(StartError::io("s3 storage"))?
    .with_clock(config.clock.clone());
    let mut wanted = vec![(&config.source_bucket, buckets.source.settings())];
    if config.create_destination_bucket {
        wanted.push((&config.destination_bucket, buckets.destination.settings()));
    }
    for (name, settings) in wanted.into_iter().filter(|(name, _)| !store.has_bucket(name)) {
        store.create_bucket_with(name, settings)?;
    }
    Ok(Arc::new(store))
}

/// Keeps what the data directory holds: takes back an earlier run's work (before anything
/// listens: an upload now would be announced twice, by its commit and as an object no execution
/// took up), then snapshots twice a second until `stop`.
fn keep_in_data_dir(
    d: &persist::DataDir,
    routes: &gateway::Routes,
    store: &Arc<s3::S3Store>,
    announce: &tokio::sync::mpsc::UnboundedSender<s3::ObjectCreated>,
    forget_running: bool,
    stop: CancellationToken,
) -> Result<(), StartError> {
    snapshot::restore(d, &routes.sfn, store, announce, &routes.sqs, forget_running)
        .map_err(|e| kept("executions", e))?;
    let (d, store, logs, sfn, queues) =
        (d.clone(), store.clone(), routes.logs.clone(), routes.sfn.clone(), routes.sqs.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            }
            if let Err(e) = snapshot::save(&d, &store, &logs, &sfn, &queues) {
                tracing::warn!(error = %e, "saving to the data directory failed");
            }
        }
    });
    Ok(())
}

/// The SFTP server's identity: its host key and Transfer Family server id, kept in the data
/// directory (clients that pinned the host key still connect, session logs stay in one group).
fn sftp_identity(
    config: &SimConfig,
    data_dir: Option<&persist::DataDir>,
) -> Result<(ssh_key::PrivateKey, String), StartError> {
    let host_key = match (config.host_key.clone(), data_dir) {
        (Some(k), _) => k,
        (None, Some(d)) => d.host_key().map_err(|e| kept("host key", e))?,
        (None, None) => ssh_key::PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519)?,
    };
    let id = match data_dir {
        Some(d) => d.server_id(server_id).map_err(|e| kept("server id", e))?,
        None => server_id(),
    };
    Ok((host_key, id))
}

/// Transfer Family's SFTP server on `listener`, writing through an S3 client as Transfer
/// Family does, logging sessions to CloudWatch.
#[allow(clippy::too_many_arguments)]
fn start_sftp(
    config: &SimConfig,
    policies: &definitions::Policies,
    identity: (ssh_key::PrivateKey, String),
    data: &DataPlane,
    logs: &Arc<logs::LogStore>,
    announce: tokio::sync::mpsc::UnboundedSender<s3::ObjectCreated>,
    breaks: &Arc<breaks::Breaks>,
    listener: TcpListener,
    stop: CancellationToken,
) -> Result<Arc<sftp::SftpServer>, StartError> {
    let (host_key, server_id) = identity;
    let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/partner-intake-sftp-access");
    let users = users::sftp_users(&config.users, &config.source_bucket, &role_arn, &policies.role, &policies.session)?;
    let sftp_config = sftp::SftpConfig {
        server_id,
        users,
        host_key,
        role_arn,
        setstat_no_op: config.setstat_no_op,
        upload: config.upload,
        idle_timeout: config.idle_timeout,
        // An external S3 sends us no events: the SFTP server announces what it writes.
        announce: config.external.as_ref().map(|_| announce),
        security_policy: config.security_policy.clone(),
        breaks: breaks.clone(),
        clock: config.clock.clone(),
    };
    let sftp = Arc::new(sftp::SftpServer::new(sftp_config, data.sftp_s3_client(), logs.clone())?);
    let serving = sftp.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {},
            _ = serving.serve(listener) => {},
        }
    });
    Ok(sftp)
}

impl Endpoints {
    /// Where the started services are, and the names a client needs.
    fn of(
        config: &SimConfig,
        (host_key, server_id): &(ssh_key::PrivateKey, String),
        sftp: SocketAddr,
        data: &DataPlane,
        dynamodb: SocketAddr,
        state_machine_arn: String,
        dead_letter_queue: String,
    ) -> Self {
        Self {
            sftp,
            host_key_fingerprint: host_key.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            host_public_key: host_key.public_key().to_openssh().unwrap_or_default(),
            aws: data.gateway_url.clone(),
            data_endpoint: data.endpoint.clone(),
            external: config.external.is_some(),
            dynamodb: format!("http://{dynamodb}"),
            sftp_log_group: sftp::SftpServer::log_group_of(server_id),
            dead_letter_queue,
            server_id: server_id.clone(),
            function_log_group: format!("/aws/lambda/{}", config.function_name),
            state_machine_log_group: states::logging::log_group_of(&config.state_machine_name),
            state_machine_arn,
            region: REGION.into(),
            source_bucket: config.source_bucket.clone(),
            destination_bucket: config.destination_bucket.clone(),
            table: config.table.clone(),
        }
    }
}

impl Simulator {
    /// Starts every service and waits until all listen: a table of contents of the simulator,
    /// service by service, then the links between them ([`pipeline`]).
    pub async fn start(config: SimConfig) -> Result<Self, StartError> {
        let stop = CancellationToken::new();
        let listeners = Listeners::bind(&config).await?;
        let (gateway_addr, sftp_addr) = (local_addr(&listeners.gateway)?, local_addr(&listeners.sftp)?);
        let gateway_url = format!("http://{gateway_addr}");
        let definitions::Definitions { workflow, rule, function, buckets, policies } =
            definitions::Definitions::load(&config.infra_dir, &placeholders(&config), &config.state_machine_variant)?;
        let data_dir = match &config.data_dir {
            Some(d) => Some(persist::DataDir::new(d).map_err(StartError::io(d.display().to_string()))?),
            None => None,
        };
        let breaks = Arc::new(config.breaks.clone());

        let dynamo_addr = start_dynamodb(listeners.dynamodb, data_dir.as_ref(), &config.table, stop.clone()).await?;
        let data = DataPlane::of(&config, &gateway_url, dynamo_addr).await?;
        let logs = Arc::new(
            match &data_dir {
                Some(d) => logs::LogStore::load(&d.logs()).map_err(|e| kept("logs", e))?,
                None => logs::LogStore::default(),
            }
            .with_clock(config.clock.clone()),
        );
        let lambda = deploy_function(&config, function, &logs, &data, &breaks);
        let invoker = pipeline::task_invoker(lambda.clone(), data.table, &breaks);
        let (sfn, machine_arn) = step_functions(&config, workflow, &logs, invoker, &breaks)?;
        let queues = Arc::new(sqs::Queues::new(&gateway_url));
        queues.create(&dead_letter_queue(&config));
        let bus = event_bus(&config, rule, &sfn, &machine_arn, &queues, &breaks);
        let (notices, notices_rx) = tokio::sync::mpsc::unbounded_channel();
        let store = s3_store(&config, &buckets, data_dir.as_ref(), notices.clone())?;
        pipeline::s3_announces_to_bus(notices_rx, bus.clone(), stop.clone());

        let faults = Arc::new(s3::Faults::new(config.s3_faults.clone()));
        let mut s3 = s3s::service::S3ServiceBuilder::new(
            s3::S3Frontend::new(store.clone(), faults.clone()).with_breaks(breaks.clone(), &config.destination_bucket),
        );
        s3.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        let routes = Arc::new(gateway::Routes {
            s3: s3.build(),
            sfn,
            logs: logs.clone(),
            dynamodb: dynamo_addr,
            dynamodb_faults: Arc::new(dynamodb::Faults::new(config.dynamodb_faults.clone())),
            sqs: queues,
            wrong_status: breaks.has(breaks::Break::WrongStatus),
            clock: config.clock.clone(),
        });
        // Before anything listens: an upload now would be announced twice (by its commit and
        // as an object no execution took up).
        if let Some(d) = &data_dir {
            let forget = breaks.has(breaks::Break::ForgetRunningExecutions);
            keep_in_data_dir(d, &routes, &store, &notices, forget, stop.clone())?;
        }
        tokio::spawn(gateway::serve(listeners.gateway, routes.clone(), stop.clone()));

        let identity = sftp_identity(&config, data_dir.as_ref())?;
        let dead_letters = routes.sqs.url(&dead_letter_queue(&config));
        let endpoints = Endpoints::of(&config, &identity, sftp_addr, &data, dynamo_addr, machine_arn, dead_letters);
        let sftp =
            start_sftp(&config, &policies, identity, &data, &logs, notices, &breaks, listeners.sftp, stop.clone())?;
        info!(gateway = %endpoints.aws, sftp = %endpoints.sftp, "simulator listening");
        Ok(Self { endpoints, s3_store: store, s3_faults: faults, lambda, routes, sftp, data_dir, bus, stop })
    }

    /// Serves the AWS API gateway's HTTP/1 requests over one byte stream, as if it had been
    /// accepted on the gateway's port (for callers that bring their own transport).
    pub fn serve_gateway_connection<S>(&self, stream: S) -> impl Future<Output = ()> + use<S>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let peer = SocketAddr::from(([127, 0, 0, 1], 0));
        gateway::serve_connection(stream, self.routes.clone(), peer, self.stop.clone())
    }

    /// Serves one SFTP subsystem for `user` (no SSH: already authenticated) over a byte stream;
    /// `None` if the simulator has no such user.
    pub fn serve_sftp_subsystem<S>(&self, user: &str, stream: S) -> Option<impl Future<Output = ()> + use<S>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.sftp.serve_subsystem(user, stream, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Lets every S3 request a `hold` fault keeps waiting, and every held invocation, go on.
    pub fn release_held_requests(&self) {
        self.s3_faults.release();
        self.lambda.release();
    }

    /// Stops every listener, execution and function process; with a data directory, then
    /// saves what it keeps (executions still running are redriven by the next start).
    pub fn shutdown(&self) {
        if self.stop.is_cancelled() {
            return;
        }
        // Everything stops first, so the save sees the last of the work and nothing after it.
        self.stop.cancel();
        self.bus.close();
        self.routes.sfn.shutdown();
        self.lambda.shutdown();
        if let Some(d) = &self.data_dir
            && let Err(e) = snapshot::save(d, &self.s3_store, &self.routes.logs, &self.routes.sfn, &self.routes.sqs)
        {
            tracing::warn!(error = %e, "saving to the data directory failed");
        }
    }
}

/// What an SFTP client needs to reach the simulator's server.
#[derive(Debug, Clone)]
pub struct SftpDetails {
    /// Host and port.
    pub addr: SocketAddr,
    /// The server's host key, to pin (OpenSSH's `known_hosts` line: `[host]:port <this>`).
    pub host_key: ssh_key::PublicKey,
    /// Its fingerprint, `SHA256:...`.
    pub host_key_fingerprint: String,
}

impl Simulator {
    /// The credentials the simulator's endpoints accept (S3 verifies SigV4 signatures).
    pub fn credentials() -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::from_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
    }

    /// An SDK configuration for every service the simulator serves: `aws_sdk_s3::Client::from_conf`
    /// needs `force_path_style` on top (see [`s3_client`]); the other clients take it as it is.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .http_client(http_client())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoints.aws)
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(Self::credentials()))
            .build()
    }

    /// An S3 client for the simulator (path-style addressing, its credentials).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoints.aws)
    }

    /// Where the SFTP server listens and the host key to pin.
    pub fn sftp(&self) -> SftpDetails {
        let host_key = ssh_key::PublicKey::from_openssh(&self.endpoints.host_public_key)
            .expect("the simulator's own host key parses");
        SftpDetails {
            addr: self.endpoints.sftp,
            host_key,
            host_key_fingerprint: self.endpoints.host_key_fingerprint.clone(),
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An S3 client for the simulator's gateway (path-style, simulator credentials).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    s3_client_with(endpoint, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
}

/// Resolves `http://host:port` to a socket address (the DynamoDB integration speaks plain HTTP).
async fn endpoint_addr(endpoint: &str) -> Result<SocketAddr, StartError> {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let unresolved = |reason: String| StartError::Endpoint { endpoint: endpoint.into(), reason };
    tokio::net::lookup_host(hostport)
        .await
        .map_err(|e| unresolved(e.to_string()))?
        .next()
        .ok_or_else(|| unresolved("it resolves to no address".into()))
}

/// The HTTP client of the simulator's own SDK clients: rustls on ring (the workspace's one TLS
/// stack), plain HTTP to loopback endpoints.
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    static CLIENT: std::sync::OnceLock<aws_sdk_s3::config::SharedHttpClient> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
        })
        .clone()
}

/// A path-style S3 client for any endpoint.
pub fn s3_client_with(endpoint: &str, access_key_id: &str, secret_access_key: &str) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::from_keys(access_key_id, secret_access_key, None);
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .http_client(http_client())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
