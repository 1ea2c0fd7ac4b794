//! `harness`: run pipeline scenarios and load against the embedded simulator, an endpoint or a
//! deployed stack, or run the simulator for manual use. The commands' flags and bodies live in
//! the library (`scenario::commands`, `load::commands`, `bench`, `sim_cmd`) and return data;
//! this file parses the command line, hands what each command returns to the console, and
//! reports errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Parser, Subcommand};
use harness::bench::{self, BenchCommand};
use harness::console::{Console, LoadConsole};
use harness::function_zip::Function;
use harness::load::commands::{self as load, LoadAction, LoadCommand};
use harness::scenario::Scenario;
use harness::scenario::commands::{self as scenarios, ScenarioAction, ScenarioCommand};
use harness::sim_cmd::SimCommand;
use harness::targets::{self, Paths, TargetSpec};

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
    /// Run a scenario (scenarios/NAME.toml, or a file's path) end to end; `validate`, `all` and
    /// `schema` below.
    Scenario(ScenarioCommand),
    /// Load-test uploads (scenarios/load/PROFILE.toml, or a file's path): every file followed
    /// to its record; `validate`, `schema`, `merge` and `replay` below.
    Load(LoadCommand),
    /// Run the simulator in the foreground until Ctrl-C; `env` below.
    Sim(SimCommand),
    /// Measure the pipeline's parts on the simulator.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Read a deployed stack's outputs document (`terraform output -json` of infra/).
    #[command(subcommand)]
    Stack(StackCommand),
    /// Print a shell completion script: `harness completions bash > /etc/bash_completion.d/harness`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `harness man | man -l -`.
    Man,
    /// Run the copy function's Lambda runtime loop (the simulator starts this as `bootstrap`).
    #[command(hide = true)]
    LambdaBootstrap,
}

