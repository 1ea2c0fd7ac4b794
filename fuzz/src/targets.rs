//! The fuzz targets' bodies, one function each: `fuzz_targets/<name>.rs` hands libFuzzer's
//! bytes to the function of its name, and `tests/replay.rs` hands it every committed seed and
//! every crash input ever found, in the workspace's ordinary test build. A panic is a crash.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use sim::events::{EventPattern, InputTransformer, RuleFacts};
use sim::states::{Clock, StepFunctions, TaskInvoker};

/// A fuzz target's body: one input, a panic is a crash.
pub type Body = fn(&[u8]);

/// Every target: its name (the `[[bin]]` of `Cargo.toml`, the folder of its corpus) and body.
pub const TARGETS: &[(&str, Body)] = &[
    ("sftp_packets", sftp_packets),
    ("s3_requests", s3_requests),
    ("gateway_json", gateway_json),
    ("event_rules", event_rules),
    ("state_machine", state_machine),
    ("harness_files", harness_files),
    ("copy_event", copy_event),
];

/// SSH_FXP_INIT, version 3: what every client sends first.
const INIT: [u8; 9] = [0, 0, 0, 5, 1, 0, 0, 0, 3];

/// The SFTP server after authentication: the client's INIT, then the bytes as the rest of the
/// stream (packets of any length and type, truncated, interleaved handles).
pub fn sftp_packets(data: &[u8]) {
    let sim = crate::simulator();
    let mut input = INIT.to_vec();
    input.extend_from_slice(data);
    let out = crate::exchange(&input, |stream| sim.serve_sftp_subsystem(crate::USER, stream).unwrap());
    // Whatever came in, the server answered the INIT with VERSION first.
    assert!(out.len() >= 9 && out[4] == 2, "no SSH_FXP_VERSION: {out:?}");
}

/// S3 through the gateway and the s3s service: the bytes are the raw HTTP/1.1 stream of one
/// connection (request lines, paths, queries, headers, ranges, multipart and XML bodies),
/// unsigned so that requests reach the operations.
pub fn s3_requests(data: &[u8]) {
    let routes = crate::unsigned_s3_routes();
    let peer = "127.0.0.1:1".parse().unwrap();
    let out = crate::exchange(data, |stream| sim::gateway::serve_connection(stream, routes, peer, Default::default()));
    // A 500 means the simulator failed, not the request: S3's InternalError is never ours to send.
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("HTTP/1.1 500"), "an internal error: {text}");
}

/// The gateway's JSON protocol services (Step Functions, CloudWatch Logs, DynamoDB, SQS): the
/// bytes are the raw HTTP/1.1 stream of one connection to the simulator's gateway.
pub fn gateway_json(data: &[u8]) {
    let sim = crate::simulator();
    crate::exchange(data, |stream| sim.serve_gateway_connection(stream));
}

/// EventBridge event patterns and input transformers: the text is parsed as each; a JSON
/// object `{"pattern": P, "transformer": T, "event": E}` also matches E against P and applies
/// T to it.
pub fn event_rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = EventPattern::parse(text);
    let _ = InputTransformer::parse(text);
    let Ok(doc) = serde_json::from_str::<Value>(text) else { return };
    let event = &doc["event"];
    if let Ok(p) = EventPattern::from_value(&doc["pattern"]) {
        let _ = p.matches(event);
    }
    if let Ok(t) = InputTransformer::parse(&doc["transformer"].to_string()) {
        let facts = RuleFacts { name: "rule".into(), arn: "arn:aws:events:us-east-1:000000000000:rule/rule".into() };
        if let Ok(input) = t.apply(event, &facts) {
            // The target receives JSON or a plain string; both must be what the template said.
            let _ = serde_json::from_str::<Value>(&input);
        }
    }
}

/// The Step Functions service the state machine target runs definitions on: every Task answers
/// with its parameters, on a clock sped up a million times.
fn step_functions() -> &'static StepFunctions {
    static SFN: OnceLock<StepFunctions> = OnceLock::new();
    SFN.get_or_init(|| {
        let invoker: TaskInvoker = Arc::new(|_, payload| Box::pin(async move { Ok(payload) }));
        StepFunctions::new(invoker, Clock::scaled(1e6))
    })
}

/// Amazon States Language: the text as a definition; a JSON object `{"definition": D,
/// "input": I}` also runs D on I for at most a second.
pub fn state_machine(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = sim::states::Definition::parse(text);
    let Ok(doc) = serde_json::from_str::<Value>(text) else { return };
    let definition = match &doc["definition"] {
        Value::String(s) => s.clone(),
        Value::Null => return,
        other => other.to_string(),
    };
    let sfn = step_functions();
    let role = "arn:aws:iam::000000000000:role/fuzz";
    let _guard = crate::runtime().enter();
    let name = format!("fuzz-{}", rand::random::<u32>());
    let Ok(machine) = sfn.create_state_machine(&name, &definition, role) else { return };
    let input = doc.get("input").map(Value::to_string);
    let Ok((execution, _)) = sfn.start_execution(&machine, None, input) else { return };
    let started = Instant::now();
    crate::runtime().block_on(async {
        while started.elapsed() < Duration::from_secs(1) {
            match sfn.execution(&execution) {
                Ok(e) if e.status != sim::states::ExecutionStatus::Running => return,
                _ => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        let _ = sfn.stop_execution(&execution, None, None);
    });
}

/// The files partners and CI write for the harness: scenario files, load profiles (and the
/// plan and thresholds drawn from them) and replayed traffic logs.
pub fn harness_files(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = harness::scenario::Scenario::parse(text, Path::new("fuzz.toml"));
    if let Ok(profile) = harness::load::profile::Profile::parse(text, Path::new("fuzz.toml")) {
        let _ = harness::load::parse_thresholds(&profile, &[]);
        let _ = harness::load::plan::Plan::of(&profile, Default::default());
    }
    let _ = harness::load::replay::read(text, "fuzz.log");
}

/// The copy function's input: both event forms (the state machine's request, a raw EventBridge
/// event) and the key decodings it tries.
pub fn copy_event(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(decoded) = copy_lambda::keys::form_decoded(text) {
        // Decoding only removes escapes: never longer than the raw key.
        assert!(decoded.len() <= text.len(), "{text:?} decoded to the longer {decoded:?}");
    }
    let _ = copy_lambda::keys::copy_source("bucket", text, "");
    let _ = copy_lambda::event::sequencer_order(text);
    let Ok(value) = serde_json::from_str(text) else { return };
    if let Ok(d) = copy_lambda::event::Delivery::from_input(value, Some("destination")) {
        let _ = d.is_folder_marker();
        let _ = copy_lambda::keys::copy_source(&d.source_bucket, &d.key, &d.version_id);
    }
}
