//! Event patterns: the matching language of EventBridge rules.
//!
//! A pattern mirrors the event's structure; each leaf is an array of matchers, any of which
//! may match; arrays in the event match when any element does; `$or` takes alternatives.

use serde_json::{Map, Value};

/// Why a pattern was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid event pattern at {path}: {reason}")]
pub struct PatternError {
    /// Where in the pattern (`detail.bucket.name`).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix(String, bool),
    Suffix(String, bool),
    EqualsIgnoreCase(String),
    Wildcard(String),
    AnythingBut(Vec<Matcher>),
    Numeric(Vec<(String, f64)>),
    Exists(bool),
    Cidr(u128, u128, bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Fields(Vec<(String, Node)>, Vec<Vec<Node>>),
    Leaf(Vec<Matcher>),
}

/// A parsed, validated event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
}

fn err(path: &str, reason: impl Into<String>) -> PatternError {
    PatternError { path: if path.is_empty() { "$".into() } else { path.into() }, reason: reason.into() }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl EventPattern {
    /// Parses a pattern document.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|e| err("", format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Parses a pattern already read as JSON.
    pub fn from_value(value: &Value) -> Result<Self, PatternError> {
        let obj = value.as_object().ok_or_else(|| err("", "a pattern must be a JSON object"))?;
        Ok(Self { root: parse_object(obj, "")? })
    }

    /// Whether the event matches.
    pub fn matches(&self, event: &Value) -> bool {
        match_node(&self.root, Some(event))
    }
}

fn parse_object(obj: &Map<String, Value>, path: &str) -> Result<Node, PatternError> {
    let mut fields = Vec::new();
    let mut ors = Vec::new();
    for (key, v) in obj {
        let here = join(path, key);
        if key == "$or" {
            let alts = v
                .as_array()
                .filter(|a| a.len() >= 2)
                .ok_or_else(|| err(&here, "$or takes an array of at least two patterns"))?;
            let mut parsed = Vec::new();
            for alt in alts {
                let o = alt.as_object().ok_or_else(|| err(&here, "each $or alternative must be an object"))?;
                parsed.push(parse_object(o, path)?);
            }
            ors.push(parsed);
            continue;
        }
        let node = match v {
            Value::Object(o) => parse_object(o, &here)?,
            Value::Array(a) => Node::Leaf(parse_leaf(a, &here)?),
            _ => return Err(err(&here, "a leaf must be an array of values or matchers")),
        };
        fields.push((key.clone(), node));
    }
    if fields.is_empty() && ors.is_empty() {
        return Err(err(path, "empty object"));
    }
    Ok(Node::Fields(fields, ors))
}

fn parse_leaf(items: &[Value], path: &str) -> Result<Vec<Matcher>, PatternError> {
    if items.is_empty() {
        return Err(err(path, "empty arrays are not allowed"));
    }
    items.iter().map(|item| parse_matcher(item, path)).collect()
}

fn string_arg<'a>(v: &'a Value, path: &str, op: &str) -> Result<&'a str, PatternError> {
    v.as_str().ok_or_else(|| err(path, format!("{op} takes a string")))
}

