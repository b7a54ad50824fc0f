//! What Tailnet Lock puts in map responses: the `TKAInfo`
//! ([`decide::tka_info`](crate::decide::tka_info), or
//! [`Service::tka_info`](crate::Service::tka_info)) and, per peer, its
//! `KeySignature` or what to do with a node that has none.

use crate::model::NodeRecord;
use tka::Authority;

/// What to do with a node that has no valid signature while the lock is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UnsignedPolicy {
    /// Leave it out of other nodes' netmaps (locked nodes would drop it
    /// anyway).
    #[default]
    Hide,
    /// Send it with `UnsignedPeerAPIOnly`: locked nodes then keep it but
    /// only let it reach their peerapi.
    PeerApiOnly,
}

/// How a node appears as a peer in map responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerView {
    /// Send it, with this `KeySignature` (empty while the lock is off).
    Send {
        /// The node-key signature.
        key_signature: Vec<u8>,
    },
    /// Send it with `UnsignedPeerAPIOnly` set and no signature.
    PeerApiOnly,
    /// Leave it out.
    Hide,
}

impl PeerView {
    /// The peer a node's netmap holds for `node` seen this way (as
    /// [`tka::machine::Peer`], what a node's machine is given); `None` for
    /// [`PeerView::Hide`].
    pub fn into_peer(self, node: &NodeRecord) -> Option<tka::machine::Peer> {
        let (signature, unsigned_peer_api_only) = match self {
            PeerView::Send { key_signature } => (bytes::Bytes::from(key_signature), false),
            PeerView::PeerApiOnly => (bytes::Bytes::new(), true),
            PeerView::Hide => return None,
        };
        Some(tka::machine::Peer {
            node_id: node.id,
            node_key: node.key,
            signature,
            unsigned_peer_api_only,
        })
    }
}

/// The view of `node` for other nodes' netmaps: with the lock off every
/// node is sent as is; with it on, a node is sent with its signature only
/// if that signature authorizes its current key under `authority` now (a
/// signature by a since-removed key counts as none), else `policy` applies.
pub fn peer_view(
    authority: Option<&Authority>,
    node: &NodeRecord,
    policy: UnsignedPolicy,
) -> PeerView {
    let sig = node.key_signature.clone().unwrap_or_default();
    let Some(a) = authority else {
        return PeerView::Send { key_signature: sig };
    };
    if !sig.is_empty() && a.node_key_authorized(&node.key, &sig).is_ok() {
        return PeerView::Send { key_signature: sig };
    }
    unsigned(policy)
}

/// [`peer_view`] for many nodes, batching the signature checks.
pub fn peer_views(
    authority: Option<&Authority>,
    nodes: &[NodeRecord],
    policy: UnsignedPolicy,
) -> Vec<PeerView> {
    let Some(a) = authority else {
        return nodes.iter().map(|n| peer_view(None, n, policy)).collect();
    };
    let empty: &[u8] = &[];
    let peers: Vec<(tka::NodeKey, &[u8])> = nodes
        .iter()
        .map(|n| (n.key, n.key_signature.as_deref().unwrap_or(empty)))
        .collect();
    a.node_keys_authorized(&peers)
        .into_iter()
        .zip(nodes)
        .map(|(verdict, n)| match verdict {
            Ok(_) => PeerView::Send {
                key_signature: n.key_signature.clone().unwrap_or_default(),
            },
            Err(_) => unsigned(policy),
        })
        .collect()
}

fn unsigned(policy: UnsignedPolicy) -> PeerView {
    match policy {
        UnsignedPolicy::Hide => PeerView::Hide,
        UnsignedPolicy::PeerApiOnly => PeerView::PeerApiOnly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tka::NodeKey;

    #[test]
    fn a_view_becomes_the_peer_a_netmap_holds() {
        let node = NodeRecord {
            id: 7,
            key: NodeKey([7; 32]),
            rotation_pubkey: None,
            key_signature: Some(vec![1, 2, 3]),
        };
        let sent = PeerView::Send {
            key_signature: vec![4, 5],
        }
        .into_peer(&node)
        .unwrap();
        assert_eq!((sent.node_id, sent.node_key), (7, node.key));
        assert_eq!(&sent.signature[..], &[4, 5]);
        assert!(!sent.unsigned_peer_api_only);
        let api = PeerView::PeerApiOnly.into_peer(&node).unwrap();
        assert!(api.signature.is_empty() && api.unsigned_peer_api_only);
        assert!(PeerView::Hide.into_peer(&node).is_none());
    }
}
