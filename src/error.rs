//! Typed errors shared across modules.

use std::fmt;

pub use crate::cbor::DecodeError;

/// Why a structure failed static validation (Go's `StaticValidate`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// A key's votes exceed 4096.
    ExcessiveVotes(u64),
    /// A key's votes are zero.
    ZeroVotes,
    /// A key's metadata exceeds 512 bytes (sum of key and value lengths).
    MetaTooBig(usize),
    /// A key's kind is not Ed25519 (1).
    UnknownKeyKind(u8),
    /// A present parent hash was empty rather than absent.
    EmptyParent,
    /// Signature `index` has a key ID that is not 32 bytes or a signature
    /// that is not 64 bytes.
    MalformedSignature(usize),
    /// An AUM carries a field its kind does not allow, or lacks one it needs.
    KindFields {
        /// The AUM kind.
        kind: crate::aum::AumKind,
        /// What was wrong.
        problem: &'static str,
    },
    /// A checkpoint state names a parent AUM.
    CheckpointHasParent,
    /// A checkpoint state has no disablement values.
    NoDisablementValues,
    /// A checkpoint state has more than 32 disablement values.
    TooManyDisablementValues(usize),
    /// Disablement value `index` is not 32 bytes.
    DisablementLength {
        /// Which value.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// Disablement value `first` equals value `second`.
    DuplicateDisablement {
        /// The earlier value.
        first: usize,
        /// The later value.
        second: usize,
    },
    /// A checkpoint state has no keys.
    NoKeys,
    /// A checkpoint state has more than 512 keys.
    TooManyKeys(usize),
    /// Key `index` of a checkpoint state failed validation.
    CheckpointKey {
        /// Which key.
        index: usize,
        /// Why.
        error: Box<ValidationError>,
    },
    /// Key `first` of a checkpoint state has the same ID as key `second`.
    DuplicateKey {
        /// The earlier key.
        first: usize,
        /// The later key.
        second: usize,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ValidationError::*;
        match self {
            ExcessiveVotes(v) => write!(f, "excessive key weight: {v} > 4096"),
            ZeroVotes => f.write_str("key votes must be non-zero"),
            MetaTooBig(n) => write!(f, "key metadata too big ({n} > 512)"),
            UnknownKeyKind(k) => write!(f, "unrecognized key kind: {k}"),
            EmptyParent => f.write_str("absent parent must be represented by a nil slice"),
            MalformedSignature(i) => {
                write!(f, "signature {i} has missing keyID or malformed signature")
            }
            KindFields { kind, problem } => write!(f, "{kind} AUM: {problem}"),
            CheckpointHasParent => f.write_str("checkpoint state: cannot specify a parent AUM"),
            NoDisablementValues => {
                f.write_str("checkpoint state: at least one disablement secret required")
            }
            TooManyDisablementValues(n) => {
                write!(
                    f,
                    "checkpoint state: too many disablement values ({n}, max 32)"
                )
            }
            DisablementLength { index, len } => write!(
                f,
                "checkpoint state: disablement[{index}]: invalid length (got {len}, want 32)"
            ),
            DuplicateDisablement { first, second } => write!(
                f,
                "checkpoint state: disablement[{first}]: duplicates disablement[{second}]"
            ),
            NoKeys => f.write_str("checkpoint state: at least one key is required"),
            TooManyKeys(n) => write!(f, "checkpoint state: too many keys ({n}, max 512)"),
            CheckpointKey { index, error } => {
                write!(f, "checkpoint state: key[{index}]: {error}")
            }
            DuplicateKey { first, second } => {
                write!(
                    f,
                    "checkpoint state: key[{first}]: duplicates key[{second}]"
                )
            }
        }
    }
}

impl std::error::Error for ValidationError {}
