//! `--target endpoint`: the stack's buckets and table at an AWS-compatible endpoint.

use anyhow::Context;

use super::Clients;

/// Creates the stack's buckets and table at an AWS-compatible endpoint (`--provision`).
pub async fn provision(c: &Clients, names: &sim::SimConfig) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    for bucket in [&names.source_bucket, &names.destination_bucket] {
        if c.s3.head_bucket().bucket(bucket.as_str()).send().await.is_err() {
            c.s3.create_bucket()
                .bucket(bucket.as_str())
                .send()
                .await
                .with_context(|| format!("creating bucket {bucket}"))?;
        }
    }
    if c.dynamodb.describe_table().table_name(&names.table).send().await.is_err() {
        c.dynamodb
            .create_table()
            .table_name(&names.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("file_id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(KeySchemaElement::builder().attribute_name("file_id").key_type(KeyType::Hash).build()?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .with_context(|| format!("creating table {}", names.table))?;
    }
    Ok(())
}

/// Says what is missing at the endpoint, and how to create it.
pub async fn check_provisioned(c: &Clients, names: &sim::SimConfig, endpoint: &str) -> anyhow::Result<()> {
    for bucket in [&names.source_bucket, &names.destination_bucket] {
        if c.s3.head_bucket().bucket(bucket.as_str()).send().await.is_err() {
            anyhow::bail!("bucket {bucket} does not exist at {endpoint}: create it, or pass --provision");
        }
    }
    if c.dynamodb.describe_table().table_name(&names.table).send().await.is_err() {
        anyhow::bail!("table {} does not exist at {endpoint}: create it, or pass --provision", names.table);
    }
    Ok(())
}
