//! `harness bench copy`: the copy function's throughput, single CopyObject and multipart
//! UploadPartCopy measured side by side, alternating, in one run: on the simulator, on any
//! AWS-compatible endpoint, or in an AWS account, where it measures what `COPY_SINGLE_MIBPS`
//! should be set to (the function's single-copy limit is that rate times the time it has left).

use super::median;
use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use copy_lambda::copy::{Copier, Upload};
use copy_lambda::deadline::Deadline;

use crate::content::Content;
use crate::targets::Clients;

/// Options of `harness bench copy`.
#[derive(clap::Args)]
pub struct CopyBenchArgs {
    /// Object size in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Rounds (each copies once each way).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Part size for the multipart copy, in MiB.
    #[arg(long, default_value_t = 64)]
    part_mib: u64,
    /// Parts copied at once.
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    /// Measure at this AWS-compatible endpoint (credentials from the environment) instead of
    /// the simulator.
    #[arg(long, value_name = "URL", conflicts_with = "aws_region")]
    endpoint_url: Option<String>,
    /// Measure in AWS itself, in this region (credentials from the standard chain); two
    /// buckets are created and removed.
    #[arg(long, value_name = "REGION")]
    aws_region: Option<String>,
}

/// Runs the benchmark and prints MiB/s for both methods and their ratio.
pub async fn copy(args: CopyBenchArgs, infra: std::path::PathBuf) -> anyhow::Result<()> {
    let mut simulator = None;
    let (clients, place) = match (&args.endpoint_url, &args.aws_region) {
        (Some(url), _) => {
            let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into());
            let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into());
            (Clients::for_endpoint(url, sim::REGION, &key, &secret), url.clone())
        }
        (None, Some(region)) => {
            let c = Clients::from_environment(region).await.context("--aws-region needs AWS credentials")?;
            (c, format!("AWS {region}"))
        }
        (None, None) => {
            let s = sim::Simulator::start(sim::SimConfig::new(infra, vec!["true".into()]))
                .await
                .context("starting the simulator")?;
            let c = Clients::for_endpoint(&s.endpoints.aws, sim::REGION, sim::ACCESS_KEY_ID, sim::SECRET_ACCESS_KEY);
            simulator = Some(s);
            (c, "the simulator".to_string())
        }
    };
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let (src, dst, key) = (format!("bench-source-{run}"), format!("bench-destination-{run}"), "bench/object.bin");
    let (src, dst) = (src.as_str(), dst.as_str());
    clients.s3.create_bucket().bucket(src).send().await?;
    clients.s3.create_bucket().bucket(dst).send().await?;
    let size = args.size_mib * 1024 * 1024;
    let content = Content::Generated { size, seed: 7 };
    let part = 64 * 1024 * 1024u64;
    let up = clients.s3.create_multipart_upload().bucket(src).key(key).send().await?;
    let id = up.upload_id().unwrap_or_default().to_string();
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < size {
        let n = part.min(size - offset);
        let mut buf = vec![0u8; n as usize];
        content.fill(offset, &mut buf);
        let number = parts.len() as i32 + 1;
        let out = clients
            .s3
            .upload_part()
            .bucket(src)
            .key(key)
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from(buf))
            .send()
            .await?;
        parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(str::to_string)).build());
        offset += n;
    }
    clients
        .s3
        .complete_multipart_upload()
        .bucket(src)
        .key(key)
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await?;
    let deadline = Deadline::after(std::time::Duration::from_secs(3600));
    let upload = |file_id: &'static str| Upload {
        bucket: src,
        raw_key: key,
        version_id: "",
        etag: None,
        sequencer: "",
        file_id,
    };
    let source = Copier::new(clients.s3.clone(), copy_lambda::Config::from_vars(&BTreeMap::new())?)
        .inspect(&upload("inspect"), &deadline)
        .await?;

    let config = |threshold: u64| {
        copy_lambda::Config::from_vars(&BTreeMap::from([
            ("COPY_MULTIPART_THRESHOLD".to_string(), threshold.to_string()),
            ("COPY_PART_SIZE".to_string(), (args.part_mib * 1024 * 1024).to_string()),
            ("COPY_CONCURRENCY".to_string(), args.concurrency.to_string()),
        ]))
    };
    let single = Copier::new(clients.s3.clone(), config(copy_lambda::config::MAX_SINGLE_COPY)?);
    let multi = Copier::new(clients.s3.clone(), config(5 * 1024 * 1024)?);
    let mib = size as f64 / (1024.0 * 1024.0);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    println!("copying a {} MiB object on {place}, {} rounds", args.size_mib, args.rounds);
    for round in 1..=args.rounds {
        for (name, copier, rates) in [("CopyObject", &single, &mut a), ("UploadPartCopy", &multi, &mut b)] {
            let t = Instant::now();
            // A key of its own per copy: the destination guard would find an equal copy there.
            let dst_key = format!("bench/{round}-{name}.bin");
            let copied =
                copier.copy(&upload("bench"), &source, dst, &dst_key, None, async |_: &str| {}, &deadline).await?;
            let secs = t.elapsed().as_secs_f64();
            rates.push(mib / secs);
            println!("  round {round} {name:<15} {:<22} {secs:>7.3} s  {:>8.1} MiB/s", copied.method, mib / secs);
        }
    }
    let (ma, mb) = (median(a), median(b));
    println!("median: CopyObject {ma:.1} MiB/s, UploadPartCopy {mb:.1} MiB/s, ratio multipart/single {:.2}", mb / ma);
    println!("COPY_SINGLE_MIBPS={} (the function keeps 20% of its time spare on top)", ma.floor().max(1.0));
    // Leave nothing behind, in an account above all.
    for bucket in [src, dst] {
        let listed = clients.s3.list_object_versions().bucket(bucket).send().await?;
        for v in listed.versions() {
            let _ = clients
                .s3
                .delete_object()
                .bucket(bucket)
                .key(v.key().unwrap_or_default())
                .set_version_id(v.version_id().map(str::to_string))
                .send()
                .await;
        }
        let _ = clients.s3.delete_bucket().bucket(bucket).send().await;
    }
    if let Some(s) = simulator {
        s.shutdown();
    }
    Ok(())
}
