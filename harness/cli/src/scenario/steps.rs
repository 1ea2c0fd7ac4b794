//! The SFTP side of a scenario: each account logs in, creates directories, uploads, lists, and
//! tries to leave its home; login attempts with chosen keys.

use std::collections::BTreeMap;
use std::time::Instant;

use super::checks::{Failure, judged};
use super::file;
use super::plan::content_of;
use crate::report::{Check, Stage};
use crate::sftp_client::{ClientError, SftpClient, generate_key};
use crate::targets::{Account, Target};

/// A scenario path in the user's view: absolute as written, or from the landing directory.
fn absolute(landing: &str, path: &str) -> String {
    if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", landing.trim_end_matches('/')) }
}

async fn connect(ep: &Target, user: &str, key: &russh::keys::PrivateKey) -> Result<SftpClient, ClientError> {
    SftpClient::connect(&ep.sftp_host, ep.sftp_port, ep.host_key_fingerprint.clone(), user, key).await
}

/// One account's SFTP session: log in, create directories, upload, list, and try to leave the
/// home (for a PATH home, `path_bucket` names the bucket it must not list).
pub async fn sftp_steps(
    ep: &Target,
    account: &Account,
    landing: &str,
    path_bucket: Option<&str>,
    dirs: Vec<&file::Directory>,
    files: Vec<(usize, &file::Upload)>,
) -> Vec<Check> {
    let name = &account.name;
    let t = Instant::now();
    let mut checks = Vec::new();
    let client = match connect(ep, name, &account.key).await {
        Ok(c) => {
            let pinned = ep.host_key_fingerprint.as_deref().unwrap_or("not pinned");
            checks.push(judged(
                Stage::Sftp,
                format!("{name} logs in with its SSH key"),
                t,
                Ok(format!("host key {pinned}")),
            ));
            c
        }
        Err(e) => {
            checks.push(judged(Stage::Sftp, format!("{name} logs in with its SSH key"), t, Err(e.into())));
            return checks;
        }
    };
    for d in dirs {
        let t = Instant::now();
        let dir = absolute(landing, d.path.trim_end_matches('/'));
        let result = client.mkdir_all(&dir).await;
        checks.push(judged(
            Stage::Sftp,
            format!("{name} creates directory {dir}"),
            t,
            result.map(|_| String::new()).map_err(Failure::from),
        ));
    }
    let mut uploaded: Vec<String> = Vec::new();
    for (i, f) in files {
        let t = Instant::now();
        let path = absolute(landing, &f.path);
        let content = content_of(f, i);
        let parent = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        if let Some(cut) = f.interrupt_after {
            // A separate connection, dropped mid-file like a partner's lost network.
            let result = async {
                client.mkdir_all(parent).await?;
                let other = connect(ep, name, &account.key).await?;
                other.upload_and_drop(&path, &content, cut).await
            }
            .await;
            checks.push(judged(
                Stage::Sftp,
                format!("{name} drops the connection {cut} bytes into {path}"),
                t,
                result.map(|n| format!("{n} bytes sent, file never closed")).map_err(Failure::from),
            ));
            continue;
        }
        let renamed_to = f.rename_to.as_deref().map(|to| absolute(landing, to));
        let refused = f.expect == Some(file::Outcome::Refused);
        let result = async {
            // A refusal is about the write itself, not the directories on the way.
            if !refused {
                client.mkdir_all(parent).await?;
            }
            let up = client.upload(&path, &content).await?;
            if let Some(to) = &renamed_to {
                client.rename(&path, to).await?;
            }
            Ok::<_, ClientError>(up)
        }
        .await;
        if refused {
            let wanted = f.error_contains.as_deref().unwrap_or("");
            let outcome = match result {
                Ok(up) => {
                    Err(Failure::Saw(format!("the server accepted {} bytes; it must refuse this path", up.bytes)))
                }
                Err(e) if e.to_string().contains(wanted) => Ok(e.to_string()),
                Err(e) => Err(Failure::Saw(format!("refused, but not with {wanted:?}: {e}"))),
            };
            checks.push(judged(Stage::Sftp, format!("{name} is refused an upload to {path}"), t, outcome));
            continue;
        }
        if result.is_ok() {
            uploaded.push(renamed_to.clone().unwrap_or_else(|| path.clone()));
        }
        let renamed = renamed_to.map(|to| format!(" and renames it to {to}")).unwrap_or_default();
        checks.push(judged(
            Stage::Sftp,
            format!("{name} uploads {path}{renamed}"),
            t,
            // The hash of the bytes as they were sent: never generated twice.
            result.map(|up| format!("{} bytes, sha256 {}", up.bytes, up.sha256)).map_err(Failure::from),
        ));
    }
    if !uploaded.is_empty() {
        let t = Instant::now();
        let mut missing = Vec::new();
        for path in &uploaded {
            let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            match client.list(if dir.is_empty() { "/" } else { dir }).await {
                Ok(names) if names.iter().any(|n| n == file) => {}
                Ok(_) => missing.push(path.clone()),
                Err(e) => missing.push(format!("{path} ({e})")),
            }
        }
        checks.push(judged(
            Stage::Sftp,
            format!("{name} sees its uploads in directory listings"),
            t,
            if missing.is_empty() {
                Ok(format!("{} file(s) listed", uploaded.len()))
            } else {
                Err(Failure::Saw(format!("not listed: {missing:?}")))
            },
        ));
    }
    let t = Instant::now();
    checks.push(match path_bucket {
        None => {
            judged(Stage::Sftp, format!("{name} cannot leave its home (/.., //, ../..)"), t, stays_home(&client).await)
        }
        Some(bucket) => judged(
            Stage::Sftp,
            format!("{name} cannot read outside its PATH home {landing}"),
            t,
            stays_in_path_home(&client, landing, bucket).await,
        ),
    });
    client.close().await;
    checks
}

