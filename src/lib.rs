//! `jointly`: a tamper-evident record of co-production.
//!
//! The crate is layered (see `ARCHITECTURE.md`): [`ledger`] is a generic,
//! append-only, hash-chained log of JSON payloads that knows nothing of
//! co-production; the layers above it depend on it, never the reverse.

pub mod api;
pub mod audit;
pub mod coproduction;
pub mod http;
pub mod people;
pub mod witness;

/// The generic tamper-evident log, a crate of its own (`crates/ledger`).
pub use jointly_ledger as ledger;
