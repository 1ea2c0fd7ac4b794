//! Event-pattern conformance: a table of cases from the EventBridge documentation, checked
//! against our matcher and, where moto is installed, against moto's matcher. Where moto
//! disagrees with the documentation the case is listed below with the behaviour we follow.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sim::events::EventPattern;

fn table() -> (PathBuf, Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/event_patterns.json");
    let table = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, table)
}

/// Cases where moto 5.2.5 differs from the documented behaviour (which we follow).
/// moto agrees on every matching case; it does not validate patterns as strictly as
/// EventBridge's PutRule/TestEventPattern, which reject each of these with InvalidEventPatternException.
const MOTO_DIFFERS: &[(&str, &str)] = &[
    ("unknown operator", "EventBridge rejects unknown operators; moto ignores them"),
    ("numeric bound out of range", "EventBridge limits numeric values to -5.0e9..5.0e9; moto does not"),
    ("consecutive wildcards", "EventBridge rejects '**' in wildcard patterns; moto accepts it"),
    ("$or with one alternative", "EventBridge needs at least two $or alternatives; moto accepts one"),
    ("exists takes a boolean", "EventBridge needs exists: true|false; moto accepts any value"),
];

#[test]
fn documented_cases_match_as_documented() {
    let (_, t) = table();
    for case in t["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let pattern = EventPattern::from_value(&case["pattern"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pattern.matches(&t["event"]), case["matches"].as_bool().unwrap(), "case {name:?}");
    }
    for case in t["invalid"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let err = EventPattern::from_value(&case["pattern"]).expect_err(name);
        assert!(!err.reason.is_empty(), "{name}: the rejection says why");
    }
}

#[test]
fn moto_agrees_except_where_listed() {
    let (path, t) = table();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/moto_event_patterns.py");
    // Only a missing moto is a skip; the script failing on moto's answers is a failure.
    let python = match testkit::python_module("moto.events.models") {
        Ok(python) => python,
        Err(why) => return testkit::unavailable("moto's event pattern matcher", &why),
    };
    let out = python.command().arg(&script).arg(&path).output().expect("python runs");
    assert!(out.status.success(), "{}: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    let moto: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut differences = Vec::new();
    for case in t["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if moto[name] != case["matches"] {
            differences.push((name.to_string(), format!("documented {}, moto {}", case["matches"], moto[name])));
        }
    }
    for case in t["invalid"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if !moto[name].as_str().is_some_and(|s| s.starts_with("error")) {
            differences.push((name.to_string(), format!("documented: rejected; moto accepts it ({})", moto[name])));
        }
    }
    let listed: Vec<&str> = MOTO_DIFFERS.iter().map(|(n, _)| *n).collect();
    let found: Vec<&str> = differences.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(found, listed, "moto's differences changed: {differences:#?}");
}
