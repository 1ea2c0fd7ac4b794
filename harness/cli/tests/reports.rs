//! The report files a run writes, read by the tools that consume them: the JSON parsed here,
//! the JUnit XML by `junitparser` (PyPI), the HTML rendered by headless Chromium. Each skips with
//! a message where its tool is missing; `.ci/run` installs them.

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

#[test]
fn junit_report_parses_with_junitparser() {
    let dir = tempfile::tempdir().unwrap();
    let (_, checks) = run_smoke(dir.path());
    let script = r#"
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
cases = [c for suite in xml for c in suite]
print(len(cases), sum(1 for c in cases if c.is_passed), xml.tests)
"#;
    let out = match Command::new("python3").args(["-c", script]).arg(dir.path().join("report.xml")).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            eprintln!(
                "SKIPPED: junitparser is not installed ({}); pip install junitparser",
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            );
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED: python3 not available: {e}");
            return;
        }
    };
    let n: Vec<usize> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(n, vec![checks, checks, checks], "junitparser read: {out}");
}

#[test]
fn html_report_renders_every_check_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        eprintln!("SKIPPED: no headless Chromium (apt-get install chromium; .ci/run does)");
        return;
    };
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
