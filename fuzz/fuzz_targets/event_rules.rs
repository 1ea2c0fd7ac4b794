//! EventBridge event patterns and input transformers: the fuzzer's text is parsed as each; a
//! JSON object `{"pattern": P, "transformer": T, "event": E}` also matches E against P and
//! applies T to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sim::events::{EventPattern, InputTransformer, RuleFacts};

fuzz_target!(|data: &[u8]| {
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
});
