//! The per-file record in the metadata table, moved only forward through conditional writes.
//!
//! Record id: `file_id` = lowercase hex SHA-256 of `"<source bucket>/<key as delivered>#<version id>"`
//! (version id empty on unversioned buckets). The state machine computes the same id with
//! `States.Hash(States.Format('{}/{}#{}', ...), 'SHA-256')`: its first state writes the record
//! as `uploaded` before the function runs, and its Catch records failures the function could
//! not. Every delivery of one upload's event addresses the same record. On a versioned bucket
//! each upload has its own record; on an unversioned one an overwrite reuses the key's record and
//! the event `sequencer` decides which upload it describes.
//!
//! Every writer (the state machine's `RecordUpload` and `RecordFailure`, the function) writes the
//! same schema: [`SCHEMA`] is always present, so the table's indexes (by status, by customer,
//! both sorted by `upload_timestamp`) see every record.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sha2::{Digest, Sha256};

use crate::event::sequencer_order;

/// Attributes every record has, whoever wrote it.
pub const SCHEMA: [&str; 10] = [
    "file_id",
    "source_bucket",
    "destination_bucket",
    "key",
    "version_id",
    "sequencer",
    "customer_id",
    "upload_timestamp",
    "status",
    "attempts",
];

/// Where a file is in its journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Seen in the source bucket, not yet copied.
    Uploaded,
    /// A copy is under way, held by a claim that expires with the invocation.
    Transferring,
    /// Copied and verified.
    Transferred,
    /// The copy failed; `error_message` says why.
    Failed,
    /// Not a file (a folder marker): nothing to copy.
    Skipped,
    /// A newer upload of the key reached the destination first; this one is not copied.
    Superseded,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 6] = [
        Status::Uploaded,
        Status::Transferring,
        Status::Transferred,
        Status::Failed,
        Status::Skipped,
        Status::Superseded,
    ];

    /// The value stored in the `status` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uploaded => "uploaded",
            Status::Transferring => "transferring",
            Status::Transferred => "transferred",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Superseded => "superseded",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the journey is over for this upload.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Transferred | Status::Skipped | Status::Superseded)
    }

    /// The statuses a record may move to `self` from, for the same upload (an expired claim
    /// lets `transferring` be taken over). A newer upload of the key starts the record over.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Uploaded => &[],
            Status::Skipped => &[Status::Uploaded],
            Status::Transferring => &[Status::Uploaded, Status::Failed, Status::Transferring],
            Status::Transferred => &[Status::Transferring],
            Status::Failed => &[Status::Uploaded, Status::Transferring],
            Status::Superseded => &[Status::Uploaded, Status::Transferring, Status::Failed],
        }
    }

    /// Whether `from` -> `self` is a forward move for the same upload (`None`: no record yet).
    pub fn can_follow(self, from: Option<Status>) -> bool {
        match from {
            None => matches!(self, Status::Uploaded | Status::Skipped | Status::Failed),
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

/// What a delivery finds when it tries to claim the transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Go ahead: attempt number `attempt`; a multipart copy an earlier attempt left to resume.
    Proceed {
        /// This attempt's number.
        attempt: u32,
        /// The multipart upload an earlier attempt started.
        multipart_upload_id: Option<String>,
    },
    /// Another invocation holds the claim until this time (ms since the epoch).
    Held(u64),
    /// This upload's journey is over already (a duplicate delivery).
    Done(Status),
    /// The record describes a newer upload of the key: this event is stale.
    Stale,
}

/// The facts of one file, as every writer records them.
#[derive(Debug, Clone)]
pub struct FileFacts<'a> {
    /// Record id.
    pub file_id: &'a str,
    /// Source bucket.
    pub source_bucket: &'a str,
    /// Destination bucket.
    pub destination_bucket: &'a str,
    /// The key.
    pub key: &'a str,
    /// Destination key.
    pub destination_key: &'a str,
    /// Version id ("" when none).
    pub version_id: &'a str,
    /// The announced ETag.
    pub etag: Option<&'a str>,
    /// The sequencer as delivered ("" when the input had none).
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
    /// `Transferred`, `Failed` or `Superseded`.
    pub status: Status,
    /// RFC 3339 time.
    pub at: &'a str,
    /// Milliseconds the transfer took.
    pub duration_ms: u64,
    /// The verified checksum (`CRC64NVME:...`, `SHA256:...`, `ETag:...`).
    pub checksum: Option<&'a str>,
    /// `CopyObject` or `UploadPartCopy xN`.
    pub method: Option<&'a str>,
    /// The destination object's version.
    pub destination_version_id: Option<&'a str>,
    /// Error type and message when failed; for superseded, the reason.
    pub error: Option<(&'a str, &'a str)>,
}

/// How a final write went.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Written.
    Written,
    /// The record had moved on: it says this, for this upload or a newer one.
    MovedOn {
        /// Its status.
        status: Option<Status>,
        /// Whether it describes a newer upload of the key.
        newer: bool,
    },
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

