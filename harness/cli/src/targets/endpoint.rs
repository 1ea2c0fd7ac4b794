//! `--target endpoint`: the stack's buckets and table at an AWS-compatible endpoint.

use anyhow::Context;

use super::Clients;

/// The stack's buckets with their versioning, as `infra/definitions/buckets.json` declares it.
fn buckets(names: &sim::SimConfig) -> anyhow::Result<[(&str, bool); 2]> {
    let values = std::collections::BTreeMap::new();
    let b = sim::definitions::buckets(&names.infra_dir, &values)?;
    let on = |v: sim::s3::Versioning| v == sim::s3::Versioning::Enabled;
    Ok([(&names.source_bucket, on(b.source.versioning)), (&names.destination_bucket, on(b.destination.versioning))])
}

/// Creates the stack's buckets (versioned as the stack configures them) and table at an
/// AWS-compatible endpoint (`--provision`).
pub async fn provision(c: &Clients, names: &sim::SimConfig) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    for (bucket, versioned) in buckets(names)? {
        if c.s3.head_bucket().bucket(bucket).send().await.is_err() {
            c.s3.create_bucket().bucket(bucket).send().await.with_context(|| format!("creating bucket {bucket}"))?;
        }
        if versioned {
            c.s3.put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await
                .with_context(|| format!("enabling versioning on {bucket}"))?;
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
    for (bucket, versioned) in buckets(names)? {
        if c.s3.head_bucket().bucket(bucket).send().await.is_err() {
            anyhow::bail!("bucket {bucket} does not exist at {endpoint}: create it, or pass --provision");
        }
        // An answer the SDK cannot read (moto 5.2.5 names its root element differently) is no
        // answer: only a definite "not enabled" stops the run.
        let status = c.s3.get_bucket_versioning().bucket(bucket).send().await.ok();
        let disabled = status.as_ref().is_some_and(|s| s.status().is_none_or(|s| s.as_str() != "Enabled"));
        if versioned && disabled {
            anyhow::bail!(
                "bucket {bucket} at {endpoint} is not versioned, as infra/definitions/buckets.json configures it: enable versioning, or pass --provision"
            );
        }
    }
    if c.dynamodb.describe_table().table_name(&names.table).send().await.is_err() {
        anyhow::bail!("table {} does not exist at {endpoint}: create it, or pass --provision", names.table);
    }
    Ok(())
}
