//! The links between the simulated services, each a named function: follow an upload from
//! here without a debugger.
//!
//! ```text
//! SFTP server --S3 client--> S3 store --[s3_announces_to_bus]--> event bus
//!   --rule + input transformer--> [rule_starts_execution] --> Step Functions
//!   --Task--> [task_invoker] --> Lambda (the copy function) | DynamoDB (the Catch's record)
//! ```
//!
//! Each link carries the breaks and faults of the stage it joins (for the harness's own tests),
//! so that a broken stage is broken where the real one would be.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{breaks, dynamodb, events, lambda, s3, states};

/// S3 -> EventBridge: every "Object Created" notice the store (or the SFTP server, in front of
/// an external S3) hands over becomes the event S3 sends to the default bus, until `stop`.
pub fn s3_announces_to_bus(
    mut notices: UnboundedReceiver<s3::ObjectCreated>,
    bus: Arc<events::EventBus>,
    stop: CancellationToken,
) {
    tokio::spawn(
        async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    notice = notices.recv() => match notice {
                        Some(notice) => bus.publish(events::object_created_event(&notice)),
                        None => break,
                    },
                }
            }
        }
        .in_current_span(),
    );
}

/// EventBridge -> Step Functions: the rule's target, which starts an execution of `target_arn`
/// (`arn#TestCase` under Step Functions Local's mocks) with the transformed event as input.
/// `faults` refuse deliveries as a throttled or missing target would; the `NoExecution` break
/// takes deliveries and starts nothing.
pub fn rule_starts_execution(
    sfn: states::StepFunctions,
    target_arn: String,
    faults: Vec<events::TargetFault>,
    breaks: &breaks::Breaks,
) -> events::Target {
    let no_execution = breaks.has(breaks::Break::NoExecution);
    let faults = Arc::new(events::TargetFaults::new(faults));
    Arc::new(move |input: String| {
        let sfn = sfn.clone();
        let arn = target_arn.clone();
        let faults = faults.clone();
        Box::pin(async move {
            if no_execution {
                return Ok(());
            }
            if let Some(refused) = faults.take(&input, &arn) {
                return Err(refused);
            }
            sfn.start_execution(&arn, None, Some(input))
                .map(|_| ())
                .map_err(|e| events::TargetError::from_start_execution(&e))
        })
    })
}

/// Step Functions -> Lambda and DynamoDB: a Task's function ARN invokes the function; its
/// DynamoDB integration (the Catch's record) calls the table at `table`. The
/// `DropRecordUpload` break answers the record's PutItem without writing it.
pub fn task_invoker(lambda: lambda::LambdaService, table: SocketAddr, breaks: &breaks::Breaks) -> states::TaskInvoker {
    let drop_record_upload = breaks.has(breaks::Break::DropRecordUpload);
    Arc::new(move |target, payload| {
        let lambda = lambda.clone();
        Box::pin(async move {
            match target {
                states::TaskTarget::Lambda(function) => lambda.invoke(&function, payload).await,
                states::TaskTarget::DynamoDb(action) if drop_record_upload && action == "PutItem" => {
                    Ok(serde_json::json!({}))
                }
                states::TaskTarget::DynamoDb(action) => dynamodb::call(table, &action, payload).await,
            }
        })
    })
}
