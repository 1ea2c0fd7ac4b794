//! The default event bus: matches each event against the rules and delivers transformed input
//! to their targets, at least once, retrying failed deliveries with backoff.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use tracing::{Instrument, debug, info_span, warn};

use super::pattern::EventPattern;
use super::transformer::{InputTransformer, RuleFacts};

/// Delivers a rule's input to its target (here: starts a Step Functions execution).
pub type Target = Arc<dyn Fn(String) -> BoxFuture<'static, Result<(), TargetError>> + Send + Sync>;

/// Why a target refused an event, as a dead-letter message's ERROR_CODE and ERROR_MESSAGE
/// name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// One of EventBridge's codes (`THROTTLING`, `NO_RESOURCE`, `NO_PERMISSIONS`,
    /// `INTERNAL_ERROR`, ...; "Using dead-letter queues", EventBridge user guide).
    pub code: &'static str,
    /// The target service's message.
    pub message: String,
    /// Whether EventBridge retries it: throttling and 5xx are retried, a missing target or
    /// missing permissions go to the dead-letter queue at once.
    pub retryable: bool,
}

/// A target's retry policy, as the shared `rule-target.json` sets it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// Retries after the first attempt (EventBridge: 0 to 185).
    pub maximum_retry_attempts: u32,
    /// How long an event is retried (EventBridge: 60 to 86,400 seconds).
    pub maximum_event_age_in_seconds: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { maximum_retry_attempts: 185, maximum_event_age_in_seconds: 86_400 }
    }
}

/// A fault: the rule's target refusing deliveries, as a throttled StartExecution or a deleted
/// state machine would.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetFault {
    /// Only deliveries whose input contains this text (an object key).
    #[serde(default)]
    pub input_contains: Option<String>,
    /// `throttled` (retried) or `missing` (the state machine does not exist: not retried).
    pub error: TargetFaultKind,
    /// How many matching deliveries it refuses (all when absent).
    #[serde(default)]
    pub times: Option<u32>,
}

/// How a faulty target refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetFaultKind {
    /// StartExecution answers ThrottlingException.
    Throttled,
    /// StartExecution answers StateMachineDoesNotExist.
    Missing,
}

/// The target faults in force.
#[derive(Debug, Default)]
pub struct TargetFaults(crate::countdown::Countdown<TargetFault>);

impl crate::countdown::Counted for TargetFault {
    fn times(&mut self) -> &mut Option<u32> {
        &mut self.times
    }
}

impl TargetFaults {
    /// Faults from a list.
    pub fn new(faults: Vec<TargetFault>) -> Self {
        Self(crate::countdown::Countdown::new(faults))
    }

    /// The refusal this delivery meets, if any (counting it); `target_arn` names the target.
    pub fn take(&self, input: &str, target_arn: &str) -> Option<TargetError> {
        let f = self.0.fire(|f| f.input_contains.as_deref().is_none_or(|c| input.contains(c)))?;
        Some(match f.error {
            TargetFaultKind::Throttled => TargetError {
                code: "THROTTLING",
                message: "Rate exceeded (Service: AWSStepFunctions; Status Code: 400; Error Code: ThrottlingException)"
                    .into(),
                retryable: true,
            },
            TargetFaultKind::Missing => TargetError {
                code: "NO_RESOURCE",
                message: format!(
                    "State Machine Does Not Exist: '{target_arn}' (Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist)"
                ),
                retryable: false,
            },
        })
    }
}

impl TargetError {
    /// How EventBridge classes a Step Functions StartExecution error.
    pub fn from_start_execution(e: &crate::json_protocol::ApiError) -> Self {
        let message = format!(
            "{} (Service: AWSStepFunctions; Status Code: {}; Error Code: {})",
            e.message,
            e.status.as_u16(),
            e.code
        );
        let (code, retryable) = match e.code {
            "StateMachineDoesNotExist" | "StateMachineDeleting" => ("NO_RESOURCE", false),
            "ThrottlingException" | "ExecutionLimitExceeded" => ("THROTTLING", true),
            _ if e.status.is_server_error() => ("INTERNAL_ERROR", true),
            _ => ("INVALID_PARAMETER", false),
        };
        Self { code, message, retryable }
    }
}

