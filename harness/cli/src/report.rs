//! Reports: one line per check on the console as a run goes, then the same checks as JSON, JUnit
//! XML (one testcase per check) or a self-contained HTML acceptance report.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    /// It held.
    Pass,
    /// It did not; the reason says what was seen.
    Fail(String),
    /// Not run; the reason says why (never counted as passed).
    Skipped(String),
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stage (`sftp`, `s3`, `dynamodb`, `stepfunctions`, `logs`).
    pub stage: &'static str,
    /// What was checked.
    pub name: String,
    /// Result.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Evidence (size, SHA-256, record status, execution ARN, log lines).
    pub detail: String,
    /// How long it took.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The checks of one scenario run, printed as they come.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// Target (`embedded`, `aws`, ...) and where it was.
    pub target: String,
    /// SFTP users the run acted as.
    pub users: Vec<String>,
    /// When the run started (RFC 3339).
    pub started: String,
    /// Wall time of the run.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The checks, in order.
    pub checks: Vec<Check>,
    #[serde(skip)]
    plain: bool,
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Report {
    /// A report for a run that starts now.
    pub fn new(scenario: &str, description: &str, users: Vec<String>) -> Self {
        Self {
            scenario: scenario.into(),
            description: description.trim().into(),
            target: String::new(),
            users,
            started: rfc3339(SystemTime::now()),
            elapsed: Duration::ZERO,
            checks: Vec::new(),
            // CI logs get plain lines; a terminal gets the same lines with a colored mark.
            plain: !std::io::stdout().is_terminal() || std::env::var_os("CI").is_some(),
        }
    }

    /// Records and prints a check.
    pub fn add(&mut self, check: Check) {
        let (mark, color) = match &check.outcome {
            Outcome::Pass => ("PASS", "32"),
            Outcome::Fail(_) => ("FAIL", "31"),
            Outcome::Skipped(_) => ("SKIP", "33"),
        };
        let mark = if self.plain { mark.to_string() } else { format!("\x1b[{color}m{mark}\x1b[0m") };
        let mut line = format!("  {mark}  [{}] {} [{} ms]", check.stage, check.name, check.elapsed.as_millis());
        if !check.detail.is_empty() {
            line.push_str(&format!(" ({})", check.detail));
        }
        match &check.outcome {
            Outcome::Fail(reason) => line.push_str(&format!("\n        reason: {reason}")),
            Outcome::Skipped(reason) => line.push_str(&format!("\n        skipped: {reason}")),
            Outcome::Pass => {}
        }
        println!("{line}");
        self.checks.push(check);
    }

    /// Number of failed checks.
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Fail(_))).count()
    }

    /// Number of skipped checks.
    pub fn skipped(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Skipped(_))).count()
    }

    /// Prints the one-line summary.
    pub fn summary(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
        let failed = self.failed();
        let skipped = self.skipped();
        let verdict = if failed == 0 { "PASSED" } else { "FAILED" };
        println!(
            "scenario {} {verdict}: {} checks, {} passed, {failed} failed, {skipped} skipped in {:.1}s",
            self.scenario,
            self.checks.len(),
            self.checks.len() - failed - skipped,
            elapsed.as_secs_f64()
        );
    }
}

/// Every report of an invocation (one per scenario run).
pub struct Reports<'a>(pub &'a [Report]);

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

