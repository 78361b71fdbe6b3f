//! `jointly`: a tamper-evident record of co-production.
//!
//! The crate is layered (see `ARCHITECTURE.md`): the front doors (the
//! command line, [`api`] and its pages) call the core ([`app`]), which
//! holds every use case, the permission and disclosure policies and the
//! rules; [`coproduction`] is what the record means; [`ledger`] (a crate of
//! its own) is a generic, append-only, hash-chained log that knows nothing
//! of the rest. Arrows point down only.

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod audit;
pub mod config;
pub mod coproduction;
pub mod http;
pub mod mail;
pub mod outside;
pub mod people;
pub mod refusal;
pub mod tlog;
pub mod witness;

/// The generic tamper-evident log, a crate of its own (`crates/ledger`).
pub use jointly_ledger as ledger;