/// Where a rule sends the events its target never took.
#[derive(Clone)]
pub struct DeadLetter {
    /// The account's queues.
    pub queues: Arc<crate::sqs::Queues>,
    /// The queue's name.
    pub queue: String,
}

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
    /// The target's ARN (for dead-letter messages).
    pub target_arn: String,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// Where undeliverable events go (dropped when `None`).
    pub dead_letter: Option<DeadLetter>,
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
    /// First retry delay; doubles each attempt, up to a minute, with full jitter (EventBridge
    /// documents "exponential back off and jitter", not its figures).
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
    /// Set when the simulator stops: deliveries still under way give up.
    closed: Arc<std::sync::atomic::AtomicBool>,
    clock: crate::clock::Clock,
}

impl EventBus {
    /// A bus with these rules.
    pub fn new(rules: Vec<Rule>, delivery: Delivery) -> Self {
        let seen = std::sync::Mutex::new(vec![0; delivery.delays.len()]);
        Self { rules, delivery, seen, closed: Arc::default(), clock: Default::default() }
    }

    /// Runs delivery delays and retries on `clock`; a delivery is work in flight on it
    /// except while it waits.
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Self { clock, ..self }
    }

    /// Stops every delivery under way (the simulator is stopping; a restart with a data
    /// directory announces again what no execution took up).
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Relaxed);
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
                Some(t) => match t.apply_at(&event, &facts, self.clock.now()) {
                    Ok(input) => input,
                    Err(e) => {
                        warn!(rule = rule.name, error = %e, "input transformer failed; event dropped");
                        continue;
                    }
                },
                None => event.to_string(),
            };
            for copy in 0..=self.delivery.duplicates {
                let mut delivery = self.delivery.clone();
                delivery.delay += held_back;
                let span = info_span!("delivery", rule = rule.name, copy);
                let job = Delivering {
                    rule: rule.clone(),
                    rule_arn: facts.arn.clone(),
                    event: event.clone(),
                    input: input.clone(),
                    closed: self.closed.clone(),
                    clock: self.clock.clone(),
                    _busy: self.clock.busy(),
                };
                tokio::spawn(job.run(delivery).instrument(span));
            }
        }
    }
}

/// One event on its way to one rule's target.
struct Delivering {
    rule: Rule,
    rule_arn: String,
    event: Value,
    input: String,
    closed: Arc<std::sync::atomic::AtomicBool>,
    clock: crate::clock::Clock,
    /// Held from the publish on, released while the delivery waits.
    _busy: crate::clock::Busy,
}

