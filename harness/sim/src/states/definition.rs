//! State machine definitions: parsing and the checks AWS makes when one is created.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Why AWS would reject a definition (`InvalidDefinition`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid state machine definition at {at}: {reason}")]
pub struct DefinitionError {
    /// Where (`/States/TransferFile/Next`).
    pub at: String,
    /// What is wrong.
    pub reason: String,
}

/// A retrier.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    /// Error names it applies to.
    pub error_equals: Vec<String>,
    /// First wait, seconds (default 1).
    #[serde(default = "one")]
    pub interval_seconds: f64,
    /// Retries (default 3).
    #[serde(default = "three")]
    pub max_attempts: u32,
    /// Multiplier (default 2.0).
    #[serde(default = "two")]
    pub backoff_rate: f64,
    /// Cap on a single wait.
    #[serde(default)]
    pub max_delay_seconds: Option<f64>,
    /// `FULL` or `NONE`.
    #[serde(default)]
    pub jitter_strategy: Option<String>,
}

fn one() -> f64 {
    1.0
}
fn three() -> u32 {
    3
}
fn two() -> f64 {
    2.0
}

/// A catcher.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    /// Error names it applies to.
    pub error_equals: Vec<String>,
    /// Next state.
    pub next: String,
    /// Where the error output goes in the input (default `$`).
    #[serde(default = "dollar")]
    pub result_path: Option<String>,
}

fn dollar() -> Option<String> {
    Some("$".into())
}

/// One state; fields not used by its type stay empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// Task, Pass, Choice, Wait, Succeed, Fail, Parallel or Map.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Next state.
    #[serde(default)]
    pub next: Option<String>,
    /// Terminal state.
    #[serde(default)]
    pub end: Option<bool>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// InputPath (`null` discards input).
    #[serde(default = "dollar", deserialize_with = "nullable")]
    pub input_path: Option<String>,
    /// OutputPath.
    #[serde(default = "dollar", deserialize_with = "nullable")]
    pub output_path: Option<String>,
    /// ResultPath.
    #[serde(default = "dollar", deserialize_with = "nullable")]
    pub result_path: Option<String>,
    /// Parameters template.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// ResultSelector template.
    #[serde(default)]
    pub result_selector: Option<Value>,
    /// Pass result.
    #[serde(default)]
    pub result: Option<Value>,
    /// Task resource ARN.
    #[serde(default)]
    pub resource: Option<String>,
    /// Task timeout.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Task heartbeat.
    #[serde(default)]
    pub heartbeat_seconds: Option<u64>,
    /// Retriers.
    #[serde(default)]
    pub retry: Vec<Retrier>,
    /// Catchers.
    #[serde(default)]
    pub catch: Vec<Catcher>,
    /// Fail error.
    #[serde(default)]
    pub error: Option<String>,
    /// Fail cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// Fail error from a path.
    #[serde(default)]
    pub error_path: Option<String>,
    /// Fail cause from a path.
    #[serde(default)]
    pub cause_path: Option<String>,
    /// Choice rules.
    #[serde(default)]
    pub choices: Vec<Value>,
    /// Choice default.
    #[serde(default)]
    pub default: Option<String>,
    /// Wait seconds.
    #[serde(default)]
    pub seconds: Option<u64>,
    /// Wait seconds from a path.
    #[serde(default)]
    pub seconds_path: Option<String>,
    /// Wait until this timestamp.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Wait until the timestamp at this path.
    #[serde(default)]
    pub timestamp_path: Option<String>,
    /// Parallel branches.
    #[serde(default)]
    pub branches: Vec<Definition>,
    /// Map's item processor (`Iterator` is its older name).
    #[serde(default, alias = "Iterator")]
    pub item_processor: Option<Box<Definition>>,
    /// Map's items (default `$`).
    #[serde(default)]
    pub items_path: Option<String>,
    /// Map's per-item input template (`Parameters` is its older name).
    #[serde(default)]
    pub item_selector: Option<Value>,
    /// Map's concurrency limit (0: no limit).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// A parsed definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Definition {
    /// First state.
    pub start_at: String,
    /// All states.
    pub states: BTreeMap<String, State>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Whole-execution timeout.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

const KINDS: [&str; 8] = ["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"];

fn bad(at: impl Into<String>, reason: impl Into<String>) -> DefinitionError {
    DefinitionError { at: at.into(), reason: reason.into() }
}

