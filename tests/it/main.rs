//! The integration tests: one test crate (one link), a module per area,
//! with the helpers they share in `common`.

#![forbid(unsafe_code)]

mod common;

mod acting;
mod api;
mod audit;
mod backup;
mod cli;
mod coproduction;
mod crash;
mod doors;
mod erasure_crash;
mod faults;
mod figures;
mod forms;
mod fuzz;
mod given;
mod hardening;
mod ideas;
mod interrupted_keys;
mod mail;
mod notices;
mod openapi;
mod operating;
mod pay;
mod people;
mod policy;
mod privacy;
mod properties;
mod recovery;
mod schemas;
mod signing_in;
mod snapshot;
mod tiles;
mod truthful;
mod vectors;
mod witness;
