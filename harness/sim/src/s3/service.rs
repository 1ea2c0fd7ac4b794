//! The `s3s::S3` implementation over [`S3Store`]: requests in, the store's answers out, with
//! S3's headers (versions, checksums, delete markers) and error codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::checksum::{self, Algorithm, Checksum as ObjectChecksum, Kind};
use super::created::Caller;
use super::faults::Faults;
use super::multipart::ListedPart;
use super::store::{Conditions, ObjectAttrs, ObjectMeta, S3Store, StoreError, VersionEntry};
use crate::breaks::{Break, Breaks};

/// The S3 endpoint's operations.
#[derive(Clone)]
pub struct S3Frontend {
    store: Arc<S3Store>,
    faults: Arc<Faults>,
    breaks: Arc<Breaks>,
    /// The bucket copies go to, which the copy breaks act on.
    destination: String,
}

impl S3Frontend {
    /// Serves `store`, with `faults` injected.
    pub fn new(store: Arc<S3Store>, faults: Arc<Faults>) -> Self {
        Self { store, faults, breaks: Arc::default(), destination: String::new() }
    }

    /// Breaks copies into `destination` as `breaks` say (for the harness's own tests).
    pub fn with_breaks(self, breaks: Arc<Breaks>, destination: &str) -> Self {
        Self { breaks, destination: destination.into(), ..self }
    }

    fn broken(&self, bucket: &str, b: Break) -> bool {
        bucket == self.destination && self.breaks.has(b)
    }

    /// After a copy into `bucket`: the `copy-twice`, `copy-elsewhere` and `corrupt-copy` breaks.
    async fn after_copy(&self, bucket: &str, key: &str, meta: &ObjectMeta, caller: &Caller) -> Result<(), StoreError> {
        let none = Conditions::default();
        if self.broken(bucket, Break::CopyTwice) {
            self.store.copy(meta, bucket, key, meta.attrs.clone(), None, &none, false, caller).await?;
        }
        if self.broken(bucket, Break::CopyElsewhere) {
            let elsewhere = format!("elsewhere/{key}");
            self.store.copy(meta, bucket, &elsewhere, meta.attrs.clone(), None, &none, false, caller).await?;
            self.store.delete(bucket, key, Some(meta.version_id.as_deref().unwrap_or("null")))?;
        }
        if self.broken(bucket, Break::CorruptCopy) {
            self.store.tamper(bucket, key, meta.version_id.as_deref()).await?;
        }
        Ok(())
    }
}

impl From<StoreError> for S3Error {
    fn from(err: StoreError) -> Self {
        let mut headers = http::HeaderMap::new();
        let mut status = None;
        let code = match &err {
            StoreError::NoSuchBucket(_) => S3ErrorCode::NoSuchBucket,
            StoreError::NoSuchKey { delete_marker, .. } => {
                if let Some(version) = delete_marker {
                    headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
                    if let Some(v) = version.as_deref().and_then(|v| http::HeaderValue::from_str(v).ok()) {
                        headers.insert("x-amz-version-id", v);
                    }
                }
                S3ErrorCode::NoSuchKey
            }
            StoreError::NoSuchVersion(_) => S3ErrorCode::NoSuchVersion,
            StoreError::MethodNotAllowed { version_id } => {
                headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
                headers.insert("allow", http::HeaderValue::from_static("DELETE"));
                if let Some(v) = version_id.as_deref().and_then(|v| http::HeaderValue::from_str(v).ok()) {
                    headers.insert("x-amz-version-id", v);
                }
                S3ErrorCode::MethodNotAllowed
            }
            StoreError::NoSuchUpload(_) => S3ErrorCode::NoSuchUpload,
            StoreError::InvalidPart(_) => S3ErrorCode::InvalidPart,
            StoreError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            StoreError::EntityTooSmall(_) => S3ErrorCode::EntityTooSmall,
            StoreError::EntityTooLarge => S3ErrorCode::EntityTooLarge,
            StoreError::ContentSha256Mismatch => {
                status = Some(http::StatusCode::BAD_REQUEST);
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into())
            }
            StoreError::PreconditionFailed(_) => S3ErrorCode::PreconditionFailed,
            StoreError::NotModified => {
                status = Some(http::StatusCode::NOT_MODIFIED);
                S3ErrorCode::NotModified
            }
            StoreError::BadDigest(_) => S3ErrorCode::BadDigest,
            StoreError::InvalidRequest(_) => S3ErrorCode::InvalidRequest,
            StoreError::InvalidArgument(_) => S3ErrorCode::InvalidArgument,
            StoreError::BucketAlreadyOwnedByYou(_) => S3ErrorCode::BucketAlreadyOwnedByYou,
            StoreError::BucketNotEmpty(_) => S3ErrorCode::BucketNotEmpty,
            StoreError::Body(_) => S3ErrorCode::IncompleteBody,
            StoreError::Io(_) => S3ErrorCode::InternalError,
        };
        let mut e = S3Error::with_message(code, err.to_string());
        if !headers.is_empty() {
            e.set_headers(headers);
        }
        if let Some(s) = status {
            e.set_status_code(s);
        }
        e
    }
}