impl Definition {
    /// Parses and checks a definition document.
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        let def: Definition = serde_json::from_str(text).map_err(|e| bad("/", e.to_string()))?;
        def.validate()?;
        Ok(def)
    }

    fn validate(&self) -> Result<(), DefinitionError> {
        self.validate_at("")
    }

    fn validate_at(&self, prefix: &str) -> Result<(), DefinitionError> {
        if !self.states.contains_key(&self.start_at) {
            return Err(bad(format!("{prefix}/StartAt"), format!("no state named {:?}", self.start_at)));
        }
        for (name, s) in &self.states {
            let at = |f: &str| format!("{prefix}/States/{name}/{f}");
            if !KINDS.contains(&s.kind.as_str()) {
                return Err(bad(at("Type"), format!("unknown state type {:?}", s.kind)));
            }
            if s.kind == "Parallel" {
                if s.branches.is_empty() {
                    return Err(bad(at("Branches"), "a Parallel state needs at least one branch"));
                }
                for (i, b) in s.branches.iter().enumerate() {
                    b.validate_at(&at(&format!("Branches[{i}]")))?;
                }
            }
            if s.kind == "Map" {
                match &s.item_processor {
                    Some(p) => p.validate_at(&at("ItemProcessor"))?,
                    None => return Err(bad(at("ItemProcessor"), "a Map state needs an ItemProcessor (or Iterator)")),
                }
            }
            if let (Some(h), Some(t)) = (s.heartbeat_seconds, s.timeout_seconds)
                && h >= t
            {
                return Err(bad(at("HeartbeatSeconds"), "HeartbeatSeconds must be smaller than TimeoutSeconds"));
            }
            if s.kind == "Wait" {
                let given =
                    [s.seconds.is_some(), s.seconds_path.is_some(), s.timestamp.is_some(), s.timestamp_path.is_some()];
                if given.iter().filter(|g| **g).count() != 1 {
                    return Err(bad(
                        at("Seconds"),
                        "a Wait needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                    ));
                }
            }
            let terminal = matches!(s.kind.as_str(), "Succeed" | "Fail" | "Choice");
            if !terminal {
                match (&s.next, s.end) {
                    (Some(_), Some(true)) => return Err(bad(at("Next"), "a state cannot have both Next and End")),
                    (None, None | Some(false)) => {
                        return Err(bad(at("Next"), "a non-terminal state needs Next or End: true"));
                    }
                    _ => {}
                }
            }
            let mut targets: Vec<(&str, &String)> = Vec::new();
            if let Some(n) = &s.next {
                targets.push(("Next", n));
            }
            if let Some(d) = &s.default {
                targets.push(("Default", d));
            }
            for c in &s.catch {
                targets.push(("Catch/Next", &c.next));
            }
            for rule in &s.choices {
                if let Some(Value::String(n)) = rule.get("Next") {
                    targets.push(("Choices/Next", n));
                } else {
                    return Err(bad(at("Choices"), "every choice rule needs Next"));
                }
            }
            for (field, target) in targets {
                if !self.states.contains_key(target) {
                    return Err(bad(at(field), format!("no state named {target:?}")));
                }
            }
            if s.kind == "Task" && s.resource.is_none() {
                return Err(bad(at("Resource"), "a Task needs a Resource"));
            }
            if s.kind == "Choice" && s.choices.is_empty() {
                return Err(bad(at("Choices"), "a Choice needs at least one rule"));
            }
            check_error_lists(s.retry.iter().map(|r| &r.error_equals), &at("Retry"))?;
            check_error_lists(s.catch.iter().map(|c| &c.error_equals), &at("Catch"))?;
            for (field, path) in
                [("InputPath", &s.input_path), ("OutputPath", &s.output_path), ("ResultPath", &s.result_path)]
            {
                if let Some(p) = path
                    && !p.starts_with('$')
                {
                    return Err(bad(at(field), format!("{p:?} is not a JSONPath")));
                }
            }
            // ResultPath writes, so it must be a reference path: one node, no wildcards or filters.
            let result_paths = std::iter::once(&s.result_path).chain(s.catch.iter().map(|c| &c.result_path));
            for p in result_paths.flatten() {
                if p.starts_with("$$") || p.contains(['*', '?', '@']) || p.contains("..") || p.contains(':') {
                    return Err(bad(at("ResultPath"), format!("{p:?} is not a reference path")));
                }
            }
        }
        Ok(())
    }
}

fn check_error_lists<'a>(lists: impl Iterator<Item = &'a Vec<String>>, at: &str) -> Result<(), DefinitionError> {
    let lists: Vec<_> = lists.collect();
    for (i, errs) in lists.iter().enumerate() {
        if errs.is_empty() {
            return Err(bad(format!("{at}[{i}]/ErrorEquals"), "must name at least one error"));
        }
        if errs.iter().any(|e| e == "States.ALL") && (errs.len() > 1 || i + 1 != lists.len()) {
            return Err(bad(
                format!("{at}[{i}]/ErrorEquals"),
                "States.ALL must appear alone and in the last retrier or catcher",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_aws_rejects() {
        let missing_next = r#"{"StartAt":"A","States":{"A":{"Type":"Pass"}}}"#;
        assert!(Definition::parse(missing_next).unwrap_err().reason.contains("Next or End"));
        let unknown = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#;
        assert_eq!(Definition::parse(unknown).unwrap_err().at, "/States/A/Next");
        let all_first = r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","End":true,
            "Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}]}}}"#;
        assert!(Definition::parse(all_first).unwrap_err().reason.contains("States.ALL"));
        let wildcard_result = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}"#;
        assert!(Definition::parse(wildcard_result).unwrap_err().reason.contains("reference path"));
        let bad_type = r#"{"StartAt":"A","States":{"A":{"Type":"Nope","End":true}}}"#;
        assert!(Definition::parse(bad_type).is_err());
    }

    #[test]
    fn retry_defaults() {
        let d = Definition::parse(r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","End":true,"Retry":[{"ErrorEquals":["E"]}]}}}"#).unwrap();
        let r = &d.states["A"].retry[0];
        assert_eq!((r.interval_seconds, r.max_attempts, r.backoff_rate), (1.0, 3, 2.0));
    }
}
