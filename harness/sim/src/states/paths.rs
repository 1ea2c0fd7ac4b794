//! JSONPath in ASL: selecting with InputPath/OutputPath/`.$` keys (through `jsonpath-rust`),
//! writing with ResultPath, and filling Parameters/ResultSelector templates.

use jsonpath_rust::JsonPath;
use serde_json::{Map, Value};

/// A path or intrinsic failure, with the error name AWS reports (`States.Runtime` for paths).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PathError {
    /// Error name.
    pub error: &'static str,
    /// What went wrong.
    pub message: String,
}

impl PathError {
    fn runtime(message: String) -> Self {
        Self { error: "States.Runtime", message }
    }
}

/// Whether a path selects at most one node (no wildcards, filters, slices or recursion).
fn is_definite(path: &str) -> bool {
    !(path.contains('*') || path.contains("..") || path.contains("?(") || path.contains(':') || path.contains(','))
}

/// Selects `path` from `input`, or from `context` for `$$` paths.
pub fn select(path: &str, input: &Value, context: &Value, field: &str) -> Result<Value, PathError> {
    let (doc, query) = match path.strip_prefix("$$") {
        Some(rest) => (context, format!("${rest}")),
        None => (input, path.to_string()),
    };
    if query == "$" {
        return Ok(doc.clone());
    }
    let found = doc.query(&query).map_err(|e| {
        PathError::runtime(format!("The JSONPath '{path}' specified for the field '{field}' is invalid: {e}"))
    })?;
    if is_definite(&query) {
        match found.first() {
            Some(v) => Ok((*v).clone()),
            None => Err(PathError::runtime(format!(
                "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{doc}'"
            ))),
        }
    } else {
        Ok(Value::Array(found.into_iter().cloned().collect()))
    }
}

/// Fills a Parameters or ResultSelector template: keys ending in `.$` take the value at
/// their path; everything else is copied.
pub fn fill(template: &Value, input: &Value, context: &Value) -> Result<Value, PathError> {
    match template {
        Value::Object(obj) => {
            let mut out = Map::with_capacity(obj.len());
            for (k, v) in obj {
                if let Some(name) = k.strip_suffix(".$") {
                    let path = v
                        .as_str()
                        .ok_or_else(|| PathError::runtime(format!("The value of field '{k}' must be a path string")))?;
                    let value = if super::intrinsics::is_intrinsic(path) {
                        super::intrinsics::evaluate(path, input, context)
                            .map_err(|e| PathError { error: e.error, message: e.message })?
                    } else {
                        select(path, input, context, k)?
                    };
                    out.insert(name.to_string(), value);
                } else {
                    out.insert(k.clone(), fill(v, input, context)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.iter().map(|i| fill(i, input, context)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

/// Parses a reference path (`$`, `$.a.b`, `$['a b'].c`) into names.
fn reference_segments(path: &str) -> Result<Vec<String>, PathError> {
    let invalid = || PathError::runtime(format!("The JSONPath '{path}' is not a valid reference path"));
    let mut rest = path.strip_prefix('$').ok_or_else(invalid)?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(invalid());
            }
            segments.push(r[..end].to_string());
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or_else(invalid)?;
            segments.push(r[..end].to_string());
            rest = &r[end + 2..];
        } else {
            return Err(invalid());
        }
    }
    Ok(segments)
}

/// Places `result` into `input` at `path`: `None` keeps the input, `$` replaces it.
pub fn place(input: Value, path: Option<&str>, result: Value) -> Result<Value, PathError> {
    let Some(path) = path else { return Ok(input) };
    let segments = reference_segments(path)?;
    if segments.is_empty() {
        return Ok(result);
    }
    let mut root = input;
    if !root.is_object() {
        return Err(PathError::runtime(format!(
            "Unable to apply ResultPath '{path}': the state input is not an object"
        )));
    }
    let mut cur = &mut root;
    for (i, seg) in segments.iter().enumerate() {
        let obj = cur.as_object_mut().ok_or_else(|| {
            PathError::runtime(format!("Unable to apply ResultPath '{path}': '{seg}' is under a non-object"))
        })?;
        if i + 1 == segments.len() {
            obj.insert(seg.clone(), result);
            break;
        }
        cur = obj.entry(seg.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_definite_and_context() {
        let input = json!({"a": {"b": [1, 2]}, "k": "v"});
        let ctx = json!({"Execution": {"Id": "arn:x"}});
        assert_eq!(select("$.a.b", &input, &ctx, "InputPath").unwrap(), json!([1, 2]));
        assert_eq!(select("$.a.b[*]", &input, &ctx, "InputPath").unwrap(), json!([1, 2]));
        assert_eq!(select("$$.Execution.Id", &input, &ctx, "x").unwrap(), json!("arn:x"));
        assert!(select("$.nope", &input, &ctx, "InputPath").unwrap_err().message.contains("could not be found"));
    }

    #[test]
    fn fill_templates() {
        let t = json!({"FunctionName": "f", "Payload.$": "$", "Nested": {"k.$": "$.k"}});
        let out = fill(&t, &json!({"k": 1}), &json!({})).unwrap();
        assert_eq!(out, json!({"FunctionName": "f", "Payload": {"k": 1}, "Nested": {"k": 1}}));
    }

    #[test]
    fn place_results() {
        assert_eq!(place(json!({"a": 1}), Some("$.r.x"), json!(2)).unwrap(), json!({"a": 1, "r": {"x": 2}}));
        assert_eq!(place(json!({"a": 1}), Some("$"), json!(2)).unwrap(), json!(2));
        assert_eq!(place(json!({"a": 1}), None, json!(2)).unwrap(), json!({"a": 1}));
        assert!(place(json!({"a": 1}), Some("$.a.b"), json!(2)).is_err());
    }
}
