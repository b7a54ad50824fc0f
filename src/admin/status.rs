//! `lock status` and `lock log`: what the node knows, no control needed.

use super::AdminError;
use crate::authority::Authority;
use crate::hash::AumHash;
use crate::key::{Key, NlPublic, NodeKey};
use crate::sig::NodeKeySignature;
use crate::storage::Storage;
use crate::Aum;

/// One entry of `lock log` (Go's `ipnstate.TailnetLockUpdate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The AUM's hash.
    pub hash: AumHash,
    /// The AUM.
    pub aum: Aum,
    /// The AUM re-serialized (Go's `Raw`).
    pub raw: Vec<u8>,
}

/// `lock log` (Go's `TailnetLockLog`): up to `max_entries` AUMs from the
/// head back through parent links, stopping at the genesis or at the first
/// AUM no longer stored (compacted away).
pub fn log<S: Storage + ?Sized>(
    authority: Option<&Authority>,
    storage: &S,
    max_entries: usize,
) -> Result<Vec<LogEntry>, AdminError> {
    let a = authority.ok_or(AdminError::NotEnabled)?;
    let mut out = Vec::new();
    let mut cursor = a.head();
    while out.len() < max_entries {
        let Some(stored) = storage.aum(&cursor)? else {
            break;
        };
        let aum = stored.aum().clone();
        let parent = stored.parent();
        out.push(LogEntry {
            hash: cursor,
            raw: aum.to_cbor(),
            aum,
        });
        match parent {
            Some(p) => cursor = p,
            None => break,
        }
    }
    Ok(out)
}

/// A peer as `lock status` lists it (Go's `ipnstate.TKAPeer`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusPeer {
    /// The peer's name (DNS name in the JSON form).
    pub name: String,
    /// Control's node ID.
    pub id: i64,
    /// Control's stable node ID.
    pub stable_id: String,
    /// Its Tailscale addresses (single addresses only, as text).
    pub tailscale_ips: Vec<String>,
    /// Its node key.
    pub node_key: NodeKey,
    /// Its decoded signature (the zero signature when absent or
    /// undecodable, as Go shows it).
    pub node_key_signature: NodeKeySignature,
}

/// What `lock status` reports (Go's `ipnstate.TailnetLockStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Whether the node has an authority (and a tailnet-lock key).
    pub enabled: bool,
    /// The head, when enabled.
    pub head: Option<AumHash>,
    /// The node's tailnet-lock public key, if it has one.
    pub public_key: Option<NlPublic>,
    /// The node's node key, if known.
    pub node_key: Option<NodeKey>,
    /// Whether the node's own signature verifies under the authority.
    pub node_key_signed: bool,
    /// The node's own signature, decoded (present whenever enabled; the
    /// zero signature when unknown, as Go shows it).
    pub node_key_signature: Option<NodeKeySignature>,
    /// The trusted keys.
    pub trusted_keys: Vec<Key>,
    /// Peers left in the netmap.
    pub visible_peers: Vec<StatusPeer>,
    /// Peers removed because they failed the lock's checks.
    pub filtered_peers: Vec<StatusPeer>,
    /// The authority's first state ID.
    pub state_id: u64,
}

/// `lock status` (Go's `TailnetLockStatus`). `self_sig` is the node's own
/// signature as control last listed it (`None` if unknown); `visible` and
/// `filtered` are the peers the node kept and dropped.
///
/// As in Go, a node without a tailnet-lock key reports the lock off; a
/// node with a key but no authority reports its key too.
pub fn status(
    authority: Option<&Authority>,
    public_key: Option<NlPublic>,
    node_key: Option<NodeKey>,
    self_sig: Option<&[u8]>,
    visible: Vec<StatusPeer>,
    filtered: Vec<StatusPeer>,
) -> Status {
    let (Some(a), Some(pk)) = (authority, public_key) else {
        return Status {
            public_key,
            node_key,
            ..Status::default()
        };
    };
    let (signed, sig) = match (self_sig, node_key) {
        (Some(bytes), Some(nk)) => (
            a.node_key_authorized(&nk, bytes).is_ok(),
            NodeKeySignature::from_cbor(bytes).unwrap_or_default(),
        ),
        _ => (false, NodeKeySignature::default()),
    };
    Status {
        enabled: true,
        head: Some(a.head()),
        public_key: Some(pk),
        node_key,
        node_key_signed: signed,
        node_key_signature: Some(sig),
        trusted_keys: a.keys().to_vec(),
        visible_peers: visible,
        filtered_peers: filtered,
        state_id: a.state_ids().0,
    }
}
