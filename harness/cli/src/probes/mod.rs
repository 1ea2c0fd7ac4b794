//! Probes ask the pipeline what its state is, through the official AWS SDK clients, and return
//! typed facts; they never judge. One module per service; the scenario checks and the load
//! runner both stand on them.

pub mod dynamodb;
pub mod logs;
pub mod s3;
pub mod sqs;
pub mod stepfunctions;

use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A call a probe made failed: the service, the operation, what it was about and the AWS error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} {operation} {resource}: {code}: {message}")]
pub struct ProbeError {
    /// `s3`, `dynamodb`, `stepfunctions`, `logs`.
    pub service: &'static str,
    /// The API operation (`HeadObject`, `Scan`, ...).
    pub operation: &'static str,
    /// What it was about (`s3://bucket/key`, a table, an ARN).
    pub resource: String,
    /// The AWS error code, or `TransportError` when no response came.
    pub code: String,
    /// The service's message, or the transport failure.
    pub message: String,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
}

impl ProbeError {
    /// Builds the error from an SDK failure.
    pub fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        resource: impl Into<String>,
        err: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match err.as_service_error() {
            Some(e) => (
                e.code().unwrap_or("Unknown").to_string(),
                e.message().map(str::to_string).unwrap_or_else(|| DisplayErrorContext(err).to_string()),
            ),
            None => ("TransportError".to_string(), DisplayErrorContext(err).to_string()),
        };
        Self { service, operation, resource: resource.into(), code, message, status }
    }

    /// A failure before or after the call itself (a request that could not be built, an answer
    /// that could not be read).
    pub fn local(
        service: &'static str,
        operation: &'static str,
        resource: impl Into<String>,
        err: impl std::fmt::Display,
    ) -> Self {
        Self {
            service,
            operation,
            resource: resource.into(),
            code: "ClientError".into(),
            message: err.to_string(),
            status: None,
        }
    }

    /// Whether the service said the thing asked about does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

/// Polls `probe` until it yields `Some`, fails, or the deadline passes (`Ok(None)`).
pub async fn wait_for<T, F, Fut>(deadline: Instant, mut probe: F) -> Result<Option<T>, ProbeError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ProbeError>>,
{
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = probe().await? {
            return Ok(Some(v));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Polls an infallible `probe` until it yields `Some` or the deadline passes.
pub async fn wait_until<T, F, Fut>(deadline: Instant, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_for(deadline, || {
        let f = probe();
        async move { Ok(f.await) }
    })
    .await
    .ok()
    .flatten()
}
