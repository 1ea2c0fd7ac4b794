//! Structured session logs, one JSON object per activity, as Transfer Family writes them to
//! `/aws/transfer/<server-id>` in a stream named `<user>.<session-id>`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use russh::keys::ssh_key::{HashAlg, PublicKey};
use serde_json::{Map, Value, json};

use super::SftpUser;
use crate::logs::LogStore;

#[derive(Default)]
struct Facts {
    user: Option<String>,
    client: String,
    connected: bool,
}

/// The log of one SSH session.
#[derive(Clone)]
pub struct SessionLog {
    logs: Arc<LogStore>,
    group: String,
    session_id: String,
    source_ip: String,
    /// The server's ARN: AWS's example entries carry it as `resource-arn` in every activity
    /// (https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html).
    resource_arn: String,
    facts: Arc<Mutex<Facts>>,
    /// Activity types not logged (the harness's own tests break logging on purpose).
    dropped: Vec<&'static str>,
}

impl SessionLog {
    /// A new session from `peer`.
    pub fn new(logs: Arc<LogStore>, server_id: &str, peer: SocketAddr, breaks: &crate::breaks::Breaks) -> Self {
        use crate::breaks::Break;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dropped = [(Break::DropCloseLog, "CLOSE"), (Break::DropAuthFailureLog, "AUTH_FAILURE")]
            .into_iter()
            .filter(|(b, _)| breaks.has(*b))
            .map(|(_, a)| a)
            .collect();
        Self {
            logs,
            group: super::SftpServer::log_group_of(server_id),
            session_id: id[..16].to_string(),
            source_ip: peer.ip().to_string(),
            resource_arn: server_arn(server_id),
            facts: Arc::default(),
            dropped,
        }
    }

    /// The 16-hex-digit session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    fn write(&self, user: &str, mut entry: Map<String, Value>) {
        if entry.get("activity-type").and_then(Value::as_str).is_some_and(|a| self.dropped.contains(&a)) {
            return;
        }
        entry.insert("session-id".into(), json!(self.session_id));
        let stream = format!("{user}.{}", self.session_id);
        self.logs.put(&self.group, &stream, Value::Object(entry).to_string());
    }

    fn activity(&self, activity: &str, extra: Value) {
        let Some(user) = self.facts.lock().unwrap().user.clone() else { return };
        let mut entry = Map::new();
        entry.insert("activity-type".into(), json!(activity));
        entry.insert("resource-arn".into(), json!(self.resource_arn));
        if let Value::Object(extra) = extra {
            entry.extend(extra);
        }
        self.write(&user, entry);
    }

    /// Records the client's SSH identification string.
    pub fn set_client(&self, client: &str) {
        self.facts.lock().unwrap().client = client.trim().to_string();
    }

    /// A successful login with `key`, assuming `role`, over the key exchange and ciphers
    /// (`c2s,s2c`) the connection uses.
    pub fn connected(&self, user: &SftpUser, role: &str, key: &PublicKey, kex: &str, ciphers: &str) {
        let client = {
            let mut f = self.facts.lock().unwrap();
            f.user = Some(user.name.clone());
            f.connected = true;
            if f.client.is_empty() { "SSH-2.0-unknown".to_string() } else { f.client.clone() }
        };
        let extra = json!({
            "user": user.name, "role": role, "home-dir": user.home_dir(), "source-ip": self.source_ip,
            "client": client, "ciphers": ciphers, "kex": kex,
            "ssh-public-key": key_body(key),
            "ssh-public-key-fingerprint": fingerprint(key),
            "ssh-public-key-type": key.algorithm().as_str(),
        });
        self.activity("CONNECTED", extra);
    }

    /// A refused login.
    pub fn auth_failure(&self, user: &str, method: &str, fingerprint: &str) {
        let mut entry = Map::new();
        entry.insert("activity-type".into(), json!("AUTH_FAILURE"));
        entry.insert("user".into(), json!(user));
        entry.insert("source-ip".into(), json!(self.source_ip));
        entry.insert("method".into(), json!(method));
        entry.insert("key-fingerprint".into(), json!(fingerprint));
        entry.insert("message".into(), json!("Invalid user name or public key"));
        self.write(user, entry);
    }

    /// A file opened.
    pub fn open(&self, path: &str, mode: &str) {
        self.activity("OPEN", json!({"path": path, "mode": mode}));
    }

    /// A file closed after `bytes_in` bytes were written.
    pub fn close(&self, path: &str, bytes_in: u64) {
        self.activity("CLOSE", json!({"path": path, "bytes-in": bytes_in.to_string()}));
    }

    /// A file read and closed after `bytes_out` bytes were sent.
    pub fn close_read(&self, path: &str, bytes_out: u64) {
        self.activity("CLOSE", json!({"path": path, "bytes-out": bytes_out.to_string()}));
    }

    /// Any other path activity (MKDIR, DELETE, RMDIR, SETSTAT).
    pub fn path_activity(&self, activity: &str, path: &str) {
        self.activity(activity, json!({"path": path}));
    }

    /// A rename.
    pub fn rename(&self, from: &str, to: &str) {
        self.activity("RENAME", json!({"path": from, "new-path": to}));
    }

    /// A failed operation.
    pub fn error(&self, operation: &str, path: &str, message: &str) {
        self.activity("ERROR", json!({"path": path, "operation": operation, "message": message}));
    }

    /// The end of the session.
    pub fn disconnected(&self) {
        if self.facts.lock().unwrap().connected {
            self.activity("DISCONNECTED", json!({}));
        }
    }
}

