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
