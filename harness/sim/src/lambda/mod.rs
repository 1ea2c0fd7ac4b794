//! Lambda: functions run as child processes speaking the Runtime API, as custom runtimes do
//! on `provided.al2023`; one process per concurrent invocation, kept warm between them.

mod runtime_api;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, info, info_span};

use crate::logs::LogStore;
use crate::states::TaskFailure;
use runtime_api::{Invocation, Reply, RuntimeApi};

use crate::breaks::Break;
use crate::countdown::{Countdown, Counted};

/// Why a function's process could not be started (Lambda reports it as `Runtime.InitError`).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The Runtime API's listener could not be bound.
    #[error("runtime API: {0}")]
    RuntimeApi(std::io::Error),
    /// The function has no command to start.
    #[error("empty function command")]
    NoCommand,
    /// The process did not start.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The account's concurrency for functions without a reservation (Lambda's default quota).
pub const ACCOUNT_CONCURRENCY: u32 = 1000;

/// The function's settings: the shared `infra/` settings file plus its environment.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionSettings {
    /// Timeout in seconds.
    pub timeout_seconds: u64,
    /// Memory in MB.
    pub memory_size_mb: u32,
    /// Reserved concurrency (at most this many invocations at once); none by default, as the
    /// stack deploys it, when the account's unreserved pool limits it.
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// Environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// A deployed function: settings and the command that starts its `bootstrap`.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Function name.
    pub name: String,
    /// Settings.
    pub settings: FunctionSettings,
    /// Program and arguments.
    pub command: Vec<String>,
}

/// A fault: the function's process killed (SIGKILL) partway through an invocation, as an
/// out-of-memory kill or a crash of the host would.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    /// Only invocations whose input contains this text (an object key).
    #[serde(default)]
    pub input_contains: Option<String>,
    /// How long into the invocation, in milliseconds.
    #[serde(default)]
    pub after_ms: u64,
    /// How many matching invocations it kills (all when absent).
    #[serde(default)]
    pub times: Option<u32>,
}

impl Counted for Kill {
    fn times(&mut self) -> &mut Option<u32> {
        &mut self.times
    }
}

struct Instance {
    id: String,
    api: Arc<RuntimeApi>,
    exited: watch::Receiver<Option<String>>,
    kill: mpsc::Sender<()>,
    pid: Option<u32>,
    stream: String,
}

impl Instance {
    fn kill(&self) {
        // Signal at once, not through the waiter task: the simulator may be shutting down and
        // its tasks may never run again.
        #[cfg(unix)]
        if let Some(pid) = self.pid.filter(|_| self.exited.borrow().is_none()) {
            // SAFETY: kill(2) with a pid we spawned and have not reaped; no memory is touched.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = self.kill.try_send(());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Function {
    spec: FunctionSpec,
    idle: Vec<Arc<Instance>>,
    running: u32,
}

/// The Lambda service.
#[derive(Clone)]
pub struct LambdaService {
    functions: Arc<Mutex<BTreeMap<String, Function>>>,
    logs: Arc<LogStore>,
    aws_env: BTreeMap<String, String>,
    /// Open unless invocations are held (a test reads the pipeline's state before any runs).
    gate: Arc<tokio::sync::watch::Sender<bool>>,
    breaks: Arc<crate::breaks::Breaks>,
    kills: Arc<Countdown<Kill>>,
    clock: crate::clock::Clock,
}

/// How Go's os/exec (the Lambda runtime's host) prints a process's end: `signal: killed`,
/// `exit status 2`, as in "Runtime exited with error: signal: killed".
#[cfg(unix)]
fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    let names = [
        (libc::SIGKILL, "killed"),
        (libc::SIGSEGV, "segmentation fault"),
        (libc::SIGABRT, "aborted"),
        (libc::SIGTERM, "terminated"),
    ];
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match names.iter().find(|(n, _)| *n == sig) {
            Some((_, name)) => format!("signal: {name}"),
            None => format!("signal: {sig}"),
        },
        _ => status.to_string(),
    }
}

