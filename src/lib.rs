//! Tailnet Lock (the Tailnet Key Authority) for Rust, byte-compatible with Go's
//! `tailscale.com/tka`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ed25519;
pub mod hash;
pub mod kdf;
pub mod key;
pub mod wire;

pub use hash::AumHash;
pub use key::{NlPublic, NodeKey};
