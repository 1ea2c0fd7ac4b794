//! The Lambda Runtime API one function instance polls: `/2018-06-01/runtime/invocation/next`,
//! `/response`, `/error` and `/init/error`, with the headers `lambda_runtime` requires.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};

/// One invocation handed to the runtime.
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// Event document.
    pub payload: Bytes,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline_ms: i64,
    /// Where the runtime's answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// What the runtime answered.
pub enum Reply {
    /// `/response`.
    Success(Bytes),
    /// `/error` or `/init/error`.
    Error {
        /// The `errorType` (or the `Lambda-Runtime-Function-Error-Type` header).
        error_type: String,
        /// The error document.
        body: Bytes,
    },
}

/// The Runtime API endpoint of one instance.
pub struct RuntimeApi {
    addr: SocketAddr,
    queue: mpsc::Sender<Invocation>,
}

struct State {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    function_arn: String,
}

impl RuntimeApi {
    /// Listens on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(1);
        let state = Arc::new(State {
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            function_arn: String::new(),
        });
        let queue_closed = tx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let state = state.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    _ = queue_closed.closed() => break,
                }
            }
        });
        Ok(Arc::new(Self { addr, queue: tx }))
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an invocation for the runtime's next `/next`.
    pub async fn submit(&self, invocation: Invocation) -> Result<(), ()> {
        self.queue.send(invocation).await.map_err(|_| ())
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder().status(status).body(Full::new(Bytes::from_static(body.as_bytes()))).expect("valid")
}

fn error_type(headers: &http::HeaderMap, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType").and_then(|t| t.as_str()).map(str::to_string))
        .or_else(|| headers.get("lambda-runtime-function-error-type").and_then(|h| h.to_str().ok()).map(str::to_string))
        .unwrap_or_else(|| "Unhandled".into())
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let rest = path.strip_prefix("/2018-06-01/runtime/").unwrap_or("");
    if rest == "invocation/next" {
        let next = state.queue.lock().await.recv().await;
        let Some(inv) = next else { return Ok(reply(StatusCode::GONE, "shutting down")) };
        state.pending.lock().unwrap().insert(inv.request_id.clone(), inv.reply);
        let resp = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &inv.request_id)
            .header("lambda-runtime-deadline-ms", inv.deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &state.function_arn)
            .header(
                "lambda-runtime-trace-id",
                format!(
                    "Root=1-{:08x}-{}",
                    crate::logs::now_millis() / 1000,
                    &uuid::Uuid::new_v4().simple().to_string()[..24]
                ),
            )
            .body(Full::new(inv.payload))
            .expect("valid headers");
        return Ok(resp);
    }
    if rest == "init/error" {
        let pending: Vec<_> = state.pending.lock().unwrap().drain().collect();
        for (_, tx) in pending {
            let _ = tx.send(Reply::Error { error_type: error_type(&headers, &body), body: body.clone() });
        }
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    if let Some(id_action) = rest.strip_prefix("invocation/")
        && let Some((id, action)) = id_action.split_once('/')
    {
        let Some(tx) = state.pending.lock().unwrap().remove(id) else {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                r#"{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}"#,
            ));
        };
        let r = match action {
            "response" => Reply::Success(body),
            "error" => Reply::Error { error_type: error_type(&headers, &body), body },
            _ => return Ok(reply(StatusCode::NOT_FOUND, "not found")),
        };
        let _ = tx.send(r);
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    Ok(reply(StatusCode::NOT_FOUND, "not found"))
}
