//! Buckets and objects: an index in memory, bodies in files under a temporary directory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Why a store operation failed, named as S3 names it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket does not exist.
    #[error("The specified bucket does not exist")]
    NoSuchBucket(String),
    /// The key does not exist.
    #[error("The specified key does not exist.")]
    NoSuchKey(String),
    /// The multipart upload id is unknown (completed, aborted or never created).
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload(String),
    /// A listed part was not uploaded, or its ETag differs.
    #[error("One or more of the specified parts could not be found: part {0}")]
    InvalidPart(i32),
    /// A part other than the last is under 5 MiB.
    #[error("Your proposed upload is smaller than the minimum allowed object size: part {0}")]
    EntityTooSmall(i32),
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
const IO_BUFFER: usize = 1024 * 1024;

/// S3's minimum size for every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The event S3 sends to EventBridge when an object is created.
#[derive(Debug, Clone)]
pub struct ObjectCreated {
    /// Bucket name.
    pub bucket: String,
    /// Object key, not encoded.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Hex string that orders events for the same key.
    pub sequencer: String,
    /// `PutObject`, `CopyObject` or `CompleteMultipartUpload`.
    pub reason: &'static str,
    /// The request's id.
    pub request_id: String,
    /// Who made the request (access key id).
    pub requester: String,
    /// Client address.
    pub source_ip: String,
    /// When it happened.
    pub time: SystemTime,
}

/// What an object carries besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct ObjectAttrs {
    /// Content-Type.
    pub content_type: Option<String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// One stored object.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Creation time.
    pub last_modified: SystemTime,
    /// Content type, metadata, tags.
    pub attrs: ObjectAttrs,
    /// Body file.
    pub path: PathBuf,
}

struct Upload {
    bucket: String,
    key: String,
    attrs: ObjectAttrs,
    parts: BTreeMap<i32, PartMeta>,
}

#[derive(Clone)]
struct PartMeta {
    size: u64,
    etag: String,
    md5: [u8; 16],
    path: PathBuf,
}

#[derive(Default)]
struct Bucket {
    created: Option<SystemTime>,
    objects: BTreeMap<String, ObjectMeta>,
}

/// Who asked, for the event's `requester` and `source-ip-address`.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Access key id.
    pub access_key: String,
    /// Client address.
    pub source_ip: String,
    /// Request id.
    pub request_id: String,
}

