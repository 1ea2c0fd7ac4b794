//! What each source key must end as, worked out from the scenario alone before anything runs.

use std::collections::BTreeMap;

use super::file::{self, Scenario};
use crate::content::Content;

/// What one source key must end as.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Copied byte for byte.
    Transferred {
        /// The bytes uploaded.
        content: Content,
        /// Text the record's `copy_method` must contain.
        copy_method: Option<String>,
    },
    /// Recorded `failed`.
    Failed {
        /// Text the record's `error_message` must contain.
        error_contains: Option<String>,
    },
    /// A folder marker, recorded `skipped`.
    Skipped,
    /// Nothing may exist for this key: no source object, no record, no copy, no parts.
    Absent {
        /// Why nothing may exist.
        why: &'static str,
    },
}

/// One key's expected journey.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The account name whose upload it is (the record's `customer_id`).
    pub user: String,
    /// The key in the source bucket.
    pub key: String,
    /// What it must end as.
    pub expect: Expect,
    /// How many times the copy function may run for it.
    pub lambda_invocations: Option<u32>,
    /// The record's `attempts`.
    pub attempts: Option<u64>,
    /// Text the record's `error_type` must contain.
    pub error_type: Option<String>,
}

impl Planned {
    /// The record status it must end with (`absent` for keys that must not exist).
    pub fn status(&self) -> &'static str {
        match self.expect {
            Expect::Transferred { .. } => "transferred",
            Expect::Failed { .. } => "failed",
            Expect::Skipped => "skipped",
            Expect::Absent { .. } => "absent",
        }
    }

    /// Whether the key must not exist at all.
    pub fn is_absent(&self) -> bool {
        matches!(self.expect, Expect::Absent { .. })
    }

    fn simple(user: String, key: String, expect: Expect) -> Self {
        Self { user, key, expect, lambda_invocations: None, attempts: None, error_type: None }
    }
}

/// The bytes of the `index`-th upload (generated content is seeded by its position).
pub fn content_of(u: &file::Upload, index: usize) -> Content {
    match (&u.content, u.size) {
        (Some(text), _) => Content::Literal(text.clone().into_bytes()),
        (None, size) => Content::Generated { size: size.unwrap_or(0), seed: index as u64 + 1 },
    }
}

/// Where each user's paths land: the account name and a resolver from a scenario path to its
/// source key (`None` outside the source bucket or the mappings).
pub struct Homes<'a> {
    /// Declared user -> account name.
    pub names: BTreeMap<&'a str, String>,
    /// Declared user -> its home.
    pub homes: BTreeMap<&'a str, sim::sftp::HomeDirectory>,
    /// The source bucket.
    pub source_bucket: &'a str,
}

impl Homes<'_> {
    /// The account name of a declared user.
    pub fn name(&self, user: &str) -> String {
        self.names.get(user).cloned().unwrap_or_else(|| user.to_string())
    }

    /// The source key a user's path lands on.
    pub fn key_for(&self, user: &str, path: &str) -> Option<String> {
        let h = self.homes.get(user)?;
        match h.resolve(&h.segments(path)) {
            sim::sftp::Resolved::S3 { bucket, key } if bucket == self.source_bucket && !key.is_empty() => Some(key),
            _ => None,
        }
    }

    /// The directory relative paths start from.
    pub fn landing(&self, user: &str) -> String {
        self.homes.get(user).map_or("/", |h| h.landing()).to_string()
    }
}

/// The last upload of a key decides what it must end as.
pub fn plan(scenario: &Scenario, homes: &Homes<'_>) -> Vec<Planned> {
    let mut planned: Vec<Planned> = Vec::new();
    for d in &scenario.directories {
        let Some(key) = homes.key_for(&d.user, &d.path) else { continue };
        planned.push(Planned::simple(homes.name(&d.user), format!("{key}/"), Expect::Skipped));
    }
    for (i, u) in scenario.uploads.iter().enumerate() {
        // A path outside the source bucket or the mappings can only be refused, checked at upload.
        let Some(uploaded_key) = homes.key_for(&u.user, &u.path) else { continue };
        let absent = |why| Planned::simple(homes.name(&u.user), uploaded_key.clone(), Expect::Absent { why });
        if u.expect == file::Outcome::Refused {
            planned.retain(|p| p.key != uploaded_key);
            planned.push(absent("the SFTP server refused the upload"));
            continue;
        }
        if u.interrupt_after.is_some() {
            planned.retain(|p| p.key != uploaded_key);
            planned.push(absent("the connection dropped before the file was closed"));
            continue;
        }
        let key = match &u.rename_to {
            Some(to) => {
                planned.retain(|p| p.key != uploaded_key);
                // A `.filepart` never reaches the pipeline. Any other name was a complete object
                // for a moment, so whether it was copied before the rename depends on timing.
                if uploaded_key.ends_with(".filepart") {
                    planned.push(absent("renamed away; .filepart names are not transferred"));
                }
                let Some(key) = homes.key_for(&u.user, to) else { continue };
                key
            }
            None => uploaded_key.clone(),
        };
        let expect = match u.expect {
            file::Outcome::Transferred => {
                Expect::Transferred { content: content_of(u, i), copy_method: u.copy_method.clone() }
            }
            file::Outcome::Failed | file::Outcome::Refused => {
                Expect::Failed { error_contains: u.error_contains.clone() }
            }
        };
        planned.retain(|p| p.key != key);
        planned.push(Planned {
            user: homes.name(&u.user),
            key,
            expect,
            lambda_invocations: u.lambda_invocations,
            attempts: u.attempts,
            error_type: u.error_type.clone(),
        });
    }
    for key in &scenario.absent_keys {
        planned.push(Planned::simple(
            String::new(),
            key.trim_start_matches('/').to_string(),
            Expect::Absent { why: "outside the uploading user's home" },
        ));
    }
    planned
}
