//! Input transformers: `InputPathsMap` picks values out of the event, `InputTemplate` places
//! them, quoted-string context or raw-JSON context, as EventBridge does.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Why a transformer was rejected or could not produce valid input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// A path in `InputPathsMap` is not a supported JSONPath.
    #[error("InputPathsMap.{name}: invalid path {path:?}: {reason}")]
    BadPath {
        /// Variable name.
        name: String,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Too many variables or a reserved name.
    #[error("InputPathsMap: {0}")]
    BadMap(String),
    /// The template uses a variable the map does not define.
    #[error("InputTemplate: unknown placeholder <{0}>")]
    UnknownPlaceholder(String),
    /// The result is not valid JSON although the template looks like JSON.
    #[error("InputTemplate produced invalid JSON: {0}")]
    InvalidJson(String),
}

/// Rule facts the reserved `aws.events.*` variables expose.
#[derive(Debug, Clone, Default)]
pub struct RuleFacts {
    /// Rule name.
    pub name: String,
    /// Rule ARN.
    pub arn: String,
}

/// A target's input transformer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputTransformer {
    /// Variable name to JSONPath.
    #[serde(default)]
    pub input_paths_map: BTreeMap<String, String>,
    /// The template.
    pub input_template: String,
}

impl InputTransformer {
    /// Parses a transformer document and checks its paths and placeholders.
    pub fn parse(text: &str) -> Result<Self, TransformError> {
        let t: Self = serde_json::from_str(text).map_err(|e| TransformError::BadMap(e.to_string()))?;
        t.validate()?;
        Ok(t)
    }

    /// Checks the documented limits: at most 100 variables, no `aws.*` names, paths of the
    /// `$.a.b` form, and every placeholder defined.
    pub fn validate(&self) -> Result<(), TransformError> {
        if self.input_paths_map.len() > 100 {
            return Err(TransformError::BadMap("at most 100 variables".into()));
        }
        for (name, path) in &self.input_paths_map {
            if name.starts_with("aws.") {
                return Err(TransformError::BadMap(format!("variable names starting with aws. are reserved: {name}")));
            }
            parse_path(path).map_err(|reason| TransformError::BadPath {
                name: name.clone(),
                path: path.clone(),
                reason,
            })?;
        }
        for (placeholder, _) in placeholders(&self.input_template) {
            if !self.input_paths_map.contains_key(&placeholder) && !placeholder.starts_with("aws.events.") {
                return Err(TransformError::UnknownPlaceholder(placeholder));
            }
        }
        Ok(())
    }

    /// Produces the target input for an event (a JSON document when the template is one).
    pub fn apply(&self, event: &Value, rule: &RuleFacts) -> Result<String, TransformError> {
        self.apply_at(event, rule, std::time::SystemTime::now())
    }

    /// As [`InputTransformer::apply`], with the event ingested at `ingested` (the bus's clock).
    pub fn apply_at(
        &self,
        event: &Value,
        rule: &RuleFacts,
        ingested: std::time::SystemTime,
    ) -> Result<String, TransformError> {
        let mut values: BTreeMap<String, Option<Value>> = BTreeMap::new();
        for (name, path) in &self.input_paths_map {
            let segments = parse_path(path).expect("validated");
            values.insert(name.clone(), lookup(event, &segments).cloned());
        }
        let ingestion = crate::events::s3_event::event_time(ingested);
        values.insert("aws.events.rule-name".into(), Some(Value::String(rule.name.clone())));
        values.insert("aws.events.rule-arn".into(), Some(Value::String(rule.arn.clone())));
        values.insert("aws.events.event.ingestion-time".into(), Some(Value::String(ingestion)));
        values.insert("aws.events.event".into(), Some(event_without_detail(event)));
        values.insert("aws.events.event.json".into(), Some(event.clone()));

        let template = &self.input_template;
        let mut out = String::with_capacity(template.len() + 64);
        let mut last = 0;
        for (name, (start, end, in_string)) in placeholders(template) {
            out.push_str(&template[last..start]);
            let value = values.get(&name).ok_or_else(|| TransformError::UnknownPlaceholder(name.clone()))?;
            match (value, in_string) {
                // A missing path leaves nothing inside quotes and an empty string outside them:
                // AWS delivered `"command": ""` for an unquoted `<command>` whose path was not in
                // the event (LocalStack's AWS-recorded snapshot, see the tests).
                (None, true) => {}
                (None, false) => out.push_str("\"\""),
                (Some(Value::String(s)), true) => {
                    let quoted = Value::String(s.clone()).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                (Some(v), true) => {
                    let json = v.to_string();
                    let quoted = Value::String(json).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                (Some(v), false) => out.push_str(&v.to_string()),
            }
            last = end;
        }
        out.push_str(&template[last..]);
        let trimmed = out.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            serde_json::from_str::<Value>(&out).map_err(|e| TransformError::InvalidJson(format!("{e}: {out}")))?;
        }
        Ok(out)
    }
}

/// One step of an `InputPathsMap` path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name`
    Key(String),
    /// `[n]`
    Index(usize),
}

