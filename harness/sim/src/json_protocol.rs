//! The AWS JSON protocol (awsJson1_0 / awsJson1_1) that Step Functions, Logs and DynamoDB speak:
//! POST `/`, the operation in `X-Amz-Target`, errors as `{"__type", "message"}`.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde::Serialize;

/// Why a request to a service on its own port got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("{addr}: {source}")]
    Http {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: hyper::Error,
    },
}

/// Sends one request to the service at `addr` (dynoxide's DynamoDB, behind the gateway and the
/// state machine's integration) over a fresh HTTP/1 connection.
pub async fn forward(addr: SocketAddr, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, ForwardError> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|source| ForwardError::Connect { addr, source })?;
    let http = |source| ForwardError::Http { addr, source };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(http)?;
    tokio::spawn(conn);
    sender.send_request(req).await.map_err(http)
}

/// A service error as the SDKs parse it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Error shape name (`ExecutionDoesNotExist`, `ResourceNotFoundException`, ...).
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
    /// HTTP status.
    pub status: StatusCode,
}

impl ApiError {
    /// A 400 error with the given shape name.
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: StatusCode::BAD_REQUEST }
    }

    /// The request body could not be parsed into the operation's input.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::client("ValidationException", message)
    }
}

/// Parses the operation input, mapping serde errors to a validation error.
pub fn parse_input<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| ApiError::validation(e.to_string()))
}

/// Serializes an operation's output.
pub fn to_output<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError {
        code: "InternalFailure",
        message: e.to_string(),
        status: StatusCode::INTERNAL_SERVER_ERROR,
    })
}

/// Builds the HTTP response for an operation's result.
pub fn respond(content_type: &'static str, result: Result<serde_json::Value, ApiError>) -> Response<Full<Bytes>> {
    let (status, body, error_type) = match result {
        Ok(v) => (StatusCode::OK, v, None),
        Err(e) => (e.status, serde_json::json!({"__type": e.code, "message": e.message}), Some(e.code)),
    };
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string());
    if let Some(t) = error_type {
        builder = builder.header("x-amzn-errortype", t);
    }
    builder.body(Full::new(Bytes::from(body.to_string()))).expect("static headers are valid")
}
