//! The pipeline's definition files under `infra/definitions/`, shared with Terraform: read at
//! start, with Terraform's `${name}` placeholders filled in as Terraform would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A definition file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionFileError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the JSON it should be.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A placeholder has no value.
    #[error("{path}: placeholder ${{{name}}} has no value (known: {known})")]
    Placeholder {
        /// The file.
        path: PathBuf,
        /// The placeholder.
        name: String,
        /// Names that have values.
        known: String,
    },
}

/// File names, relative to `infra/definitions/`.
pub const STATE_MACHINE: &str = "state-machine.asl.json";
/// The EventBridge rule's event pattern.
pub const EVENT_PATTERN: &str = "event-pattern.json";
/// The rule target's input transformer.
pub const INPUT_TRANSFORMER: &str = "input-transformer.json";
/// The Transfer Family session (scope-down) policy.
pub const SESSION_POLICY: &str = "session-policy.json";
/// The SFTP access role's policy.
pub const ACCESS_ROLE_POLICY: &str = "access-role-policy.json";
/// The buckets' versioning and EventBridge notifications.
pub const BUCKETS: &str = "buckets.json";
/// The copy function's settings.
pub const FUNCTION_SETTINGS: &str = "copy-function.json";
/// The rule target's retry policy (`aws_cloudwatch_event_target.retry_policy`).
pub const RULE_TARGET: &str = "rule-target.json";
/// The state machine's execution logging (`aws_sfn_state_machine.logging_configuration`).
pub const STATE_MACHINE_LOGGING: &str = "state-machine-logging.json";

/// Reads `infra/definitions/<name>` and fills `${placeholders}` from `values`. Placeholders
/// Terraform does not own (`${transfer:...}`, used by IAM) are left alone.
pub fn load(infra: &Path, name: &str, values: &BTreeMap<&str, String>) -> Result<String, DefinitionFileError> {
    let path = infra.join("definitions").join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|source| DefinitionFileError::Read { path: path.clone(), source })?;
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let placeholder = &after[..end];
        if placeholder.contains(':') {
            out.push_str(&rest[start..start + 2 + end + 1]);
        } else {
            let value = values.get(placeholder).ok_or_else(|| DefinitionFileError::Placeholder {
                path: path.clone(),
                name: placeholder.to_string(),
                known: values.keys().copied().collect::<Vec<_>>().join(", "),
            })?;
            out.push_str(value);
        }
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `infra/definitions/buckets.json`: how the stack configures each bucket.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketsFile {
    /// The source bucket.
    pub source: BucketFileEntry,
    /// The destination bucket.
    pub destination: BucketFileEntry,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketFileEntry {
    /// `Enabled` or `Suspended`, as `aws_s3_bucket_versioning` takes it.
    pub versioning: crate::s3::Versioning,
    /// Whether the bucket sends its events to EventBridge.
    pub eventbridge: bool,
}

impl BucketFileEntry {
    /// The store's settings for the bucket.
    pub fn settings(&self) -> crate::s3::BucketSettings {
        crate::s3::BucketSettings { versioning: self.versioning, eventbridge: self.eventbridge }
    }
}

/// Reads `buckets.json`.
pub fn buckets(infra: &Path, values: &BTreeMap<&str, String>) -> Result<BucketsFile, DefinitionFileError> {
    let text = load(infra, BUCKETS, values)?;
    serde_json::from_str(&text).map_err(|e| DefinitionFileError::Invalid {
        path: infra.join("definitions").join(BUCKETS),
        message: e.to_string(),
    })
}

/// The rule target's settings in `rule-target.json` (Terraform's `aws_cloudwatch_event_target`).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleTarget {
    retry_policy: crate::events::RetryPolicy,
}

/// The workflow's files: the state machine and how its executions are logged.
pub struct Workflow {
    /// The state machine (Amazon States Language), with the run's variant applied.
    pub state_machine: String,
    /// The state machine's execution logging.
    pub logging: crate::states::logging::LoggingConfig,
}

/// The EventBridge rule's files: which events, what input, how deliveries are retried.
pub struct RuleDefinition {
    /// The rule's event pattern.
    pub pattern: crate::events::EventPattern,
    /// The rule target's input transformer.
    pub transformer: crate::events::InputTransformer,
    /// The rule target's retry policy.
    pub retry_policy: crate::events::RetryPolicy,
}

/// The SFTP users' policies.
pub struct Policies {
    /// The SFTP access role's policy.
    pub role: String,
    /// The session (scope-down) policy every user gets unless it has its own.
    pub session: String,
}

/// Every definition file, read and parsed once, with this run's names filled in: what the
/// simulator builds its services from.
pub struct Definitions {
    /// The state machine and its logging.
    pub workflow: Workflow,
    /// The EventBridge rule.
    pub rule: RuleDefinition,
    /// The copy function's settings.
    pub function: crate::lambda::FunctionSettings,
    /// The buckets' versioning and notifications.
    pub buckets: BucketsFile,
    /// The SFTP users' policies.
    pub policies: Policies,
}

impl Definitions {
    /// Reads every file of `infra/definitions/`, filling `values` into Terraform's placeholders.
    pub fn load(
        infra: &Path,
        values: &BTreeMap<&str, String>,
        variant: &crate::states::variant::Variant,
    ) -> Result<Self, crate::StartError> {
        use crate::StartError;
        let settings =
            |file: &str, e: serde_json::Error| StartError::Settings { file: file.into(), message: e.to_string() };
        let asl = load(infra, STATE_MACHINE, values)?;
        let state_machine =
            variant.apply(&asl).map_err(|source| StartError::Variant { file: STATE_MACHINE.into(), source })?;
        let logging = serde_json::from_str(&load(infra, STATE_MACHINE_LOGGING, values)?)
            .map_err(|e| settings(STATE_MACHINE_LOGGING, e))?;
        let pattern = crate::events::EventPattern::parse(&load(infra, EVENT_PATTERN, values)?)
            .map_err(|source| StartError::Pattern { file: EVENT_PATTERN.into(), source })?;
        let transformer = crate::events::InputTransformer::parse(&load(infra, INPUT_TRANSFORMER, values)?)
            .map_err(|source| StartError::Transformer { file: INPUT_TRANSFORMER.into(), source })?;
        let target: RuleTarget =
            serde_json::from_str(&load(infra, RULE_TARGET, values)?).map_err(|e| settings(RULE_TARGET, e))?;
        let function = serde_json::from_str(&load(infra, FUNCTION_SETTINGS, values)?)
            .map_err(|e| settings(FUNCTION_SETTINGS, e))?;
        Ok(Self {
            workflow: Workflow { state_machine, logging },
            rule: RuleDefinition { pattern, transformer, retry_policy: target.retry_policy },
            function,
            buckets: buckets(infra, values)?,
            policies: Policies {
                role: load(infra, ACCESS_ROLE_POLICY, values)?,
                session: load(infra, SESSION_POLICY, values)?,
            },
        })
    }
}
