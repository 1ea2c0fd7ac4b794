//! The `harness scenario` commands as data: which files are valid, which scenarios a selection
//! picks, and running them with every report written. The console prints what they return.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::file::{Scenario, ScenarioError};
use super::runner::run_scenario;
use crate::report::{self, Progress, Report};
use crate::targets::TargetSpec;

/// Where to write reports besides the console.
#[derive(Debug, Clone, Default)]
pub struct ReportFiles {
    /// `--json`.
    pub json: Option<PathBuf>,
    /// `--junit`.
    pub junit: Option<PathBuf>,
    /// `--report` (HTML).
    pub html: Option<PathBuf>,
}

/// Renders reports in one format.
type Writer = fn(&[Report]) -> String;

/// Each file and whether it loads.
pub fn validate(files: &[PathBuf]) -> Vec<(PathBuf, Result<Scenario, ScenarioError>)> {
    files.iter().map(|f| (f.clone(), Scenario::load(f))).collect()
}

/// Every scenario file of `dir`, by name, and whether it loads.
pub fn list(dir: &Path) -> Vec<(String, Result<Scenario, ScenarioError>)> {
    Scenario::list(dir).into_iter().map(|(name, path)| (name, Scenario::load(&path))).collect()
}

/// Every scenario of `dir` carrying one of `tags` (all when none are given).
pub fn select(dir: &Path, tags: &[String]) -> anyhow::Result<Vec<Scenario>> {
    let mut all = Vec::new();
    for (_, p) in Scenario::list(dir) {
        let s = Scenario::load(&p)?;
        if tags.is_empty() || tags.iter().any(|t| s.tags.contains(t)) {
            all.push(s);
        }
    }
    if all.is_empty() {
        bail!("no scenario in {} has the tag(s) {tags:?}", dir.display());
    }
    Ok(all)
}

/// Each scenario with what it would run on `spec`, or why it cannot: nothing is started or
/// contacted (`--dry-run`).
pub fn dry_run(scenarios: &[Scenario], spec: &TargetSpec) -> Vec<(String, anyhow::Result<crate::targets::DryRun>)> {
    scenarios
        .iter()
        .map(|s| (s.name.clone(), crate::targets::dry_run(spec, &super::runner::declared_users(s), &s.sim)))
        .collect()
}

/// Runs `scenarios` in order and writes the report files.
pub async fn run(
    scenarios: &[Scenario],
    spec: &TargetSpec,
    files: &ReportFiles,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<Report>> {
    let mut reports = Vec::new();
    for s in scenarios {
        reports.push(run_scenario(s, spec, progress).await?);
    }
    let writers: [(&Option<PathBuf>, Writer); 3] = [
        (&files.json, report::json::render),
        (&files.junit, report::junit::render),
        (&files.html, report::html::render),
    ];
    for (path, render) in writers {
        if let Some(path) = path {
            std::fs::write(path, render(&reports)).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(reports)
}