/// `arn:aws:transfer:<region>:<account>:server/<server-id>`, the ARN AWS logs as `resource-arn`.
pub fn server_arn(server_id: &str) -> String {
    format!("arn:aws:transfer:{}:{}:server/{server_id}", crate::REGION, crate::ACCOUNT_ID)
}

/// The key body as `ssh-public-key` carries it: the base64 of the key blob, without the
/// algorithm name before it or the comment after it ("The public key body for the user",
/// https://docs.aws.amazon.com/transfer/latest/userguide/cw-structure-logs.html).
fn key_body(key: &PublicKey) -> String {
    use base64::Engine as _;
    // The wire blob is what authorized_keys writes in base64; encoding it ourselves avoids
    // parsing our own `to_openssh` output back apart.
    let blob = key.to_bytes().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(blob)
}

/// `SHA256:` and the unpadded base64 digest, as OpenSSH prints it and as the log carries it
/// ("this padding is stripped", https://docs.aws.amazon.com/transfer/latest/userguide/cw-structure-logs.html).
fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sftp::{Access, HomeDirectory, SftpServer};

    /// The four entries of AWS's example session, verbatim from
    /// https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html (CONNECTED, OPEN,
    /// CLOSE, DISCONNECTED).
    const AWS_EXAMPLE: [&str; 4] = [
        r#"{ "role": "arn:aws:iam::500655546075:role/transfer-s3", "activity-type": "CONNECTED", "ciphers": "chacha20-poly1305@openssh.com,chacha20-poly1305@openssh.com", "client": "SSH-2.0-OpenSSH_7.4", "source-ip": "52.94.133.133", "resource-arn": "arn:aws:transfer:us-east-1:500655546075:server/s-3fe215d89f074ed2a", "home-dir": "/test/log-me", "ssh-public-key": "AAAAC3NzaC1lZDI1NTE5AAAAIA9OY0qV6XYVHaaOiWAcj2spDJVbgjrqDPY4pxd6GnHl", "ssh-public-key-fingerprint": "SHA256:BY3gNMHwTfjd4n2VuT4pTyLOk82zWZj4KEYEu7y4r/0", "ssh-public-key-type": "ssh-ed25519", "user": "log-me", "kex": "ecdh-sha2-nistp256", "session-id": "9ca9a0e1cec6ad9d" }"#,
        r#"{ "mode": "CREATE|TRUNCATE|WRITE", "path": "/test/log-me/config-file", "activity-type": "OPEN", "resource-arn": "arn:aws:transfer:us-east-1:500655546075:server/s-3fe215d89f074ed2a", "session-id": "9ca9a0e1cec6ad9d" }"#,
        r#"{ "path": "/test/log-me/config-file", "activity-type": "CLOSE", "resource-arn": "arn:aws:transfer:us-east-1:500655546075:server/s-3fe215d89f074ed2a", "bytes-in": "121", "session-id": "9ca9a0e1cec6ad9d" }"#,
        r#"{ "activity-type": "DISCONNECTED", "resource-arn": "arn:aws:transfer:us-east-1:500655546075:server/s-3fe215d89f074ed2a", "session-id": "9ca9a0e1cec6ad9d" }"#,
    ];

    /// The key AWS's example user logged in with, as an authorized_keys line: the type and the
    /// body of the example's CONNECTED entry (the comment is ours; AWS logs none).
    const AWS_KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA9OY0qV6XYVHaaOiWAcj2spDJVbgjrqDPY4pxd6GnHl log-me@example";

    fn aws(i: usize) -> Map<String, Value> {
        serde_json::from_str(AWS_EXAMPLE[i]).unwrap()
    }

    /// Replays AWS's example session (user `log-me`, home `/test/log-me`, one 121-byte upload)
    /// through a `SessionLog` and returns the entries it wrote, in order.
    fn replay_example() -> (String, Vec<Map<String, Value>>) {
        let logs = Arc::new(LogStore::default());
        let peer: SocketAddr = "52.94.133.133:50022".parse().unwrap();
        let server_id = "s-3fe215d89f074ed2a";
        let log = SessionLog::new(logs.clone(), server_id, peer, &crate::breaks::Breaks::default());
        let user = SftpUser {
            name: "log-me".into(),
            keys: vec![],
            home: HomeDirectory::path("/test/log-me", "log-me").unwrap(),
            access: Access::unrestricted("log-me"),
        };
        let key = PublicKey::from_openssh(AWS_KEY).unwrap();
        log.set_client("SSH-2.0-OpenSSH_7.4\r\n");
        let ciphers = "chacha20-poly1305@openssh.com,chacha20-poly1305@openssh.com";
        log.connected(&user, "arn:aws:iam::500655546075:role/transfer-s3", &key, "ecdh-sha2-nistp256", ciphers);
        log.open("/test/log-me/config-file", "CREATE|TRUNCATE|WRITE");
        log.close("/test/log-me/config-file", 121);
        log.disconnected();
        let stream = format!("log-me.{}", log.session_id());
        let entries = logs
            .events(&SftpServer::log_group_of(server_id), &stream)
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(&e.message).unwrap())
            .collect();
        (log.session_id().to_string(), entries)
    }

    fn keys(m: &Map<String, Value>) -> Vec<&str> {
        let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    /// Our server ARN in AWS's format; the example's region and account are AWS's, not ours.
    fn is_server_arn(v: &Value, server_id: &str) -> bool {
        v.as_str() == Some(server_arn(server_id).as_str())
            && v.as_str().unwrap().starts_with("arn:aws:transfer:")
            && v.as_str().unwrap().ends_with(":server/s-3fe215d89f074ed2a")
    }

    /// Each entry of a replayed session has exactly the keys of AWS's example entry of the same
    /// activity, every value a string, and `resource-arn` the server's ARN
    /// (https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html).
    #[test]
    fn entries_have_the_fields_of_aws_example() {
        let (session_id, ours) = replay_example();
        assert_eq!(ours.len(), 4, "{ours:?}");
        for (i, entry) in ours.iter().enumerate() {
            let theirs = aws(i);
            assert_eq!(keys(entry), keys(&theirs), "entry {i}: {entry:?}");
            assert_eq!(entry["activity-type"], theirs["activity-type"]);
            for (k, v) in entry {
                assert!(v.is_string(), "entry {i}: {k} is {v}, AWS logs strings");
            }
            assert!(is_server_arn(&entry["resource-arn"], "s-3fe215d89f074ed2a"), "{}", entry["resource-arn"]);
            assert_eq!(entry["session-id"], json!(session_id));
        }
        // AWS's session id is 16 lowercase hex digits, as ours.
        assert!(session_id.len() == 16 && session_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    /// Where the example session and ours are the same facts (user, home, client, source ip,
    /// role, algorithms, key, path, size, mode), the values are AWS's, character for character
    /// (https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html).
    #[test]
    fn values_match_aws_example() {
        let (_, ours) = replay_example();
        for (i, entry) in ours.iter().enumerate() {
            let theirs = aws(i);
            for (k, v) in &theirs {
                if matches!(k.as_str(), "session-id" | "resource-arn") {
                    continue;
                }
                assert_eq!(&entry[k], v, "entry {i} field {k}");
            }
        }
    }

    /// CONNECTED's key fields come from the key the client logged in with: the body without its
    /// type or comment, OpenSSH's `SHA256:` fingerprint without padding, and the type
    /// (https://docs.aws.amazon.com/transfer/latest/userguide/cw-structure-logs.html,
    /// values from https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html).
    #[test]
    fn key_fields_are_awss_for_awss_key() {
        let key = PublicKey::from_openssh(AWS_KEY).unwrap();
        assert_eq!(key_body(&key), "AAAAC3NzaC1lZDI1NTE5AAAAIA9OY0qV6XYVHaaOiWAcj2spDJVbgjrqDPY4pxd6GnHl");
        assert_eq!(fingerprint(&key), "SHA256:BY3gNMHwTfjd4n2VuT4pTyLOk82zWZj4KEYEu7y4r/0");
        assert!(!fingerprint(&key).ends_with('='));
        assert_eq!(key.algorithm().as_str(), "ssh-ed25519");
    }
}
