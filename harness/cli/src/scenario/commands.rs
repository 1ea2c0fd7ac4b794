//! The `harness scenario` commands: their flags, and each command as data (which files are
//! valid, which scenarios a selection picks, running them with every report written). Nothing
//! here prints: the CLI hands what they return to the console.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::file::{Scenario, ScenarioError};
use super::runner::run_scenario;
use crate::report::{self, Progress, Report};
use crate::targets::{Kind, Paths, TargetArgs, TargetSpec};

/// `harness scenario [NAME|PATH]`, or one of its subcommands.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScenarioCommand {
    #[command(subcommand)]
    pub action: Option<ScenarioAction>,
    /// Scenario name (`smoke`: scenarios/smoke.toml) or a scenario file's path.
    pub name: Option<String>,
    /// Run the scenario in this file instead.
    #[arg(long, conflicts_with = "name")]
    pub file: Option<PathBuf>,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub options: ScenarioOptions,
}

/// Options shared by every way of running scenarios.
#[derive(clap::Args, Debug, Clone)]
pub struct ScenarioOptions {
    /// Directory holding scenario files.
    #[arg(long, global = true, default_value_os_t = crate::checkout_dir("scenarios"))]
    pub scenarios: PathBuf,
    #[command(flatten)]
    pub files: report::Files,
    #[command(flatten)]
    pub to: TargetArgs,
    /// Check what would run (target, accounts, keys, settings) without running anything.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Break a stage on purpose (the harness's own tests: show a check fails when its stage does).
    #[arg(long = "break", global = true, hide = true, value_name = "NAME")]
    pub breaks: Vec<sim::breaks::Break>,
}

/// The subcommands of `harness scenario`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ScenarioAction {
    /// Check scenario files against the schema (all of scenarios/ when none are named).
    Validate {
        /// Files to check.
        files: Vec<PathBuf>,
    },
    /// Run every scenario, or those with a tag.
    All {
        /// Only scenarios with this tag (repeatable).
        #[arg(long)]
        tag: Vec<String>,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
}

/// The file a scenario's name or path, or `--file`, names.
pub fn chosen(dir: &Path, name: Option<&str>, file: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match (name, file) {
        (_, Some(f)) => Ok(f),
        (Some(n), None) => Ok(crate::named::resolve(dir, n)),
        (None, None) => bail!("name a scenario (see `harness scenario --list`) or pass --file PATH"),
    }
}

/// The files `validate` checks: those named, or every scenario of `dir`.
pub fn to_validate(dir: &Path, files: Vec<PathBuf>) -> Vec<PathBuf> {
    if files.is_empty() { Scenario::list(dir).into_iter().map(|(_, p)| p).collect() } else { files }
}

/// `selected` with the options' `--break`s, and the target they run on; `--dry-run` never
/// starts LocalStack.
pub fn prepare(
    mut selected: Vec<Scenario>,
    options: &ScenarioOptions,
    paths: Paths,
) -> anyhow::Result<(Vec<Scenario>, TargetSpec)> {
    for s in &mut selected {
        s.sim.breaks.extend(options.breaks.iter().copied());
    }
    if options.dry_run && options.to.target == Kind::Localstack {
        bail!("--dry-run does not start LocalStack: use --target endpoint --endpoint-url URL");
    }
    Ok((selected, options.to.spec(paths)?))
}

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
    files: &report::Files,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<Report>> {
    let mut reports = Vec::new();
    for s in scenarios {
        reports.push(run_scenario(s, spec, progress).await?);
    }
    files.write(
        || report::json::render(&reports),
        || report::junit::render(&reports),
        || report::html::render(&reports),
    )?;
    Ok(reports)
}
