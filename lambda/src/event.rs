//! The function's input (the state machine's request, or a raw EventBridge event) and output.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the state machine passes: the input transformer's output
/// (`infra/definitions/input-transformer.json`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct TransferRequest {
    /// Bucket the partner's upload landed in.
    pub source_bucket: String,
    /// Bucket the object is copied to.
    pub destination_bucket: String,
    /// Object key as the event carries it (as it is; see [`crate::keys`]).
    pub key: String,
    /// The event's `size`.
    #[serde(default)]
    pub size: Option<u64>,
    /// The event's `etag`: the bytes the copy must read.
    #[serde(default)]
    pub etag: Option<String>,
    /// The event's `sequencer` (orders events for one key).
    #[serde(default)]
    pub sequencer: Option<String>,
    /// The event's `version-id` (versioned buckets); empty when absent.
    #[serde(default)]
    pub version_id: Option<String>,
    /// The event's `time`: when S3 created the object.
    #[serde(default)]
    pub event_time: Option<String>,
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
    /// Key, as it is.
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
    /// Key as delivered, which the record id is built from.
    pub raw_key: String,
    /// The key to copy (the delivered one; see [`crate::keys`]).
    pub key: String,
    /// Version id ("" when none).
    pub version_id: String,
    /// The announced ETag, without quotes.
    pub etag: Option<String>,
    /// The announced size.
    pub size: Option<u64>,
    /// Sequencer, as delivered (compare with [`sequencer_order`]).
    pub sequencer: Option<String>,
    /// When S3 created the object, as the event says.
    pub event_time: Option<String>,
}

/// Sequencers compare as hex strings after right-padding the shorter one with zeros; this is
/// the form that compares so (every record and object stores the sequencer as delivered).
pub fn sequencer_order(s: &str) -> String {
    format!("{:0<32}", s.to_ascii_uppercase())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl Delivery {
    /// Reads either input form; `default_destination` serves raw events.
    pub fn from_input(payload: Value, default_destination: Option<&str>) -> Result<Self, InputError> {
        let is_event = payload.get("detail-type").is_some() && payload.get("detail").is_some();
        let r = if is_event {
            let detail: ObjectCreatedDetail =
                serde_json::from_value(payload["detail"].clone()).map_err(|e| InputError::Shape(e.to_string()))?;
            TransferRequest {
                source_bucket: detail.bucket.name,
                destination_bucket: default_destination.ok_or(InputError::NoDestination)?.to_string(),
                key: detail.object.key,
                size: detail.object.size,
                etag: detail.object.etag,
                sequencer: detail.object.sequencer,
                version_id: detail.object.version_id,
                event_time: payload.get("time").and_then(Value::as_str).map(str::to_string),
            }
        } else {
            serde_json::from_value(payload).map_err(|e| InputError::Shape(e.to_string()))?
        };
        if r.source_bucket.is_empty() || r.destination_bucket.is_empty() || r.key.is_empty() {
            return Err(InputError::Shape("source_bucket, destination_bucket and key must not be empty".into()));
        }
        Ok(Self {
            source_bucket: r.source_bucket,
            destination_bucket: r.destination_bucket,
            key: r.key.clone(),
            raw_key: r.key,
            version_id: r.version_id.unwrap_or_default(),
            etag: non_empty(r.etag).map(|e| e.trim_matches('"').to_string()),
            size: r.size,
            sequencer: non_empty(r.sequencer),
            event_time: non_empty(r.event_time),
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
    /// `Success`, `Skipped`, `Duplicate`, `Stale` or `Superseded`.
    pub status: String,
    /// Human-readable summary.
    pub message: String,
    /// The record's id.
    pub file_id: String,
    /// The key.
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
            json!({"source_bucket": "s", "destination_bucket": "d", "key": "a/b+c.csv", "sequencer": "0A", "etag": "\"e\""}),
            None,
        )
        .unwrap();
        assert_eq!((r.key.as_str(), r.raw_key.as_str()), ("a/b+c.csv", "a/b+c.csv"));
        assert_eq!(r.sequencer.as_deref(), Some("0A"));
        assert_eq!(r.etag.as_deref(), Some("e"));
        assert!(Delivery::from_input(json!({"key": 1}), None).is_err());
    }

    /// AWS's own sample events (Amazon S3 user guide; Powertools), as the function receives them
    /// when invoked by a rule without a transformer.
    #[test]
    fn reads_aws_sample_events() {
        let sample: Value = serde_json::from_str(include_str!(
            "../../harness/sim/tests/fixtures/aws/s3-eventbridge-object-created.json"
        ))
        .unwrap();
        let d = Delivery::from_input(sample.clone(), Some("dest")).unwrap();
        assert_eq!(d.source_bucket, "DOC-EXAMPLE-BUCKET1");
        assert_eq!(
            (d.key.as_str(), d.size, d.etag.as_deref()),
            ("example-key", Some(5), Some("b1946ac92492d2347c6235b4d2611184"))
        );
        assert_eq!(d.version_id, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
        assert_eq!(d.sequencer.as_deref(), Some("617f08299329d189"));
        assert_eq!(d.event_time.as_deref(), Some("2021-11-12T00:00:00Z"));
        assert!(matches!(Delivery::from_input(sample, None), Err(InputError::NoDestination)));
        let unversioned: Value = serde_json::from_str(include_str!(
            "../../harness/sim/tests/fixtures/aws/s3-eventbridge-object-created-unversioned.json"
        ))
        .unwrap();
        let u = Delivery::from_input(unversioned, Some("dest")).unwrap();
        assert_eq!((u.key.as_str(), u.version_id.as_str()), ("IMG_m7fzo3.jpg", ""));
    }

    #[test]
    fn sequencers_compare_after_right_padding() {
        assert!(sequencer_order("0055AED6DCD90281E5") < sequencer_order("0055AED6DCD90281E6"));
        assert!(sequencer_order("0055AED6DCD9028") < sequencer_order("0055AED6DCD90281E5"));
        assert!(sequencer_order("0055aed6dcd90281e5") == sequencer_order("0055AED6DCD90281E5"));
    }
}
