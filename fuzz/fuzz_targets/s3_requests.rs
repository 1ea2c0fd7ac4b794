//! S3 through the gateway and the s3s service: the fuzzer's bytes are the raw HTTP/1.1 stream
//! of one connection (request lines, paths, queries, headers, ranges, multipart and XML
//! bodies), unsigned so that requests reach the operations.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::s3_requests(data));
