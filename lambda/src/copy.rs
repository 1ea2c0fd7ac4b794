//! The S3 side: look at the source, copy it to the destination.

use aws_sdk_s3::error::ProvideErrorMetadata;

use crate::keys;

/// What the source object looks like.
#[derive(Debug, Clone)]
pub struct SourceObject {
    /// Size in bytes.
    pub size: i64,
    /// When S3 created it (RFC 3339).
    pub last_modified: Option<String>,
}

/// A failed S3 call, with the service's error code when it gave one.
#[derive(Debug, thiserror::Error)]
#[error("{action} failed: {code}: {message}")]
pub struct S3CallError {
    /// What we were doing, with the S3 URIs involved.
    pub action: String,
    /// The S3 error code (`NoSuchBucket`, `AccessDenied`, ...), or the transport failure kind.
    pub code: String,
    /// The service's message.
    pub message: String,
}

impl S3CallError {
    fn from_sdk<E: ProvideErrorMetadata + std::error::Error>(
        action: String,
        err: aws_sdk_s3::error::SdkError<E>,
    ) -> Self {
        let (code, message) = match err.as_service_error() {
            Some(service) => {
                (service.code().unwrap_or("Unknown").to_string(), service.message().unwrap_or("no message").to_string())
            }
            None => ("TransportError".to_string(), format!("{err:?}")),
        };
        Self { action, code, message }
    }
}

/// Copies objects between buckets.
#[derive(Clone)]
pub struct Copier {
    client: aws_sdk_s3::Client,
}

impl Copier {
    /// A copier using `client`.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// Reads the source object's size and creation time.
    pub async fn inspect(&self, bucket: &str, key: &str) -> Result<SourceObject, S3CallError> {
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(format!("HeadObject s3://{bucket}/{key}"), e))?;
        Ok(SourceObject {
            size: head.content_length().unwrap_or(0),
            last_modified: head.last_modified().and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        })
    }

    /// Copies `source_bucket/key` to `destination_bucket/key` with one CopyObject.
    pub async fn copy(&self, source_bucket: &str, destination_bucket: &str, key: &str) -> Result<(), S3CallError> {
        self.client
            .copy_object()
            .copy_source(keys::copy_source(source_bucket, key))
            .bucket(destination_bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                S3CallError::from_sdk(
                    format!("CopyObject s3://{source_bucket}/{key} -> s3://{destination_bucket}/{key}"),
                    e,
                )
            })?;
        Ok(())
    }
}
