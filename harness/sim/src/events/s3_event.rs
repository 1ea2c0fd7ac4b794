//! The "Object Created" event S3 sends to EventBridge, in the shape of AWS's documented sample
//! (Amazon S3 user guide, "EventBridge event message structure"; committed as
//! `tests/fixtures/aws/s3-eventbridge-object-created.json`).
//!
//! The key is sent as it is, not URL-encoded: unlike classic S3 notifications (SQS, SNS,
//! Lambda), whose documentation says the key "is URL encoded", EventBridge's documentation
//! says nothing of encoding, and the evidence is of raw keys: a real event published with a
//! `:` unescaped (classic events send `%3A`), and AWS Solutions Library code tested against
//! EventBridge ("EventBridge S3 notifications deliver the object key un-encoded", with keys such
//! as `test+b.png` and `%2B++ %20.mp3`). See lambda/src/keys.rs for how the function copes if
//! that ever changes. `version-id` is present only for versioned writes.

use serde_json::{Value, json};

use crate::s3::ObjectCreated;

/// Formats a time as EventBridge does (`2026-11-26T17:07:31Z`).
pub fn event_time(t: std::time::SystemTime) -> String {
    crate::clock::rfc3339_seconds(t)
}

/// Builds the EventBridge event for an object creation.
pub fn object_created_event(ev: &ObjectCreated) -> Value {
    let mut object = json!({
        "key": ev.key,
        "size": ev.size,
        "etag": ev.etag,
    });
    if let Some(v) = &ev.version_id {
        object["version-id"] = json!(v);
    }
    object["sequencer"] = json!(ev.sequencer);
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
            "object": object,
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

    fn created(version_id: Option<&str>) -> ObjectCreated {
        ObjectCreated {
            bucket: "amzn-s3-demo-bucket1".into(),
            key: "acme/in/red flower+1=%:é.csv".into(),
            size: 5,
            etag: "b1946ac92492d2347c6235b4d2611184".into(),
            version_id: version_id.map(str::to_string),
            sequencer: "617F08299329D189".into(),
            reason: "PutObject",
            request_id: "N4N7GDK58NMKJ12R".into(),
            requester: "123456789012".into(),
            source_ip: "1.2.3.4".into(),
            time: std::time::SystemTime::UNIX_EPOCH,
            in_flight: None,
        }
    }

    /// Every field of AWS's sample, with the same JSON types, and no others.
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
            Value::String(_) => json!("string"),
            Value::Number(_) => json!("number"),
            other => other.clone(),
        }
    }

    #[test]
    fn has_the_shape_of_aws_sample() {
        let sample: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/aws/s3-eventbridge-object-created.json")).unwrap();
        assert_eq!(shape(&object_created_event(&created(Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")))), shape(&sample));
        // Unversioned writes carry no version-id (Powertools' sample of an unversioned bucket).
        let unversioned: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/aws/s3-eventbridge-object-created-unversioned.json"
        ))
        .unwrap();
        assert_eq!(shape(&object_created_event(&created(None))), shape(&unversioned));
    }

    #[test]
    fn keys_are_sent_as_they_are() {
        let ev = object_created_event(&created(None));
        assert_eq!(ev["detail"]["object"]["key"], "acme/in/red flower+1=%:é.csv");
    }
}
