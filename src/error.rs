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

use crate::aum::AumKind;
use crate::hash::{AumHash, HashParseError};
use crate::state::ApplyError;
use crate::storage::StorageError;

/// Why an AUM was not accepted on top of a state (Go's `aumVerify`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AumVerifyError {
    /// The AUM failed static validation.
    Invalid(ValidationError),
    /// A non-genesis AUM without a parent.
    NoParent,
    /// The state has no last AUM to check the parent against.
    StateHasNoHead,
    /// The AUM's parent is not the state's last AUM.
    ParentMismatch,
    /// The AUM carries no signature.
    Unsigned,
    /// Signature `index` is by a key the state does not trust.
    UnknownSigner(usize),
    /// Signature `index` does not verify (or its key cannot verify).
    BadSignature(usize),
    /// The AUM removes the only trusted key.
    RemovesLastKey,
    /// Signature `index` names a key that an earlier signature already
    /// named. Go accepts this; this crate refuses it (SPEC §5.2), because a
    /// repeated signature changes the hash but not the SigHash, so anyone
    /// can mint such a variant of an AUM without a private key.
    DuplicateSigner {
        /// The repeating signature.
        index: usize,
        /// The key ID named twice.
        key_id: Vec<u8>,
    },
}

impl fmt::Display for AumVerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AumVerifyError::Invalid(e) => write!(f, "invalid: {e}"),
            AumVerifyError::NoParent => f.write_str("aum has no parent"),
            AumVerifyError::StateHasNoHead => {
                f.write_str("cannot check parent against a state with no previous AUM")
            }
            AumVerifyError::ParentMismatch => f.write_str("parent does not match the state"),
            AumVerifyError::Unsigned => f.write_str("unsigned AUM"),
            AumVerifyError::UnknownSigner(i) => {
                write!(f, "bad keyID on signature {i}: key not found")
            }
            AumVerifyError::BadSignature(i) => write!(f, "signature {i}: invalid signature"),
            AumVerifyError::RemovesLastKey => {
                f.write_str("cannot remove the last key in the state")
            }
            AumVerifyError::DuplicateSigner { index, key_id } => {
                write!(f, "duplicate signer: signature {index} repeats key ")?;
                key_id.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl std::error::Error for AumVerifyError {}

/// Why an authority operation failed. On any error the authority and its
/// storage are left as they were, except where a variant says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityError {
    /// The embedder's storage failed.
    Storage(StorageError),
    /// An AUM that had to be stored is not.
    NotFound(AumHash),
    /// An AUM's parent is not stored.
    MissingParent(AumHash),
    /// A walk exceeded Go's iteration limit.
    IterationLimit(usize),
    /// Storage holds no AUMs.
    NoChainCandidates,
    /// Storage holds several unrelated chains and no hint picks one.
    MultipleDistinctChains,
    /// A parentless AUM that cannot start a chain.
    InvalidGenesis(AumKind),
    /// A parentless AUM that could not be applied.
    Genesis(ApplyError),
    /// A walk had no start.
    NoInitialHead,
    /// Replaying a stored AUM after `at` failed.
    Advance {
        /// The AUM whose child failed.
        at: AumHash,
        /// Why.
        error: ApplyError,
    },
    /// No child lies on the path being replayed.
    NoCandidateOnPath,
    /// Bootstrap into storage that already holds AUMs.
    NotEmpty,
    /// Bootstrap with an AUM that is not a checkpoint.
    BootstrapNotCheckpoint(AumKind),
    /// Bootstrap (or create) with an AUM that fails verification.
    InvalidBootstrap(AumVerifyError),
    /// Inform with no AUMs.
    EmptyInform,
    /// Update `index` has no parent.
    UpdateMissingParent(usize),
    /// The state at update `index`'s parent could not be computed.
    UpdateState {
        /// Which update.
        index: usize,
        /// Why.
        error: Box<AuthorityError>,
    },
    /// Update `index` failed verification.
    UpdateInvalid {
        /// Which update.
        index: usize,
        /// Why.
        error: AumVerifyError,
    },
    /// Update `index` could not be applied.
    UpdateApply {
        /// Which update.
        index: usize,
        /// Why.
        error: ApplyError,
    },
    /// A builder or revocation request that cannot be carried out.
    Builder(&'static str),
    /// Compaction could not find a consistent ancestor.
    Compaction(&'static str),
}

impl From<StorageError> for AuthorityError {
    fn from(e: StorageError) -> Self {
        AuthorityError::Storage(e)
    }
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AuthorityError::*;
        match self {
            Storage(e) => write!(f, "{e}"),
            NotFound(h) => write!(f, "AUM {h} does not exist"),
            MissingParent(h) => write!(f, "reading parent ({h}): does not exist"),
            IterationLimit(n) => write!(f, "iteration limit exceeded ({n})"),
            NoChainCandidates => f.write_str("no chain candidates in AUM storage"),
            MultipleDistinctChains => f.write_str("multiple distinct chains"),
            InvalidGenesis(k) => write!(f, "invalid genesis update: {k}"),
            Genesis(e) => write!(f, "applying genesis: {e}"),
            NoInitialHead => f.write_str("invalid initial state"),
            Advance { at, error } => write!(f, "advance {at}: {error}"),
            NoCandidateOnPath => f.write_str("no candidate matching path"),
            NotEmpty => f.write_str("tailchonk is not empty"),
            BootstrapNotCheckpoint(k) => {
                write!(f, "bootstrap AUMs must be checkpoint messages, got {k}")
            }
            InvalidBootstrap(e) => write!(f, "invalid bootstrap: {e}"),
            EmptyInform => f.write_str("inform called with empty slice"),
            UpdateMissingParent(i) => write!(f, "update {i}: missing parent"),
            UpdateState { index, error } => write!(f, "update {index} computing state: {error}"),
            UpdateInvalid { index, error } => write!(f, "update {index} invalid: {error}"),
            UpdateApply { index, error } => write!(f, "update {index} cannot be applied: {error}"),
            Builder(why) => write!(f, "builder: {why}"),
            Compaction(why) => write!(f, "compaction: {why}"),
        }
    }
}

impl std::error::Error for AuthorityError {}

/// Why a sync step failed (Go's `SyncOffer`, `MissingAUMs`, `ToSyncOffer`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    /// The remote offer shares no AUM with the local active chain (Go's
    /// `ErrNoIntersection`). Nothing can be exchanged; this is not a
    /// storage fault.
    NoIntersection,
    /// The embedder's storage failed.
    Storage(StorageError),
    /// Computing the state at an AUM, or following the chain from it,
    /// failed (a missing parent, an iteration limit, a replay error).
    Chain(AuthorityError),
    /// The offer's head is not a 52-character base32 AUM hash.
    InvalidHead(HashParseError),
    /// Ancestor `index` of the offer is not a 52-character base32 AUM hash.
    InvalidAncestor {
        /// Which ancestor.
        index: usize,
        /// Why.
        error: HashParseError,
    },
    /// The offer lists more ancestors than
    /// [`MAX_SYNC_OFFER_ANCESTORS`](crate::limits::MAX_SYNC_OFFER_ANCESTORS).
    TooManyAncestors(usize),
}

impl From<StorageError> for SyncError {
    fn from(e: StorageError) -> Self {
        SyncError::Storage(e)
    }
}

impl From<AuthorityError> for SyncError {
    fn from(e: AuthorityError) -> Self {
        match e {
            AuthorityError::Storage(s) => SyncError::Storage(s),
            other => SyncError::Chain(other),
        }
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::NoIntersection => f.write_str("intersection: no intersection"),
            SyncError::Storage(e) => write!(f, "{e}"),
            SyncError::Chain(e) => write!(f, "sync: {e}"),
            SyncError::InvalidHead(e) => write!(f, "head.UnmarshalText: {e}"),
            SyncError::InvalidAncestor { index, error } => {
                write!(f, "ancestor[{index}].UnmarshalText: {error}")
            }
            SyncError::TooManyAncestors(n) => write!(
                f,
                "sync offer has {n} ancestors (max {})",
                crate::limits::MAX_SYNC_OFFER_ANCESTORS
            ),
        }
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SyncError::Storage(e) => Some(e),
            SyncError::Chain(e) => Some(e),
            SyncError::InvalidHead(e) => Some(e),
            SyncError::InvalidAncestor { error, .. } => Some(error),
            _ => None,
        }
    }
}
