//! Tailnet Lock (the Tailnet Key Authority) for Rust, byte-compatible with Go's
//! `tailscale.com/tka`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ed25519;
pub mod hash;
pub mod kdf;
pub mod key;

pub use hash::AumHash;
pub use key::{NlPublic, NodeKey};
pub mod aum;
pub mod cbor;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod sig;
pub mod state;

pub use aum::{Aum, AumKind, Signature};
pub use error::{DecodeError, ValidationError};
pub use key::{Key, KeyKind, NlPrivate};
pub use sig::{node_key_authorized, NodeKeySignature, SigKind};
pub use state::State;
