//! The same scenario on `--target endpoint --provision` against a moto server started here:
//! moto holds S3 and DynamoDB; the simulator supplies SFTP, EventBridge, Step Functions, Lambda
//! and Logs. The test then reads moto directly to show where the data went.

mod common;

use std::process::Command;

#[tokio::test]
async fn smoke_runs_against_moto_with_the_simulator_filling_in() {
    let moto = match testkit::moto::Moto::start(false) {
        Ok(moto) => moto,
        Err(why) => return testkit::unavailable("moto's server", &why),
    };
    let endpoint = moto.endpoint();
    // Versioned buckets, as the stack configures them; the scenarios of the copy's correctness
    // that need no fault in S3 (the simulator supplies EventBridge and Lambda, so delivery
    // knobs and a held function work).
    let run = |scenario: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["scenario", scenario, "--target", "endpoint", "--endpoint-url", &endpoint, "--provision"])
            .env("RUST_LOG", "error")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{scenario}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            text.contains("S3 and DynamoDB from the endpoint; SFTP, EventBridge, Step Functions, Lambda and Logs from the simulator"),
            "{text}"
        );
    };
    run("smoke");
    run("multi-user");

    // The copies and the records are in moto.
    let conf = aws_config::SdkConfig::builder()
        .http_client(copy_lambda::http::client())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::from_keys("testing", "testing", None),
        ))
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let copied =
        s3.get_object().bucket("partner-intake-destination").key("acme/inbound/orders.csv").send().await.unwrap();
    assert_eq!(copied.content_length(), Some(56));
    let listed = s3.list_objects_v2().bucket("partner-intake-destination").prefix("globex/").send().await.unwrap();
    assert_eq!(listed.contents().len(), 2, "multi-user's globex files are in moto's destination bucket");
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let records = ddb.scan().table_name("FileTransferMetadata").send().await.unwrap();
    assert!(records.items().len() >= 6, "records are in moto's table: {}", records.items().len());
    // Versioned as buckets.json says (moto's GetBucketVersioning answer is one the Rust SDK
    // cannot parse, so the versions themselves show it).
    let versions = s3
        .list_object_versions()
        .bucket("partner-intake-source")
        .prefix("acme/inbound/orders.csv")
        .send()
        .await
        .unwrap();
    assert!(versions.versions().iter().all(|v| v.version_id().is_some_and(|id| id != "null")), "{versions:?}");
    for scenario in ["special-keys", "duplicate-delivery", "late-older-event", "uploaded-first"] {
        run(scenario);
    }

    // A load run there too: every file followed through moto's S3 and DynamoDB.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("endpoint.toml");
    std::fs::write(
        &profile,
        "name = \"endpoint\"\nusers = [\"acme\"]\niterations = 2\nthresholds = [\"files.lost==0\"]\n[closed]\nsessions = 2\nfiles_per_session = 3\n",
    )
    .unwrap();
    let json = dir.path().join("load.json");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["load", "--file"])
        .arg(&profile)
        .args(["--target", "endpoint", "--endpoint-url", &endpoint, "--json"])
        .arg(&json)
        .env("RUST_LOG", "error")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "load on the endpoint:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["accounting"]["verified"], 6, "{r}");

    // The scenarios that need the simulator's S3 (faults in it) are skipped, never passed.
    for scenario in ["overwrite-during-copy", "checksum-mismatch"] {
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["scenario", scenario, "--target", "endpoint", "--endpoint-url", &endpoint])
            .env("RUST_LOG", "error")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{scenario}:\n{text}");
        assert!(text.contains("SKIP  [target]") && text.contains("needs the embedded simulator's S3"), "{text}");
    }
}