/// Supported paths: `$`, `$.a.b`, with simple names, each optionally followed by array indices
/// (`$.resources[0]`, `$.detail.items[1][0]`): EventBridge lists "array indices" among the
/// path syntax it supports
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let rest = path.strip_prefix('$').ok_or("must start with $")?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let rest = rest.strip_prefix('.').ok_or("segments are written .name")?;
    let mut steps = Vec::new();
    for seg in rest.split('.') {
        let (name, mut indices) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if name.is_empty() || name.contains([']', '*', '(', ')', '?', '@']) {
            return Err(format!("unsupported segment {seg:?}"));
        }
        steps.push(Step::Key(name.to_string()));
        while !indices.is_empty() {
            let inner = indices.strip_prefix('[').and_then(|r| r.split_once(']'));
            let Some((n, after)) = inner else { return Err(format!("unsupported segment {seg:?}")) };
            let n = n.parse::<usize>().map_err(|_| format!("array index {n:?} in {seg:?} is not a number"))?;
            steps.push(Step::Index(n));
            indices = after;
        }
    }
    Ok(steps)
}

fn lookup<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

/// The event as `<aws.events.event>` gives it: without `detail`, and with `detail-type` as
/// `detailType`, which is what AWS delivered (the field set of LocalStack's AWS-recorded
/// snapshot: id, account, detailType, time, source, region, resources, version; see the tests).
fn event_without_detail(event: &Value) -> Value {
    let Value::Object(fields) = event else { return event.clone() };
    let mut out = fields.clone();
    out.remove("detail");
    if let Some(t) = out.remove("detail-type") {
        out.insert("detailType".into(), t);
    }
    Value::Object(out)
}

