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
pub mod definitions;
pub mod dynamodb;
pub mod events;
pub mod gateway;
pub mod json_protocol;
pub mod lambda;
pub mod logs;
pub mod persist;
pub mod s3;
pub mod sftp;
pub mod sqs;
pub mod states;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use russh::keys::ssh_key;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info};

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
    /// Setting up a service failed.
    #[error("{0}")]
    Setup(String),
}

/// A user of the SFTP server, with their authorized keys.
#[derive(Debug, Clone)]
pub struct UserConfig {
    /// User name (also their folder in the source bucket).
    pub name: String,
    /// Authorized public keys.
    pub keys: Vec<ssh_key::PublicKey>,
    /// Home directory (default: chrooted to `/<source bucket>/<name>`).
    pub home: sftp::users::HomeSpec,
    /// Replaces the shared session policy file for this user (`Some("")`: no session policy).
    pub session_policy: Option<String>,
}

impl UserConfig {
    /// A user chrooted to `/<source bucket>/<name>` with the shared session policy.
    pub fn new(name: &str, keys: Vec<ssh_key::PublicKey>) -> Self {
        Self { name: name.to_string(), keys, home: Default::default(), session_policy: None }
    }

    /// A user with a freshly generated Ed25519 key: the user, and the private key to log in with.
    pub fn with_generated_key(name: &str) -> (Self, ssh_key::PrivateKey) {
        let key = ssh_key::PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519)
            .expect("an Ed25519 key from the system's randomness");
        (Self::new(name, vec![key.public_key().clone()]), key)
    }

    /// The users of a `.tfvars.json` file shared with Terraform.
    pub fn from_file(path: &std::path::Path) -> Result<Vec<Self>, sftp::users::UsersFileError> {
        let entries = sftp::users::load(path)?;
        Ok(entries
            .into_iter()
            .map(|(name, e)| Self {
                keys: e.public_keys().unwrap_or_default(),
                home: e.spec(),
                name,
                session_policy: None,
            })
            .collect())
    }
}

/// An AWS-compatible endpoint (LocalStack, moto) that holds S3 and DynamoDB instead of the
/// simulator; the simulator supplies SFTP, EventBridge, Step Functions, Lambda and Logs.
#[derive(Debug, Clone)]
pub struct ExternalAws {
    /// Endpoint URL (`http://127.0.0.1:4566`).
    pub endpoint: String,
    /// Access key id it expects.
    pub access_key_id: String,
    /// Secret it expects.
    pub secret_access_key: String,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The `infra/` directory holding `definitions/`.
    pub infra_dir: PathBuf,
    /// Source bucket (SFTP homes live here).
    pub source_bucket: String,
    /// Destination bucket.
    pub destination_bucket: String,
    /// Whether to create the destination bucket (off to test a broken stage).
    pub create_destination_bucket: bool,
    /// Metadata table.
    pub table: String,
    /// Copy function's name.
    pub function_name: String,
    /// Program and arguments that start the copy function's `bootstrap`.
    pub function_command: Vec<String>,
    /// Extra environment for the function.
    pub function_env: BTreeMap<String, String>,
    /// Replaces the settings file's function timeout (seconds), for tests of timeouts.
    pub function_timeout_seconds: Option<u64>,
    /// Replaces the settings file's reserved concurrency, for tests of throttling.
    pub function_reserved_concurrency: Option<u32>,
    /// State machine name.
    pub state_machine_name: String,
    /// SFTP users.
    pub users: Vec<UserConfig>,
    /// SFTP host key (generated when `None`).
    pub host_key: Option<ssh_key::PrivateKey>,
    /// SETSTAT behaviour.
    pub setstat_no_op: bool,
    /// SFTP connections idle this long are closed (Transfer Family: 30 minutes).
    pub idle_timeout: std::time::Duration,
    /// Transfer Family security policy of the SFTP server.
    pub security_policy: String,
    /// Loopback address for every listener.
    pub host: String,
    /// SFTP port (0: ephemeral).
    pub sftp_port: u16,
    /// Gateway port for every AWS API (0: ephemeral).
    pub gateway_port: u16,
    /// DynamoDB's own port (0: ephemeral).
    pub dynamodb_port: u16,
    /// The clock every service runs on: real, sped up, or virtual.
    pub clock: clock::Clock,
    /// Event delivery knobs.
    pub delivery: events::Delivery,
    /// SFTP upload part settings.
    pub upload: sftp::UploadSettings,
    /// Faults the S3 endpoint injects.
    pub s3_faults: Vec<s3::Fault>,
    /// Faults on the DynamoDB requests that come through the gateway (the function's).
    pub dynamodb_faults: Vec<dynamodb::Fault>,
    /// The rule's target refusing deliveries.
    pub target_faults: Vec<events::TargetFault>,
    /// Function processes killed partway through invocations.
    pub function_kills: Vec<lambda::Kill>,
    /// Hold every function invocation until [`Simulator::release_held_requests`].
    pub hold_invocations: bool,
    /// Stages broken on purpose, for the harness's own tests.
    pub breaks: breaks::Breaks,
    /// S3 and DynamoDB from an external endpoint instead of the simulator.
    pub external: Option<ExternalAws>,
    /// Keep buckets, objects, versions, the table, logs and executions here across restarts.
    pub data_dir: Option<PathBuf>,
    /// Where this run's state machine differs from the shipped one.
    pub state_machine_variant: states::variant::Variant,
    /// Step Functions Local's `MockConfigFile.json`: executions started on
    /// `<state machine ARN>#<test case>` take its mocked Task results.
    pub sfn_mock_config: Option<PathBuf>,
    /// The test case the EventBridge rule's executions run under (`arn#TestCase`).
    pub sfn_test_case: Option<String>,
}