fn caller<T>(req: &S3Request<T>) -> Caller {
    Caller {
        access_key: req.credentials.as_ref().map(|c| c.access_key.clone()).unwrap_or_default(),
        source_ip: req
            .extensions
            .get::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
        request_id: uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
    }
}

fn quoted(etag: &str) -> ETag {
    ETag::Strong(etag.to_string())
}

fn condition(c: &Option<ETagCondition>) -> Option<String> {
    c.as_ref().map(|c| match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(ETag::Strong(s) | ETag::Weak(s)) => s.clone(),
    })
}

fn when(t: &Option<Timestamp>) -> Option<SystemTime> {
    t.clone().map(|t| SystemTime::from(time::OffsetDateTime::from(t)))
}

/// The destination conditions of a CopyObject, which s3s does not model: raw `If-Match` and
/// `If-None-Match` headers.
fn header_conditions(headers: &http::HeaderMap) -> Conditions {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    Conditions { if_match: get("if-match"), if_none_match: get("if-none-match"), ..Default::default() }
}

/// Parses an `x-amz-tagging` value (`k1=v1&k2=v2`, URL-encoded).
fn parse_tagging(t: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    t.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn metadata_map(m: Option<Metadata>) -> BTreeMap<String, String> {
    m.map(|m| m.into_iter().collect()).unwrap_or_default()
}

/// The headers every write may set on an object.
struct Headers {
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
    tagging: Option<String>,
    storage_class: Option<StorageClass>,
}

impl Headers {
    fn attrs(self) -> ObjectAttrs {
        ObjectAttrs {
            content_type: self.content_type,
            content_encoding: self.content_encoding,
            content_disposition: self.content_disposition,
            content_language: self.content_language,
            cache_control: self.cache_control,
            expires: when(&self.expires),
            metadata: metadata_map(self.metadata),
            tags: parse_tagging(self.tagging.as_deref()),
            storage_class: self.storage_class.map(|s| s.as_str().to_string()).filter(|s| s != "STANDARD"),
        }
    }
}

fn timestamp(t: Option<SystemTime>) -> Option<Timestamp> {
    t.map(Timestamp::from)
}

fn storage_class(a: &ObjectAttrs) -> Option<StorageClass> {
    a.storage_class.clone().map(StorageClass::from)
}

fn source_of(copy_source: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match copy_source {
        CopySource::Bucket { bucket, key, version_id } => {
            Ok((bucket.to_string(), key.to_string(), version_id.as_deref().map(str::to_string)))
        }
        _ => Err(S3Error::with_message(S3ErrorCode::NotImplemented, "access point copy sources")),
    }
}

/// The checksum values a request carries in its headers.
fn sent_values(
    crc32: &Option<String>,
    crc32c: &Option<String>,
    crc64: &Option<String>,
    sha1: &Option<String>,
    sha256: &Option<String>,
) -> Vec<(Algorithm, String)> {
    [
        (Algorithm::Crc32, crc32),
        (Algorithm::Crc32c, crc32c),
        (Algorithm::Crc64Nvme, crc64),
        (Algorithm::Sha1, sha1),
        (Algorithm::Sha256, sha256),
    ]
    .into_iter()
    .filter_map(|(a, v)| v.clone().map(|v| (a, v)))
    .collect()
}

/// The checksums an upload names: in headers, announced as a trailer (`x-amz-trailer`), or by
/// the SDK's algorithm header. The first names the object's algorithm.
fn named_algorithms(
    headers: &http::HeaderMap,
    algorithm: Option<&ChecksumAlgorithm>,
    sent: &[(Algorithm, String)],
) -> Vec<Algorithm> {
    let mut algs: Vec<Algorithm> = algorithm.and_then(|a| Algorithm::parse(a.as_str())).into_iter().collect();
    algs.extend(sent.iter().map(|(a, _)| *a));
    if let Some(t) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        algs.extend(t.split(',').filter_map(|h| Algorithm::parse(h.trim().trim_start_matches("x-amz-checksum-"))));
    }
    algs.dedup();
    algs
}

/// Checksum values that arrived in the body's trailer.
fn trailer_values<T>(req: &S3Request<T>) -> Vec<(Algorithm, String)> {
    let Some(t) = &req.trailing_headers else { return Vec::new() };
    t.read(|h| {
        Algorithm::ALL
            .into_iter()
            .filter_map(|a| h.get(a.header()).and_then(|v| v.to_str().ok()).map(|v| (a, v.to_string())))
            .collect()
    })
    .unwrap_or_default()
}

/// Response checksum fields for an object's checksum.
#[derive(Default)]
struct ChecksumFields {
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    kind: Option<ChecksumType>,
}

