//! `harness`: run pipeline scenarios against the embedded simulator, or run the simulator for
//! manual use.

mod aws;
mod bench;
mod content;
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
    /// Run a scenario (scenarios/NAME.toml) end to end.
    Scenario {
        /// Scenario name.
        name: Option<String>,
        /// Run the scenario in this file instead.
        #[arg(long, conflicts_with = "name")]
        file: Option<PathBuf>,
        /// List the scenarios and exit.
        #[arg(long)]
        list: bool,
        /// Directory holding scenario files.
        #[arg(long, default_value_os_t = default_dir("scenarios"))]
        scenarios: PathBuf,
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
    if from_checkout.is_dir() { from_checkout } else { PathBuf::from(name) }
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
        Command::Scenario { name, file, list, scenarios } => {
            if list {
                for (name, path) in scenario::Scenario::list(&scenarios) {
                    let description = scenario::Scenario::load(&path)
                        .map(|s| s.description)
                        .unwrap_or_else(|e| format!("(invalid: {e})"));
                    println!("{name:<16} {}", description.trim());
                }
                return Ok(0);
            }
            let path = match (name, file) {
                (_, Some(f)) => f,
                (Some(n), None) => scenarios.join(format!("{n}.toml")),
                (None, None) => bail!("name a scenario (see `harness scenario --list`) or pass --file PATH"),
            };
            let s = scenario::Scenario::load(&path)?;
            run::run_scenario(&s, &run::Paths { infra, function_command: function_command()? }).await
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
