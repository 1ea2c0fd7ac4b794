//! Buckets and objects: an index in memory, bodies in files under a temporary directory.
//!
//! Every key holds its versions oldest first; the last is the current one. An unversioned (or
//! suspended) bucket keeps one `null` version that each write replaces; an enabled bucket adds a
//! version per write and a delete marker per delete, as S3 does. Bodies are immutable once
//! committed, so a server-side copy is a hard link, not a second copy of the bytes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use rand::RngExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::checksum::{self, Algorithm, Checksum, Hasher, Kind};
use super::created::{Caller, CreatedObject, ObjectCreated, Sequencer};

/// Why a store operation failed, named as S3 names it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket does not exist.
    #[error("The specified bucket does not exist")]
    NoSuchBucket(String),
    /// The key does not exist (or its current version is a delete marker, whose id is given).
    #[error("The specified key does not exist.")]
    NoSuchKey {
        /// The key.
        key: String,
        /// When the current version is a delete marker: its version id.
        delete_marker: Option<Option<String>>,
    },
    /// The version id names no version of the key.
    #[error("The specified version does not exist.")]
    NoSuchVersion(String),
    /// The version asked for is a delete marker.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed {
        /// Its version id.
        version_id: Option<String>,
    },
    /// The multipart upload id is unknown (completed, aborted or never created).
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload(String),
    /// A listed part was not uploaded, or its ETag or checksum differs.
    #[error(
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {0})"
    )]
    InvalidPart(i32),
    /// The parts of CompleteMultipartUpload are not in ascending order.
    #[error("The list of parts was not in ascending order. The parts list must be specified in order by part number.")]
    InvalidPartOrder,
    /// A part other than the last is under 5 MiB.
    #[error("Your proposed upload is smaller than the minimum allowed object size. (part {0})")]
    EntityTooSmall(i32),
    /// The body's SHA-256 is not the `x-amz-content-sha256` the request was signed with.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// A part over 5 GiB.
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    /// A condition of the request does not hold.
    #[error("At least one of the pre-conditions you specified did not hold ({0})")]
    PreconditionFailed(&'static str),
    /// A read condition says the client's copy is current.
    #[error("Not Modified")]
    NotModified,
    /// The body's checksum differs from the one the client sent.
    #[error("The {0} you specified did not match the calculated checksum.")]
    BadDigest(&'static str),
    /// The request is malformed in a way S3 names InvalidRequest.
    #[error("{0}")]
    InvalidRequest(String),
    /// An argument is out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// The bucket name is taken.
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou(String),
    /// The bucket is not empty.
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty(String),
    /// Reading the request body failed (client went away).
    #[error("body: {0}")]
    Body(String),
    /// Disk I/O failed.
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

/// Read and write buffer for object bodies.
pub(super) const IO_BUFFER: usize = 1024 * 1024;

/// Whether a bucket keeps versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub enum Versioning {
    /// Never enabled: one `null` version per key.
    #[default]
    Unversioned,
    /// Every write adds a version.
    Enabled,
    /// Was enabled: old versions stay, new writes replace the `null` version.
    Suspended,
}

impl Versioning {
    /// `Enabled`, `Suspended`, or `None` for a bucket never versioned (GetBucketVersioning).
    pub fn status(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }
}

/// How a bucket is configured.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct BucketSettings {
    /// Versioning.
    pub versioning: Versioning,
    /// Whether object creations are sent to EventBridge (the bucket's notification setting).
    pub eventbridge: bool,
}

/// What an object carries besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObjectAttrs {
    /// Content-Type.
    pub content_type: Option<String>,
    /// Content-Encoding.
    pub content_encoding: Option<String>,
    /// Content-Disposition.
    pub content_disposition: Option<String>,
    /// Content-Language.
    pub content_language: Option<String>,
    /// Cache-Control.
    pub cache_control: Option<String>,
    /// Expires.
    pub expires: Option<SystemTime>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Storage class; `None` is STANDARD.
    pub storage_class: Option<String>,
}

/// One part of a multipart object, for GetObjectAttributes and part-numbered reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartInfo {
    /// Bytes in the part.
    pub size: u64,
    /// The part's raw checksum in the object's algorithm.
    pub checksum: Option<Vec<u8>>,
}

/// One stored object version.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// Version id (`None`: the `null` version).
    pub version_id: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Creation time.
    pub last_modified: SystemTime,
    /// Content type, metadata, tags.
    pub attrs: ObjectAttrs,
    /// The object's checksum.
    pub checksum: Option<Checksum>,
    /// Parts, for an object assembled from a multipart upload.
    pub parts: Vec<PartInfo>,
    /// Body file.
    pub path: PathBuf,
    /// The sequencer its creation event carried (empty until committed).
    #[serde(default)]
    pub sequencer: String,
}

impl ObjectMeta {
    /// What a creation notice says of this version of `bucket`/`key`.
    pub fn created<'a>(&'a self, bucket: &'a str, key: &'a str) -> CreatedObject<'a> {
        CreatedObject {
            bucket,
            key,
            size: self.size,
            etag: &self.etag,
            version_id: self.version_id.as_deref(),
            sequencer: &self.sequencer,
        }
    }
}

// Delete markers are rare next to objects; boxing every object to save their bytes is not worth it.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Entry {
    Object(ObjectMeta),
    DeleteMarker { version_id: Option<String>, last_modified: SystemTime },
}

impl Entry {
    fn version_id(&self) -> Option<&str> {
        match self {
            Entry::Object(m) => m.version_id.as_deref(),
            Entry::DeleteMarker { version_id, .. } => version_id.as_deref(),
        }
    }
}

