//! `harness`: run pipeline scenarios against the embedded simulator, or run the simulator for
//! manual use.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use harness::report::console::Console;
use harness::scenario::{self, commands};
use harness::targets::{self, TargetSpec};
use harness::{bench, sim_cmd};

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Integration-test harness and local simulator for partner SFTP intake on AWS"
)]
struct Cli {
    /// The `infra/` directory with the shared definition files.
    #[arg(long, global = true, env = "HARNESS_INFRA_DIR")]
    infra: Option<PathBuf>,
    /// Run the copy function from this deployable zip (what `lambda/scripts/package.sh`
    /// builds) instead of the harness's own build of it.
    #[arg(long, global = true, env = "HARNESS_FUNCTION_ZIP", value_name = "ZIP")]
    function_zip: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario (scenarios/NAME.toml) end to end; `validate`, `all` and `schema` below.
    #[command(args_conflicts_with_subcommands = true)]
    Scenario {
        #[command(subcommand)]
        action: Option<ScenarioAction>,
        /// Scenario name.
        name: Option<String>,
        /// Run the scenario in this file instead.
        #[arg(long, conflicts_with = "name")]
        file: Option<PathBuf>,
        /// List the scenarios and exit.
        #[arg(long)]
        list: bool,
        #[command(flatten)]
        common: ScenarioOptions,
    },
    /// Run the simulator in the foreground until Ctrl-C.
    Sim(sim_cmd::SimArgs),
    /// Measure the pipeline's parts on the simulator.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Read a deployed stack's outputs document (`terraform output -json` of infra/).
    #[command(subcommand)]
    Stack(StackCommand),
    /// Run the copy function's Lambda runtime loop (the simulator starts this as `bootstrap`).
    #[command(hide = true)]
    LambdaBootstrap,
}

/// Options shared by every way of running scenarios.
#[derive(clap::Args, Clone)]
struct ScenarioOptions {
    /// Directory holding scenario files.
    #[arg(long, global = true, default_value_os_t = default_dir("scenarios"))]
    scenarios: PathBuf,
    /// Write every check with its timing as JSON.
    #[arg(long, global = true, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write JUnit XML (one testcase per check).
    #[arg(long, global = true, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML acceptance report.
    #[arg(long, global = true, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Where to run: the embedded simulator, or a deployed stack.
    #[arg(long, global = true, value_enum, default_value_t = TargetKind::Embedded)]
    target: TargetKind,
    /// With --target aws: the stack's outputs document (`terraform output -json`).
    #[arg(long, global = true, value_name = "PATH")]
    stack: Option<PathBuf>,
    /// With --target endpoint: the AWS-compatible endpoint (default: AWS_ENDPOINT_URL).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    endpoint_url: Option<String>,
    /// With --target endpoint: create the buckets and the table there first.
    #[arg(long, global = true)]
    provision: bool,
    /// With --target aws: an SFTP account `NAME=PRIVATE_KEY_FILE` (repeat for each scenario user).
    #[arg(long = "user", global = true, value_name = "NAME=KEYFILE")]
    users: Vec<String>,
    /// Check what would run (target, accounts, keys, settings) without running anything.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Break a stage on purpose (the harness's own tests: show a check fails when its stage does).
    #[arg(long = "break", global = true, hide = true, value_name = "NAME")]
    breaks: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    /// The in-process simulator (no Docker, no AWS account).
    Embedded,
    /// A stack deployed from infra/ (needs --stack; backend checks need AWS credentials).
    Aws,
    /// An AWS-compatible endpoint such as LocalStack or moto.
    Endpoint,
    /// LocalStack started in Docker.
    Localstack,
}

#[derive(Subcommand)]
enum ScenarioAction {
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

#[derive(Subcommand)]
enum StackCommand {
    /// Check an outputs document and print the target the harness builds from it.
    Show {
        /// The file `terraform output -json > outputs.json` wrote.
        stack: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Copy throughput: single CopyObject against multipart UploadPartCopy, side by side.
    Copy(bench::CopyBenchArgs),
}

/// `<workspace>/<name>` when run from a checkout, else `./<name>`.
fn default_dir(name: &str) -> PathBuf {
    let from_checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    match from_checkout.canonicalize() {
        Ok(dir) if dir.is_dir() => dir,
        _ => PathBuf::from(name),
    }
}

fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // dynoxide logs every refused condition (normal for conditional writes) as a warning.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,dynoxide=error")),
        )
        .init();
}

/// The command the simulator starts as the function's `bootstrap`, and the directory the
/// deployable zip was unpacked into (kept until the harness exits).
struct Function {
    command: Vec<String>,
    _unpacked: Option<tempfile::TempDir>,
}

