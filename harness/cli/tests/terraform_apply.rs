//! A real `terraform apply` of `infra/examples/complete` against a moto server
//! (`infra/scripts/apply-on-moto.sh`: endpoints in an override file of a temporary copy, never
//! in the shipped stack), whose `terraform output -json` then drives `harness stack show`.

use std::process::Command;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
#[ignore = "two real terraform applies and destroys (about 5 minutes, mostly the provider's waits): .ci/run runs it beside the fuzzing, `cargo nextest run -p harness --test terraform_apply --run-ignored only` by hand"]
fn the_example_stack_applies_on_moto_and_its_outputs_drive_stack_show() {
    // The same policy as infra/scripts/check.sh: no Terraform is a failure under CI unless the
    // run says it goes without (INFRA_CHECKS=skip), and a skip elsewhere.
    if !testkit::have("terraform", "version") {
        let why = "terraform is not installed (https://developer.hashicorp.com/terraform/install)";
        if testkit::ci() && std::env::var("INFRA_CHECKS").as_deref() != Ok("skip") {
            panic!("{why}; under CI=true that is a failure (set INFRA_CHECKS=skip to run without it)");
        }
        eprintln!("SKIPPED: {why}");
        return;
    }
    let python = match testkit::python_module("moto.server") {
        Ok(python) => python,
        Err(why) => return testkit::unavailable("moto's server", &why),
    };
    let dir = tempfile::tempdir().unwrap();
    // Plain moto first: what it lacks is listed, and the rest applies.
    let apply = || {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("infra/scripts/apply-on-moto.sh"))
            .env("PYTHON", python.exe())
            .env_remove("PYTHONPATH")
            .env("PYTHONNOUSERSITE", "1");
        cmd
    };
    let plain = apply().arg(dir.path().join("plain-outputs.json")).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&plain.stdout), String::from_utf8_lossy(&plain.stderr));
    println!("{text}");
    assert!(plain.status.success(), "{text}");
    let skipped: Vec<&str> = text.lines().filter(|l| l.starts_with("skipped ")).collect();
    assert!(text.lines().any(|l| l.starts_with("created ") && l.contains("aws_s3_bucket.this")), "{text}");
    assert!(
        skipped
            .iter()
            .any(|l| l.contains("aws_sfn_state_machine.this") && l.contains("ValidateStateMachineDefinition")),
        "moto's missing sfn:ValidateStateMachineDefinition must be named: {text}"
    );
    assert!(skipped.iter().any(|l| l.contains("depends on")), "dependents are skipped with their cause: {text}");

    let outputs = dir.path().join("outputs.json");
    // Then with stand-ins for exactly those calls (listed by the run), so every resource applies
    // and the outputs document is written.
    let out = apply().arg("--stub-missing").arg(&outputs).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The run's own account of what was created and skipped, in the test's output.
    println!("{text}");
    assert!(out.status.success(), "{text}");
    let created = text.lines().filter(|l| l.trim_start().starts_with("created ")).count();
    assert!(created > 0 && text.contains("aws_sfn_state_machine.this"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("created") && l.contains("aws_transfer_server")), "{text}");

    let show = Command::new(env!("CARGO_BIN_EXE_harness")).args(["stack", "show"]).arg(&outputs).output().unwrap();
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{shown}{}", String::from_utf8_lossy(&show.stderr));
    for want in [":stateMachine:", "/aws/vendedlogs/states/", "users       acme"] {
        assert!(shown.contains(want), "harness stack show lacks {want:?}:\n{shown}");
    }
}
