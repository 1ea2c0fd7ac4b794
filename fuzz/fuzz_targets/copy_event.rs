//! The copy function's input: both event forms (the state machine's request, a raw EventBridge
//! event) and the key decodings it tries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(decoded) = copy_lambda::keys::form_decoded(text) {
        // Decoding only removes escapes: never longer than the raw key.
        assert!(decoded.len() <= text.len(), "{text:?} decoded to the longer {decoded:?}");
    }
    let _ = copy_lambda::keys::copy_source("bucket", text, "");
    let _ = copy_lambda::event::sequencer_order(text);
    let Ok(value) = serde_json::from_str(text) else { return };
    if let Ok(d) = copy_lambda::event::Delivery::from_input(value, Some("destination")) {
        let _ = d.is_folder_marker();
        let _ = copy_lambda::keys::copy_source(&d.source_bucket, &d.key, &d.version_id);
    }
});
