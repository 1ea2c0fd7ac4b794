//! The default event bus: matches each event against the rules and delivers transformed input
//! to their targets, at least once, retrying failed deliveries with backoff.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tracing::{Instrument, debug, info_span, warn};

use super::pattern::EventPattern;
use super::transformer::{InputTransformer, RuleFacts};

/// Delivers a rule's input to its target (here: starts a Step Functions execution).
pub type Target = Arc<dyn Fn(String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A rule: a pattern, a transformer and one target.
#[derive(Clone)]
pub struct Rule {
    /// Rule name.
    pub name: String,
    /// What it matches.
    pub pattern: EventPattern,
    /// How the event becomes the target's input; `None` passes the whole event.
    pub transformer: Option<InputTransformer>,
    /// Where it goes.
    pub target: Target,
}

/// How deliveries behave: knobs for reliability tests.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Extra copies of every delivery (at-least-once made visible).
    pub duplicates: u32,
    /// Delay before each delivery.
    pub delay: Duration,
    /// A random extra delay up to this long per delivery, so deliveries arrive out of order.
    pub jitter: Duration,
    /// Attempts per delivery before the event is dropped (EventBridge's default is 185).
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt.
    pub retry_base: Duration,
    /// Extra delays for chosen events, so a later event can overtake an earlier one.
    pub delays: Vec<DeliveryDelay>,
}

/// Holds back one event of the keys it matches (scenario files declare them as
/// `[[sim.delivery_delays]]`).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryDelay {
    /// Only events whose `detail.object.key` contains this text.
    pub key_contains: String,
    /// Which of the matching events, counting from 1 (default: the first).
    #[serde(default = "first")]
    pub occurrence: u32,
    /// How long it is held back, in milliseconds.
    pub delay_ms: u64,
}

fn first() -> u32 {
    1
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            duplicates: 0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            max_attempts: 185,
            retry_base: Duration::from_millis(50),
            delays: Vec::new(),
        }
    }
}

/// The bus.
pub struct EventBus {
    rules: Vec<Rule>,
    delivery: Delivery,
    /// Events seen so far per entry of `delivery.delays`.
    seen: std::sync::Mutex<Vec<u32>>,
}

impl EventBus {
    /// A bus with these rules.
    pub fn new(rules: Vec<Rule>, delivery: Delivery) -> Self {
        let seen = std::sync::Mutex::new(vec![0; delivery.delays.len()]);
        Self { rules, delivery, seen }
    }

    /// The extra delay the delivery knobs give this event.
    fn held_back(&self, event: &Value) -> Duration {
        let key = event["detail"]["object"]["key"].as_str().unwrap_or_default();
        let mut seen = self.seen.lock().unwrap();
        let mut extra = Duration::ZERO;
        for (i, d) in self.delivery.delays.iter().enumerate() {
            if key.contains(&d.key_contains) {
                seen[i] += 1;
                if seen[i] == d.occurrence {
                    extra += Duration::from_millis(d.delay_ms);
                }
            }
        }
        extra
    }

    /// Routes one event to every matching rule's target, in the background.
    pub fn publish(self: &Arc<Self>, event: Value) {
        let held_back = self.held_back(&event);
        for rule in &self.rules {
            if !rule.pattern.matches(&event) {
                debug!(rule = rule.name, "event does not match");
                continue;
            }
            let facts = RuleFacts {
                name: rule.name.clone(),
                arn: format!("arn:aws:events:{}:{}:rule/{}", crate::REGION, crate::ACCOUNT_ID, rule.name),
            };
            let input = match &rule.transformer {
                Some(t) => match t.apply(&event, &facts) {
                    Ok(input) => input,
                    Err(e) => {
                        warn!(rule = rule.name, error = %e, "input transformer failed; event dropped");
                        continue;
                    }
                },
                None => event.to_string(),
            };
            for copy in 0..=self.delivery.duplicates {
                let target = rule.target.clone();
                let mut delivery = self.delivery.clone();
                delivery.delay += held_back;
                let input = input.clone();
                let span = info_span!("delivery", rule = rule.name, copy);
                tokio::spawn(deliver(target, input, delivery).instrument(span));
            }
        }
    }
}

async fn deliver(target: Target, input: String, delivery: Delivery) {
    let jitter = delivery.jitter.mul_f64((uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0);
    tokio::time::sleep(delivery.delay + jitter).await;
    let mut wait = delivery.retry_base;
    for attempt in 1..=delivery.max_attempts {
        match target(input.clone()).await {
            Ok(()) => return,
            Err(e) => {
                warn!(attempt, error = %e, "target delivery failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    }
    warn!("delivery gave up after {} attempts", delivery.max_attempts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn failed_deliveries_are_retried_and_duplicates_sent() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        // A target that refuses the first two deliveries, as a throttled StartExecution would.
        let target: Target = Arc::new(move |_input| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { if n < 2 { Err("throttled".to_string()) } else { Ok(()) } })
        });
        let rule = Rule {
            name: "r".into(),
            pattern: EventPattern::parse(r#"{"source": ["aws.s3"]}"#).unwrap(),
            transformer: None,
            target,
        };
        let delivery = Delivery { duplicates: 1, retry_base: Duration::from_millis(1), ..Default::default() };
        let bus = Arc::new(EventBus::new(vec![rule], delivery));
        bus.publish(serde_json::json!({"source": "aws.s3"}));
        bus.publish(serde_json::json!({"source": "aws.ec2"}));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Two copies of the matching event; two refusals retried: four calls in all.
        while calls.load(Ordering::SeqCst) < 4 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
