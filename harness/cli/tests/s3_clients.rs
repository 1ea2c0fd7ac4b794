//! The S3 calls real clients make, against `harness sim`: the aws CLI, boto3, rclone and s3cmd
//! each make a bucket, upload (small and multipart), list, sync, read back and delete, through
//! the simulator's S3 endpoint. Each tool is skipped with a message where it is not installed
//! (and under `CI=true`, where `.ci/run` installs them, its absence fails the test).

mod common;

use std::path::Path;
use std::process::Command;

use common::{SimProcess, aws, start_sim};

/// Whether `tool` runs (a failure under CI where it does not).
fn needs(tool: &str, arg: &str) -> bool {
    testkit::need(&[(tool, arg)])
}

fn files(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.csv"), "id,amount\n1,2\n").unwrap();
    std::fs::write(dir.join("sub/b.csv"), "id,amount\n3,4\n").unwrap();
    // Above the CLIs' 8 MiB multipart threshold.
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(dir.join("big.bin"), big).unwrap();
}

fn ok(out: &(bool, String), what: &str) {
    assert!(out.0, "{what}: {}", out.1);
}

#[test]
fn aws_cli_cp_sync_ls_rm_and_s3api() {
    if !needs("aws", "--version") {
        return;
    }
    let sim = start_sim();
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let d = dir.path().to_str().unwrap();
    ok(&aws(&sim, &["s3", "mb", "s3://cli-bucket"]), "mb");
    ok(
        &aws(
            &sim,
            &[
                "s3api",
                "put-bucket-versioning",
                "--bucket",
                "cli-bucket",
                "--versioning-configuration",
                "Status=Enabled",
            ],
        ),
        "versioning",
    );
    ok(&aws(&sim, &["s3", "cp", &format!("{d}/big.bin"), "s3://cli-bucket/big.bin"]), "cp (multipart)");
    ok(&aws(&sim, &["s3", "sync", d, "s3://cli-bucket/sync/"]), "sync");
    let ls = aws(&sim, &["s3", "ls", "s3://cli-bucket/", "--recursive"]);
    ok(&ls, "ls");
    for key in ["big.bin", "sync/a.csv", "sync/sub/b.csv", "sync/big.bin"] {
        assert!(ls.1.contains(key), "ls lacks {key}: {}", ls.1);
    }
    // A second sync finds nothing to do (sizes and times match).
    let again = aws(&sim, &["s3", "sync", d, "s3://cli-bucket/sync/"]);
    ok(&again, "sync again");
    assert!(!again.1.contains("upload:"), "a second sync uploaded again: {}", again.1);
    let back = dir.path().join("back.bin");
    ok(&aws(&sim, &["s3", "cp", "s3://cli-bucket/big.bin", back.to_str().unwrap()]), "cp back");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(dir.path().join("big.bin")).unwrap());
    // ListObjects v1 with a delimiter, GetObjectAttributes, tagging, conditional writes.
    let v1 = aws(&sim, &["s3api", "list-objects", "--bucket", "cli-bucket", "--prefix", "sync/", "--delimiter", "/"]);
    ok(&v1, "list-objects");
    assert!(v1.1.contains("\"sync/sub/\"") && v1.1.contains("sync/a.csv"), "{}", v1.1);
    let attrs = aws(
        &sim,
        &[
            "s3api",
            "get-object-attributes",
            "--bucket",
            "cli-bucket",
            "--key",
            "big.bin",
            "--object-attributes",
            "ETag",
            "Checksum",
            "ObjectParts",
            "ObjectSize",
            "StorageClass",
        ],
    );
    ok(&attrs, "get-object-attributes");
    assert!(attrs.1.contains("\"ObjectSize\": 9437184") && attrs.1.contains("TotalPartsCount"), "{}", attrs.1);
    ok(
        &aws(
            &sim,
            &[
                "s3api",
                "put-object-tagging",
                "--bucket",
                "cli-bucket",
                "--key",
                "big.bin",
                "--tagging",
                "TagSet=[{Key=team,Value=intake}]",
            ],
        ),
        "tag",
    );
    let tags = aws(&sim, &["s3api", "get-object-tagging", "--bucket", "cli-bucket", "--key", "big.bin"]);
    assert!(tags.1.contains("intake"), "{}", tags.1);
    let again = aws(
        &sim,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "cli-bucket",
            "--key",
            "big.bin",
            "--if-none-match",
            "*",
            "--body",
            &format!("{d}/a.csv"),
        ],
    );
    assert!(!again.0 && again.1.contains("PreconditionFailed"), "If-None-Match on an existing key: {}", again.1);
    // Versions and delete markers.
    ok(&aws(&sim, &["s3", "rm", "s3://cli-bucket/sync/", "--recursive"]), "rm --recursive");
    let ls = aws(&sim, &["s3", "ls", "s3://cli-bucket/sync/", "--recursive"]);
    assert!(!ls.1.contains("a.csv"), "rm left {}", ls.1);
    let versions = aws(&sim, &["s3api", "list-object-versions", "--bucket", "cli-bucket", "--prefix", "sync/a.csv"]);
    ok(&versions, "list-object-versions");
    assert!(versions.1.contains("DeleteMarkers") && versions.1.contains("\"IsLatest\": true"), "{}", versions.1);
}

