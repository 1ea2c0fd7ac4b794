//! Object keys as events carry them, and as `CopySource` needs them.
//!
//! EventBridge's "Object Created" events carry the key as it is: AWS's EventBridge event
//! documentation never calls it encoded (the classic-notification page says "The object key name
//! value is URL encoded"), a real event published with a key like
//! `raw/health-check/2023-08-08T14:03:40.532432.zip` shows `:` unescaped where classic events
//! send `%3A`, and AWS Solutions Library code tested against EventBridge states "EventBridge S3
//! notifications deliver the object key un-encoded" (guidance-for-medialake-on-aws,
//! `lambdas/ingest/s3/index.py`, with tests of `test+b.png` and `%2B++ %20.mp3`). So the key is
//! used as delivered. Should a delivered key name no object, [`form_decoded`] gives the one
//! other reading S3 has ever used, and the copier accepts it only if its ETag (and version) is
//! the one the event announced.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The key a classic S3 notification would have meant (`+` a space, `%XX` a byte), when it
/// differs from the key as delivered.
pub fn form_decoded(raw: &str) -> Option<String> {
    if !raw.contains(['+', '%']) {
        return None;
    }
    let spaced = raw.replace('+', " ");
    let decoded = percent_decode_str(&spaced).decode_utf8().ok()?.into_owned();
    (decoded != raw).then_some(decoded)
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
    use proptest::prelude::*;

    /// Keys of any Unicode text, S3's special characters weighted in.
    fn any_key() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![" ", "+", "%", ":", "=", "#", "?", "&", "/", "é", "~", "%20", "+%2B"]);
        prop::collection::vec(prop_oneof![any::<char>().prop_map(String::from), special.prop_map(String::from)], 0..40)
            .prop_map(|parts| parts.concat())
    }

    /// What a classic S3 notification does to a key: form encoding (`+` for a space).
    fn form_encoded(key: &str) -> String {
        key.bytes()
            .map(|b| match b {
                b' ' => "+".to_string(),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    proptest! {
        /// decode(encode(key)) = key, for the copy source S3 decodes and for the classic
        /// notification reading the copier falls back to.
        #[test]
        fn every_key_survives_encoding(key in any_key()) {
            let source = copy_source("bucket", &key, "");
            let path = source.strip_prefix("bucket/").unwrap();
            // What would end the path or change its meaning is escaped.
            prop_assert!(!path.contains(['?', '#', ' ', '+']));
            prop_assert_eq!(percent_decode_str(path).decode_utf8().unwrap(), key.as_str());
            let encoded = form_encoded(&key);
            let back = form_decoded(&encoded).unwrap_or_else(|| encoded.clone());
            prop_assert_eq!(back, key);
        }
    }

    #[test]
    fn the_other_reading_of_a_key_is_the_form_decoded_one() {
        // The keys AWS's medialake sample tests against EventBridge pass through as they are;
        // their classic-notification reading is the fallback.
        assert_eq!(form_decoded("test+b.png").as_deref(), Some("test b.png"));
        assert_eq!(form_decoded("%2B++ %20.mp3").as_deref(), Some("+    .mp3"));
        assert_eq!(form_decoded("raw/health-check/2023-08-08T14:03:40.532432.zip"), None);
        assert_eq!(form_decoded("caf%C3%A9"), Some("café".into()));
        assert_eq!(form_decoded("bad%ZZ"), None);
        assert_eq!(form_decoded("%FF"), None, "not UTF-8: no key S3 could have meant");
    }

    #[test]
    fn encodes_copy_source_keeping_slashes() {
        assert_eq!(copy_source("b", "in/a b+c=d%é.csv", ""), "b/in/a%20b%2Bc%3Dd%25%C3%A9.csv");
        assert_eq!(copy_source("b", "q?#.csv", "v1"), "b/q%3F%23.csv?versionId=v1");
    }
}