/// Finds `<name>` placeholders: (name, (start, end, inside a JSON string)).
fn placeholders(template: &str) -> Vec<(String, (usize, usize, bool))> {
    let bytes = template.as_bytes();
    let mut out = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'<' => {
                if let Some(len) = template[i + 1..].find('>') {
                    let name = &template[i + 1..i + 1 + len];
                    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
                        out.push((name.to_string(), (i, i + len + 2, in_string)));
                        i += len + 2;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(map: &[(&str, &str)], template: &str) -> InputTransformer {
        InputTransformer {
            input_paths_map: map.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            input_template: template.into(),
        }
    }

    #[test]
    fn json_and_string_contexts() {
        let ev = json!({"detail": {"bucket": {"name": "src"}, "object": {"key": "a \"b\"", "size": 5}}});
        let tr = t(
            &[("b", "$.detail.bucket.name"), ("k", "$.detail.object.key"), ("s", "$.detail.object.size")],
            r#"{"source_bucket": <b>, "key": <k>, "size": <s>, "msg": "size <s> of <k>"}"#,
        );
        let out: Value = serde_json::from_str(&tr.apply(&ev, &RuleFacts::default()).unwrap()).unwrap();
        assert_eq!(out, json!({"source_bucket": "src", "key": "a \"b\"", "size": 5, "msg": "size 5 of a \"b\""}));
    }

    #[test]
    fn missing_paths_and_reserved_variables() {
        let tr = t(&[("x", "$.nope")], r#"{"x": <x>, "y": "<x>", "rule": <aws.events.rule-name>}"#);
        let out: Value =
            serde_json::from_str(&tr.apply(&json!({}), &RuleFacts { name: "r".into(), arn: "a".into() }).unwrap())
                .unwrap();
        assert_eq!(out, json!({"x": "", "y": "", "rule": "r"}));
    }

    #[test]
    fn rejects_bad_paths_and_placeholders() {
        assert!(matches!(t(&[("x", "detail")], "<x>").validate(), Err(TransformError::BadPath { .. })));
        assert!(matches!(t(&[], "<y>").validate(), Err(TransformError::UnknownPlaceholder(_))));
        assert!(matches!(t(&[("aws.x", "$")], "").validate(), Err(TransformError::BadMap(_))));
    }

    /// The event LocalStack's AWS-validated input-transformer tests put (source and detail-type
    /// `core.update-account-command`, detail `EVENT_DETAIL`), with the values as its snapshot
    /// redacts them.
    fn localstack_event() -> Value {
        json!({
            "version": "0", "id": "<uuid:2>", "detail-type": "core.update-account-command",
            "source": "core.update-account-command", "account": "111111111111", "time": "date",
            "region": "<region>", "resources": [],
            "detail": {"command": "update-account", "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}}
        })
    }

    /// `<aws.events.event>` is the event without `detail` and with `detail-type` delivered as
    /// `detailType`; `<aws.events.event.json>` is the whole event. Expected values: AWS-recorded,
    /// `TestInputTransformer::test_input_transformer_predefined_variables` (recorded 11-06-2024)
    /// in https://github.com/localstack/localstack/blob/83e73a7002b23cbb02902aa41bb02e78163360a9/tests/aws/services/events/test_events_inputs.snapshot.json;
    /// the definitions: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html#eb-transform-input-predefined
    #[test]
    fn predefined_event_variables_are_awss() {
        let tr = t(&[], r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}"#);
        let out: Value = serde_json::from_str(&tr.apply(&localstack_event(), &RuleFacts::default()).unwrap()).unwrap();
        let mut original = out["originalEvent"].clone();
        // The snapshot redacts this one `time` on its own ("<ingestion-time>"), so only its
        // presence is AWS's; the other fields are compared value for value.
        assert!(original["time"].is_string());
        original["time"] = json!("<ingestion-time>");
        let aws_original = json!({
            "id": "<uuid:2>", "account": "111111111111", "detailType": "core.update-account-command",
            "time": "<ingestion-time>", "source": "core.update-account-command", "region": "<region>",
            "resources": [], "version": "0"
        });
        assert_eq!(original, aws_original);
        assert_eq!(out["originalEventJson"], localstack_event());
    }

    /// A path missing from the event gives an empty string: nothing inside a quoted template and
    /// `""` for a placeholder in JSON value position. AWS-recorded
    /// (`test_put_events_with_input_transformer_input_template_string` and `..._json`,
    /// "custom-variables-not-match-all", in
    /// https://github.com/localstack/localstack/blob/83e73a7002b23cbb02902aa41bb02e78163360a9/tests/aws/services/events/test_events_inputs.snapshot.json).
    #[test]
    fn missing_paths_give_empty_strings_as_aws_delivered() {
        let map = [("detail-type", "$.detail-type"), ("timestamp", "$.time"), ("command", "$.detail.notinmessage")];
        let string =
            t(&map, r#""Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>""#);
        let out = string.apply(&localstack_event(), &RuleFacts::default()).unwrap();
        assert_eq!(out, r#""Event of core.update-account-command type, at time date, info extracted from detail ""#);
        let json_t = t(&map, r#"{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}"#);
        let out: Value =
            serde_json::from_str(&json_t.apply(&localstack_event(), &RuleFacts::default()).unwrap()).unwrap();
        assert_eq!(out, json!({"detailType": "core.update-account-command", "time": "date", "command": ""}));
    }

    /// Array indices select items: EventBridge lists "array indices" in the path syntax it
    /// supports (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
    /// The event has the shape of S3's "Object Created" event, whose `resources` holds the
    /// bucket ARN (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
    #[test]
    fn array_indices_select_items() {
        let ev = json!({
            "detail-type": "Object Created", "resources": ["arn:aws:s3:::amzn-s3-demo-bucket"],
            "detail": {"resources": [{"arn": "a0"}, {"arn": "a1"}], "grid": [[1, 2], [3, 4]]}
        });
        let tr = t(
            &[
                ("bucket", "$.resources[0]"),
                ("second", "$.detail.resources[1].arn"),
                ("cell", "$.detail.grid[1][0]"),
                ("none", "$.resources[5]"),
            ],
            r#"{"bucket": <bucket>, "second": <second>, "cell": <cell>, "none": <none>}"#,
        );
        tr.validate().unwrap();
        let out: Value = serde_json::from_str(&tr.apply(&ev, &RuleFacts::default()).unwrap()).unwrap();
        assert_eq!(out, json!({"bucket": "arn:aws:s3:::amzn-s3-demo-bucket", "second": "a1", "cell": 3, "none": ""}));
        for bad in ["$.resources[", "$.resources[x]", "$.resources[0]x", "$.[0]"] {
            assert!(matches!(t(&[("x", bad)], "<x>").validate(), Err(TransformError::BadPath { .. })), "{bad}");
        }
    }

    /// AWS's own examples: Input Path `{"timestamp" : "$.time", "instance" :
    /// "$.detail.instance-id", "state" : "$.detail.state"}` with a string template and a JSON
    /// template (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html,
    /// "Example input transformers"; the EC2 state-change event of the same page).
    #[test]
    fn awss_documented_examples() {
        let ev = json!({"time": "2015-11-11T21:29:54Z", "detail": {"instance-id": "i-0123456789", "state": "RUNNING"}});
        let map = [("timestamp", "$.time"), ("instance", "$.detail.instance-id"), ("state", "$.detail.state")];
        let out = t(&map, r#""instance <instance> is in <state>""#).apply(&ev, &RuleFacts::default()).unwrap();
        assert_eq!(out, r#""instance i-0123456789 is in RUNNING""#);
        let tr = t(&map, r#"{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}"#);
        let out: Value = serde_json::from_str(&tr.apply(&ev, &RuleFacts::default()).unwrap()).unwrap();
        let documented: Value = serde_json::from_str(
            r#"{"instance" : "i-0123456789", "state": [9, "RUNNING", true], "Transformed" : "Yes"}"#,
        )
        .unwrap();
        assert_eq!(out, documented);
        let out = t(&[], r#""<aws.events.rule-name> triggered""#)
            .apply(&ev, &RuleFacts { name: "example".into(), arn: String::new() })
            .unwrap();
        assert_eq!(out, r#""example triggered""#);
    }
}