#[test]
fn boto3_uploads_lists_and_deletes() {
    let python = match testkit::python_module("boto3") {
        Ok(python) => python,
        Err(why) => return testkit::unavailable("boto3", &why),
    };
    let sim = start_sim();
    let script = r#"
import sys, boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1")
s3.create_bucket(Bucket="boto-bucket")
s3.put_object(Bucket="boto-bucket", Key="a.csv", Body=b"id\n1\n", Metadata={"partner": "acme"})
big = bytes(i % 251 for i in range(12 * 1024 * 1024))
s3.upload_fileobj(__import__("io").BytesIO(big), "boto-bucket", "big.bin", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
head = s3.head_object(Bucket="boto-bucket", Key="big.bin", ChecksumMode="ENABLED")
assert head["ContentLength"] == len(big), head
got = s3.get_object(Bucket="boto-bucket", Key="big.bin", ChecksumMode="ENABLED")["Body"].read()
assert got == big
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-bucket", PaginationConfig={"PageSize": 1}) for o in p.get("Contents", [])]
assert keys == ["a.csv", "big.bin"], keys
out = s3.delete_objects(Bucket="boto-bucket", Delete={"Objects": [{"Key": "a.csv"}, {"Key": "big.bin"}]})
assert sorted(d["Key"] for d in out["Deleted"]) == ["a.csv", "big.bin"], out
assert s3.list_objects_v2(Bucket="boto-bucket")["KeyCount"] == 0
print("boto3 ok", head.get("ChecksumType"))
"#;
    let out = python
        .command()
        .args(["-c", script, sim.get("aws"), sim.get("access_key_id"), sim.get("secret_access_key")])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("boto3 ok"), "{text}");
}

fn rclone(sim: &SimProcess, args: &[&str]) -> (bool, String) {
    let out = Command::new("rclone")
        .args(args)
        // rclone 1.60 refuses a custom CA bundle with its own HTTP transport, even for http://.
        .env_remove("AWS_CA_BUNDLE")
        .env("RCLONE_CONFIG", "/dev/null")
        .env("RCLONE_CONFIG_SIM_TYPE", "s3")
        .env("RCLONE_CONFIG_SIM_PROVIDER", "Other")
        .env("RCLONE_CONFIG_SIM_ENDPOINT", sim.get("aws"))
        .env("RCLONE_CONFIG_SIM_ACCESS_KEY_ID", sim.get("access_key_id"))
        .env("RCLONE_CONFIG_SIM_SECRET_ACCESS_KEY", sim.get("secret_access_key"))
        .env("RCLONE_CONFIG_SIM_REGION", "us-east-1")
        .env("RCLONE_CONFIG_SIM_FORCE_PATH_STYLE", "true")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn rclone_copies_syncs_checks_and_deletes() {
    if !needs("rclone", "version") {
        return;
    }
    let sim = start_sim();
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let d = dir.path().to_str().unwrap();
    ok(&rclone(&sim, &["mkdir", "sim:rclone-bucket"]), "mkdir");
    ok(&rclone(&sim, &["copy", d, "sim:rclone-bucket/copy"]), "copy");
    ok(&rclone(&sim, &["sync", d, "sim:rclone-bucket/sync"]), "sync");
    // rclone check compares sizes and MD5 hashes (ETags) of every file.
    ok(&rclone(&sim, &["check", d, "sim:rclone-bucket/sync"]), "check");
    let ls = rclone(&sim, &["ls", "sim:rclone-bucket"]);
    ok(&ls, "ls");
    for key in ["copy/a.csv", "copy/sub/b.csv", "sync/big.bin"] {
        assert!(ls.1.contains(key), "ls lacks {key}: {}", ls.1);
    }
    ok(&rclone(&sim, &["delete", "sim:rclone-bucket/copy"]), "delete");
    let ls = rclone(&sim, &["ls", "sim:rclone-bucket/copy"]);
    assert!(ls.1.trim().is_empty(), "delete left {}", ls.1);
}

#[test]
fn s3cmd_puts_syncs_lists_and_deletes() {
    if !needs("s3cmd", "--version") {
        return;
    }
    let sim = start_sim();
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let d = format!("{}/", dir.path().display());
    let host = sim.get("aws").trim_start_matches("http://").to_string();
    let s3cmd = |args: &[&str]| {
        let out = Command::new("s3cmd")
            .args(["--config", "/dev/null", "--no-ssl", "--host", &host, "--host-bucket", &host])
            .args(["--access_key", sim.get("access_key_id"), "--secret_key", sim.get("secret_access_key")])
            .args(["--region", "us-east-1", "--multipart-chunk-size-mb", "5"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    ok(&s3cmd(&["mb", "s3://s3cmd-bucket"]), "mb");
    ok(&s3cmd(&["put", &format!("{d}big.bin"), "s3://s3cmd-bucket/big.bin"]), "put (multipart)");
    ok(&s3cmd(&["sync", &d, "s3://s3cmd-bucket/sync/"]), "sync");
    let ls = s3cmd(&["ls", "--recursive", "s3://s3cmd-bucket"]);
    ok(&ls, "ls");
    for key in ["big.bin", "sync/a.csv", "sync/sub/b.csv"] {
        assert!(ls.1.contains(key), "ls lacks {key}: {}", ls.1);
    }
    let back = dir.path().join("back.bin");
    ok(&s3cmd(&["get", "s3://s3cmd-bucket/big.bin", back.to_str().unwrap()]), "get");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(dir.path().join("big.bin")).unwrap());
    ok(&s3cmd(&["del", "--recursive", "--force", "s3://s3cmd-bucket/sync/"]), "del");
    let ls = s3cmd(&["ls", "--recursive", "s3://s3cmd-bucket/sync/"]);
    assert!(!ls.1.contains("a.csv"), "del left {}", ls.1);
}
