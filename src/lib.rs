//! Tailnet Lock (the Tailnet Key Authority) for Rust, byte-compatible with Go's
//! `tailscale.com/tka`.
//!
//! The crate does no network I/O and reads no clock: AUMs come in as values
//! or bytes, storage is a trait ([`Storage`]), and the time is always passed
//! in ([`Time`], milliseconds, for the machine and the control responder;
//! Unix seconds in the storage layer, as Go records them: see [`time`]). The
//! only file access is the optional loader for Go's on-disk store,
//! [`tailchonk::load_dir`]. `SPEC.md` in the repository describes the protocol as this crate
//! implements it, including where it deliberately differs from Go.
//!
//! Where things are:
//!
//! * [`aum`], [`key`], [`state`], [`sig`]: the CBOR structures (AUMs, keys,
//!   the authority state, node-key signatures), decoded with Go's exact
//!   acceptance rules ([`cbor`]) and re-encoded canonically for hashing.
//! * [`authority`]: [`Authority`] — open, bootstrap, inform, fork choice,
//!   node-key checks; [`builder`] and [`compact`] build updates and prune
//!   storage; [`storage`] holds the trait and [`MemStorage`].
//! * [`ed25519`], [`kdf`], [`hash`]: the two Ed25519 rule sets Go uses, the
//!   Argon2i disablement KDF, BLAKE2s AUM hashes.
//! * [`wire`]: the control-plane JSON messages; [`tailchonk`]: a reader for
//!   Go's on-disk AUM store.
//! * [`sync`]: the sync protocol's offers; [`control`]: the control-side
//!   responder.
//! * [`machine`]: the sans-IO client driver ([`machine::TkaMachine`]:
//!   events in, actions out); [`netmap`]: pure functions from control's map
//!   responses to its events.
//! * [`admin`]: the operator's flows (init, add/remove with re-sign, sign,
//!   disable, revoke-keys, log, status), sans-IO like the machine.
//!
//! # Example
//!
//! ```rust
//! use tka::builder::Signer;
//! use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_700_000_000; // Unix seconds, supplied by the caller
//! let admin = NlPrivate::from_seed(&[1; 32]);
//!
//! // A genesis checkpoint. A node normally receives it from the control
//! // plane as CBOR bytes and decodes it with `Aum::from_cbor`.
//! let mut genesis = Aum {
//!     message_kind: AumKind::CHECKPOINT,
//!     state: Some(State {
//!         disablement_values: Some(vec![Some(tka::kdf::disablement_kdf(b"secret")?.to_vec())]),
//!         keys: Some(vec![admin.to_key(1)]),
//!         state_id1: 1,
//!         state_id2: 2,
//!         ..State::default()
//!     }),
//!     ..Aum::default()
//! };
//! genesis.signatures = Some(admin.sign_aum(&genesis.sig_hash()));
//! let genesis = Aum::from_cbor(&genesis.to_cbor())?;
//!
//! let mut storage = MemStorage::new();
//! let mut authority = Authority::bootstrap(&mut storage, genesis, now)?;
//!
//! // Trust a second key: build signed updates, then inform the authority.
//! let second = NlPrivate::from_seed(&[2; 32]);
//! let mut builder = authority.builder(Some(&admin));
//! builder.add_key(second.to_key(1))?;
//! let updates = builder.finalize(&storage)?;
//! authority.inform(&mut storage, &updates, now)?;
//! assert!(authority.key_trusted(&second.public().0));
//!
//! // Check a peer's node-key signature against the trusted keys.
//! let node = NodeKey([7; 32]);
//! let signature = NodeKeySignature::sign_direct(&second, &node, None)?.to_cbor();
//! authority.node_key_authorized(&node, &signature)?;
//! assert!(authority.node_key_authorized(&NodeKey([8; 32]), &signature).is_err());
//!
//! // Reopening the same storage gives the same head.
//! assert_eq!(Authority::open(&storage)?.head(), authority.head());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Wire format and primitives.
pub mod aum;
mod canonical;
pub mod cbor;
pub mod ed25519;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod kdf;
pub mod key;
pub mod limits;
pub mod sig;
pub mod state;

// The authority and its storage.
pub mod authority;
pub mod builder;
mod chain;
pub mod compact;
pub mod storage;
pub mod tailchonk;

// Talking to control.
pub mod control;
pub mod sync;
pub mod wire;

// The sans-IO driver.
pub mod machine;
pub mod netmap;
pub mod time;

// The operator's commands (`tailscale lock …`), sans-IO.
pub mod admin;

pub use aum::{Aum, AumKind, Signature};
pub use authority::Authority;
pub use error::{AumVerifyError, AuthorityError, DecodeError, SyncError, ValidationError};
pub use hash::AumHash;
pub use key::{Key, KeyKind, Meta, NlPrivate, NlPublic, NodeKey};
pub use sig::{node_key_authorized, NodeKeySignature, SigKind, TrustedKeys};
pub use state::State;
pub use storage::{MemStorage, Storage, StoredAum, VerifiedAum};
pub use sync::{Intersection, SyncOffer};
pub use time::Time;

/// The README's code blocks, compiled and run as doc tests so the README
/// cannot drift from the code.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
