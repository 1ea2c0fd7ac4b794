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
    /// Load-test uploads (scenarios/load/PROFILE.toml): every file followed to its record;
    /// `validate`, `schema`, `merge` and `replay` below.
    #[command(args_conflicts_with_subcommands = true)]
    Load {
        #[command(subcommand)]
        action: Option<LoadAction>,
        /// Profile name.
        profile: Option<String>,
        /// Run the profile in this file instead.
        #[arg(long, conflicts_with = "profile")]
        file: Option<PathBuf>,
        #[command(flatten)]
        args: LoadArgs,
    },
    /// Run the simulator in the foreground until Ctrl-C; `env` below.
    #[command(args_conflicts_with_subcommands = true)]
    Sim {
        #[command(subcommand)]
        action: Option<sim_cmd::SimAction>,
        #[command(flatten)]
        args: sim_cmd::SimArgs,
    },
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

/// Report files besides the console: shared by scenarios and load.
#[derive(clap::Args, Clone)]
struct ReportArgs {
    /// Write the report as JSON (every check with its timing; a load run's statistics).
    #[arg(long, global = true, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write JUnit XML (a testcase per check; for load, per threshold).
    #[arg(long, global = true, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report (acceptance; for load, with charts).
    #[arg(long, global = true, value_name = "PATH")]
    report: Option<PathBuf>,
}

