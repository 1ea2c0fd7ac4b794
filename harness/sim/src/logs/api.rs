//! The Logs JSON API (`Logs_20140328.*`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{FilterPattern, LogStore};
use crate::json_protocol::{ApiError, parse_input};

fn not_found(what: &str) -> ApiError {
    ApiError::client("ResourceNotFoundException", format!("The specified {what} does not exist."))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInput {
    log_group_name: String,
    #[serde(default)]
    log_stream_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutInput {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputEvent>,
}

#[derive(Deserialize)]
struct InputEvent {
    timestamp: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeGroupsInput {
    #[serde(default)]
    log_group_name_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeStreamsInput {
    #[serde(default)]
    log_group_name: Option<String>,
    #[serde(default)]
    log_group_identifier: Option<String>,
    #[serde(default)]
    log_stream_name_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetEventsInput {
    #[serde(default)]
    log_group_name: Option<String>,
    #[serde(default)]
    log_group_identifier: Option<String>,
    log_stream_name: String,
    #[serde(default)]
    start_time: Option<i64>,
    #[serde(default)]
    end_time: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    start_from_head: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterInput {
    #[serde(default)]
    log_group_name: Option<String>,
    #[serde(default)]
    log_group_identifier: Option<String>,
    #[serde(default)]
    log_stream_names: Option<Vec<String>>,
    #[serde(default)]
    log_stream_name_prefix: Option<String>,
    #[serde(default)]
    filter_pattern: Option<String>,
    #[serde(default)]
    start_time: Option<i64>,
    #[serde(default)]
    end_time: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

fn group_name(name: Option<String>, identifier: Option<String>) -> Result<String, ApiError> {
    name.or(identifier).ok_or_else(|| ApiError::client("InvalidParameterException", "logGroupName is required"))
}

fn in_window(ts: i64, start: Option<i64>, end: Option<i64>) -> bool {
    start.is_none_or(|s| ts >= s) && end.is_none_or(|e| ts < e)
}

/// PutLogEvents' batch rules, as the API reference states them: at most 10,000 events, at most
/// 1,048,576 bytes counting each message's UTF-8 plus 26 bytes per event, in chronological
/// order. AWS's message for the order rule is quoted from a real response
/// (dibog/cloudwatch-logback-appender#17); the others name the documented limit.
fn check_batch(events: &[InputEvent]) -> Result<(), ApiError> {
    const MAX_EVENTS: usize = 10_000;
    const MAX_BATCH: usize = 1_048_576;
    const OVERHEAD: usize = 26;
    if events.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if events.len() > MAX_EVENTS {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to {MAX_EVENTS}"
        )));
    }
    let size: usize = events.iter().map(|e| e.message.len() + OVERHEAD).sum();
    if size > MAX_BATCH {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!(
                "Upload too large: {size} bytes exceeds the limit of {MAX_BATCH} bytes (each event counts 26 bytes more than its message)"
            ),
        ));
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(ApiError::client(
            "InvalidParameterException",
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    Ok(())
}

/// Runs one Logs operation.
pub fn handle(store: &LogStore, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
    match operation {
        "CreateLogGroup" => {
            let input: GroupInput = parse_input(body)?;
            if store.has_group(&input.log_group_name) {
                return Err(ApiError::client(
                    "ResourceAlreadyExistsException",
                    "The specified log group already exists",
                ));
            }
            store.ensure_group(&input.log_group_name);
            Ok(json!({}))
        }
        "CreateLogStream" => {
            let input: GroupInput = parse_input(body)?;
            if !store.has_group(&input.log_group_name) {
                return Err(not_found("log group"));
            }
            let stream = input.log_stream_name.ok_or_else(|| ApiError::validation("logStreamName is required"))?;
            store.ensure_stream(&input.log_group_name, &stream);
            Ok(json!({}))
        }
        "PutLogEvents" => {
            let input: PutInput = parse_input(body)?;
            if store.events(&input.log_group_name, &input.log_stream_name).is_none() {
                return Err(not_found("log stream"));
            }
            check_batch(&input.log_events)?;
            for e in input.log_events {
                store.put_at(&input.log_group_name, &input.log_stream_name, e.timestamp, e.message);
            }
            Ok(json!({}))
        }
        "DescribeLogGroups" => {
            let input: DescribeGroupsInput = parse_input(body)?;
            let groups: Vec<Value> = store
                .groups(input.log_group_name_prefix.as_deref().unwrap_or(""))
                .into_iter()
                .map(|(name, created)| {
                    json!({
                        "logGroupName": name,
                        "creationTime": created,
                        "arn": format!("arn:aws:logs:{}:{}:log-group:{name}:*", crate::REGION, crate::ACCOUNT_ID),
                        "storedBytes": 0
                    })
                })
                .collect();
            Ok(json!({ "logGroups": groups }))
        }
        "DescribeLogStreams" => {
            let input: DescribeStreamsInput = parse_input(body)?;
            let group = group_name(input.log_group_name, input.log_group_identifier)?;
            let streams = store
                .streams(&group, input.log_stream_name_prefix.as_deref().unwrap_or(""))
                .ok_or_else(|| not_found("log group"))?;
            let streams: Vec<Value> = streams
                .into_iter()
                .map(|s| {
                    json!({
                        "logStreamName": s.name,
                        "creationTime": s.created,
                        "firstEventTimestamp": s.first,
                        "lastEventTimestamp": s.last,
                        "arn": format!("arn:aws:logs:{}:{}:log-group:{group}:log-stream:{}", crate::REGION, crate::ACCOUNT_ID, s.name),
                    })
                })
                .collect();
            Ok(json!({ "logStreams": streams }))
        }
        "GetLogEvents" => {
            let input: GetEventsInput = parse_input(body)?;
            let group = group_name(input.log_group_name, input.log_group_identifier)?;
            let events = store.events(&group, &input.log_stream_name).ok_or_else(|| not_found("log stream"))?;
            let mut events: Vec<_> =
                events.into_iter().filter(|e| in_window(e.timestamp, input.start_time, input.end_time)).collect();
            let limit = input.limit.unwrap_or(10_000);
            if events.len() > limit {
                if input.start_from_head.unwrap_or(false) {
                    events.truncate(limit);
                } else {
                    events.drain(..events.len() - limit);
                }
            }
            Ok(json!({
                "events": events,
                "nextForwardToken": "f/end",
                "nextBackwardToken": "b/start",
            }))
        }
        "FilterLogEvents" => {
            let input: FilterInput = parse_input(body)?;
            let group = group_name(input.log_group_name, input.log_group_identifier)?;
            let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or(""))?;
            let all = store.all_events(&group).ok_or_else(|| not_found("log group"))?;
            let limit = input.limit.unwrap_or(10_000);
            let events: Vec<Value> = all
                .into_iter()
                .filter(|(stream, _)| input.log_stream_names.as_ref().is_none_or(|names| names.contains(stream)))
                .filter(|(stream, _)| {
                    input.log_stream_name_prefix.as_ref().is_none_or(|p| stream.starts_with(p.as_str()))
                })
                .filter(|(_, e)| in_window(e.timestamp, input.start_time, input.end_time))
                .filter(|(_, e)| pattern.matches(&e.message))
                .take(limit)
                .enumerate()
                .map(|(i, (stream, e))| {
                    json!({
                        "logStreamName": stream,
                        "timestamp": e.timestamp,
                        "message": e.message,
                        "ingestionTime": e.ingestion_time,
                        "eventId": format!("{:056}", i),
                    })
                })
                .collect();
            Ok(json!({ "events": events, "searchedLogStreams": [] }))
        }
        other => Err(ApiError::client(
            "UnknownOperationException",
            format!("Logs operation {other} is not supported by the simulator"),
        )),
    }
}
