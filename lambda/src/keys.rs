//! Object keys as events carry them, and as `CopySource` needs them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Decodes a key the way S3 encodes it in event notifications: form-style, so `+` is a space
/// and `%XX` a byte. A literal `+` arrives as `%2B`, so one pass is exact.
pub fn decode_event_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Characters S3 leaves as they are in a `CopySource` path: unreserved ones and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// Builds the `x-amz-copy-source` value; the Rust SDK sends it as given, so encode it here.
/// A version id (versioned buckets) selects that version.
pub fn copy_source(bucket: &str, key: &str, version_id: &str) -> String {
    let encoded = utf8_percent_encode(key, COPY_SOURCE);
    if version_id.is_empty() {
        format!("{bucket}/{encoded}")
    } else {
        format!("{bucket}/{encoded}?versionId={version_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_and_percent_encoding_once() {
        assert_eq!(decode_event_key("inbound/my+file.csv"), "inbound/my file.csv");
        assert_eq!(decode_event_key("inbound/my%20file.csv"), "inbound/my file.csv");
        assert_eq!(decode_event_key("a%2Bb%3Dc%25d"), "a+b=c%d");
        assert_eq!(decode_event_key("caf%C3%A9"), "café");
        // Decoding twice would turn %2525 into %; once leaves %25.
        assert_eq!(decode_event_key("x%2525"), "x%25");
        assert_eq!(decode_event_key("q%3F%23"), "q?#");
        let long = "k".repeat(1024);
        assert_eq!(decode_event_key(&long), long);
    }

    #[test]
    fn encodes_copy_source_keeping_slashes() {
        assert_eq!(copy_source("b", "in/a b+c=d%é.csv", ""), "b/in/a%20b%2Bc%3Dd%25%C3%A9.csv");
        assert_eq!(copy_source("b", "q?#.csv", "v1"), "b/q%3F%23.csv?versionId=v1");
    }
}
