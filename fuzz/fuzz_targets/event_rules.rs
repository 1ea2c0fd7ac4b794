//! EventBridge event patterns and input transformers: the fuzzer's text is parsed as each; a
//! JSON object `{"pattern": P, "transformer": T, "event": E}` also matches E against P and
//! applies T to it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::event_rules(data));
