//! The SFTP request handler of one channel: S3 seen through the user's home directory, every
//! S3 call first allowed by the session's policies.
//!
//! Writes stream into S3: up to one part in memory, then a multipart upload whose parts go out
//! while the client keeps writing; the object appears only when the file is closed.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use russh_sftp::protocol::{Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version};
use russh_sftp::server::StatusReply;
use tokio::task::JoinHandle;

use super::access::S3Action;
use super::home::Resolved;
use super::session_log::SessionLog;
use super::vpath;
use super::{SftpConfig, SftpUser};
use crate::breaks::Break;

/// The most bytes one READ returns: OpenSSH sftp-server's SFTP_MAX_READ_LENGTH (its 256 KiB
/// message limit less 1 KiB); longer requests get a short read. Writes are bounded by
/// russh-sftp's packet limit, 256 KiB like sftp-server's, past which the channel is closed.
pub const MAX_READ_LENGTH: u32 = 256 * 1024 - 1024;

/// How uploads are cut into S3 parts.
#[derive(Debug, Clone, Copy)]
pub struct UploadSettings {
    /// Part size in bytes (at least 5 MiB, S3's minimum).
    pub part_size: usize,
    /// Parts uploading at once per file.
    pub parts_in_flight: usize,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self { part_size: 8 * 1024 * 1024, parts_in_flight: 2 }
    }
}

/// An SFTP failure: a status code and the message the client shows.
#[derive(Debug)]
pub struct SftpError(StatusCode, String);

impl From<SftpError> for StatusReply {
    fn from(e: SftpError) -> Self {
        StatusReply::new(e.0).with_message(e.1)
    }
}

fn err(code: StatusCode, msg: impl Into<String>) -> SftpError {
    SftpError(code, msg.into())
}

/// What Transfer Family answers when IAM refuses the S3 call behind an operation.
fn denied() -> SftpError {
    err(StatusCode::PermissionDenied, ACCESS_DENIED)
}

const ACCESS_DENIED: &str = "Access denied";

fn s3_err<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> SftpError {
    let code = e.code().unwrap_or("");
    match code {
        "NoSuchKey" | "NotFound" | "NoSuchBucket" => err(StatusCode::NoSuchFile, "No such file"),
        "AccessDenied" => denied(),
        _ => err(StatusCode::Failure, format!("S3 error: {code} {}", e.message().unwrap_or(""))),
    }
}

struct Upload {
    bucket: String,
    key: String,
    path: String,
    written: u64,
    buffer: BytesMut,
    multipart: Option<String>,
    parts: Vec<Part>,
}

/// One part of a multipart upload: still uploading, or its result (a task's output can be
/// taken only once, so a part waited for early keeps its result here).
enum Part {
    Uploading(JoinHandle<Result<CompletedPart, SftpError>>),
    Done(Box<Result<CompletedPart, SftpError>>),
}

impl Part {
    fn is_uploading(&self) -> bool {
        matches!(self, Part::Uploading(h) if !h.is_finished())
    }

    /// Waits for the part (once) and keeps its result.
    async fn settle(&mut self) {
        if let Part::Uploading(h) = self {
            let result = h.await.unwrap_or_else(|e| Err(err(StatusCode::Failure, format!("part upload: {e}"))));
            *self = Part::Done(Box::new(result));
        }
    }

    async fn result(mut self) -> Result<CompletedPart, SftpError> {
        self.settle().await;
        match self {
            Part::Done(r) => *r,
            Part::Uploading(_) => unreachable!("settled above"),
        }
    }
}

enum OpenHandle {
    Write(Upload),
    Read { bucket: String, key: String, path: String, size: u64, sent: u64 },
    Dir { entries: Vec<File>, sent: bool },
}

/// An object or directory in S3 that a client path names.
#[derive(Debug, Clone)]
struct Place {
    bucket: String,
    /// The key of a file, or a directory's prefix without its slash (empty: the bucket root).
    key: String,
    /// A mapping entry or the home itself: always a directory, never removed or renamed.
    root: bool,
}

