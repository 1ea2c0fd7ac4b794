//! The S3 side: look at the source, copy it (one CopyObject, or UploadPartCopy part by part),
//! and verify the destination.

use std::collections::HashMap;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use futures::stream::{self, StreamExt, TryStreamExt};
use tracing::info;

use crate::config::{Config, Encryption};
use crate::keys;
use crate::plan;

/// What the source object looks like.
#[derive(Debug, Clone, Default)]
pub struct SourceObject {
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// When S3 created it (RFC 3339).
    pub last_modified: Option<String>,
    /// Content-Type.
    pub content_type: Option<String>,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// Full-object checksum (`SHA256:...`, `CRC32:...`), when S3 keeps one.
    pub checksum: Option<String>,
}

/// A failed S3 call, with the service's error code when it gave one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} failed: {code}: {message}")]
pub struct S3CallError {
    /// What we were doing, with the S3 URIs involved.
    pub action: String,
    /// The S3 error code (`NoSuchBucket`, `AccessDenied`, ...), or the transport failure kind.
    pub code: String,
    /// The service's message.
    pub message: String,
    /// Throttling, 5xx, timeouts and transport failures are worth retrying.
    pub retryable: bool,
}

impl S3CallError {
    fn from_sdk<E: ProvideErrorMetadata + std::error::Error>(
        action: String,
        err: aws_sdk_s3::error::SdkError<E>,
    ) -> Self {
        let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
        match err.as_service_error() {
            Some(service) => {
                let code = service.code().map(str::to_string).unwrap_or_else(|| match status {
                    404 => "NotFound".into(),
                    403 => "AccessDenied".into(),
                    s => format!("HTTP{s}"),
                });
                let retryable = status >= 500
                    || status == 429
                    || matches!(
                        code.as_str(),
                        "SlowDown" | "Throttling" | "RequestTimeout" | "InternalError" | "ServiceUnavailable"
                    );
                Self { action, message: service.message().unwrap_or("no message").to_string(), code, retryable }
            }
            None => Self { action, code: "TransportError".into(), message: format!("{err}"), retryable: true },
        }
    }
}

/// A copy's outcome.
#[derive(Debug, Clone)]
pub struct Copied {
    /// `CopyObject` or `UploadPartCopy xN`.
    pub method: String,
    /// Bytes copied.
    pub size: u64,
}

/// Why a copy is not what the source was.
#[derive(Debug, Clone, thiserror::Error)]
#[error("verification of s3://{bucket}/{key} failed: {reason}")]
pub struct VerifyError {
    /// Destination bucket.
    pub bucket: String,
    /// Destination key.
    pub key: String,
    /// What differed.
    pub reason: String,
}

/// Copies objects between buckets.
#[derive(Clone)]
pub struct Copier {
    client: aws_sdk_s3::Client,
    config: Config,
}

fn sse(enc: &Encryption) -> (Option<ServerSideEncryption>, Option<String>) {
    match enc {
        Encryption::BucketDefault => (None, None),
        Encryption::S3 => (Some(ServerSideEncryption::Aes256), None),
        Encryption::Kms(k) => (Some(ServerSideEncryption::AwsKms), Some(k.clone())),
    }
}

fn checksum_of(
    sha256: Option<&str>,
    crc32: Option<&str>,
    crc32c: Option<&str>,
    crc64: Option<&str>,
    sha1: Option<&str>,
) -> Option<String> {
    [("SHA256", sha256), ("CRC64NVME", crc64), ("CRC32C", crc32c), ("CRC32", crc32), ("SHA1", sha1)]
        .into_iter()
        .find_map(|(alg, v)| v.filter(|v| !v.contains('-')).map(|v| format!("{alg}:{v}")))
}

impl Copier {
    /// A copier using `client` and the function's settings.
    pub fn new(client: aws_sdk_s3::Client, config: Config) -> Self {
        Self { client, config }
    }

