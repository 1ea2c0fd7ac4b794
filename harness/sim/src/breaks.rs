//! Ways to break the pipeline on purpose, for the harness's own tests: each makes one stage
//! misbehave as no AWS service would, so a test can show that the check watching that stage
//! fails. Unlike faults (errors and delays AWS does produce), a break is never realistic, and no
//! normal run sets one.

use std::collections::HashSet;

/// One way to break a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Break {
    /// S3: copies into the destination bucket answer success and store nothing.
    SkipCopy,
    /// S3: every copy into the destination bucket is stored twice (two versions).
    CopyTwice,
    /// S3: copies into the destination bucket land under `elsewhere/`.
    CopyElsewhere,
    /// S3: copies into the destination bucket get one byte flipped but keep the source's checksum
    /// and ETag, so only a reader of the bytes can tell.
    CorruptCopy,
    /// S3: every multipart upload created in the destination bucket opens a second one that
    /// nobody completes.
    StrayCopyUploads,
    /// Every service: a restart starts from an empty data directory.
    RestartLosesData,
    /// Step Functions: a restart forgets the executions that were running instead of
    /// redriving them.
    ForgetRunningExecutions,
    /// Step Functions: TaskFailed events are left out of execution histories.
    DropTaskFailedEvents,
    /// Step Functions: executions' events never reach the state machine's log group.
    DropExecutionLogs,
    /// Step Functions: Wait states and retry backoffs do not wait.
    SkipWaits,
    /// DynamoDB: the function's `transferred` is stored as `skipped`.
    WrongStatus,
    /// DynamoDB: the state machine's putItem (its RecordUpload) is acknowledged and dropped.
    DropRecordUpload,
    /// EventBridge: events the target never took are dropped, not dead-lettered.
    DropDeadLetters,
    /// EventBridge: no event reaches a target, so no execution starts.
    NoExecution,
    /// Lambda: every invocation runs the function twice.
    DoubleInvoke,
    /// Lambda: reserved concurrency is not enforced.
    NoThrottling,
    /// Lambda: the function's own output never reaches its log group (the runtime's START, END
    /// and REPORT lines still do).
    DropFunctionLog,
    /// SFTP: CLOSE entries are not logged.
    DropCloseLog,
    /// SFTP: AUTH_FAILURE entries are not logged.
    DropAuthFailureLog,
    /// SFTP: any key logs in as any user.
    AcceptAnyKey,
    /// SFTP: no key logs in.
    RefuseLogins,
    /// SFTP: every write is refused.
    RefuseWrites,
    /// SFTP: the access role's and the session policy's denials are not enforced.
    IgnorePolicy,
    /// SFTP: `..` climbs out of a LOGICAL home.
    EscapeHome,
    /// SFTP: directory listings are empty.
    HideListings,
    /// SFTP: a dropped connection's open upload is completed instead of aborted.
    KeepInterruptedUploads,
    /// SFTP: uploads land in S3 under `misplaced/` in front of the key.
    MisplaceUploads,
}

/// The breaks in force.
#[derive(Debug, Clone, Default)]
pub struct Breaks(HashSet<Break>);

impl std::str::FromStr for Break {
    type Err = String;

    /// A break by its kebab-case name (`skip-copy`), as scenario files and `--break` write it;
    /// an unknown name's error lists the known ones.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(name.to_string()))
            .map_err(|e| format!("not a known break: {e}"))
    }
}

impl Breaks {
    /// These breaks.
    pub fn new(breaks: impl IntoIterator<Item = Break>) -> Self {
        Self(breaks.into_iter().collect())
    }

    /// Whether `b` is in force.
    pub fn has(&self, b: Break) -> bool {
        self.0.contains(&b)
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_parse_by_their_kebab_case_names_and_unknown_names_list_the_known() {
        assert_eq!("skip-copy".parse::<Break>(), Ok(Break::SkipCopy));
        let e = "skip-copies".parse::<Break>().unwrap_err();
        assert!(e.contains("skip-copies") && e.contains("`skip-copy`"), "{e}");
    }
}
