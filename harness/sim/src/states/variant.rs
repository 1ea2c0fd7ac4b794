//! A scenario's changes to the shipped state machine: a retrier's timing, a Wait ahead of a
//! state. The shipped definition stays the one source; a variant says exactly where a run
//! differs from it (a retry schedule a test can assert needs `JitterStrategy: NONE`).

use serde::Deserialize;
use serde_json::{Value, json};

/// New timing for the retrier of `state` whose ErrorEquals names `error`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrierChange {
    /// The Task state.
    pub state: String,
    /// An error its retrier lists.
    pub error: String,
    /// IntervalSeconds.
    #[serde(default)]
    pub interval_seconds: Option<u64>,
    /// BackoffRate.
    #[serde(default)]
    pub backoff_rate: Option<f64>,
    /// MaxAttempts.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// MaxDelaySeconds.
    #[serde(default)]
    pub max_delay_seconds: Option<u64>,
    /// JitterStrategy (`FULL` or `NONE`).
    #[serde(default)]
    pub jitter_strategy: Option<String>,
}

/// A Wait state of `seconds` put ahead of `state`: every transition to it goes through the wait.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitBefore {
    /// The state waited before.
    pub state: String,
    /// Seconds.
    pub seconds: u64,
}

impl WaitBefore {
    /// The inserted Wait state's name.
    pub fn wait_state(&self) -> String {
        format!("WaitBefore{}", self.state)
    }
}

/// The changes of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variant {
    /// Retrier changes.
    pub retriers: Vec<RetrierChange>,
    /// Waits put in.
    pub waits: Vec<WaitBefore>,
}

/// A change names what the definition does not have.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VariantError {
    /// No such state.
    #[error("the state machine has no state {0:?} (see infra/definitions/state-machine.asl.json)")]
    NoState(String),
    /// The state has no retrier for the error.
    #[error("state {state:?} has no retrier whose ErrorEquals lists {error:?}")]
    NoRetrier {
        /// The state.
        state: String,
        /// The error.
        error: String,
    },
    /// Not a definition.
    #[error("the definition is not a JSON object with States: {0}")]
    NotADefinition(String),
}

impl Variant {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.retriers.is_empty() && self.waits.is_empty()
    }

    /// The definition text with the changes made.
    pub fn apply(&self, definition: &str) -> Result<String, VariantError> {
        if self.is_empty() {
            return Ok(definition.to_string());
        }
        let mut def: Value =
            serde_json::from_str(definition).map_err(|e| VariantError::NotADefinition(e.to_string()))?;
        if !def["States"].is_object() {
            return Err(VariantError::NotADefinition("no States".into()));
        }
        for c in &self.retriers {
            let state = def["States"].get_mut(&c.state).ok_or_else(|| VariantError::NoState(c.state.clone()))?;
            let retrier = state["Retry"]
                .as_array_mut()
                .and_then(|rs| {
                    rs.iter_mut().find(|r| {
                        r["ErrorEquals"].as_array().is_some_and(|es| es.iter().any(|e| e.as_str() == Some(&c.error)))
                    })
                })
                .ok_or_else(|| VariantError::NoRetrier { state: c.state.clone(), error: c.error.clone() })?;
            let fields = [
                ("IntervalSeconds", c.interval_seconds.map(|v| json!(v))),
                ("BackoffRate", c.backoff_rate.map(|v| json!(v))),
                ("MaxAttempts", c.max_attempts.map(|v| json!(v))),
                ("MaxDelaySeconds", c.max_delay_seconds.map(|v| json!(v))),
                ("JitterStrategy", c.jitter_strategy.as_ref().map(|v| json!(v))),
            ];
            for (field, value) in fields {
                if let Some(v) = value {
                    retrier[field] = v;
                }
            }
        }
        for w in &self.waits {
            if def["States"].get(&w.state).is_none() {
                return Err(VariantError::NoState(w.state.clone()));
            }
            let wait = w.wait_state();
            redirect(&mut def, &w.state, &wait);
            def["States"][&wait] = json!({"Type": "Wait", "Seconds": w.seconds, "Next": w.state});
        }
        Ok(def.to_string())
    }
}

/// Points every transition to `from` (StartAt, Next, Default, a Catch's or a Choice's Next) at `to`.
fn redirect(def: &mut Value, from: &str, to: &str) {
    fn walk(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::Object(o) => {
                for (k, child) in o.iter_mut() {
                    if matches!(k.as_str(), "Next" | "Default" | "StartAt") && child.as_str() == Some(from) {
                        *child = json!(to);
                    } else {
                        walk(child, from, to);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, from, to)),
            _ => {}
        }
    }
    walk(def, from, to);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/definitions/state-machine.asl.json"),
        )
        .unwrap()
    }

    #[test]
    fn changes_a_retrier_and_puts_a_wait_ahead_of_a_state() {
        let v = Variant {
            retriers: vec![RetrierChange {
                state: "TransferFile".into(),
                error: "TransientError".into(),
                interval_seconds: None,
                backoff_rate: None,
                max_attempts: None,
                max_delay_seconds: Some(6),
                jitter_strategy: Some("NONE".into()),
            }],
            waits: vec![WaitBefore { state: "TransferFile".into(), seconds: 3600 }],
        };
        let out: Value = serde_json::from_str(&v.apply(&shipped()).unwrap()).unwrap();
        let r = out["States"]["TransferFile"]["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ErrorEquals"].to_string().contains("TransientError"))
            .unwrap();
        assert_eq!((r["JitterStrategy"].as_str(), r["MaxDelaySeconds"].as_u64()), (Some("NONE"), Some(6)));
        assert_eq!(r["IntervalSeconds"], 2, "unchanged fields stay");
        assert_eq!(out["States"]["RecordUpload"]["Next"], "WaitBeforeTransferFile");
        assert_eq!(out["States"]["WaitBeforeTransferFile"]["Next"], "TransferFile");
        let text = out.to_string();
        crate::states::Definition::parse(&text).expect("the variant is a valid definition");
    }

    #[test]
    fn names_what_the_definition_lacks() {
        let v = Variant { waits: vec![WaitBefore { state: "Nope".into(), seconds: 1 }], ..Default::default() };
        assert!(v.apply(&shipped()).unwrap_err().to_string().contains("no state \"Nope\""));
        let v = Variant {
            retriers: vec![RetrierChange {
                state: "TransferFile".into(),
                error: "Bogus".into(),
                interval_seconds: Some(1),
                backoff_rate: None,
                max_attempts: None,
                max_delay_seconds: None,
                jitter_strategy: None,
            }],
            ..Default::default()
        };
        assert!(v.apply(&shipped()).unwrap_err().to_string().contains("no retrier"));
    }
}
