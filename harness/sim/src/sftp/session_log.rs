//! Structured session logs, one JSON object per activity, as Transfer Family writes them to
//! `/aws/transfer/<server-id>` in a stream named `<user>.<session-id>`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::{SftpConfig, SftpUser};
use crate::logs::LogStore;

#[derive(Default)]
struct Facts {
    user: Option<String>,
    role: String,
    resource_arn: String,
    home_dir: String,
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
        let f = self.facts.lock().unwrap();
        let Some(user) = f.user.clone() else { return };
        let mut entry = Map::new();
        entry.insert("activity-type".into(), json!(activity));
        entry.insert("resource-arn".into(), json!(f.resource_arn));
        if let Value::Object(extra) = extra {
            entry.extend(extra);
        }
        drop(f);
        self.write(&user, entry);
    }

    /// Records the client's SSH identification string.
    pub fn set_client(&self, client: &str) {
        self.facts.lock().unwrap().client = client.trim().to_string();
    }

    /// A successful login, with the key exchange and ciphers (`c2s,s2c`) the connection uses.
    pub fn connected(&self, user: &SftpUser, config: &SftpConfig, kex: &str, ciphers: &str) {
        let resource_arn =
            format!("arn:aws:transfer:{}:{}:user/{}/{}", crate::REGION, crate::ACCOUNT_ID, config.server_id, user.name);
        {
            let mut f = self.facts.lock().unwrap();
            f.user = Some(user.name.clone());
            f.role = config.role_arn.clone();
            f.resource_arn = resource_arn;
            f.home_dir = user.home_dir();
            f.connected = true;
        }
        let f = self.facts.lock().unwrap();
        let extra = json!({
            "user": user.name, "role": f.role, "home-dir": f.home_dir, "source-ip": self.source_ip,
            "client": if f.client.is_empty() { "SSH-2.0-unknown" } else { f.client.as_str() },
            "ciphers": ciphers, "kex": kex,
        });
        drop(f);
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
