//! DynamoDB: `dynoxide` on its own loopback port (the gateway forwards to it).

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::states::TaskFailure;

fn request(addr: SocketAddr, target: &str, body: String) -> Result<Request<Full<Bytes>>, String> {
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
        .map_err(|e| e.to_string())
}

/// Runs a Step Functions DynamoDB integration (`arn:aws:states:::dynamodb:updateItem`, ...):
/// the Task's parameters are the API request; errors are named `DynamoDB.<Exception>`.
pub async fn call(addr: SocketAddr, action: &str, params: serde_json::Value) -> Result<serde_json::Value, TaskFailure> {
    let req = request(addr, action, params.to_string()).map_err(|e| TaskFailure::new("States.Runtime", e))?;
    let resp = crate::gateway::forward(addr, req)
        .await
        .map_err(|e| TaskFailure::new("DynamoDB.AmazonDynamoDBException", e))?;
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
pub async fn create_metadata_table(addr: SocketAddr, table: &str) -> Result<(), String> {
    let body = json!({
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "file_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "file_id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    let req = request(addr, "CreateTable", body.to_string())?;
    let resp = crate::gateway::forward(addr, req).await.map_err(|e| format!("dynamodb: {e}"))?;
    let status = resp.status();
    let text = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if !status.is_success() {
        return Err(format!("dynamodb CreateTable {table}: {status} {}", String::from_utf8_lossy(&text)));
    }
    Ok(())
}
