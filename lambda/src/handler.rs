//! One invocation: read the input, find the announced upload, claim its record, copy, verify,
//! record the outcome.
//!
//! Retryable failures (throttling, 5xx, timeouts, the deadline) are returned as `TransientError`
//! or, for a multipart copy cut short by the deadline, `CopyIncomplete` (the next attempt resumes
//! it); the claim is released so the retry does not wait for it. Permanent failures are recorded
//! as `failed` and returned as `CopyFailed`, which no Retry matches.

use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::Diagnostic;
use serde_json::Value;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::Config;
use crate::copy::{Copier, CopyError, SourceObject, Upload};
use crate::deadline::{Deadline, epoch_now_ms};
use crate::event::{CopyOutput, Delivery, InputError};
use crate::metadata::{self, Claim, FileFacts, Finish, MetadataStore, Recorded, Status, StoreError};

/// Why an invocation failed; [`HandlerError::error_type`] is what the state machine sees.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The input was neither a transfer request nor an Object Created event.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// The copy failed for good; the record says `failed` with this message.
    #[error("{0}")]
    CopyFailed(String),
    /// A failure worth retrying; the record stays `transferring`, its claim released.
    #[error("{0}")]
    Transient(String),
    /// A multipart copy the deadline cut short; the next attempt resumes it.
    #[error("{0}")]
    Incomplete(String),
    /// The metadata table refused a write for good, or the record moved where it must not.
    #[error("{0}")]
    Metadata(String),
}

impl HandlerError {
    /// The `errorType` reported to Lambda (and matched by the state machine's Retry/Catch).
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::CopyFailed(_) => "CopyFailed",
            HandlerError::Transient(_) => "TransientError",
            HandlerError::Incomplete(_) => "CopyIncomplete",
            HandlerError::Metadata(_) => "MetadataFailed",
        }
    }
}

impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        if e.retryable { HandlerError::Transient(e.to_string()) } else { HandlerError::Metadata(e.to_string()) }
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

/// How long a duplicate delivery waits for the invocation holding the claim.
const WAIT_POLL: Duration = Duration::from_millis(200);

