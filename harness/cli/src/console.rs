//! The console: one line per check as a run goes, colored on a terminal, plain in CI logs. The
//! only place a run's results are printed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::report::{Check, Event, Outcome, Progress, Report};
use crate::scenario::{Scenario, ScenarioError};
use crate::targets::{StackOutputs, Target};

/// Prints a run's events to standard output.
pub struct Console {
    plain: bool,
}

impl Default for Console {
    fn default() -> Self {
        // CI logs get plain lines; a terminal gets the same lines with a colored mark.
        Self { plain: !std::io::stdout().is_terminal() || std::env::var_os("CI").is_some() }
    }
}

impl Console {
    /// The line a check prints (without color when `plain`).
    pub fn check_line(check: &Check, plain: bool) -> String {
        let (mark, color) = match &check.outcome {
            Outcome::Pass => ("PASS", "32"),
            Outcome::Fail(_) => ("FAIL", "31"),
            Outcome::Skipped(_) => ("SKIP", "33"),
        };
        let mark = if plain { mark.to_string() } else { format!("\x1b[{color}m{mark}\x1b[0m") };
        let mut line = format!("  {mark}  [{}] {} [{} ms]", check.stage, check.name, check.elapsed.as_millis());
        if !check.detail.is_empty() {
            line.push_str(&format!(" ({})", check.detail));
        }
        match &check.outcome {
            Outcome::Fail(reason) => line.push_str(&format!("\n        reason: {reason}")),
            Outcome::Skipped(reason) => line.push_str(&format!("\n        skipped: {reason}")),
            Outcome::Pass => {}
        }
        line
    }

    /// The one-line verdict of a scenario.
    pub fn summary_line(r: &Report) -> String {
        let verdict = if r.failed() == 0 { "PASSED" } else { "FAILED" };
        format!(
            "scenario {} {verdict}: {} checks, {} passed, {} failed, {} skipped in {:.1}s",
            r.scenario,
            r.checks.len(),
            r.passed(),
            r.failed(),
            r.skipped(),
            r.elapsed.as_secs_f64()
        )
    }

    /// Prints text as it is (a schema, a document).
    pub fn print(text: &str) {
        print!("{text}");
    }

    /// Prints each file's validity; returns how many are invalid.
    pub fn validated(results: &[(PathBuf, Result<Scenario, ScenarioError>)]) -> usize {
        let mut bad = 0;
        for (f, r) in results {
            match r {
                Ok(s) => println!("ok       {} ({})", f.display(), s.name),
                Err(e) => {
                    bad += 1;
                    println!("invalid  {e}");
                }
            }
        }
        println!("{} scenario file(s), {bad} invalid", results.len());
        bad
    }

    /// Prints the scenario list.
    pub fn listed(scenarios: &[(String, Result<Scenario, ScenarioError>)]) {
        for (name, r) in scenarios {
            match r {
                Ok(s) => println!("{name:<20} {:<28} {}", s.tags.join(","), s.description.trim()),
                Err(e) => println!("{name:<20} (invalid: {e})"),
            }
        }
    }

    /// Prints the target an outputs document describes (`harness stack show`).
    pub fn stack(path: &Path, outputs: &StackOutputs, t: &Target) {
        println!("target aws ({})", path.display());
        println!(
            "  sftp        {}:{}  host key {}",
            t.sftp_host,
            t.sftp_port,
            t.host_key_fingerprint.as_deref().unwrap_or("(not pinned)")
        );
        println!("  users       {}", outputs.sftp.users.join(", "));
        println!("  region      {}", t.region);
        println!("  buckets     {} -> {}", t.source_bucket, t.destination_bucket);
        println!("  table       {}", t.table);
        println!("  machine     {}", t.state_machine_arn);
        println!(
            "  logs        {} (sessions), {} (function), {} (executions)",
            t.sftp_log_group, t.function_log_group, t.state_machine_log_group
        );
        println!("  dead letter {}", t.dead_letter_queue.as_deref().unwrap_or("(none)"));
    }

    /// Prints what each scenario would run on, or why it could not (`--dry-run`): the number
    /// that could not.
    pub fn dry_run(planned: &[(String, anyhow::Result<crate::targets::DryRun>)]) -> usize {
        let mut bad = 0;
        for (name, r) in planned {
            match r {
                Ok(d) => {
                    let accounts: Vec<String> = d.accounts.iter().map(|(u, a)| format!("{u} as {a}")).collect();
                    println!("would run {name:<20} on {}: {}", d.description, accounts.join(", "));
                }
                Err(e) => {
                    bad += 1;
                    println!("cannot run {name:<19} {e:#}");
                }
            }
        }
        bad
    }

