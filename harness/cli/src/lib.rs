//! The partner-intake harness: runs scenarios (and load) against the embedded simulator, an
//! AWS-compatible endpoint or a deployed stack, and checks every stage of the pipeline.
//!
//! ```text
//! targets/      where a run goes: TargetSpec -> Session (Target, SDK Clients, SFTP accounts,
//!               the simulator when one runs); capabilities asked, not branched on
//! probes/       what a stage's state is, one module per AWS service; typed facts and errors
//! scenario/     the file model, the plan (pure), SFTP steps, checks, runner, commands
//! load/         `harness load`: profiles, the session engine, HDR metrics, the pipeline
//!               tracker, thresholds, shards and merge, replay
//! report/       the report as data, and its writers: json, junit, html
//! console       the only printer: a run's lines as it goes, summaries, benchmark tables
//! sftp_client   the russh SFTP client (pipelined writes), shared by scenarios and load
//! content       generated upload content and its SHA-256
//! named         scenario and profile files by name or by path
//! function_zip  the deployable Lambda zip, checked and unpacked for the simulator to run
//! bench, sim_cmd  `harness bench`, `harness sim`
//! ```

pub mod bench;
pub mod console;
pub mod content;
pub mod function_zip;
pub mod load;
pub mod named;
pub mod probes;
pub mod report;
pub mod scenario;
pub mod sftp_client;
pub mod sim_cmd;
pub mod targets;

/// `<workspace>/<name>` when run from a checkout, else `./<name>`: where `infra/` and
/// `scenarios/` are by default.
pub fn checkout_dir(name: &str) -> std::path::PathBuf {
    let from_checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    match from_checkout.canonicalize() {
        Ok(dir) if dir.is_dir() => dir,
        _ => std::path::PathBuf::from(name),
    }
}
