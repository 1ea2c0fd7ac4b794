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
    match c.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(h) => Ok(Some(ObjectFacts {
            size: h.content_length().unwrap_or(0).max(0) as u64,
            etag: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
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
        let n = reader.read(&mut buf).await.map_err(|e| ProbeError {
            service: "s3",
            operation: "GetObject",
            resource: uri(bucket, key),
            code: "BodyReadError".into(),
            message: e.to_string(),
            status: None,
        })?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(Some(ObjectDigest { size, sha256: hex::encode(hasher.finalize()) }))
}

/// How many multipart uploads are open under `prefix`.
pub async fn open_uploads(c: &Clients, bucket: &str, prefix: &str) -> Result<usize, ProbeError> {
    let out =
        c.s3.list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("s3", "ListMultipartUploads", uri(bucket, prefix), &e))?;
    Ok(out.uploads().len())
}
