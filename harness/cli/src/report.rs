//! The console report: one line per check, then a summary.

use std::time::Duration;

/// How a check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It held.
    Pass,
    /// It did not; the reason says what was seen.
    Fail(String),
}

/// One check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Stage (`sftp`, `s3`, `dynamodb`, `stepfunctions`, `logs`).
    pub stage: &'static str,
    /// What was checked.
    pub name: String,
    /// Result.
    pub outcome: Outcome,
    /// Evidence (size, hash, ARN, ...).
    pub detail: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// The checks of one run, printed as they come.
#[derive(Default)]
pub struct Report {
    checks: Vec<Check>,
}

impl Report {
    /// Records and prints a check.
    pub fn add(&mut self, check: Check) {
        let mark = match &check.outcome {
            Outcome::Pass => "PASS".to_string(),
            Outcome::Fail(_) => "FAIL".to_string(),
        };
        let mut line = format!("  {mark}  [{}] {} [{} ms]", check.stage, check.name, check.elapsed.as_millis());
        if !check.detail.is_empty() {
            line.push_str(&format!(" ({})", check.detail));
        }
        if let Outcome::Fail(reason) = &check.outcome {
            line.push_str(&format!("\n        reason: {reason}"));
        }
        println!("{line}");
        self.checks.push(check);
    }

    /// Number of failed checks.
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| c.outcome != Outcome::Pass).count()
    }

    /// Prints the one-line summary.
    pub fn summary(&self, scenario: &str, elapsed: Duration) {
        let failed = self.failed();
        let verdict = if failed == 0 { "PASSED" } else { "FAILED" };
        println!(
            "scenario {scenario} {verdict}: {} checks, {} passed, {failed} failed in {:.1}s",
            self.checks.len(),
            self.checks.len() - failed,
            elapsed.as_secs_f64()
        );
    }
}
