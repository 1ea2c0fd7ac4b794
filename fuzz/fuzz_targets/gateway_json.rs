//! The gateway's JSON protocol services (Step Functions, CloudWatch Logs, DynamoDB): the
//! fuzzer's bytes are the raw HTTP/1.1 stream of one connection to the simulator's gateway.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sim = intake_fuzz::simulator();
    intake_fuzz::exchange(data, |stream| sim.serve_gateway_connection(stream));
});
