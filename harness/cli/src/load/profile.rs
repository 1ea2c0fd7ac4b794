//! Load profiles (`scenarios/load/*.toml`): who uploads, how many sessions or files per second
//! over which stages, file sizes, bounds and thresholds. The same versioned format, schema and
//! error messages as scenario files.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use super::quantity::{Bytes, Span};

/// The load profile format version this harness reads.
pub const PROFILE_VERSION: u32 = 1;

/// Why a profile could not be loaded: as for scenario files.
pub use crate::scenario::file::ScenarioError as ProfileError;

/// A load profile.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Partner intake load profile, version 1")]
pub struct Profile {
    /// Format version (1).
    #[serde(default = "default_version")]
    pub version: u32,
    /// Short name.
    pub name: String,
    /// Tags to select profiles.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What it measures.
    #[serde(default)]
    pub description: String,
    /// The SFTP users sessions log in as, in turn (session `i` is `users[i % len]`); each gets a
    /// fresh key on the simulator, or a `--user` account on a deployed stack.
    pub users: Vec<String>,
    /// Directory under each user's home that uploads go to (`<prefix>/<run>/...`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// File sizes.
    #[serde(default)]
    pub files: Files,
    /// Closed model: a number of sessions, each logging in, uploading, thinking, repeating.
    #[serde(default)]
    pub closed: Option<Closed>,
    /// Open model: files arrive at a rate, whatever the server's speed.
    #[serde(default)]
    pub open: Option<Open>,
    /// Replay: sessions and files at the times a session log recorded them (`harness load
    /// replay` writes these).
    #[serde(default)]
    pub replay: Option<Replay>,
    /// How long to run (without stages). Stages set their own duration.
    #[serde(default)]
    pub duration: Option<Span>,
    /// Stop after this many files (open model, replay) or session iterations (closed model).
    #[serde(default)]
    pub iterations: Option<u64>,
    /// How long to wait after the last upload for the pipeline to finish every file.
    #[serde(default = "default_drain")]
    pub drain_timeout: Span,
    /// Pass/fail criteria, such as `pipeline.p99<2s` or `errors.rate<0.1%` (see `harness load
    /// --help`); `--threshold` adds more.
    #[serde(default)]
    pub thresholds: Vec<String>,
}

/// File sizes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// The size of each file: fixed, or drawn from a distribution.
    pub size: SizeDistribution,
}

impl Default for Files {
    fn default() -> Self {
        Files { size: SizeDistribution::Fixed(Bytes(4096)) }
    }
}

/// How file sizes are drawn.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SizeDistribution {
    /// Every file this size (`size = "64KiB"`).
    Fixed(Bytes),
    /// Uniform between two sizes (`size = { uniform = ["1KiB", "1MiB"] }`).
    Uniform {
        /// Smallest and largest.
        uniform: [Bytes; 2],
    },
    /// Log-normal around a median, as real file sizes tend to be (`size = { log_normal = {
    /// median = "64KiB", sigma = 1.0 }, max = "100MiB" }`).
    LogNormal {
        /// Median and shape.
        log_normal: LogNormal,
        /// Sizes above this are drawn again.
        #[serde(default)]
        max: Option<Bytes>,
    },
    /// A list of sizes with weights (`size = { weighted = [["1KiB", 80], ["10MiB", 20]] }`).
    Weighted {
        /// (size, weight) pairs.
        weighted: Vec<(Bytes, u32)>,
    },
}

/// A log-normal distribution's parameters.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogNormal {
    /// The median size.
    pub median: Bytes,
    /// The standard deviation of the size's natural logarithm (1.0: a tenth of files are
    /// above 3.6x the median).
    pub sigma: f64,
}

/// One stage: ramp linearly from the previous stage's target (0 at the start) to `target`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Span,
    /// Sessions (closed model) or files per second (open model) at the stage's end.
    pub target: f64,
}

/// The closed model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Closed {
    /// Sessions held for the whole run (without stages).
    #[serde(default)]
    pub sessions: Option<u32>,
    /// Sessions over time, like k6's ramping-vus.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Files each session uploads per login (an iteration: login, uploads, logout).
    #[serde(default = "one")]
    pub files_per_session: u32,
    /// SFTP channels per connection that upload at once (Transfer Family allows 10).
    #[serde(default = "one")]
    pub channels: u32,
    /// Pause between a channel's uploads.
    #[serde(default)]
    pub think_time: Span,
}

