//! One HTTP port for every AWS API of the simulator, routed like LocalStack's edge port: JSON
//! protocol requests by their `X-Amz-Target`, everything else to S3.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::json_protocol;
use crate::logs::LogStore;
use crate::states::StepFunctions;

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The most a JSON-protocol request body may hold, per service, its content type, and where the
/// figure comes from. Bodies are read whole, so hostile ones must not grow without bound.
fn body_limit(service: &str) -> (usize, &'static str, &'static str) {
    const MIB: usize = 1024 * 1024;
    match service {
        // "Maximum request size: 1 MB per request ... including the request header" (Step
        // Functions service quotas, hard quota); AWS does not document the error's name.
        "AWSStepFunctions" => (MIB, "application/x-amz-json-1.0", "Step Functions' quota: 1 MB per request"),
        // PutLogEvents takes 1,048,576 bytes of messages (plus 26 per event); JSON escaping can
        // make that up to six times longer on the wire.
        "Logs_20140328" => {
            (8 * MIB, "application/x-amz-json-1.1", "six times PutLogEvents' 1,048,576-byte batch, for JSON escaping")
        }
        // SQS: a 256 KiB message, JSON-escaped.
        "AmazonSQS" => (MIB, "application/x-amz-json-1.0", "four times SQS's 256 KiB message"),
        // AWS documents no body limit for DynamoDB; BatchWriteItem carries up to 16 MB of items.
        "DynamoDB_20120810" => (64 * MIB, "application/x-amz-json-1.0", "four times BatchWriteItem's 16 MB of items"),
        _ => (MIB, "application/x-amz-json-1.1", "an unknown service"),
    }
}

/// What the gateway routes to.
pub struct Routes {
    /// S3 service.
    pub s3: s3s::service::S3Service,
    /// Step Functions.
    pub sfn: StepFunctions,
    /// Logs.
    pub logs: Arc<LogStore>,
    /// DynamoDB (dynoxide) address.
    pub dynamodb: SocketAddr,
    /// Faults on the DynamoDB requests the gateway forwards.
    pub dynamodb_faults: Arc<crate::dynamodb::Faults>,
    /// SQS queues.
    pub sqs: Arc<crate::sqs::Queues>,
    /// The `wrong-status` break: the function's `transferred` is stored as `skipped`.
    pub wrong_status: bool,
    /// The simulator's clock: a request is work in flight on it; `/_sim/clock` reads and moves it.
    pub clock: crate::clock::Clock,
}

/// The control endpoint: `GET /_sim/clock` tells the clock's mode and time, `POST
/// /_sim/clock?advance=SECONDS` moves a virtual clock forward. S3 bucket names cannot start
/// with `_`, so the path takes nothing from S3.
fn clock_control(clock: &crate::clock::Clock, method: &hyper::Method, query: Option<&str>) -> Response<Body> {
    let reply = |status: StatusCode, body: serde_json::Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(full(body.to_string()))
            .expect("valid")
    };
    let state = |clock: &crate::clock::Clock| {
        serde_json::json!({
            "mode": format!("{:?}", clock.mode()),
            "now": clock.iso_now(),
            "now_ms": clock.now_millis(),
            "ahead_ms": clock.ahead().as_millis() as u64,
        })
    };
    if method == hyper::Method::GET {
        return reply(StatusCode::OK, state(clock));
    }
    let advance = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("advance="))
        .map(|v| v.parse::<f64>().ok().and_then(|s| std::time::Duration::try_from_secs_f64(s).ok()));
    match advance {
        Some(Some(by)) => match clock.advance(by) {
            Ok(_) => reply(StatusCode::OK, state(clock)),
            Err(e) => reply(StatusCode::CONFLICT, serde_json::json!({"message": e.to_string()})),
        },
        _ => reply(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"message": "POST /_sim/clock?advance=SECONDS with a non-negative number of seconds"}),
        ),
    }
}

/// The `wrong-status` break applied to an UpdateItem body.
fn misrecord(body: Bytes) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else { return body };
    let to = &mut v["ExpressionAttributeValues"][":to"];
    if to["S"] == "transferred" {
        *to = serde_json::json!({"S": "skipped"});
    }
    Bytes::from(v.to_string())
}

/// S3's answer to a body shorter than its Content-Length.
fn incomplete_body() -> Response<Body> {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>IncompleteBody</Code><Message>You did not provide \
               the number of bytes specified by the Content-Length HTTP header</Message></Error>";
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(full(xml))
        .expect("valid")
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|e| match e {}).boxed()
}

