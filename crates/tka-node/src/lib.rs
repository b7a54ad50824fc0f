//! Tailnet Lock for Rust nodes: the IO half over the sans-IO [`tka`] core.
//!
//! The core crate decides; this crate stores and talks. It is being built
//! in this revision: see the workspace README for what is available.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use tka;
