//! Amazon States Language: the fuzzer's text as a definition; a JSON object
//! `{"definition": D, "input": I}` also runs D on I (every Task answers with its parameters)
//! on a clock sped up a million times, for at most a second.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sim::states::{Clock, StepFunctions, TaskInvoker};

fn service() -> &'static StepFunctions {
    static SFN: OnceLock<StepFunctions> = OnceLock::new();
    SFN.get_or_init(|| {
        let invoker: TaskInvoker = Arc::new(|_, payload| Box::pin(async move { Ok(payload) }));
        StepFunctions::new(invoker, Clock::scaled(1e6))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = sim::states::Definition::parse(text);
    let Ok(doc) = serde_json::from_str::<Value>(text) else { return };
    let definition = match &doc["definition"] {
        Value::String(s) => s.clone(),
        Value::Null => return,
        other => other.to_string(),
    };
    let sfn = service();
    let role = "arn:aws:iam::000000000000:role/fuzz";
    let _guard = intake_fuzz::runtime().enter();
    let name = format!("fuzz-{}", rand::random::<u32>());
    let Ok(machine) = sfn.create_state_machine(&name, &definition, role) else { return };
    let input = doc.get("input").map(Value::to_string);
    let Ok((execution, _)) = sfn.start_execution(&machine, None, input) else { return };
    let started = Instant::now();
    intake_fuzz::runtime().block_on(async {
        while started.elapsed() < Duration::from_secs(1) {
            match sfn.execution(&execution) {
                Ok(e) if e.status != sim::states::ExecutionStatus::Running => return,
                _ => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        let _ = sfn.stop_execution(&execution, None, None);
    });
});
