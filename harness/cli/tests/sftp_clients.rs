//! Real SFTP clients against the simulator over real sockets: OpenSSH's `sftp -b`, curl's
//! `sftp://` and paramiko. The shared client scripts also run against OpenSSH's sshd with
//! `internal-sftp` (started here on a loopback port), proving the scripts themselves are right
//! where the two servers should agree. Each part skips with a message where its client is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// An SFTP server under test and how to log in.
struct Server {
    host: String,
    port: u16,
    user: String,
    key: PathBuf,
    known_hosts: PathBuf,
    host_fingerprint_b64: String,
    _keep: Box<dyn std::any::Any>,
}

impl Server {
    /// Runs a paramiko `script` against this server: its arguments are host, port, user and
    /// key file, then `extra`. `None` where paramiko cannot be had (outside CI).
    fn paramiko(&self, script: &str, extra: &[&str]) -> Option<(bool, String)> {
        let port = self.port.to_string();
        let mut args: Vec<&std::ffi::OsStr> =
            vec![self.host.as_ref(), port.as_ref(), self.user.as_ref(), self.key.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        common::run_paramiko(script, &args)
    }
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim() -> Server {
    start_sim_with(&[])
}

fn start_sim_with(extra: &[&str]) -> Server {
    let sim = common::start_sim_with(extra);
    let addr = sim.sftp();
    Server {
        host: addr.ip().to_string(),
        port: addr.port(),
        user: sim.get("user").into(),
        key: sim.get("private_key").into(),
        known_hosts: sim.get("known_hosts").into(),
        host_fingerprint_b64: sim.get("host_key_fingerprint").trim_start_matches("SHA256:").into(),
        _keep: Box::new(sim),
    }
}

/// OpenSSH's sshd with internal-sftp, chrooted to a fresh directory, on a free loopback port;
/// `Err` says why not (with sshd's stderr where it ran).
fn start_sshd() -> Result<Server, String> {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("no /usr/sbin/sshd (apt-get install openssh-server; .ci/run does)")?;
    fn io(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    // sshd chroots only into directories whose every component is root-owned and not writable by
    // others, which rules out /tmp; /run is such a place on Debian.
    let dir = tempfile::Builder::new().prefix("harness-sshd-").tempdir_in("/run").map_err(io("a directory in /run"))?;
    let d = dir.path();
    let keygen = |name: &str| {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join(name))
            .output()
            .map_err(io("ssh-keygen"))?;
        if out.status.success() { Ok(()) } else { Err(format!("ssh-keygen: {}", text(&out))) }
    };
    keygen("host")?;
    keygen("user")?;
    std::fs::copy(d.join("user.pub"), d.join("authorized_keys")).map_err(io("authorized_keys"))?;
    let chroot = d.join("chroot");
    std::fs::create_dir(&chroot).map_err(io("the chroot"))?;
    let _ = std::fs::create_dir_all("/run/sshd");
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(io("a free port"))?.port();
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().map_err(io("id -un"))?.stdout)
        .trim()
        .to_string();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {auth}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\nChrootDirectory {chroot}\nForceCommand internal-sftp\n",
        host = d.join("host").display(),
        pid = d.join("sshd.pid").display(),
        auth = d.join("authorized_keys").display(),
        chroot = chroot.display(),
    );
    std::fs::write(d.join("sshd_config"), config).map_err(io("sshd_config"))?;
    let log = d.join("sshd.log");
    let stderr = std::fs::File::create(&log).map_err(io("sshd.log"))?;
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stderr(stderr)
        .spawn()
        .map_err(io("sshd"))?;
    let mut guard = ChildGuard(child);
    let said = || std::fs::read_to_string(&log).unwrap_or_default().trim().replace('\n', " | ");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = guard.0.try_wait() {
            return Err(format!("sshd exited ({status}): {}", said()));
        }
        if Instant::now() > deadline {
            return Err(format!("sshd did not listen within 10 s: {}", said()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let host_pub = std::fs::read_to_string(d.join("host.pub")).map_err(io("host.pub"))?;
    std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {host_pub}")).map_err(io("known_hosts"))?;
    let fp = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(d.join("host.pub"))
        .output()
        .map_err(io("ssh-keygen -l"))?;
    let fp = String::from_utf8_lossy(&fp.stdout)
        .split_whitespace()
        .nth(1)
        .ok_or("ssh-keygen -l printed no fingerprint")?
        .trim_start_matches("SHA256:")
        .to_string();
    Ok(Server {
        host: "127.0.0.1".into(),
        port,
        user,
        key: d.join("user"),
        known_hosts: d.join("known_hosts"),
        host_fingerprint_b64: fp,
        _keep: Box::new((guard, dir)),
    })
}

fn sftp_batch(server: &Server, script: &str) -> Output {
    sftp_batch_with(server, script, &[])
}

fn sftp_batch_with(server: &Server, script: &str, options: &[&str]) -> Output {
    let login = common::SftpLogin {
        host: &server.host,
        port: server.port,
        user: &server.user,
        key: &server.key,
        known_hosts: &server.known_hosts,
    };
    login.batch(script, options)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn local_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// The part of the OpenSSH script both servers must accept: mkdir, put, ls.
fn common_script(local: &Path) -> String {
    format!("mkdir inbound\ncd inbound\nput {}\nls -l\n", local.display())
}

#[test]
fn openssh_sftp_against_the_simulator() {
    if !testkit::need(&[("sftp", "-h")]) {
        return;
    }
    let server = start_sim();
    let dir = tempfile::tempdir().unwrap();
    let local = local_file(dir.path(), "orders.csv", "id\n1\n");
    let out = sftp_batch(&server, &common_script(&local));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("orders.csv"), "{}", text(&out));

    // Rename is copy + delete; rm removes; a chmod is refused with the client's own message.
    let script = "cd inbound\nrename orders.csv renamed.csv\nls\n-chmod 600 renamed.csv\nrm renamed.csv\nls\n";
    let out = sftp_batch(&server, script);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("renamed.csv"), "{t}");
    assert!(t.contains("Permission denied"), "chmod must be refused: {t}");
    // An empty directory renames; one with contents is refused.
    let script = format!(
        "mkdir empty\nrename empty moved\nls\nmkdir full\nput {} full/x.csv\n-rename full other\nls\n",
        local.display()
    );
    let out = sftp_batch(&server, &script);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let listed: Vec<&str> = t.lines().filter(|l| !l.starts_with("sftp>") && !l.starts_with("remote")).collect();
    assert!(listed.iter().any(|l| l.contains("moved")) && !listed.iter().any(|l| l.contains("other")), "{t}");
    assert!(t.contains("remote rename \"/full\" to \"/other\": Failure"), "renaming a full directory must fail: {t}");
    // Downloads work (read-only opens become ranged GetObjects), byte for byte.
    let big = local_file(dir.path(), "big.csv", &"0123456789abcdef".repeat(40_000));
    let back = dir.path().join("back.csv");
    let out = sftp_batch(&server, &format!("put {} big.csv\nget big.csv {}\n", big.display(), back.display()));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&big).unwrap(), "downloaded bytes differ");
}

