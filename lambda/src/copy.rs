//! The S3 side: find the announced source, copy it (one CopyObject, or UploadPartCopy part by
//! part) so the destination holds exactly those bytes and headers, and verify it.
//!
//! Every read of the source is pinned to what the event announced: its version on versioned
//! buckets, `x-amz-copy-source-if-match` on its ETag always, so an overwrite during the copy can
//! never stitch two uploads together. Every write of the destination is conditional on what it
//! held when the copy decided to go ahead (`If-Match` its ETag, or `If-None-Match: *`), and the
//! destination carries the upload's provenance (`x-amz-meta-intake-*`): an older upload's copy
//! never replaces a newer one, whatever order the events arrive in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, MetadataDirective,
    ObjectAttributes, ServerSideEncryption, StorageClass,
};
use futures::stream::{FuturesUnordered, StreamExt};
use tracing::{info, warn};

use crate::config::{Config, Encryption};
use crate::deadline::Deadline;
use crate::event::sequencer_order;
use crate::{keys, plan};

/// User metadata the copy adds to the destination: which upload it holds.
pub mod provenance {
    /// The source object's sequencer (orders uploads of one key).
    pub const SEQUENCER: &str = "intake-source-sequencer";
    /// The source object's version id.
    pub const VERSION_ID: &str = "intake-source-version-id";
    /// The source object's ETag.
    pub const ETAG: &str = "intake-source-etag";
    /// The record id.
    pub const FILE_ID: &str = "intake-file-id";
    /// Every key the copy adds.
    pub const ALL: [&str; 4] = [SEQUENCER, VERSION_ID, ETAG, FILE_ID];
}

/// Content headers an object carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentHeaders {
    /// Content-Type.
    pub content_type: Option<String>,
    /// Content-Encoding.
    pub content_encoding: Option<String>,
    /// Content-Disposition.
    pub content_disposition: Option<String>,
    /// Content-Language.
    pub content_language: Option<String>,
    /// Cache-Control.
    pub cache_control: Option<String>,
    /// Expires, as S3 returned it (an HTTP date).
    pub expires: Option<String>,
}

/// An object's checksum as S3 reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: ChecksumType,
    /// The value (`...-N` for composite ones).
    pub value: String,
}

impl ObjectChecksum {
    /// `CRC64NVME:...`, as the record keeps it.
    pub fn evidence(&self) -> String {
        format!("{}:{}", self.algorithm.as_str(), self.value)
    }
}

/// What the source object looks like.
#[derive(Debug, Clone, Default)]
pub struct SourceObject {
    /// The key it was found under.
    pub key: String,
    /// Its version ("" when unversioned).
    pub version_id: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// When S3 created it (RFC 3339).
    pub last_modified: Option<String>,
    /// Content headers.
    pub headers: ContentHeaders,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// Storage class (`None`: STANDARD).
    pub storage_class: Option<StorageClass>,
    /// Its checksum.
    pub checksum: Option<ObjectChecksum>,
    /// Parts, when it was uploaded in parts.
    pub parts_count: Option<i32>,
}

/// What kind of failure an S3 call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Throttling, 5xx, timeouts, transport: retry.
    Retryable,
    /// 404: no such bucket, key or version.
    NotFound,
    /// 412 or 409: a condition of the request did not hold.
    Precondition,
    /// Anything else: permanent.
    Permanent,
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
    /// How to treat it.
    pub failure: Failure,
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
                    412 => "PreconditionFailed".into(),
                    s => format!("HTTP{s}"),
                });
                let failure = match (status, code.as_str()) {
                    (404, _) | (_, "NoSuchKey" | "NoSuchVersion" | "NotFound") => Failure::NotFound,
                    (412 | 409, _) | (_, "PreconditionFailed" | "ConditionalRequestConflict") => Failure::Precondition,
                    (s, _) if s >= 500 || s == 429 => Failure::Retryable,
                    (_, "SlowDown" | "Throttling" | "RequestTimeout" | "InternalError" | "ServiceUnavailable") => {
                        Failure::Retryable
                    }
                    _ => Failure::Permanent,
                };
                Self { action, message: service.message().unwrap_or("no message").to_string(), code, failure }
            }
            None => {
                Self { action, code: "TransportError".into(), message: format!("{err}"), failure: Failure::Retryable }
            }
        }
    }

    fn deadline(action: String, e: crate::deadline::DeadlineExceeded) -> Self {
        Self { action, code: "DeadlineExceeded".into(), message: e.to_string(), failure: Failure::Retryable }
    }

    /// Whether a retry may succeed.
    pub fn retryable(&self) -> bool {
        self.failure == Failure::Retryable
    }
}