/// One entry of ListObjectVersions.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum VersionEntry {
    /// An object version.
    Object {
        /// Its key.
        key: String,
        /// Whether it is the key's current version.
        latest: bool,
        /// The version.
        meta: ObjectMeta,
    },
    /// A delete marker.
    DeleteMarker {
        /// Its key.
        key: String,
        /// Whether it is the key's current version.
        latest: bool,
        /// Its version id.
        version_id: Option<String>,
        /// When it was placed.
        last_modified: SystemTime,
    },
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Bucket {
    created: Option<SystemTime>,
    settings: BucketSettings,
    keys: BTreeMap<String, Vec<Entry>>,
}

impl Bucket {
    fn current(&self, key: &str) -> Option<&ObjectMeta> {
        match self.keys.get(key)?.last()? {
            Entry::Object(m) => Some(m),
            Entry::DeleteMarker { .. } => None,
        }
    }
}

/// HTTP conditions of a request (`If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`, or their `x-amz-copy-source-` forms).
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// An ETag, or `*`.
    pub if_match: Option<String>,
    /// An ETag, or `*`.
    pub if_none_match: Option<String>,
    /// Only if changed after.
    pub if_modified_since: Option<SystemTime>,
    /// Only if unchanged since.
    pub if_unmodified_since: Option<SystemTime>,
}

