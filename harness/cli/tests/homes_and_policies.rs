//! Users from a `.tfvars.json` file in the format the Terraform stack reads, served by
//! `harness sim --users`, driven by OpenSSH's `sftp -b` and paramiko: LOGICAL homes with several
//! mappings, a PATH home kept in its folder only by the access role ∩ session policy, the errors
//! a client sees for denied operations and the session log entries behind them, and the idle
//! timeout.

mod common;

use common::{SimProcess, aws, start_sim_with};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUCKET: &str = "partner-intake-source";

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ssh-keygen runs");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap().trim().to_string();
    (key, public)
}

/// Two users as the stack's `users` variable declares them: globex with two logical mappings
/// (and a `home_directory` AWS ignores for LOGICAL users), initech with a PATH home.
struct Stack {
    sim: SimProcess,
    keys: tempfile::TempDir,
}

fn start(extra: &[&str]) -> Stack {
    let keys = tempfile::tempdir().unwrap();
    let (_, globex) = keygen(keys.path(), "globex");
    let (_, initech) = keygen(keys.path(), "initech");
    let users = serde_json::json!({"users": {
        "globex": {
            "ssh_public_keys": [globex],
            "home_directory": "/inbound",
            "home_directory_mappings": [
                {"entry": "/inbound", "target": "/${source_bucket}/${transfer:UserName}/inbound"},
                {"entry": "/outbound", "target": "/${source_bucket}/${transfer:UserName}/outbound"}
            ]
        },
        "initech": {"ssh_public_keys": [initech], "home_directory_type": "PATH"}
    }});
    let file = keys.path().join("users.auto.tfvars.json");
    std::fs::write(&file, users.to_string()).unwrap();
    let mut args = vec!["--users", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    Stack { sim: start_sim_with(&args), keys }
}

impl Stack {
    fn sftp(&self, user: &str, script: &str) -> Output {
        let addr = self.sim.sftp();
        let (host, key) = (addr.ip().to_string(), self.keys.path().join(user));
        let known_hosts = std::path::PathBuf::from(self.sim.get("known_hosts"));
        common::SftpLogin { host: &host, port: addr.port(), user, key: &key, known_hosts: &known_hosts }
            .batch(script, &[])
    }

    fn exists(&self, key: &str) -> bool {
        aws(&self.sim, &["s3api", "head-object", "--bucket", BUCKET, "--key", key]).0
    }

    fn session_log(&self, filter: &str) -> String {
        let group = self.sim.get("sftp_log_group");
        let (ok, out) =
            aws(&self.sim, &["logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", filter]);
        assert!(ok, "{out}");
        out
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tools() -> bool {
    testkit::need(&[("sftp", "-h"), ("aws", "--version"), ("ssh-keygen", "-?")])
}

/// The stack and a small local file to upload, or `None` (with a message) without the tools.
fn start_with_a_file() -> Option<(Stack, PathBuf)> {
    if !tools() {
        return None;
    }
    let stack = start(&[]);
    let local = stack.keys.path().join("a.csv");
    std::fs::write(&local, "id\n1\n").unwrap();
    Some((stack, local))
}

#[test]
fn logical_mappings_show_only_their_entries() {
    let Some((stack, local)) = start_with_a_file() else { return };
    let l = local.display();
    let out = stack.sftp(
        "globex",
        &format!("pwd\nls /\n-put {l}\nput {l} /inbound/a.csv\nput {l} /outbound/b.csv\n-put {l} /elsewhere/c.csv\n-mkdir /newtop\n-put {l} /../../../initech/x.csv\nls /outbound\n"),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // A LOGICAL user lands on `/` whatever home_directory says, as in AWS; a relative path starts there.
    assert!(t.contains("Remote working directory: /\n"), "lands on /: {t}");
    assert!(t.contains(r#"dest open "/a.csv": No such file or directory"#), "{t}");
    let root: Vec<&str> =
        t.split("sftp> ls /\n").nth(1).unwrap().lines().take_while(|l| !l.starts_with("sftp>")).collect();
    assert_eq!(root.join(" ").split_whitespace().collect::<Vec<_>>(), ["/inbound", "/outbound"], "{t}");
    assert!(stack.exists("globex/inbound/a.csv") && stack.exists("globex/outbound/b.csv"), "{t}");
    assert!(t.contains(r#"dest open "/elsewhere/c.csv": No such file or directory"#), "{t}");
    assert!(t.contains(r#"remote mkdir "/newtop": No such file or directory"#), "{t}");
    // `..` folds at the root, then the path is outside every mapping.
    assert!(t.contains(r#"dest open "/../../../initech/x.csv": No such file or directory"#), "{t}");
    assert!(!stack.exists("initech/x.csv") && !stack.exists("globex/initech/x.csv"));
}

#[test]
fn a_path_home_is_kept_in_its_folder_by_the_session_policy() {
    let Some((stack, local)) = start_with_a_file() else { return };
    let l = local.display();
    let out = stack.sftp("globex", &format!("put {l} /inbound/mine.csv\n"));
    assert!(out.status.success(), "{}", text(&out));

    let theirs = format!("/{BUCKET}/globex/inbound/mine.csv");
    let back = stack.keys.path().join("back.csv");
    let out = stack.sftp(
        "initech",
        &format!(
            "pwd\nput {l}\nls\n-ls /{BUCKET}\n-put {l} /{BUCKET}/globex/inbound/evil.csv\n-get {theirs} {}\n-rm {theirs}\n-rename {theirs} /{BUCKET}/initech/stolen.csv\n",
            back.display()
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(&format!("Remote working directory: /{BUCKET}/initech")), "{t}");
    assert!(stack.exists("initech/a.csv"), "uploads into its own folder: {t}");
    // The role may list the bucket and touch every object; the session policy may not.
    for denied in [
        format!(r#"remote readdir("/{BUCKET}/"): Permission denied"#),
        format!(r#"dest open "/{BUCKET}/globex/inbound/evil.csv": Permission denied"#),
        format!(r#"remote delete {theirs}: Permission denied"#),
        format!(r#"remote rename "{theirs}" to "/{BUCKET}/initech/stolen.csv": Permission denied"#),
        // OpenSSH stats before a download; a refused stat reads as "not found".
        format!(r#"File "{theirs}" not found."#),
    ] {
        assert!(t.contains(&denied), "expected {denied:?} in:\n{t}");
    }
    assert!(!back.exists());
    assert!(stack.exists("globex/inbound/mine.csv"), "the other user's file is untouched");
    assert!(!stack.exists("globex/inbound/evil.csv") && !stack.exists("initech/stolen.csv"));

    // Each refusal is an ERROR entry naming the operation and the real path.
    let log = stack.session_log(r#"{ $.message = "Access denied" }"#);
    for (operation, path) in
        [("OPENDIR", format!("/{BUCKET}")), ("OPEN", format!("/{BUCKET}/globex/inbound/evil.csv")), ("DELETE", theirs)]
    {
        let found = log.lines().any(|line| {
            line.contains(r#""message": "{"#)
                && line.contains(&format!(r#"\"operation\":\"{operation}\""#))
                && line.contains(&format!(r#"\"path\":\"{path}\""#))
        });
        assert!(found, "no ERROR entry for {operation} {path} in:\n{log}");
    }
}

const IDLE: &str = r#"
import sys, time, paramiko
host, port, user, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
sftp = paramiko.SFTPClient.from_transport(t)
print("listed", sftp.listdir("/"))
deadline = time.time() + 60
while t.is_active() and time.time() < deadline:
    time.sleep(0.2)
print("closed by the server" if not t.is_active() else "still open")
"#;

#[test]
fn idle_connections_are_closed() {
    if !tools() {
        return;
    }
    let stack = start(&["--idle-timeout", "2"]);
    let addr = stack.sim.sftp();
    let (ip, port, key) = (addr.ip().to_string(), addr.port().to_string(), stack.keys.path().join("globex"));
    let args = [ip.as_ref(), port.as_ref(), "globex".as_ref(), key.as_os_str()];
    let Some((ok, t)) = common::run_paramiko(IDLE, &args) else { return };
    assert!(ok, "{t}");
    assert!(
        t.contains("listed ['.', '..', 'inbound', 'outbound']") || t.contains("listed ['inbound', 'outbound']"),
        "{t}"
    );
    assert!(t.contains("closed by the server"), "{t}");
    let log = stack.session_log(r#"{ $.activity-type = "DISCONNECTED" }"#);
    assert!(log.contains("globex"), "{log}");
}

const DENIALS: &str = r#"
import sys, io, paramiko
host, port, user, key, bucket = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
t = paramiko.Transport((host, port))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
sftp = paramiko.SFTPClient.from_transport(t)
print("home", sftp.normalize("."))
sftp.putfo(io.BytesIO(b"id\n1\n"), "own.csv")
refused("list the bucket", lambda: sftp.listdir("/" + bucket))
refused("write another folder", lambda: sftp.putfo(io.BytesIO(b"x"), "/" + bucket + "/globex/inbound/p.csv"))
refused("delete another folder's file", lambda: sftp.remove("/" + bucket + "/globex/inbound/mine.csv"))
t.close()
"#;

#[test]
fn paramiko_sees_the_denials() {
    let Some((stack, local)) = start_with_a_file() else { return };
    let out = stack.sftp("globex", &format!("put {} /inbound/mine.csv\n", local.display()));
    assert!(out.status.success(), "{}", text(&out));
    let addr = stack.sim.sftp();
    let (ip, port, key) = (addr.ip().to_string(), addr.port().to_string(), stack.keys.path().join("initech"));
    let args = [ip.as_ref(), port.as_ref(), "initech".as_ref(), key.as_os_str(), BUCKET.as_ref()];
    let Some((ok, t)) = common::run_paramiko(DENIALS, &args) else { return };
    assert!(ok, "{t}");
    assert!(t.contains(&format!("home /{BUCKET}/initech")), "{t}");
    for what in ["list the bucket", "write another folder", "delete another folder's file"] {
        assert!(t.contains(&format!("refused {what} yes: [Errno 13] Access denied")), "{what}: {t}");
    }
    assert!(stack.exists("initech/own.csv") && stack.exists("globex/inbound/mine.csv"));
}
