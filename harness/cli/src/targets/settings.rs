//! The simulator settings a run may ask for (a scenario's or a load profile's `[sim]`): faults,
//! delivery knobs, function limits, clock speed. Only targets that run the simulator honour them
//! ([`super::TargetSpec::supports`]).

use schemars::JsonSchema;
use serde::Deserialize;

/// Simulator settings a scenario may change.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    /// Create the destination bucket (false breaks the copy stage).
    #[serde(default = "yes")]
    pub create_destination_bucket: bool,
    /// Extra environment for the copy function (`COPY_MULTIPART_THRESHOLD = "8388608"`).
    #[serde(default)]
    pub function_env: std::collections::BTreeMap<String, String>,
    /// Extra deliveries of every event (at-least-once made visible).
    #[serde(default)]
    pub duplicate_deliveries: u32,
    /// Random extra delay per delivery, in milliseconds, so deliveries arrive out of order.
    #[serde(default)]
    pub delivery_jitter_ms: u64,
    /// The copy function's timeout in seconds, instead of the settings file's.
    #[serde(default)]
    pub function_timeout_seconds: Option<u64>,
    /// The copy function's reserved concurrency, instead of the settings file's.
    #[serde(default)]
    pub function_reserved_concurrency: Option<u32>,
    /// How much faster than real time Step Functions waits and backoffs run.
    #[serde(default)]
    pub clock_scale: Option<f64>,
    /// `"virtual"`: time jumps to the next timer whenever nothing is in flight (Wait states,
    /// retry backoffs, timeouts, delivery retries), and every timestamp is on that clock.
    #[serde(default)]
    pub clock: Option<ClockKind>,
    /// Retrier timing changed from the shipped state machine's (`JitterStrategy = "NONE"` makes
    /// a retry schedule exact).
    #[serde(default)]
    pub retriers: Vec<sim::states::variant::RetrierChange>,
    /// Wait states put ahead of the shipped state machine's states.
    #[serde(default)]
    pub waits: Vec<sim::states::variant::WaitBefore>,
    /// Faults the simulated S3 injects.
    #[serde(default)]
    pub s3_faults: Vec<sim::s3::Fault>,
    /// Events held back, so a later one overtakes an earlier one.
    #[serde(default)]
    pub delivery_delays: Vec<sim::events::DeliveryDelay>,
    /// Faults on the copy function's DynamoDB requests (throttling, 500s).
    #[serde(default)]
    pub dynamodb_faults: Vec<sim::dynamodb::Fault>,
    /// The EventBridge rule's target (StartExecution) refusing deliveries.
    #[serde(default)]
    pub target_faults: Vec<sim::events::TargetFault>,
    /// The copy function's process killed partway through matching invocations.
    #[serde(default)]
    pub function_kills: Vec<sim::lambda::Kill>,
    /// Every invocation of the copy function waits until the run has made the checks of the
    /// uploads marked `uploaded_first`.
    #[serde(default)]
    pub hold_function: bool,
    /// Restart the simulator this long after the uploads close, while their files are on their
    /// way: it keeps its state in a data directory, redrives the executions the stop cut short
    /// and announces again the objects no execution took up.
    #[serde(default)]
    pub restart_after_ms: Option<u64>,
    /// Stages broken on purpose, to show a check fails when its stage does (the harness's own
    /// tests; `harness scenario --break NAME` adds one to any scenario).
    #[serde(default)]
    pub breaks: Vec<sim::breaks::Break>,
    /// Step Functions Local's mock config file (MockConfigFile.json), relative to the scenario
    /// file: executions started on `<state machine ARN>#<test case>` take its mocked results.
    #[serde(default)]
    pub sfn_mock_config: Option<std::path::PathBuf>,
    /// The mock config's test case the EventBridge rule's executions run under (its target
    /// becomes `<state machine ARN>#<test case>`, as with Step Functions Local).
    #[serde(default)]
    pub sfn_test_case: Option<String>,
}

/// Which clock the simulator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockKind {
    /// Real time (sped up by `clock_scale` if given).
    Real,
    /// Virtual time: jumps to the next timer when nothing is in flight.
    Virtual,
}

impl ClockKind {
    /// The simulator's clock for this kind (`scale` speeds up a real one).
    pub fn clock(kind: Option<Self>, scale: Option<f64>) -> sim::clock::Clock {
        match (kind, scale) {
            (Some(ClockKind::Virtual), _) => sim::clock::Clock::virtual_time(),
            (_, Some(s)) => sim::clock::Clock::scaled(s),
            _ => sim::clock::Clock::default(),
        }
    }
}

fn yes() -> bool {
    true
}

impl SimSettings {
    /// Whether nothing simulator-only is asked for (so the scenario can run against AWS).
    pub fn is_default(&self) -> bool {
        self.create_destination_bucket
            && self.function_env.is_empty()
            && self.duplicate_deliveries == 0
            && self.delivery_jitter_ms == 0
            && self.function_timeout_seconds.is_none()
            && self.function_reserved_concurrency.is_none()
            && self.clock_scale.is_none()
            && self.clock.is_none()
            && self.retriers.is_empty()
            && self.waits.is_empty()
            && self.s3_faults.is_empty()
            && self.delivery_delays.is_empty()
            && !self.hold_function
            && self.function_kills.is_empty()
            && self.dynamodb_faults.is_empty()
            && self.target_faults.is_empty()
            && self.restart_after_ms.is_none()
            && self.breaks.is_empty()
            && self.sfn_mock_config.is_none()
            && self.sfn_test_case.is_none()
    }

    /// Makes relative file paths relative to the directory of `file`, the scenario that
    /// names them, so a scenario runs the same from any working directory.
    pub fn resolve_paths(&mut self, file: &std::path::Path) {
        if let Some(p) = &mut self.sfn_mock_config
            && p.is_relative()
        {
            *p = file.parent().unwrap_or(std::path::Path::new("")).join(&*p);
        }
    }
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            create_destination_bucket: true,
            function_env: Default::default(),
            duplicate_deliveries: 0,
            delivery_jitter_ms: 0,
            function_timeout_seconds: None,
            function_reserved_concurrency: None,
            clock_scale: None,
            clock: None,
            retriers: Vec::new(),
            waits: Vec::new(),
            s3_faults: Vec::new(),
            delivery_delays: Vec::new(),
            hold_function: false,
            function_kills: Vec::new(),
            dynamodb_faults: Vec::new(),
            target_faults: Vec::new(),
            restart_after_ms: None,
            breaks: Vec::new(),
            sfn_mock_config: None,
            sfn_test_case: None,
        }
    }
}