/// The object store behind the S3 endpoint.
pub struct S3Store {
    dir: tempfile::TempDir,
    buckets: Mutex<HashMap<String, Bucket>>,
    uploads: Mutex<HashMap<String, Upload>>,
    counter: AtomicU64,
    events: mpsc::UnboundedSender<ObjectCreated>,
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

impl S3Store {
    /// A store with bodies in a fresh temporary directory; creations go to `events`.
    pub fn new(events: mpsc::UnboundedSender<ObjectCreated>) -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new().prefix("sim-s3-").tempdir()?,
            buckets: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(1),
            events,
        })
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn new_path(&self) -> PathBuf {
        self.dir.path().join(format!("{:016x}", self.next_id()))
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, name: &str) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.contains_key(name) {
            return Err(StoreError::BucketAlreadyOwnedByYou(name.into()));
        }
        buckets.insert(name.into(), Bucket { created: Some(SystemTime::now()), ..Default::default() });
        Ok(())
    }

    /// Deletes an empty bucket.
    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        match buckets.get(name) {
            None => Err(StoreError::NoSuchBucket(name.into())),
            Some(b) if !b.objects.is_empty() => Err(StoreError::BucketNotEmpty(name.into())),
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

    fn require_bucket(&self, name: &str) -> Result<(), StoreError> {
        if self.bucket_exists(name) { Ok(()) } else { Err(StoreError::NoSuchBucket(name.into())) }
    }

    /// Streams `body` to a new file, returning (path, size, md5).
    async fn write_body<S, E>(&self, mut body: S) -> Result<(PathBuf, u64, [u8; 16]), StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.new_path();
        // Large buffers: every tokio file write is a trip to the blocking pool.
        let mut file = tokio::io::BufWriter::with_capacity(IO_BUFFER, tokio::fs::File::create(&path).await?);
        let mut hasher = Md5::new();
        let mut size = 0u64;
        let result: Result<(), StoreError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| StoreError::Body(e.to_string()))?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            // A body cut short never becomes an object.
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
        Ok((path, size, hasher.finalize().into()))
    }

    /// Stores an object from a body stream (PutObject).
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
        let (path, size, md5) = self.write_body(body).await?;
        let meta = ObjectMeta { size, etag: hex::encode(md5), last_modified: SystemTime::now(), attrs, path };
        self.commit(bucket, key, meta.clone(), "PutObject", caller)?;
        Ok(meta)
    }

    /// Makes an object visible and announces it; the body file is already complete.
    fn commit(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
        reason: &'static str,
        caller: &Caller,
    ) -> Result<(), StoreError> {
        let sequencer;
        {
            let mut buckets = self.buckets.lock().unwrap();
            let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
            sequencer = format!("{:018X}", self.next_id());
            if let Some(old) = b.objects.insert(key.to_string(), meta.clone()) {
                let _ = std::fs::remove_file(old.path);
            }
        }
        let _ = self.events.send(ObjectCreated {
            bucket: bucket.into(),
            key: key.into(),
            size: meta.size,
            etag: meta.etag.clone(),
            sequencer,
            reason,
            request_id: caller.request_id.clone(),
            requester: caller.access_key.clone(),
            source_ip: caller.source_ip.clone(),
            time: meta.last_modified,
        });
        Ok(())
    }

    /// Looks an object up.
    pub fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let buckets = self.buckets.lock().unwrap();
        let b = buckets.get(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        b.objects.get(key).cloned().ok_or_else(|| StoreError::NoSuchKey(key.into()))
    }

    /// Deletes an object; deleting a missing key succeeds, as in S3.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        if let Some(old) = b.objects.remove(key) {
            let _ = std::fs::remove_file(old.path);
        }
        Ok(())
    }

    /// Copies an object server-side (CopyObject); `replace` swaps its attributes.
    pub async fn copy(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
        replace: Option<ObjectAttrs>,
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError> {
        let src = self.head(src_bucket, src_key)?;
        self.require_bucket(dst_bucket)?;
        let path = self.new_path();
        copy_file(&src.path, &path).await?;
        let attrs = replace.unwrap_or(src.attrs);
        let meta = ObjectMeta { last_modified: SystemTime::now(), path, attrs, size: src.size, etag: src.etag };
        self.commit(dst_bucket, dst_key, meta.clone(), "CopyObject", caller)?;
        Ok(meta)
    }

    /// Lists keys in order, with S3's prefix/delimiter/start-after semantics.
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
            Some(a) => b.objects.range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => b.objects.range::<str, _>(..),
        };
        let mut count = 0;
        let mut last_key: Option<String> = None;
        for (key, meta) in range {
            if !key.starts_with(prefix) {
                if key.as_str() > prefix {
                    break;
                }
                continue;
            }
            let rest = &key[prefix.len()..];
            let common = delimiter
                .filter(|d| !d.is_empty())
                .and_then(|d| rest.find(d).map(|i| format!("{prefix}{}", &rest[..i + d.len()])));
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

    /// Starts a multipart upload and returns its id.
    pub fn create_upload(&self, bucket: &str, key: &str, attrs: ObjectAttrs) -> Result<String, StoreError> {
        self.require_bucket(bucket)?;
        let id = format!("{}", uuid::Uuid::new_v4().simple());
        self.uploads
            .lock()
            .unwrap()
            .insert(id.clone(), Upload { bucket: bucket.into(), key: key.into(), attrs, parts: BTreeMap::new() });
        Ok(id)
    }

    fn require_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), StoreError> {
        let uploads = self.uploads.lock().unwrap();
        match uploads.get(id) {
            Some(u) if u.bucket == bucket && u.key == key => Ok(()),
            _ => Err(StoreError::NoSuchUpload(id.into())),
        }
    }

    /// Stores one part of a multipart upload; returns its ETag.
    pub async fn upload_part<S, E>(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: i32,
        body: S,
    ) -> Result<String, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.require_upload(bucket, key, id)?;
        let (path, size, md5) = self.write_body(body).await?;
        self.add_part(id, number, PartMeta { size, etag: hex::encode(md5), md5, path })
    }

    /// Copies a byte range of an object into a part (UploadPartCopy).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: i32,
        src_bucket: &str,
        src_key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<String, StoreError> {
        self.require_upload(bucket, key, id)?;
        let src = self.head(src_bucket, src_key)?;
        let (start, end) = range.unwrap_or((0, src.size.saturating_sub(1)));
        let mut file = tokio::fs::File::open(&src.path).await?;
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(start)).await?;
        let limited = tokio::io::AsyncReadExt::take(file, end + 1 - start);
        let stream = tokio_util::io::ReaderStream::with_capacity(limited, IO_BUFFER);
        let (path, size, md5) = self.write_body(stream).await?;
        self.add_part(id, number, PartMeta { size, etag: hex::encode(md5), md5, path })
    }

    fn add_part(&self, id: &str, number: i32, part: PartMeta) -> Result<String, StoreError> {
        let mut uploads = self.uploads.lock().unwrap();
        let Some(upload) = uploads.get_mut(id) else {
            let _ = std::fs::remove_file(&part.path);
            return Err(StoreError::NoSuchUpload(id.into()));
        };
        let etag = part.etag.clone();
        if let Some(old) = upload.parts.insert(number, part) {
            let _ = std::fs::remove_file(old.path);
        }
        Ok(etag)
    }

    /// Assembles the listed parts into the object and announces it.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        parts: &[(i32, String)],
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError> {
        let (chosen, attrs) = {
            let uploads = self.uploads.lock().unwrap();
            let upload = match uploads.get(id) {
                Some(u) if u.bucket == bucket && u.key == key => u,
                _ => return Err(StoreError::NoSuchUpload(id.into())),
            };
            let mut chosen = Vec::with_capacity(parts.len());
            for (i, (number, etag)) in parts.iter().enumerate() {
                let part = upload.parts.get(number).ok_or(StoreError::InvalidPart(*number))?;
                if part.etag != etag.trim_matches('"') {
                    return Err(StoreError::InvalidPart(*number));
                }
                if i + 1 < parts.len() && part.size < MIN_PART_SIZE {
                    return Err(StoreError::EntityTooSmall(*number));
                }
                chosen.push(part.clone());
            }
            (chosen, upload.attrs.clone())
        };
        let path = self.new_path();
        let mut out = tokio::io::BufWriter::with_capacity(IO_BUFFER, tokio::fs::File::create(&path).await?);
        let mut md5s = Md5::new();
        let mut size = 0;
        for part in &chosen {
            let mut input = tokio::io::BufReader::with_capacity(IO_BUFFER, tokio::fs::File::open(&part.path).await?);
            size += tokio::io::copy_buf(&mut input, &mut out).await?;
            md5s.update(part.md5);
        }
        out.flush().await?;
        let etag = format!("{}-{}", hex::encode(md5s.finalize()), chosen.len());
        if let Some(upload) = self.uploads.lock().unwrap().remove(id) {
            for p in upload.parts.values() {
                let _ = std::fs::remove_file(&p.path);
            }
        }
        let meta = ObjectMeta { size, etag, last_modified: SystemTime::now(), attrs, path };
        self.commit(bucket, key, meta.clone(), "CompleteMultipartUpload", caller)?;
        Ok(meta)
    }

    /// Discards a multipart upload and its parts.
    pub fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), StoreError> {
        self.require_upload(bucket, key, id)?;
        if let Some(upload) = self.uploads.lock().unwrap().remove(id) {
            for p in upload.parts.values() {
                let _ = std::fs::remove_file(&p.path);
            }
        }
        Ok(())
    }

    /// Replaces an object's tags.
    pub fn set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>) -> Result<(), StoreError> {
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(bucket).ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        let o = b.objects.get_mut(key).ok_or_else(|| StoreError::NoSuchKey(key.into()))?;
        o.attrs.tags = tags;
        Ok(())
    }

    /// Multipart uploads in progress (bucket, key, id), for checks that nothing is left behind.
    pub fn open_uploads(&self) -> Vec<(String, String, String)> {
        let uploads = self.uploads.lock().unwrap();
        uploads.iter().map(|(id, u)| (u.bucket.clone(), u.key.clone(), id.clone())).collect()
    }
}