fn parse_matcher(item: &Value, path: &str) -> Result<Matcher, PatternError> {
    let Value::Object(o) = item else { return Ok(Matcher::Exact(item.clone())) };
    if o.len() != 1 {
        return Err(err(path, "a matcher object has exactly one operator"));
    }
    let (op, arg) = o.iter().next().expect("one entry");
    Ok(match op.as_str() {
        "prefix" | "suffix" => {
            let (text, ignore_case) = match arg {
                Value::Object(inner) if inner.len() == 1 && inner.contains_key("equals-ignore-case") => {
                    (string_arg(&inner["equals-ignore-case"], path, op)?, true)
                }
                other => (string_arg(other, path, op)?, false),
            };
            if op == "prefix" {
                Matcher::Prefix(text.into(), ignore_case)
            } else {
                Matcher::Suffix(text.into(), ignore_case)
            }
        }
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(string_arg(arg, path, op)?.into()),
        "wildcard" => {
            let w = string_arg(arg, path, op)?;
            if w.contains("**") {
                return Err(err(path, "wildcard patterns may not contain consecutive '*'"));
            }
            Matcher::Wildcard(w.into())
        }
        "anything-but" => {
            let inner = match arg {
                Value::Array(a) if !a.is_empty() => a
                    .iter()
                    .map(|v| match v {
                        Value::Object(_) | Value::Array(_) => Err(err(path, "anything-but lists hold plain values")),
                        _ => Ok(Matcher::Exact(v.clone())),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Value::Array(_) => return Err(err(path, "anything-but takes a non-empty list")),
                Value::Object(m) => {
                    let nested = parse_matcher(arg, path)?;
                    match (&nested, m.keys().next().map(String::as_str)) {
                        (
                            Matcher::Prefix(..)
                            | Matcher::Suffix(..)
                            | Matcher::Wildcard(_)
                            | Matcher::EqualsIgnoreCase(_),
                            _,
                        ) => vec![nested],
                        _ => {
                            return Err(err(
                                path,
                                "anything-but takes values, prefix, suffix, wildcard or equals-ignore-case",
                            ));
                        }
                    }
                }
                v => vec![Matcher::Exact(v.clone())],
            };
            Matcher::AnythingBut(inner)
        }
        "numeric" => {
            let a = arg
                .as_array()
                .filter(|a| a.len() == 2 || a.len() == 4)
                .ok_or_else(|| err(path, "numeric takes [op, n] or [op, n, op, n]"))?;
            let mut ranges = Vec::new();
            for pair in a.chunks(2) {
                let op = pair[0]
                    .as_str()
                    .filter(|o| ["<", "<=", "=", ">", ">="].contains(o))
                    .ok_or_else(|| err(path, "numeric operators are <, <=, =, >, >="))?;
                let n = pair[1].as_f64().ok_or_else(|| err(path, "numeric bounds must be numbers"))?;
                if n.abs() > 5.0e9 {
                    return Err(err(path, "numeric values must be between -5.0e9 and 5.0e9"));
                }
                ranges.push((op.to_string(), n));
            }
            Matcher::Numeric(ranges)
        }
        "exists" => Matcher::Exists(arg.as_bool().ok_or_else(|| err(path, "exists takes true or false"))?),
        "cidr" => parse_cidr(string_arg(arg, path, op)?)
            .ok_or_else(|| err(path, "cidr takes an IPv4 or IPv6 prefix like 10.0.0.0/24 or 2001:db8::/32"))?,
        other => return Err(err(path, format!("unknown operator {other:?}"))),
    })
}

/// An address as 128 bits, and whether it is IPv6 (IPv4 and IPv6 networks never match each other).
fn parse_ip(s: &str) -> Option<(u128, bool)> {
    match s.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some((u32::from(v4) as u128, false)),
        std::net::IpAddr::V6(v6) => Some((u128::from(v6), true)),
    }
}

fn parse_cidr(s: &str) -> Option<Matcher> {
    let (ip, bits) = s.split_once('/')?;
    let (addr, v6) = parse_ip(ip)?;
    let width = if v6 { 128 } else { 32 };
    let bits: u32 = bits.parse().ok().filter(|b| *b <= width)?;
    let full = if v6 { u128::MAX } else { u32::MAX as u128 };
    let mask = if bits == 0 { 0 } else { (full << (width - bits)) & full };
    Some(Matcher::Cidr(addr & mask, mask, v6))
}

fn match_node(node: &Node, value: Option<&Value>) -> bool {
    match node {
        Node::Fields(fields, ors) => {
            let obj = value.and_then(Value::as_object);
            fields.iter().all(|(k, child)| {
                let v = obj.and_then(|o| o.get(k));
                match (child, v) {
                    (Node::Fields(..), Some(Value::Array(items))) => items.iter().any(|i| match_node(child, Some(i))),
                    _ => match_node(child, v),
                }
            }) && ors.iter().all(|alts| alts.iter().any(|alt| match_node(alt, value)))
        }
        Node::Leaf(matchers) => match value {
            None => matchers.contains(&Matcher::Exists(false)),
            Some(Value::Array(items)) => items.iter().any(|i| matchers.iter().any(|m| match_value(m, i))),
            Some(v) => matchers.iter().any(|m| match_value(m, v)),
        },
    }
}

fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head) && {
                let rest = &text[head.len()..];
                rest.char_indices().map(|(i, _)| i).chain([rest.len()]).any(|i| wildcard(tail, &rest[i..]))
            }
        }
    }
}

