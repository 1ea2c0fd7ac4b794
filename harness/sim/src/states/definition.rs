//! State machine definitions: parsing and the checks AWS makes when one is created.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Why AWS would reject a definition (`InvalidDefinition`), or why the simulator does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", render(self))]
pub struct DefinitionError {
    /// Where (`/States/TransferFile/Next`).
    pub at: String,
    /// What is wrong.
    pub reason: String,
    /// AWS's diagnostic code (`SCHEMA_VALIDATION_FAILED`) when the message is AWS's own; the
    /// message then reads as AWS's does.
    pub code: Option<&'static str>,
}

/// AWS's form, `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field 'Foo' is not
/// supported at /States/MyState'`, for the checks that copy AWS's wording; the plain form for
/// the rest.
fn render(e: &DefinitionError) -> String {
    match e.code {
        Some(code) => format!("Invalid State Machine Definition: '{code}: {} at {}'", e.reason, e.at),
        None => format!("invalid state machine definition at {}: {}", e.at, e.reason),
    }
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
    DefinitionError { at: at.into(), reason: reason.into(), code: None }
}

fn schema(at: impl Into<String>, reason: impl Into<String>) -> DefinitionError {
    DefinitionError { at: at.into(), reason: reason.into(), code: Some("SCHEMA_VALIDATION_FAILED") }
}

impl Definition {
    /// Parses and checks a definition document.
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| bad("/", e.to_string()))?;
        // Fields first, on the document as written: the typed parse below ignores fields it does
        // not know, which is how a JSONata or variables definition would run as something else.
        fields::check(&doc)?;
        let def: Definition = serde_json::from_value(doc).map_err(|e| bad("/", e.to_string()))?;
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

/// The fields AWS accepts, per place in a definition, and the ones the simulator refuses although
/// AWS accepts them (JSONata, variables, and features it does not run).
///
/// The per-state whitelists are AWS's own language service schema
/// (github.com/aws/amazon-states-language-service, `src/validation/validationSchema.ts` at
/// 1a12a647d02f, 2025-03-27), which follows the Amazon States Language
/// (https://states-language.net/spec.html) and adds what Step Functions accepts beyond it
/// (QueryLanguage, Assign, Arguments, Output, Items, Credentials, ...). One correction from
/// AWS-measured behaviour: a Map's `ItemProcessor`/`Iterator` does not accept `QueryLanguage`
/// (`Field 'QueryLanguage' is not supported`, https://github.com/floci-io/floci/issues/2968).
mod fields {
    use serde_json::{Map, Value};

    use super::{DefinitionError, bad, schema};

    const ROOT: &[&str] = &["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"];
    const PARALLEL_BRANCH: &[&str] = &["StartAt", "States", "Comment", "QueryLanguage"];
    const MAP_PROCESSOR: &[&str] = &["StartAt", "States", "Comment", "ProcessorConfig"];

    /// `Next`, `End`, `Comment`, `InputPath`, `OutputPath`, `QueryLanguage`, `Type`: the fields
    /// every state type but Choice, Succeed and Fail shares.
    const COMMON: &[&str] = &["Type", "Next", "End", "Comment", "InputPath", "OutputPath", "QueryLanguage"];

