//! The SFTP server after authentication: the client's INIT, then the fuzzer's bytes as the
//! rest of the stream (packets of any length and type, truncated, interleaved handles).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::sftp_packets(data));
