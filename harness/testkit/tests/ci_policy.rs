//! A tool the tests need that is missing fails the run under `CI=true` and is one skipped line
//! elsewhere: shown with moto "uninstalled" (a `moto` package that refuses to import, first on
//! PYTHONPATH), through the same `Moto::start` the differential tests use.

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

fn child(ci: bool) -> (bool, String) {
    let fake = tempfile::tempdir().unwrap();
    std::fs::create_dir(fake.path().join("moto")).unwrap();
    std::fs::write(fake.path().join("moto/__init__.py"), "raise ImportError('moto is uninstalled for this test')\n")
        .unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "start_moto_as_the_tests_do", "--nocapture", "--test-threads", "1"])
        .env("TESTKIT_CHILD", "1")
        .env("PYTHONPATH", fake.path());
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn missing_moto_fails_under_ci_with_its_stderr() {
    if !testkit::have("python3", "--version") {
        return testkit::unavailable("python3", "not on PATH");
    }
    let (passed, out) = child(true);
    assert!(!passed, "a missing moto passed under CI=true:\n{out}");
    assert!(out.contains("moto's server is unavailable under CI=true"), "{out}");
    assert!(out.contains("moto is uninstalled for this test"), "python's own error is not in the failure:\n{out}");
}

#[test]
fn missing_moto_is_one_skipped_line_elsewhere() {
    if !testkit::have("python3", "--version") {
        return testkit::unavailable("python3", "not on PATH");
    }
    let (passed, out) = child(false);
    assert!(passed, "{out}");
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIPPED: ")).collect();
    assert_eq!(skipped.len(), 1, "{out}");
    assert!(skipped[0].contains("moto's server is unavailable") && skipped[0].contains("moto is uninstalled"), "{out}");
}
