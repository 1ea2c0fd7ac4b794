//! The Step Functions JSON API (`AWSStepFunctions.*`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::history::Execution;
use super::service::{StepFunctions, epoch};
use crate::json_protocol::{ApiError, parse_input};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    name: String,
    definition: String,
    #[serde(default)]
    role_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartInput {
    state_machine_arn: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionInput {
    execution_arn: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    reverse_order: Option<bool>,
    #[serde(default)]
    max_results: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    #[serde(default)]
    state_machine_arn: Option<String>,
    #[serde(default)]
    status_filter: Option<String>,
    #[serde(default)]
    max_results: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MachineInput {
    state_machine_arn: String,
}

fn describe(e: &Execution) -> Value {
    let mut v = json!({
        "executionArn": e.arn,
        "stateMachineArn": e.machine_arn,
        "name": e.name,
        "status": e.status.as_str(),
        "startDate": epoch(e.start),
        "input": e.input,
        "inputDetails": {"included": true},
    });
    if let Some(stop) = e.stop {
        v["stopDate"] = json!(epoch(stop));
    }
    if let Some(o) = &e.output {
        v["output"] = json!(o);
        v["outputDetails"] = json!({"included": true});
    }
    if let Some(err) = &e.error {
        v["error"] = json!(err);
    }
    if let Some(c) = &e.cause {
        v["cause"] = json!(c);
    }
    v
}

/// Runs one Step Functions operation.
pub fn handle(sfn: &StepFunctions, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
    match operation {
        "CreateStateMachine" => {
            let input: CreateInput = parse_input(body)?;
            let arn = sfn.create_state_machine(&input.name, &input.definition, &input.role_arn)?;
            Ok(json!({"stateMachineArn": arn, "creationDate": epoch(std::time::SystemTime::now())}))
        }
        "ListStateMachines" => {
            let machines: Vec<Value> = sfn
                .machines()
                .into_iter()
                .map(|(arn, name, created)| json!({"stateMachineArn": arn, "name": name, "type": "STANDARD", "creationDate": created}))
                .collect();
            Ok(json!({"stateMachines": machines}))
        }
        "DescribeStateMachine" => {
            let input: MachineInput = parse_input(body)?;
            let (name, definition, role, created) = sfn.machine(&input.state_machine_arn)?;
            Ok(
                json!({"stateMachineArn": input.state_machine_arn, "name": name, "status": "ACTIVE", "definition": definition,
                "roleArn": role, "type": "STANDARD", "creationDate": created}),
            )
        }
        "StartExecution" => {
            let input: StartInput = parse_input(body)?;
            let (arn, start) = sfn.start_execution(&input.state_machine_arn, input.name, input.input)?;
            Ok(json!({"executionArn": arn, "startDate": epoch(start)}))
        }
        "StopExecution" => {
            let input: ExecutionInput = parse_input(body)?;
            let stop = sfn.stop_execution(&input.execution_arn, input.error, input.cause)?;
            Ok(json!({"stopDate": epoch(stop)}))
        }
        "DescribeExecution" => {
            let input: ExecutionInput = parse_input(body)?;
            Ok(describe(&sfn.execution(&input.execution_arn)?))
        }
        "ListExecutions" => {
            let input: ListInput = parse_input(body)?;
            let machine = input.state_machine_arn.ok_or_else(|| ApiError::validation("stateMachineArn is required"))?;
            let executions: Vec<Value> = sfn
                .executions(&machine, input.status_filter.as_deref())?
                .iter()
                .take(input.max_results.filter(|n| *n > 0).unwrap_or(1000))
                .map(|e| {
                    let mut v = describe(e);
                    let obj = v.as_object_mut().expect("object");
                    for k in ["input", "inputDetails", "output", "outputDetails", "error", "cause"] {
                        obj.remove(k);
                    }
                    v
                })
                .collect();
            Ok(json!({"executions": executions}))
        }
        "GetExecutionHistory" => {
            let input: ExecutionInput = parse_input(body)?;
            let e = sfn.execution(&input.execution_arn)?;
            let mut events: Vec<Value> = e
                .history
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let mut v =
                        json!({"timestamp": epoch(h.timestamp), "type": h.kind, "id": i + 1, "previousEventId": i});
                    if let Some(obj) = h.details.as_object() {
                        for (k, d) in obj {
                            v[k] = d.clone();
                        }
                    }
                    v
                })
                .collect();
            if input.reverse_order.unwrap_or(false) {
                events.reverse();
            }
            events.truncate(input.max_results.filter(|n| *n > 0).unwrap_or(1000));
            Ok(json!({"events": events}))
        }
        other => Err(ApiError::client(
            "UnknownOperationException",
            format!("Step Functions operation {other} is not supported by the simulator"),
        )),
    }
}