impl Place {
    /// The listing prefix of this place as a directory.
    fn dir_prefix(&self) -> String {
        if self.key.is_empty() { String::new() } else { format!("{}/", self.key) }
    }

    /// `/bucket/key`, as session logs write paths.
    fn log_path(&self) -> String {
        if self.key.is_empty() { format!("/{}", self.bucket) } else { format!("/{}/{}", self.bucket, self.key) }
    }
}

/// What a client path names, for this user.
enum Target {
    S3(Place),
    Virtual(Vec<String>),
    Outside,
}

/// The handler for one SFTP channel.
pub struct S3Filesystem {
    user: SftpUser,
    s3: aws_sdk_s3::Client,
    log: SessionLog,
    config: Arc<SftpConfig>,
    handles: HashMap<String, OpenHandle>,
    next_handle: u64,
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".into(), language_tag: "en-US".into() }
}

fn dir_attrs() -> FileAttributes {
    FileAttributes { permissions: Some(0o040755), size: Some(0), ..Default::default() }
}

fn file_attrs(size: u64, mtime: Option<u32>) -> FileAttributes {
    FileAttributes { permissions: Some(0o100644), size: Some(size), mtime, atime: mtime, ..Default::default() }
}

fn no_such_file() -> SftpError {
    err(StatusCode::NoSuchFile, "No such file")
}

fn mode_string(flags: OpenFlags) -> String {
    // AWS's example OPEN logs an upload as `CREATE|TRUNCATE|WRITE`
    // (https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html): the flags
    // in alphabetical order, so every flag is listed alphabetically (AWS shows no other mode).
    let mut parts = Vec::new();
    for (flag, name) in [
        (OpenFlags::APPEND, "APPEND"),
        (OpenFlags::CREATE, "CREATE"),
        (OpenFlags::EXCLUDE, "EXCLUSIVE"),
        (OpenFlags::READ, "READ"),
        (OpenFlags::TRUNCATE, "TRUNCATE"),
        (OpenFlags::WRITE, "WRITE"),
    ] {
        if flags.contains(flag) {
            parts.push(name);
        }
    }
    parts.join("|")
}

impl S3Filesystem {
    /// A handler for `user`'s channel.
    pub fn new(user: SftpUser, s3: aws_sdk_s3::Client, log: SessionLog, config: Arc<SftpConfig>) -> Self {
        Self { user, s3, log, config, handles: HashMap::new(), next_handle: 0 }
    }

    /// The segments of a client path: relative paths start at the landing directory, and `..`
    /// never climbs above `/`.
    fn segments(&self, path: &str) -> Vec<String> {
        self.user.home.segments(path)
    }

    fn target(&self, path: &str) -> Target {
        let segs = self.segments(path);
        match self.user.home.resolve(&segs) {
            Resolved::S3 { bucket, key } => {
                let root = self.user.home.is_root(&segs);
                Target::S3(Place { bucket, key, root })
            }
            Resolved::Virtual(children) => Target::Virtual(children),
            Resolved::Outside => Target::Outside,
        }
    }

    /// The S3 place of a path that must name one; virtual directories are refused like
    /// Transfer Family refuses changes to them.
    fn place(&self, path: &str) -> Result<Place, SftpError> {
        match self.target(path) {
            Target::S3(p) => Ok(p),
            Target::Virtual(_) => Err(denied()),
            Target::Outside => Err(no_such_file()),
        }
    }

    /// Allows `action` on `place` (its key, or its listing prefix for `ListBucket`) or logs the
    /// refusal as Transfer Family does and answers `Access denied`.
    fn authorize(&self, operation: &str, action: S3Action, place: &Place, key: &str) -> Result<(), SftpError> {
        if self.may(action, place, key) || self.config.breaks.has(Break::IgnorePolicy) {
            return Ok(());
        }
        let path = if key.is_empty() { format!("/{}", place.bucket) } else { format!("/{}/{key}", place.bucket) };
        self.log.error(operation, &path, ACCESS_DENIED);
        Err(denied())
    }