#[cfg(not(unix))]
fn exit_text(status: std::process::ExitStatus) -> String {
    status.to_string()
}

/// A function error whose payload names its type: Step Functions' Lambda integration reports
/// the payload's `errorType` as the error and the payload as the cause (a killed runtime gives
/// `Runtime.ExitError`; see `exited`).
fn typed(payload: Value) -> TaskFailure {
    let error = payload["errorType"].as_str().unwrap_or("Lambda.Unknown").to_string();
    TaskFailure::new(error, payload.to_string())
}

/// The error Step Functions reports when Lambda gives no error type (a timeout).
fn unknown(payload: Value) -> TaskFailure {
    TaskFailure::new(
        "Lambda.Unknown",
        format!(
            "The cause could not be determined because Lambda did not return an error type. Returned payload: {payload}"
        ),
    )
}

impl LambdaService {
    /// A service whose functions get `aws_env` (endpoint, region, credentials) in their environment.
    pub fn new(logs: Arc<LogStore>, aws_env: BTreeMap<String, String>) -> Self {
        Self {
            functions: Arc::default(),
            logs,
            aws_env,
            gate: Arc::new(tokio::sync::watch::channel(true).0),
            breaks: Arc::default(),
            kills: Arc::default(),
            clock: Default::default(),
        }
    }

