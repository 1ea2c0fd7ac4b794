//! What to simulate: [`SimConfig`], every knob a caller (the harness, `harness sim`, a crate's
//! own tests) sets before [`crate::Simulator::start`], with defaults that match the Terraform
//! stack's names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use russh::keys::ssh_key;

use crate::{UserConfig, breaks, clock, dynamodb, events, lambda, s3, sftp, states};

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
