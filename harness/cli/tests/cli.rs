//! The command line's own pieces: shell completions and the manual page, generated from the
//! same definitions clap parses with.

use std::process::Command;

fn harness(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn bash_completion_registers_and_knows_the_subcommands() {
    let (ok, script) = harness(&["completions", "bash"]);
    assert!(ok && script.contains("scenario") && script.contains("--target"), "{script}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("harness.bash");
    std::fs::write(&file, &script).unwrap();
    // Sourced by bash, it registers a completion for `harness`, and completes `harness sc`.
    let probe = format!(
        "source '{}'; complete -p harness; COMP_WORDS=(harness sc); COMP_CWORD=1; COMP_LINE='harness sc'; COMP_POINT=10; _harness harness sc harness; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("-F _harness harness") && text.lines().any(|l| l == "scenario"), "{text}");
}

#[test]
fn zsh_and_fish_completions_are_generated() {
    let (ok, zsh) = harness(&["completions", "zsh"]);
    assert!(ok && zsh.starts_with("#compdef harness"), "{zsh}");
    let (ok, fish) = harness(&["completions", "fish"]);
    assert!(ok && fish.contains("complete -c harness"), "{fish}");
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let (ok, page) = harness(&["man"]);
    assert!(ok, "{page}");
    assert!(page.contains(".TH harness"), "{page}");
    for sub in ["scenario", "load", "sim", "stack", "completions"] {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
    assert!(!page.contains("lambda-bootstrap"), "hidden subcommands stay out of the manual");
}
