//! The function's input and output documents.

use serde::{Deserialize, Serialize};

/// What the state machine passes: the input transformer's output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TransferRequest {
    /// Bucket the partner's upload landed in.
    pub source_bucket: String,
    /// Bucket the object is copied to.
    pub destination_bucket: String,
    /// Object key as the event carries it (URL-encoded by S3; decoded once by the function).
    pub key: String,
}

/// What the function returns to the state machine on success.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CopyOutput {
    /// Always `Success` when returned; failures are errors.
    pub status: String,
    /// Human-readable summary.
    pub message: String,
    /// The record's id in the metadata table.
    pub file_id: String,
    /// The decoded object key.
    pub key: String,
    /// Bytes copied.
    pub size: i64,
}