fn etag_matches(condition: &str, etag: &str) -> bool {
    condition.split(',').map(|c| c.trim().trim_start_matches("W/").trim_matches('"')).any(|c| c == "*" || c == etag)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Conditions {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// For reads (GET, HEAD): a failed If-Match or If-Unmodified-Since is 412, a matching
    /// If-None-Match or an unchanged If-Modified-Since is 304 (RFC 9110 13.2.2 order).
    pub fn check_read(&self, m: &ObjectMeta) -> Result<(), StoreError> {
        self.check(m, StoreError::NotModified)
    }

    /// For a copy's source: every failed condition is 412.
    pub fn check_copy_source(&self, m: &ObjectMeta) -> Result<(), StoreError> {
        self.check(m, StoreError::PreconditionFailed("x-amz-copy-source-if-none-match or -if-modified-since"))
    }

    fn check(&self, m: &ObjectMeta, not_modified: StoreError) -> Result<(), StoreError> {
        if let Some(c) = &self.if_match {
            if !etag_matches(c, &m.etag) {
                return Err(StoreError::PreconditionFailed("If-Match"));
            }
        } else if let Some(t) = self.if_unmodified_since
            && secs(m.last_modified) > secs(t)
        {
            return Err(StoreError::PreconditionFailed("If-Unmodified-Since"));
        }
        if let Some(c) = &self.if_none_match {
            if etag_matches(c, &m.etag) {
                return Err(not_modified);
            }
        } else if let Some(t) = self.if_modified_since
            && secs(m.last_modified) <= secs(t)
        {
            return Err(not_modified);
        }
        Ok(())
    }

    /// For writes (PutObject, CompleteMultipartUpload, CopyObject's destination): `If-None-Match: *`
    /// fails when the key exists, `If-Match` when it is missing (404) or differs (412).
    pub fn check_write(&self, key: &str, current: Option<&ObjectMeta>) -> Result<(), StoreError> {
        if let Some(c) = &self.if_none_match
            && c.trim() == "*"
            && current.is_some()
        {
            return Err(StoreError::PreconditionFailed("If-None-Match"));
        }
        if let Some(c) = &self.if_match {
            match current {
                None => return Err(StoreError::NoSuchKey { key: key.into(), delete_marker: None }),
                Some(m) if !etag_matches(c, &m.etag) => return Err(StoreError::PreconditionFailed("If-Match")),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Where an ingested body is written: a file of its own, or a region reserved for it in a
/// multipart upload's staging file (see `multipart::Staging`).
#[derive(Debug, Clone)]
pub struct Destination {
    /// The file.
    pub path: PathBuf,
    /// Where the body starts in it.
    pub offset: u64,
    /// The region's length, when the file is shared: the body must fill it exactly.
    pub reserved: Option<u64>,
}

/// A body written to disk, not yet an object: its file, size, MD5 and the checksums asked for.
#[derive(Debug)]
pub struct Ingested {
    /// The file.
    pub path: PathBuf,
    /// Where the body starts in it (0 unless `shared`).
    pub offset: u64,
    /// The file is an upload's staging file, holding other parts too: never removed alone.
    pub shared: bool,
    /// Bytes.
    pub size: u64,
    /// MD5 (the ETag of a single-part object or of a part).
    pub md5: [u8; 16],
    /// Raw digests of the algorithms computed while writing.
    pub digests: Vec<(Algorithm, Vec<u8>)>,
}

impl Ingested {
    /// The raw digest of `alg`, when it was computed.
    pub fn digest(&self, alg: Algorithm) -> Option<&[u8]> {
        self.digests.iter().find(|(a, _)| *a == alg).map(|(_, d)| d.as_slice())
    }

    /// Fails with BadDigest unless every checksum the client sent matches.
    pub fn verify(&self, sent: &[(Algorithm, String)]) -> Result<(), StoreError> {
        for (alg, value) in sent {
            let ok = checksum::decode(value).is_some_and(|v| self.digest(*alg) == Some(v.as_slice()));
            if !ok {
                return Err(StoreError::BadDigest(alg.as_str()));
            }
        }
        Ok(())
    }
}

/// The object store behind the S3 endpoint.
pub struct S3Store {
    dir: BodyDir,
    pub(super) buckets: Mutex<HashMap<String, Bucket>>,
    pub(super) uploads: Mutex<HashMap<String, super::multipart::Upload>>,
    /// Names body files.
    counter: AtomicU64,
    /// Orders the creation events of each key.
    sequencer: Sequencer,
    events: mpsc::UnboundedSender<ObjectCreated>,
    /// Last-modified times and event times are on this clock.
    pub(super) clock: crate::clock::Clock,
}

/// Where bodies live: a temporary directory, or one kept across restarts (`--data-dir`).
enum BodyDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl BodyDir {
    fn path(&self) -> &Path {
        match self {
            BodyDir::Temporary(t) => t.path(),
            BodyDir::Kept(p) => p,
        }
    }
}

/// The part of the store a restart keeps (bodies stay in their files).
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    buckets: HashMap<String, Bucket>,
    counter: u64,
}

#[derive(serde::Serialize)]
struct SavedRef<'a> {
    buckets: &'a HashMap<String, Bucket>,
    counter: u64,
}

/// A current object version, as its creation event announced it.
#[derive(Debug, Clone)]
pub struct CurrentObject {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The version.
    pub meta: ObjectMeta,
}

/// What a listing returns.
#[derive(Debug, Default)]
pub struct Listing {
    /// Objects (key, meta).
    pub objects: Vec<(String, ObjectMeta)>,
    /// Common prefixes under the delimiter.
    pub prefixes: Vec<String>,
    /// Key to continue after, when truncated.
    pub next: Option<String>,
}

/// What ListObjectVersions returns.
#[derive(Debug, Default)]
pub struct VersionListing {
    /// Versions and delete markers, keys in order, each key's newest first.
    pub entries: Vec<VersionEntry>,
    /// Common prefixes under the delimiter.
    pub prefixes: Vec<String>,
    /// Where to continue (key, version id marker), when truncated.
    pub next: Option<(String, String)>,
}

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deleted {
    /// A delete marker was placed, or the version removed was one.
    pub delete_marker: bool,
    /// The marker's or the removed version's id.
    pub version_id: Option<String>,
}

fn new_version_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::rng();
    (0..32).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// S3's name for the `null` version in requests.
const NULL_VERSION: &str = "null";

fn same_version(asked: &str, entry: &Entry) -> bool {
    match entry.version_id() {
        Some(v) => v == asked,
        None => asked == NULL_VERSION,
    }
}

impl S3Store {
    /// A store with bodies in a fresh temporary directory; creations go to `events`.
    pub fn new(events: mpsc::UnboundedSender<ObjectCreated>) -> std::io::Result<Self> {
        Ok(Self {
            dir: BodyDir::Temporary(tempfile::Builder::new().prefix("sim-s3-").tempdir()?),
            buckets: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(1),
            sequencer: Sequencer::default(),
            events,
            clock: Default::default(),
        })
    }

    /// Stamps objects on `clock`.
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Self { clock, ..self }
    }

    const STATE: &'static str = "state.json";

    /// A store kept in `dir`: bodies as files there, buckets, versions and metadata in its
    /// `state.json` (written by [`S3Store::save`]); what an earlier run saved is read back.
    /// Open multipart uploads are not kept (their clients are gone after a restart).
    pub fn open(dir: &Path, events: mpsc::UnboundedSender<ObjectCreated>) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (buckets, counter) = match std::fs::read(dir.join(Self::STATE)) {
            Ok(bytes) => {
                let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", dir.join(Self::STATE).display()),
                    )
                })?;
                (saved.buckets, saved.counter)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (HashMap::new(), 1),
            Err(e) => return Err(e),
        };
        // Past anything handed out after the last save (a killed process saved up to half a
        // second before it died): a body file name must never be reused.
        let counter = counter + (1 << 24);
        Ok(Self {
            dir: BodyDir::Kept(dir.to_path_buf()),
            buckets: Mutex::new(buckets),
            uploads: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(counter),
            sequencer: Sequencer::default(),
            events,
            clock: Default::default(),
        })
    }

    /// Writes buckets, versions and metadata to the kept directory (atomically: a crash leaves
    /// the previous state); a no-op for a temporary store.
    pub fn save(&self) -> std::io::Result<()> {
        let BodyDir::Kept(dir) = &self.dir else { return Ok(()) };
        let bytes = {
            let buckets = self.buckets.lock().unwrap();
            let saved = SavedRef { buckets: &buckets, counter: self.counter.load(Ordering::Relaxed) };
            serde_json::to_vec(&saved).map_err(std::io::Error::other)?
        };
        crate::persist::write_atomically(&dir.join(Self::STATE), &bytes)
    }

    /// Whether a bucket exists.
    pub fn has_bucket(&self, name: &str) -> bool {
        self.buckets.lock().unwrap().contains_key(name)
    }

    /// Every current object version of the buckets that notify EventBridge.
    pub fn announced_objects(&self) -> Vec<CurrentObject> {
        let buckets = self.buckets.lock().unwrap();
        let mut out = Vec::new();
        for (name, b) in buckets.iter().filter(|(_, b)| b.settings.eventbridge) {
            for key in b.keys.keys() {
                if let Some(meta) = b.current(key) {
                    out.push(CurrentObject { bucket: name.clone(), key: key.clone(), meta: meta.clone() });
                }
            }
        }
        out
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn new_path(&self) -> PathBuf {
        self.dir.path().join(format!("{:016x}", self.next_id()))
    }

    /// Creates a bucket, as CreateBucket does: unversioned, no EventBridge notifications.
    pub fn create_bucket(&self, name: &str) -> Result<(), StoreError> {
        self.create_bucket_with(name, BucketSettings::default())
    }

    /// Creates a bucket with its settings (the stack's buckets, as `buckets.json` declares them).
    pub fn create_bucket_with(&self, name: &str, settings: BucketSettings) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.contains_key(name) {
            return Err(StoreError::BucketAlreadyOwnedByYou(name.into()));
        }
        buckets.insert(name.into(), Bucket { created: Some(self.clock.now()), settings, keys: BTreeMap::new() });
        Ok(())
    }

    /// Deletes an empty bucket.
    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        match buckets.get(name) {
            None => Err(StoreError::NoSuchBucket(name.into())),
            Some(b) if !b.keys.is_empty() => Err(StoreError::BucketNotEmpty(name.into())),
            Some(_) => {
                buckets.remove(name);
                Ok(())
            }
        }
    }

    /// Bucket names with creation times.
    pub fn list_buckets(&self) -> Vec<(String, SystemTime)> {
        let buckets = self.buckets.lock().unwrap();
        let mut out: Vec<_> =
            buckets.iter().map(|(n, b)| (n.clone(), b.created.unwrap_or(SystemTime::UNIX_EPOCH))).collect();
        out.sort();
        out
    }

    /// Whether the bucket exists.
    pub fn bucket_exists(&self, name: &str) -> bool {
        self.buckets.lock().unwrap().contains_key(name)
    }

    pub(super) fn require_bucket(&self, name: &str) -> Result<(), StoreError> {
        if self.bucket_exists(name) { Ok(()) } else { Err(StoreError::NoSuchBucket(name.into())) }
    }

    /// The bucket's versioning.
    pub fn versioning(&self, bucket: &str) -> Result<Versioning, StoreError> {
        let buckets = self.buckets.lock().unwrap();
        Ok(buckets.get(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?.settings.versioning)
    }

    /// PutBucketVersioning: `Enabled` or `Suspended` (a bucket never returns to unversioned).
    pub fn set_versioning(&self, bucket: &str, enabled: bool) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        b.settings.versioning = if enabled { Versioning::Enabled } else { Versioning::Suspended };
        Ok(())
    }

    /// Streams `body` to a new file, computing the MD5 and the checksums of `algorithms`.
    pub async fn ingest<S, E>(&self, body: S, algorithms: &[Algorithm]) -> Result<Ingested, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.ingest_to(body, algorithms, Destination { path: self.new_path(), offset: 0, reserved: None }).await
    }

    /// Streams `body` to `dest`, computing the MD5 and the checksums of `algorithms`. A body
    /// that does not fill a reserved region exactly is an error (and never written past it).
    pub async fn ingest_to<S, E>(
        &self,
        mut body: S,
        algorithms: &[Algorithm],
        dest: Destination,
    ) -> Result<Ingested, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use tokio::io::AsyncSeekExt;
        let Destination { path, offset, reserved } = dest;
        let file = match reserved {
            None => tokio::fs::File::create(&path).await?,
            Some(_) => {
                let mut f = tokio::fs::OpenOptions::new().write(true).open(&path).await?;
                f.seek(std::io::SeekFrom::Start(offset)).await?;
                f
            }
        };
        // Large buffers: every tokio file write is a trip to the blocking pool.
        let mut file = tokio::io::BufWriter::with_capacity(IO_BUFFER, file);
        let mut md5 = Md5::new();
        let mut hashers: Vec<Hasher> = algorithms.iter().map(|a| Hasher::new(*a)).collect();
        let mut size = 0u64;
        let result: Result<(), StoreError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| body_error(e.to_string()))?;
                size += chunk.len() as u64;
                if let Some(r) = reserved
                    && size > r
                {
                    return Err(StoreError::Body(format!("the body is longer than its Content-Length of {r}")));
                }
                md5.update(&chunk);
                for h in &mut hashers {
                    h.update(&chunk);
                }
                file.write_all(&chunk).await?;
            }
            if let Some(r) = reserved
                && size != r
            {
                return Err(StoreError::Body(format!(
                    "the body ended after {size} of its Content-Length of {r} bytes"
                )));
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            // A body cut short never becomes an object (a shared file's region is left unused).
            if reserved.is_none() {
                let _ = tokio::fs::remove_file(&path).await;
            }
            return Err(e);
        }
        let digests = algorithms.iter().copied().zip(hashers.into_iter().map(Hasher::finish)).collect();
        Ok(Ingested { path, offset, shared: reserved.is_some(), size, md5: md5.finalize().into(), digests })
    }

    /// Makes an ingested body the object `key` (PutObject): its checksum is the one the client
    /// asked for, else S3's default CRC64NVME.
    #[allow(clippy::too_many_arguments)]
    pub fn put_ingested(
        &self,
        bucket: &str,
        key: &str,
        body: Ingested,
        algorithm: Algorithm,
        attrs: ObjectAttrs,
        conditions: &Conditions,
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError> {
        let checksum = body.digest(algorithm).map(|d| Checksum::full(algorithm, d.to_vec()));
        let meta = ObjectMeta {
            version_id: None,
            size: body.size,
            etag: hex::encode(body.md5),
            last_modified: self.clock.now(),
            attrs,
            checksum,
            parts: Vec::new(),
            path: body.path,
            sequencer: String::new(),
        };
        self.commit(bucket, key, meta, conditions, "PutObject", caller)
    }

    /// Stores an object from a body stream with S3's default checksum (for callers inside the
    /// simulator and tests).
    pub async fn put_object<S, E>(
        &self,
        bucket: &str,
        key: &str,
        body: S,
        attrs: ObjectAttrs,
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.require_bucket(bucket)?;
        let body = self.ingest(body, &[Algorithm::Crc64Nvme]).await?;
        self.put_ingested(bucket, key, body, Algorithm::Crc64Nvme, attrs, &Conditions::default(), caller)
    }

    /// Makes a complete body file visible as the key's new current version and announces it;
    /// `conditions` are checked against the current version at that moment.
    pub(super) fn commit(
        &self,
        bucket: &str,
        key: &str,
        mut meta: ObjectMeta,
        conditions: &Conditions,
        reason: &'static str,
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError> {
        let eventbridge = {
            let mut buckets = self.buckets.lock().unwrap();
            let Some(b) = buckets.get_mut(bucket) else {
                let _ = std::fs::remove_file(&meta.path);
                return Err(StoreError::NoSuchBucket(bucket.into()));
            };
            if let Err(e) = conditions.check_write(key, b.current(key)) {
                let _ = std::fs::remove_file(&meta.path);
                return Err(e);
            }
            let versions = b.keys.entry(key.to_string()).or_default();
            match b.settings.versioning {
                Versioning::Enabled => meta.version_id = Some(new_version_id()),
                Versioning::Unversioned | Versioning::Suspended => {
                    // The null version is replaced, wherever it is in the history.
                    meta.version_id = None;
                    versions.retain(|e| {
                        let null = e.version_id().is_none();
                        if let (true, Entry::Object(old)) = (null, e) {
                            let _ = std::fs::remove_file(&old.path);
                        }
                        !null
                    });
                }
            }
            meta.sequencer = self.sequencer.next();
            versions.push(Entry::Object(meta.clone()));
            b.settings.eventbridge
        };
        if eventbridge {
            let _ = self.events.send(
                ObjectCreated::new(meta.created(bucket, key), reason, caller, meta.last_modified)
                    .holding(self.clock.busy()),
            );
        }
        Ok(meta)
    }

    /// The current version, or the one asked for.
    pub fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        self.head_version(bucket, key, None)
    }

    /// A version of an object: the current one without `version_id`.
    pub fn head_version(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<ObjectMeta, StoreError> {
        let buckets = self.buckets.lock().unwrap();
        let b = buckets.get(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        let versions = b.keys.get(key);
        match version_id {
            None => match versions.and_then(|v| v.last()) {
                Some(Entry::Object(m)) => Ok(m.clone()),
                Some(Entry::DeleteMarker { version_id, .. }) => {
                    Err(StoreError::NoSuchKey { key: key.into(), delete_marker: Some(version_id.clone()) })
                }
                None => Err(StoreError::NoSuchKey { key: key.into(), delete_marker: None }),
            },
            Some(asked) => match versions.and_then(|v| v.iter().find(|e| same_version(asked, e))) {
                Some(Entry::Object(m)) => Ok(m.clone()),
                Some(Entry::DeleteMarker { version_id, .. }) => {
                    Err(StoreError::MethodNotAllowed { version_id: version_id.clone() })
                }
                None if versions.is_none() && asked == NULL_VERSION => {
                    Err(StoreError::NoSuchKey { key: key.into(), delete_marker: None })
                }
                None => Err(StoreError::NoSuchVersion(asked.into())),
            },
        }
    }

    /// DeleteObject: on an enabled bucket without a version id, a delete marker; with one, that
    /// version removed for good; on an unversioned bucket, the object removed. Deleting a
    /// missing key succeeds, as in S3.
    pub fn delete(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Deleted, StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        let versioning = b.settings.versioning;
        let mut out = Deleted::default();
        match version_id {
            Some(asked) => {
                if let Some(versions) = b.keys.get_mut(key)
                    && let Some(i) = versions.iter().position(|e| same_version(asked, e))
                {
                    let removed = versions.remove(i);
                    out.version_id = removed.version_id().map(str::to_string);
                    match removed {
                        Entry::Object(m) => {
                            let _ = std::fs::remove_file(m.path);
                        }
                        Entry::DeleteMarker { .. } => out.delete_marker = true,
                    }
                } else if asked != NULL_VERSION && versioning == Versioning::Unversioned {
                    return Err(StoreError::InvalidArgument("Invalid version id specified".into()));
                }
            }
            None => match versioning {
                Versioning::Unversioned => {
                    for e in b.keys.remove(key).unwrap_or_default() {
                        if let Entry::Object(m) = e {
                            let _ = std::fs::remove_file(m.path);
                        }
                    }
                }
                Versioning::Enabled | Versioning::Suspended => {
                    let marker_id = (versioning == Versioning::Enabled).then(new_version_id);
                    let versions = b.keys.entry(key.to_string()).or_default();
                    if marker_id.is_none() {
                        versions.retain(|e| {
                            let null = e.version_id().is_none();
                            if let (true, Entry::Object(old)) = (null, e) {
                                let _ = std::fs::remove_file(&old.path);
                            }
                            !null
                        });
                    }
                    versions
                        .push(Entry::DeleteMarker { version_id: marker_id.clone(), last_modified: self.clock.now() });
                    out = Deleted { delete_marker: true, version_id: marker_id };
                }
            },
        }
        if b.keys.get(key).is_some_and(Vec::is_empty) {
            b.keys.remove(key);
        }
        Ok(out)
    }

    /// Copies an object server-side (CopyObject): the destination is a new single-part object
    /// with `attrs`, and a full-object checksum of `algorithm` (by default the source's).
    #[allow(clippy::too_many_arguments)]
    pub async fn copy(
        &self,
        src: &ObjectMeta,
        dst_bucket: &str,
        dst_key: &str,
        attrs: ObjectAttrs,
        algorithm: Option<Algorithm>,
        conditions: &Conditions,
        corrupt: bool,
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError> {
        self.require_bucket(dst_bucket)?;
        let path = self.new_path();
        let algorithm = algorithm.or(src.checksum.as_ref().map(|c| c.algorithm)).unwrap_or(Algorithm::Crc64Nvme);
        let reusable = src.checksum.as_ref().filter(|c| c.algorithm == algorithm && c.kind == Kind::FullObject);
        let (checksum, etag) = match (reusable, src.parts.is_empty(), corrupt) {
            // Same bytes, same algorithm: nothing to read.
            (Some(c), true, false) => {
                link_or_copy(&src.path, &path).await?;
                (c.clone(), src.etag.clone())
            }
            _ => {
                // A fresh digest (and MD5: a copy of a multipart object is single-part).
                copy_file(&src.path, &path).await?;
                if corrupt {
                    corrupt_file(&path)?;
                }
                let (md5, digest) = digest_file(&path, algorithm).await?;
                (Checksum::full(algorithm, digest), hex::encode(md5))
            }
        };
        let meta = ObjectMeta {
            version_id: None,
            size: src.size,
            etag,
            last_modified: self.clock.now(),
            attrs,
            checksum: Some(checksum),
            parts: Vec::new(),
            path,
            sequencer: String::new(),
        };
        self.commit(dst_bucket, dst_key, meta, conditions, "CopyObject", caller)
    }

    /// Lists current versions in key order, with S3's prefix/delimiter/start-after semantics.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> Result<Listing, StoreError> {
        let buckets = self.buckets.lock().unwrap();
        let b = buckets.get(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        let mut listing = Listing::default();
        let range = match after {
            Some(a) => b.keys.range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => b.keys.range::<str, _>(..),
        };
        let mut count = 0;
        let mut last_key: Option<String> = None;
        for (key, versions) in range {
            let Some(Entry::Object(meta)) = versions.last() else { continue };
            if !key.starts_with(prefix) {
                if key.as_str() > prefix {
                    break;
                }
                continue;
            }
            let common = common_prefix(prefix, key, delimiter);
            if let Some(cp) = &common
                && listing.prefixes.last() == Some(cp)
            {
                last_key = Some(key.clone());
                continue;
            }
            if count == max_keys {
                listing.next = last_key;
                return Ok(listing);
            }
            count += 1;
            match common {
                Some(cp) => listing.prefixes.push(cp),
                None => listing.objects.push((key.clone(), meta.clone())),
            }
            last_key = Some(key.clone());
        }
        Ok(listing)
    }

    /// Lists every version and delete marker (ListObjectVersions), starting after
    /// (`key_marker`, `version_marker`).
    pub fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_marker: Option<&str>,
        max_keys: usize,
    ) -> Result<VersionListing, StoreError> {
        let buckets = self.buckets.lock().unwrap();
        let b = buckets.get(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        let start = match key_marker {
            Some(k) if version_marker.is_some() => std::ops::Bound::Included(k),
            Some(k) => std::ops::Bound::Excluded(k),
            None => std::ops::Bound::Unbounded,
        };
        // Everything after the markers, in order: keys ascending, each key's newest first.
        let mut items: Vec<(String, Option<VersionEntry>)> = Vec::new();
        for (key, versions) in b.keys.range::<str, _>((start, std::ops::Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                if key.as_str() > prefix {
                    break;
                }
                continue;
            }
            if let Some(cp) = common_prefix(prefix, key, delimiter) {
                if items.last().map(|(k, e)| (k, e.is_none())) != Some((&cp, true)) {
                    items.push((cp, None));
                }
                continue;
            }
            let mut newest_first: Vec<&Entry> = versions.iter().rev().collect();
            if Some(key.as_str()) == key_marker
                && let Some(vm) = version_marker
            {
                let through =
                    newest_first.iter().position(|e| same_version(vm, e)).map_or(newest_first.len(), |i| i + 1);
                newest_first.drain(..through);
            }
            let latest = versions.last().and_then(Entry::version_id);
            for e in newest_first {
                let is_latest = e.version_id() == latest;
                items.push((
                    key.clone(),
                    Some(match e {
                        Entry::Object(m) => {
                            VersionEntry::Object { key: key.clone(), latest: is_latest, meta: m.clone() }
                        }
                        Entry::DeleteMarker { version_id, last_modified } => VersionEntry::DeleteMarker {
                            key: key.clone(),
                            latest: is_latest,
                            version_id: version_id.clone(),
                            last_modified: *last_modified,
                        },
                    }),
                ));
            }
        }
        let mut out = VersionListing::default();
        let truncated = items.len() > max_keys;
        items.truncate(max_keys);
        if truncated && let Some((key, last)) = items.last() {
            let version = match last {
                Some(VersionEntry::Object { meta, .. }) => meta.version_id.clone(),
                Some(VersionEntry::DeleteMarker { version_id, .. }) => version_id.clone(),
                None => None,
            };
            out.next = Some((key.clone(), version.unwrap_or_else(|| NULL_VERSION.into())));
        }
        for (key, e) in items {
            match e {
                Some(e) => out.entries.push(e),
                None => out.prefixes.push(key),
            }
        }
        Ok(out)
    }

    /// Flips one byte of a stored version's body, keeping its ETag and checksum: an S3 that
    /// lies (the `corrupt-copy` break, for the harness's own tests).
    pub async fn tamper(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<(), StoreError> {
        let meta = self.head_version(bucket, key, version_id)?;
        let path = self.new_path();
        copy_file(&meta.path, &path).await?;
        corrupt_file(&path)?;
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        for e in b.keys.get_mut(key).into_iter().flatten() {
            if let Entry::Object(m) = e
                && m.version_id == meta.version_id
            {
                m.path = path.clone();
            }
        }
        Ok(())
    }

    /// Replaces a version's tags (the current one without `version_id`).
    pub fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<Option<String>, StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        let missing = || StoreError::NoSuchKey { key: key.into(), delete_marker: None };
        let versions = b.keys.get_mut(key).ok_or_else(missing)?;
        let entry = match version_id {
            Some(v) => versions.iter_mut().find(|e| same_version(v, e)).ok_or(StoreError::NoSuchVersion(v.into()))?,
            None => versions.last_mut().ok_or_else(missing)?,
        };
        match entry {
            Entry::Object(m) => {
                m.attrs.tags = tags;
                Ok(m.version_id.clone())
            }
            Entry::DeleteMarker { version_id, .. } => {
                Err(StoreError::MethodNotAllowed { version_id: version_id.clone() })
            }
        }
    }
}

fn common_prefix(prefix: &str, key: &str, delimiter: Option<&str>) -> Option<String> {
    let rest = &key[prefix.len()..];
    delimiter.filter(|d| !d.is_empty()).and_then(|d| rest.find(d).map(|i| format!("{prefix}{}", &rest[..i + d.len()])))
}

/// A body that failed as it was read: s3s checks a signed payload's SHA-256 as it streams
/// (its UploadStream), and S3 names that failure XAmzContentSHA256Mismatch.
fn body_error(message: String) -> StoreError {
    if message.contains("Sha256Mismatch") { StoreError::ContentSha256Mismatch } else { StoreError::Body(message) }
}

/// A hard link where the filesystem allows (bodies are never modified in place), else a copy.
async fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    match tokio::fs::hard_link(from, to).await {
        Ok(()) => Ok(()),
        Err(_) => copy_file(from, to).await,
    }
}

async fn copy_file(from: &Path, to: &Path) -> std::io::Result<()> {
    tokio::fs::copy(from, to).await.map(|_| ())
}

/// Flips one byte in the middle of a body file (the `corrupt` fault).
pub(super) fn corrupt_file(path: &Path) -> std::io::Result<()> {
    let len = std::fs::metadata(path)?.len();
    corrupt_region(path, 0, len)
}

/// Flips one byte in the middle of `len` bytes at `offset` of a file (an empty region gains a
/// byte, at its start).
pub(super) fn corrupt_region(path: &Path, offset: u64, len: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    if len == 0 {
        f.seek(SeekFrom::Start(offset))?;
        return f.write_all(b"!");
    }
    let at = offset + len / 2;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut b)?;
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&[b[0] ^ 0x20])
}

