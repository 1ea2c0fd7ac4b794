//! SQS, as far as a dead-letter queue needs: standard queues over the JSON protocol that the
//! SDKs and the `aws` CLI speak (`X-Amz-Target: AmazonSQS.<Operation>`), with visibility
//! timeouts, receipt handles, message attributes and long polling.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use md5::Digest;
use serde::Deserialize;
use serde_json::{Value, json};

/// Seconds a received message stays invisible unless the request says otherwise (SQS's default).
const DEFAULT_VISIBILITY: u64 = 30;
/// SQS's limit on a message body with its attributes: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// A message attribute: its data type and value (strings and numbers; binary is not needed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attribute {
    /// `String` or `Number`.
    pub data_type: String,
    /// The value, as text.
    pub value: String,
}

impl Attribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self { data_type: "String".into(), value: value.into() }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Message {
    id: String,
    body: String,
    attributes: BTreeMap<String, Attribute>,
    sent: SystemTime,
    receive_count: u32,
    first_received: Option<SystemTime>,
    // A restart makes every message visible again, as a visibility timeout running out would.
    #[serde(skip)]
    invisible_until: Option<Instant>,
    #[serde(skip)]
    receipt: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Queue {
    created: SystemTime,
    messages: Vec<Message>,
}

/// Why an SQS request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    /// The JSON protocol's error shape (`QueueDoesNotExist`).
    pub code: &'static str,
    /// The query protocol's code the SDKs still read from `x-amzn-query-error`.
    pub query_code: &'static str,
    /// Message.
    pub message: String,
}

impl SqsError {
    fn no_queue() -> Self {
        Self {
            code: "QueueDoesNotExist",
            query_code: "AWS.SimpleQueueService.NonExistentQueue",
            message: "The specified queue does not exist.".into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self { code: "InvalidParameterValue", query_code: "InvalidParameterValue", message: message.into() }
    }

    fn receipt(handle: &str) -> Self {
        Self {
            code: "ReceiptHandleIsInvalid",
            query_code: "ReceiptHandleIsInvalid",
            message: format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        }
    }
}

/// The queues of the simulated account.
pub struct Queues {
    /// `http://host:port`, the base of every queue URL.
    base_url: String,
    queues: Mutex<BTreeMap<String, Queue>>,
    arrived: tokio::sync::Notify,
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(md5::Md5::digest(bytes))
}

/// MD5OfMessageAttributes, as SQS computes it: for each attribute in name order, the
/// length-prefixed name, data type, a transport byte (1 for strings and numbers) and the
/// length-prefixed value ("Calculating the MD5 message digest for message attributes",
/// SQS developer guide).
pub fn attributes_md5(attributes: &BTreeMap<String, Attribute>) -> String {
    let mut buf = Vec::new();
    for (name, a) in attributes {
        for part in [name.as_bytes(), a.data_type.as_bytes()] {
            buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
            buf.extend_from_slice(part);
        }
        buf.push(1);
        buf.extend_from_slice(&(a.value.len() as u32).to_be_bytes());
        buf.extend_from_slice(a.value.as_bytes());
    }
    md5_hex(&buf)
}

fn millis(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0).to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByUrl {
    queue_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByName {
    queue_name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Receive {
    queue_url: String,
    max_number_of_messages: Option<u32>,
    visibility_timeout: Option<u64>,
    wait_time_seconds: Option<u64>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Send {
    queue_url: String,
    message_body: String,
    #[serde(default)]
    message_attributes: BTreeMap<String, WireAttribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireAttribute {
    data_type: String,
    string_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Delete {
    queue_url: String,
    receipt_handle: String,
}

impl Queues {
    /// No queues yet; their URLs start with `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            queues: Mutex::default(),
            arrived: Default::default(),
        }
    }

    /// Every queue and message, as JSON (what `--data-dir` keeps).
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&*self.queues.lock().unwrap()).unwrap_or_default()
    }

    /// Takes back the queues and messages of a snapshot.
    pub fn restore(&self, bytes: &[u8]) -> std::io::Result<()> {
        let saved: BTreeMap<String, Queue> = serde_json::from_slice(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("queues: {e}")))?;
        self.queues.lock().unwrap().extend(saved);
        Ok(())
    }

    /// The body of every message in every queue.
    pub fn bodies(&self) -> Vec<String> {
        self.queues.lock().unwrap().values().flat_map(|q| q.messages.iter().map(|m| m.body.clone())).collect()
    }

    /// The URL of queue `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.base_url, crate::ACCOUNT_ID)
    }

