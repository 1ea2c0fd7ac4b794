//! Scenario files: who uploads what, and what the pipeline must then show.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use sim::sftp::Mapping;
use sim::sftp::users::HomeType;

use crate::targets::SimSettings;

/// Why a scenario file (or a load profile) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// No such file.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid for the schema.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and field).
        message: String,
    },
}

/// The line of `key` in the `index`-th `[[table]]` entry (the entry's header when `key` is
/// empty or absent), so checks made after parsing can point into the file as parse errors do.
fn line_of(text: &str, table: &str, index: usize, key: &str) -> usize {
    let header = format!("[[{table}]]");
    let mut seen = 0;
    let mut inside: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t == header {
            if seen == index {
                inside = Some(n + 1);
            } else if inside.is_some() {
                break;
            }
            seen += 1;
            continue;
        }
        if let Some(start) = inside {
            if t.starts_with('[') {
                return start;
            }
            if !key.is_empty() && t.split('=').next().map(str::trim) == Some(key) {
                return n + 1;
            }
        }
    }
    inside.unwrap_or(1)
}

/// The scenario file format version this harness reads.
pub const SCENARIO_VERSION: u32 = 1;

/// A scenario: users, what they upload, what the pipeline must then show.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Partner intake scenario, version 1")]
pub struct Scenario {
    /// Format version (1).
    #[serde(default = "default_version")]
    pub version: u32,
    /// Short name.
    pub name: String,
    /// Tags to select scenarios (`harness scenario all --tag nightly`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// SFTP users (each gets a fresh key).
    pub users: Vec<User>,
    /// Files to upload, in order (a path uploaded twice is overwritten).
    #[serde(default)]
    pub uploads: Vec<Upload>,
    /// Directories to create (each becomes a zero-byte `dir/` folder marker).
    #[serde(default)]
    pub directories: Vec<Directory>,
    /// Login attempts with chosen keys.
    #[serde(default)]
    pub logins: Vec<Login>,
    /// Simulator settings for this run.
    #[serde(default)]
    pub sim: SimSettings,
    /// Seconds to wait for the asynchronous stages.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Keys of the source bucket (other users' folders, the bucket root) that must not exist
    /// after the run, whatever path tricks the uploads tried.
    #[serde(default)]
    pub absent_keys: Vec<String>,
    /// At least one invocation must have been throttled (`Lambda.TooManyRequestsException`).
    #[serde(default)]
    pub expect_throttling: bool,
    /// Errors that must each have failed some task of this run's files, as the executions'
    /// history names them (`Runtime.ExitError`), retried or caught.
    #[serde(default)]
    pub expect_task_errors: Vec<String>,
    /// Some execution of this run's files must have been redriven (`[sim] restart_after_ms`
    /// cut it short; the restarted simulator ran it again).
    #[serde(default)]
    pub expect_redriven: bool,
    /// The waits between a state's failed attempts, as the execution history's timestamps show
    /// them (on a virtual clock, exactly the retrier's schedule).
    #[serde(default)]
    pub expect_retry_schedule: Option<RetrySchedule>,
    /// How long a state lasts, from its entry to its exit in the execution history.
    #[serde(default)]
    pub expect_state_durations: Vec<StateDuration>,
}

/// `expect_retry_schedule`: a state and the seconds between its attempts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySchedule {
    /// The Task state.
    pub state: String,
    /// Seconds from each failed attempt to the next, in order.
    pub seconds: Vec<f64>,
}

/// `expect_state_durations`: a state and how long it lasts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateDuration {
    /// The state (`WaitBeforeTransferFile` for `[[sim.waits]]`).
    pub state: String,
    /// Seconds from its entry to its exit.
    pub seconds: f64,
}

fn default_version() -> u32 {
    SCENARIO_VERSION
}

fn default_timeout() -> u64 {
    60
}