/// The open model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Open {
    /// Files per second for the whole run (without stages).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Files per second over time, like k6's ramping-arrival-rate.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Most sessions open at once; files wait for a free channel beyond that (and their
    /// latency counts from when they were due).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: u32,
    /// SFTP channels per connection (Transfer Family allows 10).
    #[serde(default = "one")]
    pub channels: u32,
}

/// Replayed sessions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Each session, by start time.
    pub sessions: Vec<ReplaySession>,
}

/// One replayed session.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySession {
    /// When it logs in, from the start of the run.
    pub start: Span,
    /// Which of the profile's users.
    pub user: String,
    /// Its files, in order.
    #[serde(default)]
    pub files: Vec<ReplayFile>,
}

/// One replayed file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayFile {
    /// When its upload starts, from the session's start.
    pub at: Span,
    /// Its size.
    pub size: Bytes,
}

fn default_version() -> u32 {
    PROFILE_VERSION
}
fn default_prefix() -> String {
    "load".into()
}
fn default_drain() -> Span {
    Span(std::time::Duration::from_secs(60))
}
fn default_max_sessions() -> u32 {
    10
}
fn one() -> u32 {
    1
}

/// The model a profile uses, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Sessions.
    Closed,
    /// Arrivals.
    Open,
    /// Recorded sessions.
    Replay,
}