impl SimConfig {
    /// Defaults matching the Terraform stack's names, ephemeral ports.
    pub fn new(infra_dir: PathBuf, function_command: Vec<String>) -> Self {
        Self {
            infra_dir,
            source_bucket: "partner-intake-source".into(),
            destination_bucket: "partner-intake-destination".into(),
            create_destination_bucket: true,
            table: "FileTransferMetadata".into(),
            function_name: "partner-intake-copy".into(),
            function_command,
            function_env: BTreeMap::new(),
            function_timeout_seconds: None,
            function_reserved_concurrency: None,
            state_machine_name: "partner-intake-transfer".into(),
            users: Vec::new(),
            host_key: None,
            setstat_no_op: false,
            idle_timeout: std::time::Duration::from_secs(1800),
            security_policy: sftp::DEFAULT_POLICY.to_string(),
            host: "127.0.0.1".into(),
            sftp_port: 0,
            gateway_port: 0,
            dynamodb_port: 0,
            clock: clock::Clock::default(),
            delivery: events::Delivery::default(),
            upload: sftp::UploadSettings::default(),
            s3_faults: Vec::new(),
            function_kills: Vec::new(),
            target_faults: Vec::new(),
            dynamodb_faults: Vec::new(),
            hold_invocations: false,
            breaks: breaks::Breaks::default(),
            external: None,
            data_dir: None,
            state_machine_variant: Default::default(),
            sfn_mock_config: None,
            sfn_test_case: None,
        }
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

/// Writes what `--data-dir` keeps, one save at a time. Executions go first: a snapshot of S3
/// newer than the executions' only makes a restart redrive work that is already done (every
/// state is safe to run again), never forget work that is not.
fn save(
    d: &persist::DataDir,
    store: &s3::S3Store,
    logs: &logs::LogStore,
    sfn: &states::StepFunctions,
    queues: &sqs::Queues,
) -> std::io::Result<()> {
    static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SAVING.lock().unwrap_or_else(|e| e.into_inner());
    let executions = serde_json::to_vec(&sfn.snapshot()).map_err(std::io::Error::other)?;
    persist::write_atomically(&d.executions(), &executions)?;
    persist::write_atomically(&d.queues(), &queues.snapshot())?;
    store.save()?;
    logs.save(&d.logs())
}

/// Takes back an earlier run's executions (redriving those it left running) and announces
/// again every object whose creation no execution took up (its event was in flight), so work
/// a restart interrupted is finished, not lost.
fn restore(
    d: &persist::DataDir,
    sfn: &states::StepFunctions,
    store: &s3::S3Store,
    announce: &tokio::sync::mpsc::UnboundedSender<s3::ObjectCreated>,
    queues: &sqs::Queues,
    forget_running: bool,
) -> std::io::Result<()> {
    match std::fs::read(d.queues()) {
        Ok(bytes) => queues.restore(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut executions: Vec<states::Execution> = match std::fs::read(d.executions()) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", d.executions().display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    if forget_running {
        executions.retain(|e| e.status != states::ExecutionStatus::Running);
    }
    // Taken up: by an execution, or by the dead-letter queue (EventBridge never delivers a
    // dead-lettered event again).
    let mut taken: std::collections::HashSet<(String, String)> = executions
        .iter()
        .filter_map(|e| {
            let input: serde_json::Value = serde_json::from_str(&e.input).ok()?;
            Some((input["key"].as_str()?.to_string(), input["sequencer"].as_str()?.to_string()))
        })
        .collect();
    taken.extend(queues.bodies().iter().filter_map(|b| {
        let event: serde_json::Value = serde_json::from_str(b).ok()?;
        let object = &event["detail"]["object"];
        Some((object["key"].as_str()?.to_string(), object["sequencer"].as_str()?.to_string()))
    }));
    let redriven = sfn.restore(executions);
    let mut announced = 0;
    for o in store.announced_objects() {
        if o.meta.sequencer.is_empty() || taken.contains(&(o.key.clone(), o.meta.sequencer.clone())) {
            continue;
        }
        announced += 1;
        let _ = announce.send(s3::ObjectCreated {
            bucket: o.bucket,
            key: o.key,
            size: o.meta.size,
            etag: o.meta.etag.clone(),
            version_id: o.meta.version_id.clone(),
            sequencer: o.meta.sequencer.clone(),
            reason: "PutObject",
            request_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            requester: ACCESS_KEY_ID.into(),
            source_ip: "127.0.0.1".into(),
            time: o.meta.last_modified,
            in_flight: None,
        });
    }
    info!(redriven, announced, "restored from the data directory");
    Ok(())
}

async fn bind(host: &str, port: u16) -> Result<TcpListener, StartError> {
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr).await.map_err(|source| StartError::Bind { addr, source })
}

fn server_id() -> String {
    format!("s-{}", &uuid::Uuid::new_v4().simple().to_string()[..17])
}

impl Simulator {
    /// Starts every service and waits until all listen.
    pub async fn start(config: SimConfig) -> Result<Self, StartError> {
        let stop = CancellationToken::new();
        let gateway_listener = bind(&config.host, config.gateway_port).await?;
        let gateway_addr = gateway_listener.local_addr().map_err(|e| StartError::Setup(e.to_string()))?;
        let gateway_url = format!("http://{gateway_addr}");
        let dynamo_listener = bind(&config.host, config.dynamodb_port).await?;
        let dynamo_addr = dynamo_listener.local_addr().map_err(|e| StartError::Setup(e.to_string()))?;
        let sftp_listener = bind(&config.host, config.sftp_port).await?;
        let sftp_addr = sftp_listener.local_addr().map_err(|e| StartError::Setup(e.to_string()))?;

        let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}", config.function_name);
        let values: BTreeMap<&str, String> = BTreeMap::from([
            ("source_bucket", config.source_bucket.clone()),
            ("destination_bucket", config.destination_bucket.clone()),
            ("copy_function_arn", function_arn.clone()),
            ("metadata_table", config.table.clone()),
        ]);
        let infra = &config.infra_dir;
        let asl = definitions::load(infra, definitions::STATE_MACHINE, &values)?;
        let asl = config
            .state_machine_variant
            .apply(&asl)
            .map_err(|e| StartError::Setup(format!("{}: {e}", definitions::STATE_MACHINE)))?;
        let pattern_text = definitions::load(infra, definitions::EVENT_PATTERN, &values)?;
        let transformer_text = definitions::load(infra, definitions::INPUT_TRANSFORMER, &values)?;
        let settings_text = definitions::load(infra, definitions::FUNCTION_SETTINGS, &values)?;
        let pattern = events::EventPattern::parse(&pattern_text)
            .map_err(|source| StartError::Pattern { file: definitions::EVENT_PATTERN.into(), source })?;
        let transformer = events::InputTransformer::parse(&transformer_text)
            .map_err(|source| StartError::Transformer { file: definitions::INPUT_TRANSFORMER.into(), source })?;
        let mut settings: lambda::FunctionSettings = serde_json::from_str(&settings_text).map_err(|e| {
            StartError::Settings { file: definitions::FUNCTION_SETTINGS.into(), message: e.to_string() }
        })?;
        let buckets = definitions::buckets(infra, &values)?;
        let rule_target_text = definitions::load(infra, definitions::RULE_TARGET, &values)?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct RuleTarget {
            retry_policy: events::RetryPolicy,
        }
        let rule_target: RuleTarget = serde_json::from_str(&rule_target_text)
            .map_err(|e| StartError::Settings { file: definitions::RULE_TARGET.into(), message: e.to_string() })?;
        let logging_text = definitions::load(infra, definitions::STATE_MACHINE_LOGGING, &values)?;
        let logging: states::logging::LoggingConfig = serde_json::from_str(&logging_text).map_err(|e| {
            StartError::Settings { file: definitions::STATE_MACHINE_LOGGING.into(), message: e.to_string() }
        })?;

        let data_dir = match &config.data_dir {
            Some(d) => Some(persist::DataDir::new(d).map_err(|e| StartError::Setup(format!("{}: {e}", d.display())))?),
            None => None,
        };
        let kept = |what: &str, e: std::io::Error| StartError::Setup(format!("--data-dir {what}: {e}"));

        // DynamoDB.
        let db = match &data_dir {
            Some(d) => dynoxide::Database::new(&d.dynamodb().to_string_lossy()),
            None => dynoxide::Database::memory(),
        }
        .map_err(|e| StartError::Setup(format!("dynamodb: {e}")))?;
        let dstop = stop.clone();
        tokio::spawn(async move {
            let _ = dynoxide::server::serve_with_shutdown(dynamo_listener, db, async move { dstop.cancelled().await })
                .await;
        });
        dynamodb::create_metadata_table(dynamo_addr, &config.table).await.map_err(StartError::Setup)?;

        // Logs, Lambda, Step Functions.
        let logs = Arc::new(
            match &data_dir {
                Some(d) => logs::LogStore::load(&d.logs()).map_err(|e| kept("logs", e))?,
                None => logs::LogStore::default(),
            }
            .with_clock(config.clock.clone()),
        );
        let (data_endpoint, key_id, secret) = match &config.external {
            Some(x) => (x.endpoint.clone(), x.access_key_id.clone(), x.secret_access_key.clone()),
            None => (gateway_url.clone(), ACCESS_KEY_ID.to_string(), SECRET_ACCESS_KEY.to_string()),
        };
        let aws_env = BTreeMap::from([
            ("AWS_ENDPOINT_URL".to_string(), gateway_url.clone()),
            ("AWS_ENDPOINT_URL_S3".to_string(), data_endpoint.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), data_endpoint.clone()),
            ("AWS_REGION".to_string(), REGION.to_string()),
            ("AWS_DEFAULT_REGION".to_string(), REGION.to_string()),
            ("AWS_ACCESS_KEY_ID".to_string(), key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), secret.clone()),
        ]);
        // The Catch's DynamoDB integration goes where the table is.
        let table_addr = match &config.external {
            Some(x) => endpoint_addr(&x.endpoint).await.map_err(StartError::Setup)?,
            None => dynamo_addr,
        };
        let breaks = Arc::new(config.breaks.clone());
        let lambda = lambda::LambdaService::new(logs.clone(), aws_env)
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
        let invoker_lambda = lambda.clone();
        let drop_record_upload = breaks.has(breaks::Break::DropRecordUpload);
        let invoker: states::TaskInvoker = Arc::new(move |target, payload| {
            let l = invoker_lambda.clone();
            Box::pin(async move {
                match target {
                    states::TaskTarget::Lambda(function) => l.invoke(&function, payload).await,
                    states::TaskTarget::DynamoDb(action) if drop_record_upload && action == "PutItem" => {
                        Ok(serde_json::json!({}))
                    }
                    states::TaskTarget::DynamoDb(action) => dynamodb::call(table_addr, &action, payload).await,
                }
            })
        });
        let execution_logs = states::logging::ExecutionLogs::new(
            logs.clone(),
            states::logging::log_group_of(&config.state_machine_name),
            logging,
        );
        let mut sfn = states::StepFunctions::new(invoker, config.clock.clone()).with_breaks(&breaks);
        if !breaks.has(breaks::Break::DropExecutionLogs) {
            sfn = sfn.with_logging(execution_logs);
        }
        if let Some(path) = &config.sfn_mock_config {
            sfn = sfn.with_mock_config(states::MockConfig::load(path)?);
        }
        let role = format!("arn:aws:iam::{ACCOUNT_ID}:role/{}-sfn", config.state_machine_name);
        let machine_arn = sfn
            .create_state_machine(&config.state_machine_name, &asl, &role)
            .map_err(|source| StartError::StateMachine { file: definitions::STATE_MACHINE.into(), source })?;