/// A partner account.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User name; also their folder in the source bucket.
    pub name: String,
    /// `LOGICAL` (default: chrooted to `/<source bucket>/<name>` unless mappings are given) or
    /// `PATH`, as in the Terraform stack's `users` variable.
    #[serde(default)]
    pub home_directory_type: Option<HomeType>,
    /// PATH: the home (`/${source_bucket}/${transfer:UserName}` by default), where relative
    /// upload paths start. Ignored for LOGICAL users, as AWS ignores it: they land on `/`.
    #[serde(default)]
    pub home_directory: Option<String>,
    /// LOGICAL: what the user sees (`entry`) and where it is in S3 (`target`, may use
    /// `${source_bucket}` and `${transfer:UserName}`).
    #[serde(default)]
    pub home_directory_mappings: Option<Vec<Mapping>>,
}

impl User {
    /// The home as the simulator and the Terraform stack declare it.
    pub fn home_spec(&self) -> sim::sftp::users::HomeSpec {
        sim::sftp::users::HomeSpec {
            home_directory_type: self.home_directory_type.unwrap_or_default(),
            home_directory: self.home_directory.clone(),
            home_directory_mappings: self.home_directory_mappings.clone(),
        }
    }
}

/// A directory a user creates with SFTP `mkdir`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Which user.
    pub user: String,
    /// Path inside the user's home.
    pub path: String,
}

/// What a file must end as.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Copied; record `transferred`; execution SUCCEEDED.
    #[default]
    Transferred,
    /// Record `failed`; execution FAILED.
    Failed,
    /// The SFTP server refuses the upload (outside the user's mappings, or denied by the access
    /// role or session policy): nothing reaches S3.
    Refused,
    /// A later upload of the same path reached the destination first: record `superseded`,
    /// execution SUCCEEDED, never copied.
    Superseded,
    /// The object lands but EventBridge cannot start the execution: the event ends in the
    /// rule's dead-letter queue, and no execution, record or copy exists.
    #[serde(rename = "dead-lettered")]
    DeadLettered,
}

/// A count a scenario states: exact (`3`), or bounded (`{ at_most = 2 }`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum Count {
    /// Exactly this many.
    Exact(u32),
    /// Within bounds.
    Bounded {
        /// At least this many.
        #[serde(default)]
        at_least: Option<u32>,
        /// At most this many.
        #[serde(default)]
        at_most: Option<u32>,
    },
}

impl Count {
    /// Whether `n` satisfies it.
    pub fn holds(&self, n: u32) -> bool {
        match *self {
            Count::Exact(e) => n == e,
            Count::Bounded { at_least, at_most } => at_least.is_none_or(|l| n >= l) && at_most.is_none_or(|m| n <= m),
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Count::Exact(e) => write!(f, "exactly {e}"),
            Count::Bounded { at_least: Some(l), at_most: Some(m) } => write!(f, "{l} to {m}"),
            Count::Bounded { at_least: Some(l), at_most: None } => write!(f, "at least {l}"),
            Count::Bounded { at_least: None, at_most: Some(m) } => write!(f, "at most {m}"),
            Count::Bounded { at_least: None, at_most: None } => write!(f, "any number of"),
        }
    }
}

/// One file upload.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// Which user uploads it.
    pub user: String,
    /// Path inside the user's home (`inbound/orders.csv`).
    pub path: String,
    /// Literal content.
    #[serde(default)]
    pub content: Option<String>,
    /// Size in bytes of generated CSV-like content (when `content` is absent).
    #[serde(default)]
    pub size: Option<u64>,
    /// Expected end state (default `transferred`; for an upload a later one of the same path
    /// overwrites, `transferred` or `superseded`, whichever timing gives).
    #[serde(default)]
    pub expect: Option<Outcome>,
    /// Text the record's `error_message` must contain (for `expect = "failed"`).
    #[serde(default)]
    pub error_contains: Option<String>,
    /// The `ERROR_CODE` the dead-letter message must carry (for `expect = "dead-lettered"`:
    /// `NO_RESOURCE`, `THROTTLING`, ...).
    #[serde(default)]
    pub dead_letter_code: Option<String>,
    /// Text the record's `copy_method` must contain (`CopyObject`, `UploadPartCopy`).
    #[serde(default)]
    pub copy_method: Option<String>,
    /// How many times the copy function runs for this upload, across all its executions.
    #[serde(default)]
    pub lambda_invocations: Option<Count>,
    /// How many copies of this upload the destination gets (destination versions whose
    /// provenance names it).
    #[serde(default)]
    pub copies: Option<Count>,
    /// The record reads `uploaded` before the copy happens: `[sim] hold_function` keeps the
    /// function waiting until the run has read the record, then the run releases it.
    #[serde(default)]
    pub uploaded_first: bool,
    /// The record's `attempts` count.
    #[serde(default)]
    pub attempts: Option<u64>,
    /// Text the record's `error_type` must contain.
    #[serde(default)]
    pub error_type: Option<String>,
    /// After the upload, rename the file to this path (as WinSCP does with `.filepart`).
    #[serde(default)]
    pub rename_to: Option<String>,
    /// Drop the connection after this many bytes, without closing the file.
    #[serde(default)]
    pub interrupt_after: Option<u64>,
    /// Upload this many files like this one, `{n}` in the path numbering them from 1.
    #[serde(default)]
    pub repeat: Option<u32>,
}