    fn may(&self, action: S3Action, place: &Place, key: &str) -> bool {
        match action {
            S3Action::ListBucket => self.user.access.allows(action, &place.bucket, None, Some(key)),
            _ => self.user.access.allows(action, &place.bucket, Some(key), None),
        }
    }

    fn new_handle(&mut self, h: OpenHandle) -> String {
        self.next_handle += 1;
        let name = format!("h{}", self.next_handle);
        self.handles.insert(name.clone(), h);
        name
    }

    async fn head(&self, bucket: &str, key: &str) -> Option<(u64, Option<u32>)> {
        let out = self.s3.head_object().bucket(bucket).key(key).send().await.ok()?;
        let mtime = out.last_modified().map(|t| t.secs() as u32);
        Some((out.content_length().unwrap_or(0) as u64, mtime))
    }

    /// Up to `max` keys below a directory prefix.
    async fn children(&self, place: &Place, max: i32) -> Result<Vec<String>, SftpError> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&place.bucket)
            .prefix(place.dir_prefix())
            .max_keys(max)
            .send()
            .await
            .map_err(|e| s3_err(&e))?;
        Ok(out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect())
    }

    /// Attributes of a place: HeadObject when GetObject is allowed, then a listing when
    /// ListBucket is; neither allowed is `Access denied` (logged by the operation that asked).
    async fn attrs_of(&self, place: &Place) -> Result<FileAttributes, SftpError> {
        if place.root || place.key.is_empty() {
            return Ok(dir_attrs());
        }
        let may_get = self.may(S3Action::GetObject, place, &place.key);
        let may_list = self.may(S3Action::ListBucket, place, &place.dir_prefix());
        if !may_get && !may_list {
            return Err(denied());
        }
        if may_get && let Some((size, mtime)) = self.head(&place.bucket, &place.key).await {
            return Ok(file_attrs(size, mtime));
        }
        if may_list && !self.children(place, 1).await?.is_empty() {
            return Ok(dir_attrs());
        }
        Err(no_such_file())
    }

    async fn exists(&self, place: &Place) -> bool {
        self.attrs_of(place).await.is_ok()
    }

    async fn flush_part(&mut self, handle: &str, last: bool) -> Result<(), SftpError> {
        let s3 = self.s3.clone();
        let settings = self.config.upload;
        let Some(OpenHandle::Write(up)) = self.handles.get_mut(handle) else { return Ok(()) };
        let bucket = up.bucket.clone();
        if up.multipart.is_none() {
            let out = s3.create_multipart_upload().bucket(&bucket).key(&up.key).send().await.map_err(|e| s3_err(&e))?;
            up.multipart = out.upload_id().map(str::to_string);
        }
        let upload_id = up.multipart.clone().unwrap_or_default();
        let take = if last { up.buffer.len() } else { settings.part_size };
        let body: Bytes = up.buffer.split_to(take).freeze();
        let number = up.parts.len() as i32 + 1;
        let key = up.key.clone();
        up.parts.push(Part::Uploading(tokio::spawn(async move {
            let out = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body))
                .customize()
                // As over HTTPS (Transfer Family to S3): UNSIGNED-PAYLOAD, the part's integrity
                // carried by its checksum. On loopback HTTP the SDK would otherwise hash every
                // byte with SHA-256 for the signature: 15% of an upload's CPU, measured.
                .disable_payload_signing()
                .send()
                .await
                .map_err(|e| s3_err(&e))?;
            Ok(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(str::to_string)).build())
        })));
        // Bound memory: wait for the oldest unfinished part when too many are in flight.
        let in_flight = up.parts.iter().filter(|p| p.is_uploading()).count();
        if in_flight > settings.parts_in_flight
            && let Some(oldest) = up.parts.iter_mut().find(|p| p.is_uploading())
        {
            oldest.settle().await;
        }
        Ok(())
    }

    /// Tells the event bus about an object this server created, when S3 will not.
    fn announce(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        (etag, version_id): (Option<&str>, Option<&str>),
        reason: &'static str,
    ) {
        static SEQUENCER: crate::s3::Sequencer = crate::s3::Sequencer::new();
        let Some(tx) = &self.config.announce else { return };
        let object = crate::s3::CreatedObject {
            bucket,
            key,
            size,
            etag: etag.unwrap_or_default(),
            version_id,
            sequencer: &SEQUENCER.next(),
        };
        let caller = crate::s3::Caller {
            access_key: self.config.role_arn.clone(),
            source_ip: "127.0.0.1".into(),
            request_id: uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
        };
        let notice = crate::s3::ObjectCreated::new(object, reason, &caller, self.config.clock.now());
        let _ = tx.send(notice.holding(self.config.clock.busy()));
    }

    async fn finish_upload(&self, up: Upload) -> Result<u64, SftpError> {
        let (bucket, key, written) = (up.bucket.clone(), up.key.clone(), up.written);
        let (reason, etag, version) = complete_upload(&self.s3, up).await?;
        self.announce(&bucket, &key, written, (etag.as_deref(), version.as_deref()), reason);
        Ok(written)
    }

    /// An empty directory (just its `dir/` marker) moves; a directory with contents would be
    /// one copy and delete per object, which S3-backed Transfer Family refuses.
    async fn rename_dir(&self, id: u32, from: &Place, to: &Place) -> Result<Status, SftpError> {
        let marker = from.dir_prefix();
        if self.children(from, 2).await?.iter().any(|k| *k != marker) {
            let msg = "Cannot rename a directory that is not empty";
            self.log.error("RENAME", &from.log_path(), msg);
            return Err(err(StatusCode::Failure, msg));
        }
        let new_marker = to.dir_prefix();
        self.authorize("RENAME", S3Action::PutObject, to, &new_marker)?;
        self.authorize("RENAME", S3Action::DeleteObject, from, &marker)?;
        if self.exists(to).await {
            return Err(err(StatusCode::Failure, "File already exists"));
        }
        let out = self
            .s3
            .put_object()
            .bucket(&to.bucket)
            .key(&new_marker)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map_err(|e| s3_err(&e))?;
        self.s3.delete_object().bucket(&from.bucket).key(&marker).send().await.map_err(|e| s3_err(&e))?;
        self.announce(&to.bucket, &new_marker, 0, (out.e_tag(), out.version_id()), "PutObject");
        self.log.rename(&from.log_path(), &to.log_path());
        Ok(ok(id))
    }
}