/// Why a copy did not produce the announced object at the destination.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CopyError {
    /// An S3 call failed.
    #[error(transparent)]
    S3(#[from] S3CallError),
    /// The announced source is gone or was replaced: a newer upload (or a delete) came after.
    #[error("s3://{bucket}/{key} no longer holds the announced upload ({detail})")]
    SourceReplaced {
        /// Source bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What was found instead.
        detail: String,
        /// Whether another upload replaced it (else it is gone).
        newer: bool,
    },
    /// A newer upload of the key is at the destination already.
    #[error("a newer upload of {key} (sequencer {by}) is at the destination")]
    Superseded {
        /// Destination key.
        key: String,
        /// The newer upload's sequencer.
        by: String,
    },
    /// The deadline came before every part was copied; a retry resumes the upload.
    #[error("copied {done} of {total} parts of s3://{bucket}/{key} before the deadline; the next attempt resumes")]
    Incomplete {
        /// Destination bucket.
        bucket: String,
        /// Destination key.
        key: String,
        /// Parts copied.
        done: usize,
        /// Parts in all.
        total: usize,
    },
}

/// A copy's outcome.
#[derive(Debug, Clone)]
pub struct Copied {
    /// `CopyObject`, `UploadPartCopy xN`, or `already copied`.
    pub method: String,
    /// Bytes copied.
    pub size: u64,
    /// The destination version written (or found).
    pub version_id: Option<String>,
}

impl Copied {
    fn written(method: String, size: u64, version_id: Option<&str>) -> Self {
        Self { method, size, version_id: version_id.and_then(version) }
    }
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

/// Which upload the copy is for.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    /// Source bucket.
    pub bucket: &'a str,
    /// The key as delivered.
    pub raw_key: &'a str,
    /// Version id ("" when none).
    pub version_id: &'a str,
    /// The ETag the event announced.
    pub etag: Option<&'a str>,
    /// The sequencer, as delivered.
    pub sequencer: &'a str,
    /// Record id.
    pub file_id: &'a str,
}

/// What the destination holds now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DestState {
    /// Its ETag.
    pub etag: String,
    /// Its version.
    pub version_id: Option<String>,
    /// The upload it holds, when this function wrote it.
    pub sequencer: Option<String>,
    /// The record id it holds.
    pub file_id: Option<String>,
}

/// What to do about the destination.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Write it, on the condition that it still holds `if_match` (`None`: that it is absent).
    Copy {
        /// The ETag it must still have.
        if_match: Option<String>,
    },
    /// This upload is there already (an earlier attempt copied it).
    AlreadyThere,
    /// A newer upload is there.
    Superseded {
        /// Its sequencer.
        by: String,
    },
}

