//! The report files a run writes, read by the tools that consume them: the JSON parsed here,
//! the JUnit XML by `junitparser` (PyPI), the HTML rendered by headless Chromium. Each skips with
//! a message where its tool is missing (a failure under `CI=true`); `.ci/run` installs them.

mod common;

use std::path::Path;
use std::process::Command;

fn run_smoke(dir: &Path) -> (serde_json::Value, usize) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["scenario", "smoke", "--json"])
        .arg(dir.join("report.json"))
        .arg("--junit")
        .arg(dir.join("report.xml"))
        .arg("--report")
        .arg(dir.join("report.html"))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let checks = json["runs"][0]["checks"].as_array().unwrap().len();
    (json, checks)
}

#[test]
fn json_report_has_every_check_with_timings() {
    let dir = tempfile::tempdir().unwrap();
    let (json, checks) = run_smoke(dir.path());
    assert_eq!(json["passed"], true);
    assert!(checks >= 8);
    for c in json["runs"][0]["checks"].as_array().unwrap() {
        assert_eq!(c["outcome"], "pass");
        assert!(c["elapsed"].as_f64().unwrap() >= 0.0 && c["stage"].is_string() && c["name"].is_string());
    }
    assert_eq!(json["runs"][0]["users"], serde_json::json!(["acme"]));
}

/// Runs a junitparser script on `xml`: `None` (a failure under CI) where junitparser is missing.
/// Only a failed import is a skip; any other failure is the script's, for the caller to judge.
fn junitparser(script: &str, xml: &Path) -> Option<std::process::Output> {
    let python = match testkit::python_module("junitparser") {
        Ok(python) => python,
        Err(why) => {
            testkit::unavailable("junitparser", &why);
            return None;
        }
    };
    Some(python.command().args(["-c", script]).arg(xml).output().expect("python runs"))
}

/// What the JUnit test reads: the cases, those passed, and the suite's count.
const COUNT_CASES: &str = r#"
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
cases = [c for suite in xml for c in suite]
print(len(cases), sum(1 for c in cases if c.is_passed), xml.tests)
"#;

#[test]
fn junit_report_parses_with_junitparser() {
    let dir = tempfile::tempdir().unwrap();
    let (_, checks) = run_smoke(dir.path());
    let Some(out) = junitparser(COUNT_CASES, &dir.path().join("report.xml")) else { return };
    assert!(out.status.success(), "junitparser could not read the report: {}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let n: Vec<usize> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(n, vec![checks, checks, checks], "junitparser read: {out}");
}

/// The JUnit test above can fail: a truncated report, and one that is XML but not JUnit, are
/// refused by the same script.
#[test]
fn junitparser_refuses_malformed_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = run_smoke(dir.path());
    let report = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    let truncated = dir.path().join("truncated.xml");
    std::fs::write(&truncated, &report[..report.len() / 2]).unwrap();
    let Some(out) = junitparser(COUNT_CASES, &truncated) else { return };
    assert!(!out.status.success(), "junitparser read half a report: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ParseError") || err.contains("XMLSyntaxError"), "{err}");
    // Well-formed XML whose root is no JUnit element.
    let alien = dir.path().join("alien.xml");
    std::fs::write(&alien, "<?xml version=\"1.0\"?><report><check name=\"x\"/></report>\n").unwrap();
    let Some(out) = junitparser(COUNT_CASES, &alien) else { return };
    assert!(!out.status.success(), "junitparser read a non-JUnit document: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn html_report_renders_every_check_in_chromium() {
    let Some(chromium) = common::chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (json, checks) = run_smoke(dir.path());
    let profile = dir.path().join("profile");
    let page = format!("file://{}", dir.path().join("report.html").display());
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", dir.path().join("report.png").display()))
        .args(["--window-size=1280,900", "--dump-dom"])
        .arg(&page)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(dom.matches("<tr class=\"check pass\">").count(), checks, "rendered DOM:\n{dom}");
    for c in json["runs"][0]["checks"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().replace('&', "&amp;").replace('\'', "&#39;");
        assert!(
            dom.contains(&name) || dom.contains(c["name"].as_str().unwrap()),
            "check {name:?} missing from the rendered page"
        );
    }
    assert!(dom.contains("PASSED"));
}
