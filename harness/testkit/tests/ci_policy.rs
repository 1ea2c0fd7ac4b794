//! A tool the tests need that cannot be had fails the run under `CI=true` and is one skipped
//! line elsewhere: shown with the pinned Python tools unprovisionable (no `python3` on PATH;
//! a package index that does not answer), through the same `Moto::start` the differential
//! tests use.

use std::process::Command;

/// The child: what every moto-backed test does first. Inert unless the parent runs it.
#[test]
fn start_moto_as_the_tests_do() {
    if std::env::var_os("TESTKIT_CHILD").is_none() {
        return;
    }
    match testkit::moto::Moto::start(false) {
        Ok(_) => println!("moto started"),
        Err(why) => testkit::unavailable("moto's server", &why),
    }
}

/// Why provisioning fails in the child.
#[derive(Clone, Copy)]
enum Broken {
    /// No `python3` on PATH.
    NoPython,
    /// `python3` runs, but pip's index refuses every connection (no network).
    NoIndex,
}

fn child(ci: bool, broken: Broken) -> (bool, String) {
    let tools = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "start_moto_as_the_tests_do", "--nocapture", "--test-threads", "1"])
        .env("TESTKIT_CHILD", "1")
        // An empty tools directory: the child must provision, and cannot.
        .env("TESTKIT_TOOLS_DIR", tools.path());
    match broken {
        Broken::NoPython => {
            cmd.env("PATH", tools.path());
        }
        Broken::NoIndex => {
            cmd.env("PIP_INDEX_URL", "http://127.0.0.1:9/simple").env("PIP_NO_CACHE_DIR", "1");
        }
    }
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The words of each failure's cause, as the test's message carries them.
fn cause(broken: Broken) -> &'static str {
    match broken {
        Broken::NoPython => "python3 does not run",
        Broken::NoIndex => "pip could not install harness/testkit/python-requirements.txt",
    }
}

fn fails_under_ci(broken: Broken) {
    let (passed, out) = child(true, broken);
    assert!(!passed, "an unprovisionable moto passed under CI=true:\n{out}");
    assert!(out.contains("moto's server is unavailable under CI=true"), "{out}");
    assert!(out.contains(cause(broken)), "the cause is not in the failure:\n{out}");
}

fn one_skipped_line_elsewhere(broken: Broken) {
    let (passed, out) = child(false, broken);
    assert!(passed, "{out}");
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIPPED: ")).collect();
    assert_eq!(skipped.len(), 1, "{out}");
    assert!(skipped[0].contains("moto's server is unavailable") && skipped[0].contains(cause(broken)), "{out}");
}

#[test]
fn no_python_fails_under_ci_with_its_cause() {
    fails_under_ci(Broken::NoPython);
}

#[test]
fn no_python_is_one_skipped_line_elsewhere() {
    one_skipped_line_elsewhere(Broken::NoPython);
}

#[test]
fn no_package_index_fails_under_ci_with_its_cause() {
    if !testkit::have("python3", "--version") {
        return testkit::unavailable("python3", "not on PATH");
    }
    fails_under_ci(Broken::NoIndex);
}

#[test]
fn no_package_index_is_one_skipped_line_elsewhere() {
    if !testkit::have("python3", "--version") {
        return testkit::unavailable("python3", "not on PATH");
    }
    one_skipped_line_elsewhere(Broken::NoIndex);
}
