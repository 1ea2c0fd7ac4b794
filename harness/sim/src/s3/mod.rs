//! S3: the REST protocol through `s3s`, objects on disk, an "Object Created" event per create.

mod faults;
mod service;
mod store;

pub use faults::{Fault, Faults};
pub use service::S3Frontend;
pub use store::{ObjectAttrs, ObjectCreated, S3Store, StoreError};
