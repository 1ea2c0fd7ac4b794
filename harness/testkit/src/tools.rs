//! Tools on PATH, and the policy for tests that need one that is not there.

use std::process::{Command, Stdio};

/// Whether this is a CI run (`CI=true`, as GitHub Actions and `.ci/run` set it).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A test cannot run because `what` is unavailable, for `why` (a tool's stderr, an install hint).
/// Under CI that is a failure: CI installs everything the tests need, so a missing tool is a
/// broken install step, not a reason to pass. Elsewhere it prints one line and the test passes.
#[track_caller]
pub fn unavailable(what: &str, why: &str) {
    let why = why.trim();
    if ci() {
        panic!("{what} is unavailable under CI=true, so this test would not test anything: {why}");
    }
    eprintln!("SKIPPED: {what} is unavailable, so this was not tested: {why}");
}

/// Whether `tool arg` runs here (any exit status).
pub fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// The provisioned Python environment ([`crate::python`]) once it imports `module`: `Err`
/// with the reason where it cannot be provisioned or does not import it.
pub fn python_module(module: &str) -> Result<crate::python::Python, String> {
    let python = crate::python::python()?;
    let out = python
        .command()
        .args(["-c", &format!("import {module}")])
        .output()
        .map_err(|e| format!("{} does not run: {e}", python.exe().display()))?;
    if out.status.success() {
        Ok(python)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("import failed").to_string())
    }
}

/// Whether every `(tool, arg)` runs here; where one does not, says so through [`unavailable`]
/// (a failure under CI) and returns false.
#[track_caller]
pub fn need(tools: &[(&str, &str)]) -> bool {
    let missing: Vec<&str> = tools.iter().filter(|(t, a)| !have(t, a)).map(|(t, _)| *t).collect();
    if missing.is_empty() {
        return true;
    }
    unavailable(&missing.join(", "), "not on PATH (.ci/run installs it)");
    false
}
