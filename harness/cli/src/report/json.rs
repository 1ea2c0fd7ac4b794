//! The JSON document (`--json`): every run with every check and its timing.

use super::Report;

/// The document for `reports`.
pub fn render(reports: &[Report]) -> String {
    let failed: usize = reports.iter().map(Report::failed).sum();
    serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": 1,
        "passed": failed == 0,
        "runs": reports,
    }))
    .expect("reports serialize")
        + "\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn holds_every_check() {
        let j: serde_json::Value = serde_json::from_str(&super::render(&[super::super::sample()])).unwrap();
        assert_eq!(j["passed"], false);
        assert_eq!(j["runs"][0]["checks"][1]["outcome"], "fail");
        assert_eq!(j["runs"][0]["checks"][1]["stage"], "s3");
        assert_eq!(j["runs"][0]["checks"][2]["reason"], "no AWS credentials");
    }
}
