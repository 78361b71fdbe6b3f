//! The generic tamper-evident log: records, canonical bytes, the BLAKE3
//! chain, the RFC 6962 Merkle tree, storage, verification and bundles.
//!
//! It stores opaque JSON objects with a type name and knows nothing of
//! co-production, people or HTTP: it is its own crate so that the compiler
//! holds that (it depends on no web framework, template engine or OpenAPI
//! crate), and it could be published alone.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod cosignature;
pub mod digest;
pub mod frame;
/// Entry points for the fuzzers (`fuzz/`) and the corpus replay test; not
/// part of a normal build.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod log;
pub mod merkle;
pub mod notary;
pub mod note;
pub mod receipt;
pub mod record;
pub mod sequencer;
pub mod store;
pub mod tile_check;
pub mod tiles;
pub mod verify;

pub use canonical::{CanonicalPayload, PayloadError};
pub use digest::Digest;
pub use log::{Admission, AdmitAll, Appended, Ledger, LedgerError, NewEvent, StoredEvent};
pub use record::{Actor, EventType, Record, Seq, Timestamp};
pub use store::{Head, OpenReport, StoreError};