impl ChecksumFields {
    fn of(c: Option<&ObjectChecksum>, bare: bool) -> Self {
        let Some(c) = c else { return Self::default() };
        let value = if bare { c.bare_value() } else { c.value() };
        Self::single(c.algorithm, value, Some(c.kind))
    }

    fn single(alg: Algorithm, value: String, kind: Option<Kind>) -> Self {
        let mut f = Self { kind: kind.map(|k| ChecksumType::from(k.as_str().to_string())), ..Default::default() };
        let slot = match alg {
            Algorithm::Crc32 => &mut f.crc32,
            Algorithm::Crc32c => &mut f.crc32c,
            Algorithm::Crc64Nvme => &mut f.crc64,
            Algorithm::Sha1 => &mut f.sha1,
            Algorithm::Sha256 => &mut f.sha256,
        };
        *slot = Some(value);
        f
    }
}

fn enabled(mode: &Option<ChecksumMode>) -> bool {
    mode.as_ref().is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

fn algorithm_of(a: &Option<ChecksumAlgorithm>) -> S3Result<Option<Algorithm>> {
    match a {
        None => Ok(None),
        Some(a) => Algorithm::parse(a.as_str()).map(Some).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!("Checksum algorithm {} is not supported", a.as_str()),
            )
        }),
    }
}

/// The part of a multipart object asked for by `partNumber`: its byte range and checksum.
fn part_of(meta: &ObjectMeta, number: i32) -> S3Result<(std::ops::Range<u64>, Option<ObjectChecksum>)> {
    if meta.parts.is_empty() && number == 1 {
        return Ok((0..meta.size, meta.checksum.clone()));
    }
    let index = usize::try_from(number - 1).ok().filter(|i| *i < meta.parts.len()).ok_or_else(|| {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("InvalidPartNumber".into()),
            "The requested partnumber is not satisfiable",
        );
        e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        e
    })?;
    let start: u64 = meta.parts[..index].iter().map(|p| p.size).sum();
    let part = &meta.parts[index];
    let checksum = match (&part.checksum, &meta.checksum) {
        (Some(raw), Some(c)) => Some(ObjectChecksum::full(c.algorithm, raw.clone())),
        _ => None,
    };
    Ok((start..start + part.size, checksum))
}

/// A response struct literal with the checksum fields of `f` filled in (and its `checksum_type`
/// with `kind`): every output carrying checksums names the same five fields.
macro_rules! checksummed {
    ($f:expr, kind, $ty:ident { $($rest:tt)* }) => {{
        let f: ChecksumFields = $f;
        let kind = f.kind.clone();
        checksummed!(f, $ty { checksum_type: kind, $($rest)* })
    }};
    ($f:expr, $ty:ident { $($rest:tt)* }) => {{
        let f: ChecksumFields = $f;
        $ty {
            checksum_crc32: f.crc32,
            checksum_crc32c: f.crc32c,
            checksum_crc64nvme: f.crc64,
            checksum_sha1: f.sha1,
            checksum_sha256: f.sha256,
            $($rest)*
        }
    }};
}

