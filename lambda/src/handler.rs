//! One invocation: read the input, claim the record, copy, verify, record the outcome.
//!
//! Retryable failures (throttling, 5xx, timeouts) are returned as `TransientError` with the
//! record left `transferring`, so the state machine's Retry runs the function again; permanent
//! ones are recorded as `failed` and returned as `CopyFailed`, which no Retry matches.

use std::time::{Instant, SystemTime};

use lambda_runtime::Diagnostic;
use serde_json::Value;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::Config;
use crate::copy::{Copier, S3CallError, SourceObject, VerifyError};
use crate::event::{CopyOutput, Delivery, InputError};
use crate::metadata::{self, Begin, FileFacts, Finish, MetadataStore, Status, StoreError};

/// Why an invocation failed; [`HandlerError::error_type`] is what the state machine sees.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The input was neither a transfer request nor an Object Created event.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// The copy failed for good; the record says `failed` with this message.
    #[error("{0}")]
    CopyFailed(String),
    /// A failure worth retrying; the record stays `transferring`.
    #[error("{0}")]
    Transient(String),
    /// The metadata table refused a write for good.
    #[error(transparent)]
    Metadata(StoreError),
}

impl HandlerError {
    /// The `errorType` reported to Lambda (and matched by the state machine's Retry/Catch).
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::CopyFailed(_) => "CopyFailed",
            HandlerError::Transient(_) => "TransientError",
            HandlerError::Metadata(_) => "MetadataFailed",
        }
    }
}

impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        if e.retryable { HandlerError::Transient(e.to_string()) } else { HandlerError::Metadata(e) }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        Diagnostic { error_type: err.error_type().to_string(), error_message: err.to_string() }
    }
}

/// The function's state, shared across warm invocations.
pub struct Handler {
    copier: Copier,
    store: MetadataStore,
    config: Config,
}

fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

enum Failure {
    S3(S3CallError),
    Verify(VerifyError),
}

impl Handler {
    /// Builds clients from a loaded AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Self {
        // Path-style addressing works for AWS and for local endpoints alike.
        let s3_config = aws_sdk_s3::config::Builder::from(aws).force_path_style(true).build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);
        let dynamodb = aws_sdk_dynamodb::Client::new(aws);
        Self {
            copier: Copier::new(s3, config.clone()),
            store: MetadataStore::new(dynamodb, config.table.clone()),
            config,
        }
    }

    /// Handles one event: the state machine's transfer request or a raw Object Created event.
    pub async fn handle(&self, payload: Value, request_id: &str) -> Result<CopyOutput, HandlerError> {
        let delivery = Delivery::from_input(payload, self.config.destination_bucket.as_deref())?;
        let span = info_span!("invocation", request_id, key = %delivery.key);
        self.transfer(&delivery, request_id).instrument(span).await
    }

    async fn transfer(&self, d: &Delivery, request_id: &str) -> Result<CopyOutput, HandlerError> {
        let started = Instant::now();
        let file_id = metadata::file_id(&d.source_bucket, &d.raw_key, &d.version_id);
        let dst_key = self.config.destination_key(&d.key);
        let sequencer = d.sequencer.clone().unwrap_or_default();
        info!(stage = "received", file_id, sequencer, "transfer requested");
        let output = |status: &str, message: String, size: u64| CopyOutput {
            status: status.into(),
            message,
            file_id: file_id.clone(),
            key: d.key.clone(),
            size,
        };

        let source = self.copier.inspect(&d.source_bucket, &d.key, &d.version_id).await;
        let (size, uploaded_at) = match &source {
            Ok(s) => (Some(s.size), s.last_modified.clone().unwrap_or_else(now_rfc3339)),
            Err(_) => (None, now_rfc3339()),
        };
        let facts = FileFacts {
            file_id: &file_id,
            source_bucket: &d.source_bucket,
            destination_bucket: &d.destination_bucket,
            key: &d.key,
            destination_key: &dst_key,
            version_id: &d.version_id,
            sequencer: &sequencer,
            upload_timestamp: &uploaded_at,
            size,
            request_id,
        };

        if d.is_folder_marker() && size.unwrap_or(0) == 0 {
            let outcome = self.store.skip(&facts).await?;
            info!(stage = "skipped", file_id, outcome = ?outcome, "folder marker: nothing to copy");
            return Ok(output("Skipped", format!("{} is a folder marker; recorded as skipped", d.key), 0));
        }

        let attempt = match self.store.begin(&facts).await? {
            Begin::Proceed(n) => n,
            Begin::Duplicate(status) => {
                info!(stage = "recorded", file_id, outcome = "duplicate", status = status.as_str());
                return Ok(output("Duplicate", format!("{} already {}; nothing to do", d.key, status.as_str()), 0));
            }
            Begin::Stale => {
                info!(stage = "recorded", file_id, outcome = "stale");
                return Ok(output("Stale", format!("a newer upload of {} supersedes this event", d.key), 0));
            }
        };
        info!(stage = "recorded", file_id, attempt, status = "transferring");

        let result = match source {
            Ok(src) => self.copy_and_verify(d, &dst_key, &src).await,
            Err(e) => Err(Failure::S3(e)),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((method, checksum, bytes)) => {
                let fin = Finish {
                    status: Status::Transferred,
                    at: &now_rfc3339(),
                    duration_ms,
                    checksum: Some(&checksum),
                    method: Some(&method),
                    error: None,
                };
                let recorded = self.store.finish(&file_id, &sequencer, &fin).await?;
                info!(
                    stage = "finished",
                    file_id,
                    bytes,
                    duration_ms,
                    method,
                    checksum,
                    recorded,
                    outcome = "transferred"
                );
                Ok(output(
                    "Success",
                    format!("File {} copied to s3://{}/{dst_key}", d.key, d.destination_bucket),
                    bytes,
                ))
            }
            Err(Failure::S3(e)) if e.retryable => {
                warn!(stage = "finished", file_id, duration_ms, outcome = "retryable", error = %e);
                Err(HandlerError::Transient(e.to_string()))
            }
            Err(failure) => {
                let (kind, message) = match failure {
                    Failure::S3(e) => ("CopyFailed", e.to_string()),
                    Failure::Verify(e) => ("VerificationFailed", e.to_string()),
                };
                let fin = Finish {
                    status: Status::Failed,
                    at: &now_rfc3339(),
                    duration_ms,
                    checksum: None,
                    method: None,
                    error: Some((kind, &message)),
                };
                self.store.finish(&file_id, &sequencer, &fin).await?;
                error!(stage = "finished", file_id, duration_ms, outcome = "failed", error = %message);
                Err(HandlerError::CopyFailed(message))
            }
        }
    }

    async fn copy_and_verify(
        &self,
        d: &Delivery,
        dst_key: &str,
        src: &SourceObject,
    ) -> Result<(String, String, u64), Failure> {
        let t = Instant::now();
        let copied = self
            .copier
            .copy(&d.source_bucket, &d.key, &d.version_id, &d.destination_bucket, dst_key, src)
            .await
            .map_err(Failure::S3)?;
        info!(
            stage = "copied",
            bytes = copied.size,
            method = copied.method,
            duration_ms = t.elapsed().as_millis() as u64
        );
        let checksum = self
            .copier
            .verify(&d.destination_bucket, dst_key, src, &copied)
            .await
            .map_err(Failure::S3)?
            .map_err(Failure::Verify)?;
        info!(stage = "verified", checksum);
        Ok((copied.method, checksum, copied.size))
    }
}