    /// Prints `harness bench load`'s table: medians, and harness/OpenSSH ratios (above 1 is the
    /// harness ahead; for CPU per GiB, OpenSSH/harness so that above 1 is the harness ahead too).
    /// `harness bench upload`'s figures, as ratios to their anchors.
    pub fn upload_bench(b: &crate::bench::upload::UploadBench) {
        let mib = b.size as f64 / (1u64 << 20) as f64;
        println!("one {mib:.0} MiB file, {}, medians of {} rounds:", b.cipher, b.openssh_to_sshd.rounds.len());
        println!(
            "  simulator       {:>7.1} MiB/s  vs sshd {:>7.1} MiB/s  = {:.2}x  (OpenSSH sftp client to both)",
            b.openssh_to_sim.median, b.openssh_to_sshd.median, b.sim_vs_sshd
        );
        println!(
            "  harness client  {:>7.1} MiB/s  vs OpenSSH sftp {:>7.1} MiB/s  = {:.2}x  (both to sshd)",
            b.harness_to_sshd.median, b.openssh_to_sshd.median, b.harness_vs_openssh
        );
        println!(
            "  simulator memory: {:.0} MiB resident after start-up, peak {:.0} MiB after the rounds",
            b.sim_rss_start_mib, b.sim_peak_after_rounds_mib
        );
        if b.peak_size > 0 {
            println!(
                "                    peak {:.0} MiB after a {:.0} MiB upload",
                b.sim_peak_mib,
                b.peak_size as f64 / (1u64 << 20) as f64
            );
        }
        if let Some(s) = &b.scenario {
            println!(
                "  scenario upload of {:.0} MiB: {:.2} s ({:.1} MiB/s), destination check {:.2} s, run {:.2} s",
                s.size as f64 / (1u64 << 20) as f64,
                s.upload_s,
                s.size as f64 / (1u64 << 20) as f64 / s.upload_s.max(1e-9),
                s.destination_check_s,
                s.wall_s
            );
        }
    }

    /// `harness bench startup`'s figures, against moto's server start-up.
    pub fn soak_bench(s: &crate::bench::soak::Soak, problems: &[String]) {
        println!(
            "  files      {} uploaded, {} transferred, {} verified, {} lost; peak {} sessions at once",
            s.uploaded, s.transferred, s.verified, s.lost, s.peak_sessions
        );
        println!(
            "  pace       {:.1} s, {:.1} files/s, close -> transferred p99 {:.0} ms",
            s.wall_s, s.files_per_s, s.pipeline_p99_ms
        );
        let after: Vec<String> = s.rss_after_mib.iter().map(|m| format!("{m:.0}")).collect();
        println!(
            "  sim RSS    {:.0} MiB before, {:.0} MiB peak, after each round {} MiB (bound {:.0} MiB)",
            s.rss_before_mib,
            s.rss_peak_mib,
            after.join(" / "),
            s.max_rss_mib
        );
        if problems.is_empty() {
            println!("soak PASSED");
        } else {
            println!("soak FAILED: {}", problems.join("; "));
        }
    }

    pub fn startup_bench(b: &crate::bench::startup::StartupBench) {
        println!("medians of {} rounds:", b.rounds);
        println!(
            "  harness sim ready   {:>7.0} ms   moto server ready {:>7.0} ms   = {:.3}x",
            b.sim_ready * 1e3,
            b.moto_ready * 1e3,
            b.sim_ready / b.moto_ready.max(1e-9)
        );
        println!(
            "  smoke scenario wall {:>7.0} ms   moto server ready {:>7.0} ms   = {:.3}x",
            b.smoke_wall * 1e3,
            b.moto_ready * 1e3,
            b.smoke_wall / b.moto_ready.max(1e-9)
        );
    }

    pub fn load_bench(rows: &[crate::bench::load::Row]) {
        println!(
            "{:>8} | {:>10} {:>10} {:>6} | {:>9} {:>9} {:>6} | {:>11} {:>11} {:>6}",
            "sessions",
            "files/s h",
            "files/s o",
            "ratio",
            "MiB/s h",
            "MiB/s o",
            "ratio",
            "CPU-s/GiB h",
            "CPU-s/GiB o",
            "ratio"
        );
        for r in rows {
            let (h, o) = (&r.harness, &r.openssh);
            println!(
                "{:>8} | {:>10.1} {:>10.1} {:>6.2} | {:>9.1} {:>9.1} {:>6.2} | {:>11.2} {:>11.2} {:>6.2}",
                r.sessions,
                h.files_per_s,
                o.files_per_s,
                h.files_per_s / o.files_per_s.max(1e-9),
                h.mib_per_s,
                o.mib_per_s,
                h.mib_per_s / o.mib_per_s.max(1e-9),
                h.cpu_s_per_gib,
                o.cpu_s_per_gib,
                o.cpu_s_per_gib / h.cpu_s_per_gib.max(1e-9),
            );
        }
    }