/// Makes an upload's bytes the object: one PutObject, or the multipart upload completed once its
/// parts are in. Returns the event reason, the ETag and the version.
async fn complete_upload(
    s3: &aws_sdk_s3::Client,
    up: Upload,
) -> Result<(&'static str, Option<String>, Option<String>), SftpError> {
    let bucket = &up.bucket;
    match up.multipart {
        None => {
            let out = s3
                .put_object()
                .bucket(bucket)
                .key(&up.key)
                .body(ByteStream::from(up.buffer.freeze()))
                .customize()
                .disable_payload_signing()
                .send()
                .await
                .map_err(|e| s3_err(&e))?;
            Ok(("PutObject", out.e_tag().map(str::to_string), out.version_id().map(str::to_string)))
        }
        Some(id) => {
            let mut parts = Vec::with_capacity(up.parts.len());
            let mut failure = None;
            for p in up.parts {
                match p.result().await {
                    Ok(part) => parts.push(part),
                    Err(e) => failure = Some(e),
                }
            }
            if let Some(f) = failure {
                let _ = s3.abort_multipart_upload().bucket(bucket).key(&up.key).upload_id(&id).send().await;
                return Err(f);
            }
            let out = s3
                .complete_multipart_upload()
                .bucket(bucket)
                .key(&up.key)
                .upload_id(&id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(|e| s3_err(&e))?;
            Ok(("CompleteMultipartUpload", out.e_tag().map(str::to_string), out.version_id().map(str::to_string)))
        }
    }
}

impl Drop for S3Filesystem {
    fn drop(&mut self) {
        // A channel gone with files still open: abort their multipart uploads so no parts and
        // no object remain, as Transfer Family does for an interrupted upload (when its role
        // may abort them; otherwise the parts wait for the bucket's lifecycle rule).
        for (_, h) in self.handles.drain() {
            let OpenHandle::Write(up) = h else { continue };
            if self.config.breaks.has(Break::KeepInterruptedUploads) {
                let s3 = self.s3.clone();
                tokio::spawn(async move {
                    let _ = complete_upload(&s3, up).await;
                });
                continue;
            }
            let Some(id) = up.multipart.clone() else { continue };
            if !self.user.access.allows(S3Action::AbortMultipartUpload, &up.bucket, Some(&up.key), None) {
                self.log.error("CLOSE", &up.path, ACCESS_DENIED);
                continue;
            }
            let s3 = self.s3.clone();
            let parts = up.parts;
            tokio::spawn(async move {
                for mut p in parts {
                    p.settle().await;
                }
                let _ = s3.abort_multipart_upload().bucket(up.bucket).key(up.key).upload_id(id).send().await;
            });
        }
    }
}

impl S3Filesystem {
    async fn close_handle(&mut self, id: u32, handle: String) -> Result<Status, SftpError> {
        match self.handles.remove(&handle) {
            Some(OpenHandle::Write(mut up)) => {
                if up.multipart.is_some() && !up.buffer.is_empty() {
                    self.handles.insert(handle.clone(), OpenHandle::Write(up));
                    self.flush_part(&handle, true).await?;
                    let Some(OpenHandle::Write(u)) = self.handles.remove(&handle) else { unreachable!() };
                    up = u;
                }
                let path = up.path.clone();
                match self.finish_upload(up).await {
                    Ok(bytes) => {
                        self.log.close(&path, bytes);
                        Ok(ok(id))
                    }
                    Err(e) => {
                        self.log.error("CLOSE", &path, &e.1);
                        Err(e)
                    }
                }
            }
            Some(OpenHandle::Read { path, sent, .. }) => {
                self.log.close_read(&path, sent);
                Ok(ok(id))
            }
            Some(OpenHandle::Dir { .. }) => Ok(ok(id)),
            None => Err(err(StatusCode::Failure, "invalid handle")),
        }
    }
}

impl russh_sftp::server::Handler for S3Filesystem {
    type Error = SftpError;

    fn unimplemented(&self) -> Self::Error {
        err(StatusCode::OpUnsupported, "Operation not supported")
    }

    async fn init(&mut self, version: u32, _extensions: HashMap<String, String>) -> Result<Version, Self::Error> {
        if version < 3 {
            return Err(err(StatusCode::OpUnsupported, format!("SFTP version {version} is not supported")));
        }
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        if self.config.breaks.has(Break::EscapeHome) && path.contains("..") {
            return Ok(Name { id, files: vec![File::dummy(path)] });
        }
        let p = vpath::display(&self.segments(&path));
        Ok(Name { id, files: vec![File::dummy(p)] })
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let place = self.place(&filename)?;
        let mode = mode_string(pflags);
        let path = place.log_path();
        if place.root || place.key.is_empty() {
            return Err(err(StatusCode::Failure, "Cannot open a directory"));
        }
        let read_only = pflags.contains(OpenFlags::READ) && !pflags.contains(OpenFlags::WRITE);
        if read_only && !pflags.contains(OpenFlags::APPEND) {
            // Downloads: each READ becomes a ranged GetObject.
            self.authorize("OPEN", S3Action::GetObject, &place, &place.key)?;
            let Some((size, _)) = self.head(&place.bucket, &place.key).await else {
                return Err(no_such_file());
            };
            self.log.open(&path, &mode);
            let Place { bucket, key, .. } = place;
            let handle = self.new_handle(OpenHandle::Read { bucket, key, path, size, sent: 0 });
            return Ok(Handle { id, handle });
        }
        if pflags.contains(OpenFlags::READ) || pflags.contains(OpenFlags::APPEND) || !pflags.contains(OpenFlags::WRITE)
        {
            let msg = format!("Cannot open file in mode: {mode}");
            self.log.error("OPEN", &path, &msg);
            return Err(err(StatusCode::OpUnsupported, msg));
        }
        self.authorize("OPEN", S3Action::PutObject, &place, &place.key)?;
        if self.config.breaks.has(Break::RefuseWrites) {
            return Err(denied());
        }
        self.log.open(&path, &mode);
        let Place { bucket, key, .. } = place;
        let key = if self.config.breaks.has(Break::MisplaceUploads) { format!("misplaced/{key}") } else { key };
        let handle = self.new_handle(OpenHandle::Write(Upload {
            bucket,
            key,
            path,
            written: 0,
            buffer: BytesMut::new(),
            multipart: None,
            parts: Vec::new(),
        }));
        Ok(Handle { id, handle })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        let part_size = self.config.upload.part_size;
        let full = {
            let Some(OpenHandle::Write(up)) = self.handles.get_mut(&handle) else {
                return Err(err(StatusCode::Failure, "invalid handle"));
            };
            if offset != up.written {
                let msg = format!(
                    "Non-sequential write at offset {offset} (expected {}): resume and random access are not supported",
                    up.written
                );
                self.log.error("WRITE", &up.path.clone(), &msg);
                return Err(err(StatusCode::OpUnsupported, msg));
            }
            up.written += data.len() as u64;
            up.buffer.extend_from_slice(&data);
            up.buffer.len() >= part_size
        };
        if full {
            self.flush_part(&handle, false).await?;
        }
        Ok(ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.close_handle(id, handle).await
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let mut entries = vec![File::new(".", dir_attrs()), File::new("..", dir_attrs())];
        let place = match self.target(&path) {
            Target::Outside => return Err(no_such_file()),
            Target::Virtual(children) => {
                entries.extend(children.into_iter().map(|name| File::new(name, dir_attrs())));
                let handle = self.new_handle(OpenHandle::Dir { entries, sent: false });
                return Ok(Handle { id, handle });
            }
            Target::S3(place) => place,
        };
        let prefix = place.dir_prefix();
        self.authorize("OPENDIR", S3Action::ListBucket, &place, &prefix)?;
        if !place.root && !place.key.is_empty() && !matches!(self.attrs_of(&place).await, Ok(a) if a.is_dir()) {
            return Err(no_such_file());
        }
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&place.bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| s3_err(&e))?;
            for cp in out.common_prefixes() {
                if let Some(name) = cp.prefix().and_then(|p| p.strip_prefix(&prefix)).map(|n| n.trim_end_matches('/')) {
                    entries.push(File::new(name, dir_attrs()));
                }
            }
            for obj in out.contents() {
                let Some(name) = obj.key().and_then(|k| k.strip_prefix(&prefix)) else { continue };
                if name.is_empty() {
                    continue; // the directory's own marker
                }
                let mtime = obj.last_modified().map(|t| t.secs() as u32);
                entries.push(File::new(name, file_attrs(obj.size().unwrap_or(0) as u64, mtime)));
            }
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let handle = self.new_handle(OpenHandle::Dir { entries, sent: false });
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.handles.get_mut(&handle) {
            Some(OpenHandle::Dir { entries, sent }) if !*sent && !self.config.breaks.has(Break::HideListings) => {
                *sent = true;
                Ok(Name { id, files: std::mem::take(entries) })
            }
            Some(OpenHandle::Dir { .. }) => Err(err(StatusCode::Eof, "End of directory")),
            _ => Err(err(StatusCode::Failure, "invalid handle")),
        }
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = match self.target(&path) {
            Target::S3(place) => self.attrs_of(&place).await.inspect_err(|e| {
                if e.0 == StatusCode::PermissionDenied {
                    self.log.error("STAT", &place.log_path(), ACCESS_DENIED);
                }
            })?,
            Target::Virtual(_) => dir_attrs(),
            Target::Outside => return Err(no_such_file()),
        };
        Ok(Attrs { id, attrs })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        match self.handles.get(&handle) {
            Some(OpenHandle::Write(up)) => Ok(Attrs { id, attrs: file_attrs(up.written, None) }),
            Some(OpenHandle::Read { size, .. }) => Ok(Attrs { id, attrs: file_attrs(*size, None) }),
            Some(OpenHandle::Dir { .. }) => Ok(Attrs { id, attrs: dir_attrs() }),
            None => Err(err(StatusCode::Failure, "invalid handle")),
        }
    }

    async fn setstat(&mut self, id: u32, path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        let p = match self.target(&path) {
            Target::S3(place) => place.log_path(),
            _ => vpath::display(&self.segments(&path)),
        };
        if self.config.setstat_no_op {
            self.log.path_activity("SETSTAT", &p);
            return Ok(ok(id));
        }
        self.log.error("SETSTAT", &p, "SETSTAT is not supported");
        Err(err(StatusCode::PermissionDenied, "Permission denied"))
    }

    async fn fsetstat(&mut self, id: u32, _handle: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        if self.config.setstat_no_op {
            return Ok(ok(id));
        }
        Err(err(StatusCode::PermissionDenied, "Permission denied"))
    }

    async fn mkdir(&mut self, id: u32, path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        let place = match self.target(&path) {
            Target::S3(place) if !place.root && !place.key.is_empty() => place,
            Target::Outside => return Err(no_such_file()),
            _ => return Err(err(StatusCode::Failure, "File already exists")),
        };
        let marker = place.dir_prefix();
        self.authorize("MKDIR", S3Action::PutObject, &place, &marker)?;
        if self.config.breaks.has(Break::RefuseWrites) {
            return Err(denied());
        }
        if self.exists(&place).await {
            return Err(err(StatusCode::Failure, "File already exists"));
        }
        let out = self
            .s3
            .put_object()
            .bucket(&place.bucket)
            .key(&marker)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map_err(|e| s3_err(&e))?;
        self.announce(&place.bucket, &marker, 0, (out.e_tag(), out.version_id()), "PutObject");
        self.log.path_activity("MKDIR", &place.log_path());
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        let place = self.place(&path)?;
        if place.root || place.key.is_empty() {
            return Err(err(StatusCode::PermissionDenied, "Permission denied"));
        }
        let marker = place.dir_prefix();
        self.authorize("RMDIR", S3Action::ListBucket, &place, &marker)?;
        self.authorize("RMDIR", S3Action::DeleteObject, &place, &marker)?;
        let children = self.children(&place, 2).await?;
        if children.is_empty() {
            return Err(no_such_file());
        }
        if children.iter().any(|k| *k != marker) {
            return Err(err(StatusCode::Failure, "Directory not empty"));
        }
        self.s3.delete_object().bucket(&place.bucket).key(&marker).send().await.map_err(|e| s3_err(&e))?;
        self.log.path_activity("RMDIR", &place.log_path());
        Ok(ok(id))
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let place = self.place(&filename)?;
        if place.root || place.key.is_empty() {
            return Err(err(StatusCode::Failure, "Cannot remove a directory"));
        }
        self.authorize("DELETE", S3Action::DeleteObject, &place, &place.key)?;
        if self.may(S3Action::GetObject, &place, &place.key) && self.head(&place.bucket, &place.key).await.is_none() {
            return Err(no_such_file());
        }
        self.s3.delete_object().bucket(&place.bucket).key(&place.key).send().await.map_err(|e| s3_err(&e))?;
        self.log.path_activity("DELETE", &place.log_path());
        Ok(ok(id))
    }

    async fn rename(&mut self, id: u32, oldpath: String, newpath: String) -> Result<Status, Self::Error> {
        let from = self.place(&oldpath)?;
        let to = self.place(&newpath)?;
        if from.root || from.key.is_empty() || to.root || to.key.is_empty() {
            return Err(err(StatusCode::Failure, "Cannot rename a home or mapped directory"));
        }
        // The copy reads the source, writes the target, and deletes the source.
        self.authorize("RENAME", S3Action::GetObject, &from, &from.key)?;
        if self.head(&from.bucket, &from.key).await.is_none() {
            self.authorize("RENAME", S3Action::ListBucket, &from, &from.dir_prefix())?;
            if !self.children(&from, 1).await?.is_empty() {
                return self.rename_dir(id, &from, &to).await;
            }
            return Err(no_such_file());
        }
        self.authorize("RENAME", S3Action::PutObject, &to, &to.key)?;
        self.authorize("RENAME", S3Action::DeleteObject, &from, &from.key)?;
        let source = copy_source(&from.bucket, &from.key);
        let copied = self
            .s3
            .copy_object()
            .bucket(&to.bucket)
            .key(&to.key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| s3_err(&e))?;
        let size = self.head(&to.bucket, &to.key).await.map(|(n, _)| n).unwrap_or(0);
        self.announce(
            &to.bucket,
            &to.key,
            size,
            (copied.copy_object_result().and_then(|r| r.e_tag()), copied.version_id()),
            "CopyObject",
        );
        self.s3.delete_object().bucket(&from.bucket).key(&from.key).send().await.map_err(|e| s3_err(&e))?;
        self.log.rename(&from.log_path(), &to.log_path());
        Ok(ok(id))
    }

    async fn readlink(&mut self, _id: u32, _path: String) -> Result<Name, Self::Error> {
        Err(err(StatusCode::OpUnsupported, "Symbolic links are not supported"))
    }

    async fn symlink(&mut self, _id: u32, _linkpath: String, _targetpath: String) -> Result<Status, Self::Error> {
        Err(err(StatusCode::OpUnsupported, "Symbolic links are not supported"))
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let Some(OpenHandle::Read { bucket, key, size, .. }) = self.handles.get(&handle) else {
            return Err(err(StatusCode::OpUnsupported, "Cannot read a file opened for writing"));
        };
        if offset >= *size || len == 0 {
            return Err(err(StatusCode::Eof, "End of file"));
        }
        // A short read, as OpenSSH's sftp-server answers a longer request: never 4 GiB in memory.
        let len = len.min(MAX_READ_LENGTH);
        let last = (offset + len as u64).min(*size) - 1;
        let out = self
            .s3
            .get_object()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await
            .map_err(|e| s3_err(&e))?;
        let data = out.body.collect().await.map_err(|e| err(StatusCode::Failure, e.to_string()))?.into_bytes().to_vec();
        if let Some(OpenHandle::Read { sent, .. }) = self.handles.get_mut(&handle) {
            *sent += data.len() as u64;
        }
        Ok(Data { id, data })
    }
}

/// `bucket/key` percent-encoded for `x-amz-copy-source` (the SDK sends it as given).
fn copy_source(bucket: &str, key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    format!("{bucket}/{}", utf8_percent_encode(key, SET))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload opened with WRITE, CREATE and TRUNCATE (what OpenSSH's `put` sends) is logged
    /// as AWS's example OPEN logs it, `CREATE|TRUNCATE|WRITE`
    /// (https://docs.aws.amazon.com/transfer/latest/userguide/cw-example-logs.html).
    #[test]
    fn upload_mode_is_logged_in_awss_order() {
        let flags = OpenFlags::WRITE | OpenFlags::TRUNCATE | OpenFlags::CREATE;
        assert_eq!(mode_string(flags), "CREATE|TRUNCATE|WRITE");
    }
}
