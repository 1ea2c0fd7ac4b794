//! The copy function's handler against two S3 + DynamoDB implementations: moto's server (a
//! third-party emulator, started here; skipped with a message where it cannot start) and the
//! embedded simulator. The same cases must hold on both.

mod common;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use copy_lambda::deadline::Deadline;
use copy_lambda::{Config, Handler};
use serde_json::json;

struct Backend {
    name: &'static str,
    endpoint: String,
    access: String,
    secret: String,
}

fn sdk_config(b: &Backend) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .http_client(copy_lambda::http::client())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&b.endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::from_keys(&b.access, &b.secret, None),
        ))
        .build()
}

fn handler(b: &Backend, table: &str, extra: &[(&str, &str)]) -> Handler {
    let mut vars: BTreeMap<String, String> = BTreeMap::from([("METADATA_TABLE".into(), table.into())]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Handler::new(&sdk_config(b), Config::from_vars(&vars).unwrap())
}

async fn record(ddb: &aws_sdk_dynamodb::Client, table: &str, file_id: &str) -> BTreeMap<String, AttributeValue> {
    let out = ddb
        .get_item()
        .table_name(table)
        .key("file_id", AttributeValue::S(file_id.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().cloned().unwrap_or_default().into_iter().collect()
}

fn s(item: &BTreeMap<String, AttributeValue>, k: &str) -> String {
    item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn n(item: &BTreeMap<String, AttributeValue>, k: &str) -> u64 {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

async fn body(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object().bucket(bucket).key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec()
}

/// The cases, against one backend.
async fn exercise(b: &Backend) {
    let conf = sdk_config(b);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let (src, dst, table) = ("hb-source", "hb-destination", "hb-records");
    s3.create_bucket().bucket(src).send().await.unwrap();
    s3.create_bucket().bucket(dst).send().await.unwrap();
    ddb.create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("file_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("file_id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let h = handler(b, table, &[]);
    let name = b.name;
    let far = || Deadline::after(Duration::from_secs(120));

    // A key with every character classic notifications would encode; EventBridge delivers it
    // as it is (lambda/src/keys.rs has the evidence), so the request carries it raw.
    let key = "acme/in/red flower+c++ 100%=#?é:.csv";
    let put = s3
        .put_object()
        .bucket(src)
        .key(key)
        .content_type("text/csv")
        .metadata("partner", "acme")
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap_or_default().trim_matches('"').to_string();
    let req = |seq: &str| json!({"source_bucket": src, "destination_bucket": dst, "key": key, "sequencer": seq, "version_id": "", "etag": etag});
    let out = h.handle(req("00A1"), "req-1", far()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(out.status, "Success", "{name}");
    assert_eq!(body(&s3, dst, key).await, b"a,b\n1,2\n", "{name}");
    let head = s3.head_object().bucket(dst).key(key).send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/csv"), "{name}: content type carried over");
    assert_eq!(
        head.metadata().and_then(|m| m.get("partner")).map(String::as_str),
        Some("acme"),
        "{name}: metadata carried over"
    );
    let file_id = copy_lambda::metadata::file_id(src, key, "");
    let rec = record(&ddb, table, &file_id).await;
    assert_eq!((s(&rec, "status").as_str(), n(&rec, "attempts")), ("transferred", 1), "{name}: {rec:?}");
    assert_eq!(s(&rec, "key"), key, "{name}");
    assert_eq!(s(&rec, "customer_id"), "acme", "{name}");
    assert!(!s(&rec, "checksum").is_empty() && !s(&rec, "transfer_timestamp").is_empty(), "{name}: {rec:?}");
    for field in copy_lambda::metadata::SCHEMA {
        assert!(rec.contains_key(field), "{name}: the record lacks {field}: {rec:?}");
    }

    // The same event again: acknowledged, nothing copied, the record unchanged.
    assert_eq!(h.handle(req("00A1"), "req-2", far()).await.unwrap().status, "Duplicate", "{name}");
    assert_eq!(n(&record(&ddb, table, &file_id).await, "attempts"), 1, "{name}");
    // An older event arriving late is stale; a newer one starts the record over.
    assert_eq!(h.handle(req("0099"), "req-3", far()).await.unwrap().status, "Stale", "{name}");
    assert_eq!(h.handle(req("00B0"), "req-4", far()).await.unwrap().status, "Success", "{name}");
    let rec = record(&ddb, table, &file_id).await;
    assert_eq!((s(&rec, "status").as_str(), s(&rec, "request_id").as_str()), ("transferred", "req-4"), "{name}");

    // Should a key ever arrive form-encoded, the object is still found, by its ETag.
    let encoded = "acme/in/red+flower%2Bc%2B%2B+100%25%3D%23%3F%C3%A9%3A.csv";
    let req =
        json!({"source_bucket": src, "destination_bucket": dst, "key": encoded, "sequencer": "00C0", "etag": etag});
    assert_eq!(h.handle(req, "req-4b", far()).await.unwrap().status, "Success", "{name}: form-encoded key");

    // A raw EventBridge event works when the destination is configured.
    let direct = handler(b, table, &[("DESTINATION_BUCKET", dst)]);
    s3.put_object().bucket(src).key("acme/raw.csv").body(ByteStream::from_static(b"x")).send().await.unwrap();
    let event = json!({"detail-type": "Object Created", "source": "aws.s3",
        "detail": {"bucket": {"name": src}, "object": {"key": "acme/raw.csv", "size": 1, "sequencer": "01"}}});
    assert_eq!(direct.handle(event, "req-5", far()).await.unwrap().status, "Success", "{name}");

    // Above the threshold: UploadPartCopy, byte for byte, metadata kept, no parts left behind.
    let big: Vec<u8> = (0..11 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    s3.put_object()
        .bucket(src)
        .key("acme/big.bin")
        .metadata("k", "v")
        .tagging("team=intake&stage=raw")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    let mp = handler(b, table, &[("COPY_MULTIPART_THRESHOLD", "6291456"), ("COPY_PART_SIZE", "5242880")]);
    let out = mp
        .handle(json!({"source_bucket": src, "destination_bucket": dst, "key": "acme/big.bin"}), "req-6", far())
        .await
        .unwrap();
    assert_eq!(out.status, "Success", "{name}");
    assert!(body(&s3, dst, "acme/big.bin").await == big, "{name}: multipart copy differs");
    let rec = record(&ddb, table, &copy_lambda::metadata::file_id(src, "acme/big.bin", "")).await;
    assert_eq!(s(&rec, "copy_method"), "UploadPartCopy x3", "{name}");
    let tags = s3.get_object_tagging().bucket(dst).key("acme/big.bin").send().await.unwrap();
    let mut tags: Vec<(String, String)> =
        tags.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    tags.sort();
    assert_eq!(
        tags,
        [("stage".to_string(), "raw".to_string()), ("team".to_string(), "intake".to_string())],
        "{name}: tags"
    );
    let head = s3.head_object().bucket(dst).key("acme/big.bin").send().await.unwrap();
    assert_eq!(
        head.metadata().and_then(|m| m.get("k")).map(String::as_str),
        Some("v"),
        "{name}: metadata after multipart"
    );
    let uploads = s3.list_multipart_uploads().bucket(dst).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "{name}: parts left behind");

    // Folder markers are recorded as skipped.
    s3.put_object().bucket(src).key("acme/dir/").body(ByteStream::from_static(b"")).send().await.unwrap();
    let out = h
        .handle(json!({"source_bucket": src, "destination_bucket": dst, "key": "acme/dir/"}), "req-7", far())
        .await
        .unwrap();
    assert_eq!(out.status, "Skipped", "{name}");
    let rec = record(&ddb, table, &copy_lambda::metadata::file_id(src, "acme/dir/", "")).await;
    assert_eq!(s(&rec, "status"), "skipped", "{name}");

    // Permanent failures are recorded with a clear message and reported as CopyFailed.
    let err = h
        .handle(json!({"source_bucket": src, "destination_bucket": dst, "key": "acme/missing.csv"}), "req-8", far())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "CopyFailed", "{name}");
    let rec = record(&ddb, table, &copy_lambda::metadata::file_id(src, "acme/missing.csv", "")).await;
    assert_eq!(s(&rec, "status"), "failed", "{name}");
    assert!(s(&rec, "error_message").contains("s3://hb-source/acme/missing.csv"), "{name}: {rec:?}");
    s3.put_object().bucket(src).key("acme/orphan.csv").body(ByteStream::from_static(b"x")).send().await.unwrap();
    let err = h
        .handle(
            json!({"source_bucket": src, "destination_bucket": "hb-nowhere", "key": "acme/orphan.csv"}),
            "req-9",
            far(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "CopyFailed", "{name}");
    assert!(err.to_string().contains("NoSuchBucket") && err.to_string().contains("s3://hb-nowhere/"), "{name}: {err}");

    versioned(b, &s3, &ddb, table, name).await;
    heads_match(b, &s3, table, name).await;
}

/// On versioned buckets each upload has its own record, and the newest upload wins at the
/// destination whatever order the events arrive in.
async fn versioned(b: &Backend, s3: &aws_sdk_s3::Client, ddb: &aws_sdk_dynamodb::Client, table: &str, name: &str) {
    let (src, dst) = ("hb-versioned-source", "hb-versioned-destination");
    for bucket in [src, dst] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let key = "acme/orders.csv";
    let mut uploads = Vec::new();
    for text in ["version one", "version two"] {
        let out =
            s3.put_object().bucket(src).key(key).body(ByteStream::from_static(text.as_bytes())).send().await.unwrap();
        uploads.push((out.version_id().unwrap_or_default().to_string(), out.e_tag().unwrap_or_default().to_string()));
    }
    assert_ne!(uploads[0].0, uploads[1].0, "{name}: versions");
    let h = handler(b, table, &[]);
    let req = |i: usize| {
        json!({"source_bucket": src, "destination_bucket": dst, "key": key, "version_id": uploads[i].0,
               "etag": uploads[i].1, "sequencer": format!("00{}", i + 1)})
    };
    let far = || Deadline::after(Duration::from_secs(120));
    // The newer event first, then the older one, late.
    assert_eq!(h.handle(req(1), "v-2", far()).await.unwrap().status, "Success", "{name}");
    assert_eq!(h.handle(req(0), "v-1", far()).await.unwrap().status, "Superseded", "{name}");
    assert_eq!(body(s3, dst, key).await, b"version two", "{name}: the older upload replaced the newer");
    let versions = s3.list_object_versions().bucket(dst).prefix(key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "{name}: exactly one copy");
    let newer = record(ddb, table, &copy_lambda::metadata::file_id(src, key, &uploads[1].0)).await;
    let older = record(ddb, table, &copy_lambda::metadata::file_id(src, key, &uploads[0].0)).await;
    assert_eq!((s(&newer, "status").as_str(), s(&older, "status").as_str()), ("transferred", "superseded"), "{name}");
    // Version reads: the older upload is still there to be read by its version id.
    let pinned = s3
        .get_object()
        .bucket(src)
        .key(key)
        .version_id(&uploads[0].0)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&pinned[..], b"version one", "{name}: version reads");
}

/// The destination's HEAD matches the source's, for the CopyObject and the multipart path:
/// content headers, user metadata (plus the copy's provenance), storage class, tags, checksum.
async fn heads_match(b: &Backend, s3: &aws_sdk_s3::Client, table: &str, name: &str) {
    use aws_sdk_s3::types::{ChecksumMode, StorageClass};
    let (src, dst) = ("hb-source", "hb-destination");
    let small = vec![b'x'; 1024];
    let large: Vec<u8> = (0..11 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    for (key, data) in [("acme/heads-small.csv.gz", small), ("acme/heads-large.csv.gz", large)] {
        s3.put_object()
            .bucket(src)
            .key(key)
            .content_type("text/csv")
            .content_encoding("gzip")
            .content_disposition("attachment; filename=\"orders.csv.gz\"")
            .cache_control("max-age=60")
            .content_language("en")
            .expires(aws_smithy_types::DateTime::from_secs(1_893_456_000))
            .storage_class(StorageClass::StandardIa)
            .metadata("partner", "acme")
            .tagging("team=intake")
            .body(ByteStream::from(data))
            .send()
            .await
            .unwrap();
        let h = handler(b, table, &[("COPY_MULTIPART_THRESHOLD", "6291456"), ("COPY_PART_SIZE", "5242880")]);
        let out = h
            .handle(
                json!({"source_bucket": src, "destination_bucket": dst, "key": key}),
                key,
                Deadline::after(Duration::from_secs(120)),
            )
            .await
            .unwrap_or_else(|e| panic!("{name} {key}: {e}"));
        assert_eq!(out.status, "Success", "{name} {key}");
        let a = s3.head_object().bucket(src).key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let z = s3.head_object().bucket(dst).key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let what = format!("{name} {key}");
        assert_eq!(a.content_type(), z.content_type(), "{what}: content type");
        assert_eq!(a.content_encoding(), z.content_encoding(), "{what}: content encoding");
        assert_eq!(a.content_disposition(), z.content_disposition(), "{what}: content disposition");
        assert_eq!(a.cache_control(), z.cache_control(), "{what}: cache control");
        assert_eq!(a.content_language(), z.content_language(), "{what}: content language");
        assert_eq!(a.expires_string(), z.expires_string(), "{what}: expires");
        assert_eq!(a.storage_class(), z.storage_class(), "{what}: storage class");
        let mut meta = z.metadata().cloned().unwrap_or_default();
        for k in copy_lambda::copy::provenance::ALL {
            assert!(meta.remove(k).is_some(), "{what}: no provenance {k}");
        }
        assert_eq!(Some(&meta), a.metadata(), "{what}: user metadata");
        let sums = |h: &aws_sdk_s3::operation::head_object::HeadObjectOutput| {
            [h.checksum_crc32(), h.checksum_crc32_c(), h.checksum_crc64_nvme(), h.checksum_sha1(), h.checksum_sha256()]
                .map(|v| v.map(str::to_string))
        };
        if sums(&a).iter().any(Option::is_some) {
            assert_eq!(sums(&a), sums(&z), "{what}: checksum");
            // moto reports no type for objects put in one request (AWS says FULL_OBJECT).
            if a.checksum_type().is_some() {
                assert_eq!(a.checksum_type(), z.checksum_type(), "{what}: checksum type");
            }
        } else {
            eprintln!("{what}: the source has no checksum (moto keeps none unless told); not compared");
        }
        let tags = |bucket: &'static str| {
            let s3 = s3.clone();
            async move {
                let t = s3.get_object_tagging().bucket(bucket).key(key).send().await.unwrap();
                t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect::<Vec<_>>()
            }
        };
        assert_eq!(tags(src).await, tags(dst).await, "{what}: tags");
    }
}

#[tokio::test]
async fn handler_against_moto_server() {
    let moto = match testkit::moto::Moto::start(false) {
        Ok(moto) => moto,
        Err(why) => return testkit::unavailable("moto's server", &why),
    };
    let b = Backend { name: "moto", endpoint: moto.endpoint(), access: "testing".into(), secret: "testing".into() };
    exercise(&b).await;
}

#[tokio::test]
async fn handler_against_the_simulator() {
    let infra = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra");
    let sim = sim::Simulator::start(sim::SimConfig::new(infra, vec!["true".into()])).await.unwrap();
    let b = Backend {
        name: "simulator",
        endpoint: sim.endpoints.aws.clone(),
        access: sim::ACCESS_KEY_ID.into(),
        secret: sim::SECRET_ACCESS_KEY.into(),
    };
    exercise(&b).await;
}
