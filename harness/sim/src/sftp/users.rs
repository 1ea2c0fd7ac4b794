//! Service-managed users as the Terraform stack declares them: the `users` variable of a
//! `.tfvars.json` file, read by Terraform and by the simulator alike.
//!
//! ```json
//! {"users": {"acme": {"ssh_public_keys": ["ssh-ed25519 AAAA... laptop"]},
//!            "initech": {"ssh_public_keys": ["..."], "home_directory_type": "PATH"}}}
//! ```
//! Targets and PATH homes may use `${source_bucket}` (the stack's source bucket, filled in by
//! Terraform and the simulator) and `${transfer:UserName}` (filled in by Transfer Family).
//! Without mappings a LOGICAL user is chrooted to [`DEFAULT_HOME`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::PublicKey;
use serde::Deserialize;

use super::home::{HomeDirectory, HomeError, Mapping};

/// The home every user gets unless the file says otherwise (the same default as Terraform's).
pub const DEFAULT_HOME: &str = "/${source_bucket}/${transfer:UserName}";

/// `HomeDirectoryType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "HomeKind")]
pub enum HomeType {
    /// The bucket namespace is visible (`/bucket/key`); IAM keeps the user in place.
    #[serde(rename = "PATH")]
    Path,
    /// The user sees only their mappings.
    #[default]
    #[serde(rename = "LOGICAL")]
    Logical,
}

/// One user of the `users` variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// OpenSSH public keys (`ssh-ed25519 AAAA... comment`).
    pub ssh_public_keys: Vec<String>,
    /// `LOGICAL` (default) or `PATH`.
    #[serde(default)]
    pub home_directory_type: HomeType,
    /// PATH: the home (`/bucket/prefix`); ignored for LOGICAL users, who land on `/` (AWS reads it
    /// for PATH users only).
    #[serde(default)]
    pub home_directory: Option<String>,
    /// LOGICAL: the mappings (default: `/` to [`DEFAULT_HOME`]).
    #[serde(default)]
    pub home_directory_mappings: Option<Vec<Mapping>>,
}

#[derive(Deserialize)]
struct VariablesFile {
    users: BTreeMap<String, UserEntry>,
}

/// A users file that cannot be used, naming the file and the user.
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    /// Unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the expected JSON.
    #[error("{path}: {source} (expected {{\"users\": {{\"NAME\": {{\"ssh_public_keys\": [...]}}}}}})")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A user's entry is wrong.
    #[error("{path}: user {user:?}: {message}")]
    User {
        /// The file.
        path: PathBuf,
        /// The user.
        user: String,
        /// Why.
        message: String,
    },
}

/// Reads the `users` variable from a `.tfvars.json` file (other variables are ignored).
pub fn load(path: &Path) -> Result<BTreeMap<String, UserEntry>, UsersFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| UsersFileError::Read { path: path.into(), source })?;
    let file: VariablesFile =
        serde_json::from_str(&text).map_err(|source| UsersFileError::Parse { path: path.into(), source })?;
    for (name, entry) in &file.users {
        entry.public_keys().map_err(|message| UsersFileError::User {
            path: path.into(),
            user: name.clone(),
            message,
        })?;
        entry.home(name, "bucket").map_err(|e| UsersFileError::User {
            path: path.into(),
            user: name.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(file.users)
}

/// How a user's home is declared, before `${source_bucket}` is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeSpec {
    /// `LOGICAL` or `PATH`.
    pub home_directory_type: HomeType,
    /// PATH: the home (LOGICAL users land on `/`: AWS ignores it for them).
    pub home_directory: Option<String>,
    /// LOGICAL: the mappings (default: `/` to [`DEFAULT_HOME`]).
    pub home_directory_mappings: Option<Vec<Mapping>>,
}

impl UserEntry {
    /// The home declaration.
    pub fn spec(&self) -> HomeSpec {
        HomeSpec {
            home_directory_type: self.home_directory_type,
            home_directory: self.home_directory.clone(),
            home_directory_mappings: self.home_directory_mappings.clone(),
        }
    }

    /// The parsed public keys; an error names the key that does not parse.
    pub fn public_keys(&self) -> Result<Vec<PublicKey>, String> {
        if self.ssh_public_keys.is_empty() {
            return Err("needs at least one SSH public key".into());
        }
        self.ssh_public_keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                PublicKey::from_openssh(k.trim())
                    .map_err(|e| format!("ssh_public_keys[{i}] is not an OpenSSH public key ({e})"))
            })
            .collect()
    }

    /// The home directory, with `${source_bucket}` filled in.
    pub fn home(&self, user: &str, source_bucket: &str) -> Result<HomeDirectory, HomeError> {
        self.spec().home(user, source_bucket)
    }
}