fn attr_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn attr_n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
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
                    | "TransactionConflictException"
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
    /// a newer upload exists; an older upload's record (an overwrite of an unversioned key) is
    /// replaced, on the condition that it is still the one read. Returns whether it wrote.
    async fn create(&self, f: &FileFacts<'_>, status: Status) -> Result<bool, StoreError> {
        let mut expected: Option<String> = None;
        for _ in 0..5 {
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
            if let Some(etag) = f.etag {
                put = put.item("etag", s(etag));
            }
            put = match &expected {
                None => put.condition_expression("attribute_not_exists(file_id)"),
                Some(theirs) => put
                    .condition_expression("#q = :theirs")
                    .expression_attribute_names("#q", "sequencer")
                    .expression_attribute_values(":theirs", s(theirs)),
            };
            match put.send().await {
                Ok(_) => return Ok(true),
                Err(e) if Self::is_condition_failure(&e) => {}
                Err(e) => return Err(self.err("PutItem", &e)),
            }
            // Someone wrote first: a record for this upload, or for another upload of the key.
            let Some(item) = self.get(f.file_id).await? else { continue };
            let theirs = attr_s(&item, "sequencer").unwrap_or("").to_string();
            if f.sequencer.is_empty() || sequencer_order(&theirs) >= sequencer_order(f.sequencer) {
                return Ok(false);
            }
            expected = Some(theirs);
        }
        Ok(false)
    }

    fn newer(item: &HashMap<String, AttributeValue>, sequencer: &str) -> bool {
        !sequencer.is_empty() && sequencer_order(attr_s(item, "sequencer").unwrap_or("")) > sequencer_order(sequencer)
    }

    /// Records a folder marker as `skipped` (the state machine may have written `uploaded`).
    pub async fn skip(&self, f: &FileFacts<'_>) -> Result<Claim, StoreError> {
        if self.create(f, Status::Skipped).await? {
            return Ok(Claim::Proceed { attempt: 0, multipart_upload_id: None });
        }
        let (allowed, values) = from_condition(Status::Skipped);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(f.file_id))
            .update_expression("SET #s = :to, request_id = :rid")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#q", "sequencer")
            .expression_attribute_values(":to", s(Status::Skipped.as_str()))
            .expression_attribute_values(":rid", s(f.request_id))
            .expression_attribute_values(":q", s(f.sequencer))
            .condition_expression(format!("#q = :q AND {allowed}"));
        for (k, v) in values {
            update = update.expression_attribute_values(k, v);
        }
        match update.send().await {
            Ok(_) => Ok(Claim::Proceed { attempt: 0, multipart_upload_id: None }),
            Err(e) if Self::is_condition_failure(&e) => self.classify(f).await,
            Err(e) => Err(self.err("UpdateItem", &e)),
        }
    }

    async fn classify(&self, f: &FileFacts<'_>) -> Result<Claim, StoreError> {
        let Some(item) = self.get(f.file_id).await? else { return Ok(Claim::Stale) };
        if Self::newer(&item, f.sequencer) {
            return Ok(Claim::Stale);
        }
        let status = attr_s(&item, "status").and_then(Status::parse);
        match status {
            Some(Status::Transferring) => Ok(Claim::Held(attr_n(&item, "claim_expires_at").unwrap_or(0))),
            Some(st) => Ok(Claim::Done(st)),
            None => Ok(Claim::Done(Status::Transferred)),
        }
    }

    /// Claims this upload's transfer until `lease_until` (ms since the epoch; the invocation's
    /// deadline): creates the record as `uploaded` if no writer has, then moves it to
    /// `transferring`, unless another invocation holds an unexpired claim or the journey is over.
    pub async fn claim(&self, f: &FileFacts<'_>, now_ms: u64, lease_until: u64) -> Result<Claim, StoreError> {
        self.create(f, Status::Uploaded).await?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(f.file_id))
            .update_expression(format!(
                "SET #s = :to, attempts = if_not_exists(attempts, :zero) + :one, request_id = :rid, \
                 claim_expires_at = :lease, destination_key = :dk{}{} REMOVE error_message, error_type",
                if f.size.is_some() { ", size_bytes = if_not_exists(size_bytes, :size)" } else { "" },
                if f.etag.is_some() { ", etag = if_not_exists(etag, :etag)" } else { "" },
            ))
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#q", "sequencer")
            .expression_attribute_names("#exp", "claim_expires_at")
            .expression_attribute_values(":to", s(Status::Transferring.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":rid", s(f.request_id))
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":dk", s(f.destination_key))
            .expression_attribute_values(":q", s(f.sequencer))
            .expression_attribute_values(":uploaded", s(Status::Uploaded.as_str()))
            .expression_attribute_values(":failed", s(Status::Failed.as_str()))
            .expression_attribute_values(":transferring", s(Status::Transferring.as_str()))
            .condition_expression(
                "#q = :q AND (#s IN (:uploaded, :failed) OR (#s = :transferring AND \
                 (attribute_not_exists(#exp) OR #exp < :now)))",
            )
            .return_values(ReturnValue::AllNew);
        if let Some(size) = f.size {
            update = update.expression_attribute_values(":size", n(size));
        }
        if let Some(etag) = f.etag {
            update = update.expression_attribute_values(":etag", s(etag));
        }
        match update.send().await {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                Ok(Claim::Proceed {
                    attempt: attr_n(&item, "attempts").unwrap_or(1) as u32,
                    multipart_upload_id: attr_s(&item, "multipart_upload_id").map(str::to_string),
                })
            }
            Err(e) if Self::is_condition_failure(&e) => self.classify(f).await,
            Err(e) => Err(self.err("UpdateItem", &e)),
        }
    }

    /// Remembers the multipart copy under way (or forgets it with `None`), so a retry resumes it.
    pub async fn note_multipart(
        &self,
        file_id: &str,
        sequencer: &str,
        upload_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(file_id))
            .expression_attribute_names("#q", "sequencer")
            .expression_attribute_values(":q", s(sequencer))
            .condition_expression("#q = :q");
        let update = match upload_id {
            Some(id) => {
                update.update_expression("SET multipart_upload_id = :u").expression_attribute_values(":u", s(id))
            }
            None => update.update_expression("REMOVE multipart_upload_id"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if Self::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.err("UpdateItem", &e)),
        }
    }

    /// Gives the claim up (the copy failed retryably), so a retry need not wait for it to expire.
    pub async fn release(&self, file_id: &str, sequencer: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(file_id))
            .update_expression("SET claim_expires_at = :zero")
            .expression_attribute_names("#q", "sequencer")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":q", s(sequencer))
            .expression_attribute_values(":t", s(Status::Transferring.as_str()))
            .condition_expression("#q = :q AND #s = :t")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if Self::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.err("UpdateItem", &e)),
        }
    }

    /// Records the end of this upload's transfer, releasing the claim. When the record has
    /// moved on (a newer upload took it over, or another writer finished it), says how.
    pub async fn finish(&self, file_id: &str, sequencer: &str, fin: &Finish<'_>) -> Result<Recorded, StoreError> {
        let (allowed, values) = from_condition(fin.status);
        let mut expr = String::from("SET #s = :to, transfer_timestamp = :at, duration_ms = :d");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(file_id))
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#q", "sequencer")
            .expression_attribute_values(":to", s(fin.status.as_str()))
            .expression_attribute_values(":at", s(fin.at))
            .expression_attribute_values(":d", n(fin.duration_ms))
            .expression_attribute_values(":q", s(sequencer));
        for (name, value) in [
            ("checksum", fin.checksum),
            ("copy_method", fin.method),
            ("destination_version_id", fin.destination_version_id),
        ] {
            if let Some(v) = value {
                expr.push_str(&format!(", {name} = :{name}"));
                update = update.expression_attribute_values(format!(":{name}"), s(v));
            }
        }
        let mut remove = vec!["claim_expires_at", "multipart_upload_id"];
        match fin.error {
            Some((t, m)) => {
                expr.push_str(", error_type = :et, error_message = :em");
                update = update.expression_attribute_values(":et", s(t)).expression_attribute_values(":em", s(m));
            }
            None => remove.extend(["error_type", "error_message"]),
        }
        expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        for (k, v) in values {
            update = update.expression_attribute_values(k, v);
        }
        update = update.update_expression(expr).condition_expression(format!("#q = :q AND {allowed}"));
        match update.send().await {
            Ok(_) => Ok(Recorded::Written),
            Err(e) if Self::is_condition_failure(&e) => {
                let item = self.get(file_id).await?.unwrap_or_default();
                Ok(Recorded::MovedOn {
                    status: attr_s(&item, "status").and_then(Status::parse),
                    newer: Self::newer(&item, sequencer),
                })
            }
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
            (None, Failed),
            (Some(Uploaded), Skipped),
            (Some(Uploaded), Transferring),
            (Some(Failed), Transferring),
            (Some(Transferring), Transferring),
            (Some(Transferring), Transferred),
            (Some(Transferring), Failed),
            (Some(Uploaded), Failed),
            (Some(Uploaded), Superseded),
            (Some(Transferring), Superseded),
            (Some(Failed), Superseded),
        ];
        let froms = std::iter::once(None).chain(Status::ALL.into_iter().map(Some));
        for from in froms {
            for to in Status::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(to.can_follow(from), expected, "{from:?} -> {to:?}");
            }
        }
        // The ones that must never happen for the same upload: nothing leaves a final status.
        for done in [Transferred, Skipped, Superseded] {
            assert!(done.is_final());
            assert!(Status::ALL.iter().all(|to| !to.can_follow(Some(done))), "{done:?} moved");
        }
        assert!(!Transferred.can_follow(Some(Failed)));
        assert!(!Transferred.can_follow(Some(Uploaded)));
    }

    #[test]
    fn conditions_follow_the_transition_table() {
        let (expr, values) = from_condition(Transferring);
        assert_eq!(expr, "#s IN (:from0, :from1, :from2)");
        let names: Vec<_> = values.iter().map(|(_, v)| v.as_s().unwrap().clone()).collect();
        assert_eq!(names, ["uploaded", "failed", "transferring"]);
    }
}
