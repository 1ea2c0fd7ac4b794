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
//! report/       the report as data; console (the only printer), json, junit, html
//! sftp_client   the russh SFTP client (pipelined writes), shared by scenarios and load
//! content       generated upload content and its SHA-256
//! function_zip  the deployable Lambda zip, checked and unpacked for the simulator to run
//! bench, sim_cmd  `harness bench`, `harness sim`
//! ```

pub mod bench;
pub mod content;
pub mod function_zip;
pub mod load;
pub mod probes;
pub mod report;
pub mod scenario;
pub mod sftp_client;
pub mod sim_cmd;
pub mod targets;