/// MD5 and one checksum of a file, read once.
pub(super) async fn digest_file(path: &Path, alg: Algorithm) -> std::io::Result<([u8; 16], Vec<u8>)> {
    digest_range(path, 0, None, alg).await
}

/// MD5 and one checksum of `len` bytes at `start` (to the end when `None`).
pub(super) async fn digest_range(
    path: &Path,
    start: u64,
    len: Option<u64>,
    alg: Algorithm,
) -> std::io::Result<([u8; 16], Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path).await?;
    f.seek(std::io::SeekFrom::Start(start)).await?;
    let mut remaining = len.unwrap_or(u64::MAX);
    let mut md5 = Md5::new();
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; IO_BUFFER];
    while remaining > 0 {
        let want = (remaining.min(buf.len() as u64)) as usize;
        let n = f.read(&mut buf[..want]).await?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        h.update(&buf[..n]);
        remaining -= n as u64;
    }
    Ok((md5.finalize().into(), h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (S3Store, mpsc::UnboundedReceiver<ObjectCreated>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (S3Store::new(tx).unwrap(), rx)
    }

    fn body(data: &'static [u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(vec![Ok(Bytes::from_static(data))])
    }

    fn announcing() -> BucketSettings {
        BucketSettings { versioning: Versioning::Unversioned, eventbridge: true }
    }

    #[tokio::test]
    async fn put_emits_event_and_lists_by_delimiter() {
        let (s, mut rx) = store();
        s.create_bucket_with("b", announcing()).unwrap();
        for k in ["u/a.csv", "u/dir/", "u/dir/x", "v/y"] {
            s.put_object("b", k, body(b"hi"), ObjectAttrs::default(), &Caller::default()).await.unwrap();
        }
        let ev = rx.recv().await.unwrap();
        assert_eq!((ev.key.as_str(), ev.size, ev.reason, ev.version_id), ("u/a.csv", 2, "PutObject", None));
        let l = s.list("b", "u/", Some("/"), None, 1000).unwrap();
        assert_eq!(l.objects.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(), ["u/a.csv"]);
        assert_eq!(l.prefixes, ["u/dir/"]);
        let page = s.list("b", "", None, None, 2).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.next.as_deref(), Some("u/dir/"));
    }

    #[tokio::test]
    async fn only_buckets_with_notifications_announce() {
        let (s, mut rx) = store();
        s.create_bucket("quiet").unwrap();
        s.put_object("quiet", "k", body(b"x"), ObjectAttrs::default(), &Caller::default()).await.unwrap();
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn versions_delete_markers_and_version_reads() {
        let (s, mut rx) = store();
        s.create_bucket_with("v", BucketSettings { versioning: Versioning::Enabled, eventbridge: true }).unwrap();
        let c = Caller::default();
        let v1 = s.put_object("v", "k", body(b"one"), ObjectAttrs::default(), &c).await.unwrap();
        let v2 = s.put_object("v", "k", body(b"two"), ObjectAttrs::default(), &c).await.unwrap();
        let (id1, id2) = (v1.version_id.clone().unwrap(), v2.version_id.clone().unwrap());
        assert_ne!(id1, id2);
        assert_eq!(id1.len(), 32);
        assert_eq!(rx.recv().await.unwrap().version_id.as_deref(), Some(id1.as_str()));
        assert_eq!(s.head("v", "k").unwrap().etag, v2.etag);
        assert_eq!(s.head_version("v", "k", Some(&id1)).unwrap().etag, v1.etag);
        assert!(matches!(s.head_version("v", "k", Some("nope")), Err(StoreError::NoSuchVersion(_))));
        let del = s.delete("v", "k", None).unwrap();
        assert!(del.delete_marker);
        match s.head("v", "k") {
            Err(StoreError::NoSuchKey { delete_marker: Some(id), .. }) => assert_eq!(id, del.version_id),
            other => panic!("{other:?}"),
        }
        let marker = del.version_id.clone().unwrap();
        assert!(matches!(s.head_version("v", "k", Some(&marker)), Err(StoreError::MethodNotAllowed { .. })));
        assert!(s.list("v", "", None, None, 10).unwrap().objects.is_empty());
        let all = s.list_versions("v", "", None, None, None, 10).unwrap();
        assert_eq!(all.entries.len(), 3);
        assert!(matches!(&all.entries[0], VersionEntry::DeleteMarker { latest: true, .. }));
        // Page through one at a time: the markers resume where the last page stopped.
        let mut seen = Vec::new();
        let (mut km, mut vm) = (None::<String>, None::<String>);
        loop {
            let page = s.list_versions("v", "", None, km.as_deref(), vm.as_deref(), 1).unwrap();
            seen.extend(page.entries.iter().map(|e| format!("{e:?}").len()));
            match page.next {
                Some((k, v)) => (km, vm) = (Some(k), Some(v)),
                None => break,
            }
        }
        assert_eq!(seen.len(), 3);
        // Removing the marker brings version 2 back.
        s.delete("v", "k", Some(&marker)).unwrap();
        assert_eq!(s.head("v", "k").unwrap().version_id.as_deref(), Some(id2.as_str()));
    }

    #[tokio::test]
    async fn unversioned_overwrites_replace_the_null_version() {
        let (s, _rx) = store();
        s.create_bucket("u").unwrap();
        let c = Caller::default();
        s.put_object("u", "k", body(b"one"), ObjectAttrs::default(), &c).await.unwrap();
        s.put_object("u", "k", body(b"two"), ObjectAttrs::default(), &c).await.unwrap();
        assert_eq!(s.list_versions("u", "", None, None, None, 10).unwrap().entries.len(), 1);
        assert!(s.head_version("u", "k", Some("null")).is_ok());
        assert_eq!(s.delete("u", "k", None).unwrap(), Deleted::default());
        assert!(matches!(s.head("u", "k"), Err(StoreError::NoSuchKey { delete_marker: None, .. })));
    }

    #[tokio::test]
    async fn conditional_writes_and_reads() {
        let (s, _rx) = store();
        s.create_bucket("b").unwrap();
        let c = Caller::default();
        let m = s.put_object("b", "k", body(b"x"), ObjectAttrs::default(), &c).await.unwrap();
        let body2 = s.ingest(body(b"y"), &[Algorithm::Crc64Nvme]).await.unwrap();
        let none = Conditions { if_none_match: Some("*".into()), ..Default::default() };
        let err = s.put_ingested("b", "k", body2, Algorithm::Crc64Nvme, ObjectAttrs::default(), &none, &c);
        assert!(matches!(err, Err(StoreError::PreconditionFailed("If-None-Match"))));
        let wrong = Conditions { if_match: Some("\"0000\"".into()), ..Default::default() };
        assert!(matches!(wrong.check_write("k", Some(&m)), Err(StoreError::PreconditionFailed(_))));
        assert!(matches!(wrong.check_write("k", None), Err(StoreError::NoSuchKey { .. })));
        let right = Conditions { if_match: Some(format!("\"{}\"", m.etag)), ..Default::default() };
        assert!(right.check_write("k", Some(&m)).is_ok() && right.check_read(&m).is_ok());
        let same = Conditions { if_none_match: Some(m.etag.clone()), ..Default::default() };
        assert!(matches!(same.check_read(&m), Err(StoreError::NotModified)));
        assert!(matches!(same.check_copy_source(&m), Err(StoreError::PreconditionFailed(_))));
        assert!(matches!(wrong.check_copy_source(&m), Err(StoreError::PreconditionFailed("If-Match"))));
    }

    #[tokio::test]
    async fn copies_keep_or_recompute_the_checksum_and_catch_corruption() {
        let (s, _rx) = store();
        s.create_bucket("b").unwrap();
        let c = Caller::default();
        let src = s.put_object("b", "src", body(b"aaa"), ObjectAttrs::default(), &c).await.unwrap();
        assert_eq!(src.checksum.as_ref().unwrap().value(), "Rnr2/5P7Gsk=");
        let none = Conditions::default();
        let same = s.copy(&src, "b", "same", ObjectAttrs::default(), None, &none, false, &c).await.unwrap();
        assert_eq!((same.checksum.clone(), same.etag.clone()), (src.checksum.clone(), src.etag.clone()));
        let crc32 = s.copy(&src, "b", "c32", ObjectAttrs::default(), Some(Algorithm::Crc32), &none, false, &c).await;
        assert_eq!(crc32.unwrap().checksum.unwrap().value(), "8AdzLQ==");
        let bad = s.copy(&src, "b", "bad", ObjectAttrs::default(), None, &none, true, &c).await.unwrap();
        assert_ne!(bad.checksum, src.checksum);
    }

    #[tokio::test]
    async fn missing_bucket_is_named() {
        let (s, _rx) = store();
        let err = s.put_object("nope", "k", body(b"x"), ObjectAttrs::default(), &Caller::default()).await;
        assert!(matches!(err, Err(StoreError::NoSuchBucket(b)) if b == "nope"));
    }
}
