//! The SFTP endpoint: Transfer Family's behaviour on an S3-backed server with service-managed
//! users, PATH and LOGICAL home directories, IAM-checked S3 access, and structured session logs.

mod access;
mod framing;
mod fs;
mod home;
mod idle;
mod kexinit;
mod security_policy;
mod session_log;
mod tap;
pub mod users;
mod vpath;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use russh::keys::ssh_key::{self, PublicKey};
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};
use tokio::net::TcpListener;
use tracing::{Instrument, info, info_span, warn};

pub use access::{Access, PolicyError, S3Action};
pub use fs::UploadSettings;
pub use home::{HomeDirectory, HomeError, Mapping, Resolved};
pub use security_policy::{DEFAULT_POLICY, UnknownPolicy, preferred as security_policy};
pub use session_log::SessionLog;

use crate::breaks::Break;
use crate::logs::LogStore;

/// A service-managed user.
#[derive(Debug, Clone)]
pub struct SftpUser {
    /// User name.
    pub name: String,
    /// Authorized SSH public keys.
    pub keys: Vec<PublicKey>,
    /// Home directory.
    pub home: HomeDirectory,
    /// What the user's sessions may do in S3.
    pub access: Access,
}

impl SftpUser {
    /// `/bucket/prefix`, as Transfer Family logs the home directory.
    pub fn home_dir(&self) -> String {
        self.home.home_dir()
    }
}

/// The server's settings.
#[derive(Clone)]
pub struct SftpConfig {
    /// Transfer Family server id (`s-` and 17 hex digits).
    pub server_id: String,
    /// Users.
    pub users: Vec<SftpUser>,
    /// Host key.
    pub host_key: ssh_key::PrivateKey,
    /// The IAM role ARN logged for sessions.
    pub role_arn: String,
    /// Whether SETSTAT is ignored (`ENABLE_NO_OP`) instead of refused.
    pub setstat_no_op: bool,
    /// How uploads stream into S3.
    pub upload: UploadSettings,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// Transfer Family security policy name (algorithms offered).
    pub security_policy: String,
    /// Where to announce objects this server creates, when its S3 cannot (an external endpoint
    /// that sends no events).
    pub announce: Option<tokio::sync::mpsc::UnboundedSender<crate::s3::ObjectCreated>>,
    /// Breaks for the harness's own tests.
    pub breaks: Arc<crate::breaks::Breaks>,
    /// The simulator's clock: the idle timeout runs on it, an open file holds it.
    pub clock: crate::clock::Clock,
}

/// The running SFTP server.
pub struct SftpServer {
    config: Arc<SftpConfig>,
    ssh: Arc<russh::server::Config>,
    s3: aws_sdk_s3::Client,
    logs: Arc<LogStore>,
}

impl SftpServer {
    /// A server writing through `s3` and logging to `logs`.
    pub fn new(config: SftpConfig, s3: aws_sdk_s3::Client, logs: Arc<LogStore>) -> Result<Self, UnknownPolicy> {
        let preferred = security_policy::preferred(&config.security_policy)?;
        let ssh = russh::server::Config {
            preferred,
            server_id: russh::SshId::Standard("SSH-2.0-AWS_SFTP_1.1".into()),
            keys: vec![config.host_key.clone()],
            auth_rejection_time: Duration::from_millis(200),
            auth_rejection_time_initial: Some(Duration::ZERO),
            // A virtual clock runs the idle timeout itself (idle.rs).
            inactivity_timeout: (!config.clock.is_virtual()).then_some(config.idle_timeout),
            methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
            // A client that keeps guessing is cut off (DISCONNECT, "Too many authentication
            // attempts") after OpenSSH's default MaxAuthTries; Transfer Family documents no figure.
            max_auth_attempts: MAX_AUTH_ATTEMPTS,
            ..Default::default()
        };
        logs.ensure_group(&Self::log_group_of(&config.server_id));
        Ok(Self { config: Arc::new(config), ssh: Arc::new(ssh), s3, logs })
    }

