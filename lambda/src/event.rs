//! The function's input (the state machine's request, or a raw EventBridge event) and output.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys;

/// What the state machine passes: the input transformer's output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct TransferRequest {
    /// Bucket the partner's upload landed in.
    pub source_bucket: String,
    /// Bucket the object is copied to.
    pub destination_bucket: String,
    /// Object key as the event carries it (URL-encoded by S3; decoded once by the function).
    pub key: String,
    /// The event's `sequencer` (orders events for one key).
    #[serde(default)]
    pub sequencer: Option<String>,
    /// The event's `version-id` (versioned buckets); empty when absent.
    #[serde(default)]
    pub version_id: Option<String>,
}

/// The EventBridge "Object Created" detail S3 sends (aws_lambda_events has no type for it).
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectCreatedDetail {
    /// The bucket.
    pub bucket: BucketRef,
    /// The object.
    pub object: ObjectRef,
    /// `PutObject`, `CopyObject`, `CompleteMultipartUpload`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `detail.bucket`.
#[derive(Debug, Clone, Deserialize)]
pub struct BucketRef {
    /// Name.
    pub name: String,
}

/// `detail.object`.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectRef {
    /// Key, URL-encoded.
    pub key: String,
    /// Size.
    #[serde(default)]
    pub size: Option<u64>,
    /// ETag.
    #[serde(default)]
    pub etag: Option<String>,
    /// Sequencer.
    #[serde(default)]
    pub sequencer: Option<String>,
    /// Version id.
    #[serde(rename = "version-id", default)]
    pub version_id: Option<String>,
}

/// Why the input could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Neither a request nor an Object Created event.
    #[error("expected {{source_bucket, destination_bucket, key}} or an EventBridge \"Object Created\" event: {0}")]
    Shape(String),
    /// An event arrived, but no destination is configured.
    #[error("a raw EventBridge event needs DESTINATION_BUCKET in the function's environment")]
    NoDestination,
}

/// One file to transfer, normalized from either input form.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Source bucket.
    pub source_bucket: String,
    /// Destination bucket.
    pub destination_bucket: String,
    /// Key as delivered (encoded), which the record id is built from.
    pub raw_key: String,
    /// Decoded key.
    pub key: String,
    /// Version id ("" when none).
    pub version_id: String,
    /// Sequencer, right-padded to compare as S3 documents.
    pub sequencer: Option<String>,
}

/// Sequencers compare as hex strings after right-padding the shorter one with zeros.
pub fn normalize_sequencer(s: &str) -> String {
    format!("{:0<32}", s.to_ascii_uppercase())
}

impl Delivery {
    /// Reads either input form; `default_destination` serves raw events.
    pub fn from_input(payload: Value, default_destination: Option<&str>) -> Result<Self, InputError> {
        let is_event = payload.get("detail-type").is_some() && payload.get("detail").is_some();
        let (source_bucket, destination_bucket, raw_key, version_id, sequencer) = if is_event {
            let detail: ObjectCreatedDetail =
                serde_json::from_value(payload["detail"].clone()).map_err(|e| InputError::Shape(e.to_string()))?;
            let destination = default_destination.ok_or(InputError::NoDestination)?.to_string();
            (detail.bucket.name, destination, detail.object.key, detail.object.version_id, detail.object.sequencer)
        } else {
            let r: TransferRequest = serde_json::from_value(payload).map_err(|e| InputError::Shape(e.to_string()))?;
            (r.source_bucket, r.destination_bucket, r.key, r.version_id, r.sequencer)
        };
        if source_bucket.is_empty() || destination_bucket.is_empty() || raw_key.is_empty() {
            return Err(InputError::Shape("source_bucket, destination_bucket and key must not be empty".into()));
        }
        Ok(Self {
            source_bucket,
            destination_bucket,
            key: keys::decode_event_key(&raw_key),
            raw_key,
            version_id: version_id.unwrap_or_default(),
            sequencer: sequencer.filter(|s| !s.is_empty()).map(|s| normalize_sequencer(&s)),
        })
    }

    /// Whether this is a folder marker (a zero-byte `dir/` object), which is not a file.
    pub fn is_folder_marker(&self) -> bool {
        self.key.ends_with('/')
    }
}

/// What the function returns to the state machine.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CopyOutput {
    /// `Success`, `Skipped`, `Duplicate` or `Stale`.
    pub status: String,
    /// Human-readable summary.
    pub message: String,
    /// The record's id.
    pub file_id: String,
    /// The decoded key.
    pub key: String,
    /// Bytes copied (0 when nothing was copied).
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_requests_and_raw_events() {
        let r = Delivery::from_input(
            json!({"source_bucket": "s", "destination_bucket": "d", "key": "a/b+c.csv", "sequencer": "0A"}),
            None,
        )
        .unwrap();
        assert_eq!((r.key.as_str(), r.raw_key.as_str()), ("a/b c.csv", "a/b+c.csv"));
        assert_eq!(r.sequencer.as_deref(), Some("0A000000000000000000000000000000"));
        let ev = json!({"detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "s"}, "object": {"key": "x%3Dy", "size": 3, "sequencer": "1", "version-id": "v1"}}});
        let e = Delivery::from_input(ev.clone(), Some("d")).unwrap();
        assert_eq!((e.key.as_str(), e.version_id.as_str(), e.destination_bucket.as_str()), ("x=y", "v1", "d"));
        assert!(matches!(Delivery::from_input(ev, None), Err(InputError::NoDestination)));
        assert!(Delivery::from_input(json!({"key": 1}), None).is_err());
    }

    #[test]
    fn sequencers_compare_after_right_padding() {
        assert!(normalize_sequencer("0055AED6DCD90281E5") < normalize_sequencer("0055AED6DCD90281E6"));
        assert!(normalize_sequencer("0055AED6DCD9028") < normalize_sequencer("0055AED6DCD90281E5"));
    }
}
