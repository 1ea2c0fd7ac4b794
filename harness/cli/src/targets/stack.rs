//! The `aws` target's source: the Terraform outputs document (`terraform output -json` of
//! infra/, see infra/README.md), versioned and checked.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The outputs document version this harness understands.
pub const STACK_SCHEMA_VERSION: u32 = 1;

/// Why a target could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The file could not be read.
    #[error("cannot read the stack outputs {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the document `terraform output -json` prints for this stack.
    #[error(
        "{path}: {message} (expected `terraform output -json` of infra/, with a `harness` output; see infra/README.md)"
    )]
    Invalid {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `harness.value` of the outputs document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StackOutputs {
    /// Document version.
    pub schema_version: u32,
    /// AWS region.
    pub region: String,
    /// The SFTP endpoint.
    pub sftp: SftpOutputs,
    /// Bucket names.
    pub buckets: Buckets,
    /// Metadata table.
    pub table: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Copy function name.
    pub function_name: String,
    /// EventBridge rule.
    pub event_rule: String,
    /// Log groups.
    pub log_groups: LogGroups,
    /// URL of the rule's dead-letter queue (absent from documents of older stacks).
    #[serde(default)]
    pub dead_letter_queue: Option<String>,
}

/// `sftp` of the outputs document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SftpOutputs {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transfer Family server id.
    pub server_id: String,
    /// Host key fingerprint to pin (SHA256:...).
    pub host_key_fingerprint: String,
    /// Public addresses when internet facing.
    #[serde(default)]
    pub elastic_ips: Vec<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<String>,
}

/// `buckets` of the outputs document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Buckets {
    /// Source.
    pub source: String,
    /// Destination.
    pub destination: String,
}

/// `log_groups` of the outputs document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LogGroups {
    /// Transfer Family session logs.
    pub sftp: String,
    /// The copy function.
    pub function: String,
    /// The state machine.
    pub state_machine: String,
}

impl StackOutputs {
    /// Reads `terraform output -json` (the whole document, or just `harness.value`).
    pub fn load(path: &Path) -> Result<Self, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses the document; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, TargetError> {
        let invalid = |message: String| TargetError::Invalid { path: path.into(), message };
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let value = doc.get("harness").and_then(|h| h.get("value")).unwrap_or(&doc);
        let outputs: StackOutputs = serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
        if outputs.schema_version != STACK_SCHEMA_VERSION {
            return Err(invalid(format!(
                "schema_version {} is not {STACK_SCHEMA_VERSION}; update the harness or the stack",
                outputs.schema_version
            )));
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Kind, Target};
    use super::*;

    #[test]
    fn builds_the_aws_target_from_a_captured_outputs_document() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/examples/outputs.example.json");
        let outputs = StackOutputs::load(&path).unwrap();
        let t = Target::from_stack(&outputs);
        assert_eq!(t.kind, Kind::Aws);
        assert_eq!(
            (t.sftp_host.as_str(), t.sftp_port),
            ("s-0123456789abcdef0.server.transfer.eu-west-1.amazonaws.com", 22)
        );
        assert_eq!(t.host_key_fingerprint.as_deref(), Some("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
        assert_eq!(t.region, "eu-west-1");
        assert_eq!(t.endpoint_url, None);
        assert_eq!(t.source_bucket, "partner-intake-source-123456789012");
        assert_eq!(t.table, "partner-intake-file-transfer-metadata");
        assert_eq!(t.sftp_log_group, "/aws/transfer/partner-intake");
        assert!(t.state_machine_arn.ends_with(":stateMachine:partner-intake-transfer"));
    }

    #[test]
    fn bad_documents_say_what_and_where() {
        let p = Path::new("outputs.json");
        let e = StackOutputs::parse("{\"harness\": {\"value\": {\"schema_version\": 2}}}", p).unwrap_err().to_string();
        assert!(e.contains("outputs.json") && e.contains("missing field"), "{e}");
        let v2 = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/examples/outputs.example.json"),
        )
        .unwrap()
        .replace("\"schema_version\": 1", "\"schema_version\": 2");
        let e = StackOutputs::parse(&v2, p).unwrap_err().to_string();
        assert!(e.contains("schema_version 2"), "{e}");
    }
}