    /// Prints one round of `harness bench pipeline`.
    pub fn pipeline_round(r: &crate::bench::pipeline::Round) {
        println!(
            "  {:>4} sessions (held {:>4}): {:>6} files {:>7.1} files/s  recorded p50 {:>7.1} ms p99 {:>7.1} ms  seen p50 {:>7.1} ms p99 {:>7.1} ms  upload p99 {:>7.1} ms{}",
            r.sessions,
            r.peak_sessions,
            r.files,
            r.files_per_s,
            r.recorded_p50_ms,
            r.recorded_p99_ms,
            r.pipeline_p50_ms,
            r.pipeline_p99_ms,
            r.upload_p99_ms,
            if r.errors.is_empty() { String::new() } else { format!("  errors: {}", r.errors.join(", ")) }
        );
    }

    /// Prints `harness bench pipeline`'s medians and the most sessions held.
    pub fn pipeline_bench(
        rounds: &[crate::bench::pipeline::Round],
        best: Option<&crate::bench::pipeline::Round>,
        bad: Option<&crate::bench::pipeline::Round>,
    ) {
        let median = |f: fn(&crate::bench::pipeline::Round) -> f64| {
            let mut v: Vec<f64> = rounds.iter().map(f).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        println!(
            "median of {} rounds: close -> transferred by the record's timestamp p50 {:.1} ms, p99 {:.1} ms; as the harness saw it p50 {:.1} ms, p99 {:.1} ms; {:.1} files/s",
            rounds.len(),
            median(|r| r.recorded_p50_ms),
            median(|r| r.recorded_p99_ms),
            median(|r| r.pipeline_p50_ms),
            median(|r| r.pipeline_p99_ms),
            median(|r| r.files_per_s)
        );
        match (best, bad) {
            (Some(b), Some(x)) => println!(
                "most sessions held with no error: {} ({} failed: {})",
                b.peak_sessions,
                x.sessions,
                if x.errors.is_empty() { format!("only {} held", x.peak_sessions) } else { x.errors.join(", ") }
            ),
            (Some(b), None) => println!("most sessions held with no error: {} (the cap)", b.peak_sessions),
            (None, Some(x)) => println!("sessions held: none without error ({}: {})", x.sessions, x.errors.join(", ")),
            (None, None) => {}
        }
    }

    /// Prints the verdict over several scenarios.
    pub fn totals(&self, reports: &[Report]) {
        if reports.len() > 1 {
            let bad = reports.iter().filter(|r| r.failed() > 0).count();
            println!("{} scenarios, {} passed, {bad} failed", reports.len(), reports.len() - bad);
        }
    }
}

impl Progress for Console {
    fn on(&mut self, event: Event<'_>) {
        match event {
            Event::Started { scenario, description } => println!("scenario {scenario}: {}", description.trim()),
            Event::Target(t) => println!("target {t}"),
            Event::Check(c) => println!("{}", Self::check_line(c, self.plain)),
            Event::Finished(r) => println!("{}", Self::summary_line(r)),
        }
    }
}

/// Prints a load run: a live line on a terminal (indicatif), plain lines every few seconds in CI,
/// then the summary.
pub struct LoadConsole {
    bar: Option<indicatif::ProgressBar>,
}

impl Default for LoadConsole {
    fn default() -> Self {
        let plain = !std::io::stdout().is_terminal() || std::env::var_os("CI").is_some();
        let bar = (!plain).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Self { bar }
    }
}

fn p99_ms(m: &crate::load::metrics::Metrics, metric: crate::load::metrics::Metric) -> String {
    m.totals
        .get(&metric)
        .filter(|h| !h.is_empty())
        .map_or("-".into(), |h| format!("{:.1}ms", h.value_at_quantile(0.99) as f64 / 1000.0))
}

impl LoadConsole {
    fn line(&self, text: String) {
        match &self.bar {
            Some(b) => b.println(text),
            None => println!("{text}"),
        }
    }
}

impl crate::load::LoadProgress for LoadConsole {
    fn started(
        &mut self,
        p: &crate::load::profile::Profile,
        target: &str,
        shard: crate::load::plan::Shard,
        warnings: &[String],
    ) {
        self.line(format!("load {}: {}", p.name, p.description.trim()));
        self.line(format!("target {target}; shard {shard}"));
        for w in warnings {
            self.line(format!("  WARN  {w}"));
        }
    }

