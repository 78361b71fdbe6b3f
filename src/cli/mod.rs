//! The command line's own parts: what is not one use case of the core.

pub mod remote;
pub mod settings;
pub mod tiles;
