//! The "Object Created" event S3 sends to EventBridge.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::s3::ObjectCreated;

/// What S3 leaves unencoded in an event's key: unreserved characters and `/`; spaces become `+`.
const EVENT_KEY: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/').remove(b' ');

/// Encodes a key as S3 does in event notifications (form style: space is `+`).
pub fn encode_event_key(key: &str) -> String {
    utf8_percent_encode(key, EVENT_KEY).to_string().replace(' ', "+")
}

/// Formats a time as EventBridge does (`2026-11-26T17:07:31Z`).
pub fn event_time(t: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).unwrap_or_default()
}

/// Builds the EventBridge event for an object creation.
pub fn object_created_event(ev: &ObjectCreated) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": crate::ACCOUNT_ID,
        "time": event_time(ev.time),
        "region": crate::REGION,
        "resources": [format!("arn:aws:s3:::{}", ev.bucket)],
        "detail": {
            "version": "0",
            "bucket": { "name": ev.bucket },
            "object": {
                "key": encode_event_key(&ev.key),
                "size": ev.size,
                "etag": ev.etag,
                "sequencer": ev.sequencer,
            },
            "request-id": ev.request_id,
            "requester": ev.requester,
            "source-ip-address": ev.source_ip,
            "reason": ev.reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded_keeping_slashes() {
        assert_eq!(encode_event_key("acme/in/red flower+1=%.csv"), "acme/in/red+flower%2B1%3D%25.csv");
        assert_eq!(encode_event_key("é"), "%C3%A9");
    }
}
