//! Fuzzing's regression value in every test run: each committed seed (`corpus/<target>/`) and
//! each crash input ever found (`regressions/<target>/`) goes through its target's function
//! once, as a test of its own (`<target>/<corpus|regressions>/<file>`), in the workspace's
//! ordinary test build (no nightly toolchain, no libFuzzer). A panic fails the test, as it
//! would crash the fuzzer.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

/// The folders of inputs, each under `fuzz/`.
const KINDS: [&str; 2] = ["corpus", "regressions"];

fn inputs(target: &str) -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for kind in KINDS {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                found.push((format!("{target}/{kind}/{name}"), path));
            }
        }
    }
    found.sort();
    found
}

/// The `[[bin]]` names of `fuzz/Cargo.toml`: what `cargo fuzz` runs.
fn fuzz_bins() -> Vec<String> {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap_or_default();
    let mut bins = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name = ") {
            bins.push(name.trim_matches('"').to_string());
        }
    }
    bins.sort();
    bins
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    // What cargo fuzz explores and what this test replays are the same targets.
    trials.push(Trial::test("targets_are_the_fuzz_bins", || {
        let mut replayed: Vec<String> = intake_fuzz::targets::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
        replayed.sort();
        let bins = fuzz_bins();
        if replayed == bins {
            Ok(())
        } else {
            Err(format!("fuzz/Cargo.toml's [[bin]]s {bins:?} differ from targets::TARGETS {replayed:?}").into())
        }
    }));
    for &(target, run) in intake_fuzz::targets::TARGETS {
        let found = inputs(target);
        // A target without a seed replays nothing, and would go unnoticed.
        trials.push(Trial::test(format!("{target}/has_seeds"), {
            let count = found.len();
            move || if count > 0 { Ok(()) } else { Err(Failed::from(format!("no inputs in fuzz/corpus/{target}/"))) }
        }));
        for (name, path) in found {
            trials.push(Trial::test(name, move || {
                let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                run(&data);
                Ok(())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