impl HomeSpec {
    /// The home directory, with `${source_bucket}` filled in.
    pub fn home(&self, user: &str, source_bucket: &str) -> Result<HomeDirectory, HomeError> {
        let fill = |s: &str| s.replace("${source_bucket}", source_bucket);
        match self.home_directory_type {
            HomeType::Path => HomeDirectory::path(&fill(self.home_directory.as_deref().unwrap_or(DEFAULT_HOME)), user),
            HomeType::Logical => {
                let default = [Mapping { entry: "/".into(), target: DEFAULT_HOME.into() }];
                let mappings: Vec<Mapping> = self
                    .home_directory_mappings
                    .as_deref()
                    .unwrap_or(&default)
                    .iter()
                    .map(|m| Mapping { entry: m.entry.clone(), target: fill(&m.target) })
                    .collect();
                // A LOGICAL user's home_directory is ignored, as Transfer Family ignores it.
                HomeDirectory::logical(&mappings, user)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl acme";

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn reads_every_home_type() {
        let f = write(&format!(
            r#"{{"region": "eu-west-1", "users": {{
                "acme": {{"ssh_public_keys": ["{KEY}"]}},
                "globex": {{"ssh_public_keys": ["{KEY}"], "home_directory": "/inbound",
                    "home_directory_mappings": [{{"entry": "/inbound", "target": "/${{source_bucket}}/${{transfer:UserName}}/in"}}]}},
                "initech": {{"ssh_public_keys": ["{KEY}"], "home_directory_type": "PATH"}}}}}}"#
        ));
        let users = load(f.path()).unwrap();
        assert_eq!(users["acme"].home("acme", "src").unwrap().home_dir(), "/src/acme");
        // LOGICAL users land on `/` whatever home_directory says, as in AWS.
        assert_eq!(users["globex"].home("globex", "src").unwrap().landing(), "/");
        let initech = users["initech"].home("initech", "src").unwrap();
        assert_eq!((initech.kind(), initech.landing()), ("PATH", "/src/initech"));
    }

    #[test]
    fn the_example_stack_users_resolve_as_terraform_resolves_them() {
        // infra/tests/stack.tftest.hcl asserts the same homes for this file.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/examples/complete/users.auto.tfvars.json");
        let users = load(&path).unwrap();
        let bucket = "partner-intake-source-123456789012";
        let homes: Vec<(String, &str, String)> = users
            .iter()
            .map(|(name, u)| {
                let home = u.home(name, bucket).unwrap();
                (name.clone(), home.kind(), home.home_dir())
            })
            .collect();
        assert_eq!(
            homes,
            [
                ("acme".to_string(), "LOGICAL", format!("/{bucket}/acme")),
                ("globex".to_string(), "LOGICAL", "/".to_string()),
                ("initech".to_string(), "PATH", format!("/{bucket}/initech")),
            ]
        );
        assert_eq!(users["acme"].public_keys().unwrap().len(), 2);
        let globex = users["globex"].home("globex", bucket).unwrap();
        assert_eq!(
            globex.resolve(&["outbound".to_string(), "r.csv".to_string()]),
            super::super::home::Resolved::S3 { bucket: bucket.into(), key: "globex/outbound/r.csv".into() }
        );
    }

    #[test]
    fn errors_name_the_file_the_user_and_the_field() {
        let f = write(r#"{"users": {"bob": {"ssh_public_keys": ["ssh-ed25519 nope"]}}}"#);
        let e = load(f.path()).unwrap_err().to_string();
        assert!(e.contains("user \"bob\"") && e.contains("ssh_public_keys[0]"), "{e}");
        let f = write(&format!(
            r#"{{"users": {{"bob": {{"ssh_public_keys": ["{KEY}"], "home_directory_mappings": [{{"entry": "in", "target": "/b/x"}}]}}}}}}"#
        ));
        let e = load(f.path()).unwrap_err().to_string();
        assert!(e.contains("user \"bob\"") && e.contains("Entry \"in\""), "{e}");
        let f = write(r#"{"users": {"bob": {"ssh_public_keys": [], "shell": "/bin/sh"}}}"#);
        let e = load(f.path()).unwrap_err().to_string();
        assert!(e.contains("unknown field `shell`"), "{e}");
    }
}