impl Delivering {
    async fn run(self, delivery: Delivery) {
        let clock = self.clock.clone();
        let started = clock.now();
        let elapsed = || clock.now().duration_since(started).unwrap_or_default();
        let jitter = delivery.jitter.mul_f64((uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0);
        clock.while_idle(clock.sleep_unscaled(delivery.delay + jitter)).await;
        let policy = self.rule.retry;
        let max_age = Duration::from_secs(policy.maximum_event_age_in_seconds);
        let mut wait = delivery.retry_base;
        let mut retries = 0;
        let (error, exhausted) = loop {
            if self.closed.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let error = match (self.rule.target)(self.input.clone()).await {
                Ok(()) => return,
                Err(e) => e,
            };
            if !error.retryable {
                break (error, None);
            }
            if retries >= policy.maximum_retry_attempts {
                break (error, Some("MaximumRetryAttempts"));
            }
            let pause = wait.mul_f64((uuid::Uuid::new_v4().as_u128() % 1000 + 1) as f64 / 1000.0);
            if elapsed() + pause >= max_age {
                break (error, Some("MaximumEventAgeInSeconds"));
            }
            warn!(retries, code = error.code, error = %error.message, "target delivery failed; retrying");
            clock.while_idle(clock.sleep_unscaled(pause)).await;
            wait = (wait * 2).min(Duration::from_secs(60));
            retries += 1;
        };
        self.dead_letter(error, exhausted, retries);
    }

    /// Sends the original event to the rule's dead-letter queue with EventBridge's attributes
    /// (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION when retries
    /// ran out, RETRY_ATTEMPTS), or drops it where the rule has none.
    fn dead_letter(&self, error: TargetError, exhausted: Option<&str>, retries: u32) {
        let Some(dl) = &self.rule.dead_letter else {
            warn!(code = error.code, "event not delivered and the rule has no dead-letter queue: dropped");
            return;
        };
        use crate::sqs::Attribute;
        let mut attributes = std::collections::BTreeMap::from([
            ("RULE_ARN".to_string(), Attribute::string(&self.rule_arn)),
            ("TARGET_ARN".to_string(), Attribute::string(&self.rule.target_arn)),
            ("ERROR_CODE".to_string(), Attribute::string(error.code)),
            ("ERROR_MESSAGE".to_string(), Attribute::string(&error.message)),
            ("RETRY_ATTEMPTS".to_string(), Attribute::string(retries.to_string())),
        ]);
        if let Some(condition) = exhausted {
            attributes.insert("EXHAUSTED_RETRY_CONDITION".into(), Attribute::string(condition));
        }
        match dl.queues.send(&dl.queue, self.event.to_string(), attributes) {
            Ok(id) => warn!(code = error.code, queue = dl.queue, message = id, "event sent to the dead-letter queue"),
            Err(e) => warn!(error = e.message, queue = dl.queue, "the dead-letter queue refused the event: dropped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn throttled() -> TargetError {
        TargetError { code: "THROTTLING", message: "Rate exceeded".into(), retryable: true }
    }

    fn rule(target: Target, dead_letter: Option<DeadLetter>, retry: RetryPolicy) -> Rule {
        Rule {
            name: "r".into(),
            pattern: EventPattern::parse(r#"{"source": ["aws.s3"]}"#).unwrap(),
            transformer: None,
            target,
            target_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".into(),
            retry,
            dead_letter,
        }
    }

    /// A target that always throttles exhausts the retry policy, then the event (as sent, not
    /// as transformed) lands in the dead-letter queue with EventBridge's attributes; a missing
    /// target is not retried at all.
    #[tokio::test]
    async fn undeliverable_events_reach_the_dead_letter_queue() {
        let queues = Arc::new(crate::sqs::Queues::new("http://127.0.0.1:1"));
        queues.create("dlq");
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let target: Target = Arc::new(move |input: String| {
            seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if input.contains("gone") {
                    Err(TargetError {
                        code: "NO_RESOURCE",
                        message: "State Machine Does Not Exist".into(),
                        retryable: false,
                    })
                } else {
                    Err(throttled())
                }
            })
        });
        let dl = DeadLetter { queues: queues.clone(), queue: "dlq".into() };
        let policy = RetryPolicy { maximum_retry_attempts: 3, maximum_event_age_in_seconds: 60 };
        let delivery = Delivery { retry_base: Duration::from_millis(1), ..Default::default() };
        let bus = Arc::new(EventBus::new(vec![rule(target, Some(dl), policy)], delivery));
        bus.publish(serde_json::json!({"source": "aws.s3", "id": "busy"}));
        bus.publish(serde_json::json!({"source": "aws.s3", "id": "gone"}));
        let receive = serde_json::json!({"QueueUrl": queues.url("dlq"), "MaxNumberOfMessages": 10,
            "MessageAttributeNames": ["All"], "WaitTimeSeconds": 5})
        .to_string();
        let mut got = Vec::new();
        while got.len() < 2 {
            let r = queues.handle("ReceiveMessage", receive.as_bytes()).await.unwrap();
            got.extend(r["Messages"].as_array().cloned().unwrap_or_default());
        }
        got.sort_by_key(|m| m["Body"].as_str().unwrap().contains("gone"));
        let attr = |m: &Value, k: &str| m["MessageAttributes"][k]["StringValue"].as_str().map(str::to_string);
        let (busy, gone) = (&got[0], &got[1]);
        assert_eq!(serde_json::from_str::<Value>(busy["Body"].as_str().unwrap()).unwrap()["id"], "busy");
        assert_eq!(attr(busy, "ERROR_CODE").as_deref(), Some("THROTTLING"));
        assert_eq!(attr(busy, "RETRY_ATTEMPTS").as_deref(), Some("3"));
        assert_eq!(attr(busy, "EXHAUSTED_RETRY_CONDITION").as_deref(), Some("MaximumRetryAttempts"));
        assert_eq!(attr(busy, "RULE_ARN").as_deref(), Some("arn:aws:events:us-east-1:000000000000:rule/r"));
        assert_eq!(attr(gone, "ERROR_CODE").as_deref(), Some("NO_RESOURCE"));
        assert_eq!(attr(gone, "RETRY_ATTEMPTS").as_deref(), Some("0"));
        assert_eq!(attr(gone, "EXHAUSTED_RETRY_CONDITION"), None);
        // 1 + 3 attempts for the busy target, 1 for the missing one.
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn failed_deliveries_are_retried_and_duplicates_sent() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        // A target that refuses the first two deliveries, as a throttled StartExecution would.
        let target: Target = Arc::new(move |_input| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { if n < 2 { Err(throttled()) } else { Ok(()) } })
        });
        let rule = rule(target, None, RetryPolicy::default());
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
