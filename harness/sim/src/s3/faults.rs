//! Injected S3 faults: an operation on matching keys fails with an S3 error, answers late, is
//! held until the test releases it, or stores corrupted bytes, a set number of times. They reach
//! clients through the real protocol, as AWS's would.

use std::time::Duration;

use crate::countdown::{Countdown, Counted};

use s3s::{S3Error, S3ErrorCode};

/// One fault (scenario files declare them as `[[sim.s3_faults]]`).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "S3Fault")]
pub struct Fault {
    /// S3 operation name (`CopyObject`, `UploadPartCopy`, `HeadObject`, `PutObject`, ...).
    pub operation: String,
    /// Only keys containing this text.
    #[serde(default)]
    pub key_contains: Option<String>,
    /// S3 error code to answer with (`SlowDown`, `InternalError`, `AccessDenied`, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// Delay before answering, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
    /// How many matching requests it affects (all when absent).
    #[serde(default)]
    pub times: Option<u32>,
    /// Store the body with one byte flipped (CopyObject, UploadPartCopy, PutObject, UploadPart),
    /// as a faulty copy would: the object's checksum is of the corrupted bytes.
    #[serde(default)]
    pub corrupt: bool,
    /// Hold matching requests until the run releases them (after checking what the pipeline
    /// shows before the operation happens).
    #[serde(default)]
    pub hold: bool,
}

impl Counted for Fault {
    fn times(&mut self) -> &mut Option<u32> {
        &mut self.times
    }
}

/// What a matching fault asks of the operation, once it may go on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Store corrupted bytes.
    pub corrupt: bool,
}

/// The faults in force.
pub struct Faults {
    faults: Countdown<Fault>,
    released: tokio::sync::watch::Sender<bool>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

fn status_of(code: &str) -> u16 {
    match code {
        "SlowDown" | "ServiceUnavailable" => 503,
        "InternalError" => 500,
        "AccessDenied" => 403,
        "NoSuchKey" | "NoSuchBucket" => 404,
        _ => 400,
    }
}

impl Faults {
    /// Faults from a list.
    pub fn new(faults: Vec<Fault>) -> Self {
        Self { faults: Countdown::new(faults), released: tokio::sync::watch::channel(false).0 }
    }

    /// Lets every held request go on, now and from now on.
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    /// Applies the first matching fault to `operation` on `key`, using up one of its times.
    pub async fn apply(&self, operation: &str, key: &str) -> Result<Applied, S3Error> {
        let hit =
            self.faults.fire(|f| f.operation == operation && f.key_contains.as_deref().is_none_or(|k| key.contains(k)));
        let Some(fault) = hit else { return Ok(Applied::default()) };
        if fault.hold {
            let mut released = self.released.subscribe();
            let _ = released.wait_for(|r| *r).await;
        }
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        match fault.error {
            Some(code) => {
                let mut err = S3Error::with_message(
                    code.parse::<S3ErrorCode>().unwrap_or(S3ErrorCode::InternalError),
                    format!("injected fault for {operation} on {key}"),
                );
                err.set_status_code(
                    http::StatusCode::from_u16(status_of(&code)).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                );
                Err(err)
            }
            None => Ok(Applied { corrupt: fault.corrupt }),
        }
    }
}