        // EventBridge: the rule targets the state machine.
        let target_sfn = sfn.clone();
        // With a test case, the rule's target is `arn#TestCase` (Step Functions Local's way of
        // choosing mocks); the executions' ARNs stay plain.
        let target_arn = match &config.sfn_test_case {
            Some(case) => format!("{machine_arn}#{case}"),
            None => machine_arn.clone(),
        };
        let no_execution = breaks.has(breaks::Break::NoExecution);
        let target_faults = Arc::new(events::TargetFaults::new(config.target_faults.clone()));
        let target: events::Target = Arc::new(move |input: String| {
            let sfn = target_sfn.clone();
            let arn = target_arn.clone();
            let faults = target_faults.clone();
            Box::pin(async move {
                if no_execution {
                    return Ok(());
                }
                if let Some(refused) = faults.take(&input, &arn) {
                    return Err(refused);
                }
                sfn.start_execution(&arn, None, Some(input))
                    .map(|_| ())
                    .map_err(|e| events::TargetError::from_start_execution(&e))
            })
        });
        // The stack's dead-letter queue (infra/modules/workflow: "<name>-undelivered-events").
        let queues = Arc::new(sqs::Queues::new(&gateway_url));
        let dead_letter_queue = format!("{}-undelivered-events", config.state_machine_name);
        queues.create(&dead_letter_queue);
        let rule = events::Rule {
            name: format!("{}-object-created", config.state_machine_name),
            pattern,
            transformer: Some(transformer),
            target,
            target_arn: machine_arn.clone(),
            retry: rule_target.retry_policy,
            dead_letter: (!breaks.has(breaks::Break::DropDeadLetters))
                .then(|| events::DeadLetter { queues: queues.clone(), queue: dead_letter_queue.clone() }),
        };
        let bus = Arc::new(events::EventBus::new(vec![rule], config.delivery.clone()).with_clock(config.clock.clone()));
        let bus_handle = bus.clone();

