//! Targets: where a run's SFTP server and AWS APIs are, and what the stack's resources are
//! called. The embedded target comes from the simulator; the `aws` target from the Terraform
//! outputs document (`terraform output -json`, see infra/README.md).

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

/// Which kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The in-process simulator.
    Embedded,
    /// A deployed stack.
    Aws,
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
            function_log_group: o.log_groups.function.clone(),
        }
    }

    /// The running embedded simulator.
    pub fn from_sim(ep: &sim::Endpoints) -> Self {
        Self {
            kind: Kind::Embedded,
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
            function_log_group: ep.function_log_group.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(t.table, "FileTransferMetadata");
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
