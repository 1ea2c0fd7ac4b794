//! Choice rules: comparison operators, their `...Path` forms, type tests and `And`/`Or`/`Not`.

use serde_json::Value;

use super::failure::TaskFailure;
use super::paths;

fn runtime(msg: impl Into<String>) -> TaskFailure {
    TaskFailure::new("States.Runtime", msg)
}

fn wildcard(pattern: &str, text: &str) -> bool {
    // `\*` is a literal star; `*` matches any run of characters.
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('\\', rest)) if rest.first() == Some(&'*') => t.first() == Some(&'*') && go(&rest[1..], &t[1..]),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

fn timestamp(v: &Value) -> Option<time::OffsetDateTime> {
    v.as_str().and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
}

/// Evaluates one rule (top-level or nested) against the state's effective input.
pub fn evaluate(rule: &Value, input: &Value, ctx: &Value) -> Result<bool, TaskFailure> {
    if let Some(all) = rule.get("And") {
        let items = all.as_array().ok_or_else(|| runtime("And takes an array"))?;
        for r in items {
            if !evaluate(r, input, ctx)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = rule.get("Or") {
        let items = any.as_array().ok_or_else(|| runtime("Or takes an array"))?;
        for r in items {
            if evaluate(r, input, ctx)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(not) = rule.get("Not") {
        return Ok(!evaluate(not, input, ctx)?);
    }
    let var_path =
        rule.get("Variable").and_then(Value::as_str).ok_or_else(|| runtime("a choice rule needs Variable"))?;
    let obj = rule.as_object().ok_or_else(|| runtime("a choice rule is an object"))?;
    let (op, operand) = obj
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
        .ok_or_else(|| runtime("a choice rule needs a comparison operator"))?;
    let variable = paths::select(var_path, input, ctx, "Variable");
    if op == "IsPresent" {
        return Ok(variable.is_ok() == operand.as_bool().unwrap_or(true));
    }
    let var = variable?;
    let (op, expected) = match op.strip_suffix("Path") {
        Some(base) if op != "IsPresent" => (base, paths::select(operand.as_str().unwrap_or("$"), input, ctx, op)?),
        _ => (op.as_str(), operand.clone()),
    };
    Ok(match op {
        "IsNull" => var.is_null() == expected.as_bool().unwrap_or(true),
        "IsString" => var.is_string() == expected.as_bool().unwrap_or(true),
        "IsNumeric" => var.is_number() == expected.as_bool().unwrap_or(true),
        "IsBoolean" => var.is_boolean() == expected.as_bool().unwrap_or(true),
        "IsTimestamp" => timestamp(&var).is_some() == expected.as_bool().unwrap_or(true),
        "StringMatches" => matches!((var.as_str(), expected.as_str()), (Some(v), Some(p)) if wildcard(p, v)),
        "BooleanEquals" => var.is_boolean() && var == expected,
        _ if op.starts_with("String") => match (var.as_str(), expected.as_str()) {
            (Some(a), Some(b)) => compare(op.trim_start_matches("String"), a.cmp(b)),
            _ => false,
        },
        _ if op.starts_with("Numeric") => match (var.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| compare(op.trim_start_matches("Numeric"), o)),
            _ => false,
        },
        _ if op.starts_with("Timestamp") => match (timestamp(&var), timestamp(&expected)) {
            (Some(a), Some(b)) => compare(op.trim_start_matches("Timestamp"), a.cmp(&b)),
            _ => false,
        },
        other => return Err(runtime(format!("unknown choice operator {other}"))),
    })
}

fn compare(op: &str, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        "Equals" => ord == Equal,
        "LessThan" => ord == Less,
        "GreaterThan" => ord == Greater,
        "LessThanEquals" => ord != Greater,
        "GreaterThanEquals" => ord != Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators_and_combinators() {
        let input = json!({"n": 5, "s": "inbound/a.csv", "t": "2026-01-01T00:00:00Z", "m": 7});
        let ctx = json!({});
        let e = |r: Value| evaluate(&r, &input, &ctx).unwrap();
        assert!(e(json!({"Variable": "$.n", "NumericGreaterThan": 4})));
        assert!(e(json!({"Variable": "$.n", "NumericLessThanPath": "$.m"})));
        assert!(e(json!({"Variable": "$.s", "StringMatches": "inbound/*.csv"})));
        assert!(e(json!({"Variable": "$.x", "IsPresent": false})));
        assert!(e(json!({"Variable": "$.t", "TimestampLessThan": "2027-01-01T00:00:00Z"})));
        assert!(e(
            json!({"And": [{"Variable": "$.n", "IsNumeric": true}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}]})
        ));
        assert!(!e(json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.s", "IsNull": true}]})));
    }
}