#[test]
fn the_common_openssh_script_is_right_against_sshd() {
    if !testkit::need(&[("sftp", "-h")]) {
        return;
    }
    let server = match start_sshd() {
        Ok(server) => server,
        Err(why) => return testkit::unavailable("OpenSSH's sshd", &why),
    };
    let dir = tempfile::tempdir().unwrap();
    let local = local_file(dir.path(), "orders.csv", "id\n1\n");
    let out = sftp_batch(&server, &common_script(&local));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("orders.csv"), "{}", text(&out));
}

fn curl_upload(server: &Server, local: &Path, remote: &str) -> Output {
    let public = {
        let out = Command::new("ssh-keygen").args(["-y", "-f"]).arg(&server.key).output().unwrap();
        let p = local.with_extension("pub");
        std::fs::write(&p, out.stdout).unwrap();
        p
    };
    Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "60",
            "--ftp-create-dirs",
            "--hostpubsha256",
            &server.host_fingerprint_b64,
            "--key",
        ])
        .arg(&server.key)
        .arg("--pubkey")
        .arg(&public)
        .args(["-u", &format!("{}:", server.user), "-T"])
        .arg(local)
        .arg(format!("sftp://{}:{}/{remote}", server.host, server.port))
        .output()
        .unwrap()
}

#[test]
fn curl_uploads_over_sftp() {
    if !testkit::need(&[("curl", "-V")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let local = local_file(dir.path(), "curl.csv", "id\n7\n");
    // Debian 12's curl uses libssh2 1.10, which has no -etm MACs and no AES-GCM: like Transfer
    // Family itself, the default TransferSecurityPolicy-2025-03 cannot agree with it...
    let strict = start_sim();
    let refused = curl_upload(&strict, &local, "inbound/curl.csv");
    if !refused.status.success() {
        assert!(text(&refused).contains("Unable to exchange encryption keys"), "{}", text(&refused));
    }
    // ...and the older TransferSecurityPolicy-2018-11 does.
    let sim = start_sim_with(&["--security-policy", "TransferSecurityPolicy-2018-11"]);
    let out = curl_upload(&sim, &local, "inbound/curl.csv");
    assert!(out.status.success(), "curl against the simulator: {}", text(&out));
    if testkit::have("sftp", "-h") {
        let listed = sftp_batch(&sim, "ls inbound\n");
        assert!(text(&listed).contains("curl.csv"), "{}", text(&listed));
    }
    match start_sshd() {
        Ok(sshd) => {
            let out = curl_upload(&sshd, &local, "curl.csv");
            assert!(out.status.success(), "curl against sshd: {}", text(&out));
        }
        Err(why) => testkit::unavailable("OpenSSH's sshd (for curl against it)", &why),
    }
}

const PARAMIKO: &str = r#"
import sys, paramiko
host, port, user, key, fp = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
mode = sys.argv[6]
pkey = paramiko.Ed25519Key.from_private_key_file(key)
t = paramiko.Transport((host, port))
t.connect(username=user, pkey=pkey)
import base64, hashlib
seen = base64.b64encode(hashlib.sha256(t.get_remote_server_key().asbytes()).digest()).decode().rstrip("=")
assert seen == fp.rstrip("="), "host key %s, expected %s" % (seen, fp)
s = paramiko.SFTPClient.from_transport(t)
try:
    s.mkdir("inbound")
except IOError:
    pass
with s.open("inbound/paramiko.csv", "w") as f:
    f.write("id\n9\n")
print("listed", s.listdir("inbound"))
if mode == "simulator":
    refused("chmod", lambda: s.chmod("inbound/paramiko.csv", 0o600))
    refused("read+write", lambda: s.open("inbound/paramiko.csv", "r+"))
    refused("symlink", lambda: s.symlink("inbound/paramiko.csv", "inbound/link"))
t.close()
"#;

fn paramiko(server: &Server, mode: &str) -> Option<String> {
    let (ok, t) = server.paramiko(PARAMIKO, &[&server.host_fingerprint_b64, mode])?;
    assert!(ok, "paramiko against the {mode}: {t}");
    Some(t)
}

#[test]
fn paramiko_uploads_and_sees_the_refusals() {
    let sim = start_sim();
    let Some(t) = paramiko(&sim, "simulator") else { return };
    assert!(t.contains("paramiko.csv"), "{t}");
    assert!(t.contains("refused chmod yes: [Errno 13] Permission denied"), "{t}");
    assert!(t.contains("refused read+write yes:") && t.contains("Cannot open file in mode"), "{t}");
    assert!(t.contains("refused symlink yes:"), "{t}");
    match start_sshd() {
        Ok(sshd) => {
            let t = paramiko(&sshd, "sshd").unwrap();
            assert!(t.contains("paramiko.csv"), "{t}");
        }
        Err(why) => testkit::unavailable("OpenSSH's sshd (for paramiko against it)", &why),
    }
}

#[test]
fn the_default_security_policy_refuses_weaker_algorithms() {
    if !testkit::need(&[("sftp", "-h")]) {
        return;
    }
    let server = start_sim();
    let ok = sftp_batch_with(&server, "ls\n", &["Ciphers=aes256-gcm@openssh.com", "KexAlgorithms=curve25519-sha256"]);
    assert!(ok.status.success(), "{}", text(&ok));
    // TransferSecurityPolicy-2025-03 (like 2024-01) offers no chacha20-poly1305 (Terrapin) and no SHA-1 MACs.
    let chacha = sftp_batch_with(&server, "ls\n", &["Ciphers=chacha20-poly1305@openssh.com"]);
    assert!(!chacha.status.success() && text(&chacha).contains("no matching cipher"), "{}", text(&chacha));
    let sha1 = sftp_batch_with(&server, "ls\n", &["Ciphers=aes128-ctr", "MACs=hmac-sha1"]);
    assert!(!sha1.status.success() && text(&sha1).contains("no matching MAC"), "{}", text(&sha1));
}

#[test]
fn every_transfer_family_key_type_logs_in() {
    if !testkit::need(&[("sftp", "-h"), ("ssh-keygen", "-?")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let types: [(&str, &[&str]); 5] = [
        ("ed25519", &["-t", "ed25519"]),
        ("rsa", &["-t", "rsa", "-b", "3072"]),
        ("ecdsa256", &["-t", "ecdsa", "-b", "256"]),
        ("ecdsa384", &["-t", "ecdsa", "-b", "384"]),
        ("ecdsa521", &["-t", "ecdsa", "-b", "521"]),
    ];
    let mut args: Vec<String> = Vec::new();
    for (name, opts) in types {
        let key = dir.path().join(name);
        assert!(
            Command::new("ssh-keygen")
                .args(["-q", "-N", ""])
                .args(opts)
                .arg("-f")
                .arg(&key)
                .status()
                .unwrap()
                .success()
        );
        args.push("--authorized-key".into());
        args.push(format!("{}.pub", key.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = start_sim_with(&args);
    for (name, _) in types {
        server.key = dir.path().join(name);
        let out = sftp_batch(&server, "ls\n");
        assert!(out.status.success(), "{name} key refused: {}", text(&out));
    }
}

const CHANNELS: &str = r#"
import sys, paramiko
host, port, user, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
clients = []
for i in range(11):
    try:
        c = t.open_sftp_client()
        c.listdir("/")
        clients.append(c)
    except Exception as e:
        print("channel", i + 1, "refused:", type(e).__name__, e)
print("open channels", len(clients))
clients[0].close()
c = t.open_sftp_client()
print("after closing one: listed", c.listdir("/") is not None)
"#;

#[test]
fn ten_sftp_channels_per_connection() {
    let sim = start_sim();
    let Some((_, t)) = sim.paramiko(CHANNELS, &[]) else { return };
    assert!(t.contains("channel 11 refused") && t.contains("open channels 10"), "{t}");
    assert!(t.contains("after closing one: listed True"), "a closed channel frees its place: {t}");
}

const HOSTILE: &str = r#"
import sys, io, paramiko
from paramiko import sftp as proto
host, port, user, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
# Session channels count against the ten, with or without a subsystem.
sessions = []
for i in range(11):
    try:
        sessions.append(t.open_session())
    except Exception as e:
        print("session", i + 1, "refused:", type(e).__name__, e)
print("open sessions", len(sessions))
for c in sessions:
    c.close()
import time; time.sleep(0.3)
c = t.open_sftp_client()
c.putfo(io.BytesIO(b"r" * (3 * 1024 * 1024)), "big.bin")
f = c.open("big.bin", "r")
kind, msg = c._request(proto.CMD_READ, f.handle, paramiko.sftp_client.int64(0), 0xFFFFFFFF)
print("read of 4 GiB answered", len(msg.get_string()), "bytes")
f.close()
w = c.open("over.bin", "w")
c.get_channel().settimeout(10)
try:
    c._request(proto.CMD_WRITE, w.handle, paramiko.sftp_client.int64(0), b"x" * (300 * 1024))
    print("oversized write accepted")
except Exception as e:
    print("oversized write: channel closed", type(e).__name__)
print("connection still serves", t.open_sftp_client().listdir("/") is not None)
"#;

/// Hostile requests meet OpenSSH sftp-server's bounds: an 11th session channel is refused
/// (Transfer Family's ten per connection), a READ of 4 GiB gets a short read of
/// SFTP_MAX_READ_LENGTH (261,120 bytes), a WRITE packet over 256 KiB closes that channel, and
/// the connection carries on.
#[test]
fn hostile_sftp_requests_are_bounded() {
    let sim = start_sim();
    let Some((_, t)) = sim.paramiko(HOSTILE, &[]) else { return };
    assert!(t.contains("session 11 refused") && t.contains("open sessions 10"), "{t}");
    assert!(t.contains("read of 4 GiB answered 261120 bytes"), "{t}");
    assert!(t.contains("oversized write: channel closed"), "{t}");
    assert!(t.contains("connection still serves True"), "{t}");
}

const AUTH: &str = r#"
import sys, paramiko
host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def transport():
    t = paramiko.Transport((host, port))
    t.start_client(timeout=10)
    t.auth_timeout = 10
    return t
for name, call in [("none", lambda t: t.auth_none(user)),
                   ("password", lambda t: t.auth_password(user, "hunter2")),
                   ("keyboard-interactive", lambda t: t.auth_interactive(user, lambda *a: ["x"]))]:
    t = transport()
    try:
        call(t)
        print(name, "accepted")
    except paramiko.BadAuthenticationType as e:
        print(name, "refused, allowed", e.allowed_types)
    except paramiko.SSHException as e:
        print(name, "failed:", e)
    t.close()
"#;

/// Only public keys log in, as for Transfer Family's service-managed users: `none`, password
/// and keyboard-interactive are each refused with publickey as the one method left.
#[test]
fn only_public_keys_log_in() {
    let sim = start_sim();
    let port = sim.port.to_string();
    let args = [sim.host.as_ref(), port.as_ref(), sim.user.as_ref()];
    let Some((_, t)) = common::run_paramiko(AUTH, &args) else { return };
    for method in ["none", "password", "keyboard-interactive"] {
        assert!(t.contains(&format!("{method} refused, allowed ['publickey']")), "{method}: {t}");
    }
}

/// A client that keeps guessing is cut off: OpenSSH offering keys the user does not have gets
/// six refusals (OpenSSH's MaxAuthTries; its opening `none` request is one), then a DISCONNECT
/// "Too many authentication attempts" instead of a seventh answer.
#[test]
fn repeated_failed_logins_are_cut_off() {
    if !testkit::need(&[("ssh", "-V"), ("ssh-keygen", "-?")]) {
        return;
    }
    let sim = start_sim();
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<PathBuf> = (0..6)
        .map(|i| {
            let k = dir.path().join(format!("k{i}"));
            let ok = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&k).status();
            assert!(ok.is_ok_and(|s| s.success()));
            k
        })
        .collect();
    let try_keys = |n: usize| {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no"]).args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-p",
            &sim.port.to_string(),
        ]);
        for k in &keys[..n] {
            cmd.arg("-i").arg(k);
        }
        let out = cmd.arg(format!("{}@{}", sim.user, sim.host)).arg("exit").output().unwrap();
        text(&out)
    };
    let five = try_keys(5);
    assert!(five.contains("Permission denied (publickey)") && !five.contains("Too many"), "{five}");
    let six = try_keys(6);
    assert!(six.contains("Too many authentication attempts"), "{six}");
}

#[test]
fn the_host_key_is_configurable() {
    if !testkit::need(&[("sftp", "-h"), ("ssh-keygen", "-?")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host");
    let ok = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&host).status();
    assert!(ok.is_ok_and(|s| s.success()));
    let mut server = start_sim_with(&["--host-key", host.to_str().unwrap()]);
    let fp = Command::new("ssh-keygen").args(["-l", "-E", "sha256", "-f"]).arg(host.with_extension("pub")).output();
    let fp = String::from_utf8(fp.unwrap().stdout).unwrap();
    assert_eq!(format!("SHA256:{}", server.host_fingerprint_b64), fp.split_whitespace().nth(1).unwrap());
    // OpenSSH trusts exactly that key, from our own known_hosts line.
    let known = dir.path().join("known_hosts");
    let public = std::fs::read_to_string(host.with_extension("pub")).unwrap();
    std::fs::write(&known, format!("[{}]:{} {public}", server.host, server.port)).unwrap();
    server.known_hosts = known;
    let out = sftp_batch(&server, "ls\n");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn session_logs_name_the_negotiated_key_exchange_and_ciphers() {
    if !testkit::need(&[("sftp", "-h"), ("aws", "--version")]) {
        return;
    }
    let sim = common::start_sim();
    let out = sim.sftp_batch(
        "ls\n",
        None,
        &[
            "Ciphers=aes256-ctr,aes256-gcm@openssh.com",
            "KexAlgorithms=ecdh-sha2-nistp384",
            "MACs=hmac-sha2-512-etm@openssh.com",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (ok, log) = common::aws(
        &sim,
        &[
            "logs",
            "filter-log-events",
            "--log-group-name",
            sim.get("sftp_log_group"),
            "--filter-pattern",
            r#"{ $.activity-type = "CONNECTED" }"#,
        ],
    );
    assert!(ok, "{log}");
    assert!(log.contains(r#"\"kex\":\"ecdh-sha2-nistp384\""#), "{log}");
    assert!(log.contains(r#"\"ciphers\":\"aes256-ctr,aes256-ctr\""#), "{log}");
    assert!(log.contains(r#"\"client\":\"SSH-2.0-OpenSSH_"#), "{log}");
}

/// The simulator listens on loopback unless told otherwise, and says so loudly when it is not.
#[test]
fn binds_loopback_unless_told_and_warns_when_not() {
    let sim = start_sim();
    assert!(sim.host.starts_with("127."), "default SFTP address {}", sim.host);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["sim", "--json", "--host", "0.0.0.0", "--sftp-port", "0", "--port", "0", "--dynamodb-port", "0"])
        .arg("--key-dir")
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    // SIGTERM, so it removes its stored objects.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(line.contains("\"sftp\":\"0.0.0.0:"), "{line}");
    assert!(stderr.contains("warning: listening on 0.0.0.0 (not loopback)"), "{stderr}");
}

const DROPS: &str = r#"
import socket, struct, sys, time, paramiko
host, port, user, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pkey = paramiko.Ed25519Key.from_private_key_file(key)
def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b
def pkt(t, rid, payload=b""):
    body = bytes([t]) + struct.pack(">I", rid) + payload
    return struct.pack(">I", len(body)) + body
def drop(sock):
    # RST rather than FIN: the peer vanishes as a dead network would make it.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
def raw(phase):
    sock = socket.create_connection((host, port), timeout=10)
    if phase >= 1:
        sock.recv(256)
        sock.sendall(b"SSH-2.0-dropper\r\n")
    if phase >= 2:
        sock.sendall(struct.pack(">IB", 300, 4) + b"\x14" + b"\x00" * 40)  # half a KEXINIT
    drop(sock)
def session(phase, name):
    sock = socket.create_connection((host, port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    t.auth_publickey(user, pkey)
    if phase == "authenticated":
        return drop(sock)
    ch = t.open_session()
    if phase == "channel":
        return drop(sock)
    ch.invoke_subsystem("sftp")
    ch.sendall(struct.pack(">IBI", 5, 1, 3))
    ch.recv(1024)
    if phase == "init":
        return drop(sock)
    ch.sendall(pkt(3, 1, s("/" + name) + struct.pack(">I", 0x1a) + struct.pack(">I", 0)))
    handle = ch.recv(1024)[9:]
    if phase == "opened":
        return drop(sock)
    data = b"x" * 20000
    write = pkt(6, 2, handle + struct.pack(">Q", 0) + s(data))
    if phase == "mid-write":
        ch.sendall(write[: len(write) // 2])
        time.sleep(0.2)
        return drop(sock)
    ch.sendall(write)
    ch.recv(1024)
    if phase == "written":
        return drop(sock)
    ch.sendall(pkt(4, 3, handle))
    status = ch.recv(1024)
    print(name, "closed with status", struct.unpack(">I", status[9:13])[0])
    drop(sock)
for phase in range(3):
    raw(phase)
for phase in ["authenticated", "channel", "init", "opened", "mid-write", "written", "closed"]:
    session(phase, "drop-" + phase + ".csv")
time.sleep(1)
# The server carries on: a normal client still logs in and uploads.
t = paramiko.Transport((host, port))
t.connect(username=user, pkey=pkey)
c = paramiko.SFTPClient.from_transport(t)
c.putfo(__import__("io").BytesIO(b"after"), "/after.csv")
print("after the drops:", sorted(c.listdir("/")))
"#;

/// Connections dropped (RST) at every phase: before the version exchange, mid-key-exchange,
/// after authentication, after the channel opens, after SFTP INIT, with a file open, mid-WRITE
/// packet, after a WRITE, after CLOSE. Nothing partial is left (no object and no open multipart
/// upload for any unclosed file), the closed file is whole, and the server serves the next client.
#[test]
fn connections_dropped_at_every_phase_leave_nothing_partial() {
    let sim = common::start_sim();
    let addr = sim.sftp();
    let (host, port) = (addr.ip().to_string(), addr.port().to_string());
    let args = [host.as_ref(), port.as_ref(), std::ffi::OsStr::new(sim.get("user")), sim.get("private_key").as_ref()];
    let Some((ok, t)) = common::run_paramiko(DROPS, &args) else { return };
    assert!(ok, "{t}");
    assert!(t.contains("drop-closed.csv closed with status 0"), "{t}");
    assert!(t.contains("after the drops: ['after.csv', 'drop-closed.csv']"), "{t}");
    let bucket = sim.get("source_bucket").to_string();
    // Aborting a dropped upload is asynchronous: give it a moment, then nothing may be open.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (listing, uploads) = loop {
        let (_, listing) = common::aws(&sim, &["s3api", "list-objects-v2", "--bucket", &bucket]);
        let (_, uploads) = common::aws(&sim, &["s3api", "list-multipart-uploads", "--bucket", &bucket]);
        if !uploads.contains("UploadId") || Instant::now() > deadline {
            break (listing, uploads);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!uploads.contains("UploadId"), "open multipart uploads left: {uploads}");
    for phase in ["authenticated", "channel", "init", "opened", "mid-write", "written"] {
        assert!(!listing.contains(&format!("drop-{phase}.csv")), "{phase}: an object exists: {listing}");
    }
    assert!(listing.contains("drop-closed.csv") && listing.contains("\"Size\": 20000"), "{listing}");
}

/// `harness sim --data-dir DIR` keeps the pipeline across a stop and a start: the same host
/// key and server id, the source and destination objects, the record, the execution and the
/// session log, all read back with the aws CLI from the second process.
#[test]
fn a_data_dir_keeps_the_pipeline_across_restarts() {
    if !testkit::need(&[("sftp", "-h"), ("aws", "--version")]) {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let local = data.path().join("upload.csv");
    std::fs::write(&local, "a,b\n1,2\n").unwrap();
    let first = common::start_sim_with(&["--data-dir", dir]);
    let out = first.sftp_batch(&format!("put {} kept.csv\n", local.display()), None, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let table = first.get("table").to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !common::aws(&first, &["dynamodb", "scan", "--table-name", &table]).1.contains("transferred") {
        assert!(Instant::now() < deadline, "never transferred");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (fingerprint, server) = (first.get("host_key_fingerprint").to_string(), first.get("server_id").to_string());
    drop(first);

    let second = common::start_sim_with(&["--data-dir", dir]);
    assert_eq!(second.get("host_key_fingerprint"), fingerprint);
    assert_eq!(second.get("server_id"), server);
    let (ok, objects) =
        common::aws(&second, &["s3api", "list-objects-v2", "--bucket", second.get("destination_bucket")]);
    assert!(ok && objects.contains("kept.csv"), "{objects}");
    let (_, records) = common::aws(&second, &["dynamodb", "scan", "--table-name", &table]);
    assert!(records.contains("transferred"), "{records}");
    let arn = second.get("state_machine_arn").to_string();
    let (_, executions) = common::aws(&second, &["stepfunctions", "list-executions", "--state-machine-arn", &arn]);
    assert!(executions.contains("SUCCEEDED"), "{executions}");
    let group = second.get("sftp_log_group").to_string();
    let (_, logs) = common::aws(&second, &["logs", "filter-log-events", "--log-group-name", &group]);
    assert!(logs.contains("CLOSE") && logs.contains("kept.csv"), "{logs}");
    // And it still works: a second upload goes through.
    let out = second.sftp_batch(&format!("put {} again.csv\n", local.display()), None, &[]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `harness sim --clock virtual`: `--advance-clock` moves the running simulator's clock, and an
/// SFTP connection left idle is closed once the virtual clock has run the idle timeout (30
/// minutes here) past its last byte, a few milliseconds of wall time later.
#[test]
fn the_virtual_clock_advances_by_hand_and_runs_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["sim", "--json", "--clock", "virtual", "--sftp-port", "0", "--port", "0", "--dynamodb-port", "0"])
        .arg("--key-dir")
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port = info["aws"].as_str().unwrap().rsplit(':').next().unwrap().to_string();

    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["sim", "--advance-clock", "90", "--port", &port])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let clock: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(clock["mode"], "Virtual", "{clock}");
    assert!(clock["ahead_ms"].as_u64().unwrap() >= 90_000, "{clock}");

    // OpenSSH logs in and then says nothing (`-N`: no session), until the server hangs up.
    let wall = std::time::Instant::now();
    let (host, sftp_port) = info["sftp"].as_str().unwrap().rsplit_once(':').unwrap();
    let mut client = Command::new("ssh")
        .args(["-N", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-p", sftp_port, "-i"])
        .arg(info["private_key"].as_str().unwrap())
        .arg(format!("-oUserKnownHostsFile={}", info["known_hosts"].as_str().unwrap()))
        .arg(format!("{}@{host}", info["user"].as_str().unwrap()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let closed = loop {
        if let Some(status) = client.try_wait().unwrap() {
            break Some(status);
        }
        if wall.elapsed() > std::time::Duration::from_secs(20) {
            let _ = client.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut client.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(closed.is_some(), "the idle connection stayed open for {:?} of wall time: {stderr}", wall.elapsed());
    assert!(stderr.contains("idle timeout"), "{stderr}");
    let after = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["sim", "--advance-clock", "0", "--port", &port])
        .output()
        .unwrap();
    let clock: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&after.stdout).trim()).unwrap();
    assert!(clock["ahead_ms"].as_u64().unwrap() >= 90_000 + 1_790_000, "the idle timeout ran on the clock: {clock}");

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// `eval "$(harness sim env)"` points the aws CLI at a running simulator, as `awslocal` does
/// for LocalStack: `aws s3 ls` then lists the pipeline's buckets with no other flag.
#[test]
fn eval_harness_sim_env_points_the_aws_cli_at_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["sim", "--json", "--sftp-port", "0", "--port", "0", "--dynamodb-port", "0"])
        .arg("--key-dir")
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port = info["aws"].as_str().unwrap().rsplit(':').next().unwrap().to_string();
    let script = format!(
        "set -e; eval \"$('{}' sim env --port {port})\"; aws s3 ls; echo \"endpoint=$AWS_ENDPOINT_URL\"",
        env!("CARGO_BIN_EXE_harness")
    );
    // A profile or stale keys in the caller's environment must not win over what env prints.
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("AWS_PROFILE", "nonexistent-profile")
        .env("AWS_ACCESS_KEY_ID", "AKIAWRONG")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("partner-intake-source") && text.contains("partner-intake-destination"), "{text}");
    assert!(text.contains(&format!("endpoint=http://127.0.0.1:{port}")), "{text}");

    // No simulator there: one line saying so.
    let none = Command::new(env!("CARGO_BIN_EXE_harness")).args(["sim", "env", "--port", "9"]).output().unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no simulator on 127.0.0.1:9"), "{none:?}");
}