impl Handler {
    /// Builds clients from a loaded AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Self {
        // Path-style addressing works for AWS and for local endpoints alike.
        let s3_config = aws_sdk_s3::config::Builder::from(aws).force_path_style(true).build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);
        // Record writes are small: a stuck one is retried long before the deadline.
        let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(aws)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(15))
                    .build(),
            )
            .build();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb_config);
        Self {
            copier: Copier::new(s3, config.clone()),
            store: MetadataStore::new(dynamodb, config.table.clone()),
            config,
        }
    }

    /// Handles one event: the state machine's transfer request or a raw Object Created event,
    /// before `deadline`.
    pub async fn handle(
        &self,
        payload: Value,
        request_id: &str,
        deadline: Deadline,
    ) -> Result<CopyOutput, HandlerError> {
        let delivery = Delivery::from_input(payload, self.config.destination_bucket.as_deref())?;
        let span = info_span!("invocation", request_id, key = %delivery.key);
        // Boxed: the copy's future is deep, and deep futures overflow the layout computation.
        Box::pin(self.transfer(&delivery, request_id, &deadline)).instrument(span).await
    }

    async fn transfer(&self, d: &Delivery, request_id: &str, deadline: &Deadline) -> Result<CopyOutput, HandlerError> {
        let started = Instant::now();
        let file_id = metadata::file_id(&d.source_bucket, &d.raw_key, &d.version_id);
        let sequencer = d.sequencer.clone().unwrap_or_default();
        info!(
            stage = "received",
            file_id,
            sequencer,
            remaining_ms = deadline.remaining().as_millis() as u64,
            "transfer requested"
        );
        let output = |status: &str, message: String, size: u64| CopyOutput {
            status: status.into(),
            message,
            file_id: file_id.clone(),
            key: d.key.clone(),
            size,
        };
        let up = Upload {
            bucket: &d.source_bucket,
            raw_key: &d.raw_key,
            version_id: &d.version_id,
            etag: d.etag.as_deref(),
            sequencer: &sequencer,
            file_id: &file_id,
        };

        let marker = d.is_folder_marker() && d.size.unwrap_or(0) == 0;
        let source = if marker { None } else { Some(self.copier.inspect(&up, deadline).await) };
        let found: Option<&SourceObject> = source.as_ref().and_then(|s| s.as_ref().ok());
        let key = found.map_or(d.key.as_str(), |s| s.key.as_str());
        let dst_key = self.config.destination_key(key);
        let uploaded_at =
            d.event_time.clone().or_else(|| found.and_then(|s| s.last_modified.clone())).unwrap_or_else(now_rfc3339);
        let facts = FileFacts {
            file_id: &file_id,
            source_bucket: &d.source_bucket,
            destination_bucket: &d.destination_bucket,
            key,
            destination_key: &dst_key,
            version_id: &d.version_id,
            etag: d.etag.as_deref().or(found.map(|s| s.etag.as_str())),
            sequencer: &sequencer,
            upload_timestamp: &uploaded_at,
            size: found.map(|s| s.size).or(d.size),
            request_id,
        };

        if marker {
            let outcome = self.store.skip(&facts).await?;
            info!(stage = "skipped", file_id, outcome = ?outcome, "folder marker: nothing to copy");
            return Ok(match outcome {
                Claim::Stale => output("Stale", format!("a newer upload of {} supersedes this event", d.key), 0),
                Claim::Done(st) => output("Duplicate", format!("{} already {}; nothing to do", d.key, st.as_str()), 0),
                _ => output("Skipped", format!("{} is a folder marker; recorded as skipped", d.key), 0),
            });
        }

        let (attempt, resume) = match self.claim(&facts, deadline).await? {
            Claim::Proceed { attempt, multipart_upload_id } => (attempt, multipart_upload_id),
            Claim::Done(status) => {
                info!(stage = "recorded", file_id, outcome = "duplicate", status = status.as_str());
                return Ok(output("Duplicate", format!("{} already {}; nothing to do", d.key, status.as_str()), 0));
            }
            Claim::Stale => {
                info!(stage = "recorded", file_id, outcome = "stale");
                return Ok(output("Stale", format!("a newer upload of {} supersedes this event", d.key), 0));
            }
            Claim::Held(until) => {
                return Err(HandlerError::Transient(format!(
                    "another invocation is copying {} (its claim runs until {until} ms)",
                    d.key
                )));
            }
        };
        info!(stage = "recorded", file_id, attempt, status = "transferring", resume = resume.is_some());

        let finish = |status: Status, error: Option<(&'static str, String)>| {
            let store = &self.store;
            let (file_id, sequencer) = (file_id.clone(), sequencer.clone());
            let duration_ms = started.elapsed().as_millis() as u64;
            async move {
                let at = now_rfc3339();
                let fin = Finish {
                    status,
                    at: &at,
                    duration_ms,
                    checksum: None,
                    method: None,
                    destination_version_id: None,
                    error: error.as_ref().map(|(t, m)| (*t, m.as_str())),
                };
                store.finish(&file_id, &sequencer, &fin).await
            }
        };

        let src = match source {
            Some(Ok(src)) => src,
            Some(Err(e)) => return self.failed(e, &file_id, &sequencer, finish, &output).await,
            None => unreachable!("folder markers returned above"),
        };
        let remember = async |id: &str| {
            if let Err(e) = self.store.note_multipart(&file_id, &sequencer, Some(id)).await {
                warn!(error = %e, "could not note the multipart upload for a resume");
            }
        };
        let t = Instant::now();
        let copied = match self
            .copier
            .copy(&up, &src, &d.destination_bucket, &dst_key, resume.as_deref(), remember, deadline)
            .await
        {
            Ok(c) => c,
            Err(e) => return self.failed(e, &file_id, &sequencer, finish, &output).await,
        };
        info!(
            stage = "copied",
            bytes = copied.size,
            method = copied.method,
            duration_ms = t.elapsed().as_millis() as u64
        );
        let verified = match self.copier.verify(&d.destination_bucket, &dst_key, &src, &copied, deadline).await {
            Ok(v) => v,
            Err(e) => return self.failed(CopyError::S3(e), &file_id, &sequencer, finish, &output).await,
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match verified {
            Ok(checksum) => {
                info!(stage = "verified", checksum);
                let at = now_rfc3339();
                let fin = Finish {
                    status: Status::Transferred,
                    at: &at,
                    duration_ms,
                    checksum: Some(&checksum),
                    method: Some(&copied.method),
                    destination_version_id: copied.version_id.as_deref(),
                    error: None,
                };
                let recorded = self.store.finish(&file_id, &sequencer, &fin).await?;
                info!(stage = "finished", file_id, bytes = copied.size, duration_ms, method = copied.method, checksum, recorded = ?recorded, outcome = "transferred");
                match recorded {
                    Recorded::Written | Recorded::MovedOn { status: Some(Status::Transferred), newer: false } => {
                        Ok(output(
                            "Success",
                            format!("File {} copied to s3://{}/{dst_key}", d.key, d.destination_bucket),
                            copied.size,
                        ))
                    }
                    Recorded::MovedOn { newer: true, .. } => Ok(output(
                        "Superseded",
                        format!("a newer upload of {} took over its record while this one was copied", d.key),
                        copied.size,
                    )),
                    Recorded::MovedOn { status, .. } => Err(HandlerError::Metadata(format!(
                        "{} was copied, but its record is {} and refused the transferred status",
                        d.key,
                        status.map_or("missing", Status::as_str)
                    ))),
                }
            }
            Err(v) => {
                let removed = match self.copier.discard(&d.destination_bucket, &dst_key, &copied).await {
                    Ok(()) => "the copy was removed".to_string(),
                    Err(e) => format!("removing the copy failed: {e}"),
                };
                let message = format!("{v}; {removed}");
                finish(Status::Failed, Some(("VerificationFailed", message.clone()))).await?;
                error!(stage = "finished", file_id, duration_ms, outcome = "failed", error = %message);
                Err(HandlerError::CopyFailed(message))
            }
        }
    }

    /// Claims the record; a delivery that finds another invocation copying waits for it to
    /// finish (or its claim to expire) while its own time allows.
    async fn claim(&self, facts: &FileFacts<'_>, deadline: &Deadline) -> Result<Claim, HandlerError> {
        loop {
            let claim = self.store.claim(facts, epoch_now_ms(), deadline.epoch_ms()).await?;
            let Claim::Held(until) = claim else { return Ok(claim) };
            if deadline.usable() < WAIT_POLL * 2 {
                return Ok(Claim::Held(until));
            }
            info!(stage = "waiting", until, "another invocation holds the claim");
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// Records a failure the way its kind asks: superseded, failed for good, or released for a
    /// retry.
    async fn failed<F, Fut>(
        &self,
        e: CopyError,
        file_id: &str,
        sequencer: &str,
        finish: F,
        output: &impl Fn(&str, String, u64) -> CopyOutput,
    ) -> Result<CopyOutput, HandlerError>
    where
        F: FnOnce(Status, Option<(&'static str, String)>) -> Fut,
        Fut: std::future::Future<Output = Result<Recorded, StoreError>>,
    {
        let message = e.to_string();
        match e {
            CopyError::Superseded { .. } | CopyError::SourceReplaced { newer: true, .. } => {
                finish(Status::Superseded, Some(("Superseded", message.clone()))).await?;
                info!(stage = "finished", file_id, outcome = "superseded", reason = %message);
                Ok(output("Superseded", message, 0))
            }
            CopyError::Incomplete { .. } => {
                self.release(file_id, sequencer).await;
                warn!(stage = "finished", file_id, outcome = "incomplete", reason = %message);
                Err(HandlerError::Incomplete(message))
            }
            CopyError::S3(ref s) if s.retryable() => {
                self.release(file_id, sequencer).await;
                warn!(stage = "finished", file_id, outcome = "retryable", error = %message);
                Err(HandlerError::Transient(message))
            }
            CopyError::S3(_) | CopyError::SourceReplaced { newer: false, .. } => {
                finish(Status::Failed, Some(("CopyFailed", message.clone()))).await?;
                error!(stage = "finished", file_id, outcome = "failed", error = %message);
                Err(HandlerError::CopyFailed(message))
            }
        }
    }

    /// Lets a retry take the claim at once instead of waiting for it to expire.
    async fn release(&self, file_id: &str, sequencer: &str) {
        if let Err(e) = self.store.release(file_id, sequencer).await {
            warn!(error = %e, "could not release the claim; a retry waits for it to expire");
        }
    }
}
