//! The SFTP server's users as a caller declares them ([`UserConfig`]: a name, keys, a home, a
//! session policy), and what the server makes of them: each with its home resolved and its
//! access evaluated as Transfer Family does (the access role's policy ∩ the session policy).

use russh::keys::ssh_key;

use crate::{StartError, sftp};

/// A user of the SFTP server, with their authorized keys.
#[derive(Debug, Clone)]
pub struct UserConfig {
    /// User name (also their folder in the source bucket).
    pub name: String,
    /// Authorized public keys.
    pub keys: Vec<ssh_key::PublicKey>,
    /// Home directory (default: chrooted to `/<source bucket>/<name>`).
    pub home: sftp::users::HomeSpec,
    /// Replaces the shared session policy file for this user (`Some("")`: no session policy).
    pub session_policy: Option<String>,
}

impl UserConfig {
    /// A user chrooted to `/<source bucket>/<name>` with the shared session policy.
    pub fn new(name: &str, keys: Vec<ssh_key::PublicKey>) -> Self {
        Self { name: name.to_string(), keys, home: Default::default(), session_policy: None }
    }

    /// A user with a freshly generated Ed25519 key: the user, and the private key to log in with.
    pub fn with_generated_key(name: &str) -> (Self, ssh_key::PrivateKey) {
        let key = ssh_key::PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519)
            .expect("an Ed25519 key from the system's randomness");
        (Self::new(name, vec![key.public_key().clone()]), key)
    }

    /// The users of a `.tfvars.json` file shared with Terraform.
    pub fn from_file(path: &std::path::Path) -> Result<Vec<Self>, sftp::users::UsersFileError> {
        let entries = sftp::users::load(path)?;
        Ok(entries
            .into_iter()
            .map(|(name, e)| Self {
                keys: e.public_keys().unwrap_or_default(),
                home: e.spec(),
                name,
                session_policy: None,
            })
            .collect())
    }
}

/// The server's users: each declared user with its home and its access (the role's policy ∩
/// its session policy, `${transfer:*}` substituted).
pub fn sftp_users(
    users: &[UserConfig],
    source_bucket: &str,
    role_arn: &str,
    role_policy: &str,
    session_policy: &str,
) -> Result<Vec<sftp::SftpUser>, StartError> {
    users
        .iter()
        .map(|u| {
            let bad = |message: String| StartError::User { user: u.name.clone(), message };
            let home = u.home.home(&u.name, source_bucket).map_err(|e| bad(e.to_string()))?;
            let session = match u.session_policy.as_deref() {
                None => Some(session_policy),
                Some("") => None,
                Some(own) => Some(own),
            };
            let access = sftp::Access::new(role_arn, Some(role_policy), session, &home.policy_variables(&u.name))
                .map_err(|e| bad(e.to_string()))?;
            Ok(sftp::SftpUser { name: u.name.clone(), keys: u.keys.clone(), home, access })
        })
        .collect()
}
