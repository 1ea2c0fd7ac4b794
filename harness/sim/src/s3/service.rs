//! The `s3s::S3` implementation over [`S3Store`].

use std::collections::BTreeMap;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::faults::Faults;
use super::store::{Caller, ObjectAttrs, S3Store, StoreError};

/// The S3 endpoint's operations.
#[derive(Clone)]
pub struct S3Frontend {
    store: Arc<S3Store>,
    faults: Arc<Faults>,
}

impl S3Frontend {
    /// Serves `store`, with `faults` injected.
    pub fn new(store: Arc<S3Store>, faults: Arc<Faults>) -> Self {
        Self { store, faults }
    }
}

impl From<StoreError> for S3Error {
    fn from(err: StoreError) -> Self {
        let code = match &err {
            StoreError::NoSuchBucket(_) => S3ErrorCode::NoSuchBucket,
            StoreError::NoSuchKey(_) => S3ErrorCode::NoSuchKey,
            StoreError::NoSuchUpload(_) => S3ErrorCode::NoSuchUpload,
            StoreError::InvalidPart(_) => S3ErrorCode::InvalidPart,
            StoreError::EntityTooSmall(_) => S3ErrorCode::EntityTooSmall,
            StoreError::BucketAlreadyOwnedByYou(_) => S3ErrorCode::BucketAlreadyOwnedByYou,
            StoreError::BucketNotEmpty(_) => S3ErrorCode::BucketNotEmpty,
            StoreError::Body(_) => S3ErrorCode::IncompleteBody,
            StoreError::Io(_) => S3ErrorCode::InternalError,
        };
        S3Error::with_message(code, err.to_string())
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

fn attrs(content_type: Option<String>, metadata: Option<Metadata>, tagging: Option<&str>) -> ObjectAttrs {
    ObjectAttrs { content_type, metadata: metadata_map(metadata), tags: parse_tagging(tagging) }
}

fn metadata_map(m: Option<Metadata>) -> BTreeMap<String, String> {
    m.map(|m| m.into_iter().collect()).unwrap_or_default()
}

fn source_of(copy_source: &CopySource) -> S3Result<(String, String)> {
    match copy_source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket.to_string(), key.to_string())),
        _ => Err(S3Error::with_message(S3ErrorCode::NotImplemented, "access point copy sources")),
    }
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

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        self.faults.apply("PutObject", &req.input.key).await?;
        let caller = caller(&req);
        let input = req.input;
        let body = input
            .body
            .unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        let meta = self
            .store
            .put_object(
                &input.bucket,
                &input.key,
                body,
                attrs(input.content_type, input.metadata, input.tagging.as_deref()),
                &caller,
            )
            .await?;
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(quoted(&meta.etag)), ..Default::default() }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.faults.apply("GetObject", &req.input.key).await?;
        let meta = self.store.head(&req.input.bucket, &req.input.key)?;
        let mut file = tokio::fs::File::open(&meta.path).await.map_err(StoreError::from)?;
        let (range, content_range) = match &req.input.range {
            None => (0..meta.size, None),
            Some(r) => {
                let range = r.check(meta.size).map_err(|_| {
                    S3Error::with_message(S3ErrorCode::InvalidRange, "The requested range is not satisfiable")
                })?;
                let header = format!("bytes {}-{}/{}", range.start, range.end - 1, meta.size);
                (range, Some(header))
            }
        };
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(range.start))
            .await
            .map_err(StoreError::from)?;
        let limited = tokio::io::AsyncReadExt::take(file, range.end - range.start);
        let stream = tokio_util::io::ReaderStream::with_capacity(limited, 256 * 1024);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some((range.end - range.start) as i64),
            content_range,
            content_type: meta.attrs.content_type,
            e_tag: Some(quoted(&meta.etag)),
            last_modified: Some(Timestamp::from(meta.last_modified)),
            metadata: Some(meta.attrs.metadata.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.faults.apply("HeadObject", &req.input.key).await?;
        let meta = self.store.head(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(meta.size as i64),
            content_type: meta.attrs.content_type,
            e_tag: Some(quoted(&meta.etag)),
            last_modified: Some(Timestamp::from(meta.last_modified)),
            metadata: Some(meta.attrs.metadata.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let meta = self.store.head(&req.input.bucket, &req.input.key)?;
        let tag_set =
            meta.attrs.tags.into_iter().map(|(key, value)| Tag { key: Some(key), value: Some(value) }).collect();
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id: None }))
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
        self.store.set_tags(&input.bucket, &input.key, tags)?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id: None }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.store.delete(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        self.faults.apply("CopyObject", &req.input.key).await?;
        let caller = caller(&req);
        let (src_bucket, src_key) = source_of(&req.input.copy_source)?;
        let input = &req.input;
        let replace_metadata = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == "REPLACE");
        let replace_tags = input.tagging_directive.as_ref().is_some_and(|d| d.as_str() == "REPLACE");
        let replace = if replace_metadata || replace_tags {
            let src = self.store.head(&src_bucket, &src_key)?;
            let mut a = src.attrs;
            if replace_metadata {
                a.content_type = input.content_type.clone();
                a.metadata = metadata_map(input.metadata.clone());
            }
            if replace_tags {
                a.tags = parse_tagging(input.tagging.as_deref());
            }
            Some(a)
        } else {
            None
        };
        let meta = self.store.copy(&src_bucket, &src_key, &input.bucket, &input.key, replace, &caller).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(quoted(&meta.etag)),
                last_modified: Some(Timestamp::from(meta.last_modified)),
                ..Default::default()
            }),
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
        let contents: Vec<Object> = listing
            .objects
            .into_iter()
            .map(|(key, meta)| Object {
                key: Some(key),
                size: Some(meta.size as i64),
                e_tag: Some(quoted(&meta.etag)),
                last_modified: Some(Timestamp::from(meta.last_modified)),
                storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        let prefixes: Vec<CommonPrefix> =
            listing.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect();
        let key_count = (contents.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix),
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            is_truncated: Some(listing.next.is_some()),
            next_continuation_token: listing.next,
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.faults.apply("CreateMultipartUpload", &req.input.key).await?;
        let input = req.input;
        let id = self.store.create_upload(
            &input.bucket,
            &input.key,
            attrs(input.content_type, input.metadata, input.tagging.as_deref()),
        )?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        self.faults.apply("UploadPart", &req.input.key).await?;
        let input = req.input;
        let body = input
            .body
            .unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        let etag = self.store.upload_part(&input.bucket, &input.key, &input.upload_id, input.part_number, body).await?;
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(quoted(&etag)), ..Default::default() }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.faults.apply("UploadPartCopy", &req.input.key).await?;
        let input = req.input;
        let (src_bucket, src_key) = source_of(&input.copy_source)?;
        let range = match &input.copy_source_range {
            Some(r) => Some(parse_copy_range(r)?),
            None => None,
        };
        let etag = self
            .store
            .upload_part_copy(
                &input.bucket,
                &input.key,
                &input.upload_id,
                input.part_number,
                &src_bucket,
                &src_key,
                range,
            )
            .await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult { e_tag: Some(quoted(&etag)), ..Default::default() }),
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
        let parts: Vec<(i32, String)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let etag = match p.e_tag {
                    Some(ETag::Strong(s)) | Some(ETag::Weak(s)) => s,
                    None => String::new(),
                };
                (p.part_number.unwrap_or(0), etag)
            })
            .collect();
        if parts.is_empty() {
            return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "You must specify at least one part"));
        }
        let meta = self.store.complete_upload(&input.bucket, &input.key, &input.upload_id, &parts, &caller).await?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(quoted(&meta.etag)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        if !self.store.bucket_exists(&input.bucket) {
            return Err(StoreError::NoSuchBucket(input.bucket.clone()).into());
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let uploads: Vec<MultipartUpload> = self
            .store
            .open_uploads()
            .into_iter()
            .filter(|(b, k, _)| *b == input.bucket && k.starts_with(&prefix))
            .map(|(_, key, id)| MultipartUpload { key: Some(key), upload_id: Some(id), ..Default::default() })
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

/// Parses `bytes=first-last` (inclusive, both required, as UploadPartCopy demands).
fn parse_copy_range(range: &str) -> S3Result<(u64, u64)> {
    let invalid =
        || S3Error::with_message(S3ErrorCode::InvalidArgument, format!("invalid x-amz-copy-source-range: {range}"));
    let spec = range.strip_prefix("bytes=").ok_or_else(invalid)?;
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| invalid())?, b.parse().map_err(|_| invalid())?);
    if b < a {
        return Err(invalid());
    }
    Ok((a, b))
}
