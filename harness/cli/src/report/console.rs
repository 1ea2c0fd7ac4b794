//! The console: one line per check as a run goes, colored on a terminal, plain in CI logs. The
//! only place a run's results are printed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::{Event, Outcome, Progress, Report};
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
    pub fn check_line(check: &super::Check, plain: bool) -> String {
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
        println!("  logs        {} (sessions), {} (function)", t.sftp_log_group, t.function_log_group);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_mark_stage_evidence_and_reason() {
        let r = super::super::sample();
        let line = Console::check_line(&r.checks[1], true);
        assert_eq!(line, "  FAIL  [s3] record [5 ms] (sha256 ab)\n        reason: status is \"failed\"");
        assert!(Console::check_line(&r.checks[0], false).contains("\x1b[32mPASS"));
        assert_eq!(Console::summary_line(&r), "scenario smoke FAILED: 3 checks, 1 passed, 1 failed, 1 skipped in 1.0s");
    }
}
