//! `harness sim`: the simulator in the foreground, with what a user needs to poke at it.

use std::path::PathBuf;

use anyhow::Context;
use russh::keys::ssh_key::LineEnding;

use crate::sftp_client::generate_key;

/// Options of `harness sim`.
#[derive(clap::Args)]
pub struct SimArgs {
    /// Address every listener binds to. Loopback unless you need the simulator from another
    /// machine or container (`0.0.0.0`): its credentials are public and it runs what it is told.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// SFTP port.
    #[arg(long, default_value_t = 2222)]
    sftp_port: u16,
    /// Port of the AWS API gateway (S3, DynamoDB, Step Functions, Logs).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// DynamoDB's own port (also reachable through the gateway).
    #[arg(long, default_value_t = 4569)]
    dynamodb_port: u16,
    /// SFTP user to create, with a generated key (added to the user's keys when `--users`
    /// declares the same name); repeatable.
    #[arg(long = "user", default_value = "partner")]
    users_created: Vec<String>,
    /// Users from a `.tfvars.json` file shared with Terraform (the `users` variable: keys,
    /// PATH or LOGICAL homes, mappings), e.g. infra/examples/complete/users.auto.tfvars.json.
    #[arg(long, value_name = "TFVARS_JSON")]
    users: Option<PathBuf>,
    /// The SFTP server's host key: an OpenSSH private key file, as Transfer Family's `HostKey`
    /// (generated when absent).
    #[arg(long, value_name = "PRIVATE_KEY_FILE")]
    host_key: Option<PathBuf>,
    /// Close SFTP connections idle for this many seconds (Transfer Family: 1800).
    #[arg(long, default_value_t = 1800)]
    idle_timeout: u64,
    /// Directory to write the user's private key to.
    #[arg(long)]
    key_dir: Option<PathBuf>,
    /// Transfer Family security policy of the SFTP server.
    #[arg(long, default_value = sim::sftp::DEFAULT_POLICY)]
    security_policy: String,
    /// Ignore SETSTAT (Transfer Family's ENABLE_NO_OP) instead of refusing it.
    #[arg(long)]
    setstat_no_op: bool,
    /// Another public key file (OpenSSH format) the user may log in with; repeatable. Every
    /// Transfer Family key type works: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521.
    #[arg(long = "authorized-key", value_name = "PUBKEY_FILE")]
    authorized_keys: Vec<PathBuf>,
    /// Keep buckets, objects and versions, the table, logs and executions in this directory
    /// across restarts (executions a stop interrupted are redriven at the next start). Give
    /// `--host-key` too, so clients that pinned the host key still connect.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The clock: `virtual` jumps to the next timer whenever nothing is in flight (a one-hour
    /// Wait passes at once; timestamps show the virtual time). `GET /_sim/clock` on the API
    /// port reads it, `POST /_sim/clock?advance=SECONDS` moves it.
    #[arg(long, value_enum, default_value = "real")]
    clock: crate::targets::ClockKind,
    /// Instead of starting a simulator: move the virtual clock of the one running on `--port`
    /// forward by this many seconds, and print its time.
    #[arg(long, value_name = "SECONDS")]
    advance_clock: Option<f64>,
    /// Step Functions Local's mock config (MockConfigFile.json): an execution started on
    /// `<state machine ARN>#<test case>` gets the test case's mocked Task results, by call
    /// number; Task states it does not name call the simulated services.
    #[arg(long, env = "SFN_MOCK_CONFIG", value_name = "FILE")]
    sfn_mock_config: Option<PathBuf>,
    /// Print the connection details as one JSON object on one line.
    #[arg(long)]
    json: bool,
    /// Write a stack outputs document describing the simulator, as `terraform output -json`
    /// describes a deployed stack: `--target aws --stack FILE` then runs against it (with
    /// AWS_ENDPOINT_URL and the credentials it prints).
    #[arg(long, value_name = "FILE")]
    outputs: Option<PathBuf>,
}

/// The `terraform output -json` document of infra/ that describes the simulator (the
/// `harness` output, schema version 1).
fn outputs_document(ep: &sim::Endpoints, users: &[String]) -> serde_json::Value {
    let value = serde_json::json!({
        "schema_version": 1,
        "region": ep.region,
        "sftp": {
            "host": ep.sftp.ip().to_string(),
            "port": ep.sftp.port(),
            "server_id": ep.server_id,
            "host_key_fingerprint": ep.host_key_fingerprint,
            "elastic_ips": [],
            "users": users,
        },
        "buckets": { "source": ep.source_bucket, "destination": ep.destination_bucket },
        "table": ep.table,
        "state_machine_arn": ep.state_machine_arn,
        "function_name": ep.function_log_group.trim_start_matches("/aws/lambda/"),
        "event_rule": "partner-intake-transfer-object-created",
        "dead_letter_queue": ep.dead_letter_queue,
        "log_groups": {
            "sftp": ep.sftp_log_group,
            "function": ep.function_log_group,
            "state_machine": ep.state_machine_log_group,
        },
    });
    serde_json::json!({ "harness": { "sensitive": false, "type": "object", "value": value } })
}

