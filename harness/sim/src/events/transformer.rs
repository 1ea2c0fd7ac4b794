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
        let mut values: BTreeMap<String, Option<Value>> = BTreeMap::new();
        for (name, path) in &self.input_paths_map {
            let segments = parse_path(path).expect("validated");
            values.insert(name.clone(), lookup(event, &segments).cloned());
        }
        let ingestion = crate::events::s3_event::event_time(std::time::SystemTime::now());
        values.insert("aws.events.rule-name".into(), Some(Value::String(rule.name.clone())));
        values.insert("aws.events.rule-arn".into(), Some(Value::String(rule.arn.clone())));
        values.insert("aws.events.event.ingestion-time".into(), Some(Value::String(ingestion)));
        values.insert("aws.events.event".into(), Some(event.clone()));
        values.insert("aws.events.event.json".into(), Some(event.clone()));

        let template = &self.input_template;
        let mut out = String::with_capacity(template.len() + 64);
        let mut last = 0;
        for (name, (start, end, in_string)) in placeholders(template) {
            out.push_str(&template[last..start]);
            let value = values.get(&name).ok_or_else(|| TransformError::UnknownPlaceholder(name.clone()))?;
            match (value, in_string) {
                // A missing path leaves an empty string in quotes and `null` outside them.
                (None, true) => {}
                (None, false) => out.push_str("null"),
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

/// Supported paths: `$`, `$.a.b`, with simple names (EventBridge's documented subset).
fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let rest = path.strip_prefix('$').ok_or("must start with $")?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let rest = rest.strip_prefix('.').ok_or("segments are written .name")?;
    rest.split('.')
        .map(|seg| {
            if seg.is_empty() || seg.contains(['[', ']', '*', '(', ')', '?', '@']) {
                Err(format!("unsupported segment {seg:?}"))
            } else {
                Ok(seg.to_string())
            }
        })
        .collect()
}

fn lookup<'a>(value: &'a Value, segments: &[String]) -> Option<&'a Value> {
    segments.iter().try_fold(value, |v, seg| v.get(seg))
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
        assert_eq!(out, json!({"x": null, "y": "", "rule": "r"}));
    }

    #[test]
    fn rejects_bad_paths_and_placeholders() {
        assert!(matches!(t(&[("x", "detail")], "<x>").validate(), Err(TransformError::BadPath { .. })));
        assert!(matches!(t(&[], "<y>").validate(), Err(TransformError::UnknownPlaceholder(_))));
        assert!(matches!(t(&[("aws.x", "$")], "").validate(), Err(TransformError::BadMap(_))));
    }
}