    /// Runs timeouts on `clock`; an invocation is work in flight on it.
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Self { clock, ..self }
    }

    /// Kills function processes partway through invocations as `kills` say.
    pub fn with_kills(self, kills: Vec<Kill>) -> Self {
        Self { kills: Arc::new(Countdown::new(kills)), ..self }
    }

    /// The kill fault this invocation meets, if any (counting it).
    fn kill_for(&self, payload: &Value) -> Option<Duration> {
        let text = payload.to_string();
        let k = self.kills.fire(|k| k.input_contains.as_deref().is_none_or(|c| text.contains(c)))?;
        Some(Duration::from_millis(k.after_ms))
    }

    /// Breaks invocations as `breaks` say (for the harness's own tests).
    pub fn with_breaks(self, breaks: Arc<crate::breaks::Breaks>) -> Self {
        Self { breaks, ..self }
    }

    /// Makes every invocation wait until [`LambdaService::release`].
    pub fn hold(&self) {
        self.gate.send_replace(false);
    }

    /// Lets held invocations, and all later ones, run.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    /// Deploys (or replaces) a function.
    pub fn deploy(&self, spec: FunctionSpec) {
        self.logs.ensure_group(&format!("/aws/lambda/{}", spec.name));
        let mut fns = self.functions.lock().unwrap();
        if let Some(old) = fns.insert(spec.name.clone(), Function { spec, idle: Vec::new(), running: 0 }) {
            old.idle.iter().for_each(|i| i.kill());
        }
    }

    /// Invokes a function synchronously (RequestResponse) by name or ARN.
    pub async fn invoke(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        let _ = self.gate.subscribe().wait_for(|open| *open).await;
        let name = function.rsplit(':').next().unwrap_or(function).to_string();
        let name = if function.starts_with("arn:") && function.split(':').count() == 8 {
            // arn:aws:lambda:region:acct:function:name:qualifier
            function.split(':').nth(6).unwrap_or(&name).to_string()
        } else {
            name
        };
        let (spec, warm) = {
            let mut fns = self.functions.lock().unwrap();
            let f = fns.get_mut(&name).ok_or_else(|| {
                TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    format!(
                        "Function not found: arn:aws:lambda:{}:{}:function:{name} (Service: Lambda, Status Code: 404)",
                        crate::REGION,
                        crate::ACCOUNT_ID
                    ),
                )
            })?;
            let limit = f.spec.settings.reserved_concurrency.unwrap_or(ACCOUNT_CONCURRENCY);
            if f.running >= limit && !self.breaks.has(Break::NoThrottling) {
                return Err(TaskFailure::new(
                    "Lambda.TooManyRequestsException",
                    format!("Rate Exceeded. (Service: Lambda, Status Code: 429, function {name}, concurrency {limit})"),
                ));
            }
            f.running += 1;
            (f.spec.clone(), f.idle.pop())
        };
        let mut result =
            self.invoke_on(&spec, warm, payload.clone()).instrument(info_span!("invocation", function = %name)).await;
        if self.breaks.has(Break::DoubleInvoke) {
            let again = self.functions.lock().unwrap().get_mut(&name).and_then(|f| f.idle.pop());
            result = self.invoke_on(&spec, again, payload).instrument(info_span!("invocation", function = %name)).await;
        }
        if let Some(f) = self.functions.lock().unwrap().get_mut(&name) {
            f.running -= 1;
        }
        result
    }

    async fn invoke_on(
        &self,
        spec: &FunctionSpec,
        warm: Option<Arc<Instance>>,
        payload: Value,
    ) -> Result<Value, TaskFailure> {
        // A running function holds a virtual clock: its deadline is real time to the process.
        let _busy = self.clock.busy();
        let instance = match warm {
            Some(i) if i.exited.borrow().is_none() => i,
            _ => self
                .start_instance(spec)
                .await
                .map_err(|e| typed(json!({"errorType": "Runtime.InitError", "errorMessage": e.to_string()})))?,
        };
        let group = format!("/aws/lambda/{}", spec.name);
        let request_id = uuid::Uuid::new_v4().to_string();
        let timeout = Duration::from_secs(spec.settings.timeout_seconds);
        let deadline_ms = crate::logs::now_millis() + timeout.as_millis() as i64;
        let (tx, rx) = oneshot::channel();
        self.logs.put(&group, &instance.stream, format!("START RequestId: {request_id} Version: $LATEST"));
        let started = Instant::now();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: Bytes::from(payload.to_string()),
            deadline_ms,
            reply: tx,
        };
        let mut exited = instance.exited.clone();
        // The kill fault fires inside this invocation's own wait, so it can only ever kill the
        // process while this invocation runs on it.
        let kill_after = self.kill_for(&payload);
        let clock = self.clock.clone();
        let kill = async move {
            match kill_after {
                Some(after) => clock.sleep_unscaled(after).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(kill);
        // Lines Lambda writes after END and REPORT (a runtime that exited).
        let mut after_report = Vec::new();
        let outcome = if instance.api.submit(invocation).await.is_err() {
            Err(typed(
                json!({"errorType": "Runtime.ExitError", "errorMessage": format!("RequestId: {request_id} Error: Runtime exited without providing a reason")}),
            ))
        } else {
            tokio::select! {
                r = rx => match r {
                    Ok(Reply::Success(body)) => Ok(serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))),
                    Ok(Reply::Error { error_type, body }) => Err(TaskFailure::new(error_type, String::from_utf8_lossy(&body).into_owned())),
                    Err(_) => Err(typed(json!({"errorType": "Runtime.ExitError", "errorMessage": format!("RequestId: {request_id} Error: Runtime exited without providing a reason")}))),
                },
                _ = self.clock.sleep_unscaled(timeout) => {
                    // As Lambda reports a timeout: no errorType, so Step Functions says
                    // Lambda.Unknown with the payload in the cause.
                    let msg = format!("{} {request_id} Task timed out after {:.2} seconds", self.clock.iso_now(), timeout.as_secs_f64());
                    self.logs.put(&group, &instance.stream, msg.clone());
                    instance.kill();
                    Err(unknown(json!({"errorMessage": msg})))
                }
                // Owned before the branch runs: a borrowed watch value would make the whole
                // wait non-Send while the kill branch awaits.
                status = async { exited.wait_for(|e| e.is_some()).await.map(|s| s.clone().unwrap_or_default()).unwrap_or_default() } => {
                    let msg = format!("RequestId: {request_id} Error: Runtime exited with error: {status}");
                    after_report = vec![msg.clone(), "Runtime.ExitError".to_string()];
                    Err(typed(json!({"errorType": "Runtime.ExitError", "errorMessage": msg})))
                }
                _ = &mut kill => {
                    info!(instance = %instance.id, "killing the function process (fault)");
                    instance.kill();
                    let mut gone = instance.exited.clone();
                    let status: String = match gone.wait_for(|e| e.is_some()).await {
                        Ok(s) => s.clone().unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    let msg = format!("RequestId: {request_id} Error: Runtime exited with error: {status}");
                    after_report = vec![msg.clone(), "Runtime.ExitError".to_string()];
                    Err(typed(json!({"errorType": "Runtime.ExitError", "errorMessage": msg})))
                }
            }
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.logs.put(&group, &instance.stream, format!("END RequestId: {request_id}"));
        self.logs.put(
            &group,
            &instance.stream,
            format!(
                "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
                ms.ceil() as u64,
                spec.settings.memory_size_mb,
                spec.settings.memory_size_mb.min(64),
            ),
        );
        for line in after_report {
            self.logs.put(&group, &instance.stream, line);
        }
        let lost =
            outcome.as_ref().err().is_some_and(|f| matches!(f.error.as_str(), "Lambda.Unknown" | "Runtime.ExitError"));
        if instance.exited.borrow().is_none() && !lost {
            if let Some(f) = self.functions.lock().unwrap().get_mut(&spec.name) {
                f.idle.push(instance);
            }
        } else {
            instance.kill();
        }
        outcome
    }

    async fn start_instance(&self, spec: &FunctionSpec) -> Result<Arc<Instance>, InitError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let api = RuntimeApi::start().await.map_err(InitError::RuntimeApi)?;
        let date = self.clock.iso_now();
        let stream = format!("{}/[$LATEST]{id}", date[..10].replace('-', "/"));
        let group = format!("/aws/lambda/{}", spec.name);
        self.logs.ensure_stream(&group, &stream);
        let (program, args) = spec.command.split_first().ok_or(InitError::NoCommand)?;
        // The bootstrap's directory stands in for /var/task, where Lambda unpacks the zip.
        let task_root = std::path::Path::new(program)
            .parent()
            .filter(|p| p.is_absolute())
            .map(|p| p.to_path_buf())
            .unwrap_or_else(std::env::temp_dir);
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(&task_root)
            .env_clear()
            // The function's log level is its own (the environment Terraform gives it), not the
            // harness's RUST_LOG: quietening the harness must not silence the function's log,
            // which checks read.
            .envs(std::env::vars().filter(|(k, _)| matches!(k.as_str(), "PATH" | "HOME" | "RUST_BACKTRACE" | "TMPDIR")))
            .envs(&self.aws_env)
            .envs(&spec.settings.environment)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.settings.memory_size_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", &group)
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &stream)
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            // As Lambda sets them for OS-only runtimes (provided.al2023 defines no
            // AWS_EXECUTION_ENV): "Defined runtime environment variables" in the Lambda guide.
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("LAMBDA_RUNTIME_DIR", &task_root)
            .env("TZ", ":UTC")
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the function
        // process when the simulator dies, as the Lambda sandbox dies with its host.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| InitError::Spawn { program: program.clone(), source })?;
        let pid = child.id();
        for pipe in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let logs = self.logs.clone();
            let (group, stream) = (group.clone(), stream.clone());
            let dropped = self.breaks.has(Break::DropFunctionLog);
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if !dropped {
                        logs.put(&group, &stream, line);
                    }
                }
            });
        }
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, mut kill_rx) = mpsc::channel::<()>(1);
        let instance = Arc::new(Instance { id, api, exited: exit_rx, kill: kill_tx, pid, stream });
        info!(instance = %instance.id, function = %spec.name, "cold start");
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s.map(exit_text).unwrap_or_else(|e| e.to_string()),
                _ = kill_rx.recv() => { let _ = child.kill().await; "signal: killed".to_string() }
            };
            let _ = exit_tx.send(Some(status));
        });
        Ok(instance)
    }

    /// Stops every idle function process.
    pub fn shutdown(&self) {
        let mut fns = self.functions.lock().unwrap();
        for f in fns.values_mut() {
            f.idle.drain(..).for_each(|i| i.kill());
        }
    }
}