/// Whether `host` names only this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `harness sim`, or `harness sim env`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimCommand {
    #[command(subcommand)]
    action: Option<SimAction>,
    #[command(flatten)]
    args: SimArgs,
}

impl SimCommand {
    /// Runs the simulator until Ctrl-C, or prints the environment of a running one.
    pub async fn run(self, paths: crate::targets::Paths) -> anyhow::Result<usize> {
        match self.action {
            Some(SimAction::Env { host, port }) => env(&host, port).await.map(|_| 0),
            None => run(self.args, paths.infra, paths.function_command).await.map(|_| 0),
        }
    }
}

/// What `harness sim` does besides running a simulator.
#[derive(clap::Subcommand)]
pub enum SimAction {
    /// Print `export` lines that point the aws CLI, boto3 and the SDKs at a running simulator:
    /// `eval "$(harness sim env)"`.
    Env {
        /// The simulator's address.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Its API port (`harness sim --port`).
        #[arg(long, default_value_t = 4566)]
        port: u16,
    },
}

/// Asks the simulator on `host:port` its control endpoint, `/_sim/clock`, with `method`.
/// `host` as it goes in a URL or a Host header (an IPv6 address in brackets).
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() }
}

async fn control(host: &str, port: u16, method: &str, query: &str) -> anyhow::Result<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bare = host.trim_matches(['[', ']']);
    let mut stream = tokio::net::TcpStream::connect((bare, port))
        .await
        .with_context(|| format!("no simulator on {host}:{port} (start one with `harness sim`)"))?;
    let request = format!(
        "{method} /_sim/clock{query} HTTP/1.1\r\nHost: {}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        url_host(bare)
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let json = serde_json::from_str::<serde_json::Value>(body).ok();
    if !head.starts_with("HTTP/1.1 200") {
        let message = json
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| head.lines().next().unwrap_or_default().to_string());
        anyhow::bail!("the simulator on {host}:{port} answered: {message}");
    }
    json.with_context(|| format!("{host}:{port} is not a simulator (its /_sim/clock is not JSON)"))
}

/// Moves the clock of the simulator on `host:port` forward (`--advance-clock`).
async fn advance_clock(host: &str, port: u16, seconds: f64) -> anyhow::Result<()> {
    let clock =
        control(host, port, "POST", &format!("?advance={seconds}")).await.context("moving the simulator's clock")?;
    println!("{clock}");
    Ok(())
}

