//! DynamoDB: `dynoxide` on its own loopback port (the gateway forwards to it).

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::countdown::{Countdown, Counted};
use crate::states::TaskFailure;

/// An error DynamoDB answers under load or failure, as its JSON protocol sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
pub enum FaultError {
    /// 400: a provisioned table's capacity exceeded (retried by the SDKs).
    ProvisionedThroughputExceededException,
    /// 400: an on-demand table scaling up (retried by the SDKs).
    ThrottlingException,
    /// 400: the account's throughput limit (retried by SDKs in standard mode).
    RequestLimitExceeded,
    /// 500: DynamoDB could not process the request (retried).
    InternalServerError,
}

impl FaultError {
    /// Status, `__type` and message as DynamoDB sends them. The messages are those real
    /// DynamoDB returns (quoted in apache/hadoop#1814 and praetorian-inc/chariot-ui#684), not
    /// the API reference's summaries; ThrottlingException comes from a different namespace.
    fn wire(self) -> (http::StatusCode, &'static str, &'static str) {
        use http::StatusCode;
        match self {
            Self::ProvisionedThroughputExceededException => (
                StatusCode::BAD_REQUEST,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. Consider increasing your \
                 provisioning level with the UpdateTable API.",
            ),
            Self::ThrottlingException => (
                StatusCode::BAD_REQUEST,
                "com.amazon.coral.availability#ThrottlingException",
                "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your \
                 table or index so please try again shortly. If exceptions persist, check if you have a hot key: \
                 https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
            ),
            Self::RequestLimitExceeded => (
                StatusCode::BAD_REQUEST,
                "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded",
                "Throughput exceeds the current throughput limit for your account. Please contact AWS Support at \
                 https://aws.amazon.com/support request a limit increase",
            ),
            Self::InternalServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "Internal server error",
            ),
        }
    }

    /// The response DynamoDB sends.
    pub fn response(self) -> http::Response<Full<Bytes>> {
        let (status, kind, message) = self.wire();
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string())
            .body(Full::new(Bytes::from(json!({"__type": kind, "message": message}).to_string())))
            .expect("static headers are valid")
    }
}

/// A fault on requests that reach DynamoDB through the gateway (the copy function's; the state
/// machine's integration goes to the table directly).
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DynamoDbFault")]
pub struct Fault {
    /// DynamoDB operation (`UpdateItem`, `PutItem`, `GetItem`, ...).
    pub operation: String,
    /// Only requests whose body contains this text (an object key).
    #[serde(default)]
    pub key_contains: Option<String>,
    /// What DynamoDB answers.
    pub error: FaultError,
    /// How many matching requests it affects (all when absent).
    #[serde(default)]
    pub times: Option<u32>,
}

/// The DynamoDB faults in force.
#[derive(Debug, Default)]
pub struct Faults(Countdown<Fault>);

impl Counted for Fault {
    fn times(&mut self) -> &mut Option<u32> {
        &mut self.times
    }
}

impl Faults {
    /// Faults from a list.
    pub fn new(faults: Vec<Fault>) -> Self {
        Self(Countdown::new(faults))
    }

    /// The error a request meets, if any (counting it).
    pub fn take(&self, operation: &str, body: &[u8]) -> Option<FaultError> {
        let text = String::from_utf8_lossy(body);
        let fired =
            self.0.fire(|f| f.operation == operation && f.key_contains.as_deref().is_none_or(|k| text.contains(k)));
        fired.map(|f| f.error)
    }
}

/// Why the metadata table could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// DynamoDB did not answer.
    #[error("dynamodb: {0}")]
    Unreachable(#[from] crate::json_protocol::ForwardError),
    /// It refused.
    #[error("dynamodb CreateTable {table}: {status} {body}")]
    Refused {
        /// The table.
        table: String,
        /// Its HTTP status.
        status: http::StatusCode,
        /// Its answer.
        body: String,
    },
}

fn request(addr: SocketAddr, target: &str, body: String) -> Request<Full<Bytes>> {
    Request::post("/")
        .header("host", addr.to_string())
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{target}"))
        .header("x-amz-date", "20260101T000000Z")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                crate::ACCESS_KEY_ID,
                crate::REGION
            ),
        )
        .body(Full::new(Bytes::from(body)))
        // Every part is a fixed, valid header: the builder cannot fail.
        .expect("a valid DynamoDB request")
}

/// Runs a Step Functions DynamoDB integration (`arn:aws:states:::dynamodb:updateItem`, ...):
/// the Task's parameters are the API request; errors are named `DynamoDB.<Exception>`.
pub async fn call(addr: SocketAddr, action: &str, params: serde_json::Value) -> Result<serde_json::Value, TaskFailure> {
    let req = request(addr, action, params.to_string());
    let resp = crate::json_protocol::forward(addr, req)
        .await
        .map_err(|e| TaskFailure::new("DynamoDB.AmazonDynamoDBException", e.to_string()))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let kind = value["__type"].as_str().unwrap_or("AmazonDynamoDBException");
    let kind = kind.rsplit('#').next().unwrap_or(kind);
    let message = value["message"].as_str().or(value["Message"].as_str()).unwrap_or("");
    Err(TaskFailure::new(
        format!("DynamoDB.{kind}"),
        format!("{message} (Service: AmazonDynamoDBv2; Status Code: {}; Error Code: {kind})", status.as_u16()),
    ))
}

/// Creates the metadata table (`file_id` hash key, on demand) through the DynamoDB API.
pub async fn create_metadata_table(addr: SocketAddr, table: &str) -> Result<(), TableError> {
    let body = json!({
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "file_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "file_id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    let req = request(addr, "CreateTable", body.to_string());
    let resp = crate::json_protocol::forward(addr, req).await?;
    let status = resp.status();
    let text = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    // A table kept from an earlier run (`--data-dir`) is the one wanted.
    if !status.is_success() && !String::from_utf8_lossy(&text).contains("ResourceInUseException") {
        return Err(TableError::Refused { table: table.into(), status, body: String::from_utf8_lossy(&text).into() });
    }
    Ok(())
}