async fn copy_file(from: &Path, to: &Path) -> std::io::Result<()> {
    tokio::fs::copy(from, to).await.map(|_| ())
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

    #[tokio::test]
    async fn put_emits_event_and_lists_by_delimiter() {
        let (s, mut rx) = store();
        s.create_bucket("b").unwrap();
        for k in ["u/a.csv", "u/dir/", "u/dir/x", "v/y"] {
            s.put_object("b", k, body(b"hi"), ObjectAttrs::default(), &Caller::default()).await.unwrap();
        }
        let ev = rx.recv().await.unwrap();
        assert_eq!((ev.key.as_str(), ev.size, ev.reason), ("u/a.csv", 2, "PutObject"));
        let l = s.list("b", "u/", Some("/"), None, 1000).unwrap();
        assert_eq!(l.objects.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(), ["u/a.csv"]);
        assert_eq!(l.prefixes, ["u/dir/"]);
        let page = s.list("b", "", None, None, 2).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.next.as_deref(), Some("u/dir/"));
    }

    #[tokio::test]
    async fn multipart_checks_part_sizes_and_etags() {
        let (s, mut rx) = store();
        s.create_bucket("b").unwrap();
        let id = s.create_upload("b", "k", ObjectAttrs::default()).unwrap();
        let e1 = s.upload_part("b", "k", &id, 1, body(b"small")).await.unwrap();
        let e2 = s.upload_part("b", "k", &id, 2, body(b"last")).await.unwrap();
        let err = s
            .complete_upload("b", "k", &id, &[(1, e1.clone()), (2, e2.clone())], &Caller::default())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::EntityTooSmall(1)));
        let one = s.complete_upload("b", "k", &id, &[(2, e2)], &Caller::default()).await.unwrap();
        assert!(one.etag.ends_with("-1"));
        assert_eq!(rx.recv().await.unwrap().reason, "CompleteMultipartUpload");
        assert!(s.open_uploads().is_empty());
    }

    #[tokio::test]
    async fn missing_bucket_is_named() {
        let (s, _rx) = store();
        let err = s.put_object("nope", "k", body(b"x"), ObjectAttrs::default(), &Caller::default()).await;
        assert!(matches!(err, Err(StoreError::NoSuchBucket(b)) if b == "nope"));
    }
}
