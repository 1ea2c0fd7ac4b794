//! `harness load` end to end against `harness sim` (a separate process, reached as a deployed
//! stack: its outputs document, AWS_ENDPOINT_URL and `--user` accounts): a closed and an open
//! profile account for every file, a breached threshold exits 1, three shard processes merge
//! into the sum of their parts, the HTML report's charts render in Chromium, exported session
//! logs replay, and the Kubernetes manifests validate.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{SimProcess, start_sim_with};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `harness sim` with users acme and globex, and its outputs document.
fn sim() -> (SimProcess, PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let outputs = dir.join("outputs.json");
    let sim = start_sim_with(&["--user", "acme", "--user", "globex", "--outputs", outputs.to_str().unwrap()]);
    (sim, outputs)
}

/// `harness load` against the simulator as a deployed stack.
fn load(sim: &SimProcess, outputs: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(root()).arg("load").args(args).args(["--target", "aws", "--stack"]).arg(outputs);
    for u in sim.info["users"].as_array().unwrap() {
        cmd.arg("--user").arg(format!("{}={}", u["name"].as_str().unwrap(), u["private_key"].as_str().unwrap()));
    }
    cmd.args(["--poll", "20ms"])
        .env("AWS_ENDPOINT_URL", sim.get("aws"))
        .env("AWS_ACCESS_KEY_ID", sim.get("access_key_id"))
        .env("AWS_SECRET_ACCESS_KEY", sim.get("secret_access_key"))
        .env("AWS_REGION", sim.get("region"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("RUST_LOG", "error");
    cmd
}

fn profile(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, format!("name = \"{name}\"\nusers = [\"acme\", \"globex\"]\n{body}")).unwrap();
    p
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every file counted, uploaded, transferred and verified; every threshold passed.
fn assert_accounted(r: &serde_json::Value, files: u64, out: &str) {
    assert_eq!(r["totals"]["files"], files, "{out}");
    let a = &r["accounting"];
    for (field, want) in [("uploaded", files), ("transferred", files), ("verified", files)] {
        assert_eq!(a[field], want, "{field}: {out}");
    }
    for field in ["failed", "lost", "wrong", "duplicated"] {
        assert_eq!(a[field], 0, "{field}: {out}");
    }
    assert!(r["failures"].as_array().unwrap().is_empty(), "{out}");
    let thresholds = r["thresholds"].as_array().unwrap();
    assert!(!thresholds.is_empty());
    assert!(thresholds.iter().all(|t| t["passed"] == true && t["skipped"].is_null()), "{out}");
    let pipeline = r["stages"].as_array().unwrap().iter().find(|s| s["metric"] == "pipeline").unwrap();
    assert_eq!(pipeline["count"], files, "every file has a pipeline latency: {out}");
}

#[test]
fn closed_and_open_profiles_account_for_every_file() {
    let (sim, outputs) = sim();
    let dir = tempfile::tempdir().unwrap();
    let closed = profile(
        dir.path(),
        "closed",
        "iterations = 4\nthresholds = [\"pipeline.p99<10s\", \"errors.rate==0\"]\n[files]\nsize = { uniform = [\"1KiB\", \"32KiB\"] }\n[closed]\nsessions = 2\nfiles_per_session = 3\nchannels = 2\n",
    );
    let json = dir.path().join("closed.json");
    let out =
        load(&sim, &outputs, &["--file", closed.to_str().unwrap(), "--json", json.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&json);
    assert_accounted(&r, 12, &text(&out));
    assert_eq!(r["totals"]["sessions"], 4, "{}", text(&out));

    let open = profile(
        dir.path(),
        "open",
        "duration = \"2s\"\nthresholds = [\"pipeline.p99<10s\", \"files.lost==0\"]\n[open]\nrate = 10.0\nmax_sessions = 4\nchannels = 2\n",
    );
    let json = dir.path().join("open.json");
    let out =
        load(&sim, &outputs, &["--file", open.to_str().unwrap(), "--json", json.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&json);
    assert_accounted(&r, 20, &text(&out));
    let queue = r["stages"].as_array().unwrap().iter().find(|s| s["metric"] == "queue").unwrap();
    assert_eq!(queue["count"], 20, "the open model measures each file's wait from when it was due");

    // A threshold the run cannot meet fails it, with one clear line.
    let junit = dir.path().join("breach.xml");
    let out = load(
        &sim,
        &outputs,
        &["--file", open.to_str().unwrap(), "--threshold", "pipeline.p50<1us", "--junit", junit.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("FAIL  threshold pipeline.p50<1us"), "{t}");
    assert!(t.contains("load open FAILED: threshold pipeline.p50<1us breached"), "{t}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\"") && xml.contains("ThresholdBreached"), "{xml}");
}

/// The load run's accounting can say no: with a stage of the simulated pipeline broken on
/// purpose (`--break`, see `sim::breaks`), the run fails and names what became of the files.
#[test]
fn a_broken_pipeline_fails_the_load_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(
        dir.path(),
        "broken",
        "iterations = 1\ndrain_timeout = \"3s\"\n[closed]\nsessions = 1\nfiles_per_session = 3\n",
    );
    for (name, fails) in [
        ("copy-twice", "3 file(s) duplicated"),
        ("corrupt-copy", "3 file(s) wrong"),
        ("skip-copy", "3 file(s) failed"),
        ("no-execution", "3 file(s) lost"),
    ] {
        let json = dir.path().join(format!("{name}.json"));
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(root())
            .args(["load", "--file", p.to_str().unwrap(), "--break", name, "--json", json.to_str().unwrap()])
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(&format!("load broken FAILED: {fails}")), "{name}: {t}");
        let r = report(&json);
        let problems = r["accounting"]["problems"].as_array().unwrap();
        assert!(
            !problems.is_empty() && problems[0].as_str().unwrap().contains("acme/load/"),
            "{name}: the file is named: {r}"
        );
    }
}

#[test]
fn a_typo_in_a_threshold_stops_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), "typo", "duration = \"1s\"\n[open]\nrate = 1.0\n");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "--file", p.to_str().unwrap(), "--threshold", "pipelin.p99<2s"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("no metric \"pipelin\""), "{t}");
    assert!(!t.contains("load typo:"), "no load ran: {t}");
}