    fn state_fields(kind: &str) -> Option<(bool, &'static [&'static str])> {
        Some(match kind {
            "Pass" => (true, &["Assign", "Result", "ResultPath", "Parameters", "Output"]),
            "Task" => (
                true,
                &[
                    "Assign",
                    "Resource",
                    "Parameters",
                    "Credentials",
                    "ResultSelector",
                    "ResultPath",
                    "TimeoutSeconds",
                    "TimeoutSecondsPath",
                    "HeartbeatSeconds",
                    "HeartbeatSecondsPath",
                    "Retry",
                    "Catch",
                    "Arguments",
                    "Output",
                ],
            ),
            "Choice" => (
                false,
                &[
                    "Comment",
                    "InputPath",
                    "OutputPath",
                    "QueryLanguage",
                    "Type",
                    "Choices",
                    "Output",
                    "Assign",
                    "Default",
                ],
            ),
            "Wait" => (true, &["Assign", "Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Output"]),
            "Succeed" => (false, &["QueryLanguage", "Type", "Comment", "InputPath", "OutputPath", "Output"]),
            "Fail" => (false, &["Error", "ErrorPath", "Cause", "CausePath", "Comment", "QueryLanguage", "Type"]),
            "Parallel" => (
                true,
                &[
                    "Assign",
                    "Branches",
                    "ResultPath",
                    "Parameters",
                    "ResultSelector",
                    "Arguments",
                    "Output",
                    "Retry",
                    "Catch",
                ],
            ),
            "Map" => (
                true,
                &[
                    "Assign",
                    "Iterator",
                    "ItemsPath",
                    "Items",
                    "MaxConcurrency",
                    "MaxConcurrencyPath",
                    "ResultPath",
                    "Output",
                    "Parameters",
                    "ResultSelector",
                    "ItemReader",
                    "ItemSelector",
                    "ItemBatcher",
                    "ResultWriter",
                    "ItemProcessor",
                    "ToleratedFailurePercentage",
                    "ToleratedFailurePercentagePath",
                    "ToleratedFailureCount",
                    "ToleratedFailureCountPath",
                    "Label",
                    "Retry",
                    "Catch",
                ],
            ),
            _ => return None,
        })
    }

    const RETRIER: &[&str] = &[
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "Comment",
        "MaxDelaySeconds",
        "JitterStrategy",
    ];
    const CATCHER: &[&str] = &["ErrorEquals", "ResultPath", "Output", "Next", "Comment", "Assign"];

    /// Choice rule comparison operators (the ASL spec's "Choice Rules" section).
    const OPERATORS: &[&str] = &[
        "And",
        "Not",
        "Or",
        "BooleanEquals",
        "NumericEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "StringEquals",
        "StringGreaterThan",
        "StringGreaterThanEquals",
        "StringLessThan",
        "StringLessThanEquals",
        "TimestampEquals",
        "TimestampGreaterThan",
        "TimestampGreaterThanEquals",
        "TimestampLessThan",
        "TimestampLessThanEquals",
        "BooleanEqualsPath",
        "NumericEqualsPath",
        "NumericGreaterThanPath",
        "NumericGreaterThanEqualsPath",
        "NumericLessThanPath",
        "NumericLessThanEqualsPath",
        "StringEqualsPath",
        "StringGreaterThanPath",
        "StringGreaterThanEqualsPath",
        "StringLessThanPath",
        "StringLessThanEqualsPath",
        "TimestampEqualsPath",
        "TimestampGreaterThanPath",
        "TimestampGreaterThanEqualsPath",
        "TimestampLessThanPath",
        "TimestampLessThanEqualsPath",
        "StringMatches",
        "IsNull",
        "IsPresent",
        "IsNumeric",
        "IsString",
        "IsBoolean",
        "IsTimestamp",
    ];
    const CHOICE_RULE: &[&str] = &["Variable", "Next", "Comment", "Assign", "Condition", "Output"];
    const NESTED_RULE: &[&str] = &["Variable", "Comment", "Assign"];

    /// Fields only JSONata states have
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
    const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

    /// Fields AWS accepts that the interpreter does not run: refused rather than ignored, since an
    /// ignored one would run a different workflow from AWS's.
    const NOT_SIMULATED: &[(&str, &str)] = &[
        ("Assign", "workflow variables (Assign) are not supported by the simulator"),
        ("Credentials", "cross-account Task Credentials are not supported by the simulator"),
        ("TimeoutSecondsPath", "TimeoutSecondsPath is not supported by the simulator: use TimeoutSeconds"),
        ("HeartbeatSecondsPath", "HeartbeatSecondsPath is not supported by the simulator: use HeartbeatSeconds"),
        ("MaxConcurrencyPath", "MaxConcurrencyPath is not supported by the simulator: use MaxConcurrency"),
        ("ItemReader", "Distributed Map (ItemReader) is not supported by the simulator"),
        ("ItemBatcher", "Distributed Map (ItemBatcher) is not supported by the simulator"),
        ("ResultWriter", "Distributed Map (ResultWriter) is not supported by the simulator"),
        ("ToleratedFailurePercentage", "Distributed Map failure tolerance is not supported by the simulator"),
        ("ToleratedFailurePercentagePath", "Distributed Map failure tolerance is not supported by the simulator"),
        ("ToleratedFailureCount", "Distributed Map failure tolerance is not supported by the simulator"),
        ("ToleratedFailureCountPath", "Distributed Map failure tolerance is not supported by the simulator"),
    ];

    const USE_JSONPATH: &str = "JSONata is not supported by the simulator: write the state machine in JSONPath";

    /// Checks every object of the definition against its whitelist.
    pub fn check(doc: &Value) -> Result<(), DefinitionError> {
        let Value::Object(root) = doc else { return Err(bad("/", "a definition is a JSON object")) };
        machine(root, "", ROOT)
    }

    /// A (sub-)state machine at `prefix` ("" for the root, `/States/P/Branches[0]` inside).
    fn machine(m: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<(), DefinitionError> {
        let here = if prefix.is_empty() { "/" } else { prefix };
        only(m, allowed, here)?;
        query_language(m, here)?;
        if let Some(Value::Object(config)) = m.get("ProcessorConfig")
            && config.get("Mode").and_then(Value::as_str).is_some_and(|mode| mode != "INLINE")
        {
            return Err(bad(
                format!("{here}/ProcessorConfig/Mode"),
                "Distributed Map (Mode DISTRIBUTED) is not supported by the simulator: use INLINE",
            ));
        }
        let Some(Value::Object(states)) = m.get("States") else { return Ok(()) };
        for (name, s) in states {
            if let Value::Object(s) = s {
                state(s, &format!("{prefix}/States/{name}"))?;
            }
        }
        Ok(())
    }

    fn state(s: &Map<String, Value>, at: &str) -> Result<(), DefinitionError> {
        // An unknown or missing Type is reported by the typed checks, with their wording.
        let Some((common, own)) = s.get("Type").and_then(Value::as_str).and_then(state_fields) else { return Ok(()) };
        for field in s.keys() {
            let f = field.as_str();
            if !(own.contains(&f) || common && COMMON.contains(&f)) {
                return Err(unsupported(field, at));
            }
        }
        query_language(s, at)?;
        simulated(s, at)?;
        for (i, r) in array(s, "Retry").enumerate() {
            if let Value::Object(r) = r {
                only(r, RETRIER, &format!("{at}/Retry[{i}]"))?;
            }
        }
        for (i, c) in array(s, "Catch").enumerate() {
            if let Value::Object(c) = c {
                let at = format!("{at}/Catch[{i}]");
                only(c, CATCHER, &at)?;
                simulated(c, &at)?;
            }
        }
        for (i, rule) in array(s, "Choices").enumerate() {
            choice_rule(rule, &format!("{at}/Choices[{i}]"), CHOICE_RULE)?;
        }
        for (i, b) in array(s, "Branches").enumerate() {
            if let Value::Object(b) = b {
                machine(b, &format!("{at}/Branches[{i}]"), PARALLEL_BRANCH)?;
            }
        }
        for field in ["ItemProcessor", "Iterator"] {
            if let Some(Value::Object(p)) = s.get(field) {
                machine(p, &format!("{at}/{field}"), MAP_PROCESSOR)?;
            }
        }
        Ok(())
    }

    fn choice_rule(rule: &Value, at: &str, own: &[&str]) -> Result<(), DefinitionError> {
        let Value::Object(r) = rule else { return Ok(()) };
        for field in r.keys() {
            if !own.contains(&field.as_str()) && !OPERATORS.contains(&field.as_str()) {
                return Err(unsupported(field, at));
            }
        }
        simulated(r, at)?;
        for op in ["And", "Or"] {
            for (i, inner) in array(r, op).enumerate() {
                choice_rule(inner, &format!("{at}/{op}[{i}]"), NESTED_RULE)?;
            }
        }
        if let Some(inner) = r.get("Not") {
            choice_rule(inner, &format!("{at}/Not"), NESTED_RULE)?;
        }
        Ok(())
    }

    fn array<'a>(m: &'a Map<String, Value>, field: &str) -> impl Iterator<Item = &'a Value> {
        m.get(field).and_then(Value::as_array).into_iter().flatten()
    }

    /// Only `allowed` fields, or AWS's "not supported" (after the JSONata and simulator checks,
    /// whose messages say more).
    fn only(m: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), DefinitionError> {
        match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(field) => Err(unsupported(field, at)),
            None => Ok(()),
        }
    }

    /// A field where it does not belong. A JSONata-only field gets AWS's message for it in a
    /// JSONPath machine (`The QueryLanguage is set to 'JSONPath', but field 'Output' is only
    /// supported for the 'JSONata' QueryLanguage`, measured on AWS:
    /// https://github.com/floci-io/floci/issues/2968), with what to do here; any other gets AWS's
    /// `Field 'Foo' is not supported` (https://github.com/floci-io/floci/issues/2735).
    fn unsupported(field: &str, at: &str) -> DefinitionError {
        if JSONATA_ONLY.contains(&field) {
            return jsonata_field(field, at);
        }
        if let Some((_, why)) = NOT_SIMULATED.iter().find(|(f, _)| *f == field) {
            return bad(at, format!("field '{field}': {why}"));
        }
        schema(at, format!("Field '{field}' is not supported"))
    }

    fn jsonata_field(field: &str, at: &str) -> DefinitionError {
        schema(
            at,
            format!(
                "The QueryLanguage is set to 'JSONPath', but field '{field}' is only supported for the 'JSONata' \
                 QueryLanguage ({USE_JSONPATH})"
            ),
        )
    }

    /// Refuses the fields AWS accepts here but the simulator does not run, and JSONata-only ones.
    fn simulated(m: &Map<String, Value>, at: &str) -> Result<(), DefinitionError> {
        for field in m.keys() {
            if JSONATA_ONLY.contains(&field.as_str()) {
                return Err(jsonata_field(field, at));
            }
            if let Some((_, why)) = NOT_SIMULATED.iter().find(|(f, _)| f == field) {
                return Err(bad(at, format!("field '{field}': {why}")));
            }
        }
        Ok(())
    }

    /// `QueryLanguage` may say JSONPath (the default); JSONata is refused by name.
    fn query_language(m: &Map<String, Value>, at: &str) -> Result<(), DefinitionError> {
        match m.get("QueryLanguage") {
            None => Ok(()),
            Some(Value::String(l)) if l == "JSONPath" => Ok(()),
            Some(Value::String(l)) if l == "JSONata" => {
                Err(bad(at, format!("field 'QueryLanguage' is 'JSONata': {USE_JSONPATH}")))
            }
            Some(other) => {
                Err(schema(at, format!("Field 'QueryLanguage' must be 'JSONPath' or 'JSONata', not {other}")))
            }
        }
    }
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

    /// The state machine the stack ships (`infra/definitions/state-machine.asl.json`; its
    /// `${...}` placeholders sit inside strings, so it is JSON as it is).
    const SHIPPED: &str = include_str!("../../../../infra/definitions/state-machine.asl.json");

    fn err(text: &str) -> DefinitionError {
        Definition::parse(text).unwrap_err()
    }

    #[test]
    fn the_shipped_state_machine_parses() {
        let d = Definition::parse(SHIPPED).unwrap();
        assert_eq!(d.start_at, "RecordUpload");
    }

    /// A field the state's type does not have fails as AWS fails it:
    /// `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field '_comment_concurrency'
    /// is not supported at /States/ScoreBatchMap'` (a CloudFormation deploy's error, quoted in a
    /// public repository's validation tests), with the code and message AWS's validator gives
    /// for it located at the state (https://github.com/floci-io/floci/issues/2735).
    #[test]
    fn unknown_state_fields_fail_with_awss_message() {
        let e = err(r#"{"StartAt":"MyState","States":{"MyState":{"Type":"Pass","Foo":1,"End":true}}}"#);
        assert_eq!(
            e.to_string(),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field 'Foo' is not supported at /States/MyState'"
        );
        // Nested machines name the whole path.
        let nested = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
            {"StartAt":"B","States":{"B":{"Type":"Succeed","Bar":true}}}]}}}"#;
        assert_eq!(err(nested).at, "/States/P/Branches[0]/States/B");
        assert!(err(nested).reason.contains("Field 'Bar' is not supported"));
    }

    /// Fields are allowed per state type: AWS refuses TimeoutSeconds on every type but Task, and
    /// Retry and Catch on Pass, Wait, Choice, Succeed and Fail (measured on AWS,
    /// https://github.com/floci-io/floci/issues/2735; the whitelist is AWS's language service
    /// schema, see `fields`).
    #[test]
    fn fields_are_allowed_per_state_type() {
        for kind in [r#""Type":"Pass","End":true"#, r#""Type":"Wait","Seconds":1,"End":true"#, r#""Type":"Succeed""#] {
            for field in [r#""TimeoutSeconds":5"#, r#""Retry":[]"#, r#""Catch":[]"#] {
                let text = format!(r#"{{"StartAt":"S","States":{{"S":{{{kind},{field}}}}}}}"#);
                let e = err(&text);
                assert_eq!((e.at.as_str(), e.code), ("/States/S", Some("SCHEMA_VALIDATION_FAILED")), "{text}");
            }
        }
        let fail_with_next = r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Next":"F"}}}"#;
        assert!(err(fail_with_next).reason.contains("Field 'Next' is not supported"));
        let map_with_timeout = r#"{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"TimeoutSeconds":3,
            "ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}}}}"#;
        assert!(err(map_with_timeout).reason.contains("Field 'TimeoutSeconds' is not supported"));
    }

    /// The top level allows StartAt, States, Comment, Version, TimeoutSeconds and QueryLanguage
    /// (https://states-language.net/spec.html, "Top-level fields"; QueryLanguage from
    /// https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html); retriers,
    /// catchers and choice rules have their own sets.
    #[test]
    fn top_level_retriers_catchers_and_rules_have_their_own_fields() {
        let ok = r#"{"Comment":"c","Version":"1.0","TimeoutSeconds":60,"QueryLanguage":"JSONPath","StartAt":"A",
            "States":{"A":{"Type":"Pass","End":true}}}"#;
        Definition::parse(ok).unwrap();
        let e = err(r#"{"Coment":"typo","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#);
        assert_eq!(
            e.to_string(),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field 'Coment' is not supported at /'"
        );
        let retrier = r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true,
            "Retry":[{"ErrorEquals":["E"],"MaxDelaySeconds":5,"JitterStrategy":"FULL","Wait":1}]}}}"#;
        assert_eq!(err(retrier).at, "/States/T/Retry[0]");
        let catcher = r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true,
            "Catch":[{"ErrorEquals":["E"],"Next":"T","Goto":"T"}]}}}"#;
        assert_eq!(err(catcher).at, "/States/T/Catch[0]");
        let rule = r#"{"StartAt":"C","States":{"C":{"Type":"Choice","Default":"D","Choices":[
            {"And":[{"Variable":"$.a","IsPresent":true,"Next":"D"}],"Next":"D"}]},"D":{"Type":"Succeed"}}}"#;
        let e = err(rule);
        assert_eq!(e.at, "/States/C/Choices[0]/And[0]");
        assert!(e.reason.contains("Field 'Next' is not supported"), "{e}");
    }

    /// Distributed Map and the `...Path` variants the interpreter does not run are refused by
    /// name, not ignored; an inline Map's `ProcessorConfig` is fine.
    #[test]
    fn fields_aws_accepts_but_the_simulator_does_not_run_are_refused() {
        let processor = |config: &str| {
            format!(
                r#"{{"StartAt":"M","States":{{"M":{{"Type":"Map","End":true,
                "ItemProcessor":{{"ProcessorConfig":{config},"StartAt":"X","States":{{"X":{{"Type":"Succeed"}}}}}}}}}}}}"#
            )
        };
        Definition::parse(&processor(r#"{"Mode":"INLINE"}"#)).unwrap();
        let e = err(&processor(r#"{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"}"#));
        assert!(e.reason.contains("not supported by the simulator"), "{e}");
        let path =
            r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true,"TimeoutSecondsPath":"$.t"}}}"#;
        let e = err(path);
        assert_eq!(e.at, "/States/T");
        assert!(
            e.reason.contains("'TimeoutSecondsPath'") && e.reason.contains("not supported by the simulator"),
            "{e}"
        );
        // AWS refuses QueryLanguage on a Map's processor (https://github.com/floci-io/floci/issues/2968).
        let e = err(&processor(r#"{"Mode":"INLINE"},"QueryLanguage":"JSONPath""#));
        assert!(e.reason.contains("Field 'QueryLanguage' is not supported"), "{e}");
    }

    /// JSONata is never run as something else: `QueryLanguage: JSONata`, at the top or on a
    /// state, and the JSONata-only fields `Arguments`, `Output`, `Items` and `Condition`
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html) fail
    /// CreateStateMachine naming the field and the state; a JSONata-only field gets AWS's own
    /// message for it in a JSONPath machine (measured on AWS, https://github.com/floci-io/floci/issues/2968).
    #[test]
    fn jsonata_is_refused_by_name() {
        let per_state = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}}"#;
        let e = err(per_state);
        assert_eq!(e.at, "/States/P");
        assert!(e.reason.contains("'QueryLanguage'") && e.reason.contains("JSONata is not supported by the simulator"));
        assert!(e.reason.contains("JSONPath"), "{e}");
        let cases = [
            ("Output", r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Output":{"a":1},"End":true}}}"#, "/States/P"),
            (
                "Arguments",
                r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","Arguments":{},"End":true}}}"#,
                "/States/T",
            ),
            (
                "Items",
                r#"{"StartAt":"M","States":{"M":{"Type":"Map","Items":"{% $states.input %}","End":true,
                "ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}}}}"#,
                "/States/M",
            ),
            (
                "Condition",
                r#"{"StartAt":"C","States":{"C":{"Type":"Choice","Default":"D",
                "Choices":[{"Condition":"{% true %}","Next":"D"}]},"D":{"Type":"Succeed"}}}"#,
                "/States/C/Choices[0]",
            ),
            (
                "Output",
                r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true,
                "Catch":[{"ErrorEquals":["States.ALL"],"Output":{},"Next":"T"}]}}}"#,
                "/States/T/Catch[0]",
            ),
        ];
        for (field, text, at) in cases {
            let e = err(text);
            assert_eq!(e.at, at, "{field}");
            let aws = format!(
                "The QueryLanguage is set to 'JSONPath', but field '{field}' is only supported for the 'JSONata' QueryLanguage"
            );
            assert!(
                e.reason.starts_with(&aws) && e.reason.contains("JSONata is not supported by the simulator"),
                "{e}"
            );
        }
    }

    /// `Assign` (workflow variables) is valid AWS in JSONPath too
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html), but the
    /// interpreter has no variables: refused by name wherever AWS allows it.
    #[test]
    fn assign_is_refused_by_name() {
        for (text, at) in [
            (r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"x":1},"End":true}}}"#, "/States/P"),
            (
                r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true,
                "Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"x":1},"Next":"T"}]}}}"#,
                "/States/T/Catch[0]",
            ),
            (
                r#"{"StartAt":"C","States":{"C":{"Type":"Choice","Default":"D",
                "Choices":[{"Variable":"$.a","IsPresent":true,"Assign":{"x":1},"Next":"D"}]},"D":{"Type":"Succeed"}}}"#,
                "/States/C/Choices[0]",
            ),
        ] {
            let e = err(text);
            assert_eq!(e.at, at);
            assert!(e.reason.contains("'Assign'") && e.reason.contains("not supported by the simulator"), "{e}");
        }
    }

    /// The shipped state machine rewritten in JSONata, by hand, as
    /// https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html writes JSONata
    /// states (`QueryLanguage` at the top, `Arguments` and `Output` in place of the path fields,
    /// `Condition` in Choice rules, `{% %}` expressions, `$states.input` / `$states.result` /
    /// `$states.errorOutput` / `$states.context`): refused, naming `QueryLanguage`.
    #[test]
    fn the_shipped_state_machine_in_jsonata_is_refused_naming_query_language() {
        let jsonata = r##"{
          "Comment": "The shipped workflow, in JSONata",
          "QueryLanguage": "JSONata",
          "StartAt": "RecordUpload",
          "States": {
            "RecordUpload": {
              "Type": "Task",
              "Resource": "arn:aws:states:::dynamodb:putItem",
              "Arguments": {
                "TableName": "${metadata_table}",
                "Item": {
                  "file_id": {"S": "{% $hash($states.input.source_bucket & '/' & $states.input.key & '#' & $states.input.version_id, 'SHA-256') %}"},
                  "source_bucket": {"S": "{% $states.input.source_bucket %}"},
                  "key": {"S": "{% $states.input.key %}"},
                  "size_bytes": {"N": "{% $string($states.input.size) %}"},
                  "status": {"S": "uploaded"},
                  "execution_arn": {"S": "{% $states.context.Execution.Id %}"}
                },
                "ConditionExpression": "attribute_not_exists(file_id)"
              },
              "Output": "{% $states.input %}",
              "Catch": [
                {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Output": "{% $states.input %}", "Next": "TransferFile"},
                {"ErrorEquals": ["States.ALL"], "Output": "{% $merge([$states.input, {'record_upload_error': $states.errorOutput}]) %}", "Next": "TransferFile"}
              ],
              "Next": "TransferFile"
            },
            "TransferFile": {
              "Type": "Task",
              "Resource": "arn:aws:states:::lambda:invoke",
              "Arguments": {"FunctionName": "${copy_function_arn}", "Payload": "{% $states.input %}"},
              "Output": "{% $merge([$states.input, {'transfer': {'result': $states.result.Payload}}]) %}",
              "TimeoutSeconds": 900,
              "Retry": [{"ErrorEquals": ["CopyIncomplete"], "IntervalSeconds": 1, "MaxAttempts": 50, "BackoffRate": 1.0}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $merge([$states.input, {'error': $states.errorOutput}]) %}", "Next": "HasCause"}],
              "Next": "TransferSucceeded"
            },
            "HasCause": {
              "Type": "Choice",
              "Choices": [{"Condition": "{% $exists($states.input.error.Cause) %}", "Next": "RecordFailure"}],
              "Default": "AddCause"
            },
            "AddCause": {
              "Type": "Pass",
              "Output": "{% $merge([$states.input, {'error': $merge([$states.input.error, {'Cause': ''}])}]) %}",
              "Next": "RecordFailure"
            },
            "RecordFailure": {
              "Type": "Task",
              "Resource": "arn:aws:states:::dynamodb:updateItem",
              "Arguments": {
                "TableName": "${metadata_table}",
                "Key": {"file_id": {"S": "{% $hash($states.input.source_bucket & '/' & $states.input.key & '#' & $states.input.version_id, 'SHA-256') %}"}},
                "UpdateExpression": "SET #s = :failed, error_type = :type, error_message = :cause",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {
                  ":failed": {"S": "failed"},
                  ":type": {"S": "{% $states.input.error.Error %}"},
                  ":cause": {"S": "{% $states.input.error.Cause %}"}
                }
              },
              "Output": "{% $states.input %}",
              "Next": "TransferFailed"
            },
            "TransferSucceeded": {"Type": "Succeed"},
            "TransferFailed": {"Type": "Fail", "Error": "{% $states.input.error.Error %}", "Cause": "{% $states.input.error.Cause %}"}
          }
        }"##;
        serde_json::from_str::<Value>(jsonata).expect("the fixture is JSON");
        let e = err(jsonata);
        assert_eq!(e.at, "/");
        assert!(
            e.reason.contains("'QueryLanguage'") && e.reason.contains("JSONata is not supported by the simulator"),
            "{e}"
        );
        assert!(e.to_string().contains("QueryLanguage"), "{e}");
    }
}
