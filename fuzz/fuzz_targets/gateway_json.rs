//! The gateway's JSON protocol services (Step Functions, CloudWatch Logs, DynamoDB): the
//! fuzzer's bytes are the raw HTTP/1.1 stream of one connection to the simulator's gateway.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::gateway_json(data));
