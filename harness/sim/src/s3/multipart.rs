//! Multipart uploads: parts on disk with their MD5 and checksum, assembled in order on
//! completion under S3's rules (part numbers 1 to 10,000, ascending, 5 MiB minimum but for the
//! last, ETags and checksums matching), with a composite or full-object checksum.
//!
//! Parts whose length is known up front are written into one staging file per upload, each at
//! the end of what was reserved before it. When the parts completed are that file's regions in
//! order, end to end (an upload sent part after part, as SFTP clients' uploads are), the file
//! becomes the object as it is: completing rewrites nothing. Otherwise (parts replaced, sent out
//! of order, copied) the parts are copied into a new file. Measured on a 1 GiB upload: the
//! rewrite was a third of the simulator's CPU.

use std::collections::BTreeMap;
use std::time::SystemTime;

use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

use super::checksum::{self, Algorithm, Kind};
use super::created::Caller;
use super::store::{
    Conditions, Destination, IO_BUFFER, Ingested, ObjectAttrs, ObjectMeta, PartInfo, S3Store, StoreError,
};

/// S3's minimum size for every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's largest object (50 TB).
pub const MAX_OBJECT_SIZE: u64 = 50 * 1_000_000_000_000;
/// S3's highest part number.
pub const MAX_PART_NUMBER: i32 = 10_000;

/// An upload in progress.
pub(super) struct Upload {
    bucket: String,
    key: String,
    attrs: ObjectAttrs,
    /// The algorithm and type the upload was created with; `None`: S3's default mode (a
    /// full-object CRC64NVME, and no part checksums on completion).
    mode: Option<(Algorithm, Kind)>,
    initiated: SystemTime,
    parts: BTreeMap<i32, PartMeta>,
    staging: Option<Staging>,
}

/// An upload's staging file: regions handed out in order, and how many are still being written.
#[derive(Debug)]
struct Staging {
    path: std::path::PathBuf,
    end: u64,
    writing: usize,
}

/// A region of an upload's staging file, reserved for one part's body; its writer is counted
/// until this is dropped (a file still being written is never made an object).
pub struct Reservation<'a> {
    store: &'a S3Store,
    id: String,
    /// Where the body goes.
    pub destination: Destination,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.store.uploads.lock().unwrap().get_mut(&self.id).and_then(|u| u.staging.as_mut()) {
            s.writing -= 1;
        }
    }
}

impl Upload {
    fn algorithm(&self) -> Algorithm {
        self.mode.map_or(Algorithm::Crc64Nvme, |(a, _)| a)
    }
}

/// One uploaded part.
#[derive(Debug, Clone)]
pub struct PartMeta {
    /// Bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    md5: [u8; 16],
    /// The raw checksum in the upload's algorithm.
    pub checksum: Vec<u8>,
    /// When it was stored.
    pub last_modified: SystemTime,
    path: std::path::PathBuf,
    /// Where it starts in `path`.
    offset: u64,
    /// `path` is the upload's staging file.
    shared: bool,
}

impl PartMeta {
    /// Removes the part's own file (a staging file goes with its upload).
    fn discard(&self) {
        if !self.shared {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A part as CompleteMultipartUpload lists it.
#[derive(Debug, Clone, Default)]
pub struct ListedPart {
    /// Its number.
    pub number: i32,
    /// Its ETag.
    pub etag: String,
    /// Its checksum as the client gives it back, when it does.
    pub checksum: Option<(Algorithm, String)>,
}

/// What UploadPart and UploadPartCopy return.
#[derive(Debug, Clone)]
pub struct StoredPart {
    /// ETag without quotes.
    pub etag: String,
    /// The part's checksum, when the upload was created with an algorithm.
    pub checksum: Option<(Algorithm, String)>,
    /// When it was stored.
    pub last_modified: SystemTime,
}

/// An upload's description (ListMultipartUploads, ListParts).
#[derive(Debug, Clone)]
pub struct UploadInfo {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Upload id.
    pub id: String,
    /// When it was created.
    pub initiated: SystemTime,
    /// Its checksum mode.
    pub mode: Option<(Algorithm, Kind)>,
    /// Storage class.
    pub storage_class: Option<String>,
}

fn check_part_number(number: i32) -> Result<(), StoreError> {
    if (1..=MAX_PART_NUMBER).contains(&number) {
        Ok(())
    } else {
        Err(StoreError::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into()))
    }
}

impl S3Store {
    /// Starts a multipart upload (CreateMultipartUpload) and returns its id.
    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        attrs: ObjectAttrs,
        algorithm: Option<Algorithm>,
        kind: Option<Kind>,
    ) -> Result<String, StoreError> {
        self.require_bucket(bucket)?;
        let mode = match (algorithm, kind) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(StoreError::InvalidRequest(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into(),
                ));
            }
            (Some(a), k) => {
                let k = k.unwrap_or_else(|| a.default_kind());
                if !a.allows(k) {
                    return Err(StoreError::InvalidRequest(format!(
                        "The {} checksum type cannot be used with the {} checksum algorithm.",
                        k.as_str(),
                        a.as_str().to_ascii_lowercase()
                    )));
                }
                Some((a, k))
            }
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let upload = Upload {
            bucket: bucket.into(),
            key: key.into(),
            attrs,
            mode,
            initiated: self.clock.now(),
            parts: BTreeMap::new(),
            staging: None,
        };
        self.uploads.lock().unwrap().insert(id.clone(), upload);
        Ok(id)
    }

