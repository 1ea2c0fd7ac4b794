//! DynamoDB: the metadata table's records for a key.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use copy_lambda::metadata::Status;

use super::ProbeError;
use crate::targets::Clients;

/// One record of the metadata table, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Every attribute.
    pub item: BTreeMap<String, AttributeValue>,
}

impl Record {
    /// A string attribute.
    pub fn s(&self, name: &str) -> Option<String> {
        self.item.get(name).and_then(|v| v.as_s().ok()).cloned()
    }

    /// A number attribute.
    pub fn n(&self, name: &str) -> Option<u64> {
        self.item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
    }

    /// The `status`, when it is one the function writes.
    pub fn status(&self) -> Option<Status> {
        self.s("status").and_then(|s| Status::parse(&s))
    }
}

/// The record with this id (a consistent read).
pub async fn record(c: &Clients, table: &str, file_id: &str) -> Result<Option<Record>, ProbeError> {
    let out = c
        .dynamodb
        .get_item()
        .table_name(table)
        .key("file_id", AttributeValue::S(file_id.into()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| ProbeError::from_sdk("dynamodb", "GetItem", table, &e))?;
    Ok(out.item().map(|i| Record { item: i.clone().into_iter().collect() }))
}

/// Every record whose `key` is `key` (a consistent scan, all pages).
pub async fn records_for_key(c: &Clients, table: &str, key: &str) -> Result<Vec<Record>, ProbeError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression("#k = :k")
            .expression_attribute_names("#k", "key")
            .expression_attribute_values(":k", AttributeValue::S(key.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("dynamodb", "Scan", table, &e))?;
        out.extend(page.items().iter().map(|i| Record { item: i.clone().into_iter().collect() }));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// The records with these ids (consistent BatchGetItem reads, 100 at a time, unprocessed keys
/// asked again): those that exist, by id.
pub async fn records(c: &Clients, table: &str, ids: &[String]) -> Result<BTreeMap<String, Record>, ProbeError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(100) {
        let keys: Vec<_> = chunk
            .iter()
            .map(|id| std::collections::HashMap::from([("file_id".to_string(), AttributeValue::S(id.clone()))]))
            .collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| ProbeError::local("dynamodb", "BatchGetItem", table, e))?,
        );
        let mut pause = std::time::Duration::from_millis(20);
        while let Some(request) = pending.take() {
            let out = c
                .dynamodb
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| ProbeError::from_sdk("dynamodb", "BatchGetItem", table, &e))?;
            for item in out.responses().and_then(|r| r.get(table)).into_iter().flatten() {
                let record = Record { item: item.clone().into_iter().collect() };
                if let Some(id) = record.s("file_id") {
                    found.insert(id, record);
                }
            }
            // DynamoDB hands back what it could not read under load: ask again, backing off.
            pending = out.unprocessed_keys().and_then(|u| u.get(table)).filter(|k| !k.keys().is_empty()).cloned();
            if pending.is_some() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
    Ok(found)
}
