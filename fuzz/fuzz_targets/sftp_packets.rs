//! The SFTP server after authentication: the client's INIT, then the fuzzer's bytes as the
//! rest of the stream (packets of any length and type, truncated, interleaved handles).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// SSH_FXP_INIT, version 3: what every client sends first.
const INIT: [u8; 9] = [0, 0, 0, 5, 1, 0, 0, 0, 3];

fuzz_target!(|data: &[u8]| {
    let sim = intake_fuzz::simulator();
    let mut input = INIT.to_vec();
    input.extend_from_slice(data);
    let out = intake_fuzz::exchange(&input, |stream| sim.serve_sftp_subsystem(intake_fuzz::USER, stream).unwrap());
    // Whatever came in, the server answered the INIT with VERSION first.
    assert!(out.len() >= 9 && out[4] == 2, "no SSH_FXP_VERSION: {out:?}");
});