#[derive(Subcommand)]
enum StackCommand {
    /// Check an outputs document and print the target the harness builds from it.
    Show {
        /// The file `terraform output -json > outputs.json` wrote.
        stack: PathBuf,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::LambdaBootstrap) {
        return lambda_bootstrap();
    }
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let outcome = rt.block_on(async {
        let outcome = dispatch(cli).await;
        // A LocalStack container started for the run goes with it.
        targets::localstack::stop();
        outcome
    });
    match outcome {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The copy function's runtime loop, on a runtime of its own as Lambda's `bootstrap` runs it.
fn lambda_bootstrap() -> ExitCode {
    copy_lambda::init_logging();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(copy_lambda::run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command: how many checks (or runs) failed.
async fn dispatch(cli: Cli) -> anyhow::Result<usize> {
    // Kept until the command ends: the function's unpacked zip.
    let function = Function::resolve(cli.function_zip.as_deref())?;
    let paths = targets::Paths {
        infra: cli.infra.clone().unwrap_or_else(|| harness::checkout_dir("infra")),
        function_command: function.command.clone(),
    };
    match cli.command {
        Command::Scenario(cmd) => scenario(cmd, paths).await,
        Command::Load(cmd) => load(cmd, paths).await,
        Command::Sim(cmd) => cmd.run(paths).await,
        Command::Bench(cmd) => bench(cmd, paths).await,
        Command::Stack(StackCommand::Show { stack }) => stack_show(&stack),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
        Command::LambdaBootstrap => unreachable!("handled before the runtime starts"),
    }
}

/// `harness scenario`: the number of failed checks.
async fn scenario(cmd: ScenarioCommand, paths: Paths) -> anyhow::Result<usize> {
    let dir = &cmd.options.scenarios;
    let selected = match cmd.action {
        Some(ScenarioAction::Schema) => return print(&Scenario::json_schema()),
        Some(ScenarioAction::Validate { files }) => {
            let bad = Console::validated(&scenarios::validate(&scenarios::to_validate(dir, files)));
            return if bad > 0 { Err(anyhow::anyhow!("{bad} invalid scenario file(s)")) } else { Ok(0) };
        }
        Some(ScenarioAction::All { tag }) => scenarios::select(dir, &tag)?,
        None if cmd.list => {
            Console::listed(&scenarios::list(dir));
            return Ok(0);
        }
        None => vec![Scenario::load(&scenarios::chosen(dir, cmd.name.as_deref(), cmd.file.clone())?)?],
    };
    let (selected, spec) = scenarios::prepare(selected, &cmd.options, paths)?;
    if cmd.options.dry_run {
        let planned = scenarios::dry_run(&selected, &spec);
        let bad = Console::dry_run(&planned);
        if bad > 0 {
            bail!("{bad} of {} scenario(s) could not run as given", planned.len());
        }
        return Ok(0);
    }
    let mut console = Console::default();
    let reports = scenarios::run(&selected, &spec, &cmd.options.files, &mut console).await?;
    console.totals(&reports);
    Ok(reports.iter().map(harness::report::Report::failed).sum())
}

/// `harness load`: 1 when the run (or the merged fleet) failed.
async fn load(cmd: LoadCommand, paths: Paths) -> anyhow::Result<usize> {
    match &cmd.action {
        Some(LoadAction::Schema) => print(&harness::load::profile::Profile::json_schema()),
        Some(LoadAction::Validate { files }) => {
            let checked = load::validate(&load::to_validate(&cmd.args.profiles, files.clone()));
            let bad = LoadConsole::validated(&checked);
            if bad > 0 {
                bail!("{bad} invalid load profile(s)");
            }
            Ok(0)
        }
        Some(LoadAction::Replay { logs, name, output }) => {
            let replayed = load::write_replay(logs, name, output.as_deref())?;
            LoadConsole::replayed(&replayed, output.as_deref());
            Ok(0)
        }
        Some(LoadAction::Merge { sources }) => {
            let report = load::merge(sources, &cmd.args).await?;
            LoadConsole::summary(&report);
            Ok(usize::from(!report.passed()))
        }
        None => {
            let mut console = LoadConsole::default();
            let ran = load::run(&cmd.chosen()?, &cmd.args, paths, &mut console).await?;
            if let Some(at) = &ran.results {
                Console::print(&format!("results: {at}\n"));
            }
            Ok(usize::from(!ran.report.passed()))
        }
    }
}

/// `harness bench`: each benchmark's rounds and its table.
async fn bench(cmd: BenchCommand, paths: Paths) -> anyhow::Result<usize> {
    let line = |text: String| Console::print(&format!("{text}\n"));
    match cmd {
        BenchCommand::Copy(args) => bench::copy(args, paths.infra).await?,
        BenchCommand::Load(args) => {
            line(format!(
                "harness load vs OpenSSH sftp -b against sshd ({}), {} files of {} per session, {} rounds",
                args.cipher, args.files, args.size, args.rounds
            ));
            Console::load_bench(&bench::load::run(&args, line).await?);
        }
        BenchCommand::Pipeline(args) => {
            line(format!(
                "{} sessions x {} files of {} on the embedded target, {} rounds",
                args.sessions, args.files, args.size, args.rounds
            ));
            let spec = TargetSpec::Embedded(paths);
            let (rounds, best, bad) = bench::pipeline::run(&args, &spec, Console::pipeline_round).await?;
            Console::pipeline_bench(&rounds, best.as_ref(), bad.as_ref());
        }
        BenchCommand::Upload(args) => Console::upload_bench(&bench::upload::run(&args, line).await?),
        BenchCommand::Startup(args) => {
            Console::startup_bench(&tokio::task::spawn_blocking(move || bench::startup::run(&args, line)).await??)
        }
        BenchCommand::Soak(args) => {
            line(format!(
                "{} sessions x {} files of {} against harness sim (its own process)",
                args.sessions, args.files, args.size
            ));
            let soak = bench::soak::run(&args).await?;
            let problems = soak.problems();
            Console::soak_bench(&soak, &problems);
            return Ok(usize::from(!problems.is_empty()));
        }
    }
    Ok(0)
}

fn print(text: &str) -> anyhow::Result<usize> {
    Console::print(text);
    Ok(0)
}

/// `harness stack show`.
fn stack_show(stack: &std::path::Path) -> anyhow::Result<usize> {
    let outputs = targets::StackOutputs::load(stack)?;
    Console::stack(stack, &outputs, &targets::Target::from_stack(&outputs));
    Ok(0)
}

/// `harness completions SHELL`.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<usize> {
    // Into a buffer first: the generator panics where the pipe closes (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "harness", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)?;
    Ok(0)
}

/// `harness man`.
fn man() -> anyhow::Result<usize> {
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut std::io::stdout())?;
    Ok(0)
}
