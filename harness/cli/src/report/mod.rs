//! Reports as plain data: every check of a run with its outcome and evidence, and a writer per
//! file format: [`json`], [`junit`] and [`html`]; a load run's report is [`crate::load::report`].
//! Nothing here prints: the console ([`crate::console`]) is the one printer.

pub mod html;
pub mod json;
pub mod junit;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// The report files a run writes besides the console: the same flags for scenarios and load.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Files {
    /// Write the report as JSON (every check with its timing; a load run's statistics).
    #[arg(long, global = true, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write JUnit XML (a testcase per check; for load, per threshold).
    #[arg(long, global = true, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report (acceptance; for load, with charts).
    #[arg(long = "report", global = true, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

impl Files {
    /// Writes each file asked for, rendered by its format's writer (called only when asked).
    pub fn write(
        &self,
        json: impl FnOnce() -> String,
        junit: impl FnOnce() -> String,
        html: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        write_file(&self.json, json)?;
        write_file(&self.junit, junit)?;
        write_file(&self.html, html)
    }
}

/// Writes `render()` to `path`, if there is one.
fn write_file(path: &Option<PathBuf>, render: impl FnOnce() -> String) -> anyhow::Result<()> {
    use anyhow::Context;
    match path {
        Some(path) => std::fs::write(path, render()).with_context(|| format!("writing {}", path.display())),
        None => Ok(()),
    }
}

/// The part of the pipeline a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Whether the target can run the scenario at all.
    Target,
    /// The SFTP server: logins, uploads, listings, refusals.
    Sftp,
    /// Objects in the source and destination buckets.
    S3,
    /// The metadata table's records.
    Dynamodb,
    /// Rule deliveries and the dead-letter queue.
    Eventbridge,
    /// Executions and their history.
    Stepfunctions,
    /// Session logs and the function's log.
    Logs,
}

impl Stage {
    /// The name reports show (`sftp`, `s3`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Target => "target",
            Stage::Sftp => "sftp",
            Stage::S3 => "s3",
            Stage::Dynamodb => "dynamodb",
            Stage::Stepfunctions => "stepfunctions",
            Stage::Logs => "logs",
            Stage::Eventbridge => "eventbridge",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    /// It held.
    Pass,
    /// It did not; the reason says what was seen.
    Fail(String),
    /// Not run; the reason says why (never counted as passed).
    Skipped(String),
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The stage it looks at.
    pub stage: Stage,
    /// What was checked.
    pub name: String,
    /// Result.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Evidence (size, SHA-256, record status, execution ARN, log lines).
    pub detail: String,
    /// How long it took.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl Check {
    /// A check that was not run, and why.
    pub fn skipped(stage: Stage, name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            stage,
            name: name.into(),
            outcome: Outcome::Skipped(reason.into()),
            detail: String::new(),
            elapsed: Duration::ZERO,
        }
    }
}

pub(crate) fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The checks of one scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// Target (`embedded`, `aws`, ...) and where it was.
    pub target: String,
    /// SFTP users the run acted as.
    pub users: Vec<String>,
    /// When the run started (RFC 3339).
    pub started: String,
    /// Wall time of the run.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Report {
    /// A report for a run that starts now.
    pub fn new(scenario: &str, description: &str, users: Vec<String>) -> Self {
        Self {
            scenario: scenario.into(),
            description: description.trim().into(),
            target: String::new(),
            users,
            started: rfc3339(SystemTime::now()),
            elapsed: Duration::ZERO,
            checks: Vec::new(),
        }
    }

    /// Number of failed checks.
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Fail(_))).count()
    }

    /// Number of skipped checks.
    pub fn skipped(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Skipped(_))).count()
    }

    /// Number of passed checks.
    pub fn passed(&self) -> usize {
        self.checks.len() - self.failed() - self.skipped()
    }
}

/// What a run tells its observer as it goes (the console prints it; tests may ignore it).
#[derive(Debug)]
pub enum Event<'a> {
    /// A scenario starts.
    Started {
        /// Its name.
        scenario: &'a str,
        /// Its description.
        description: &'a str,
    },
    /// The target is resolved and reachable.
    Target(&'a str),
    /// A check finished.
    Check(&'a Check),
    /// The scenario ended.
    Finished(&'a Report),
}

/// Receives a run's events as they happen.
pub trait Progress {
    /// One event.
    fn on(&mut self, event: Event<'_>);
}

/// Ignores every event.
pub struct Quiet;

impl Progress for Quiet {
    fn on(&mut self, _event: Event<'_>) {}
}

/// Collects checks into a report while telling `progress` about each.
pub struct Recorder<'p> {
    /// The report so far.
    pub report: Report,
    progress: &'p mut dyn Progress,
}

impl<'p> Recorder<'p> {
    /// Starts a report and announces it.
    pub fn start(report: Report, progress: &'p mut dyn Progress) -> Self {
        progress.on(Event::Started { scenario: &report.scenario, description: &report.description });
        Self { report, progress }
    }

    /// Records where the run goes.
    pub fn target(&mut self, description: String) {
        self.progress.on(Event::Target(&description));
        self.report.target = description;
    }

    /// Records one check.
    pub fn add(&mut self, check: Check) {
        self.progress.on(Event::Check(&check));
        self.report.checks.push(check);
    }

    /// Records several checks.
    pub fn extend(&mut self, checks: impl IntoIterator<Item = Check>) {
        for c in checks {
            self.add(c);
        }
    }

    /// Ends the report.
    pub fn finish(mut self, elapsed: Duration) -> Report {
        self.report.elapsed = elapsed;
        self.progress.on(Event::Finished(&self.report));
        self.report
    }
}

/// Escapes text for XML and HTML, dropping control characters XML cannot hold.
pub(crate) fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
pub(crate) fn sample() -> Report {
    let mut r = Report::new("smoke", "one <upload>", vec!["acme".into()]);
    r.target = "embedded".into();
    for (outcome, name) in [
        (Outcome::Pass, "uploads & checks"),
        (Outcome::Fail("status is \"failed\"".into()), "record"),
        (Outcome::Skipped("no AWS credentials".into()), "execution"),
    ] {
        r.checks.push(Check {
            stage: Stage::S3,
            name: name.into(),
            outcome,
            detail: "sha256 ab".into(),
            elapsed: Duration::from_millis(5),
        });
    }
    r.elapsed = Duration::from_secs(1);
    r
}
