//! `harness bench`: measurements side by side with their anchors in one run, as ratios (never
//! timed assertions).
//!
//! ```text
//! copy    the copy function's CopyObject against UploadPartCopy
//! sshd    OpenSSH's sshd (internal-sftp) on loopback, the anchor of the SFTP figures
//! load    `harness load` against N OpenSSH `sftp -b` processes, to the same sshd
//! pipeline  N sessions of small files on the embedded target: close -> transferred, and the
//!         most sessions held with no error
//! upload  one large file: the simulator against sshd, the harness's client against OpenSSH's,
//!         the simulator's peak memory, a scenario's upload and destination check
//! startup `harness sim` ready and the smoke scenario's wall time, against moto's start-up
//! ```

pub mod copy;
pub mod load;
pub mod pipeline;
pub mod sim_process;
pub mod soak;
pub mod sshd;
pub mod startup;
pub mod upload;

pub use copy::{CopyBenchArgs, copy};

/// The benchmarks of `harness bench`.
#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Copy throughput: single CopyObject against multipart UploadPartCopy, side by side.
    Copy(CopyBenchArgs),
    /// `harness load` against as many OpenSSH `sftp -b` processes, to the same sshd.
    Load(load::LoadBenchArgs),
    /// Concurrent sessions of small files on the embedded target: close -> transferred.
    Pipeline(pipeline::PipelineBenchArgs),
    /// One large upload: the simulator against sshd, the harness's client against OpenSSH's.
    Upload(upload::UploadBenchArgs),
    /// `harness sim` ready and the smoke scenario's wall time, against moto's start-up.
    Startup(startup::StartupBenchArgs),
    /// Many concurrent sessions of many files against `harness sim` in its own process: no
    /// error, every file verified, the simulator's memory bounded.
    Soak(soak::SoakBenchArgs),
}

/// The middle of several rounds' figures (0 for none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// A load run's progress, unheard: a benchmark prints its own rounds.
pub struct Quiet;

impl crate::load::LoadProgress for Quiet {
    fn started(&mut self, _: &crate::load::profile::Profile, _: &str, _: crate::load::plan::Shard, _: &[String]) {}
    fn tick(&mut self, _: crate::load::Phase, _: &crate::load::sample::Snapshot, _: u64) {}
    fn note(&mut self, _: &str) {}
    fn finished(&mut self, _: &crate::load::report::LoadReport) {}
}

/// CPU seconds (user + system) used so far by this process, or by its waited-for children.
pub fn cpu_seconds(children: bool) -> f64 {
    // SAFETY: getrusage writes into the struct we own and reads nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let who = if children { libc::RUSAGE_CHILDREN } else { libc::RUSAGE_SELF };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}