#[test]
fn three_shards_merge_into_the_sum_of_their_parts() {
    let (sim, outputs) = sim();
    let dir = tempfile::tempdir().unwrap();
    let p = profile(
        dir.path(),
        "fleet",
        "duration = \"3s\"\nthresholds = [\"files.lost==0\", \"pipeline.p99<10s\"]\n[open]\nrate = 10.0\nmax_sessions = 3\n",
    );
    let results = dir.path().join("results");
    let shards: Vec<std::process::Child> = (0..3)
        .map(|i| {
            load(
                &sim,
                &outputs,
                &[
                    "--file",
                    p.to_str().unwrap(),
                    "--shard",
                    &format!("{i}/3"),
                    "--run-id",
                    "fleet-test",
                    "--results",
                    results.to_str().unwrap(),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for s in shards {
        let out = s.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let parts: Vec<serde_json::Value> =
        (0..3).map(|i| report(&results.join(format!("fleet-test/shard-{i}-of-3/summary.json")))).collect();
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| parts.iter().map(f).sum::<u64>();
    let files = sum(&|r| r["totals"]["files"].as_u64().unwrap());
    assert_eq!(files, 30, "30 arrivals split over three shards");
    // Disjoint work: every shard uploaded its own files.
    for r in &parts {
        assert_eq!(r["totals"]["files"], 10, "{r}");
    }
    let merged_json = dir.path().join("merged.json");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "merge"])
        .arg(&results)
        .args(["--json", merged_json.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let m = report(&merged_json);
    assert_eq!(m["shards"], serde_json::json!(["0/3", "1/3", "2/3"]));
    assert_eq!(m["totals"]["files"], files);
    assert_eq!(m["totals"]["bytes"], sum(&|r| r["totals"]["bytes"].as_u64().unwrap()));
    assert_eq!(m["totals"]["sessions"], sum(&|r| r["totals"]["sessions"].as_u64().unwrap()));
    for field in ["uploaded", "transferred", "verified", "lost"] {
        assert_eq!(m["accounting"][field], sum(&|r| r["accounting"][field].as_u64().unwrap()), "{field}");
    }
    let count = |r: &serde_json::Value| {
        r["stages"].as_array().unwrap().iter().find(|s| s["metric"] == "pipeline").unwrap()["count"].as_u64().unwrap()
    };
    assert_eq!(count(&m), parts.iter().map(count).sum::<u64>(), "histograms add up");
    assert!(m["thresholds"].as_array().unwrap().iter().all(|t| t["passed"] == true), "{m}");

    // Merging two shards of three is refused: the missing one's load would go uncounted.
    std::fs::remove_dir_all(results.join("fleet-test/shard-2-of-3")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "merge"])
        .arg(&results)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("2 of 3 shards found"), "{}", text(&out));
}

/// Results can live in S3 (here the simulator's own): shards upload there, merge reads them back.
#[test]
fn shard_results_go_through_s3() {
    let (sim, outputs) = sim();
    if !testkit::need(&[("aws", "--version")]) {
        return;
    }
    let (ok, out) = common::aws(&sim, &["s3api", "create-bucket", "--bucket", "load-results"]);
    assert!(ok, "{out}");
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), "s3fleet", "duration = \"1s\"\nthresholds = [\"files.lost==0\"]\n[open]\nrate = 6.0\n");
    for i in 0..2 {
        let out = load(
            &sim,
            &outputs,
            &[
                "--file",
                p.to_str().unwrap(),
                "--shard",
                &format!("{i}/2"),
                "--run-id",
                "s3run",
                "--results",
                "s3://load-results/runs",
            ],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains(&format!("results: s3://load-results/runs/s3run/shard-{i}-of-2")),
            "{}",
            text(&out)
        );
    }
    let merged = dir.path().join("merged.json");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "merge", "s3://load-results/runs/s3run", "--json", merged.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", sim.get("aws"))
        .env("AWS_ACCESS_KEY_ID", sim.get("access_key_id"))
        .env("AWS_SECRET_ACCESS_KEY", sim.get("secret_access_key"))
        .env("AWS_REGION", sim.get("region"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let m = report(&merged);
    assert_eq!(m["shards"], serde_json::json!(["0/2", "1/2"]));
    assert_eq!(m["totals"]["files"], 6);
    assert_eq!(m["accounting"]["transferred"], 6);
}

/// Without AWS credentials (a partner's run), the SFTP side is measured and the pipeline's
/// thresholds are skipped, never passed.
#[test]
fn partner_mode_measures_sftp_and_skips_the_pipeline() {
    let (sim, outputs) = sim();
    let dir = tempfile::tempdir().unwrap();
    let p = profile(
        dir.path(),
        "partner",
        "iterations = 2\nthresholds = [\"upload.p99<10s\", \"pipeline.p99<10s\", \"files.lost==0\"]\n[closed]\nsessions = 2\nfiles_per_session = 2\n",
    );
    let json = dir.path().join("partner.json");
    let mut cmd = load(&sim, &outputs, &["--file", p.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    cmd.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").env("AWS_EC2_METADATA_DISABLED", "true");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&json);
    assert!(r["accounting"].is_null(), "{r}");
    assert_eq!(r["totals"]["files"], 4);
    let t = r["thresholds"].as_array().unwrap();
    assert_eq!(t[0]["passed"], true);
    assert!(t[0]["skipped"].is_null());
    for skipped in &t[1..] {
        assert!(skipped["skipped"].as_str().is_some_and(|s| s.contains("AWS credentials")), "{skipped}");
    }
    assert!(text(&out).contains("not followed through the pipeline (no AWS credentials)"), "{}", text(&out));
}

/// `--abort-on-fail` stops the load at the first breach instead of running the whole profile.
#[test]
fn abort_on_fail_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), "long", "duration = \"60s\"\n[open]\nrate = 5.0\n");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "--file", p.to_str().unwrap(), "--threshold", "upload.p99<1us", "--abort-on-fail"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("aborting: threshold upload.p99<1us breached"), "{t}");
    assert!(started.elapsed() < std::time::Duration::from_secs(40), "ran {:?} of a 60 s profile", started.elapsed());
}

#[test]
fn the_html_report_draws_every_chart_in_chromium() {
    let Some(chromium) = common::chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), "charts", "duration = \"3s\"\n[open]\nrate = 10.0\nmax_sessions = 2\n");
    let html = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "--file", p.to_str().unwrap(), "--report", html.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let profile_dir = dir.path().join("chromium");
    let dom = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    for chart in ["latency-over-time", "throughput-over-time", "bandwidth-over-time", "latency-per-stage", "errors"] {
        let start = dom.find(&format!("data-chart=\"{chart}\"")).unwrap_or_else(|| panic!("no {chart} chart:\n{dom}"));
        let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
        let drawn = svg.matches("class=\"series\"").count() + svg.matches("class=\"bar\"").count();
        assert!(drawn > 0, "{chart} is empty:\n{svg}");
        if chart.ends_with("over-time") {
            // Points over three seconds of 1 s intervals.
            let points: usize = svg
                .split("data-points=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next()?.parse::<usize>().ok())
                .max()
                .unwrap_or(0);
            assert!(points >= 2, "{chart} has {points} point(s):\n{svg}");
        }
    }
    assert!(dom.contains("PASSED"), "{dom}");
}

