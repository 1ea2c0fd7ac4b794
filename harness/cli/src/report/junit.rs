//! JUnit XML (`--junit`): a testsuite per scenario, a testcase per check, as CI systems read it.

use super::{Outcome, Report, xml};

/// JUnit XML (`--junit`): a testsuite per scenario, a testcase per check.
pub fn render(reports: &[Report]) -> String {
    let tests: usize = reports.iter().map(|r| r.checks.len()).sum();
    let failures: usize = reports.iter().map(Report::failed).sum();
    let skipped: usize = reports.iter().map(Report::skipped).sum();
    let time: f64 = reports.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"harness\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">\n"
    ));
    for r in reports {
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

#[cfg(test)]
mod tests {
    #[test]
    fn counts_and_escapes() {
        let x = super::render(&[super::super::sample()]);
        assert!(x.contains(r#"tests="3" failures="1" errors="0" skipped="1""#), "{x}");
        assert!(x.contains("uploads &amp; checks") && x.contains("status is &quot;failed&quot;"), "{x}");
        assert!(x.contains("<skipped message=\"no AWS credentials\"/>"), "{x}");
    }
}
