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
pub mod aum;
pub mod authority;
pub mod builder;
pub mod cbor;
mod chain;
pub mod compact;
pub mod control;
pub mod error;
pub mod limits;
pub mod machine;
pub mod sig;
pub mod state;
pub mod storage;
pub mod sync;
pub mod tailchonk;

pub use aum::{Aum, AumKind, Signature};
pub use authority::Authority;
pub use error::{AumVerifyError, AuthorityError, DecodeError, SyncError, ValidationError};
pub use key::{Key, KeyKind, NlPrivate};
pub use sig::{node_key_authorized, NodeKeySignature, SigKind};
pub use state::State;
pub use storage::{MemStorage, Storage, StoredAum, VerifiedAum};
pub use sync::{Intersection, SyncOffer};
