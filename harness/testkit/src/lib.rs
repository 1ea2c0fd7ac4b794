//! What the workspace's tests share about the world outside them: the third-party tools and
//! emulators they run (moto, OpenSSH, the `aws` CLI, ...), and what happens where one is
//! missing. Under `CI=true` a missing tool fails the test with the reason; elsewhere the test
//! prints one line saying what it did not test, and passes. Python tools come from one
//! provisioned environment at pinned versions ([`python`]), never from the machine at large.

pub mod moto;
pub mod python;
mod tools;

pub use tools::{ci, have, need, python_module, unavailable};
