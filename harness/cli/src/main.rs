//! `harness`: run pipeline scenarios against the embedded simulator, or run the simulator for
//! manual use.

mod aws;
mod bench;
mod content;
mod localstack;
mod report;
mod run;
mod scenario;
mod sftp_client;
mod sim_cmd;
mod target;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

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

/// `<workspace>/<name>` when run from a checkout, else `./<name>`.
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
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
}

fn function_command() -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("locating the harness executable")?;
    Ok(vec![exe.to_string_lossy().into_owned(), "lambda-bootstrap".into()])
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

async fn dispatch(cli: Cli) -> anyhow::Result<usize> {
    let infra = cli.infra.clone().unwrap_or_else(|| default_dir("infra"));
    match cli.command {
        Command::Scenario { action, name, file, list, common } => {
            let dir = common.scenarios.clone();
            let make_target = || -> anyhow::Result<run::RunTarget> {
                Ok(match common.target {
                    TargetKind::Embedded => run::RunTarget::Embedded(run::Paths {
                        infra: infra.clone(),
                        function_command: function_command()?,
                    }),
                    TargetKind::Aws => {
                        let stack = common
                            .stack
                            .clone()
                            .context("--target aws needs --stack outputs.json (terraform output -json of infra/)")?;
                        let users = common
                            .users
                            .iter()
                            .map(|u| {
                                u.split_once('=')
                                    .map(|(n, k)| (n.to_string(), PathBuf::from(k)))
                                    .with_context(|| format!("--user {u:?}: expected NAME=PRIVATE_KEY_FILE"))
                            })
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        run::RunTarget::Aws { stack, users }
                    }
                    TargetKind::Endpoint => run::RunTarget::Endpoint {
                        paths: run::Paths { infra: infra.clone(), function_command: function_command()? },
                        endpoint: common
                            .endpoint_url
                            .clone()
                            .context("--target endpoint needs --endpoint-url URL (or AWS_ENDPOINT_URL)")?,
                        provision: common.provision,
                    },
                    TargetKind::Localstack => run::RunTarget::Endpoint {
                        paths: run::Paths { infra: infra.clone(), function_command: function_command()? },
                        endpoint: localstack::start()?,
                        provision: true,
                    },
                })
            };
            let selected: Vec<scenario::Scenario> = match action {
                Some(ScenarioAction::Schema) => {
                    print!("{}", scenario::Scenario::json_schema());
                    return Ok(0);
                }
                Some(ScenarioAction::Validate { files }) => {
                    let files = if files.is_empty() {
                        scenario::Scenario::list(&dir).into_iter().map(|(_, p)| p).collect()
                    } else {
                        files
                    };
                    let mut bad = 0;
                    for f in &files {
                        match scenario::Scenario::load(f) {
                            Ok(s) => println!("ok       {} ({})", f.display(), s.name),
                            Err(e) => {
                                bad += 1;
                                println!("invalid  {e}");
                            }
                        }
                    }
                    println!("{} scenario file(s), {bad} invalid", files.len());
                    if bad > 0 {
                        bail!("{bad} invalid scenario file(s)");
                    }
                    return Ok(0);
                }
                Some(ScenarioAction::All { tag }) => {
                    let mut all = Vec::new();
                    for (_, p) in scenario::Scenario::list(&dir) {
                        let s = scenario::Scenario::load(&p)?;
                        if tag.is_empty() || tag.iter().any(|t| s.tags.contains(t)) {
                            all.push(s);
                        }
                    }
                    if all.is_empty() {
                        bail!("no scenario in {} has the tag(s) {tag:?}", dir.display());
                    }
                    all
                }
                None if list => {
                    for (name, path) in scenario::Scenario::list(&dir) {
                        match scenario::Scenario::load(&path) {
                            Ok(s) => println!("{name:<20} {:<28} {}", s.tags.join(","), s.description.trim()),
                            Err(e) => println!("{name:<20} (invalid: {e})"),
                        }
                    }
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
            let target = make_target()?;
            let mut reports = Vec::new();
            for s in &selected {
                reports.push(run::run_scenario(s, &target).await?);
            }
            let all = report::Reports(&reports);
            for (path, text) in [(&common.json, all.json()), (&common.junit, all.junit()), (&common.report, all.html())]
            {
                if let Some(path) = path {
                    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
                }
            }
            let failed: usize = reports.iter().map(report::Report::failed).sum();
            if reports.len() > 1 {
                let bad = reports.iter().filter(|r| r.failed() > 0).count();
                println!("{} scenarios, {} passed, {bad} failed", reports.len(), reports.len() - bad);
            }
            Ok(failed)
        }
        Command::Sim(args) => sim_cmd::run(args, infra, function_command()?).await.map(|_| 0),
        Command::Bench(BenchCommand::Copy(args)) => bench::copy(args, infra).await.map(|_| 0),
        Command::Stack(StackCommand::Show { stack }) => {
            let outputs = target::StackOutputs::load(&stack)?;
            let t = target::Target::from_stack(&outputs);
            println!("target aws ({})", stack.display());
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
            Ok(0)
        }
        Command::LambdaBootstrap => unreachable!("handled before the runtime starts"),
    }
}
