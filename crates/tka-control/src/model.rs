//! The records the service keeps: tailnets, callers, nodes, and the rows and
//! updates that move between the service and its [`ControlStore`](crate::ControlStore).

use tka::wire::NodeId;
use tka::{AumHash, NodeKey};

/// Identifies a tailnet. The embedder chooses the text (a database ID, a
/// domain, ...); the service never derives it from a request body.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TailnetId(pub String);

impl From<&str> for TailnetId {
    fn from(s: &str) -> Self {
        TailnetId(s.to_owned())
    }
}

impl std::fmt::Display for TailnetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who sent a request, as the embedding server authenticated it (its Noise
/// machine key mapped to a node and that node's tailnet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's tailnet: the only tailnet the request can touch.
    pub tailnet: TailnetId,
    /// The caller's current node key. A request whose `NodeKey` field
    /// differs is refused.
    pub node: NodeKey,
}

/// A node of a tailnet as the service knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's ID (Go's `tailcfg.NodeID`).
    pub id: NodeId,
    /// The node's current node key.
    pub key: NodeKey,
    /// The raw Ed25519 key allowed to sign rotations of this node's key
    /// (the node's Tailnet Lock public key), handed to `lock init` in
    /// `TKASignInfo.RotationPubkey`.
    pub rotation_pubkey: Option<Vec<u8>>,
    /// The node-key signature, verified under the authority when stored.
    pub key_signature: Option<Vec<u8>>,
}

/// Whether Tailnet Lock is on for a tailnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LockStatus {
    /// Never enabled: map responses carry no `TKAInfo`.
    #[default]
    Off,
    /// Enabled: the chain is stored and synced.
    Enabled,
    /// Enabled once, then disabled with a disablement secret, which
    /// bootstrap now hands out.
    Disabled,
}

impl LockStatus {
    /// The stored integer.
    pub fn to_i64(self) -> i64 {
        match self {
            LockStatus::Off => 0,
            LockStatus::Enabled => 1,
            LockStatus::Disabled => 2,
        }
    }

    /// The status for a stored integer, `None` if unknown.
    pub fn from_i64(v: i64) -> Option<Self> {
        match v {
            0 => Some(LockStatus::Off),
            1 => Some(LockStatus::Enabled),
            2 => Some(LockStatus::Disabled),
            _ => None,
        }
    }
}

/// The per-tailnet row: everything but the AUMs and the nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TailnetRow {
    /// Bumped by every change to the row or the chain; readers compare it
    /// to their cached copy.
    pub version: i64,
    /// Bumped when the chain is replaced (enable, disable); AUMs are stored
    /// per epoch.
    pub epoch: i64,
    /// The sequence number of the last AUM stored (AUMs are numbered in
    /// commit order, across epochs).
    pub aum_seq: i64,
    /// Lock on or off.
    pub status: LockStatus,
    /// The genesis AUM (CBOR) while enabled.
    pub genesis: Option<Vec<u8>>,
    /// The head of the active chain while enabled.
    pub head: Option<AumHash>,
    /// The storage hint for where the active chain starts.
    pub last_active_ancestor: Option<AumHash>,
    /// The secret that disabled the lock (handed out by bootstrap).
    pub disablement_secret: Option<Vec<u8>>,
    /// The disablement secret the admin gave to the control plane's
    /// operators at init (`SupportDisablement`), verified at init.
    pub support_disablement: Option<Vec<u8>>,
    /// A genesis submitted by `init/begin`, waiting for `init/finish`.
    pub pending_genesis: Option<Vec<u8>>,
    /// The node that submitted the pending genesis.
    pub pending_by: Option<NodeKey>,
    /// State IDs of authorities that were disabled: a genesis reusing one
    /// is refused (it would re-enable a chain whose secret is public).
    pub disallowed_state_ids: Vec<(u64, u64)>,
}

/// A stored AUM, in commit order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AumRow {
    /// Sequence number (increasing in commit order).
    pub seq: i64,
    /// The AUM's CBOR.
    pub aum: Vec<u8>,
}

/// Which nodes a locked update needs to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeQuery {
    /// None.
    None,
    /// Every node of the tailnet.
    All,
    /// The node with this key.
    ByKey(NodeKey),
}

/// An AUM to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAum {
    /// Its sequence number.
    pub seq: i64,
    /// Its hash.
    pub hash: AumHash,
    /// Its CBOR.
    pub aum: Vec<u8>,
}

/// What one accepted request writes, applied atomically by the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// The tailnet's new row (its `version` one more than the row read), or
    /// `None` to leave it.
    pub row: Option<TailnetRow>,
    /// Remove every stored AUM of the tailnet first.
    pub wipe_aums: bool,
    /// AUMs to append (verified), in the row's epoch.
    pub new_aums: Vec<NewAum>,
    /// Commit time for the new AUMs (Unix seconds).
    pub now: u64,
    /// Clear every node's signature first.
    pub clear_signatures: bool,
    /// Node signatures to set (verified), each only if the node still has
    /// the key it was verified for.
    pub signatures: Vec<(NodeId, NodeKey, Vec<u8>)>,
}
