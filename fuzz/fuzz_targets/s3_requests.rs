//! S3 through the gateway and the s3s service: the fuzzer's bytes are the raw HTTP/1.1 stream
//! of one connection (request lines, paths, queries, headers, ranges, multipart and XML
//! bodies), unsigned so that requests reach the operations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let routes = intake_fuzz::unsigned_s3_routes();
    let peer = "127.0.0.1:1".parse().unwrap();
    let out =
        intake_fuzz::exchange(data, |stream| sim::gateway::serve_connection(stream, routes, peer, Default::default()));
    // A 500 means the simulator failed, not the request: S3's InternalError is never ours to send.
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("HTTP/1.1 500"), "an internal error: {text}");
});
