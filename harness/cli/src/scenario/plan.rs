//! What each source key must end as, worked out from the scenario alone before anything runs:
//! per key, every upload of it in order, each with what it must end as.

use std::collections::BTreeMap;

use sim::sftp::Mapping;
use sim::sftp::users::HomeType;

use super::file::{self, Count, Scenario};
use crate::content::Content;

/// A home when none is declared, as the stack's users variable defaults it.
const DEFAULT_HOME: &str = "/${source_bucket}/${transfer:UserName}";

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
    /// The source object exists; its event is in the rule's dead-letter queue and nothing
    /// else exists for it (no execution, record or copy).
    DeadLettered {
        /// The dead-letter message's `ERROR_CODE`.
        error_code: Option<String>,
    },
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
            Expect::Absent { .. } | Expect::DeadLettered { .. } => &[],
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

    /// Whether its event must end in the dead-letter queue.
    pub fn is_dead_lettered(&self) -> bool {
        matches!(self.uploads.last().map(|p| &p.expect), Some(Expect::DeadLettered { .. }))
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

/// A path's segments, `.` and `..` folded (`..` never climbs above `/`). Written here rather
/// than taken from the simulator's SFTP server: the expected keys must not come from the code
/// under test.
fn fold(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty() && *s != ".").fold(Vec::new(), |mut kept, seg| {
        if seg == ".." {
            kept.pop();
        } else {
            kept.push(seg.to_string());
        }
        kept
    })
}

/// `${source_bucket}` and `${transfer:UserName}` (any case) filled in, as Terraform fills them.
fn fill(s: &str, bucket: &str, account: &str) -> String {
    let s = s.replace("${source_bucket}", bucket);
    let marker = "${transfer:username}";
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find(marker) {
        out.push_str(&rest[..i]);
        out.push_str(account);
        rest = &rest[i + marker.len()..];
    }
    out.push_str(rest);
    out
}

/// Where each user's paths land, worked out from the scenario's own declarations (the home
/// type, `home_directory`, the mappings), never from the server under test.
pub struct Homes<'a> {
    /// Declared user -> account name.
    pub names: BTreeMap<&'a str, String>,
    /// Declared user -> its declaration.
    pub users: BTreeMap<&'a str, &'a file::User>,
    /// The source bucket.
    pub source_bucket: &'a str,
}

impl Homes<'_> {
    /// The account name of a declared user.
    pub fn name(&self, user: &str) -> String {
        self.names.get(user).cloned().unwrap_or_else(|| user.to_string())
    }

    fn is_path(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.home_directory_type == Some(HomeType::Path))
    }

    /// The directory relative paths start from: the PATH home, or `/` for LOGICAL users.
    pub fn landing(&self, user: &str) -> String {
        match self.users.get(user) {
            Some(u) if self.is_path(user) => {
                let home = u.home_directory.as_deref().unwrap_or(DEFAULT_HOME);
                format!("/{}", fold(&fill(home, self.source_bucket, &self.name(user))).join("/"))
            }
            _ => "/".to_string(),
        }
    }

    /// The source key a user's path lands on, as the declaration says (`None` outside the
    /// source bucket or the mappings).
    pub fn key_for(&self, user: &str, path: &str) -> Option<String> {
        let u = self.users.get(user)?;
        let account = self.name(user);
        let absolute = if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", self.landing(user)) };
        let segs = fold(&absolute);
        let in_s3: Vec<String> = if self.is_path(user) {
            segs
        } else {
            let default = [Mapping { entry: "/".into(), target: DEFAULT_HOME.into() }];
            let mappings = u.home_directory_mappings.as_deref().unwrap_or(&default);
            let (entry, target) = mappings
                .iter()
                .map(|m| (fold(&m.entry), fold(&fill(&m.target, self.source_bucket, &account))))
                .filter(|(entry, _)| segs.starts_with(entry))
                .max_by_key(|(entry, _)| entry.len())?;
            target.into_iter().chain(segs[entry.len()..].iter().cloned()).collect()
        };
        match in_s3.split_first() {
            Some((bucket, key)) if bucket == self.source_bucket && !key.is_empty() => Some(key.join("/")),
            _ => None,
        }
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
            Some(file::Outcome::DeadLettered) => Expect::DeadLettered { error_code: u.dead_letter_code.clone() },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(toml_text: &str) -> file::User {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn keys_come_from_the_declarations() {
        let acme = user("name = 'acme'");
        let globex = user(
            "name = 'globex'\nhome_directory = '/inbound'\nhome_directory_mappings = [{ entry = '/inbound', target = '/${source_bucket}/${Transfer:UserName}/in' }]",
        );
        let initech = user("name = 'initech'\nhome_directory_type = 'PATH'");
        let homes = Homes {
            names: [("acme", "acme".to_string()), ("globex", "globex".to_string()), ("initech", "initech".to_string())]
                .into_iter()
                .collect(),
            users: [("acme", &acme), ("globex", &globex), ("initech", &initech)].into_iter().collect(),
            source_bucket: "src",
        };
        assert_eq!(homes.key_for("acme", "inbound/a.csv").as_deref(), Some("acme/inbound/a.csv"));
        assert_eq!(homes.key_for("acme", "/../../x.csv").as_deref(), Some("acme/x.csv"));
        // LOGICAL users land on /, whatever home_directory says.
        assert_eq!(homes.key_for("globex", "a.csv"), None);
        assert_eq!(homes.key_for("globex", "/inbound/sub/a.csv").as_deref(), Some("globex/in/sub/a.csv"));
        assert_eq!(homes.key_for("initech", "b.csv").as_deref(), Some("initech/b.csv"));
        assert_eq!(homes.key_for("initech", "../acme/b.csv").as_deref(), Some("acme/b.csv"));
        assert_eq!(homes.key_for("initech", "/other-bucket/b.csv"), None);
        assert_eq!(homes.landing("initech"), "/src/initech");
    }
}
