//! S3: the REST protocol through `s3s`, objects on disk with versions and checksums, an
//! "Object Created" event per create on buckets that notify EventBridge.

pub mod checksum;
mod created;
mod faults;
mod multipart;
mod service;
mod store;

pub use created::{Caller, CreatedObject, ObjectCreated, Sequencer};
pub use faults::{Applied, Fault, Faults};
pub use multipart::{ListedPart, MAX_PART_NUMBER, MAX_PART_SIZE, MIN_PART_SIZE, UploadInfo};
pub use service::S3Frontend;
pub use store::{
    BucketSettings, Conditions, Deleted, ObjectAttrs, ObjectMeta, S3Store, StoreError, VersionEntry, Versioning,
};