impl Profile {
    /// Loads and checks a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses profile text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid { path: path.into(), message };
        let p: Profile = toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        p.check().map_err(invalid)?;
        Ok(p)
    }

    /// What a parser cannot see: one model, bounds, sizes, users.
    fn check(&self) -> Result<(), String> {
        if self.version != PROFILE_VERSION {
            return Err(format!(
                "version: {} is not supported (this harness reads version {PROFILE_VERSION})",
                self.version
            ));
        }
        if self.users.is_empty() {
            return Err("users: name at least one SFTP user (users = [\"acme\"])".into());
        }
        let models = [self.closed.is_some(), self.open.is_some(), self.replay.is_some()];
        if models.iter().filter(|m| **m).count() != 1 {
            return Err("give exactly one of [closed], [open] or [replay]".into());
        }
        let check_stages = |section: &str, stages: &[Stage]| -> Result<(), String> {
            for (i, s) in stages.iter().enumerate() {
                if !(s.target.is_finite() && s.target >= 0.0) {
                    return Err(format!("{section}.stages[{i}].target: {} must be a number >= 0", s.target));
                }
                if s.duration.0.is_zero() {
                    return Err(format!("{section}.stages[{i}].duration: must be longer than 0"));
                }
            }
            if self.duration.is_some() && !stages.is_empty() {
                return Err(format!("duration: the {section}.stages set the run's length; drop duration"));
            }
            Ok(())
        };
        let bounded = self.duration.is_some() || self.iterations.is_some();
        if let Some(c) = &self.closed {
            match (c.sessions, c.stages.is_empty()) {
                (Some(_), false) => return Err("closed: give sessions or stages, not both".into()),
                (None, true) => return Err("closed: give sessions (a constant number) or stages".into()),
                (Some(0), _) => return Err("closed.sessions: must be at least 1".into()),
                (Some(_), true) if !bounded => {
                    return Err("closed: bound the run with duration or iterations (or use stages)".into());
                }
                _ => {}
            }
            check_stages("closed", &c.stages)?;
            if c.files_per_session == 0 || c.channels == 0 {
                return Err("closed: files_per_session and channels must be at least 1".into());
            }
        }
        if let Some(o) = &self.open {
            match (o.rate, o.stages.is_empty()) {
                (Some(_), false) => return Err("open: give rate or stages, not both".into()),
                (None, true) => return Err("open: give rate (files per second) or stages".into()),
                (Some(r), _) if !(r.is_finite() && r > 0.0) => {
                    return Err(format!("open.rate: {r} must be a number of files per second above 0"));
                }
                (Some(_), true) if !bounded => {
                    return Err("open: bound the run with duration or iterations (or use stages)".into());
                }
                _ => {}
            }
            check_stages("open", &o.stages)?;
            if o.max_sessions == 0 || o.channels == 0 {
                return Err("open: max_sessions and channels must be at least 1".into());
            }
        }
        if let Some(r) = &self.replay {
            for (i, s) in r.sessions.iter().enumerate() {
                if !self.users.contains(&s.user) {
                    return Err(format!("replay.sessions[{i}].user: {:?} is not in users", s.user));
                }
            }
        }
        match &self.files.size {
            SizeDistribution::Uniform { uniform: [lo, hi] } if lo > hi => {
                Err(format!("files.size.uniform: {lo} is larger than {hi}"))
            }
            SizeDistribution::LogNormal { log_normal, max } => {
                if !(log_normal.sigma.is_finite() && log_normal.sigma >= 0.0) {
                    Err("files.size.log_normal.sigma: must be a number >= 0".into())
                } else if log_normal.median.0 == 0 {
                    Err("files.size.log_normal.median: must be above 0".into())
                } else if max.is_some_and(|m| m < log_normal.median) {
                    Err("files.size.max: must be at least the median".into())
                } else {
                    Ok(())
                }
            }
            SizeDistribution::Weighted { weighted } if weighted.iter().map(|(_, w)| *w as u64).sum::<u64>() == 0 => {
                Err("files.size.weighted: give at least one size with a weight above 0".into())
            }
            _ => Ok(()),
        }
    }

    /// Which model it uses.
    pub fn model(&self) -> Model {
        if self.closed.is_some() {
            Model::Closed
        } else if self.open.is_some() {
            Model::Open
        } else {
            Model::Replay
        }
    }

    /// SFTP channels per connection.
    pub fn channels(&self) -> u32 {
        match (&self.closed, &self.open) {
            (Some(c), _) => c.channels,
            (_, Some(o)) => o.channels,
            _ => 1,
        }
    }

    /// The JSON Schema of profile files.
    pub fn json_schema() -> String {
        crate::scenario::file::schema_document::<Profile>("load")
    }

    /// Profile files under `dir`, by name.
    pub fn list(dir: &Path) -> Vec<(String, PathBuf)> {
        crate::named::list(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, String> {
        Profile::parse(text, Path::new("p.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn every_shipped_profile_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/load");
        let all = Profile::list(&dir);
        assert!(all.len() >= 3, "{all:?}");
        for (name, path) in all {
            Profile::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn mistakes_are_named() {
        let base = "name = \"x\"\nusers = [\"a\"]\n";
        let e = parse(&format!("{base}[closed]\nsessions = 2\n")).unwrap_err();
        assert!(e.contains("bound the run with duration or iterations"), "{e}");
        let e = parse(&format!("{base}duration = \"1s\"\n[closed]\nsessions = 2\n[open]\nrate = 1.0\n")).unwrap_err();
        assert!(e.contains("exactly one of [closed], [open] or [replay]"), "{e}");
        let e = parse(&format!("{base}duration = \"1 fortnight\"\n[open]\nrate = 1.0\n")).unwrap_err();
        assert!(e.contains("line 3") && e.contains("not a duration"), "{e}");
        let e = parse(&format!(
            "{base}duration = \"1s\"\n[files]\nsize = {{ uniform = [\"2KiB\", \"1KiB\"] }}\n[open]\nrate = 1.0\n"
        ))
        .unwrap_err();
        assert!(e.contains("files.size.uniform: 2KiB is larger than 1KiB"), "{e}");
        let e = parse(&format!("{base}[open]\nstages = [{{ duration = \"1s\", target = -1 }}]\n")).unwrap_err();
        assert!(e.contains("open.stages[0].target"), "{e}");
        let e = parse(&format!("{base}[closed]\nsesions = 2\n")).unwrap_err();
        assert!(e.contains("unknown field `sesions`"), "{e}");
        let ok = parse(&format!(
            "{base}iterations = 10\n[files]\nsize = {{ weighted = [[\"1KiB\", 3], [\"1MiB\", 1]] }}\n[closed]\nsessions = 2\n"
        ))
        .unwrap();
        assert_eq!(ok.model(), Model::Closed);
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/load/load.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            Profile::json_schema(),
            "scenarios/load/load.schema.json is stale: cargo run -p harness -- load schema > scenarios/load/load.schema.json"
        );
    }
}