fn match_value(m: &Matcher, v: &Value) -> bool {
    match m {
        Matcher::Exact(expected) => match (expected, v) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => expected == v,
        },
        Matcher::Prefix(p, ic) => v.as_str().is_some_and(|s| {
            if *ic { s.to_lowercase().starts_with(&p.to_lowercase()) } else { s.starts_with(p.as_str()) }
        }),
        Matcher::Suffix(p, ic) => v
            .as_str()
            .is_some_and(|s| if *ic { s.to_lowercase().ends_with(&p.to_lowercase()) } else { s.ends_with(p.as_str()) }),
        Matcher::EqualsIgnoreCase(p) => v.as_str().is_some_and(|s| s.to_lowercase() == p.to_lowercase()),
        Matcher::Wildcard(p) => v.as_str().is_some_and(|s| wildcard(p, s)),
        Matcher::AnythingBut(inner) => !inner.iter().any(|m| match_value(m, v)),
        Matcher::Numeric(ranges) => v.as_f64().is_some_and(|n| {
            // EventBridge compares with six digits after the decimal point.
            let micro = |x: f64| (x * 1e6).round();
            let n = micro(n);
            ranges.iter().all(|(op, bound)| {
                let bound = micro(*bound);
                match op.as_str() {
                    "<" => n < bound,
                    "<=" => n <= bound,
                    "=" => n == bound,
                    ">" => n > bound,
                    _ => n >= bound,
                }
            })
        }),
        Matcher::Exists(e) => *e,
        Matcher::Cidr(net, mask, v6) => {
            v.as_str().and_then(parse_ip).is_some_and(|(ip, is_v6)| is_v6 == *v6 && ip & mask == *net)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(p: Value, e: Value) -> bool {
        EventPattern::from_value(&p).unwrap().matches(&e)
    }

    #[test]
    fn exact_nested_and_arrays() {
        let p = json!({"source": ["aws.s3"], "detail": {"bucket": {"name": ["src"]}}});
        assert!(m(p.clone(), json!({"source": "aws.s3", "detail": {"bucket": {"name": "src"}}})));
        assert!(!m(p.clone(), json!({"source": "aws.s3", "detail": {"bucket": {"name": "other"}}})));
        assert!(!m(p, json!({"source": "aws.s3"})));
        assert!(m(json!({"resources": ["a"]}), json!({"resources": ["b", "a"]})));
    }

    #[test]
    fn operators() {
        let e = json!({"k": "Inbound/x.CSV", "n": 5, "ip": "10.0.0.7", "empty": ""});
        assert!(m(json!({"k": [{"prefix": "Inbound/"}]}), e.clone()));
        assert!(m(json!({"k": [{"suffix": {"equals-ignore-case": ".csv"}}]}), e.clone()));
        assert!(m(json!({"k": [{"wildcard": "Inbound/*.CSV"}]}), e.clone()));
        assert!(m(json!({"k": [{"anything-but": {"prefix": "tmp/"}}]}), e.clone()));
        assert!(!m(json!({"k": [{"anything-but": ["Inbound/x.CSV"]}]}), e.clone()));
        assert!(m(json!({"n": [{"numeric": [">", 0, "<=", 5]}]}), e.clone()));
        assert!(m(json!({"ip": [{"cidr": "10.0.0.0/24"}]}), e.clone()));
        assert!(m(json!({"ip6": [{"cidr": "2001:db8::/32"}]}), json!({"ip6": "2001:db8:1::5"})));
        assert!(!m(json!({"ip6": [{"cidr": "2001:db8::/32"}]}), json!({"ip6": "10.0.0.7"})));
        assert!(m(json!({"x": [{"numeric": ["=", 0.1234567]}]}), json!({"x": 0.1234568})), "six decimal digits");
        assert!(m(json!({"missing": [{"exists": false}]}), e.clone()));
        assert!(!m(json!({"missing": [{"exists": true}]}), e.clone()));
        assert!(m(json!({"empty": [""]}), e.clone()));
        assert!(m(json!({"$or": [{"n": [1]}, {"k": [{"prefix": "Inbound"}]}]}), e));
    }

    #[test]
    fn invalid_patterns_say_where() {
        let e = EventPattern::parse(r#"{"detail": {"key": []}}"#).unwrap_err();
        assert_eq!(e.path, "detail.key");
        assert!(EventPattern::parse(r#"{"k": [{"bogus": 1}]}"#).unwrap_err().reason.contains("bogus"));
        assert!(EventPattern::parse(r#"{"k": "x"}"#).is_err());
    }
}

/// Generated patterns and events, matched by this module and by a reference matcher written
/// from the EventBridge user guide's "Content filtering" rules directly (no shared code): they
/// must agree on every pair.
#[cfg(test)]
mod props {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// One leaf condition on one field, in the reference's own terms.
    #[derive(Debug, Clone)]
    enum Cond {
        Exact(Value),
        Prefix(String),
        Suffix(String),
        Exists(bool),
        AnythingBut(Vec<Value>),
        Range(f64, f64),
    }

    impl Cond {
        fn pattern(&self) -> Value {
            match self {
                Cond::Exact(v) => v.clone(),
                Cond::Prefix(p) => json!({"prefix": p}),
                Cond::Suffix(s) => json!({"suffix": s}),
                Cond::Exists(e) => json!({"exists": e}),
                Cond::AnythingBut(vs) => json!({"anything-but": vs}),
                Cond::Range(lo, hi) => json!({"numeric": [">=", lo, "<", hi]}),
            }
        }

        /// The guide's rules: a field that is absent matches only `exists: false`; an array
        /// value matches when any element does; anything-but matches present values outside
        /// the list; numeric matches numbers only.
        fn holds(&self, field: Option<&Value>) -> bool {
            let Some(v) = field else { return matches!(self, Cond::Exists(false)) };
            if let Value::Array(items) = v {
                return match self {
                    Cond::Exists(e) => *e,
                    _ => items.iter().any(|i| self.holds(Some(i))),
                };
            }
            match self {
                Cond::Exists(e) => *e,
                Cond::Exact(want) => want == v || (want.as_f64().is_some() && want.as_f64() == v.as_f64()),
                Cond::Prefix(p) => v.as_str().is_some_and(|s| s.starts_with(p.as_str())),
                Cond::Suffix(p) => v.as_str().is_some_and(|s| s.ends_with(p.as_str())),
                Cond::AnythingBut(vs) => {
                    !vs.iter().any(|x| x == v || (x.as_f64().is_some() && x.as_f64() == v.as_f64()))
                }
                Cond::Range(lo, hi) => v.as_f64().is_some_and(|n| n >= *lo && n < *hi),
            }
        }
    }

    const FIELDS: [&str; 3] = ["key", "size", "kind"];

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec!["in/a.csv", "in/b.txt", "out/a.csv", "", "IN/A.CSV"]).prop_map(Value::from),
            (0i64..10).prop_map(Value::from),
            Just(Value::Null),
            Just(Value::Bool(true)),
        ]
    }

    fn cond() -> impl Strategy<Value = Cond> {
        prop_oneof![
            value().prop_map(Cond::Exact),
            prop::sample::select(vec!["in/", "out", "", "IN"]).prop_map(|s| Cond::Prefix(s.into())),
            prop::sample::select(vec![".csv", "txt", ""]).prop_map(|s| Cond::Suffix(s.into())),
            any::<bool>().prop_map(Cond::Exists),
            prop::collection::vec(value().prop_filter("plain", |v| !v.is_null()), 1..3).prop_map(Cond::AnythingBut),
            (0i64..6, 1i64..6).prop_map(|(lo, w)| Cond::Range(lo as f64, (lo + w) as f64)),
        ]
    }

    /// Per field: the conditions of its leaf (OR'ed), or none when the pattern leaves it out.
    fn pattern() -> impl Strategy<Value = Vec<Option<Vec<Cond>>>> {
        prop::collection::vec(prop::option::of(prop::collection::vec(cond(), 1..3)), FIELDS.len())
            .prop_filter("at least one field", |p| p.iter().any(Option::is_some))
    }

    /// Per field: absent, a value, or an array of values.
    fn event() -> impl Strategy<Value = Vec<Option<Value>>> {
        let field = prop_oneof![
            3 => value().prop_map(Some),
            1 => prop::collection::vec(value(), 1..3).prop_map(|v| Some(Value::Array(v))),
            1 => Just(None),
        ];
        prop::collection::vec(field, FIELDS.len())
    }

    proptest! {
        #[test]
        fn matching_agrees_with_the_reference(p in pattern(), e in event()) {
            let mut detail = serde_json::Map::new();
            for (name, leaf) in FIELDS.iter().zip(&p) {
                if let Some(conds) = leaf {
                    detail.insert(name.to_string(), Value::Array(conds.iter().map(Cond::pattern).collect()));
                }
            }
            let mut fields = serde_json::Map::new();
            for (name, v) in FIELDS.iter().zip(&e) {
                if let Some(v) = v {
                    fields.insert(name.to_string(), v.clone());
                }
            }
            let pattern = json!({"detail": detail});
            let event = json!({"source": "aws.s3", "detail": fields});
            let expected = FIELDS.iter().zip(&p).all(|(name, leaf)| match leaf {
                None => true,
                Some(conds) => conds.iter().any(|c| c.holds(event["detail"].get(*name))),
            });
            let ours = super::EventPattern::from_value(&pattern).unwrap().matches(&event);
            prop_assert_eq!(ours, expected, "pattern {} event {}", pattern, event);
        }
    }
}