/// The `export` lines for the simulator at `url` (POSIX shell quoting).
pub fn env_lines(url: &str) -> String {
    let vars = [
        ("AWS_ENDPOINT_URL", url),
        ("AWS_ACCESS_KEY_ID", sim::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", sim::SECRET_ACCESS_KEY),
        ("AWS_REGION", sim::REGION),
        ("AWS_DEFAULT_REGION", sim::REGION),
        // The CLI puts TestState on a `sync-` host prefix, which an IP address cannot take.
        ("AWS_DISABLE_HOST_PREFIX_INJECTION", "true"),
    ];
    let mut out = String::from("unset AWS_PROFILE AWS_SESSION_TOKEN\n");
    for (name, value) in vars {
        out.push_str(&format!("export {name}='{}'\n", value.replace('\'', "'\\''")));
    }
    out
}

/// `harness sim env`: checks a simulator answers there, then prints its environment.
pub async fn env(host: &str, port: u16) -> anyhow::Result<()> {
    control(host, port, "GET", "").await?;
    print!("{}", env_lines(&format!("http://{}:{port}", url_host(host.trim_matches(['[', ']'])))));
    Ok(())
}

/// Runs the simulator until Ctrl-C.
pub async fn run(args: SimArgs, infra: PathBuf, function_command: Vec<String>) -> anyhow::Result<()> {
    if let Some(seconds) = args.advance_clock {
        anyhow::ensure!(
            seconds.is_finite() && seconds >= 0.0,
            "--advance-clock takes a non-negative number of seconds"
        );
        return advance_clock(&args.host, args.port, seconds).await;
    }
    let dir = match &args.key_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("harness-sim-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut config = sim::SimConfig::new(infra, function_command);
    config.users = match &args.users {
        Some(path) => sim::UserConfig::from_file(path)?,
        None => Vec::new(),
    };
    let mut extra = Vec::new();
    for path in &args.authorized_keys {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let public = russh::keys::ssh_key::PublicKey::from_openssh(text.trim())
            .with_context(|| format!("{}: not an OpenSSH public key", path.display()))?;
        extra.push(public);
    }
    // Each created user: a fresh key written to the key directory (the first one also gets the
    // --authorized-key keys).
    let mut created: Vec<(String, PathBuf)> = Vec::new();
    for (i, name) in args.users_created.iter().enumerate() {
        let key = generate_key();
        let key_path = dir.join(format!("{name}_ed25519"));
        std::fs::write(&key_path, key.to_openssh(LineEnding::LF).context("encoding the key")?.as_bytes())
            .with_context(|| format!("writing {}", key_path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
        }
        let mut keys = vec![key.public_key().clone()];
        if i == 0 {
            keys.extend(extra.iter().cloned());
        }
        match config.users.iter_mut().find(|u| u.name == *name) {
            Some(u) => u.keys.extend(keys),
            None => config.users.push(sim::UserConfig::new(name, keys)),
        }
        created.push((name.clone(), key_path));
    }
    let user = created.first().map(|(n, _)| n.clone()).unwrap_or_default();
    let key_path = created.first().map(|(_, p)| p.clone()).unwrap_or_default();
    config.idle_timeout = std::time::Duration::from_secs(args.idle_timeout);
    if let Some(path) = &args.host_key {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = russh::keys::ssh_key::PrivateKey::from_openssh(&text).with_context(|| {
            format!("{}: not an unencrypted OpenSSH private key (ssh-keygen -t ed25519 -N '' -f FILE)", path.display())
        })?;
        config.host_key = Some(key);
    }
    if !is_loopback(&args.host) {
        eprintln!(
            "warning: listening on {} (not loopback): anyone who can reach it can use the simulator's \
             public credentials and read every object; use --host 127.0.0.1 unless you need it",
            args.host
        );
    }
    config.host = args.host.clone();
    config.data_dir = args.data_dir.clone();
    config.sfn_mock_config = args.sfn_mock_config.clone();
    config.sftp_port = args.sftp_port;
    config.gateway_port = args.port;
    config.dynamodb_port = args.dynamodb_port;
    config.security_policy = args.security_policy.clone();
    config.setstat_no_op = args.setstat_no_op;
    config.clock = crate::targets::ClockKind::clock(Some(args.clock), None);
    let config_user_names: Vec<String> = config.users.iter().map(|u| u.name.clone()).collect();
    let simulator = sim::Simulator::start(config).await.context("starting the simulator")?;
    let ep = &simulator.endpoints;
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, format!("[{}]:{} {}\n", ep.sftp.ip(), ep.sftp.port(), ep.host_public_key))?;
    let sftp_cmd = format!(
        "sftp -P {} -i {} -o UserKnownHostsFile={} {}@{}",
        ep.sftp.port(),
        key_path.display(),
        known_hosts.display(),
        user,
        ep.sftp.ip()
    );
    let env = format!(
        "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={}",
        sim::ACCESS_KEY_ID,
        sim::SECRET_ACCESS_KEY,
        ep.region
    );
    if let Some(path) = &args.outputs {
        let names: Vec<String> = config_user_names.clone();
        std::fs::write(path, serde_json::to_string_pretty(&outputs_document(ep, &names))? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        let mut v = serde_json::to_value(ep)?;
        v["user"] = user.clone().into();
        v["users"] = created
            .iter()
            .map(|(n, p)| serde_json::json!({ "name": n, "private_key": p.display().to_string() }))
            .collect();
        v["private_key"] = key_path.display().to_string().into();
        v["known_hosts"] = known_hosts.display().to_string().into();
        v["access_key_id"] = sim::ACCESS_KEY_ID.into();
        v["secret_access_key"] = sim::SECRET_ACCESS_KEY.into();
        v["sftp_command"] = sftp_cmd.into();
        println!("{v}");
    } else {
        println!("simulator running (Ctrl-C to stop)");
        for (name, path) in &created {
            println!("  sftp        {}  user {name}  key {}", ep.sftp, path.display());
        }
        println!("  host key    {}", ep.host_key_fingerprint);
        println!("  aws apis    {}  (S3, DynamoDB, Step Functions, Logs; region {})", ep.aws, ep.region);
        println!("  dynamodb    {}", ep.dynamodb);
        println!("  buckets     {} -> {}", ep.source_bucket, ep.destination_bucket);
        println!("  table       {}", ep.table);
        println!("  machine     {}", ep.state_machine_arn);
        println!("  logs        {} (sessions), {} (function)", ep.sftp_log_group, ep.function_log_group);
        if args.clock == crate::targets::ClockKind::Virtual {
            println!("  clock       virtual: {}/_sim/clock (harness sim --advance-clock SECONDS)", ep.aws);
        }
        println!();
        println!("  {sftp_cmd}");
        println!("  export {env}");
        println!("  aws --endpoint-url {} s3 ls s3://{}/ --recursive", ep.aws, ep.destination_bucket);
        println!("  aws --endpoint-url {} dynamodb scan --table-name {}", ep.aws, ep.table);
        println!(
            "  aws --endpoint-url {} stepfunctions list-executions --state-machine-arn {}",
            ep.aws, ep.state_machine_arn
        );
    }
    // SIGTERM (docker stop, CI cancelling a job, `kill`) ends it as cleanly as Ctrl-C: the stored
    // objects live in a temporary directory that only a clean exit removes.
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    simulator.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_addresses_are_quiet() {
        for quiet in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            assert!(super::is_loopback(quiet), "{quiet}");
        }
        for loud in ["0.0.0.0", "::", "10.0.0.5", "example.com"] {
            assert!(!super::is_loopback(loud), "{loud}");
        }
    }
}