    /// The ARN of queue `name`.
    pub fn arn(name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", crate::REGION, crate::ACCOUNT_ID)
    }

    /// Creates queue `name` (no-op if it exists).
    pub fn create(&self, name: &str) {
        self.queues
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_insert_with(|| Queue { created: SystemTime::now(), messages: Vec::new() });
    }

    /// Sends a message to queue `name`; returns its id.
    pub fn send(&self, name: &str, body: String, attributes: BTreeMap<String, Attribute>) -> Result<String, SqsError> {
        let size =
            body.len() + attributes.iter().map(|(k, a)| k.len() + a.data_type.len() + a.value.len()).sum::<usize>();
        if size > MAX_MESSAGE_BYTES {
            return Err(SqsError::invalid(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut queues = self.queues.lock().unwrap();
        let q = queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        q.messages.push(Message {
            id: id.clone(),
            body,
            attributes,
            sent: SystemTime::now(),
            receive_count: 0,
            first_received: None,
            invisible_until: None,
            receipt: None,
        });
        drop(queues);
        self.arrived.notify_waiters();
        Ok(id)
    }

    fn name_of(&self, url: &str) -> Result<String, SqsError> {
        let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        if self.queues.lock().unwrap().contains_key(name) { Ok(name.to_string()) } else { Err(SqsError::no_queue()) }
    }

    fn receive_now(&self, name: &str, r: &Receive) -> Result<Vec<Value>, SqsError> {
        let now = Instant::now();
        let visibility = Duration::from_secs(r.visibility_timeout.unwrap_or(DEFAULT_VISIBILITY));
        let max = r.max_number_of_messages.unwrap_or(1) as usize;
        let all = |names: &[String]| names.iter().any(|n| n == "All");
        let system: Vec<&String> = r.attribute_names.iter().chain(&r.message_system_attribute_names).collect();
        let mut queues = self.queues.lock().unwrap();
        let q = queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        let mut out = Vec::new();
        for m in q.messages.iter_mut().filter(|m| m.invisible_until.is_none_or(|t| t <= now)).take(max) {
            m.receive_count += 1;
            m.first_received.get_or_insert_with(SystemTime::now);
            m.invisible_until = Some(now + visibility);
            let receipt = format!("{}#{}", m.id, uuid::Uuid::new_v4().simple());
            m.receipt = Some(receipt.clone());
            let mut v = json!({
                "MessageId": m.id,
                "ReceiptHandle": receipt,
                "MD5OfBody": md5_hex(m.body.as_bytes()),
                "Body": m.body,
            });
            let chosen: BTreeMap<String, Attribute> = m
                .attributes
                .iter()
                .filter(|(k, _)| all(&r.message_attribute_names) || r.message_attribute_names.contains(k))
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect();
            if !chosen.is_empty() {
                v["MD5OfMessageAttributes"] = json!(attributes_md5(&chosen));
                v["MessageAttributes"] = chosen
                    .iter()
                    .map(|(k, a)| (k.clone(), json!({"StringValue": a.value, "DataType": a.data_type})))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            if !system.is_empty() {
                let facts = [
                    ("SenderId", crate::ACCOUNT_ID.to_string()),
                    ("SentTimestamp", millis(m.sent)),
                    ("ApproximateReceiveCount", m.receive_count.to_string()),
                    ("ApproximateFirstReceiveTimestamp", millis(m.first_received.unwrap_or(m.sent))),
                ];
                let wanted = |k: &str| system.iter().any(|n| *n == "All" || *n == k);
                v["Attributes"] = facts
                    .into_iter()
                    .filter(|(k, _)| wanted(k))
                    .map(|(k, val)| (k.to_string(), Value::String(val)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Serves one JSON protocol operation.
    pub async fn handle(&self, operation: &str, body: &[u8]) -> Result<Value, SqsError> {
        fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, SqsError> {
            serde_json::from_slice(body).map_err(|e| SqsError::invalid(format!("the request is not valid: {e}")))
        }
        match operation {
            "CreateQueue" => {
                let r: ByName = parse(body)?;
                let valid = !r.queue_name.is_empty()
                    && r.queue_name.len() <= 80
                    && r.queue_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    return Err(SqsError::invalid(
                        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
                    ));
                }
                self.create(&r.queue_name);
                Ok(json!({"QueueUrl": self.url(&r.queue_name)}))
            }
            "GetQueueUrl" => {
                let r: ByName = parse(body)?;
                self.name_of(&r.queue_name).map(|n| json!({"QueueUrl": self.url(&n)}))
            }
            "ListQueues" => {
                #[derive(Deserialize, Default)]
                #[serde(rename_all = "PascalCase")]
                struct List {
                    queue_name_prefix: Option<String>,
                }
                let r: List = if body.is_empty() { List::default() } else { parse(body)? };
                let prefix = r.queue_name_prefix.unwrap_or_default();
                let urls: Vec<String> = self
                    .queues
                    .lock()
                    .unwrap()
                    .keys()
                    .filter(|n| n.starts_with(&prefix))
                    .map(|n| self.url(n))
                    .collect();
                Ok(if urls.is_empty() { json!({}) } else { json!({"QueueUrls": urls}) })
            }
            "SendMessage" => {
                let r: Send = parse(body)?;
                let name = self.name_of(&r.queue_url)?;
                let attributes: BTreeMap<String, Attribute> = r
                    .message_attributes
                    .into_iter()
                    .map(|(k, a)| (k, Attribute { data_type: a.data_type, value: a.string_value.unwrap_or_default() }))
                    .collect();
                let md5_attrs = (!attributes.is_empty()).then(|| attributes_md5(&attributes));
                let md5_body = md5_hex(r.message_body.as_bytes());
                let id = self.send(&name, r.message_body, attributes)?;
                let mut v = json!({"MessageId": id, "MD5OfMessageBody": md5_body});
                if let Some(m) = md5_attrs {
                    v["MD5OfMessageAttributes"] = json!(m);
                }
                Ok(v)
            }
            "ReceiveMessage" => {
                let r: Receive = parse(body)?;
                if r.max_number_of_messages.is_some_and(|n| !(1..=10).contains(&n)) {
                    return Err(SqsError::invalid(
                        "Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
                    ));
                }
                if r.wait_time_seconds.is_some_and(|w| w > 20) {
                    return Err(SqsError::invalid(
                        "Value for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
                    ));
                }
                if r.visibility_timeout.is_some_and(|v| v > 43_200) {
                    return Err(SqsError::invalid(
                        "Value for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.",
                    ));
                }
                let name = self.name_of(&r.queue_url)?;
                let deadline = Instant::now() + Duration::from_secs(r.wait_time_seconds.unwrap_or(0));
                loop {
                    // Registered before looking, so a message sent in between still wakes us.
                    let arrived = self.arrived.notified();
                    let got = self.receive_now(&name, &r)?;
                    let left = deadline.saturating_duration_since(Instant::now());
                    if !got.is_empty() || left.is_zero() {
                        return Ok(if got.is_empty() { json!({}) } else { json!({"Messages": got}) });
                    }
                    let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), arrived).await;
                }
            }
            "DeleteMessage" => {
                let r: Delete = parse(body)?;
                let name = self.name_of(&r.queue_url)?;
                let mut queues = self.queues.lock().unwrap();
                let q = queues.get_mut(&name).ok_or_else(SqsError::no_queue)?;
                let before = q.messages.len();
                q.messages.retain(|m| m.receipt.as_deref() != Some(r.receipt_handle.as_str()));
                if q.messages.len() == before && !r.receipt_handle.contains('#') {
                    return Err(SqsError::receipt(&r.receipt_handle));
                }
                Ok(json!({}))
            }
            "PurgeQueue" => {
                let r: ByUrl = parse(body)?;
                let name = self.name_of(&r.queue_url)?;
                self.queues.lock().unwrap().get_mut(&name).ok_or_else(SqsError::no_queue)?.messages.clear();
                Ok(json!({}))
            }
            "GetQueueAttributes" => {
                let r: ByUrl = parse(body)?;
                let name = self.name_of(&r.queue_url)?;
                let queues = self.queues.lock().unwrap();
                let q = queues.get(&name).ok_or_else(SqsError::no_queue)?;
                let now = Instant::now();
                let visible = q.messages.iter().filter(|m| m.invisible_until.is_none_or(|t| t <= now)).count();
                Ok(json!({"Attributes": {
                    "QueueArn": Self::arn(&name),
                    "ApproximateNumberOfMessages": visible.to_string(),
                    "ApproximateNumberOfMessagesNotVisible": (q.messages.len() - visible).to_string(),
                    "CreatedTimestamp": (millis(q.created).parse::<u128>().unwrap_or(0) / 1000).to_string(),
                    "VisibilityTimeout": DEFAULT_VISIBILITY.to_string(),
                    "MaximumMessageSize": MAX_MESSAGE_BYTES.to_string(),
                    "MessageRetentionPeriod": "1209600",
                }}))
            }
            other => Err(SqsError {
                code: "UnsupportedOperation",
                query_code: "AWS.SimpleQueueService.UnsupportedOperation",
                message: format!("{other} is not simulated"),
            }),
        }
    }
}

/// The JSON protocol response for `result`; errors carry the query protocol's code in
/// `x-amzn-query-error` as SQS sends it (`AWS.SimpleQueueService.NonExistentQueue;Sender`).
pub fn respond(result: Result<Value, SqsError>) -> Response<Full<Bytes>> {
    let builder = Response::builder()
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string());
    let (builder, body) = match result {
        Ok(v) => (builder.status(StatusCode::OK), v),
        Err(e) => (
            builder.status(StatusCode::BAD_REQUEST).header("x-amzn-query-error", format!("{};Sender", e.query_code)),
            json!({"__type": format!("com.amazonaws.sqs#{}", e.code), "message": e.message}),
        ),
    };
    builder.body(Full::new(Bytes::from(body.to_string()))).expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding the SQS developer guide describes ("Calculating the MD5 message digest for
    /// message attributes"), byte by byte: no AWS-computed digest was at hand to pin instead.
    #[test]
    fn attribute_digest_encodes_names_types_and_values_with_lengths() {
        let attrs = BTreeMap::from([("A".to_string(), Attribute::string("v"))]);
        let mut expect = Vec::new();
        expect.extend_from_slice(&[0, 0, 0, 1, b'A', 0, 0, 0, 6]);
        expect.extend_from_slice(b"String");
        expect.extend_from_slice(&[1, 0, 0, 0, 1, b'v']);
        assert_eq!(attributes_md5(&attrs), md5_hex(&expect));
    }

    #[tokio::test]
    async fn received_messages_hide_until_deleted_or_their_visibility_ends() {
        let q = Queues::new("http://127.0.0.1:1");
        q.create("dlq");
        let url = q.url("dlq");
        q.send("dlq", "{}".into(), BTreeMap::from([("K".into(), Attribute::string("v"))])).unwrap();
        let body = json!({"QueueUrl": url, "MessageAttributeNames": ["All"], "VisibilityTimeout": 0}).to_string();
        let got = q.handle("ReceiveMessage", body.as_bytes()).await.unwrap();
        assert_eq!(got["Messages"][0]["MessageAttributes"]["K"]["StringValue"], "v");
        let body = json!({"QueueUrl": url}).to_string();
        let got = q.handle("ReceiveMessage", body.as_bytes()).await.unwrap();
        let receipt = got["Messages"][0]["ReceiptHandle"].as_str().unwrap().to_string();
        assert_eq!(q.handle("ReceiveMessage", body.as_bytes()).await.unwrap(), json!({}), "invisible for 30 s");
        let del = json!({"QueueUrl": url, "ReceiptHandle": receipt}).to_string();
        q.handle("DeleteMessage", del.as_bytes()).await.unwrap();
        let missing = json!({"QueueUrl": q.url("nope")}).to_string();
        assert_eq!(q.handle("ReceiveMessage", missing.as_bytes()).await.unwrap_err().code, "QueueDoesNotExist");
    }
}
