//! The copy function: copies a partner's uploaded object from the source bucket to the
//! destination bucket and keeps its per-file record in DynamoDB.
//!
//! The library holds everything; `bin/bootstrap.rs` only wires it to `lambda_runtime`, so the
//! harness can run the same loop the deployed function runs.

pub mod config;
pub mod copy;
pub mod deadline;
pub mod event;
pub mod handler;
pub mod http;
pub mod keys;
pub mod metadata;
pub mod plan;

pub use config::Config;
pub use event::{CopyOutput, Delivery, TransferRequest};
pub use handler::{Handler, HandlerError};

/// Runs the Lambda Runtime API loop with clients built from the environment.
///
/// This is the function's `main`: the harness starts it in a child process with the same
/// environment variables AWS sets, so the simulator exercises the deployed code path.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http::client()).load().await;
    let handler = Handler::new(&aws, config);
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let deadline = deadline::Deadline::from_epoch_ms(event.context.deadline);
            handler.handle(event.payload, &event.context.request_id, deadline).await
        },
    ))
    .await
}

/// Installs the JSON log format the function writes to CloudWatch (one object per line).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .init();
}