#[test]
fn exported_session_logs_replay() {
    let dir = tempfile::tempdir().unwrap();
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transfer-session-logs.json");
    let p = dir.path().join("replayed.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "replay"])
        .arg(&logs)
        .args(["--name", "replayed", "--output", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("3 session(s), at most 2 at once"), "{}", text(&out));
    let json = dir.path().join("replayed.json");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .args(["load", "--file", p.to_str().unwrap(), "--speed", "4", "--json", json.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&json);
    assert_eq!(r["model"], "replay");
    assert_eq!(r["totals"]["sessions"], 3);
    assert_eq!(r["totals"]["files"], 4);
    assert_eq!(r["totals"]["bytes"], 121 + 2048 + 65536 + 4096);
    assert_eq!(r["accounting"]["transferred"], 4);
}

/// The Indexed Job and its merge step validate against Kubernetes' own schemas (strictly), and a
/// broken manifest does not; the shard count agrees everywhere.
#[test]
fn the_kubernetes_manifests_validate() {
    let dir = root().join("docker/kubernetes");
    let manifests = [dir.join("load-job.yaml"), dir.join("merge-job.yaml")];
    let job = std::fs::read_to_string(&manifests[0]).unwrap();
    let field = |name: &str| -> String {
        job.lines().find_map(|l| l.trim().strip_prefix(&format!("{name}: "))).unwrap_or_default().to_string()
    };
    assert_eq!(field("completionMode"), "Indexed");
    let n = field("completions");
    assert_eq!(field("parallelism"), n);
    assert!(job.contains(&format!("- $(JOB_COMPLETION_INDEX)/{n}")), "--shard must divide by completions ({n})");
    let profile = job.lines().skip_while(|l| l.trim() != "- load").nth(1).unwrap().trim().trim_start_matches("- ");
    assert!(root().join(format!("scenarios/load/{profile}.toml")).is_file(), "the Job runs profile {profile}");
    let python = match testkit::python_module("kubernetes_validate") {
        Ok(python) => python,
        Err(why) => return testkit::unavailable("kubernetes-validate", &why),
    };
    let validate = |files: &[PathBuf]| {
        python.command().args(["-m", "kubernetes_validate", "--strict"]).args(files).output().unwrap()
    };
    let out = validate(&manifests);
    assert!(out.status.success(), "{}", text(&out));
    let broken = tempfile::tempdir().unwrap();
    let bad = broken.path().join("job.yaml");
    std::fs::write(&bad, job.replace("completionMode: Indexed", "completionMode: Indexed\n  completionIndex: 3"))
        .unwrap();
    let out = validate(&[bad]);
    assert!(!out.status.success(), "an unknown field passed strict validation: {}", text(&out));
}

/// `harness bench soak` runs sessions against `harness sim` in its own process and passes with
/// every file verified; its memory bound is a real check: 1 MiB fails it, naming the figure.
#[test]
fn the_soak_benchmark_verifies_every_file_and_bounds_memory() {
    let run = |bound: &str| {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(root())
            .args(["bench", "soak", "--sessions", "5", "--files", "2", "--rounds", "1", "--max-rss-mib", bound])
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let ok = run("1024");
    let t = text(&ok);
    assert!(ok.status.success(), "{t}");
    assert!(t.contains("10 uploaded, 10 transferred, 10 verified, 0 lost") && t.contains("soak PASSED"), "{t}");
    let tight = run("1");
    let t = text(&tight);
    assert_eq!(tight.status.code(), Some(1), "{t}");
    assert!(t.contains("over the 1 MiB bound"), "{t}");
}
