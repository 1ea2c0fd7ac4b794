//! The copy function's input: both event forms (the state machine's request, a raw EventBridge
//! event) and the key decodings it tries.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::copy_event(data));
