//! The SFTP accounts a run acts as: a fresh key per declared user on targets the harness starts,
//! the partner's own keys (`--user NAME=KEYFILE`) on a deployed stack.

use std::collections::BTreeMap;

use super::User;
use crate::sftp_client::generate_key;

/// The SFTP account a declared user acts as.
#[derive(Clone)]
pub struct Account {
    /// The login name (on AWS, the stack's user, which may differ from the declared name).
    pub name: String,
    /// Its private key.
    pub key: russh::keys::PrivateKey,
}

/// A fresh Ed25519 account per user, named as declared.
pub fn generated(users: &[User]) -> BTreeMap<String, Account> {
    users.iter().map(|u| (u.name.clone(), Account { name: u.name.clone(), key: generate_key() })).collect()
}
