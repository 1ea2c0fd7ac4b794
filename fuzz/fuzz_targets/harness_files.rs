//! The files partners and CI write for the harness: scenario files, load profiles (and the
//! plan and thresholds drawn from them) and replayed traffic logs.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = harness::scenario::Scenario::parse(text, Path::new("fuzz.toml"));
    if let Ok(profile) = harness::load::profile::Profile::parse(text, Path::new("fuzz.toml")) {
        let _ = harness::load::parse_thresholds(&profile, &[]);
        let _ = harness::load::plan::Plan::of(&profile, Default::default());
    }
    let _ = harness::load::replay::read(text, "fuzz.log");
});
