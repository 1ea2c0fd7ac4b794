//! The per-file record in the metadata table, moved only forward through conditional writes.
//!
//! Record id: `file_id` = lowercase hex SHA-256 of `"<source bucket>/<key as delivered>#<version id>"`
//! (version id empty on unversioned buckets). The state machine computes the same id with
//! `States.Hash(States.Format('{}/{}#{}', ...), 'SHA-256')`, so its Catch can record a failure
//! when the function could not. Every delivery of one object's event, duplicated or retried,
//! addresses the same record; on an unversioned bucket an overwrite of the key reuses it, and
//! the event `sequencer` decides which upload the record describes.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

/// Where a file is in its journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Seen in the source bucket, not yet copied.
    Uploaded,
    /// A copy is under way (or was cut short: a retry takes it over).
    Transferring,
    /// Copied and verified.
    Transferred,
    /// The copy failed; `error_message` says why.
    Failed,
    /// Not a file (a folder marker): nothing to copy.
    Skipped,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] =
        [Status::Uploaded, Status::Transferring, Status::Transferred, Status::Failed, Status::Skipped];

    /// The value stored in the `status` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uploaded => "uploaded",
            Status::Transferring => "transferring",
            Status::Transferred => "transferred",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The statuses a record may move to `self` from, for the same upload. A newer upload of the
    /// key (greater sequencer) starts the record over, whatever its status.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Uploaded | Status::Skipped => &[],
            Status::Transferring => &[Status::Uploaded, Status::Failed, Status::Transferring],
            Status::Transferred => &[Status::Transferring],
            Status::Failed => &[Status::Uploaded, Status::Transferring],
        }
    }

    /// Whether `from` -> `self` is a forward move for the same upload (`None`: no record yet).
    pub fn can_follow(self, from: Option<Status>) -> bool {
        match from {
            None => matches!(self, Status::Uploaded | Status::Skipped),
            Some(f) => self.allowed_from().contains(&f),
        }
    }
}

/// The record id; see the module documentation.
pub fn file_id(source_bucket: &str, raw_key: &str, version_id: &str) -> String {
    hex::encode(Sha256::digest(format!("{source_bucket}/{raw_key}#{version_id}").as_bytes()))
}

/// The partner a key belongs to: its first path segment (the user's home folder).
pub fn customer_id(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// A DynamoDB failure, classified for retry.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {table}: {code}: {message}")]
pub struct StoreError {
    /// The call.
    pub operation: &'static str,
    /// Table.
    pub table: String,
    /// Error code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Throttling, 5xx or transport: worth retrying.
    pub retryable: bool,
}

/// What a delivery finds when it tries to start the transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// Go ahead; this is attempt number `n`.
    Proceed(u32),
    /// This upload was already transferred (or skipped): a duplicate delivery.
    Duplicate(Status),
    /// The record describes a newer upload of the key: this event is stale.
    Stale,
}

/// The facts of one file.
#[derive(Debug, Clone)]
pub struct FileFacts<'a> {
    /// Record id.
    pub file_id: &'a str,
    /// Source bucket.
    pub source_bucket: &'a str,
    /// Destination bucket.
    pub destination_bucket: &'a str,
    /// Decoded key.
    pub key: &'a str,
    /// Destination key.
    pub destination_key: &'a str,
    /// Version id ("" when none).
    pub version_id: &'a str,
    /// Normalized sequencer ("" when the input had none).
    pub sequencer: &'a str,
    /// When the object was created (RFC 3339).
    pub upload_timestamp: &'a str,
    /// Object size.
    pub size: Option<u64>,
    /// The Lambda request id.
    pub request_id: &'a str,
}

/// How a transfer ended, for the record.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    /// `Transferred` or `Failed`.
    pub status: Status,
    /// RFC 3339 time.
    pub at: &'a str,
    /// Milliseconds the transfer took.
    pub duration_ms: u64,
    /// The verified checksum (`SHA256:...`, `CRC32:...` or `ETag:...`).
    pub checksum: Option<&'a str>,
    /// `CopyObject` or `UploadPartCopy xN`.
    pub method: Option<&'a str>,
    /// Error type and message when failed.
    pub error: Option<(&'a str, &'a str)>,
}