impl Reports<'_> {
    /// The JSON document (`--json`).
    pub fn json(&self) -> String {
        let failed: usize = self.0.iter().map(Report::failed).sum();
        serde_json::to_string_pretty(&serde_json::json!({
            "schema_version": 1,
            "passed": failed == 0,
            "runs": self.0,
        }))
        .expect("reports serialize")
            + "\n"
    }

    /// JUnit XML (`--junit`): a testsuite per scenario, a testcase per check.
    pub fn junit(&self) -> String {
        let tests: usize = self.0.iter().map(|r| r.checks.len()).sum();
        let failures: usize = self.0.iter().map(Report::failed).sum();
        let skipped: usize = self.0.iter().map(Report::skipped).sum();
        let time: f64 = self.0.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"harness\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">\n"
        ));
        for r in self.0 {
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">\n",
                xml(&r.scenario),
                r.checks.len(),
                r.failed(),
                r.skipped(),
                r.elapsed.as_secs_f64(),
                xml(r.started.trim_end_matches('Z')),
            ));
            out.push_str(&format!(
                "    <properties><property name=\"target\" value=\"{}\"/><property name=\"users\" value=\"{}\"/></properties>\n",
                xml(&r.target),
                xml(&r.users.join(","))
            ));
            for c in &r.checks {
                out.push_str(&format!(
                    "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.3}\">",
                    xml(&r.scenario),
                    c.stage,
                    xml(&c.name),
                    c.elapsed.as_secs_f64()
                ));
                match &c.outcome {
                    Outcome::Pass => {}
                    Outcome::Fail(reason) => out.push_str(&format!(
                        "<failure message=\"{}\" type=\"CheckFailed\">{}</failure>",
                        xml(reason),
                        xml(reason)
                    )),
                    Outcome::Skipped(reason) => out.push_str(&format!("<skipped message=\"{}\"/>", xml(reason))),
                }
                if !c.detail.is_empty() {
                    out.push_str(&format!("<system-out>{}</system-out>", xml(&c.detail)));
                }
                out.push_str("</testcase>\n");
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }

    /// A self-contained HTML acceptance report (`--report`) a partner can send to the operator.
    pub fn html(&self) -> String {
        let failed: usize = self.0.iter().map(Report::failed).sum();
        let verdict = if failed == 0 { "PASSED" } else { "FAILED" };
        let mut body = String::new();
        for r in self.0 {
            body.push_str(&format!(
                "<section><h2>Scenario {} <span class=\"{}\">{}</span></h2><p>{}</p>\n<table class=\"facts\"><tr><th>Target</th><td>{}</td></tr><tr><th>Users</th><td>{}</td></tr><tr><th>Started</th><td>{}</td></tr><tr><th>Duration</th><td>{:.1} s</td></tr><tr><th>Checks</th><td>{} passed, {} failed, {} skipped</td></tr></table>\n",
                xml(&r.scenario),
                if r.failed() == 0 { "pass" } else { "fail" },
                if r.failed() == 0 { "PASSED" } else { "FAILED" },
                xml(&r.description),
                xml(&r.target),
                xml(&r.users.join(", ")),
                xml(&r.started),
                r.elapsed.as_secs_f64(),
                r.checks.len() - r.failed() - r.skipped(),
                r.failed(),
                r.skipped(),
            ));
            body.push_str("<table class=\"checks\"><thead><tr><th>Result</th><th>Stage</th><th>Check</th><th>Evidence</th><th>Time</th></tr></thead><tbody>\n");
            for c in &r.checks {
                let (class, mark, note) = match &c.outcome {
                    Outcome::Pass => ("pass", "PASS", String::new()),
                    Outcome::Fail(reason) => ("fail", "FAIL", reason.clone()),
                    Outcome::Skipped(reason) => ("skip", "SKIPPED", reason.clone()),
                };
                let evidence = [c.detail.as_str(), note.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| xml(s))
                    .collect::<Vec<_>>()
                    .join("<br>");
                body.push_str(&format!(
                    "<tr class=\"check {class}\"><td class=\"mark\">{mark}</td><td>{}</td><td>{}</td><td class=\"evidence\">{evidence}</td><td>{} ms</td></tr>\n",
                    c.stage,
                    xml(&c.name),
                    c.elapsed.as_millis()
                ));
            }
            body.push_str("</tbody></table></section>\n");
        }
        format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Partner intake acceptance report: {verdict}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1f24}}
h1{{margin-bottom:.2rem}} .pass{{color:#1a7f37}} .fail{{color:#cf222e}} .skip{{color:#9a6700}}
table{{border-collapse:collapse;margin:.8rem 0}} th,td{{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}}
.checks th{{background:#f6f8fa}} tr.check.pass,tr.check.fail,tr.check.skip{{color:#1b1f24}}
tr.fail td.mark{{background:#ffebe9;color:#cf222e;font-weight:600}} tr.pass td.mark{{background:#dafbe1;color:#1a7f37;font-weight:600}} tr.skip td.mark{{background:#fff8c5;color:#9a6700;font-weight:600}}
.evidence{{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}}
</style></head>
<body><h1>Partner intake acceptance report: <span class="{cls}">{verdict}</span></h1>
<p>Generated {when} by harness {version}.</p>
{body}</body></html>
"#,
            cls = if failed == 0 { "pass" } else { "fail" },
            when = rfc3339(SystemTime::now()),
            version = env!("CARGO_PKG_VERSION"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("smoke", "one <upload>", vec!["acme".into()]);
        r.target = "embedded".into();
        for (outcome, name) in [
            (Outcome::Pass, "uploads & checks"),
            (Outcome::Fail("status is \"failed\"".into()), "record"),
            (Outcome::Skipped("no AWS credentials".into()), "execution"),
        ] {
            r.checks.push(Check {
                stage: "s3",
                name: name.into(),
                outcome,
                detail: "sha256 ab".into(),
                elapsed: Duration::from_millis(5),
            });
        }
        r.elapsed = Duration::from_secs(1);
        r
    }

    #[test]
    fn junit_counts_and_escapes() {
        let reports = [sample()];
        let x = Reports(&reports).junit();
        assert!(x.contains(r#"tests="3" failures="1" errors="0" skipped="1""#), "{x}");
        assert!(x.contains("uploads &amp; checks") && x.contains("status is &quot;failed&quot;"), "{x}");
        assert!(x.contains("<skipped message=\"no AWS credentials\"/>"), "{x}");
    }

    #[test]
    fn json_and_html_hold_every_check() {
        let reports = [sample()];
        let j: serde_json::Value = serde_json::from_str(&Reports(&reports).json()).unwrap();
        assert_eq!(j["passed"], false);
        assert_eq!(j["runs"][0]["checks"][1]["outcome"], "fail");
        assert_eq!(j["runs"][0]["checks"][2]["reason"], "no AWS credentials");
        let h = Reports(&reports).html();
        assert_eq!(h.matches("<tr class=\"check").count(), 3);
        assert!(h.contains("one &lt;upload&gt;"));
    }
}