    /// The log group Transfer Family writes session logs to.
    pub fn log_group_of(server_id: &str) -> String {
        format!("/aws/transfer/{server_id}")
    }

    /// Serves one SFTP subsystem for `user`, already authenticated, over any byte stream (what
    /// an SSH channel carries), until the stream ends; `None` if there is no such user.
    pub fn serve_subsystem<S>(
        &self,
        user: &str,
        stream: S,
        peer: std::net::SocketAddr,
    ) -> Option<impl Future<Output = ()> + use<S>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let user = self.config.users.iter().find(|u| u.name == user)?.clone();
        let log = SessionLog::new(self.logs.clone(), &self.config.server_id, peer, &self.config.breaks);
        let handler = fs::S3Filesystem::new(user, self.s3.clone(), log.clone(), self.config.clone());
        let stream = bounded(stream, log);
        Some(russh_sftp::server::run(stream, handler))
    }

    /// Accepts connections until the listener fails.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "sftp accept failed");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let offer = Arc::new(std::sync::OnceLock::new());
            let activity = idle::Activity::new(self.config.clock.clone());
            let stream = tap::Tap::new(tap::Tap::new(stream, activity.clone()), kexinit::Recording::new(offer.clone()));
            let this = self.clone();
            let log = SessionLog::new(self.logs.clone(), &self.config.server_id, peer, &self.config.breaks);
            let span = info_span!("sftp_session", session = %log.session_id(), peer = %peer);
            tokio::spawn(
                async move {
                    let handler = Connection {
                        server: this.clone(),
                        user: None,
                        key: None,
                        log: log.clone(),
                        channels: HashMap::new(),
                        sftp_channels: HashSet::new(),
                        offer,
                    };
                    match russh::server::run_stream(this.ssh.clone(), stream, handler).await {
                        Ok(session) => {
                            let watchdog = this.config.clock.is_virtual().then(|| {
                                let handle = session.handle();
                                let disconnect = async move {
                                    info!("idle timeout on the virtual clock: disconnecting");
                                    let _ = handle
                                        .disconnect(
                                            russh::Disconnect::ByApplication,
                                            "idle timeout".into(),
                                            "en".into(),
                                        )
                                        .await;
                                };
                                tokio::spawn(activity.watch(this.config.idle_timeout, disconnect).in_current_span())
                            });
                            let ended = session.await;
                            if let Some(w) = watchdog {
                                w.abort();
                            }
                            if let Err(e) = ended {
                                info!(error = ?e, "session ended with error");
                            }
                        }
                        Err(e) => info!(error = ?e, "handshake failed"),
                    }
                    log.disconnected();
                }
                .instrument(span),
            );
        }
    }
}

/// The SFTP stream with OpenSSH's packet limit: an over-long packet ends it, logged as
/// sftp-server's "bad message".
fn bounded<S>(stream: S, log: SessionLog) -> framing::Bounded<S> {
    framing::bounded(stream, move |len| {
        let msg = format!("bad message: a packet of {len} bytes is over the {} byte limit", framing::MAX_PACKET);
        tracing::warn!("{msg}; closing the SFTP channel");
        log.error("SFTP", "", &msg);
    })
}

/// Refused authentication requests a connection may make before it is disconnected.
pub const MAX_AUTH_ATTEMPTS: usize = 6;

/// Transfer Family allows this many SFTP channels per connection.
const MAX_SFTP_CHANNELS: usize = 10;

struct Connection {
    server: Arc<SftpServer>,
    user: Option<SftpUser>,
    /// The key the user logged in with: CONNECTED names it (body, fingerprint and type).
    key: Option<PublicKey>,
    log: SessionLog,
    channels: HashMap<ChannelId, Channel<Msg>>,
    /// Open SFTP channels: Transfer Family allows 10 at once per connection.
    sftp_channels: HashSet<ChannelId>,
    /// What the client offered in its KEXINIT, once read.
    offer: Arc<std::sync::OnceLock<kexinit::ClientOffer>>,
}

