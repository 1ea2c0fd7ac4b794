//! Amazon States Language: the fuzzer's text as a definition; a JSON object
//! `{"definition": D, "input": I}` also runs D on I (every Task answers with its parameters)
//! on a clock sped up a million times, for at most a second.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::state_machine(data));