/// Writes the record's states through DynamoDB.
#[derive(Clone)]
pub struct MetadataStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `#s IN (:from0, :from1, ...)` for the statuses `to` may follow, with their values.
fn from_condition(to: Status) -> (String, Vec<(String, AttributeValue)>) {
    let names: Vec<(String, AttributeValue)> =
        to.allowed_from().iter().enumerate().map(|(i, st)| (format!(":from{i}"), s(st.as_str()))).collect();
    let list = names.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ");
    (format!("#s IN ({list})"), names)
}

impl MetadataStore {
    /// A store writing to `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn err<E: ProvideErrorMetadata + std::fmt::Debug>(
        &self,
        operation: &'static str,
        e: &aws_sdk_dynamodb::error::SdkError<E>,
    ) -> StoreError {
        let code = e.code().unwrap_or("TransportError").to_string();
        let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
        let retryable = e.as_service_error().is_none()
            || status >= 500
            || matches!(
                code.as_str(),
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
            );
        StoreError {
            operation,
            table: self.table.clone(),
            message: e.message().map(str::to_string).unwrap_or_else(|| format!("{e:?}")),
            code,
            retryable,
        }
    }

    fn is_condition_failure<E: ProvideErrorMetadata>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool {
        e.code() == Some("ConditionalCheckFailedException")
    }

    /// Reads a record.
    pub async fn get(&self, file_id: &str) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("file_id", s(file_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", &e))?;
        Ok(out.item().cloned())
    }

    /// Creates the record as `status` (`Uploaded` or `Skipped`) unless a record for the same or
    /// a newer upload exists. Returns whether it wrote.
    async fn create(&self, f: &FileFacts<'_>, status: Status) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("file_id", s(f.file_id))
            .item("source_bucket", s(f.source_bucket))
            .item("destination_bucket", s(f.destination_bucket))
            .item("key", s(f.key))
            .item("destination_key", s(f.destination_key))
            .item("version_id", s(f.version_id))
            .item("customer_id", s(customer_id(f.key)))
            .item("sequencer", s(f.sequencer))
            .item("upload_timestamp", s(f.upload_timestamp))
            .item("status", s(status.as_str()))
            .item("attempts", n(0))
            .item("request_id", s(f.request_id));
        if let Some(size) = f.size {
            put = put.item("size_bytes", n(size));
        }
        put = if f.sequencer.is_empty() {
            put.condition_expression("attribute_not_exists(file_id)")
        } else {
            put.condition_expression("attribute_not_exists(file_id) OR #q < :q")
                .expression_attribute_names("#q", "sequencer")
                .expression_attribute_values(":q", s(f.sequencer))
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if Self::is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.err("PutItem", &e)),
        }
    }

    fn classify(&self, item: Option<HashMap<String, AttributeValue>>, sequencer: &str) -> Begin {
        let Some(item) = item else { return Begin::Stale };
        let theirs = item.get("sequencer").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("");
        if !sequencer.is_empty() && theirs > sequencer {
            return Begin::Stale;
        }
        let status = item.get("status").and_then(|v| v.as_s().ok()).and_then(|v| Status::parse(v));
        Begin::Duplicate(status.unwrap_or(Status::Transferred))
    }

    /// Records a folder marker as `skipped`.
    pub async fn skip(&self, f: &FileFacts<'_>) -> Result<Begin, StoreError> {
        if self.create(f, Status::Skipped).await? {
            return Ok(Begin::Proceed(0));
        }
        Ok(self.classify(self.get(f.file_id).await?, f.sequencer))
    }

    /// Moves the record to `transferring` for this upload (creating it as `uploaded` first),
    /// or says why this delivery should not copy.
    pub async fn begin(&self, f: &FileFacts<'_>) -> Result<Begin, StoreError> {
        self.create(f, Status::Uploaded).await?;
        let (allowed, values) = from_condition(Status::Transferring);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(f.file_id))
            .update_expression("SET #s = :to, attempts = if_not_exists(attempts, :zero) + :one, request_id = :rid, error_message = :none, error_type = :none")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":to", s(Status::Transferring.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":rid", s(f.request_id))
            .expression_attribute_values(":none", AttributeValue::Null(true))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        for (k, v) in values {
            update = update.expression_attribute_values(k, v);
        }
        update = if f.sequencer.is_empty() {
            update.condition_expression(format!("attribute_exists(file_id) AND {allowed}"))
        } else {
            update
                .condition_expression(format!("#q = :q AND {allowed}"))
                .expression_attribute_names("#q", "sequencer")
                .expression_attribute_values(":q", s(f.sequencer))
        };
        match update.send().await {
            Ok(out) => {
                let attempt = out
                    .attributes()
                    .and_then(|a| a.get("attempts"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Ok(Begin::Proceed(attempt))
            }
            Err(e) if Self::is_condition_failure(&e) => Ok(self.classify(self.get(f.file_id).await?, f.sequencer)),
            Err(e) => Err(self.err("UpdateItem", &e)),
        }
    }

    /// Records the end of this upload's transfer. Returns false when the record has moved on
    /// (a newer upload took it over), which is not an error.
    pub async fn finish(&self, file_id: &str, sequencer: &str, fin: &Finish<'_>) -> Result<bool, StoreError> {
        let (allowed, values) = from_condition(fin.status);
        let mut expr = String::from("SET #s = :to, transfer_timestamp = :at, duration_ms = :d");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(file_id))
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":to", s(fin.status.as_str()))
            .expression_attribute_values(":at", s(fin.at))
            .expression_attribute_values(":d", n(fin.duration_ms));
        if let Some(c) = fin.checksum {
            expr.push_str(", checksum = :c");
            update = update.expression_attribute_values(":c", s(c));
        }
        if let Some(m) = fin.method {
            expr.push_str(", copy_method = :m");
            update = update.expression_attribute_values(":m", s(m));
        }
        match fin.error {
            Some((t, m)) => {
                expr.push_str(", error_type = :et, error_message = :em");
                update = update.expression_attribute_values(":et", s(t)).expression_attribute_values(":em", s(m));
            }
            None => expr.push_str(" REMOVE error_type, error_message"),
        }
        for (k, v) in values {
            update = update.expression_attribute_values(k, v);
        }
        update = update.update_expression(expr);
        update = if sequencer.is_empty() {
            update.condition_expression(allowed)
        } else {
            update
                .condition_expression(format!("#q = :q AND {allowed}"))
                .expression_attribute_names("#q", "sequencer")
                .expression_attribute_values(":q", s(sequencer))
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if Self::is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.err("UpdateItem", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn file_id_is_deterministic_and_distinct() {
        assert_eq!(file_id("b", "k", ""), file_id("b", "k", ""));
        assert_ne!(file_id("b", "k1", ""), file_id("b", "k2", ""));
        assert_ne!(file_id("b", "k", "v1"), file_id("b", "k", "v2"));
        // The state machine's States.Hash of "b/k#" gives the same value.
        assert_eq!(file_id("b", "k", ""), hex::encode(Sha256::digest(b"b/k#")));
    }

    #[test]
    fn customer_is_first_segment() {
        assert_eq!(customer_id("acme/inbound/x.csv"), "acme");
        assert_eq!(customer_id("flat.csv"), "flat.csv");
    }

    #[test]
    fn every_transition_allowed_or_refused() {
        let allowed = [
            (None, Uploaded),
            (None, Skipped),
            (Some(Uploaded), Transferring),
            (Some(Failed), Transferring),
            (Some(Transferring), Transferring),
            (Some(Transferring), Transferred),
            (Some(Transferring), Failed),
            (Some(Uploaded), Failed),
        ];
        let froms = std::iter::once(None).chain(Status::ALL.into_iter().map(Some));
        for from in froms {
            for to in Status::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(to.can_follow(from), expected, "{from:?} -> {to:?}");
            }
        }
        // The ones that must never happen for the same upload.
        assert!(!Uploaded.can_follow(Some(Transferred)));
        assert!(!Transferring.can_follow(Some(Transferred)));
        assert!(!Transferred.can_follow(Some(Failed)));
        assert!(!Transferred.can_follow(Some(Uploaded)));
        assert!(!Transferring.can_follow(Some(Skipped)));
    }

    #[test]
    fn conditions_follow_the_transition_table() {
        let (expr, values) = from_condition(Transferring);
        assert_eq!(expr, "#s IN (:from0, :from1, :from2)");
        let names: Vec<_> = values.iter().map(|(_, v)| v.as_s().unwrap().clone()).collect();
        assert_eq!(names, ["uploaded", "failed", "transferring"]);
    }
}