/// Which key a login attempt offers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoginKey {
    /// The user's own key.
    Own,
    /// A key the server has never seen.
    Unknown,
    /// Another scenario user's key.
    OtherUser(String),
}

/// Whether a login must succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoginOutcome {
    /// It logs in.
    Accepted,
    /// The server refuses the key.
    Refused,
}

/// A login attempt, on its own connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user name offered.
    pub user: String,
    /// The key offered.
    pub key: LoginKey,
    /// What must happen.
    pub expect: LoginOutcome,
}

impl Scenario {
    /// Loads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses scenario text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid { path: path.into(), message };
        let mut s: Scenario = toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if s.version != SCENARIO_VERSION {
            return Err(invalid(format!(
                "version: {} is not supported (this harness reads version {SCENARIO_VERSION})",
                s.version
            )));
        }
        if s.users.is_empty() {
            return Err(invalid("at least one [[users]] entry is required".into()));
        }
        for (i, u) in s.users.iter().enumerate() {
            if let Err(e) = u.home_spec().home(&u.name, "bucket") {
                return Err(invalid(format!("line {}: users[{i}] ({}): {e}", line_of(text, "users", i, ""), u.name)));
            }
        }
        for (i, u) in s.uploads.iter().enumerate() {
            if !s.users.iter().any(|x| x.name == u.user) {
                return Err(invalid(format!(
                    "line {}: uploads[{i}].user: {:?} is not listed under [[users]]",
                    line_of(text, "uploads", i, "user"),
                    u.user
                )));
            }
            if u.content.is_some() == u.size.is_some() {
                return Err(invalid(format!(
                    "line {}: uploads[{i}]: give exactly one of `content` or `size`",
                    line_of(text, "uploads", i, "")
                )));
            }
            if u.uploaded_first && !s.sim.hold_function {
                return Err(invalid(format!(
                    "line {}: uploads[{i}].uploaded_first needs `hold_function = true` under [sim], so the copy waits to be released",
                    line_of(text, "uploads", i, "uploaded_first")
                )));
            }
            if u.path.trim_matches('/').is_empty() || u.path.ends_with('/') {
                return Err(invalid(format!(
                    "line {}: uploads[{i}].path: {:?} is not a file path",
                    line_of(text, "uploads", i, "path"),
                    u.path
                )));
            }
        }
        for (i, d) in s.directories.iter().enumerate() {
            if !s.users.iter().any(|x| x.name == d.user) {
                return Err(invalid(format!(
                    "line {}: directories[{i}].user: {:?} is not listed under [[users]]",
                    line_of(text, "directories", i, "user"),
                    d.user
                )));
            }
            if d.path.trim_matches('/').is_empty() {
                return Err(invalid(format!(
                    "line {}: directories[{i}].path: give a directory below the home",
                    line_of(text, "directories", i, "path")
                )));
            }
        }
        for (i, l) in s.logins.iter().enumerate() {
            let known = |n: &str| s.users.iter().any(|x| x.name == n);
            if !known(&l.user) {
                return Err(invalid(format!(
                    "line {}: logins[{i}].user: {:?} is not listed under [[users]]",
                    line_of(text, "logins", i, "user"),
                    l.user
                )));
            }
            if let LoginKey::OtherUser(o) = &l.key
                && !known(o)
            {
                return Err(invalid(format!(
                    "line {}: logins[{i}].key: other-user {o:?} is not listed under [[users]]",
                    line_of(text, "logins", i, "key")
                )));
            }
        }
        if s.uploads.is_empty() && s.directories.is_empty() && s.logins.is_empty() {
            return Err(invalid("give at least one [[uploads]] or [[directories]] entry".into()));
        }
        let mut expanded = Vec::with_capacity(s.uploads.len());
        for (i, u) in s.uploads.iter().enumerate() {
            match u.repeat {
                None => expanded.push(u.clone()),
                Some(n) if n == 0 || !u.path.contains("{n}") => {
                    return Err(invalid(format!(
                        "line {}: uploads[{i}].repeat: give a count of at least 1 and a path with {{n}} to number the files",
                        line_of(text, "uploads", i, "repeat")
                    )));
                }
                Some(n) => expanded.extend((1..=n).map(|k| Upload {
                    path: u.path.replace("{n}", &k.to_string()),
                    rename_to: u.rename_to.as_ref().map(|r| r.replace("{n}", &k.to_string())),
                    repeat: None,
                    ..u.clone()
                })),
            }
        }
        s.uploads = expanded;
        s.sim.resolve_paths(path);
        Ok(s)
    }

    /// The JSON Schema of scenario files, generated from these types.
    pub fn json_schema() -> String {
        schema_document::<Scenario>("scenario")
    }

    /// Scenario files under `dir`, by name.
    pub fn list(dir: &Path) -> Vec<(String, PathBuf)> {
        crate::named::list(dir)
    }
}

