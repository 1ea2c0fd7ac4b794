//! The rule's dead-letter queue: the events EventBridge could not deliver, with the reason it
//! attached to each.

use std::collections::BTreeMap;

use super::ProbeError;
use crate::targets::Clients;

/// One undelivered event, as EventBridge dead-letters it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The event (the message body).
    pub event: serde_json::Value,
    /// `ERROR_CODE` (`THROTTLING`, `NO_RESOURCE`, ...).
    pub error_code: String,
    /// `ERROR_MESSAGE`.
    pub error_message: String,
    /// `RETRY_ATTEMPTS`.
    pub retry_attempts: String,
    /// `EXHAUSTED_RETRY_CONDITION`, when retries ran out.
    pub exhausted: Option<String>,
}

impl DeadLetter {
    /// The object key the event announced.
    pub fn key(&self) -> Option<&str> {
        self.event["detail"]["object"]["key"].as_str()
    }
}

/// The dead letters for `key` in the queue at `url`, read without consuming them: each
/// message received is hidden for a few seconds (so the next receive pages on to others) and
/// never deleted, so other readers and later runs still see it.
pub async fn dead_letters_for_key(c: &Clients, url: &str, key: &str) -> Result<Vec<DeadLetter>, ProbeError> {
    let mut seen: BTreeMap<String, DeadLetter> = BTreeMap::new();
    // Up to 100 messages in rounds of 10.
    for _ in 0..10 {
        let out = c
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(5)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| ProbeError::from_sdk("sqs", "ReceiveMessage", url, &e))?;
        let messages = out.messages();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let attr = |name: &str| {
                m.message_attributes().and_then(|a| a.get(name)).and_then(|v| v.string_value()).map(str::to_string)
            };
            let letter = DeadLetter {
                event: serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(serde_json::Value::Null),
                error_code: attr("ERROR_CODE").unwrap_or_default(),
                error_message: attr("ERROR_MESSAGE").unwrap_or_default(),
                retry_attempts: attr("RETRY_ATTEMPTS").unwrap_or_default(),
                exhausted: attr("EXHAUSTED_RETRY_CONDITION"),
            };
            if letter.key() == Some(key) {
                seen.insert(m.message_id().unwrap_or_default().to_string(), letter);
            }
        }
    }
    Ok(seen.into_values().collect())
}
