//! EventBridge: rules with event patterns, input transformers, and delivery to targets.

mod bus;
mod pattern;
mod s3_event;
mod transformer;

pub use bus::{
    DeadLetter, Delivery, DeliveryDelay, EventBus, RetryPolicy, Rule, Target, TargetError, TargetFault,
    TargetFaultKind, TargetFaults,
};
pub use pattern::{EventPattern, PatternError};
pub use s3_event::{event_time as s3_event_time, object_created_event};
pub use transformer::{InputTransformer, RuleFacts, TransformError};