/// Decides from what the destination holds whether this upload may be written there.
pub fn judge(dest: Option<&DestState>, up: &Upload<'_>) -> Verdict {
    let Some(d) = dest else { return Verdict::Copy { if_match: None } };
    match &d.sequencer {
        Some(theirs) if d.file_id.as_deref() == Some(up.file_id) && theirs == up.sequencer => Verdict::AlreadyThere,
        Some(theirs) if !up.sequencer.is_empty() && sequencer_order(theirs) > sequencer_order(up.sequencer) => {
            Verdict::Superseded { by: theirs.clone() }
        }
        _ => Verdict::Copy { if_match: Some(d.etag.clone()) },
    }
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

fn checksum_of(kind: Option<&ChecksumType>, values: [(ChecksumAlgorithm, Option<&str>); 5]) -> Option<ObjectChecksum> {
    let (algorithm, value) = values.into_iter().find_map(|(a, v)| v.map(|v| (a, v.to_string())))?;
    let kind =
        kind.cloned().unwrap_or(if value.contains('-') { ChecksumType::Composite } else { ChecksumType::FullObject });
    Some(ObjectChecksum { algorithm, kind, value })
}

macro_rules! checksums {
    ($o:expr) => {
        [
            (ChecksumAlgorithm::Crc64Nvme, $o.checksum_crc64_nvme()),
            (ChecksumAlgorithm::Sha256, $o.checksum_sha256()),
            (ChecksumAlgorithm::Crc32C, $o.checksum_crc32_c()),
            (ChecksumAlgorithm::Crc32, $o.checksum_crc32()),
            (ChecksumAlgorithm::Sha1, $o.checksum_sha1()),
        ]
    };
}

/// A part as CompleteMultipartUpload lists it: its ETag and whichever checksum S3 gave it.
fn completed(number: i32, etag: Option<&str>, sums: [(ChecksumAlgorithm, Option<&str>); 5]) -> CompletedPart {
    let [crc64, sha256, crc32c, crc32, sha1] = sums.map(|(_, v)| v.map(str::to_string));
    CompletedPart::builder()
        .part_number(number)
        .set_e_tag(etag.map(str::to_string))
        .set_checksum_crc64_nvme(crc64)
        .set_checksum_sha256(sha256)
        .set_checksum_crc32_c(crc32c)
        .set_checksum_crc32(crc32)
        .set_checksum_sha1(sha1)
        .build()
}

fn version(v: &str) -> Option<String> {
    (!v.is_empty() && v != "null").then(|| v.to_string())
}

fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

/// The metadata the destination carries: the source's and the provenance.
fn destination_metadata(src: &SourceObject, up: &Upload<'_>) -> HashMap<String, String> {
    let mut m = src.metadata.clone();
    m.retain(|k, _| !provenance::ALL.contains(&k.as_str()));
    m.insert(provenance::SEQUENCER.into(), up.sequencer.into());
    m.insert(provenance::VERSION_ID.into(), src.version_id.clone());
    m.insert(provenance::ETAG.into(), src.etag.clone());
    m.insert(provenance::FILE_ID.into(), up.file_id.into());
    m
}

fn parse_http_date(s: &str) -> Option<aws_smithy_types::DateTime> {
    aws_smithy_types::DateTime::from_str(s, aws_smithy_types::date_time::Format::HttpDate).ok()
}

impl Copier {
    /// A copier using `client` and the function's settings.
    pub fn new(client: aws_sdk_s3::Client, config: Config) -> Self {
        Self { client, config }
    }

    async fn head_source(&self, up: &Upload<'_>, key: &str, deadline: &Deadline) -> Result<SourceObject, S3CallError> {
        let action = format!("HeadObject s3://{}/{key}", up.bucket);
        let call = self
            .client
            .head_object()
            .bucket(up.bucket)
            .key(key)
            .set_version_id(version(up.version_id))
            .set_if_match(up.etag.map(quoted))
            .checksum_mode(ChecksumMode::Enabled)
            .send();
        let head = deadline
            .within(&action, call)
            .await
            .map_err(|e| S3CallError::deadline(action.clone(), e))?
            .map_err(|e| S3CallError::from_sdk(action.clone(), e))?;
        Ok(SourceObject {
            key: key.to_string(),
            version_id: head.version_id().filter(|v| *v != "null").unwrap_or_default().to_string(),
            size: head.content_length().unwrap_or(0).max(0) as u64,
            etag: head.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            last_modified: head.last_modified().and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            headers: ContentHeaders {
                content_type: head.content_type().map(str::to_string),
                content_encoding: head.content_encoding().map(str::to_string),
                content_disposition: head.content_disposition().map(str::to_string),
                content_language: head.content_language().map(str::to_string),
                cache_control: head.cache_control().map(str::to_string),
                expires: head.expires_string().map(str::to_string),
            },
            metadata: head.metadata().cloned().unwrap_or_default(),
            storage_class: head.storage_class().cloned().filter(|c| *c != StorageClass::Standard),
            checksum: checksum_of(head.checksum_type(), checksums!(head)),
            parts_count: head.parts_count(),
        })
    }

    /// Finds the announced upload: the key as delivered (or, failing that, its form-decoded
    /// reading; see [`keys`]), at the announced version and ETag.
    pub async fn inspect(&self, up: &Upload<'_>, deadline: &Deadline) -> Result<SourceObject, CopyError> {
        let replaced = |detail: String, newer: bool| CopyError::SourceReplaced {
            bucket: up.bucket.into(),
            key: up.raw_key.into(),
            detail,
            newer,
        };
        match self.head_source(up, up.raw_key, deadline).await {
            Ok(s) => Ok(s),
            Err(e) if e.failure == Failure::NotFound => {
                if let Some(decoded) = keys::form_decoded(up.raw_key)
                    && let Ok(s) = self.head_source(up, &decoded, deadline).await
                {
                    warn!(
                        delivered = up.raw_key,
                        found = decoded,
                        "the event's key was URL-encoded; copying the decoded key"
                    );
                    return Ok(s);
                }
                Err(replaced(format!("{}: {}", e.code, e.message), false))
            }
            Err(e) if e.failure == Failure::Precondition => {
                Err(replaced(format!("its ETag is no longer {}", up.etag.unwrap_or_default()), true))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What the destination holds now (`None`: nothing).
    pub async fn destination(
        &self,
        bucket: &str,
        key: &str,
        deadline: &Deadline,
    ) -> Result<Option<DestState>, S3CallError> {
        let action = format!("HeadObject s3://{bucket}/{key}");
        let call = self.client.head_object().bucket(bucket).key(key).send();
        match deadline.within(&action, call).await.map_err(|e| S3CallError::deadline(action.clone(), e))? {
            Ok(h) => {
                let meta = h.metadata().cloned().unwrap_or_default();
                Ok(Some(DestState {
                    etag: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    version_id: h.version_id().map(str::to_string),
                    sequencer: meta.get(provenance::SEQUENCER).cloned(),
                    file_id: meta.get(provenance::FILE_ID).cloned(),
                }))
            }
            Err(e) => {
                let e = S3CallError::from_sdk(action, e);
                if e.failure == Failure::NotFound { Ok(None) } else { Err(e) }
            }
        }
    }

    /// The most bytes one CopyObject may move before the deadline: the configured threshold,
    /// lowered to what the assumed single-copy throughput moves in the usable time.
    pub fn single_copy_limit(&self, deadline: &Deadline) -> u64 {
        let fits = (self.config.single_copy_bytes_per_sec as f64 * deadline.usable().as_secs_f64() * 0.8) as u64;
        self.config.multipart_threshold.min(fits)
    }

    /// Copies the source to the destination unless a newer upload is there; resumes the
    /// multipart upload `resume` names.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy(
        &self,
        up: &Upload<'_>,
        src: &SourceObject,
        dst_bucket: &str,
        dst_key: &str,
        resume: Option<&str>,
        on_multipart: impl AsyncFn(&str),
        deadline: &Deadline,
    ) -> Result<Copied, CopyError> {
        let composite = src.checksum.as_ref().is_some_and(|c| c.kind == ChecksumType::Composite);
        let multipart = composite || resume.is_some() || src.size > self.single_copy_limit(deadline);
        let mut upload_id: Option<String> = resume.map(str::to_string);
        let mut parts: Option<Vec<CompletedPart>> = None;
        // Optimistic concurrency on the destination: decide, write on condition, decide again
        // when the condition failed.
        for _ in 0..5 {
            let dest = self.destination(dst_bucket, dst_key, deadline).await?;
            let if_match = match judge(dest.as_ref(), up) {
                Verdict::AlreadyThere => {
                    if let Some(id) = &upload_id {
                        self.abort(dst_bucket, dst_key, id).await;
                    }
                    let version_id = dest.and_then(|d| d.version_id);
                    return Ok(Copied { method: "already copied".into(), size: src.size, version_id });
                }
                Verdict::Superseded { by } => {
                    if let Some(id) = &upload_id {
                        self.abort(dst_bucket, dst_key, id).await;
                    }
                    return Err(CopyError::Superseded { key: dst_key.into(), by });
                }
                Verdict::Copy { if_match } => if_match,
            };
            let written = if multipart {
                let id = match &upload_id {
                    Some(id) => id.clone(),
                    None => {
                        let id = self.create_multipart(up, src, dst_bucket, dst_key, deadline).await?;
                        on_multipart(&id).await;
                        upload_id = Some(id.clone());
                        id
                    }
                };
                if parts.is_none() {
                    let resumed = resume == Some(id.as_str());
                    parts = Some(self.copy_parts(up, src, dst_bucket, dst_key, &id, resumed, deadline).await?);
                }
                let done = parts.clone().unwrap_or_default();
                self.complete(dst_bucket, dst_key, &id, done, if_match, deadline)
                    .await
                    .map(|c| Copied { size: src.size, ..c })
            } else {
                self.copy_single(up, src, dst_bucket, dst_key, if_match, deadline).await
            };
            match written {
                Ok(copied) => return Ok(copied),
                Err(e) if e.failure == Failure::Precondition => {
                    // The source pin or the destination condition failed: which one?
                    if let Err(gone) = self.inspect(up, deadline).await {
                        if let Some(id) = &upload_id {
                            self.abort(dst_bucket, dst_key, id).await;
                        }
                        return Err(gone);
                    }
                    info!(dst_key, "the destination changed while copying; deciding again");
                }
                Err(e) => {
                    if !e.retryable()
                        && let Some(id) = &upload_id
                    {
                        self.abort(dst_bucket, dst_key, id).await;
                    }
                    return Err(e.into());
                }
            }
        }
        Err(S3CallError {
            action: format!("copying to s3://{dst_bucket}/{dst_key}"),
            code: "ConditionalRequestConflict".into(),
            message: "the destination kept changing".into(),
            failure: Failure::Retryable,
        }
        .into())
    }

    async fn copy_single(
        &self,
        up: &Upload<'_>,
        src: &SourceObject,
        dst_bucket: &str,
        dst_key: &str,
        if_match: Option<String>,
        deadline: &Deadline,
    ) -> Result<Copied, S3CallError> {
        let (sse, kms) = sse(&self.config.encryption);
        let action = format!("CopyObject s3://{}/{} -> s3://{dst_bucket}/{dst_key}", up.bucket, src.key);
        let h = &src.headers;
        // REPLACE, to add the provenance: every header is then set from the source's; tags
        // keep their COPY default.
        let call = self
            .client
            .copy_object()
            .copy_source(keys::copy_source(up.bucket, &src.key, &src.version_id))
            .copy_source_if_match(quoted(&src.etag))
            .bucket(dst_bucket)
            .key(dst_key)
            .metadata_directive(MetadataDirective::Replace)
            .set_metadata(Some(destination_metadata(src, up)))
            .set_content_type(h.content_type.clone())
            .set_content_encoding(h.content_encoding.clone())
            .set_content_disposition(h.content_disposition.clone())
            .set_content_language(h.content_language.clone())
            .set_cache_control(h.cache_control.clone())
            .set_expires(h.expires.as_deref().and_then(parse_http_date))
            .set_storage_class(src.storage_class.clone())
            .set_checksum_algorithm(src.checksum.as_ref().map(|c| c.algorithm.clone()))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .set_if_match(if_match.as_deref().map(quoted))
            .set_if_none_match(if_match.is_none().then(|| "*".to_string()))
            .send();
        let out = deadline
            .within(&action, call)
            .await
            .map_err(|e| S3CallError::deadline(action.clone(), e))?
            .map_err(|e| S3CallError::from_sdk(action, e))?;
        Ok(Copied::written("CopyObject".into(), src.size, out.version_id()))
    }

    async fn tagging(&self, up: &Upload<'_>, src: &SourceObject) -> Result<Option<String>, S3CallError> {
        let out = self
            .client
            .get_object_tagging()
            .bucket(up.bucket)
            .key(&src.key)
            .set_version_id(version(&src.version_id))
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(format!("GetObjectTagging s3://{}/{}", up.bucket, src.key), e))?;
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        let pairs: Vec<String> = out.tag_set().iter().map(|t| format!("{}={}", enc(t.key()), enc(t.value()))).collect();
        Ok((!pairs.is_empty()).then(|| pairs.join("&")))
    }

    async fn create_multipart(
        &self,
        up: &Upload<'_>,
        src: &SourceObject,
        dst_bucket: &str,
        dst_key: &str,
        deadline: &Deadline,
    ) -> Result<String, S3CallError> {
        let tagging = self.tagging(up, src).await?;
        let (sse, kms) = sse(&self.config.encryption);
        let h = &src.headers;
        // The destination's checksum is comparable with the source's: the same algorithm and
        // type (a composite source is copied along its own part boundaries). SHA checksums
        // cannot be full-object in parts, so those copies are checked by CRC64NVME parts only.
        let (algorithm, kind) = match &src.checksum {
            Some(c) if c.kind == ChecksumType::Composite => (c.algorithm.clone(), ChecksumType::Composite),
            Some(c) if matches!(c.algorithm, ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256) => {
                (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject)
            }
            Some(c) => (c.algorithm.clone(), ChecksumType::FullObject),
            None => (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject),
        };
        let action = format!("CreateMultipartUpload s3://{dst_bucket}/{dst_key}");
        let call = self
            .client
            .create_multipart_upload()
            .bucket(dst_bucket)
            .key(dst_key)
            .set_metadata(Some(destination_metadata(src, up)))
            .set_content_type(h.content_type.clone())
            .set_content_encoding(h.content_encoding.clone())
            .set_content_disposition(h.content_disposition.clone())
            .set_content_language(h.content_language.clone())
            .set_cache_control(h.cache_control.clone())
            .set_expires(h.expires.as_deref().and_then(parse_http_date))
            .set_storage_class(src.storage_class.clone())
            .set_tagging(tagging)
            .checksum_algorithm(algorithm)
            .checksum_type(kind)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send();
        let created = deadline
            .within(&action, call)
            .await
            .map_err(|e| S3CallError::deadline(action.clone(), e))?
            .map_err(|e| S3CallError::from_sdk(action, e))?;
        Ok(created.upload_id().unwrap_or_default().to_string())
    }

    /// The parts to copy: the source's own boundaries when its checksum is composite, else
    /// planned from the configured part size.
    async fn part_plan(&self, up: &Upload<'_>, src: &SourceObject) -> Result<Vec<plan::Part>, S3CallError> {
        let composite = src.checksum.as_ref().is_some_and(|c| c.kind == ChecksumType::Composite);
        if !composite {
            return plan::plan(src.size, self.config.part_size).map_err(|e| S3CallError {
                action: format!("planning the copy of s3://{}/{}", up.bucket, src.key),
                code: "EntityTooLarge".into(),
                message: e.to_string(),
                failure: Failure::Permanent,
            });
        }
        let mut sizes = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .get_object_attributes()
                .bucket(up.bucket)
                .key(&src.key)
                .set_version_id(version(&src.version_id))
                .object_attributes(ObjectAttributes::ObjectParts)
                .max_parts(1000)
                .set_part_number_marker(marker.map(|m: i32| m.to_string()))
                .send()
                .await
                .map_err(|e| S3CallError::from_sdk(format!("GetObjectAttributes s3://{}/{}", up.bucket, src.key), e))?;
            let Some(parts) = out.object_parts() else { break };
            sizes.extend(parts.parts().iter().map(|p| p.size().unwrap_or(0).max(0) as u64));
            marker = parts.next_part_number_marker().and_then(|m| m.parse().ok());
            if !parts.is_truncated().unwrap_or(false) {
                break;
            }
        }
        if sizes.iter().sum::<u64>() != src.size || sizes.is_empty() {
            return Err(S3CallError {
                action: format!("GetObjectAttributes s3://{}/{}", up.bucket, src.key),
                code: "IncompleteParts".into(),
                message: format!("the listed parts add up to {} of {} bytes", sizes.iter().sum::<u64>(), src.size),
                failure: Failure::Retryable,
            });
        }
        let mut first = 0;
        Ok(sizes
            .into_iter()
            .enumerate()
            .map(|(i, size)| {
                let p = plan::Part { number: i as i32 + 1, first, last: (first + size).saturating_sub(1) };
                first += size;
                p
            })
            .collect())
    }

    /// Copies every part not already in the upload (one an earlier attempt started, when
    /// `resumed`), in parallel, stopping before the deadline.
    #[allow(clippy::too_many_arguments)]
    async fn copy_parts(
        &self,
        up: &Upload<'_>,
        src: &SourceObject,
        dst_bucket: &str,
        dst_key: &str,
        upload_id: &str,
        resumed: bool,
        deadline: &Deadline,
    ) -> Result<Vec<CompletedPart>, CopyError> {
        let plan = self.part_plan(up, src).await?;
        let mut done = if resumed {
            self.existing_parts(dst_bucket, dst_key, upload_id, &plan).await?
        } else {
            Default::default()
        };
        let total = plan.len();
        if !done.is_empty() {
            info!(stage = "multipart", upload_id, resumed = done.len(), total, "resuming a multipart copy");
        }
        let todo: Vec<plan::Part> = plan.into_iter().filter(|p| !done.contains_key(&p.number)).collect();
        let copy_source = keys::copy_source(up.bucket, &src.key, &src.version_id);
        let mut pending = todo.into_iter();
        let mut in_flight = FuturesUnordered::new();
        let mut slowest = Duration::ZERO;
        let mut stopped = false;
        info!(stage = "multipart", parts = total, upload_id, "copying in parts");
        loop {
            while in_flight.len() < self.config.concurrency && !stopped {
                // Start a part only if one as slow as the slowest so far still fits.
                if deadline.usable() < slowest * 2 + Duration::from_millis(200) {
                    stopped = true;
                    break;
                }
                let Some(part) = pending.next() else { break };
                let client = self.client.clone();
                let (copy_source, upload_id, etag) = (copy_source.clone(), upload_id.to_string(), quoted(&src.etag));
                in_flight.push(async move {
                    let t = Instant::now();
                    let out = client
                        .upload_part_copy()
                        .bucket(dst_bucket)
                        .key(dst_key)
                        .upload_id(upload_id)
                        .part_number(part.number)
                        .copy_source(copy_source)
                        .copy_source_if_match(etag)
                        .copy_source_range(part.range())
                        .send()
                        .await;
                    (part, t.elapsed(), out)
                });
            }
            let next = match deadline.within("UploadPartCopy", in_flight.next()).await {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(_) => {
                    stopped = true;
                    break;
                }
            };
            let (part, took, out) = next;
            slowest = slowest.max(took);
            let out = out.map_err(|e| {
                S3CallError::from_sdk(format!("UploadPartCopy part {} of s3://{dst_bucket}/{dst_key}", part.number), e)
            })?;
            let r = out.copy_part_result();
            let sums = r
                .map(|r| checksums!(r))
                .unwrap_or_else(|| std::array::from_fn(|_| (ChecksumAlgorithm::Crc64Nvme, None)));
            done.insert(part.number, completed(part.number, r.and_then(|r| r.e_tag()), sums));
        }
        if stopped || done.len() < total {
            return Err(CopyError::Incomplete {
                bucket: dst_bucket.into(),
                key: dst_key.into(),
                done: done.len(),
                total,
            });
        }
        Ok(done.into_values().collect())
    }

    /// Parts an earlier attempt copied into `upload_id` that match the plan (ListParts).
    async fn existing_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        plan: &[plan::Part],
    ) -> Result<std::collections::BTreeMap<i32, CompletedPart>, S3CallError> {
        let mut out = std::collections::BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await
                .map_err(|e| S3CallError::from_sdk(format!("ListParts s3://{bucket}/{key}"), e))?;
            for p in page.parts() {
                let n = p.part_number().unwrap_or(0);
                let expected = plan.iter().find(|x| x.number == n).map(|x| x.last - x.first + 1);
                if expected == Some(p.size().unwrap_or(-1).max(0) as u64) {
                    out.insert(n, completed(n, p.e_tag(), checksums!(p)));
                }
            }
            marker = page.next_part_number_marker().map(str::to_string);
            if !page.is_truncated().unwrap_or(false) {
                return Ok(out);
            }
        }
    }

    async fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        if_match: Option<String>,
        deadline: &Deadline,
    ) -> Result<Copied, S3CallError> {
        let count = parts.len();
        let action = format!("CompleteMultipartUpload s3://{bucket}/{key}");
        let call = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .set_if_match(if_match.as_deref().map(quoted))
            .set_if_none_match(if_match.is_none().then(|| "*".to_string()))
            .send();
        let out = deadline
            .within(&action, call)
            .await
            .map_err(|e| S3CallError::deadline(action.clone(), e))?
            .map_err(|e| S3CallError::from_sdk(action, e))?;
        Ok(Copied::written(format!("UploadPartCopy x{count}"), 0, out.version_id()))
    }

    /// Removes a copy that failed verification, so no consumer reads it: the version written on
    /// a versioned bucket (the previous version is current again), else the object.
    pub async fn discard(&self, bucket: &str, key: &str, copied: &Copied) -> Result<(), S3CallError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(copied.version_id.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| S3CallError::from_sdk(format!("DeleteObject s3://{bucket}/{key}"), e))
    }

    /// Leaves no parts behind: they would be billed and never become an object.
    pub async fn abort(&self, bucket: &str, key: &str, upload_id: &str) {
        let _ = self.client.abort_multipart_upload().bucket(bucket).key(key).upload_id(upload_id).send().await;
    }

    /// Checks the destination against the source: size always; the checksum when both have one
    /// of the same algorithm and type; otherwise the ETag of a single-part, non-KMS copy.
    /// Returns the evidence.
    pub async fn verify(
        &self,
        dst_bucket: &str,
        dst_key: &str,
        src: &SourceObject,
        copied: &Copied,
        deadline: &Deadline,
    ) -> Result<Result<String, VerifyError>, S3CallError> {
        let action = format!("HeadObject s3://{dst_bucket}/{dst_key}");
        let call = self
            .client
            .head_object()
            .bucket(dst_bucket)
            .key(dst_key)
            .set_version_id(copied.version_id.as_deref().and_then(version))
            .checksum_mode(ChecksumMode::Enabled)
            .send();
        let mismatch = |reason: String| Ok(Err(VerifyError { bucket: dst_bucket.into(), key: dst_key.into(), reason }));
        let dest = match deadline.within(&action, call).await.map_err(|e| S3CallError::deadline(action.clone(), e))? {
            Ok(dest) => dest,
            // A HEAD's 404 has no body, so no message to pass on: say what it means here.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return mismatch(format!(
                    "missing: {action} answered 404 Not Found right after the copy reported success"
                ));
            }
            Err(e) => return Err(S3CallError::from_sdk(action, e)),
        };
        let size = dest.content_length().unwrap_or(-1);
        if size != src.size as i64 {
            return mismatch(format!("size {size} bytes, source has {}", src.size));
        }
        let dest_checksum = checksum_of(dest.checksum_type(), checksums!(dest));
        if let (Some(a), Some(b)) = (&src.checksum, &dest_checksum)
            && a.algorithm == b.algorithm
            && a.kind == b.kind
        {
            return if a.value == b.value {
                Ok(Ok(a.evidence()))
            } else {
                mismatch(format!("checksum {}, source has {}", b.evidence(), a.evidence()))
            };
        }
        let single_part_source = !src.etag.contains('-');
        if copied.method == "CopyObject" && single_part_source && !matches!(self.config.encryption, Encryption::Kms(_))
        {
            let etag = dest.e_tag().unwrap_or_default().trim_matches('"');
            return if etag == src.etag {
                Ok(Ok(format!("ETag:{etag}")))
            } else {
                mismatch(format!("ETag {etag}, source has {}", src.etag))
            };
        }
        Ok(Ok(format!("size:{size}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up<'a>(seq: &'a str, file_id: &'a str) -> Upload<'a> {
        Upload { bucket: "b", raw_key: "k", version_id: "", etag: None, sequencer: seq, file_id }
    }

    fn dest(seq: Option<&str>, file_id: Option<&str>) -> DestState {
        DestState {
            etag: "e".into(),
            version_id: None,
            sequencer: seq.map(str::to_string),
            file_id: file_id.map(str::to_string),
        }
    }

    #[test]
    fn newest_upload_wins_at_the_destination() {
        assert_eq!(judge(None, &up("02", "f2")), Verdict::Copy { if_match: None });
        // An older upload there, or an object some other writer put there: replace it, on condition.
        assert_eq!(
            judge(Some(&dest(Some("01"), Some("f1"))), &up("02", "f2")),
            Verdict::Copy { if_match: Some("e".into()) }
        );
        assert_eq!(judge(Some(&dest(None, None)), &up("02", "f2")), Verdict::Copy { if_match: Some("e".into()) });
        // A newer one there: never replace it.
        assert_eq!(
            judge(Some(&dest(Some("03"), Some("f3"))), &up("02", "f2")),
            Verdict::Superseded { by: "03".into() }
        );
        // Sequencers of different lengths compare after padding: 0A > 09F.
        assert_eq!(
            judge(Some(&dest(Some("0A"), Some("fa"))), &up("09F", "f9")),
            Verdict::Superseded { by: "0A".into() }
        );
        assert_eq!(
            judge(Some(&dest(Some("09F"), Some("f9"))), &up("0A", "fa")),
            Verdict::Copy { if_match: Some("e".into()) }
        );
        // This very upload there: an earlier attempt copied it.
        assert_eq!(judge(Some(&dest(Some("02"), Some("f2"))), &up("02", "f2")), Verdict::AlreadyThere);
    }

    #[test]
    fn provenance_replaces_what_the_source_carried() {
        let src = SourceObject {
            metadata: HashMap::from([
                ("partner".into(), "acme".into()),
                (provenance::SEQUENCER.into(), "spoof".into()),
            ]),
            version_id: "v1".into(),
            etag: "e1".into(),
            ..Default::default()
        };
        let m = destination_metadata(&src, &up("0A", "f"));
        assert_eq!(m["partner"], "acme");
        assert_eq!((m[provenance::SEQUENCER].as_str(), m[provenance::VERSION_ID].as_str()), ("0A", "v1"));
        assert_eq!(m.len(), 5);
    }
}