impl Function {
    fn resolve(zip: Option<&Path>) -> anyhow::Result<Self> {
        match zip {
            None => {
                let exe = std::env::current_exe().context("locating the harness executable")?;
                Ok(Self {
                    command: vec![exe.to_string_lossy().into_owned(), "lambda-bootstrap".into()],
                    _unpacked: None,
                })
            }
            Some(zip) => {
                let dir = tempfile::Builder::new().prefix("harness-function-").tempdir()?;
                let bootstrap = harness::function_zip::unpack_bootstrap(zip, dir.path())?;
                Ok(Self { command: vec![bootstrap.to_string_lossy().into_owned()], _unpacked: Some(dir) })
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::LambdaBootstrap) {
        copy_lambda::init_logging();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        return match rt.block_on(copy_lambda::run()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bootstrap: {e}");
                ExitCode::FAILURE
            }
        };
    }
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(dispatch(cli)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

impl ScenarioOptions {
    /// The target these options name.
    fn target(&self, infra: &Path, function: &Function) -> anyhow::Result<TargetSpec> {
        let paths = || -> anyhow::Result<targets::Paths> {
            Ok(targets::Paths { infra: infra.to_path_buf(), function_command: function.command.clone() })
        };
        Ok(match self.target {
            TargetKind::Embedded => TargetSpec::Embedded(paths()?),
            TargetKind::Aws => {
                let stack = self
                    .stack
                    .clone()
                    .context("--target aws needs --stack outputs.json (terraform output -json of infra/)")?;
                let users = self
                    .users
                    .iter()
                    .map(|u| {
                        u.split_once('=')
                            .map(|(n, k)| (n.to_string(), PathBuf::from(k)))
                            .with_context(|| format!("--user {u:?}: expected NAME=PRIVATE_KEY_FILE"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                TargetSpec::Aws { stack, users }
            }
            TargetKind::Endpoint => TargetSpec::Endpoint {
                paths: paths()?,
                endpoint: self
                    .endpoint_url
                    .clone()
                    .context("--target endpoint needs --endpoint-url URL (or AWS_ENDPOINT_URL)")?,
                provision: self.provision,
            },
            TargetKind::Localstack => {
                TargetSpec::Endpoint { paths: paths()?, endpoint: targets::localstack::start()?, provision: true }
            }
        })
    }

    fn report_files(&self) -> commands::ReportFiles {
        commands::ReportFiles { json: self.json.clone(), junit: self.junit.clone(), html: self.report.clone() }
    }
}

/// `harness scenario ...`: returns the number of failed checks.
async fn scenario_command(
    infra: &Path,
    function: &Function,
    action: Option<ScenarioAction>,
    name: Option<String>,
    file: Option<PathBuf>,
    list: bool,
    common: ScenarioOptions,
) -> anyhow::Result<usize> {
    let dir = &common.scenarios;
    let selected = match action {
        Some(ScenarioAction::Schema) => {
            Console::print(&scenario::Scenario::json_schema());
            return Ok(0);
        }
        Some(ScenarioAction::Validate { files }) => {
            let files = if files.is_empty() {
                scenario::Scenario::list(dir).into_iter().map(|(_, p)| p).collect()
            } else {
                files
            };
            let results = commands::validate(&files);
            let bad = Console::validated(&results);
            if bad > 0 {
                bail!("{bad} invalid scenario file(s)");
            }
            return Ok(0);
        }
        Some(ScenarioAction::All { tag }) => commands::select(dir, &tag)?,
        None if list => {
            Console::listed(&commands::list(dir));
            return Ok(0);
        }
        None => {
            let path = match (name, file) {
                (_, Some(f)) => f,
                (Some(n), None) => dir.join(format!("{n}.toml")),
                (None, None) => bail!("name a scenario (see `harness scenario --list`) or pass --file PATH"),
            };
            vec![scenario::Scenario::load(&path)?]
        }
    };
    let mut selected = selected;
    for name in &common.breaks {
        let b: sim::breaks::Break = serde_json::from_value(serde_json::Value::String(name.clone()))
            .with_context(|| format!("--break {name:?}: not a known break (see sim::breaks::Break)"))?;
        for s in &mut selected {
            s.sim.breaks.push(b);
        }
    }
    if common.dry_run && common.target == TargetKind::Localstack {
        bail!("--dry-run does not start LocalStack: use --target endpoint --endpoint-url URL");
    }
    let spec = common.target(infra, function)?;
    if common.dry_run {
        let planned = commands::dry_run(&selected, &spec);
        let bad = Console::dry_run(&planned);
        if bad > 0 {
            bail!("{bad} of {} scenario(s) could not run as given", planned.len());
        }
        return Ok(0);
    }
    let mut console = Console::default();
    let reports = commands::run(&selected, &spec, &common.report_files(), &mut console).await?;
    console.totals(&reports);
    Ok(reports.iter().map(harness::report::Report::failed).sum())
}

async fn dispatch(cli: Cli) -> anyhow::Result<usize> {
    let infra = cli.infra.clone().unwrap_or_else(|| default_dir("infra"));
    let function = Function::resolve(cli.function_zip.as_deref())?;
    match cli.command {
        Command::Scenario { action, name, file, list, common } => {
            scenario_command(&infra, &function, action, name, file, list, common).await
        }
        Command::Sim(args) => sim_cmd::run(args, infra, function.command.clone()).await.map(|_| 0),
        Command::Bench(BenchCommand::Copy(args)) => bench::copy(args, infra).await.map(|_| 0),
        Command::Stack(StackCommand::Show { stack }) => {
            let outputs = targets::StackOutputs::load(&stack)?;
            Console::stack(&stack, &outputs, &targets::Target::from_stack(&outputs));
            Ok(0)
        }
        Command::LambdaBootstrap => unreachable!("handled before the runtime starts"),
    }
}