/// The JSON Schema of a file format (`scenario`, `load`), version 1, with its `$id`.
pub(crate) fn schema_document<T: JsonSchema>(format: &str) -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).expect("schema serializes");
    schema["$id"] = serde_json::json!(format!("https://partner-intake.dev/schemas/{format}.v1.schema.json"));
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let p = Path::new("x.toml");
        let e =
            Scenario::parse("name='x'\n[[users]]\nname='a'\n[[uploads]]\nuser='b'\npath='f'\nsize=1\n", p).unwrap_err();
        assert!(e.to_string().contains("uploads[0].user"), "{e}");
        let e = Scenario::parse("name='x'\nbogus=1\n[[users]]\nname='a'\nuploads=[]\n", p).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = Scenario::parse("name='x'\n[[users]]\nname='a'\n[[uploads]]\nuser='a'\npath='f'\nsize=-1\n", p)
            .unwrap_err();
        assert!(e.to_string().contains("size"), "{e}");
        let e = Scenario::parse(
            "name='x'\n[[users]]\nname='a'\nhome_directory_mappings=[{entry='in',target='/b/x'}]\n[[uploads]]\nuser='a'\npath='f'\nsize=1\n",
            p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2: users[0] (a): Entry \"in\" must be an absolute path"), "{e}");
    }

    /// `[sim] sfn_mock_config` names a file beside the scenario, wherever the harness runs.
    #[test]
    fn the_mock_config_path_is_relative_to_the_scenario() {
        let text = "name='x'\n[sim]\nsfn_mock_config='mocks/MockConfigFile.json'\n[[users]]\nname='a'\n[[uploads]]\nuser='a'\npath='f'\nsize=1\n";
        let s = Scenario::parse(text, Path::new("scenarios/x.toml")).unwrap();
        assert_eq!(s.sim.sfn_mock_config.as_deref(), Some(Path::new("scenarios/mocks/MockConfigFile.json")));
        assert!(!s.sim.is_default(), "a mock config needs the simulator");
        let absolute = text.replace("'mocks/", "'/etc/mocks/");
        let s = Scenario::parse(&absolute, Path::new("scenarios/x.toml")).unwrap();
        assert_eq!(s.sim.sfn_mock_config.as_deref(), Some(Path::new("/etc/mocks/MockConfigFile.json")));
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/scenario.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == Scenario::json_schema(),
            "scenarios/scenario.schema.json is stale: run `cargo run -p harness -- scenario schema > scenarios/scenario.schema.json`"
        );
    }

    #[test]
    fn repository_scenarios_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let all = Scenario::list(&dir);
        assert!(all.iter().any(|(n, _)| n == "smoke"));
        for (_, p) in all {
            Scenario::load(&p).unwrap();
        }
    }
}