impl Connection {
    fn find_user(&self, name: &str) -> Option<&SftpUser> {
        self.server.config.users.iter().find(|u| u.name == name)
    }

    /// The key exchange and the ciphers (client to server, server to client) in use, as
    /// session logs name them.
    fn negotiated(&self) -> (String, String) {
        let preferred = &self.server.ssh.preferred;
        let kex: Vec<&str> = preferred.kex.iter().map(|k| k.as_ref()).collect();
        let ciphers: Vec<&str> = preferred.cipher.iter().map(|c| c.as_ref()).collect();
        let Some(offer) = self.offer.get() else { return (String::new(), String::new()) };
        let pick = |client: &[String], server: &[&str]| kexinit::negotiate(client, server).unwrap_or("").to_string();
        let c2s = pick(&offer.ciphers_c2s, &ciphers);
        let s2c = pick(&offer.ciphers_s2c, &ciphers);
        (pick(&offer.kex, &kex), format!("{c2s},{s2c}"))
    }

    fn key_allowed(&self, name: &str, key: &PublicKey) -> bool {
        let breaks = &self.server.config.breaks;
        if breaks.has(Break::RefuseLogins) {
            return false;
        }
        self.find_user(name)
            .is_some_and(|u| breaks.has(Break::AcceptAnyKey) || u.keys.iter().any(|k| k.key_data() == key.key_data()))
    }
}

fn reject() -> Auth {
    Auth::Reject { proceed_with_methods: None, partial_success: false }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        if self.key_allowed(user, offer.public_key) {
            Ok(Auth::Accept)
        } else {
            self.log.auth_failure(
                user,
                "publickey",
                &offer.public_key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            );
            Ok(reject())
        }
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        if !self.key_allowed(user, key.public_key) {
            self.log.auth_failure(user, "publickey", &key.public_key.fingerprint(ssh_key::HashAlg::Sha256).to_string());
            return Ok(reject());
        }
        let u = self.find_user(user).cloned().expect("checked");
        self.user = Some(u);
        self.key = Some(key.public_key.clone());
        Ok(Auth::Accept)
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        // Logged here rather than at key verification so the entry carries the client's version.
        self.log.set_client(&String::from_utf8_lossy(session.remote_sshid()));
        if let (Some(u), Some(key)) = (&self.user, &self.key) {
            let (kex, ciphers) = self.negotiated();
            self.log.connected(u, &self.server.config.role_arn, key, &kex, &ciphers);
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Sessions count against the limit from when they open, subsystem or not: a client
        // cannot hold more than Transfer Family's ten channels on one connection.
        if self.channels.len() + self.sftp_channels.len() >= MAX_SFTP_CHANNELS {
            reply.reject(russh::ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        // Closed from our side: the client's CLOSE that follows no longer reaches channel_close.
        self.channels.remove(&channel);
        self.sftp_channels.remove(&channel);
        session.close(channel)?;
        Ok(())
    }

    async fn channel_close(&mut self, channel: ChannelId, _session: &mut Session) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        self.sftp_channels.remove(&channel);
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(user), Some(channel)) = (self.user.clone(), self.channels.remove(&channel_id)) else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        if name != "sftp" || self.sftp_channels.len() >= MAX_SFTP_CHANNELS {
            session.channel_failure(channel_id)?;
            return Ok(());
        }
        self.sftp_channels.insert(channel_id);
        session.channel_success(channel_id)?;
        let handler = fs::S3Filesystem::new(user, self.server.s3.clone(), self.log.clone(), self.server.config.clone());
        let stream = bounded(channel.into_stream(), self.log.clone());
        tokio::spawn(russh_sftp::server::run(stream, handler).in_current_span());
        Ok(())
    }
}