#[async_trait::async_trait]
impl S3 for S3Frontend {
    async fn list_buckets(&self, _req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self
            .store
            .list_buckets()
            .into_iter()
            .map(|(name, created)| Bucket {
                name: Some(name),
                creation_date: Some(Timestamp::from(created)),
                bucket_region: None,
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), ..Default::default() }))
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.store.create_bucket(&req.input.bucket)?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", req.input.bucket)) }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.store.delete_bucket(&req.input.bucket)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        if !self.store.bucket_exists(&req.input.bucket) {
            return Err(StoreError::NoSuchBucket(req.input.bucket.clone()).into());
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.store.require_bucket(&req.input.bucket)?;
        // us-east-1 answers with an empty location constraint.
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint: None }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let v = self.store.versioning(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: v.status().map(|s| BucketVersioningStatus::from(s.to_string())),
            mfa_delete: None,
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let status = req.input.versioning_configuration.status.as_ref().map(|s| s.as_str().to_string());
        let enabled = match status.as_deref() {
            Some("Enabled") => true,
            Some("Suspended") => false,
            other => {
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    format!("versioning status {other:?}: expected Enabled or Suspended"),
                ));
            }
        };
        self.store.set_versioning(&req.input.bucket, enabled)?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let applied = self.faults.apply("PutObject", &req.input.key).await?;
        let caller = caller(&req);
        self.store.require_bucket(&req.input.bucket)?;
        let i = &req.input;
        let sent = sent_values(
            &i.checksum_crc32,
            &i.checksum_crc32c,
            &i.checksum_crc64nvme,
            &i.checksum_sha1,
            &i.checksum_sha256,
        );
        let named = named_algorithms(&req.headers, i.checksum_algorithm.as_ref(), &sent);
        let algorithm = named.first().copied().unwrap_or(Algorithm::Crc64Nvme);
        let mut compute = named.clone();
        compute.push(algorithm);
        compute.dedup();
        let conditions = Conditions {
            if_match: condition(&i.if_match),
            if_none_match: condition(&i.if_none_match),
            ..Default::default()
        };
        let mut req = req;
        let body =
            req.input.body.take().unwrap_or_else(|| {
                StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
            });
        let ingested = self.store.ingest(body, &compute).await?;
        let mut all_sent = sent;
        all_sent.extend(trailer_values(&req));
        if let Err(e) = ingested.verify(&all_sent) {
            let _ = std::fs::remove_file(&ingested.path);
            return Err(e.into());
        }
        if applied.corrupt {
            super::store::corrupt_file(&ingested.path).map_err(StoreError::from)?;
        }
        let input = req.input;
        let attrs = Headers {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            metadata: input.metadata,
            tagging: input.tagging,
            storage_class: input.storage_class,
        }
        .attrs();
        let meta =
            self.store.put_ingested(&input.bucket, &input.key, ingested, algorithm, attrs, &conditions, &caller)?;
        let f = ChecksumFields::of(meta.checksum.as_ref(), false);
        Ok(S3Response::new(checksummed!(
            f,
            kind,
            PutObjectOutput { e_tag: Some(quoted(&meta.etag)), version_id: meta.version_id, ..Default::default() }
        )))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.faults.apply("GetObject", &req.input.key).await?;
        let i = &req.input;
        let meta = self.store.head_version(&i.bucket, &i.key, i.version_id.as_deref())?;
        Conditions {
            if_match: condition(&i.if_match),
            if_none_match: condition(&i.if_none_match),
            if_modified_since: when(&i.if_modified_since),
            if_unmodified_since: when(&i.if_unmodified_since),
        }
        .check_read(&meta)?;
        let mut file = tokio::fs::File::open(&meta.path).await.map_err(StoreError::from)?;
        let (range, content_range, checksum, parts_count) = match (&i.range, i.part_number) {
            (Some(r), _) => {
                let range = r.check(meta.size).map_err(|_| {
                    S3Error::with_message(S3ErrorCode::InvalidRange, "The requested range is not satisfiable")
                })?;
                let header = format!("bytes {}-{}/{}", range.start, range.end - 1, meta.size);
                (range, Some(header), None, None)
            }
            (None, Some(n)) => {
                let (range, checksum) = part_of(&meta, n)?;
                let header = format!("bytes {}-{}/{}", range.start, range.end.max(1) - 1, meta.size);
                (range, Some(header), checksum, Some(meta.parts.len().max(1) as i32))
            }
            (None, None) => (0..meta.size, None, meta.checksum.clone(), None),
        };
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(range.start))
            .await
            .map_err(StoreError::from)?;
        let limited = tokio::io::AsyncReadExt::take(file, range.end - range.start);
        let stream = tokio_util::io::ReaderStream::with_capacity(limited, 256 * 1024);
        let f = if enabled(&i.checksum_mode) {
            ChecksumFields::of(checksum.as_ref(), false)
        } else {
            ChecksumFields::default()
        };
        let a = meta.attrs;
        Ok(S3Response::new(checksummed!(
            f,
            kind,
            GetObjectOutput {
                body: Some(StreamingBlob::wrap(stream)),
                content_length: Some((range.end - range.start) as i64),
                content_range,
                parts_count,
                storage_class: storage_class(&a),
                content_type: a.content_type,
                content_encoding: a.content_encoding,
                content_disposition: a.content_disposition,
                content_language: a.content_language,
                cache_control: a.cache_control,
                expires: timestamp(a.expires),
                tag_count: (!a.tags.is_empty()).then_some(a.tags.len() as i32),
                e_tag: Some(quoted(&meta.etag)),
                last_modified: Some(Timestamp::from(meta.last_modified)),
                metadata: Some(a.metadata.into_iter().collect()),
                version_id: meta.version_id,
                accept_ranges: Some("bytes".into()),
                ..Default::default()
            }
        )))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.faults.apply("HeadObject", &req.input.key).await?;
        let i = &req.input;
        let meta = self.store.head_version(&i.bucket, &i.key, i.version_id.as_deref())?;
        Conditions {
            if_match: condition(&i.if_match),
            if_none_match: condition(&i.if_none_match),
            if_modified_since: when(&i.if_modified_since),
            if_unmodified_since: when(&i.if_unmodified_since),
        }
        .check_read(&meta)?;
        let (size, checksum, parts_count) = match i.part_number {
            Some(n) => {
                let (range, checksum) = part_of(&meta, n)?;
                (range.end - range.start, checksum, Some(meta.parts.len().max(1) as i32))
            }
            None => (meta.size, meta.checksum.clone(), None),
        };
        let f = if enabled(&i.checksum_mode) {
            ChecksumFields::of(checksum.as_ref(), false)
        } else {
            ChecksumFields::default()
        };
        let a = meta.attrs;
        Ok(S3Response::new(checksummed!(
            f,
            kind,
            HeadObjectOutput {
                content_length: Some(size as i64),
                parts_count,
                storage_class: storage_class(&a),
                content_type: a.content_type,
                content_encoding: a.content_encoding,
                content_disposition: a.content_disposition,
                content_language: a.content_language,
                cache_control: a.cache_control,
                expires: timestamp(a.expires),
                e_tag: Some(quoted(&meta.etag)),
                last_modified: Some(Timestamp::from(meta.last_modified)),
                metadata: Some(a.metadata.into_iter().collect()),
                version_id: meta.version_id,
                accept_ranges: Some("bytes".into()),
                ..Default::default()
            }
        )))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = &req.input;
        let meta = self.store.head_version(&i.bucket, &i.key, i.version_id.as_deref())?;
        // One header, comma-separated, may arrive as one list element.
        let wanted = |name: &str| {
            i.object_attributes.iter().flat_map(|a| a.as_str().split(',')).any(|a| a.trim().eq_ignore_ascii_case(name))
        };
        let object_parts = (wanted("ObjectParts") && !meta.parts.is_empty()).then(|| {
            let composite = meta.checksum.as_ref().is_some_and(|c| c.kind == Kind::Composite);
            let marker = i.part_number_marker.unwrap_or(0).max(0) as usize;
            let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
            let listed: Vec<ObjectPart> = if composite {
                meta.parts
                    .iter()
                    .enumerate()
                    .skip(marker)
                    .take(max)
                    .map(|(n, p)| {
                        let alg = meta.checksum.as_ref().map(|c| c.algorithm).unwrap_or(Algorithm::Crc64Nvme);
                        let f = ChecksumFields::single(
                            alg,
                            checksum::encode(p.checksum.as_deref().unwrap_or_default()),
                            None,
                        );
                        checksummed!(f, ObjectPart { part_number: Some(n as i32 + 1), size: Some(p.size as i64) })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let truncated = composite && marker + listed.len() < meta.parts.len();
            GetObjectAttributesParts {
                total_parts_count: Some(meta.parts.len() as i32),
                part_number_marker: composite.then_some(marker as i32),
                next_part_number_marker: composite.then(|| (marker + listed.len()) as i32),
                max_parts: composite.then_some(max as i32),
                is_truncated: composite.then_some(truncated),
                parts: composite.then_some(listed),
            }
        });
        let checksum = wanted("Checksum")
            .then(|| ChecksumFields::of(meta.checksum.as_ref(), true))
            .map(|f| checksummed!(f, kind, Checksum {}));
        Ok(S3Response::new(GetObjectAttributesOutput {
            e_tag: wanted("ETag").then(|| quoted(&meta.etag)),
            checksum,
            object_parts,
            object_size: wanted("ObjectSize").then_some(meta.size as i64),
            storage_class: wanted("StorageClass")
                .then(|| StorageClass::from(meta.attrs.storage_class.clone().unwrap_or_else(|| "STANDARD".into()))),
            last_modified: Some(Timestamp::from(meta.last_modified)),
            version_id: meta.version_id,
            ..Default::default()
        }))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = &req.input;
        let meta = self.store.head_version(&i.bucket, &i.key, i.version_id.as_deref())?;
        let tag_set =
            meta.attrs.tags.into_iter().map(|(key, value)| Tag { key: Some(key), value: Some(value) }).collect();
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id: meta.version_id }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let input = req.input;
        let tags = input
            .tagging
            .tag_set
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect();
        let version_id = self.store.set_tags(&input.bucket, &input.key, input.version_id.as_deref(), tags)?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = &req.input;
        let version_id = self.store.set_tags(&i.bucket, &i.key, i.version_id.as_deref(), Vec::new())?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.faults.apply("DeleteObject", &req.input.key).await?;
        let i = &req.input;
        let d = self.store.delete(&i.bucket, &i.key, i.version_id.as_deref())?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: d.delete_marker.then_some(true),
            version_id: d.version_id,
            ..Default::default()
        }))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "at most 1000 keys per DeleteObjects"));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for o in input.delete.objects {
            match self.store.delete(&input.bucket, &o.key, o.version_id.as_deref()) {
                Ok(d) if !quiet => deleted.push(DeletedObject {
                    key: Some(o.key),
                    version_id: o.version_id.clone(),
                    delete_marker: d.delete_marker.then_some(true),
                    delete_marker_version_id: if o.version_id.is_none() { d.version_id } else { None },
                }),
                Ok(_) => {}
                Err(e) => {
                    let e = S3Error::from(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_string()),
                        key: Some(o.key),
                        message: e.message().map(str::to_string),
                        version_id: o.version_id,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), request_charged: None }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let applied = self.faults.apply("CopyObject", &req.input.key).await?;
        let caller = caller(&req);
        let destination = header_conditions(&req.headers);
        let input = req.input;
        let (src_bucket, src_key, src_version) = source_of(&input.copy_source)?;
        let src = self.store.head_version(&src_bucket, &src_key, src_version.as_deref())?;
        Conditions {
            if_match: condition(&input.copy_source_if_match),
            if_none_match: condition(&input.copy_source_if_none_match),
            if_modified_since: when(&input.copy_source_if_modified_since),
            if_unmodified_since: when(&input.copy_source_if_unmodified_since),
        }
        .check_copy_source(&src)?;
        let replace_metadata = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == "REPLACE");
        let replace_tags = input.tagging_directive.as_ref().is_some_and(|d| d.as_str() == "REPLACE");
        let mut attrs = if replace_metadata {
            Headers {
                content_type: input.content_type,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: input.expires,
                metadata: input.metadata,
                tagging: None,
                storage_class: None,
            }
            .attrs()
        } else {
            src.attrs.clone()
        };
        attrs.tags = if replace_tags { parse_tagging(input.tagging.as_deref()) } else { src.attrs.tags.clone() };
        // The storage class is never copied: STANDARD unless the request names one.
        attrs.storage_class = input.storage_class.map(|s| s.as_str().to_string()).filter(|s| s != "STANDARD");
        let algorithm = algorithm_of(&input.checksum_algorithm)?;
        if self.broken(&input.bucket, Break::SkipCopy) {
            return Ok(S3Response::new(CopyObjectOutput {
                copy_object_result: Some(CopyObjectResult { e_tag: Some(quoted(&src.etag)), ..Default::default() }),
                ..Default::default()
            }));
        }
        let meta = self
            .store
            .copy(&src, &input.bucket, &input.key, attrs, algorithm, &destination, applied.corrupt, &caller)
            .await?;
        self.after_copy(&input.bucket, &input.key, &meta, &caller).await?;
        let f = ChecksumFields::of(meta.checksum.as_ref(), false);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(checksummed!(
                f,
                kind,
                CopyObjectResult {
                    e_tag: Some(quoted(&meta.etag)),
                    last_modified: Some(Timestamp::from(meta.last_modified)),
                }
            )),
            version_id: meta.version_id,
            copy_source_version_id: src.version_id,
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let listing =
            self.store.list(&input.bucket, &prefix, input.delimiter.as_deref(), input.marker.as_deref(), max_keys)?;
        let truncated = listing.next.is_some();
        // NextMarker is returned only with a delimiter; without one clients continue after the
        // last key listed.
        let next_marker = if input.delimiter.is_some() { listing.next.clone() } else { None };
        let (contents, prefixes) = listed(listing);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix),
            marker: Some(input.marker.unwrap_or_default()),
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            is_truncated: Some(truncated),
            next_marker,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = input.continuation_token.clone().or(input.start_after.clone());
        let listing =
            self.store.list(&input.bucket, &prefix, input.delimiter.as_deref(), after.as_deref(), max_keys)?;
        let next = listing.next.clone();
        let (contents, prefixes) = listed(listing);
        let key_count = (contents.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix),
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            is_truncated: Some(next.is_some()),
            next_continuation_token: next,
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let listing = self.store.list_versions(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.key_marker.as_deref(),
            input.version_id_marker.as_deref(),
            max_keys,
        )?;
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for e in listing.entries {
            match e {
                VersionEntry::Object { key, latest, meta } => versions.push(ObjectVersion {
                    key: Some(key),
                    is_latest: Some(latest),
                    version_id: Some(meta.version_id.clone().unwrap_or_else(|| "null".into())),
                    size: Some(meta.size as i64),
                    e_tag: Some(quoted(&meta.etag)),
                    last_modified: Some(Timestamp::from(meta.last_modified)),
                    storage_class: Some(ObjectVersionStorageClass::from(
                        meta.attrs.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
                    )),
                    checksum_algorithm: meta
                        .checksum
                        .as_ref()
                        .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.as_str().to_string())]),
                    checksum_type: meta.checksum.as_ref().map(|c| ChecksumType::from(c.kind.as_str().to_string())),
                    ..Default::default()
                }),
                VersionEntry::DeleteMarker { key, latest, version_id, last_modified } => {
                    markers.push(DeleteMarkerEntry {
                        key: Some(key),
                        is_latest: Some(latest),
                        version_id: Some(version_id.unwrap_or_else(|| "null".into())),
                        last_modified: Some(Timestamp::from(last_modified)),
                        owner: None,
                    })
                }
            }
        }
        let (next_key, next_version) = listing.next.map_or((None, None), |(k, v)| (Some(k), Some(v)));
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix),
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            is_truncated: Some(next_key.is_some()),
            key_marker: Some(input.key_marker.unwrap_or_default()),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(listing.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.faults.apply("CreateMultipartUpload", &req.input.key).await?;
        let input = req.input;
        let algorithm = algorithm_of(&input.checksum_algorithm)?;
        let kind = match &input.checksum_type {
            None => None,
            Some(t) => Some(Kind::parse(t.as_str()).ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("checksum type {} is not supported", t.as_str()),
                )
            })?),
        };
        let attrs = Headers {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            metadata: input.metadata,
            tagging: input.tagging,
            storage_class: input.storage_class,
        }
        .attrs();
        if self.broken(&input.bucket, Break::StrayCopyUploads) {
            self.store.create_upload(&input.bucket, &input.key, attrs.clone(), algorithm, kind)?;
        }
        let id = self.store.create_upload(&input.bucket, &input.key, attrs, algorithm, kind)?;
        let (info, _) = self.store.list_parts(&input.bucket, &input.key, &id)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: info.mode.map(|(a, _)| ChecksumAlgorithm::from(a.as_str().to_string())),
            checksum_type: info.mode.map(|(_, k)| ChecksumType::from(k.as_str().to_string())),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let applied = self.faults.apply("UploadPart", &req.input.key).await?;
        let mut req = req;
        let i = &req.input;
        let alg = self.store.upload_algorithm(&i.bucket, &i.key, &i.upload_id)?;
        let sent = sent_values(
            &i.checksum_crc32,
            &i.checksum_crc32c,
            &i.checksum_crc64nvme,
            &i.checksum_sha1,
            &i.checksum_sha256,
        );
        let mut compute = named_algorithms(&req.headers, i.checksum_algorithm.as_ref(), &sent);
        compute.push(alg);
        compute.dedup();
        let body =
            req.input.body.take().unwrap_or_else(|| {
                StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
            });
        // A part of known length goes straight into its place in the upload's staging file, so
        // that completing the upload rewrites nothing (see multipart::Staging).
        let i = &req.input;
        // An empty part has no region to call its own (a fault's byte would land in the next).
        let reservation = match i.content_length.and_then(|n| u64::try_from(n).ok()).filter(|n| *n > 0) {
            Some(len) => Some(self.store.reserve_part(&i.bucket, &i.key, &i.upload_id, len)?),
            None => None,
        };
        let ingested = match &reservation {
            Some(r) => self.store.ingest_to(body, &compute, r.destination.clone()).await?,
            None => self.store.ingest(body, &compute).await?,
        };
        if applied.corrupt {
            super::store::corrupt_region(&ingested.path, ingested.offset, ingested.size).map_err(StoreError::from)?;
        }
        // Written, faults included: the staging file may become an object from here on.
        drop(reservation);
        let mut all_sent = sent;
        all_sent.extend(trailer_values(&req));
        let i = &req.input;
        let part = self.store.add_ingested_part(&i.bucket, &i.key, &i.upload_id, i.part_number, ingested, &all_sent)?;
        let f = part.checksum.map(|(a, v)| ChecksumFields::single(a, v, None)).unwrap_or_default();
        Ok(S3Response::new(checksummed!(f, UploadPartOutput { e_tag: Some(quoted(&part.etag)), ..Default::default() })))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let applied = self.faults.apply("UploadPartCopy", &req.input.key).await?;
        let input = req.input;
        let (src_bucket, src_key, src_version) = source_of(&input.copy_source)?;
        let src = self.store.head_version(&src_bucket, &src_key, src_version.as_deref())?;
        Conditions {
            if_match: condition(&input.copy_source_if_match),
            if_none_match: condition(&input.copy_source_if_none_match),
            if_modified_since: when(&input.copy_source_if_modified_since),
            if_unmodified_since: when(&input.copy_source_if_unmodified_since),
        }
        .check_copy_source(&src)?;
        let range = match &input.copy_source_range {
            Some(r) => Some(parse_copy_range(r)?),
            None => None,
        };
        let part = self
            .store
            .upload_part_copy(
                &input.bucket,
                &input.key,
                &input.upload_id,
                input.part_number,
                &src,
                range,
                applied.corrupt,
            )
            .await?;
        let f = part.checksum.map(|(a, v)| ChecksumFields::single(a, v, None)).unwrap_or_default();
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(checksummed!(
                f,
                CopyPartResult {
                    e_tag: Some(quoted(&part.etag)),
                    last_modified: Some(Timestamp::from(part.last_modified)),
                }
            )),
            copy_source_version_id: src.version_id,
            ..Default::default()
        }))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let (info, parts) = self.store.list_parts(&input.bucket, &input.key, &input.upload_id)?;
        let marker = input.part_number_marker.unwrap_or(0);
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after: Vec<_> = parts.into_iter().filter(|(n, _)| *n > marker).collect();
        let truncated = after.len() > max;
        let page: Vec<Part> = after
            .into_iter()
            .take(max)
            .map(|(n, p)| {
                let f = info
                    .mode
                    .map(|(a, _)| ChecksumFields::single(a, checksum::encode(&p.checksum), None))
                    .unwrap_or_default();
                checksummed!(
                    f,
                    Part {
                        part_number: Some(n),
                        size: Some(p.size as i64),
                        e_tag: Some(quoted(&p.etag)),
                        last_modified: Some(Timestamp::from(p.last_modified)),
                    }
                )
            })
            .collect();
        let next = page.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: Some(marker),
            next_part_number_marker: next,
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            parts: Some(page),
            checksum_algorithm: info.mode.map(|(a, _)| ChecksumAlgorithm::from(a.as_str().to_string())),
            checksum_type: info.mode.map(|(_, k)| ChecksumType::from(k.as_str().to_string())),
            storage_class: info.storage_class.map(StorageClass::from),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.faults.apply("CompleteMultipartUpload", &req.input.key).await?;
        let caller = caller(&req);
        let input = req.input;
        let conditions = Conditions {
            if_match: condition(&input.if_match),
            if_none_match: condition(&input.if_none_match),
            ..Default::default()
        };
        let full = sent_values(
            &input.checksum_crc32,
            &input.checksum_crc32c,
            &input.checksum_crc64nvme,
            &input.checksum_sha1,
            &input.checksum_sha256,
        )
        .into_iter()
        .next();
        let parts: Vec<ListedPart> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let etag = match p.e_tag {
                    Some(ETag::Strong(s)) | Some(ETag::Weak(s)) => s,
                    None => String::new(),
                };
                let checksum = sent_values(
                    &p.checksum_crc32,
                    &p.checksum_crc32c,
                    &p.checksum_crc64nvme,
                    &p.checksum_sha1,
                    &p.checksum_sha256,
                )
                .into_iter()
                .next();
                ListedPart { number: p.part_number.unwrap_or(0), etag, checksum }
            })
            .collect();
        if parts.is_empty() {
            return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "You must specify at least one part"));
        }
        if self.broken(&input.bucket, Break::SkipCopy) {
            self.store.abort_upload(&input.bucket, &input.key, &input.upload_id)?;
            return Ok(S3Response::new(CompleteMultipartUploadOutput {
                e_tag: Some(quoted(&format!("{}-{}", "0".repeat(32), parts.len()))),
                ..Default::default()
            }));
        }
        let meta = self
            .store
            .complete_upload(&input.bucket, &input.key, &input.upload_id, &parts, full, &conditions, &caller)
            .await?;
        self.after_copy(&input.bucket, &input.key, &meta, &caller).await?;
        let f = ChecksumFields::of(meta.checksum.as_ref(), false);
        Ok(S3Response::new(checksummed!(
            f,
            kind,
            CompleteMultipartUploadOutput {
                bucket: Some(input.bucket),
                key: Some(input.key),
                e_tag: Some(quoted(&meta.etag)),
                version_id: meta.version_id,
                ..Default::default()
            }
        )))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        self.store.require_bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let uploads: Vec<MultipartUpload> = self
            .store
            .open_uploads()
            .into_iter()
            .filter(|u| u.bucket == input.bucket && u.key.starts_with(&prefix))
            .map(|u| MultipartUpload {
                key: Some(u.key),
                upload_id: Some(u.id),
                initiated: Some(Timestamp::from(u.initiated)),
                storage_class: u.storage_class.map(StorageClass::from),
                checksum_algorithm: u.mode.map(|(a, _)| ChecksumAlgorithm::from(a.as_str().to_string())),
                checksum_type: u.mode.map(|(_, k)| ChecksumType::from(k.as_str().to_string())),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            uploads: Some(uploads),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.store.abort_upload(&input.bucket, &input.key, &input.upload_id)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

fn listed(listing: super::store::Listing) -> (Vec<Object>, Vec<CommonPrefix>) {
    let contents = listing
        .objects
        .into_iter()
        .map(|(key, meta)| Object {
            key: Some(key),
            size: Some(meta.size as i64),
            e_tag: Some(quoted(&meta.etag)),
            last_modified: Some(Timestamp::from(meta.last_modified)),
            storage_class: Some(ObjectStorageClass::from(
                meta.attrs.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
            )),
            checksum_algorithm: meta
                .checksum
                .as_ref()
                .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.as_str().to_string())]),
            checksum_type: meta.checksum.as_ref().map(|c| ChecksumType::from(c.kind.as_str().to_string())),
            ..Default::default()
        })
        .collect();
    let prefixes = listing.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect();
    (contents, prefixes)
}

/// Parses `bytes=first-last` (inclusive, both required, as UploadPartCopy demands).
fn parse_copy_range(range: &str) -> S3Result<(u64, u64)> {
    let invalid = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy: {range}"
            ),
        )
    };
    let spec = range.strip_prefix("bytes=").ok_or_else(invalid)?;
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| invalid())?, b.parse().map_err(|_| invalid())?);
    if b < a {
        return Err(invalid());
    }
    Ok((a, b))
}