    /// The algorithm a part of the upload must be hashed with (the upload's, or CRC64NVME).
    pub fn upload_algorithm(&self, bucket: &str, key: &str, id: &str) -> Result<Algorithm, StoreError> {
        let uploads = self.uploads.lock().unwrap();
        match uploads.get(id) {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u.algorithm()),
            _ => Err(StoreError::NoSuchUpload(id.into())),
        }
    }

    /// Reserves `len` bytes at the end of the upload's staging file for one part's body.
    pub fn reserve_part(&self, bucket: &str, key: &str, id: &str, len: u64) -> Result<Reservation<'_>, StoreError> {
        if len > MAX_PART_SIZE {
            return Err(StoreError::EntityTooLarge);
        }
        let mut uploads = self.uploads.lock().unwrap();
        let upload = match uploads.get_mut(id) {
            Some(u) if u.bucket == bucket && u.key == key => u,
            _ => return Err(StoreError::NoSuchUpload(id.into())),
        };
        if upload.staging.is_none() {
            let path = self.new_path();
            std::fs::File::create(&path)?;
            upload.staging = Some(Staging { path, end: 0, writing: 0 });
        }
        let staging = upload.staging.as_mut().expect("created above");
        let offset = staging.end;
        // Regions of parts sent again stay reserved until the upload ends: past S3's largest
        // object, further parts are refused rather than growing a sparse file without bound.
        staging.end = offset.checked_add(len).filter(|e| *e <= MAX_OBJECT_SIZE).ok_or(StoreError::EntityTooLarge)?;
        staging.writing += 1;
        let destination = Destination { path: staging.path.clone(), offset, reserved: Some(len) };
        Ok(Reservation { store: self, id: id.into(), destination })
    }

    /// Stores an ingested body as a part (UploadPart), after checking the checksums the client
    /// sent against it.
    pub fn add_ingested_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: i32,
        body: Ingested,
        sent: &[(Algorithm, String)],
    ) -> Result<StoredPart, StoreError> {
        let checked = check_part_number(number).and_then(|_| body.verify(sent));
        if let Err(e) = checked {
            if !body.shared {
                let _ = std::fs::remove_file(&body.path);
            }
            return Err(e);
        }
        let alg = self.upload_algorithm(bucket, key, id)?;
        let checksum = body.digest(alg).map(<[u8]>::to_vec).unwrap_or_default();
        let part = PartMeta {
            size: body.size,
            etag: hex::encode(body.md5),
            md5: body.md5,
            checksum,
            last_modified: self.clock.now(),
            path: body.path,
            offset: body.offset,
            shared: body.shared,
        };
        self.add_part(id, number, part)
    }

    /// Copies a byte range of an object into a part (UploadPartCopy). The range must lie inside
    /// the source, as S3 requires; `corrupt` flips a byte (a fault for tests).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: i32,
        src: &ObjectMeta,
        range: Option<(u64, u64)>,
        corrupt: bool,
    ) -> Result<StoredPart, StoreError> {
        check_part_number(number)?;
        let alg = self.upload_algorithm(bucket, key, id)?;
        let (start, end) = match range {
            None if src.size == 0 => (0, None),
            None => (0, Some(src.size - 1)),
            Some((a, b)) if b >= a && b < src.size => (a, Some(b)),
            Some(_) => {
                return Err(StoreError::InvalidArgument(format!(
                    "Range specified is not valid for source object of size: {}",
                    src.size
                )));
            }
        };
        let len = end.map_or(0, |e| e - start + 1);
        if len > MAX_PART_SIZE {
            return Err(StoreError::InvalidArgument(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PART_SIZE}"
            )));
        }
        let path = self.new_path();
        copy_range(&src.path, &path, start, len).await?;
        if corrupt {
            super::store::corrupt_file(&path)?;
        }
        let (md5, checksum) = super::store::digest_file(&path, alg).await?;
        let part = PartMeta {
            size: len,
            etag: hex::encode(md5),
            md5,
            checksum,
            last_modified: self.clock.now(),
            path,
            offset: 0,
            shared: false,
        };
        self.add_part(id, number, part)
    }

    fn add_part(&self, id: &str, number: i32, part: PartMeta) -> Result<StoredPart, StoreError> {
        let mut uploads = self.uploads.lock().unwrap();
        let Some(upload) = uploads.get_mut(id) else {
            part.discard();
            return Err(StoreError::NoSuchUpload(id.into()));
        };
        let stored = StoredPart {
            etag: part.etag.clone(),
            checksum: upload.mode.map(|(a, _)| (a, checksum::encode(&part.checksum))),
            last_modified: part.last_modified,
        };
        if let Some(old) = upload.parts.insert(number, part) {
            old.discard();
        }
        Ok(stored)
    }

    /// The upload and its parts, in order (ListParts).
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<(UploadInfo, Vec<(i32, PartMeta)>), StoreError> {
        let uploads = self.uploads.lock().unwrap();
        match uploads.get(id) {
            Some(u) if u.bucket == bucket && u.key == key => Ok((
                UploadInfo {
                    bucket: u.bucket.clone(),
                    key: u.key.clone(),
                    id: id.into(),
                    initiated: u.initiated,
                    mode: u.mode,
                    storage_class: u.attrs.storage_class.clone(),
                },
                u.parts.iter().map(|(n, p)| (*n, p.clone())).collect(),
            )),
            _ => Err(StoreError::NoSuchUpload(id.into())),
        }
    }

    /// Assembles the listed parts into the object and announces it. `full_checksum` is a
    /// full-object value the client asserts (`x-amz-checksum-*` on the request).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        listed: &[ListedPart],
        full_checksum: Option<(Algorithm, String)>,
        conditions: &Conditions,
        caller: &Caller,
    ) -> Result<ObjectMeta, StoreError> {
        if listed.windows(2).any(|w| w[1].number <= w[0].number) {
            return Err(StoreError::InvalidPartOrder);
        }
        let (chosen, attrs, mode) = {
            let uploads = self.uploads.lock().unwrap();
            let upload = match uploads.get(id) {
                Some(u) if u.bucket == bucket && u.key == key => u,
                _ => return Err(StoreError::NoSuchUpload(id.into())),
            };
            let mut chosen = Vec::with_capacity(listed.len());
            for (i, l) in listed.iter().enumerate() {
                let part = upload.parts.get(&l.number).ok_or(StoreError::InvalidPart(l.number))?;
                if part.etag != l.etag.trim_matches('"') {
                    return Err(StoreError::InvalidPart(l.number));
                }
                if let Some((alg, value)) = &l.checksum {
                    // Part checksums belong to uploads created with that algorithm.
                    let ok = upload.mode.is_some_and(|(a, _)| a == *alg)
                        && checksum::decode(value).as_deref() == Some(part.checksum.as_slice());
                    if !ok {
                        return Err(StoreError::InvalidPart(l.number));
                    }
                }
                if i + 1 < listed.len() && part.size < MIN_PART_SIZE {
                    return Err(StoreError::EntityTooSmall(l.number));
                }
                chosen.push(part.clone());
            }
            (chosen, upload.attrs.clone(), upload.mode)
        };
        let (alg, kind) = mode.unwrap_or((Algorithm::Crc64Nvme, Kind::FullObject));
        let checksum = match kind {
            Kind::Composite => checksum::composite(alg, &chosen.iter().map(|p| p.checksum.clone()).collect::<Vec<_>>()),
            Kind::FullObject => {
                checksum::combine(alg, &chosen.iter().map(|p| (p.checksum.clone(), p.size)).collect::<Vec<_>>())
                    .expect("full-object uploads use a CRC")
            }
        };
        if let Some((a, value)) = &full_checksum
            && (*a != alg
                || checksum::decode(value.split('-').next().unwrap_or("")).as_deref() != Some(&checksum.raw[..]))
        {
            return Err(StoreError::BadDigest(a.as_str()));
        }
        let mut md5s = Md5::new();
        for part in &chosen {
            md5s.update(part.md5);
        }
        let etag = format!("{}-{}", hex::encode(md5s.finalize()), chosen.len());
        let size: u64 = chosen.iter().map(|p| p.size).sum();
        // The upload is taken out first, in one critical section with the check that it is
        // still this one: a second Complete, an Abort or a new part can no longer reach it.
        let upload = {
            let mut uploads = self.uploads.lock().unwrap();
            match uploads.get(id) {
                Some(u) if u.bucket == bucket && u.key == key => uploads.remove(id).expect("present"),
                _ => return Err(StoreError::NoSuchUpload(id.into())),
            }
        };
        // The staging file is the object when the parts are its regions end to end and no part
        // is still being written into it; else the parts are copied, in order.
        let mut at = 0;
        let adoptable = upload.staging.as_ref().filter(|s| {
            s.writing == 0
                && chosen.iter().all(|p| {
                    let ok = p.shared && p.path == s.path && p.offset == at;
                    at += p.size;
                    ok
                })
        });
        let built: std::io::Result<std::path::PathBuf> = match adoptable {
            Some(staging) => {
                // Regions reserved after the last part completed (a part sent again, a body cut
                // short) are not the object's.
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&staging.path)
                    .and_then(|f| f.set_len(size))
                    .map(|_| staging.path.clone())
            }
            None => {
                let path = self.new_path();
                let copied = async {
                    let mut out = tokio::io::BufWriter::with_capacity(IO_BUFFER, tokio::fs::File::create(&path).await?);
                    for part in &chosen {
                        append_range(&part.path, part.offset, part.size, &mut out).await?;
                    }
                    out.flush().await
                }
                .await;
                copied.map(|_| path)
            }
        };
        for p in upload.parts.values() {
            p.discard();
        }
        let path = match built {
            Ok(path) => path,
            Err(e) => {
                if let Some(s) = &upload.staging {
                    let _ = std::fs::remove_file(&s.path);
                }
                return Err(e.into());
            }
        };
        if let Some(s) = &upload.staging
            && s.path != path
        {
            let _ = std::fs::remove_file(&s.path);
        }
        let composite = kind == Kind::Composite;
        let parts =
            chosen.iter().map(|p| PartInfo { size: p.size, checksum: composite.then(|| p.checksum.clone()) }).collect();
        let meta = ObjectMeta {
            version_id: None,
            size,
            etag,
            last_modified: self.clock.now(),
            attrs,
            checksum: Some(checksum),
            parts,
            path,
            sequencer: String::new(),
        };
        self.commit(bucket, key, meta, conditions, "CompleteMultipartUpload", caller)
    }

    /// Discards a multipart upload and its parts.
    pub fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), StoreError> {
        let mut uploads = self.uploads.lock().unwrap();
        match uploads.get(id) {
            Some(u) if u.bucket == bucket && u.key == key => {}
            _ => return Err(StoreError::NoSuchUpload(id.into())),
        }
        if let Some(upload) = uploads.remove(id) {
            for p in upload.parts.values() {
                p.discard();
            }
            if let Some(s) = upload.staging {
                let _ = std::fs::remove_file(&s.path);
            }
        }
        Ok(())
    }

    /// Multipart uploads in progress, for listings and for checks that nothing is left behind.
    pub fn open_uploads(&self) -> Vec<UploadInfo> {
        let uploads = self.uploads.lock().unwrap();
        let mut out: Vec<UploadInfo> = uploads
            .iter()
            .map(|(id, u)| UploadInfo {
                bucket: u.bucket.clone(),
                key: u.key.clone(),
                id: id.clone(),
                initiated: u.initiated,
                mode: u.mode,
                storage_class: u.attrs.storage_class.clone(),
            })
            .collect();
        out.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
        out
    }
}