/// Where a run goes: shared by scenarios and load.
#[derive(clap::Args, Clone)]
struct TargetOptions {
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

/// Options shared by every way of running scenarios.
#[derive(clap::Args, Clone)]
struct ScenarioOptions {
    /// Directory holding scenario files.
    #[arg(long, global = true, default_value_os_t = default_dir("scenarios"))]
    scenarios: PathBuf,
    #[command(flatten)]
    files: ReportArgs,
    #[command(flatten)]
    to: TargetOptions,
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

/// Options of `harness load`.
#[derive(clap::Args, Clone)]
struct LoadArgs {
    /// Directory holding load profiles.
    #[arg(long, global = true, default_value_os_t = default_dir("scenarios/load"))]
    profiles: PathBuf,
    #[command(flatten)]
    to: TargetOptions,
    /// Do part I of N of the run (0-based: 0/3, 1/3, 2/3), for a fleet of load generators.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    shard: harness::load::plan::Shard,
    /// The run's id, the same on every shard (default: a fresh one; on Kubernetes, the Job's name).
    #[arg(long, env = "HARNESS_RUN_ID")]
    run_id: Option<String>,
    /// A pass/fail criterion besides the profile's (`pipeline.p99<2s`, `errors.rate<0.1%`,
    /// `files.lost==0`, `throughput.files_per_s>=20`, `write_rate.p50>1MiB/s`); repeatable.
    #[arg(long = "threshold", global = true, value_name = "EXPR")]
    thresholds: Vec<String>,
    /// Check this share of files byte for byte at the destination (`10%`, `0.1`; default all).
    #[arg(long, value_name = "SHARE", default_value = "100%")]
    verify_sample: String,
    /// Stop generating load as soon as a threshold is breached.
    #[arg(long)]
    abort_on_fail: bool,
    /// Replay speed (`2`: twice as fast as recorded).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Pause between the pipeline tracker's polls (default 20ms on the simulator, 500ms on a
    /// deployed stack).
    #[arg(long, value_name = "DURATION")]
    poll: Option<harness::load::quantity::Span>,
    #[command(flatten)]
    files: ReportArgs,
    /// Write the HdrHistogram interval log (and the summary) to this directory.
    #[arg(long, global = true, value_name = "DIR")]
    hdr: Option<PathBuf>,
    /// Break a stage on purpose (the harness's own tests: show the load run fails when it does).
    #[arg(long = "break", hide = true, value_name = "NAME")]
    breaks: Vec<String>,
    /// Put this shard's results (summary and histograms) under a directory or s3://BUCKET/PREFIX,
    /// for `harness load merge`.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    results: Option<String>,
}

#[derive(Subcommand, Clone)]
enum LoadAction {
    /// Check load profiles against the schema (all of scenarios/load/ when none are named).
    Validate {
        /// Files to check.
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of load profiles.
    Schema,
    /// Merge shards' results (directories or s3://BUCKET/PREFIX) and judge the thresholds over
    /// the whole fleet.
    Merge {
        /// Where the shards put their results.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Write a replay profile from Transfer Family session logs (`aws logs filter-log-events
    /// --log-group-name /aws/transfer/SERVER --output json > logs.json`).
    Replay {
        /// The exported logs.
        logs: PathBuf,
        /// The profile's name.
        #[arg(long, default_value = "replay")]
        name: String,
        /// Write the profile here (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
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
    /// `harness load` against as many OpenSSH `sftp -b` processes, to the same sshd.
    Load(bench::load::LoadBenchArgs),
    /// Concurrent sessions of small files on the embedded target: close -> transferred.
    Pipeline(bench::pipeline::PipelineBenchArgs),
    /// One large upload: the simulator against sshd, the harness's client against OpenSSH's.
    Upload(bench::upload::UploadBenchArgs),
    /// `harness sim` ready and the smoke scenario's wall time, against moto's start-up.
    Startup(bench::startup::StartupBenchArgs),
    /// Many concurrent sessions of many files against `harness sim` in its own process: no
    /// error, every file verified, the simulator's memory bounded.
    Soak(bench::soak::SoakBenchArgs),
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

impl TargetOptions {
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
}

impl ScenarioOptions {
    fn report_files(&self) -> commands::ReportFiles {
        commands::ReportFiles {
            json: self.files.json.clone(),
            junit: self.files.junit.clone(),
            html: self.files.report.clone(),
        }
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
    if common.dry_run && common.to.target == TargetKind::Localstack {
        bail!("--dry-run does not start LocalStack: use --target endpoint --endpoint-url URL");
    }
    let spec = common.to.target(infra, function)?;
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

/// A share written `10%` or `0.1`.
fn parse_share(s: &str) -> anyhow::Result<f64> {
    let v = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.trim().parse::<f64>(),
    };
    match v {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => bail!("--verify-sample {s:?}: expected a share from 0% to 100% (10%, 0.1)"),
    }
}

/// `harness load ...`: 1 when the run failed.
async fn load_command(
    infra: &Path,
    function: &Function,
    action: Option<LoadAction>,
    name: Option<String>,
    file: Option<PathBuf>,
    args: LoadArgs,
) -> anyhow::Result<usize> {
    use harness::load::{self, profile::Profile, results};
    use harness::report::console::LoadConsole;
    let write_reports = |r: &harness::report::load::LoadReport| -> anyhow::Result<()> {
        let outputs: [(&Option<PathBuf>, String); 3] = [
            (&args.files.json, r.json()),
            (&args.files.junit, r.junit()),
            (&args.files.report, harness::report::load_html::render(r)),
        ];
        for (path, text) in outputs {
            if let Some(path) = path {
                std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(())
    };
    match action {
        Some(LoadAction::Schema) => {
            Console::print(&Profile::json_schema());
            return Ok(0);
        }
        Some(LoadAction::Validate { files }) => {
            let files = if files.is_empty() {
                Profile::list(&args.profiles).into_iter().map(|(_, p)| p).collect()
            } else {
                files
            };
            let mut bad = 0;
            for f in &files {
                match Profile::load(f) {
                    Ok(p) => {
                        let warnings = load::quotas::warnings(&p, 1);
                        Console::print(&format!("ok       {} ({})\n", f.display(), p.name));
                        for w in warnings {
                            Console::print(&format!("  WARN   {w}\n"));
                        }
                        if let Err(e) = load::parse_thresholds(&p, &[]) {
                            bad += 1;
                            Console::print(&format!("invalid  {}: {e}\n", f.display()));
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        Console::print(&format!("invalid  {e}\n"));
                    }
                }
            }
            Console::print(&format!("{} load profile(s), {bad} invalid\n", files.len()));
            if bad > 0 {
                bail!("{bad} invalid load profile(s)");
            }
            return Ok(0);
        }
        Some(LoadAction::Replay { logs, name, output }) => {
            let text = std::fs::read_to_string(&logs).with_context(|| format!("reading {}", logs.display()))?;
            let traffic = load::replay::read(&text, &logs.display().to_string())?;
            let profile =
                traffic.profile(&name, &logs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            Profile::parse(&profile, Path::new(&name)).context("the replay profile does not load back")?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &profile).with_context(|| format!("writing {}", path.display()))?;
                    Console::print(&format!(
                        "wrote {}: {} session(s), at most {} at once\n",
                        path.display(),
                        traffic.sessions.len(),
                        traffic.peak_sessions
                    ));
                }
                None => Console::print(&profile),
            }
            return Ok(0);
        }
        Some(LoadAction::Merge { sources }) => {
            // S3 sources read with the caller's credentials, as the shards wrote them.
            let clients = targets::Clients::from_environment(
                &std::env::var("AWS_REGION")
                    .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|_| "us-east-1".into()),
            )
            .await;
            let mut shards = Vec::new();
            for src in &sources {
                let loc: results::Location = src.parse().map_err(anyhow::Error::msg)?;
                shards.extend(results::read(&loc, clients.as_ref()).await?);
            }
            let (report, metrics) = results::merge(&shards, &args.thresholds)?;
            LoadConsole::summary(&report);
            write_reports(&report)?;
            if let Some(dir) = &args.hdr {
                results::write(&results::Location::Dir(dir.clone()), None, &report, &metrics, Default::default())
                    .await?;
            }
            return Ok(usize::from(!report.passed()));
        }
        None => {}
    }
    let path = match (name, file) {
        (_, Some(f)) => f,
        (Some(n), None) => args.profiles.join(format!("{n}.toml")),
        (None, None) => bail!("name a load profile (in {}) or pass --file PATH", args.profiles.display()),
    };
    let profile = Profile::load(&path)?;
    let opts = load::LoadOptions {
        shard: args.shard,
        run_id: args.run_id.clone().unwrap_or_else(load::new_run_id),
        thresholds: args.thresholds.clone(),
        verify_sample: parse_share(&args.verify_sample)?,
        abort_on_fail: args.abort_on_fail,
        speed: args.speed,
        poll: args.poll.map(|p| p.0),
        sim: {
            let mut sim = targets::SimSettings::default();
            for name in &args.breaks {
                sim.breaks.push(
                    serde_json::from_value(serde_json::Value::String(name.clone()))
                        .with_context(|| format!("--break {name:?}: not a known break (see sim::breaks::Break)"))?,
                );
            }
            sim
        },
    };
    let results_at: Option<results::Location> =
        args.results.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    let spec = args.to.target(infra, function)?;
    let mut console = LoadConsole::default();
    let run = load::run_load(&profile, &spec, &opts, &mut console).await?;
    write_reports(&run.report)?;
    if let Some(dir) = &args.hdr {
        results::write(&results::Location::Dir(dir.clone()), None, &run.report, &run.metrics, opts.shard).await?;
    }
    if let Some(loc) = &results_at {
        let at = results::write(loc, run.clients.as_ref(), &run.report, &run.metrics, opts.shard).await?;
        Console::print(&format!("results: {at}\n"));
    }
    Ok(usize::from(!run.report.passed()))
}

async fn dispatch(cli: Cli) -> anyhow::Result<usize> {
    let infra = cli.infra.clone().unwrap_or_else(|| default_dir("infra"));
    let function = Function::resolve(cli.function_zip.as_deref())?;
    match cli.command {
        Command::Scenario { action, name, file, list, common } => {
            scenario_command(&infra, &function, action, name, file, list, common).await
        }
        Command::Load { action, profile, file, args } => {
            load_command(&infra, &function, action, profile, file, args).await
        }
        Command::Sim { action: Some(sim_cmd::SimAction::Env { host, port }), .. } => {
            sim_cmd::env(&host, port).await.map(|_| 0)
        }
        Command::Sim { action: None, args } => sim_cmd::run(args, infra, function.command.clone()).await.map(|_| 0),
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics where the pipe closes (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "harness", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)?;
            Ok(0)
        }
        Command::Man => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Command::Bench(BenchCommand::Copy(args)) => bench::copy(args, infra).await.map(|_| 0),
        Command::Bench(BenchCommand::Load(args)) => {
            Console::print(&format!(
                "harness load vs OpenSSH sftp -b against sshd ({}), {} files of {} per session, {} rounds\n",
                args.cipher, args.files, args.size, args.rounds
            ));
            let rows = bench::load::run(&args, |line| Console::print(&format!("{line}\n"))).await?;
            Console::load_bench(&rows);
            Ok(0)
        }
        Command::Bench(BenchCommand::Pipeline(args)) => {
            let spec = TargetSpec::Embedded(targets::Paths {
                infra: infra.clone(),
                function_command: function.command.clone(),
            });
            Console::print(&format!(
                "{} sessions x {} files of {} on the embedded target, {} rounds\n",
                args.sessions, args.files, args.size, args.rounds
            ));
            let (rounds, best, bad) = bench::pipeline::run(&args, &spec, Console::pipeline_round).await?;
            Console::pipeline_bench(&rounds, best.as_ref(), bad.as_ref());
            Ok(0)
        }
        Command::Bench(BenchCommand::Upload(args)) => {
            let b = bench::upload::run(&args, |line| Console::print(&format!("{line}\n"))).await?;
            Console::upload_bench(&b);
            Ok(0)
        }
        Command::Bench(BenchCommand::Soak(args)) => {
            Console::print(&format!(
                "{} sessions x {} files of {} against harness sim (its own process)\n",
                args.sessions, args.files, args.size
            ));
            let soak = bench::soak::run(&args).await?;
            let problems = soak.problems();
            Console::soak_bench(&soak, &problems);
            Ok(if problems.is_empty() { 0 } else { 1 })
        }
        Command::Bench(BenchCommand::Startup(args)) => {
            let b = tokio::task::spawn_blocking(move || {
                bench::startup::run(&args, |line| Console::print(&format!("{line}\n")))
            })
            .await??;
            Console::startup_bench(&b);
            Ok(0)
        }
        Command::Stack(StackCommand::Show { stack }) => {
            let outputs = targets::StackOutputs::load(&stack)?;
            Console::stack(&stack, &outputs, &targets::Target::from_stack(&outputs));
            Ok(0)
        }
        Command::LambdaBootstrap => unreachable!("handled before the runtime starts"),
    }
}