    fn tick(&mut self, phase: crate::load::Phase, s: &crate::load::sample::Snapshot, in_pipeline: u64) {
        use crate::load::metrics::Metric;
        let c = s.metrics.total_counters();
        let secs = s.elapsed.as_secs_f64().max(1e-3);
        let what = match phase {
            crate::load::Phase::Loading => "loading ",
            crate::load::Phase::Draining => "draining",
        };
        let text = format!(
            "{what} {:>6.1}s  sessions {:>4}  files {:>7} ({:.1}/s, {:.2} MiB/s)  transferred {:>7}{}  errors {:>4}  upload p99 {}  pipeline p99 {}",
            secs,
            s.sessions,
            c.files,
            c.files as f64 / secs,
            c.bytes as f64 / 1048576.0 / secs,
            c.transferred,
            if in_pipeline > 0 { format!(" ({in_pipeline} in the pipeline)") } else { String::new() },
            s.metrics.error_count(),
            p99_ms(&s.metrics, Metric::Upload),
            p99_ms(&s.metrics, Metric::Pipeline),
        );
        match &self.bar {
            Some(b) => b.set_message(text),
            None => println!("{text}"),
        }
    }

    fn note(&mut self, line: &str) {
        self.line(line.to_string());
    }

    fn finished(&mut self, r: &crate::load::report::LoadReport) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        LoadConsole::summary(r);
    }
}

impl LoadConsole {
    /// Prints each profile `harness load validate` checked, with its quota warnings; returns
    /// how many are invalid.
    pub fn validated(checked: &[(PathBuf, Result<crate::load::commands::Valid, String>)]) -> usize {
        for (f, result) in checked {
            match result {
                Ok(v) => {
                    println!("ok       {} ({})", f.display(), v.name);
                    for w in &v.warnings {
                        println!("  WARN   {w}");
                    }
                }
                Err(e) => println!("invalid  {e}"),
            }
        }
        let bad = checked.iter().filter(|(_, r)| r.is_err()).count();
        println!("{} load profile(s), {bad} invalid", checked.len());
        bad
    }

    /// Prints the replay profile (to standard output when it was not written to a file).
    pub fn replayed(r: &crate::load::commands::Replayed, written_to: Option<&Path>) {
        match written_to {
            Some(path) => {
                println!("wrote {}: {} session(s), at most {} at once", path.display(), r.sessions, r.peak_sessions)
            }
            None => print!("{}", r.profile),
        }
    }

    /// Prints a load report's summary (also for `load merge`).
    pub fn summary(r: &crate::load::report::LoadReport) {
        println!(
            "{} sessions (at most {} at once), {} files, {:.1} MiB in {:.1}s: {:.1} files/s, {:.2} MiB/s",
            r.totals.sessions,
            r.peak_sessions,
            r.totals.files,
            r.totals.bytes as f64 / 1048576.0,
            r.elapsed().as_secs_f64(),
            r.files_per_s,
            r.mib_per_s
        );
        println!("  {:<18} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}", "stage", "count", "p50", "p90", "p99", "p99.9", "max");
        for s in &r.stages {
            println!(
                "  {:<18} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {}",
                s.metric, s.count, s.p50, s.p90, s.p99, s.p999, s.max, s.unit
            );
        }
        match &r.accounting {
            Some(a) => println!(
                "files: {} uploaded, {} transferred ({} verified), {} failed, {} lost, {} wrong, {} duplicated",
                a.uploaded, a.transferred, a.verified, a.failed, a.lost, a.wrong, a.duplicated
            ),
            None => println!("files: not followed through the pipeline (no AWS credentials)"),
        }
        for (class, e) in &r.errors {
            println!("  error {class}: {} (first: {})", e.count, e.example);
        }
        if let Some(a) = &r.accounting {
            for p in &a.problems {
                println!("  problem: {p}");
            }
        }
        for t in &r.thresholds {
            let mark = match (&t.skipped, t.passed) {
                (Some(_), _) => "SKIP",
                (None, true) => "PASS",
                (None, false) => "FAIL",
            };
            let seen = t.skipped.as_deref().unwrap_or(&t.observed);
            println!("  {mark}  threshold {} ({seen})", t.threshold);
        }
        let verdict = if r.passed() { "PASSED".to_string() } else { format!("FAILED: {}", r.failures.join("; ")) };
        println!("load {} {verdict}", r.profile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_mark_stage_evidence_and_reason() {
        let r = crate::report::sample();
        let line = Console::check_line(&r.checks[1], true);
        assert_eq!(line, "  FAIL  [s3] record [5 ms] (sha256 ab)\n        reason: status is \"failed\"");
        assert!(Console::check_line(&r.checks[0], false).contains("\x1b[32mPASS"));
        assert_eq!(Console::summary_line(&r), "scenario smoke FAILED: 3 checks, 1 passed, 1 failed, 1 skipped in 1.0s");
    }
}
