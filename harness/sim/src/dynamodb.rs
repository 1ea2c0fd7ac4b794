//! DynamoDB: `dynoxide` on its own loopback port (the gateway forwards to it).

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::json;

/// Creates the metadata table (`file_id` hash key, on demand) through the DynamoDB API.
pub async fn create_metadata_table(addr: SocketAddr, table: &str) -> Result<(), String> {
    let body = json!({
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "file_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "file_id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    let req = Request::post("/")
        .header("host", addr.to_string())
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.CreateTable")
        .header("x-amz-date", "20260101T000000Z")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                crate::ACCESS_KEY_ID,
                crate::REGION
            ),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = crate::gateway::forward(addr, req).await.map_err(|e| format!("dynamodb: {e}"))?;
    let status = resp.status();
    let text = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if !status.is_success() {
        return Err(format!("dynamodb CreateTable {table}: {status} {}", String::from_utf8_lossy(&text)));
    }
    Ok(())
}
