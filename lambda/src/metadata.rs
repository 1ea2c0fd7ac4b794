//! The per-file record in the metadata table.

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

/// Where a file is in its journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Seen in the source bucket, not yet copied.
    Uploaded,
    /// Copied to the destination bucket.
    Transferred,
    /// The copy failed; `error_message` says why.
    Failed,
}

impl Status {
    /// The value stored in the `status` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uploaded => "uploaded",
            Status::Transferred => "transferred",
            Status::Failed => "failed",
        }
    }
}

/// The record id: the first 32 hex digits of SHA-256 over `bucket/key`, so every delivery of
/// the same object's event addresses the same record.
pub fn file_id(source_bucket: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{source_bucket}/{key}").as_bytes());
    hex::encode(&digest[..16])
}

/// The partner a key belongs to: its first path segment (the user's home folder).
pub fn customer_id(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// Writes the record's states through DynamoDB.
#[derive(Clone)]
pub struct MetadataStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// What identifies a file and what we know of it before copying.
#[derive(Debug, Clone)]
pub struct FileFacts<'a> {
    /// Record id, see [`file_id`].
    pub file_id: &'a str,
    /// Source bucket.
    pub source_bucket: &'a str,
    /// Destination bucket.
    pub destination_bucket: &'a str,
    /// Decoded object key.
    pub key: &'a str,
    /// When the object was created in the source bucket (RFC 3339).
    pub upload_timestamp: &'a str,
    /// Object size in bytes, when known.
    pub size: Option<i64>,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl MetadataStore {
    /// A store writing to `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Records the file as `uploaded`, creating the record or refreshing it on a redelivery.
    pub async fn mark_uploaded(&self, facts: &FileFacts<'_>) -> Result<(), aws_sdk_dynamodb::Error> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(facts.file_id))
            .update_expression(
                "SET source_bucket = :sb, destination_bucket = :db, #k = :k, customer_id = :c, \
                 upload_timestamp = :ut, #s = :st, error_message = :none, transfer_timestamp = :none, \
                 size_bytes = :sz",
            )
            .expression_attribute_names("#k", "key")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sb", s(facts.source_bucket))
            .expression_attribute_values(":db", s(facts.destination_bucket))
            .expression_attribute_values(":k", s(facts.key))
            .expression_attribute_values(":c", s(customer_id(facts.key)))
            .expression_attribute_values(":ut", s(facts.upload_timestamp))
            .expression_attribute_values(":st", s(Status::Uploaded.as_str()))
            .expression_attribute_values(":none", AttributeValue::Null(true));
        update = update.expression_attribute_values(
            ":sz",
            match facts.size {
                Some(n) => AttributeValue::N(n.to_string()),
                None => AttributeValue::Null(true),
            },
        );
        update.send().await?;
        Ok(())
    }

    /// Records the end of the transfer: `transferred`, or `failed` with the reason.
    pub async fn mark_finished(
        &self,
        file_id: &str,
        status: Status,
        transfer_timestamp: &str,
        error_message: Option<&str>,
    ) -> Result<(), aws_sdk_dynamodb::Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("file_id", s(file_id))
            .update_expression("SET #s = :st, transfer_timestamp = :tt, error_message = :em")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":st", s(status.as_str()))
            .expression_attribute_values(":tt", s(transfer_timestamp))
            .expression_attribute_values(":em", error_message.map_or(AttributeValue::Null(true), s))
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_id_is_deterministic_and_distinct() {
        assert_eq!(file_id("b", "k"), file_id("b", "k"));
        assert_ne!(file_id("b", "k1"), file_id("b", "k2"));
        assert_eq!(file_id("b", "k").len(), 32);
    }

    #[test]
    fn customer_is_first_segment() {
        assert_eq!(customer_id("acme/inbound/x.csv"), "acme");
        assert_eq!(customer_id("flat.csv"), "flat.csv");
    }
}
