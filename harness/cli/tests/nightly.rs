//! The nightly workflow without AWS: its own `run:` blocks, taken from
//! `.github/workflows/nightly.yml`, run here with only what needs AWS or the network stood in
//! for (the runner's address, `terraform apply`'s outputs, and `cargo run` replaced by the built
//! harness with `--dry-run`). The selection must run: every `nightly` scenario, each user with an
//! account of the stack, no scenario needing the simulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The dedented `run: |` block of the workflow step named `step`.
fn run_block(workflow: &str, step: &str) -> String {
    let mut lines = workflow.lines().skip_while(|l| l.trim() != format!("- name: {step}"));
    assert!(lines.next().is_some(), "nightly.yml has no step {step:?}");
    let run = lines
        .by_ref()
        .find(|l| l.trim() == "run: |" || l.trim_start().starts_with("- name:"))
        .filter(|l| l.trim() == "run: |")
        .unwrap_or_else(|| panic!("step {step:?} has no `run: |` block"));
    let indent = run.len() - run.trim_start().len();
    let body: Vec<&str> =
        lines.take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent).collect();
    let strip = body.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    body.iter().map(|l| if l.len() >= strip { &l[strip..] } else { "" }).collect::<Vec<_>>().join("\n") + "\n"
}

/// Runs `script` in bash at the workspace root, after `prelude`, with `env`.
fn bash(prelude: &str, script: &str, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", &format!("{prelude}\n{script}")]).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("LAMBDA_ARCHITECTURE", "x86_64")
        .env("NIGHTLY_VPC_ID", "")
        .env("NIGHTLY_SUBNET_IDS", "")
        .env("RUST_LOG", "error")
        .output()
        .expect("bash runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The `nightly` scenarios, by name.
fn nightly_scenarios() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let doc: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let tags = doc.get("tags").and_then(|t| t.as_array()).cloned().unwrap_or_default();
            if tags.iter().any(|t| t.as_str() == Some("nightly")) {
                names.push(doc["name"].as_str().unwrap().to_string());
            }
        }
    }
    names.sort();
    names
}

/// What the workflow's settings step writes (tfvars, user arguments, keys), and an outputs
/// document as `terraform apply` of those settings would leave it.
struct Settings {
    temp: tempfile::TempDir,
    workflow: String,
}

impl Settings {
    fn written() -> Option<Settings> {
        if !testkit::need(&[("python3", "--version"), ("ssh-keygen", "-?")]) {
            return None;
        }
        let workflow = std::fs::read_to_string(root().join(".github/workflows/nightly.yml")).unwrap();
        let temp = tempfile::tempdir().unwrap();
        let github_output = temp.path().join("github-output");
        // The runner's public address comes from checkip.amazonaws.com; a documentation address
        // (RFC 5737) stands in.
        let out = bash(
            "curl() { echo 203.0.113.10; }",
            &run_block(&workflow, "Stack settings for this run"),
            &[("RUNNER_TEMP", temp.path()), ("GITHUB_WORKSPACE", &root()), ("GITHUB_OUTPUT", &github_output)],
        );
        assert!(out.status.success(), "the settings step failed:\n{}", text(&out));
        let tfvars: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(temp.path().join("nightly.tfvars.json")).unwrap()).unwrap();
        assert!(std::fs::read_to_string(&github_output).unwrap().contains("name=pi-nightly-4242-1"));
        // The stack's `harness` output lists its users: those the settings declared.
        let mut outputs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root().join("infra/examples/outputs.example.json")).unwrap())
                .unwrap();
        let users: Vec<&String> = tfvars["users"].as_object().unwrap().keys().collect();
        outputs["harness"]["value"]["sftp"]["users"] = serde_json::json!(users);
        std::fs::write(temp.path().join("outputs.json"), outputs.to_string()).unwrap();
        Some(Settings { temp, workflow })
    }

    /// The workflow's scenario step, with `cargo run ... --` as the built harness plus `args`.
    fn scenarios_step(&self, args: &str) -> Output {
        let shim = format!(
            "cargo() {{ while [ \"$#\" -gt 0 ] && [ \"$1\" != \"--\" ]; do shift; done; shift; \"{}\" \"$@\" {args}; }}",
            env!("CARGO_BIN_EXE_harness")
        );
        bash(
            &shim,
            &run_block(&self.workflow, "Scenarios against the deployed stack"),
            &[("RUNNER_TEMP", self.temp.path())],
        )
    }

    fn user_args(&self) -> Vec<String> {
        std::fs::read_to_string(self.temp.path().join("user-args")).unwrap().lines().map(str::to_string).collect()
    }
}

#[test]
fn the_nightly_command_line_runs_every_nightly_scenario() {
    let Some(settings) = Settings::written() else { return };
    let out = settings.scenarios_step("--dry-run");
    let t = text(&out);
    assert!(out.status.success(), "the nightly run would stop before checking anything:\n{t}");
    let nightly = nightly_scenarios();
    assert!(nightly.len() >= 8, "{nightly:?}");
    for name in &nightly {
        let line = t.lines().find(|l| l.starts_with(&format!("would run {name} ")));
        let line = line.unwrap_or_else(|| panic!("{name} is not in the nightly selection:\n{t}"));
        assert!(line.contains("as nightly-1"), "{line}");
    }
    assert_eq!(t.lines().filter(|l| l.starts_with("would run ")).count(), nightly.len(), "{t}");
    // The two-user scenarios act as two distinct accounts of the stack.
    let multi = t.lines().find(|l| l.starts_with("would run multi-user ")).unwrap();
    assert!(multi.contains("as nightly-1") && multi.contains("as nightly-2"), "{multi}");
}

/// The dry run can say no: too few accounts, an account the stack lacks, a scenario that needs
/// the simulator.
#[test]
fn the_dry_run_refuses_what_the_nightly_run_could_not_do() {
    let Some(settings) = Settings::written() else { return };
    let outputs = settings.temp.path().join("outputs.json");
    let harness = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(root())
            .args(["scenario"])
            .args(extra)
            .args(["--target", "aws", "--stack"])
            .arg(&outputs)
            .arg("--dry-run")
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    let users = settings.user_args();
    let first = &users[..2];
    let (code, t) = harness(&[&["multi-user"], &first.iter().map(String::as_str).collect::<Vec<_>>()[..]].concat());
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("needs 2 SFTP account(s) (acme, globex) but 1 were given"), "{t}");

    let key = users[1].split_once('=').unwrap().1;
    let stranger = format!("stranger={key}");
    let (code, t) = harness(&["smoke", "--user", &stranger]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("--user stranger: the stack") && t.contains("has no such SFTP user"), "{t}");

    let (code, t) = harness(&[&["throttled"], &users.iter().map(String::as_str).collect::<Vec<_>>()[..]].concat());
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("cannot run throttled") && t.contains("needs the embedded simulator"), "{t}");
}
