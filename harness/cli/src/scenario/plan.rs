//! What each source key must end as, worked out from the scenario alone before anything runs:
//! per key, every upload of it in order, each with what it must end as.

use std::collections::BTreeMap;

use super::file::{self, Count, Scenario};
use crate::content::Content;

/// What one upload must end as.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Copied byte for byte.
    Transferred {
        /// The bytes uploaded.
        content: Content,
        /// Text the record's `copy_method` must contain.
        copy_method: Option<String>,
    },
    /// Overwritten by a later upload of the path: copied, or superseded, as timing decides.
    Overwritten {
        /// The bytes uploaded.
        content: Content,
    },
    /// A later upload reached the destination first: never copied.
    Superseded,
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

/// One upload's expected journey.
#[derive(Debug, Clone)]
pub struct Planned {
    /// What it must end as.
    pub expect: Expect,
    /// How many times the copy function runs for it.
    pub lambda_invocations: Option<Count>,
    /// How many copies of it the destination gets.
    pub copies: Option<Count>,
    /// The record's `attempts`.
    pub attempts: Option<u64>,
    /// Text the record's `error_type` must contain.
    pub error_type: Option<String>,
    /// Its record must read `uploaded` before the copy is released.
    pub uploaded_first: bool,
    /// Whether the scenario stated `expect` (else an overwritten upload may end either way).
    stated: bool,
}

impl Planned {
    /// The record statuses it may end with (empty for keys that must not exist).
    pub fn statuses(&self) -> &'static [&'static str] {
        match self.expect {
            Expect::Transferred { .. } => &["transferred"],
            Expect::Overwritten { .. } => &["transferred", "superseded"],
            Expect::Superseded => &["superseded"],
            Expect::Failed { .. } => &["failed"],
            Expect::Skipped => &["skipped"],
            Expect::Absent { .. } => &[],
        }
    }

    /// The execution status its executions end with.
    pub fn execution_status(&self) -> &'static str {
        if matches!(self.expect, Expect::Failed { .. }) { "FAILED" } else { "SUCCEEDED" }
    }

    /// The bytes it uploaded, when it may reach the destination.
    pub fn content(&self) -> Option<&Content> {
        match &self.expect {
            Expect::Transferred { content, .. } | Expect::Overwritten { content } => Some(content),
            _ => None,
        }
    }

    fn simple(expect: Expect) -> Self {
        Self {
            expect,
            lambda_invocations: None,
            copies: None,
            attempts: None,
            error_type: None,
            uploaded_first: false,
            stated: true,
        }
    }
}

/// One source key and every upload of it, oldest first.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    /// The account name whose uploads they are (the records' `customer_id`).
    pub user: String,
    /// The key in the source bucket.
    pub key: String,
    /// Its uploads, in order.
    pub uploads: Vec<Planned>,
}

impl KeyPlan {
    /// Whether the key must not exist at all.
    pub fn is_absent(&self) -> bool {
        matches!(self.uploads.last().map(|p| &p.expect), Some(Expect::Absent { .. }))
    }

    /// Whether it is a folder marker.
    pub fn is_marker(&self) -> bool {
        matches!(self.uploads.last().map(|p| &p.expect), Some(Expect::Skipped))
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

/// Every key the scenario touches, with its uploads in order.
pub fn plan(scenario: &Scenario, homes: &Homes<'_>) -> Vec<KeyPlan> {
    let mut keys: Vec<KeyPlan> = Vec::new();
    let entry = |keys: &mut Vec<KeyPlan>, user: String, key: &str| -> usize {
        match keys.iter().position(|k| k.key == key) {
            Some(i) => i,
            None => {
                keys.push(KeyPlan { user, key: key.to_string(), uploads: Vec::new() });
                keys.len() - 1
            }
        }
    };
    // A key that must be absent, or a marker, has exactly that one expectation.
    let only = |keys: &mut Vec<KeyPlan>, i: usize, p: Planned| keys[i].uploads = vec![p];
    for d in &scenario.directories {
        let Some(key) = homes.key_for(&d.user, &d.path) else { continue };
        let i = entry(&mut keys, homes.name(&d.user), &format!("{key}/"));
        only(&mut keys, i, Planned::simple(Expect::Skipped));
    }
    for (n, u) in scenario.uploads.iter().enumerate() {
        // A path outside the source bucket or the mappings can only be refused, checked at upload.
        let Some(uploaded_key) = homes.key_for(&u.user, &u.path) else { continue };
        let user = homes.name(&u.user);
        if u.expect == Some(file::Outcome::Refused) {
            let i = entry(&mut keys, user, &uploaded_key);
            only(&mut keys, i, Planned::simple(Expect::Absent { why: "the SFTP server refused the upload" }));
            continue;
        }
        if u.interrupt_after.is_some() {
            let i = entry(&mut keys, user, &uploaded_key);
            let why = "the connection dropped before the file was closed";
            only(&mut keys, i, Planned::simple(Expect::Absent { why }));
            continue;
        }
        let key = match &u.rename_to {
            Some(to) => {
                // A `.filepart` never reaches the pipeline. Any other name was a complete object
                // for a moment, so whether it was copied before the rename depends on timing.
                if uploaded_key.ends_with(".filepart") {
                    let i = entry(&mut keys, user.clone(), &uploaded_key);
                    let why = "renamed away; .filepart names are not transferred";
                    only(&mut keys, i, Planned::simple(Expect::Absent { why }));
                } else if let Some(i) = keys.iter().position(|k| k.key == uploaded_key) {
                    keys.remove(i);
                }
                let Some(key) = homes.key_for(&u.user, to) else { continue };
                key
            }
            None => uploaded_key.clone(),
        };
        let content = content_of(u, n);
        let expect = match u.expect {
            None | Some(file::Outcome::Transferred) => {
                Expect::Transferred { content, copy_method: u.copy_method.clone() }
            }
            Some(file::Outcome::Superseded) => Expect::Superseded,
            Some(file::Outcome::Failed) | Some(file::Outcome::Refused) => {
                Expect::Failed { error_contains: u.error_contains.clone() }
            }
        };
        let i = entry(&mut keys, user, &key);
        if keys[i].is_absent() {
            keys[i].uploads.clear();
        }
        // An earlier upload that stated nothing may end either way once this one overwrites it.
        for earlier in keys[i].uploads.iter_mut().filter(|p| !p.stated) {
            if let Expect::Transferred { content, .. } = &earlier.expect {
                earlier.expect = Expect::Overwritten { content: content.clone() };
            }
        }
        keys[i].uploads.push(Planned {
            expect,
            lambda_invocations: u.lambda_invocations,
            copies: u.copies,
            attempts: u.attempts,
            error_type: u.error_type.clone(),
            uploaded_first: u.uploaded_first,
            stated: u.expect.is_some(),
        });
    }
    for key in &scenario.absent_keys {
        let key = key.trim_start_matches('/').to_string();
        let i = entry(&mut keys, String::new(), &key);
        only(&mut keys, i, Planned::simple(Expect::Absent { why: "outside the uploading user's home" }));
    }
    keys
}
