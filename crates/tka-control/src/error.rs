//! Why the service refused or failed a request, and how that maps to Go's
//! user-error (HTTP 400) / server-error (HTTP 500) split.

use tka::error::{AuthorityError, SyncError};
use tka::sig::NksError;
use tka::wire::{NodeId, WireError};
use tka::DecodeError;

/// A storage failure (database unreachable, constraint violated, a stored
/// value that does not decode).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Running the migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value is not what the service writes.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The tailnet row changed under a locked update (should not happen:
    /// updates hold the row lock).
    #[error("concurrent update of tailnet {0}")]
    Conflict(String),
}

/// Why a request was refused (`is_user_error`) or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The body did not parse as the endpoint's request.
    #[error("Decode: {0}")]
    BadRequest(#[from] WireError),
    /// The body's `NodeKey` is not the authenticated caller's node key.
    #[error("request NodeKey {got} is not the caller's node key")]
    NodeKeyMismatch {
        /// The key in the body.
        got: tka::NodeKey,
    },
    /// The path is not one of the eight `/machine/tka` endpoints.
    #[error("unknown path {0}")]
    UnknownPath(String),
    /// Tailnet Lock is not enabled for this tailnet.
    #[error("tailnet lock is not enabled")]
    NotEnabled,
    /// Tailnet Lock is already enabled for this tailnet.
    #[error("tailnet lock is already enabled")]
    AlreadyEnabled,
    /// `init/begin` carried no genesis AUM.
    #[error("invalid genesis AUM: missing")]
    MissingGenesis,
    /// The genesis AUM did not decode.
    #[error("invalid genesis AUM: {0}")]
    GenesisDecode(DecodeError),
    /// The genesis AUM names a parent.
    #[error("invalid genesis AUM: it has a parent")]
    GenesisHasParent,
    /// The genesis AUM is not a valid, self-signed checkpoint.
    #[error("invalid genesis AUM: {0}")]
    BadGenesis(AuthorityError),
    /// The genesis reuses the state IDs of an authority that was disabled.
    #[error("invalid genesis AUM: state ID {0}:{1} belongs to a disabled authority")]
    StateIdDisallowed(u64, u64),
    /// `init/finish` without a pending `init/begin`.
    #[error("no tailnet lock initialization in progress")]
    NoInitInProgress,
    /// `init/finish` from another node than the one that began.
    #[error("tailnet lock initialization was begun by another node")]
    InitByOtherNode,
    /// A node ID that is not a node of the tailnet.
    #[error("node {0} is not in this tailnet")]
    UnknownNode(NodeId),
    /// A signature for a node key that is not a node of the tailnet.
    #[error("node key {0} is not in this tailnet")]
    UnknownNodeKey(tka::NodeKey),
    /// A node-key signature that does not authorize the node.
    #[error("signature for node {node} does not verify: {error}")]
    NodeSignature {
        /// The node.
        node: NodeId,
        /// Why.
        error: NksError,
    },
    /// A submitted signature is missing.
    #[error("malformed signature: missing")]
    MissingSignature,
    /// A submitted signature does not decode.
    #[error("malformed signature: {0}")]
    SignatureDecode(DecodeError),
    /// A submitted signature's `Pubkey` is not a node key.
    #[error("malformed signature pubkey: {0}")]
    SignaturePubkey(tka::key::KeyParseError),
    /// A submitted signature does not verify under the current authority.
    #[error("signature does not verify: {0}")]
    SignatureRejected(NksError),
    /// `SupportDisablement` is not a disablement secret of the genesis.
    #[error("SupportDisablement is not a valid disablement secret")]
    BadSupportDisablement,
    /// The sync offer was refused.
    #[error("sync offer: {0}")]
    Sync(SyncError),
    /// `missingAUM[i]` did not decode.
    #[error("decoding missingAUM[{0}]: {1}")]
    AumDecode(usize, DecodeError),
    /// The AUMs did not verify against the chain.
    #[error("inform failed: {0}")]
    Inform(AuthorityError),
    /// `disable` without a secret.
    #[error("missing disablement secret")]
    MissingSecret,
    /// `disable` with a secret that is not valid for the authority.
    #[error("incorrect disablement secret")]
    WrongSecret,
    /// `affected-sigs` without a key ID.
    #[error("missing KeyID")]
    MissingKeyId,
    /// The stored chain could not be opened.
    #[error("stored chain: {0}")]
    Chain(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// Whether the request was at fault (Go's `userError`, HTTP 400) rather
    /// than the server (`serverError`, HTTP 500).
    pub fn is_user_error(&self) -> bool {
        match self {
            ServiceError::Chain(_) | ServiceError::Store(_) => false,
            ServiceError::Sync(e) => !matches!(e, SyncError::Storage(_) | SyncError::Chain(_)),
            ServiceError::Inform(e) => !matches!(e, AuthorityError::Storage(_)),
            _ => true,
        }
    }

    /// The HTTP status for this error: 400, 404 for an unknown path, or
    /// 500.
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::UnknownPath(_) => 404,
            e if e.is_user_error() => 400,
            _ => 500,
        }
    }
}
