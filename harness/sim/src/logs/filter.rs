//! CloudWatch Logs filter patterns: terms (all must appear, `"quoted phrases"`, `-excluded`)
//! and JSON field comparisons such as `{ $.activity-type = "OPEN" }` joined by `&&` / `||`.

use crate::json_protocol::ApiError;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterPattern {
    /// Matches every event.
    All,
    /// Every included term appears and no excluded one does.
    Terms {
        /// Terms that must appear.
        include: Vec<String>,
        /// Terms that must not appear.
        exclude: Vec<String>,
    },
    /// A JSON selector expression.
    Json(JsonExpr),
}

/// A JSON selector expression.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    /// `$.path = value` or `$.path != value` (`*` wildcards allowed in strings).
    Compare {
        /// Dotted path after `$.`.
        path: Vec<String>,
        /// True for `=`, false for `!=`.
        equal: bool,
        /// The value, unquoted.
        value: String,
    },
    /// Both sides.
    And(Box<JsonExpr>, Box<JsonExpr>),
    /// Either side.
    Or(Box<JsonExpr>, Box<JsonExpr>),
}

impl FilterPattern {
    /// Parses a pattern; an empty one matches everything.
    pub fn parse(pattern: &str) -> Result<Self, ApiError> {
        let p = pattern.trim();
        if p.is_empty() {
            return Ok(Self::All);
        }
        if let Some(inner) = p.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            return parse_or(inner.trim()).map(Self::Json);
        }
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        let mut rest = p;
        while !rest.is_empty() {
            let negate = rest.starts_with('-');
            if negate {
                rest = &rest[1..];
            }
            let (term, next) = if let Some(q) = rest.strip_prefix('"') {
                let end = q.find('"').ok_or_else(|| {
                    ApiError::client(
                        "InvalidParameterException",
                        format!("Invalid filter pattern: unterminated quote in {pattern}"),
                    )
                })?;
                (&q[..end], &q[end + 1..])
            } else {
                let end = rest.find(' ').unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if negate {
                exclude.push(term.to_string())
            } else {
                include.push(term.to_string())
            }
            rest = next.trim_start();
        }
        Ok(Self::Terms { include, exclude })
    }

    /// Whether a log line matches.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Self::All => true,
            Self::Terms { include, exclude } => {
                include.iter().all(|t| message.contains(t.as_str()))
                    && !exclude.iter().any(|t| message.contains(t.as_str()))
            }
            Self::Json(expr) => match serde_json::from_str::<serde_json::Value>(message) {
                Ok(v) => expr.eval(&v),
                Err(_) => false,
            },
        }
    }
}

fn bad(pattern: &str) -> ApiError {
    ApiError::client("InvalidParameterException", format!("Invalid filter pattern: {pattern}"))
}

fn parse_or(s: &str) -> Result<JsonExpr, ApiError> {
    let mut parts = s.split("||");
    let mut expr = parse_and(parts.next().unwrap_or_default())?;
    for p in parts {
        expr = JsonExpr::Or(Box::new(expr), Box::new(parse_and(p)?));
    }
    Ok(expr)
}

fn parse_and(s: &str) -> Result<JsonExpr, ApiError> {
    let mut parts = s.split("&&");
    let mut expr = parse_compare(parts.next().unwrap_or_default())?;
    for p in parts {
        expr = JsonExpr::And(Box::new(expr), Box::new(parse_compare(p)?));
    }
    Ok(expr)
}

fn parse_compare(s: &str) -> Result<JsonExpr, ApiError> {
    let s = s.trim().trim_start_matches('(').trim_end_matches(')').trim();
    let (lhs, equal, rhs) = if let Some((l, r)) = s.split_once("!=") {
        (l, false, r)
    } else if let Some((l, r)) = s.split_once('=') {
        (l, true, r)
    } else {
        return Err(bad(s));
    };
    let path = lhs.trim().strip_prefix("$.").ok_or_else(|| bad(s))?;
    let value = rhs.trim();
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    Ok(JsonExpr::Compare { path: path.split('.').map(str::to_string).collect(), equal, value: value.to_string() })
}

fn wildcard_eq(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len())
                    .any(|i| text.is_char_boundary(head.len() + i) && wildcard_eq(tail, &text[head.len() + i..]))
        }
    }
}

impl JsonExpr {
    fn eval(&self, v: &serde_json::Value) -> bool {
        match self {
            Self::And(a, b) => a.eval(v) && b.eval(v),
            Self::Or(a, b) => a.eval(v) || b.eval(v),
            Self::Compare { path, equal, value } => {
                let mut cur = v;
                for seg in path {
                    match cur.get(seg) {
                        Some(next) => cur = next,
                        None => return false,
                    }
                }
                let text = match cur {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                wildcard_eq(value, &text) == *equal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_exclusions() {
        let p = FilterPattern::parse(r#"ERROR "bad key" -DEBUG"#).unwrap();
        assert!(p.matches("ERROR: bad key here"));
        assert!(!p.matches("ERROR: bad key DEBUG"));
        assert!(!p.matches("ERROR: key"));
    }

    #[test]
    fn json_fields() {
        let p = FilterPattern::parse(r#"{ $.activity-type = "OPEN" && $.user = "acme" }"#).unwrap();
        assert!(p.matches(r#"{"activity-type":"OPEN","user":"acme"}"#));
        assert!(!p.matches(r#"{"activity-type":"CLOSE","user":"acme"}"#));
        assert!(!p.matches("not json"));
        let w = FilterPattern::parse(r#"{ $.path = "/bucket/acme/*" }"#).unwrap();
        assert!(w.matches(r#"{"path":"/bucket/acme/inbound/x.csv"}"#));
    }
}
