//! The fuzz targets ([`targets`]) and what they share: one runtime, one simulator started once
//! per process, and the exchange of a fuzzer's bytes with a server over an in-memory byte
//! stream. libFuzzer drives the targets under `cargo fuzz` (feature `libfuzzer`);
//! `tests/replay.rs` replays the committed inputs through the same functions in every test run.

pub mod targets;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The SFTP user every simulator of the fuzz targets has.
pub const USER: &str = "fuzz";

/// The runtime every target runs its servers on (one worker: the machine fuzzes one target per
/// core).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime")
    })
}

fn infra_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra")
}

/// The simulator, started on first use with the shipped definitions, one SFTP user and a copy
/// function that exits at once (the targets test the services, not the function).
pub fn simulator() -> &'static sim::Simulator {
    static SIM: OnceLock<sim::Simulator> = OnceLock::new();
    SIM.get_or_init(|| {
        let key = russh::keys::ssh_key::PrivateKey::random(&mut rand::rng(), russh::keys::ssh_key::Algorithm::Ed25519)
            .expect("a key");
        let mut config = sim::SimConfig::new(infra_dir(), vec!["false".into()]);
        config.users = vec![sim::UserConfig::new(USER, vec![key.public_key().clone()])];
        config.data_dir = Some(data_dir());
        runtime().block_on(sim::Simulator::start(config)).expect("the simulator starts")
    })
}

/// A static is never dropped, so a temporary directory would outlive every run: one directory
/// per process under `target/fuzz-sim/`, named for the executable and its pid (the replay test
/// runs one process per input, several at once), and the directories of processes that have
/// ended are removed first.
fn data_dir() -> PathBuf {
    let exe = std::env::current_exe().ok().and_then(|p| p.file_stem().map(|n| n.to_string_lossy().into_owned()));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-sim");
    if cfg!(target_os = "linux") {
        let ended = |name: &str| {
            name.rsplit_once('-')
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| !std::path::Path::new("/proc").join(pid.to_string()).exists())
        };
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            if ended(&entry.file_name().to_string_lossy()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(format!("{}-{}", exe.unwrap_or_else(|| "fuzz".into()), std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Gateway routes whose S3 takes unsigned requests (so fuzzed requests reach the operations
/// rather than stop at SigV4), over a store of its own with the simulator's two buckets.
pub fn unsigned_s3_routes() -> Arc<sim::gateway::Routes> {
    static ROUTES: OnceLock<Arc<sim::gateway::Routes>> = OnceLock::new();
    ROUTES
        .get_or_init(|| {
            let _guard = runtime().enter();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            runtime().spawn(async move { while rx.recv().await.is_some() {} });
            let store = Arc::new(sim::s3::S3Store::new(tx).expect("an object store"));
            for (bucket, versioning) in [("source", sim::s3::Versioning::Enabled), ("destination", Default::default())]
            {
                let settings = sim::s3::BucketSettings { versioning, eventbridge: true };
                store.create_bucket_with(bucket, settings).expect("a bucket");
            }
            let faults = Arc::new(sim::s3::Faults::new(Vec::new()));
            let s3 = s3s::service::S3ServiceBuilder::new(sim::s3::S3Frontend::new(store, faults)).build();
            let invoker: sim::states::TaskInvoker = Arc::new(|_, payload| Box::pin(async move { Ok(payload) }));
            Arc::new(sim::gateway::Routes {
                s3,
                sfn: sim::states::StepFunctions::new(invoker, sim::states::Clock::default()),
                logs: Arc::new(sim::logs::LogStore::default()),
                // Nothing listens there: a DynamoDB request gets the gateway's own error.
                dynamodb: "127.0.0.1:9".parse().unwrap(),
                dynamodb_faults: Arc::default(),
                sqs: Arc::new(sim::sqs::Queues::new("http://127.0.0.1:1")),
                wrong_status: false,
                clock: Default::default(),
            })
        })
        .clone()
}

/// Writes `input` to a server over an in-memory stream while reading what it answers, until it
/// closes the stream after the input ends. A server still running 5 s after its input ended
/// hangs: that panics, a crash with the input saved.
pub fn exchange<F, Fut>(input: &[u8], serve: F) -> Vec<u8>
where
    F: FnOnce(tokio::io::DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    runtime().block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let served = tokio::spawn(serve(server));
        let (mut read, mut write) = tokio::io::split(client);
        let input = input.to_vec();
        let writer = async move {
            let _ = write.write_all(&input).await;
            let _ = write.shutdown().await;
            write
        };
        let reader = async move {
            let mut out = Vec::new();
            let _ = read.read_to_end(&mut out).await;
            out
        };
        let (_write, out) = tokio::join!(writer, reader);
        if tokio::time::timeout(Duration::from_secs(5), served).await.is_err() {
            panic!("the server was still running 5 s after its input ended");
        }
        out
    })
}