async fn route(
    routes: Arc<Routes>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let busy = routes.clock.busy();
    if req.uri().path() == "/_sim/clock" {
        return Ok(clock_control(&routes.clock, req.method(), req.uri().query()));
    }
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(target) = target else {
        req.extensions_mut().insert(peer);
        // A body that ends before its Content-Length: S3 names that IncompleteBody, where s3s
        // (reading an XML body) would answer InternalError.
        let cut_short = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = cut_short.clone();
        let req = req.map(move |b| {
            s3s::Body::http_body(b.map_err(move |e| {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                e
            }))
        });
        return Ok(match routes.s3.call(req).await {
            Ok(resp) if cut_short.load(std::sync::atomic::Ordering::Relaxed) && resp.status().is_server_error() => {
                incomplete_body()
            }
            Ok(resp) => resp.map(|b| b.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e }).boxed()),
            Err(e) => Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(full(format!("{e:?}")))
                .expect("valid"),
        });
    };
    let (parts, body) = req.into_parts();
    let (service, operation) = target.split_once('.').unwrap_or((&target, ""));
    let (limit, content_type, error) = body_limit(service);
    let body = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_large = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            let message = if too_large {
                format!("the request body is over {limit} bytes, {service}'s limit in the simulator ({error})")
            } else {
                format!("reading the request body: {e}")
            };
            let code = if too_large { "ValidationException" } else { "SerializationException" };
            let resp = json_protocol::respond(content_type, Err(json_protocol::ApiError::client(code, message)));
            return Ok(resp.map(|b| b.map_err(|e| match e {}).boxed()));
        }
    };
    let resp = match service {
        // TestState may call a task's service, so it is the one Step Functions call that waits.
        "AWSStepFunctions" if operation == "TestState" => {
            json_protocol::respond("application/x-amz-json-1.0", crate::states::test_state(&routes.sfn, &body).await)
        }
        "AWSStepFunctions" => json_protocol::respond(
            "application/x-amz-json-1.0",
            crate::states::handle_api(&routes.sfn, operation, &body),
        ),
        "AmazonSQS" => {
            // A long poll waits for a message: time the simulator may jump over.
            if operation == "ReceiveMessage" {
                drop(busy);
            }
            crate::sqs::respond(routes.sqs.handle(operation, &body).await)
        }
        "Logs_20140328" => json_protocol::respond(
            "application/x-amz-json-1.1",
            crate::logs::handle_api(&routes.logs, operation, &body),
        ),
        "DynamoDB_20120810" => {
            if let Some(error) = routes.dynamodb_faults.take(operation, &body) {
                tracing::info!(operation, ?error, "dynamodb fault");
                return Ok(error.response().map(|b| b.map_err(|e| match e {}).boxed()));
            }
            let body = if routes.wrong_status && operation == "UpdateItem" { misrecord(body) } else { body };
            let mut fwd = Request::from_parts(parts, Full::new(body));
            fwd.headers_mut().remove(http::header::HOST);
            fwd.headers_mut().remove(http::header::CONTENT_LENGTH);
            return Ok(match json_protocol::forward(routes.dynamodb, fwd).await {
                Ok(r) => r.map(|b| b.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) }).boxed()),
                Err(e) => Response::builder().status(StatusCode::BAD_GATEWAY).body(full(e.to_string())).expect("valid"),
            });
        }
        other => json_protocol::respond(
            "application/x-amz-json-1.1",
            Err(json_protocol::ApiError::client(
                "UnknownOperationException",
                format!("service {other} is not simulated"),
            )),
        ),
    };
    Ok(resp.map(|b| b.map_err(|e| match e {}).boxed()))
}

/// Serves the gateway until `stop` is cancelled.
pub async fn serve(listener: TcpListener, routes: Arc<Routes>, stop: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
        };
        tokio::spawn(serve_connection(stream, routes.clone(), peer, stop.clone()));
    }
}

/// Serves the HTTP/1 requests of one connection (any byte stream) until it closes, or until
/// `stop`: then the request in hand is answered and the connection closed (a kept-alive
/// connection must not reach a simulator that has stopped).
pub async fn serve_connection<S>(stream: S, routes: Arc<Routes>, peer: SocketAddr, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| route(routes.clone(), peer, req));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Routes whose S3 takes unsigned requests, over a fresh store with one bucket.
    fn unsigned_routes() -> Arc<Routes> {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let store = Arc::new(crate::s3::S3Store::new(tx).unwrap());
        store.create_bucket_with("source", Default::default()).unwrap();
        let faults = Arc::new(crate::s3::Faults::default());
        let invoker: crate::states::TaskInvoker = Arc::new(|_, p| Box::pin(async move { Ok(p) }));
        Arc::new(Routes {
            s3: s3s::service::S3ServiceBuilder::new(crate::s3::S3Frontend::new(store, faults)).build(),
            sfn: StepFunctions::new(invoker, Default::default()),
            logs: Arc::default(),
            dynamodb: "127.0.0.1:9".parse().unwrap(),
            dynamodb_faults: Arc::default(),
            sqs: Arc::new(crate::sqs::Queues::new("http://127.0.0.1:1")),
            wrong_status: false,
            clock: Default::default(),
        })
    }

    /// From the s3_requests fuzz target: an XML body that ends before its Content-Length got
    /// s3s's InternalError (500); S3 answers IncompleteBody (400).
    #[tokio::test]
    async fn a_body_shorter_than_its_length_is_incomplete_not_an_internal_error() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let served = tokio::spawn(serve_connection(
            server,
            unsigned_routes(),
            "127.0.0.1:1".parse().unwrap(),
            Default::default(),
        ));
        let request = "POST /source?delete HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n\
                       Content-Length: 96\r\n\r\n<Delete><Object><Key>a.csv</Key>";
        client.write_all(request.as_bytes()).await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        served.await.unwrap();
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");
        assert!(out.contains("<Code>IncompleteBody</Code>"), "{out}");
    }
}