/// One login attempt with the key the scenario names.
pub async fn login_attempt(
    ep: &Target,
    accounts: &BTreeMap<String, Account>,
    login: &file::Login,
    index: usize,
) -> Check {
    let t = Instant::now();
    let user = &accounts[&login.user].name;
    let (key, which) = match &login.key {
        file::LoginKey::Own => (accounts[&login.user].key.clone(), "its own key".to_string()),
        file::LoginKey::Unknown => (generate_key(), "an unknown key".to_string()),
        file::LoginKey::OtherUser(o) => (accounts[o].key.clone(), format!("{}'s key", accounts[o].name)),
    };
    let result = connect(ep, user, &key).await;
    let verdict = match (login.expect, result) {
        (file::LoginOutcome::Accepted, Ok(c)) => {
            c.close().await;
            Ok("logged in".to_string())
        }
        (file::LoginOutcome::Refused, Err(ClientError::AuthRefused { .. })) => {
            Ok("the server refused the key".to_string())
        }
        (file::LoginOutcome::Accepted, Err(e)) => Err(e.into()),
        (file::LoginOutcome::Refused, Ok(c)) => {
            c.close().await;
            Err(Failure::Saw("the server let it in".to_string()))
        }
        (file::LoginOutcome::Refused, Err(e)) => {
            Err(Failure::Saw(format!("failed otherwise than by refusing the key: {e}")))
        }
    };
    let expect = if login.expect == file::LoginOutcome::Accepted { "logs in" } else { "is refused" };
    judged(Stage::Sftp, format!("login {index}: {user} with {which} {expect}"), t, verdict)
}

/// A PATH home: the user lands in it, sees the bucket's namespace, but may not list the bucket
/// itself or another folder in it (the session policy keeps it in its folder).
async fn stays_in_path_home(client: &SftpClient, home: &str, bucket: &str) -> Result<String, Failure> {
    let here = client.realpath(".").await?;
    if here != home {
        return Err(Failure::Saw(format!("it lands in {here}, not in its home {home}")));
    }
    client.list(home).await?;
    for outside in [format!("/{bucket}"), format!("/{bucket}/{}", uuid::Uuid::new_v4().simple())] {
        match client.list(&outside).await {
            Ok(names) => return Err(Failure::Saw(format!("listing {outside} showed {} entries", names.len()))),
            Err(e) if e.to_string().contains("denied") || e.to_string().contains("No such file") => {}
            Err(e) => return Err(Failure::Saw(format!("listing {outside} failed otherwise than by a refusal: {e}"))),
        }
    }
    Ok(format!("lands in {home}; /{bucket} and another folder in it are refused"))
}

/// Every way up resolves to the home itself, and lists the same entries as `/`.
async fn stays_home(client: &SftpClient) -> Result<String, Failure> {
    let root = client.list("/").await?;
    for attempt in ["/..", "//..", "../..", "/./../../", "/../../etc"] {
        let real = client.realpath(attempt).await?;
        if !(real == "/" || (attempt.ends_with("etc") && real == "/etc")) {
            return Err(Failure::Saw(format!("{attempt} resolves to {real}, outside the home")));
        }
    }
    let above = client.list("/..").await?;
    // Other users' uploads may land in this home meanwhile (when a broken policy lets them):
    // /.. must show the home as it was just before or just after.
    if above != root {
        let after = client.list("/").await?;
        if above != after {
            return Err(Failure::Saw(format!("listing /.. shows {above:?}, the home shows {after:?}")));
        }
    }
    Ok(format!("/.. resolves to /; {} entries in the home", root.len()))
}
