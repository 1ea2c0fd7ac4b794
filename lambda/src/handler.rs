//! One invocation: record, copy, record the outcome.

use std::time::{Instant, SystemTime};

use lambda_runtime::Diagnostic;
use tracing::{Instrument, error, info, info_span};

use crate::config::Config;
use crate::copy::{Copier, S3CallError};
use crate::event::{CopyOutput, TransferRequest};
use crate::keys;
use crate::metadata::{self, FileFacts, MetadataStore, Status};

/// Why an invocation failed; the variant name is the `errorType` the state machine sees.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The input was not a transfer request.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The copy failed; the record says `failed` with this message.
    #[error("{0}")]
    CopyFailed(S3CallError),
    /// The metadata table could not be written.
    #[error("metadata table {table}: {message}")]
    MetadataFailed {
        /// Table name.
        table: String,
        /// The DynamoDB error.
        message: String,
    },
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::CopyFailed(_) => "CopyFailed",
            HandlerError::MetadataFailed { .. } => "MetadataFailed",
        };
        Diagnostic { error_type: error_type.to_string(), error_message: err.to_string() }
    }
}

/// The function's state, shared across warm invocations.
pub struct Handler {
    copier: Copier,
    store: MetadataStore,
    table: String,
}

fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

impl Handler {
    /// Builds clients from a loaded AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Self {
        // Path-style addressing works for AWS and for local endpoints alike.
        let s3_config = aws_sdk_s3::config::Builder::from(aws).force_path_style(true).build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);
        let dynamodb = aws_sdk_dynamodb::Client::new(aws);
        Self { copier: Copier::new(s3), store: MetadataStore::new(dynamodb, config.table.clone()), table: config.table }
    }

    fn metadata_error(&self, err: aws_sdk_dynamodb::Error) -> HandlerError {
        HandlerError::MetadataFailed { table: self.table.clone(), message: format!("{err}") }
    }

    /// Handles one event: the state machine's transfer request.
    pub async fn handle(&self, payload: serde_json::Value, request_id: &str) -> Result<CopyOutput, HandlerError> {
        let request: TransferRequest =
            serde_json::from_value(payload).map_err(|e| HandlerError::InvalidInput(e.to_string()))?;
        let key = keys::decode_event_key(&request.key);
        let span = info_span!("invocation", request_id, key = %key);
        self.transfer(&request, &key).instrument(span).await
    }

    async fn transfer(&self, request: &TransferRequest, key: &str) -> Result<CopyOutput, HandlerError> {
        let started = Instant::now();
        let file_id = metadata::file_id(&request.source_bucket, key);
        let source = self.copier.inspect(&request.source_bucket, key).await;
        let (size, upload_timestamp) = match &source {
            Ok(obj) => (Some(obj.size), obj.last_modified.clone().unwrap_or_else(now_rfc3339)),
            Err(_) => (None, now_rfc3339()),
        };
        let facts = FileFacts {
            file_id: &file_id,
            source_bucket: &request.source_bucket,
            destination_bucket: &request.destination_bucket,
            key,
            upload_timestamp: &upload_timestamp,
            size,
        };
        self.store.mark_uploaded(&facts).await.map_err(|e| self.metadata_error(e))?;
        info!(stage = "recorded", file_id, status = "uploaded");

        let result = match source {
            Ok(_) => self.copier.copy(&request.source_bucket, &request.destination_bucket, key).await,
            Err(e) => Err(e),
        };
        let finished = now_rfc3339();
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(()) => {
                self.store
                    .mark_finished(&file_id, Status::Transferred, &finished, None)
                    .await
                    .map_err(|e| self.metadata_error(e))?;
                let bytes = size.unwrap_or(0);
                info!(stage = "copied", file_id, bytes, duration_ms, outcome = "transferred");
                Ok(CopyOutput {
                    status: "Success".into(),
                    message: format!("File {key} copied successfully"),
                    file_id,
                    key: key.to_string(),
                    size: bytes,
                })
            }
            Err(err) => {
                let message = err.to_string();
                self.store
                    .mark_finished(&file_id, Status::Failed, &finished, Some(&message))
                    .await
                    .map_err(|e| self.metadata_error(e))?;
                error!(stage = "copied", file_id, duration_ms, outcome = "failed", error = %message);
                Err(HandlerError::CopyFailed(err))
            }
        }
    }
}
