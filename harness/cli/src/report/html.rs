//! The self-contained HTML acceptance report (`--report`): who, when, which target, each check
//! with its evidence; readable offline, ready to send to the operator.

use std::time::SystemTime;

use super::{Outcome, Report, rfc3339, xml};

/// A self-contained HTML acceptance report (`--report`) a partner can send to the operator.
pub fn render(reports: &[Report]) -> String {
    let failed: usize = reports.iter().map(Report::failed).sum();
    let verdict = if failed == 0 { "PASSED" } else { "FAILED" };
    let mut body = String::new();
    for r in reports {
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

#[cfg(test)]
mod tests {
    #[test]
    fn holds_every_check_escaped() {
        let h = super::render(&[super::super::sample()]);
        assert_eq!(h.matches("<tr class=\"check").count(), 3);
        assert!(h.contains("one &lt;upload&gt;"));
    }
}