        // S3, announcing creations to the bus.
        let (event_tx, mut event_rx) = tokio::sync::mpsc::unbounded_channel();
        let announce_tx = event_tx.clone();
        let store = Arc::new(
            match &data_dir {
                Some(d) => s3::S3Store::open(&d.s3(), event_tx),
                None => s3::S3Store::new(event_tx),
            }
            .map_err(|e| StartError::Setup(format!("s3 storage: {e}")))?
            .with_clock(config.clock.clone()),
        );
        let mut wanted = vec![(&config.source_bucket, buckets.source.settings())];
        if config.create_destination_bucket {
            wanted.push((&config.destination_bucket, buckets.destination.settings()));
        }
        for (name, settings) in wanted.into_iter().filter(|(name, _)| !store.has_bucket(name)) {
            store.create_bucket_with(name, settings).map_err(|e| StartError::Setup(e.to_string()))?;
        }
        let estop = stop.clone();
        tokio::spawn(
            async move {
                loop {
                    tokio::select! {
                        _ = estop.cancelled() => break,
                        ev = event_rx.recv() => match ev {
                            Some(ev) => bus.publish(events::object_created_event(&ev)),
                            None => break,
                        },
                    }
                }
            }
            .in_current_span(),
        );
        let faults = Arc::new(s3::Faults::new(config.s3_faults.clone()));
        let mut s3b = s3s::service::S3ServiceBuilder::new(
            s3::S3Frontend::new(store.clone(), faults.clone()).with_breaks(breaks.clone(), &config.destination_bucket),
        );
        s3b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        let routes = Arc::new(gateway::Routes {
            s3: s3b.build(),
            sfn: sfn.clone(),
            logs: logs.clone(),
            dynamodb: dynamo_addr,
            dynamodb_faults: Arc::new(dynamodb::Faults::new(config.dynamodb_faults.clone())),
            sqs: queues.clone(),
            wrong_status: breaks.has(breaks::Break::WrongStatus),
            clock: config.clock.clone(),
        });
        // Before anything listens: an upload now would be announced twice (by its commit and
        // as an object no execution took up).
        if let Some(d) = &data_dir {
            let forget = breaks.has(breaks::Break::ForgetRunningExecutions);
            restore(d, &sfn, &store, &announce_tx, &queues, forget).map_err(|e| kept("executions", e))?;
            let (d, store, logs, sfn, queues, stop) =
                (d.clone(), store.clone(), logs.clone(), sfn.clone(), queues.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    }
                    if let Err(e) = save(&d, &store, &logs, &sfn, &queues) {
                        tracing::warn!(error = %e, "saving to the data directory failed");
                    }
                }
            });
        }
        tokio::spawn(gateway::serve(gateway_listener, routes.clone(), stop.clone()));

        // SFTP, writing through an S3 client like Transfer Family does.
        // A data directory keeps the server's identity too: clients that pinned its host key
        // still connect, and its session logs stay in one group.
        let host_key = match (config.host_key.clone(), &data_dir) {
            (Some(k), _) => k,
            (None, Some(d)) => d.host_key().map_err(|e| kept("host key", e))?,
            (None, None) => ssh_key::PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519)
                .map_err(|e| StartError::Setup(e.to_string()))?,
        };
        let host_public_key = host_key.public_key().to_openssh().unwrap_or_default();
        let host_key_fingerprint = host_key.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string();
        let id = match &data_dir {
            Some(d) => d.server_id(server_id).map_err(|e| kept("server id", e))?,
            None => server_id(),
        };
        let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/partner-intake-sftp-access");
        let role_policy = definitions::load(infra, definitions::ACCESS_ROLE_POLICY, &values)?;
        let session_policy = definitions::load(infra, definitions::SESSION_POLICY, &values)?;
        let users = config
            .users
            .iter()
            .map(|u| {
                let bad = |message: String| StartError::User { user: u.name.clone(), message };
                let home = u.home.home(&u.name, &config.source_bucket).map_err(|e| bad(e.to_string()))?;
                let session = match u.session_policy.as_deref() {
                    None => Some(session_policy.as_str()),
                    Some("") => None,
                    Some(own) => Some(own),
                };
                let access = sftp::Access::new(&role_arn, Some(&role_policy), session, &home.policy_variables(&u.name))
                    .map_err(|e| bad(e.to_string()))?;
                Ok(sftp::SftpUser { name: u.name.clone(), keys: u.keys.clone(), home, access })
            })
            .collect::<Result<Vec<_>, StartError>>()?;
        let sftp_config = sftp::SftpConfig {
            server_id: id.clone(),
            users,
            host_key,
            role_arn,
            setstat_no_op: config.setstat_no_op,
            upload: config.upload,
            idle_timeout: config.idle_timeout,
            // An external S3 sends us no events: the SFTP server announces what it writes.
            announce: config.external.as_ref().map(|_| announce_tx.clone()),
            security_policy: config.security_policy.clone(),
            breaks: breaks.clone(),
            clock: config.clock.clone(),
        };
        // Transfer Family writes without client checksums, so its objects get S3's default
        // full-object CRC64NVME.
        let s3_client = match &config.external {
            Some(x) => s3_client_with(&x.endpoint, &x.access_key_id, &x.secret_access_key),
            None => s3_client(&gateway_url),
        };
        let s3_client = aws_sdk_s3::Client::from_conf(
            s3_client
                .config()
                .to_builder()
                .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                .build(),
        );
        let sftp = Arc::new(
            sftp::SftpServer::new(sftp_config, s3_client, logs.clone())
                .map_err(|e| StartError::Setup(e.to_string()))?,
        );
        let sstop = stop.clone();
        let serving = sftp.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = sstop.cancelled() => {},
                _ = serving.serve(sftp_listener) => {},
            }
        });

        let endpoints = Endpoints {
            sftp: sftp_addr,
            host_key_fingerprint,
            host_public_key,
            aws: gateway_url,
            data_endpoint,
            external: config.external.is_some(),
            dynamodb: format!("http://{dynamo_addr}"),
            sftp_log_group: sftp::SftpServer::log_group_of(&id),
            dead_letter_queue: queues.url(&dead_letter_queue),
            server_id: id,
            function_log_group: format!("/aws/lambda/{}", config.function_name),
            state_machine_log_group: states::logging::log_group_of(&config.state_machine_name),
            state_machine_arn: machine_arn,
            region: REGION.into(),
            source_bucket: config.source_bucket.clone(),
            destination_bucket: config.destination_bucket.clone(),
            table: config.table.clone(),
        };
        info!(gateway = %endpoints.aws, sftp = %endpoints.sftp, "simulator listening");
        Ok(Self {
            endpoints,
            s3_store: store,
            s3_faults: faults,
            lambda,
            routes,
            sftp,
            data_dir,
            bus: bus_handle,
            stop,
        })
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
            && let Err(e) = save(d, &self.s3_store, &self.routes.logs, &self.routes.sfn, &self.routes.sqs)
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
async fn endpoint_addr(endpoint: &str) -> Result<SocketAddr, String> {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    tokio::net::lookup_host(hostport)
        .await
        .map_err(|e| format!("cannot resolve {endpoint}: {e}"))?
        .next()
        .ok_or_else(|| format!("{endpoint} resolves to no address"))
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
