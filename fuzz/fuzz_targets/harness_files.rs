//! The files partners and CI write for the harness: scenario files, load profiles (and the
//! plan and thresholds drawn from them) and replayed traffic logs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| intake_fuzz::targets::harness_files(data));