    /// Reads the source object's size, ETag, content type, metadata and checksum.
    pub async fn inspect(&self, bucket: &str, key: &str, version_id: &str) -> Result<SourceObject, S3CallError> {
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id((!version_id.is_empty()).then(|| version_id.to_string()))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(format!("HeadObject s3://{bucket}/{key}"), e))?;
        Ok(SourceObject {
            size: head.content_length().unwrap_or(0).max(0) as u64,
            etag: head.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            last_modified: head.last_modified().and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            content_type: head.content_type().map(str::to_string),
            metadata: head.metadata().cloned().unwrap_or_default(),
            checksum: checksum_of(
                head.checksum_sha256(),
                head.checksum_crc32(),
                head.checksum_crc32_c(),
                head.checksum_crc64_nvme(),
                head.checksum_sha1(),
            ),
        })
    }

    /// Copies the object: one CopyObject up to the threshold, UploadPartCopy above it.
    pub async fn copy(
        &self,
        src_bucket: &str,
        key: &str,
        version_id: &str,
        dst_bucket: &str,
        dst_key: &str,
        source: &SourceObject,
    ) -> Result<Copied, S3CallError> {
        if source.size > self.config.multipart_threshold {
            self.copy_multipart(src_bucket, key, version_id, dst_bucket, dst_key, source).await
        } else {
            self.copy_single(src_bucket, key, version_id, dst_bucket, dst_key, source).await
        }
    }

    async fn copy_single(
        &self,
        src_bucket: &str,
        key: &str,
        version_id: &str,
        dst_bucket: &str,
        dst_key: &str,
        source: &SourceObject,
    ) -> Result<Copied, S3CallError> {
        let (sse, kms) = sse(&self.config.encryption);
        // Metadata, content type and tags carry over: CopyObject's COPY directives are the default.
        self.client
            .copy_object()
            .copy_source(keys::copy_source(src_bucket, key, version_id))
            .bucket(dst_bucket)
            .key(dst_key)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| {
                S3CallError::from_sdk(format!("CopyObject s3://{src_bucket}/{key} -> s3://{dst_bucket}/{dst_key}"), e)
            })?;
        Ok(Copied { method: "CopyObject".into(), size: source.size })
    }

    async fn tagging(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<String>, S3CallError> {
        let out = self
            .client
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .set_version_id((!version_id.is_empty()).then(|| version_id.to_string()))
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(format!("GetObjectTagging s3://{bucket}/{key}"), e))?;
        let pairs: Vec<String> = out
            .tag_set()
            .iter()
            .map(|t| {
                let enc =
                    |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
                format!("{}={}", enc(t.key()), enc(t.value()))
            })
            .collect();
        Ok((!pairs.is_empty()).then(|| pairs.join("&")))
    }

    async fn copy_multipart(
        &self,
        src_bucket: &str,
        key: &str,
        version_id: &str,
        dst_bucket: &str,
        dst_key: &str,
        source: &SourceObject,
    ) -> Result<Copied, S3CallError> {
        let parts = plan::plan(source.size, self.config.part_size).map_err(|e| S3CallError {
            action: format!("planning the copy of s3://{src_bucket}/{key}"),
            code: "EntityTooLarge".into(),
            message: e.to_string(),
            retryable: false,
        })?;
        let tagging = self.tagging(src_bucket, key, version_id).await?;
        let (sse, kms) = sse(&self.config.encryption);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(dst_bucket)
            .key(dst_key)
            .set_content_type(source.content_type.clone())
            .set_metadata((!source.metadata.is_empty()).then(|| source.metadata.clone()))
            .set_tagging(tagging)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(format!("CreateMultipartUpload s3://{dst_bucket}/{dst_key}"), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let copy_source = keys::copy_source(src_bucket, key, version_id);
        info!(stage = "multipart", parts = parts.len(), upload_id, "copying in parts");

        let result: Result<Vec<CompletedPart>, S3CallError> = stream::iter(parts.iter().copied())
            .map(|part| {
                let client = self.client.clone();
                let (copy_source, upload_id) = (copy_source.clone(), upload_id.clone());
                async move {
                    let out = client
                        .upload_part_copy()
                        .bucket(dst_bucket)
                        .key(dst_key)
                        .upload_id(upload_id)
                        .part_number(part.number)
                        .copy_source(copy_source)
                        .copy_source_range(part.range())
                        .send()
                        .await
                        .map_err(|e| {
                            S3CallError::from_sdk(
                                format!("UploadPartCopy part {} of s3://{dst_bucket}/{dst_key}", part.number),
                                e,
                            )
                        })?;
                    let etag = out.copy_part_result().and_then(|r| r.e_tag()).map(str::to_string);
                    Ok(CompletedPart::builder().part_number(part.number).set_e_tag(etag).build())
                }
            })
            .buffer_unordered(self.config.concurrency)
            .try_collect()
            .await;
        let completed = match result {
            Ok(mut done) => {
                done.sort_by_key(|p| p.part_number());
                self.client
                    .complete_multipart_upload()
                    .bucket(dst_bucket)
                    .key(dst_key)
                    .upload_id(&upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
                    .send()
                    .await
                    .map_err(|e| {
                        S3CallError::from_sdk(format!("CompleteMultipartUpload s3://{dst_bucket}/{dst_key}"), e)
                    })
                    .map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            // Leave no parts behind: they would be billed and never become an object.
            let _ =
                self.client.abort_multipart_upload().bucket(dst_bucket).key(dst_key).upload_id(&upload_id).send().await;
            return Err(e);
        }
        Ok(Copied { method: format!("UploadPartCopy x{}", parts.len()), size: source.size })
    }

    /// Checks the destination against the source: size always; the full-object checksum when
    /// both have one; otherwise the ETag of a single-part, non-KMS copy. Returns the evidence.
    pub async fn verify(
        &self,
        dst_bucket: &str,
        dst_key: &str,
        source: &SourceObject,
        copied: &Copied,
    ) -> Result<Result<String, VerifyError>, S3CallError> {
        let dest = self
            .client
            .head_object()
            .bucket(dst_bucket)
            .key(dst_key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(format!("HeadObject s3://{dst_bucket}/{dst_key}"), e))?;
        let mismatch = |reason: String| Ok(Err(VerifyError { bucket: dst_bucket.into(), key: dst_key.into(), reason }));
        let size = dest.content_length().unwrap_or(-1);
        if size != source.size as i64 {
            return mismatch(format!("size {size} bytes, source has {}", source.size));
        }
        let dest_checksum = checksum_of(
            dest.checksum_sha256(),
            dest.checksum_crc32(),
            dest.checksum_crc32_c(),
            dest.checksum_crc64_nvme(),
            dest.checksum_sha1(),
        );
        if let (Some(a), Some(b)) = (&source.checksum, &dest_checksum)
            && a.split(':').next() == b.split(':').next()
        {
            return if a == b { Ok(Ok(a.clone())) } else { mismatch(format!("checksum {b}, source has {a}")) };
        }
        let single_part_source = !source.etag.contains('-');
        if copied.method == "CopyObject" && single_part_source && !matches!(self.config.encryption, Encryption::Kms(_))
        {
            let etag = dest.e_tag().unwrap_or_default().trim_matches('"');
            return if etag == source.etag {
                Ok(Ok(format!("ETag:{etag}")))
            } else {
                mismatch(format!("ETag {etag}, source has {}", source.etag))
            };
        }
        Ok(Ok(format!("size:{size}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_full_object_checksums() {
        assert_eq!(checksum_of(None, Some("AAAA"), None, None, None).as_deref(), Some("CRC32:AAAA"));
        assert_eq!(checksum_of(Some("s"), Some("c"), None, None, None).as_deref(), Some("SHA256:s"));
        // Composite (per-part) checksums end in -N and say nothing about the whole object.
        assert_eq!(checksum_of(None, Some("AAAA-3"), None, None, None), None);
    }
}