/// Appends `len` bytes at `start` of a file to `out`.
async fn append_range<W: tokio::io::AsyncWrite + Unpin>(
    from: &std::path::Path,
    start: u64,
    len: u64,
    out: &mut W,
) -> std::io::Result<()> {
    use tokio::io::AsyncSeekExt;
    let mut input = tokio::fs::File::open(from).await?;
    input.seek(std::io::SeekFrom::Start(start)).await?;
    let mut limited = tokio::io::AsyncReadExt::take(tokio::io::BufReader::with_capacity(IO_BUFFER, input), len);
    let copied = tokio::io::copy_buf(&mut limited, out).await?;
    if copied != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("part file holds {copied} of {len} bytes"),
        ));
    }
    Ok(())
}

/// Copies `len` bytes at `start` of one file into a new one.
async fn copy_range(from: &std::path::Path, to: &std::path::Path, start: u64, len: u64) -> std::io::Result<()> {
    use tokio::io::AsyncSeekExt;
    let mut input = tokio::fs::File::open(from).await?;
    input.seek(std::io::SeekFrom::Start(start)).await?;
    let mut limited = tokio::io::AsyncReadExt::take(tokio::io::BufReader::with_capacity(IO_BUFFER, input), len);
    let mut out = tokio::io::BufWriter::with_capacity(IO_BUFFER, tokio::fs::File::create(to).await?);
    tokio::io::copy_buf(&mut limited, &mut out).await?;
    out.flush().await
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::Stream;

    use super::*;

    fn store() -> S3Store {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        S3Store::new(tx).unwrap()
    }

    fn body(data: Vec<u8>) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(vec![Ok(Bytes::from(data))])
    }

    async fn part(s: &S3Store, id: &str, n: i32, data: Vec<u8>, alg: Algorithm) -> StoredPart {
        let ingested = s.ingest(body(data), &[alg]).await.unwrap();
        s.add_ingested_part("b", "k", id, n, ingested, &[]).unwrap()
    }

    /// A part of known length, written into the upload's staging file as UploadPart does.
    async fn staged(s: &S3Store, id: &str, n: i32, data: Vec<u8>) -> Result<StoredPart, StoreError> {
        let r = s.reserve_part("b", "k", id, data.len() as u64)?;
        let ingested = s.ingest_to(body(data), &[Algorithm::Crc64Nvme], r.destination.clone()).await?;
        drop(r);
        s.add_ingested_part("b", "k", id, n, ingested, &[])
    }

    fn staging_path(s: &S3Store, id: &str) -> std::path::PathBuf {
        s.uploads.lock().unwrap()[id].staging.as_ref().unwrap().path.clone()
    }

    async fn complete(s: &S3Store, id: &str, parts: &[(i32, &StoredPart)]) -> ObjectMeta {
        let listed: Vec<ListedPart> = parts.iter().map(|(n, p)| listed(*n, p)).collect();
        s.complete_upload("b", "k", id, &listed, None, &Conditions::default(), &Caller::default()).await.unwrap()
    }

    /// Parts sent one after another make the staging file the object, bytes unmoved; parts
    /// sent again, out of order, cut short or still being written are copied, and every
    /// object holds exactly its parts' bytes.
    #[tokio::test]
    async fn staged_parts_become_the_object_without_a_rewrite() {
        let s = store();
        s.create_bucket("b").unwrap();
        let (a, b, c) = (vec![b'a'; MIN_PART_SIZE as usize], vec![b'b'; MIN_PART_SIZE as usize], b"tail".to_vec());
        let whole = [a.clone(), b.clone(), c.clone()].concat();

        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        let (p1, p2, p3) = (
            staged(&s, &id, 1, a.clone()).await.unwrap(),
            staged(&s, &id, 2, b.clone()).await.unwrap(),
            staged(&s, &id, 3, c.clone()).await.unwrap(),
        );
        let staging = staging_path(&s, &id);
        let m = complete(&s, &id, &[(1, &p1), (2, &p2), (3, &p3)]).await;
        assert_eq!(m.path, staging, "in-order parts: the staging file is the object");
        assert_eq!(std::fs::read(&m.path).unwrap(), whole);

        // Part 1 sent again: its first region is no longer the object's start.
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        staged(&s, &id, 1, vec![b'x'; MIN_PART_SIZE as usize]).await.unwrap();
        let p2 = staged(&s, &id, 2, b.clone()).await.unwrap();
        let p1 = staged(&s, &id, 1, a.clone()).await.unwrap();
        let staging = staging_path(&s, &id);
        let m = complete(&s, &id, &[(1, &p1), (2, &p2)]).await;
        assert_ne!(m.path, staging);
        assert!(!staging.exists(), "the staging file goes with the upload");
        assert_eq!(std::fs::read(&m.path).unwrap(), [a.clone(), b.clone()].concat());

        // A body shorter than its Content-Length fails and leaves its region unused.
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        let r = s.reserve_part("b", "k", &id, 10).unwrap();
        let short = s.ingest_to(body(b"12345".to_vec()), &[], r.destination.clone()).await;
        assert!(matches!(short, Err(StoreError::Body(m)) if m.contains("5 of its Content-Length of 10")));
        drop(r);
        let r = s.reserve_part("b", "k", &id, 2).unwrap();
        let long = s.ingest_to(body(b"123".to_vec()), &[], r.destination.clone()).await;
        assert!(matches!(long, Err(StoreError::Body(m)) if m.contains("longer than its Content-Length of 2")));
        drop(r);
        let p1 = staged(&s, &id, 1, c.clone()).await.unwrap();
        let m = complete(&s, &id, &[(1, &p1)]).await;
        assert_eq!(std::fs::read(&m.path).unwrap(), c);

        // A part still being written into the staging file: never adopted, and its late bytes
        // never reach the object.
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        let p1 = staged(&s, &id, 1, a.clone()).await.unwrap();
        let p2 = staged(&s, &id, 2, c.clone()).await.unwrap();
        let pending = s.reserve_part("b", "k", &id, 4).unwrap();
        let m = complete(&s, &id, &[(1, &p1), (2, &p2)]).await;
        assert_ne!(m.path, pending.destination.path);
        assert!(s.ingest_to(body(b"late".to_vec()), &[], pending.destination.clone()).await.is_err());
        drop(pending);
        assert_eq!(std::fs::read(&m.path).unwrap(), [a.clone(), c.clone()].concat());

        // Sent out of order (2 before 1): copied in part order.
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        let p2 = staged(&s, &id, 2, c.clone()).await.unwrap();
        let p1 = staged(&s, &id, 1, a.clone()).await.unwrap();
        let m = complete(&s, &id, &[(1, &p1), (2, &p2)]).await;
        assert_eq!(std::fs::read(&m.path).unwrap(), [a.clone(), c.clone()].concat());

        // Completed once: a second Complete (a client's retry) finds no upload, and the object
        // made of the staging file keeps its bytes.
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        let p1 = staged(&s, &id, 1, c.clone()).await.unwrap();
        let m = complete(&s, &id, &[(1, &p1)]).await;
        let again =
            s.complete_upload("b", "k", &id, &[listed(1, &p1)], None, &Conditions::default(), &Caller::default()).await;
        assert!(matches!(again, Err(StoreError::NoSuchUpload(_))));
        assert_eq!(std::fs::read(&m.path).unwrap(), c);

        // Oversized parts are refused before anything is written, and so are reservations that
        // would pass S3's largest object (5 GiB declared again and again, bodies never sent).
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        assert!(matches!(s.reserve_part("b", "k", &id, MAX_PART_SIZE + 1), Err(StoreError::EntityTooLarge)));
        let most = (MAX_OBJECT_SIZE / MAX_PART_SIZE) as usize;
        for _ in 0..most {
            drop(s.reserve_part("b", "k", &id, MAX_PART_SIZE).unwrap());
        }
        assert!(matches!(s.reserve_part("b", "k", &id, MAX_PART_SIZE), Err(StoreError::EntityTooLarge)));
        assert!(matches!(s.reserve_part("b", "k", "nope", 1), Err(StoreError::NoSuchUpload(_))));
        s.abort_upload("b", "k", &id).unwrap();
        assert!(s.open_uploads().is_empty());
    }

    fn listed(n: i32, p: &StoredPart) -> ListedPart {
        ListedPart { number: n, etag: p.etag.clone(), checksum: p.checksum.clone() }
    }

    #[tokio::test]
    async fn part_rules_as_s3_sets_them() {
        let s = store();
        s.create_bucket("b").unwrap();
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        let p1 = part(&s, &id, 1, b"small".to_vec(), Algorithm::Crc64Nvme).await;
        let p2 = part(&s, &id, 2, b"last".to_vec(), Algorithm::Crc64Nvme).await;
        let (c, none) = (Caller::default(), Conditions::default());
        let done = |parts: Vec<ListedPart>| {
            let (s, id, c, none) = (&s, id.clone(), &c, &none);
            async move { s.complete_upload("b", "k", &id, &parts, None, none, c).await }
        };
        assert!(matches!(done(vec![listed(1, &p1), listed(2, &p2)]).await, Err(StoreError::EntityTooSmall(1))));
        assert!(matches!(done(vec![listed(2, &p2), listed(1, &p1)]).await, Err(StoreError::InvalidPartOrder)));
        assert!(matches!(done(vec![listed(3, &p2)]).await, Err(StoreError::InvalidPart(3))));
        let wrong = ListedPart { etag: "00".into(), ..listed(2, &p2) };
        assert!(matches!(done(vec![wrong]).await, Err(StoreError::InvalidPart(2))));
        // Part checksums on an upload created without an algorithm are refused.
        let with_sum = ListedPart { checksum: Some((Algorithm::Crc32, "AAAAAA==".into())), ..listed(2, &p2) };
        assert!(matches!(done(vec![with_sum]).await, Err(StoreError::InvalidPart(2))));
        let one = done(vec![listed(2, &p2)]).await.unwrap();
        assert!(one.etag.ends_with("-1"));
        assert_eq!(one.checksum.unwrap().value(), checksum::encode(&checksum::digest(Algorithm::Crc64Nvme, b"last")));
        assert!(s.open_uploads().is_empty());
        let bad = s.ingest(body(b"x".to_vec()), &[]).await.unwrap();
        let id2 = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        assert!(matches!(s.add_ingested_part("b", "k", &id2, 10_001, bad, &[]), Err(StoreError::InvalidArgument(_))));
    }

    #[tokio::test]
    async fn checksum_modes_as_s3_computes_them() {
        let s = store();
        s.create_bucket("b").unwrap();
        assert!(matches!(
            s.create_upload("b", "k", ObjectAttrs::default(), Some(Algorithm::Crc64Nvme), Some(Kind::Composite)),
            Err(StoreError::InvalidRequest(m)) if m.contains("COMPOSITE checksum type cannot be used with the crc64nvme")
        ));
        let big = vec![b'a'; MIN_PART_SIZE as usize];
        let whole = [big.clone(), b"tail".to_vec()].concat();
        for (alg, kind) in [(Algorithm::Crc32c, Kind::Composite), (Algorithm::Crc32, Kind::FullObject)] {
            let id = s.create_upload("b", "k", ObjectAttrs::default(), Some(alg), Some(kind)).unwrap();
            let p1 = part(&s, &id, 1, big.clone(), alg).await;
            let p2 = part(&s, &id, 2, b"tail".to_vec(), alg).await;
            let m = s
                .complete_upload(
                    "b",
                    "k",
                    &id,
                    &[listed(1, &p1), listed(2, &p2)],
                    None,
                    &Conditions::default(),
                    &Caller::default(),
                )
                .await
                .unwrap();
            let c = m.checksum.unwrap();
            match kind {
                Kind::Composite => {
                    let expect =
                        checksum::composite(alg, &[checksum::digest(alg, &big), checksum::digest(alg, b"tail")]);
                    assert_eq!(c.value(), expect.value());
                    assert!(c.value().ends_with("-2"));
                    assert!(m.parts.iter().all(|p| p.checksum.is_some()));
                }
                Kind::FullObject => assert_eq!(c.raw, checksum::digest(alg, &whole)),
            }
        }
    }

    #[tokio::test]
    async fn part_copies_check_their_range() {
        let s = store();
        s.create_bucket("b").unwrap();
        let c = Caller::default();
        let src = s.put_object("b", "src", body(b"0123456789".to_vec()), ObjectAttrs::default(), &c).await.unwrap();
        let id = s.create_upload("b", "k", ObjectAttrs::default(), None, None).unwrap();
        // The range of the issue: bytes=0-18446744073709551615.
        let err = s.upload_part_copy("b", "k", &id, 1, &src, Some((0, u64::MAX)), false).await.unwrap_err();
        assert_eq!(err.to_string(), "Range specified is not valid for source object of size: 10");
        let p = s.upload_part_copy("b", "k", &id, 1, &src, Some((2, 4)), false).await.unwrap();
        assert_eq!(p.etag, hex::encode(Md5::digest(b"234")));
    }
}
