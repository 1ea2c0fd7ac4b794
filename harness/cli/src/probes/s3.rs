//! S3: whether objects exist, what they hold, and what multipart uploads are left open.

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::ProbeError;
use crate::targets::Clients;

/// What HeadObject says of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectFacts {
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Its version (`None` unversioned).
    pub version_id: Option<String>,
    /// User metadata.
    pub metadata: std::collections::HashMap<String, String>,
}

/// The object's bytes, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDigest {
    /// Bytes read.
    pub size: u64,
    /// Lowercase hex SHA-256 of them.
    pub sha256: String,
}

fn uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// HeadObject: `None` when the object does not exist.
pub async fn head(c: &Clients, bucket: &str, key: &str) -> Result<Option<ObjectFacts>, ProbeError> {
    head_version(c, bucket, key, None).await
}

/// HeadObject of one version (the current one without `version`): `None` when it does not exist.
pub async fn head_version(
    c: &Clients,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Option<ObjectFacts>, ProbeError> {
    let asked = version.map(str::to_string);
    match c.s3.head_object().bucket(bucket).key(key).set_version_id(asked).send().await {
        Ok(h) => Ok(Some(ObjectFacts {
            size: h.content_length().unwrap_or(0).max(0) as u64,
            etag: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            version_id: h.version_id().filter(|v| *v != "null").map(str::to_string),
            metadata: h.metadata().cloned().unwrap_or_default(),
        })),
        Err(e) => {
            let err = ProbeError::from_sdk("s3", "HeadObject", uri(bucket, key), &e);
            if err.is_not_found() { Ok(None) } else { Err(err) }
        }
    }
}

/// Reads the object through and hashes it: `None` when it does not exist.
pub async fn digest(c: &Clients, bucket: &str, key: &str) -> Result<Option<ObjectDigest>, ProbeError> {
    let out = match c.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) => {
            let err = ProbeError::from_sdk("s3", "GetObject", uri(bucket, key), &e);
            return if err.is_not_found() { Ok(None) } else { Err(err) };
        }
    };
    let mut reader = out.body.into_async_read();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| {
            // The SDK checks the body against the checksum S3 stored; its mismatch error sits
            // under the I/O error, whose own text is only "streaming error".
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                message = format!("{message}: {inner}");
                source = inner.source();
            }
            let code = if message.contains("checksum mismatch") { "ChecksumMismatch" } else { "BodyReadError" };
            ProbeError {
                service: "s3",
                operation: "GetObject",
                resource: uri(bucket, key),
                code: code.into(),
                message,
                status: None,
            }
        })?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(Some(ObjectDigest { size, sha256: hex::encode(hasher.finalize()) }))
}

/// The object versions of exactly `key` (no delete markers), newest first; one `None` entry
/// for an unversioned object.
pub async fn versions(c: &Clients, bucket: &str, key: &str) -> Result<Vec<Option<String>>, ProbeError> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page =
            c.s3.list_object_versions()
                .bucket(bucket)
                .prefix(key)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(|e| ProbeError::from_sdk("s3", "ListObjectVersions", uri(bucket, key), &e))?;
        out.extend(
            page.versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .map(|v| v.version_id().filter(|v| *v != "null").map(str::to_string)),
        );
        if !page.is_truncated().unwrap_or(false) {
            return Ok(out);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
}

/// The keys of the multipart uploads open under `prefix` (one per upload).
async fn open_upload_keys(c: &Clients, bucket: &str, prefix: &str) -> Result<Vec<String>, ProbeError> {
    let out =
        c.s3.list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("s3", "ListMultipartUploads", uri(bucket, prefix), &e))?;
    Ok(out.uploads().iter().map(|u| u.key().unwrap_or_default().to_string()).collect())
}

/// How many multipart uploads are open under `prefix`.
pub async fn open_uploads(c: &Clients, bucket: &str, prefix: &str) -> Result<usize, ProbeError> {
    Ok(open_upload_keys(c, bucket, prefix).await?.len())
}

/// How many multipart uploads of exactly `key` are open.
pub async fn open_uploads_of(c: &Clients, bucket: &str, key: &str) -> Result<usize, ProbeError> {
    Ok(open_upload_keys(c, bucket, key).await?.iter().filter(|k| *k == key).count())
}
