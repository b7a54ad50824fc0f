//! Netmap glue: control's map responses to [`TkaMachine`](crate::machine::TkaMachine)
//! events, as pure functions.
//!
//! Go's client reads three things from a map-response stream for Tailnet
//! Lock:
//!
//! * `MapResponse.TKAInfo` ([`TkaInfo`]): in the **first** response of a
//!   stream, an absent (or `null`) `TKAInfo` means the lock is off; in later
//!   responses it means "unchanged"; a present one replaces what was known.
//!   Enabled is "not `Disabled` and the `Head` empty or parseable" — an
//!   unparseable head turns the lock off for that netmap (Go logs it).
//!   See [`control_state`] and [`TkaInfoStream`].
//! * Every `Node`'s `Key`, `KeySignature` and `UnsignedPeerAPIOnly`
//!   ([`NodeTka`]): a [`Peer`] for each peer ([`peer`]), and our own node's
//!   signature ([`self_signature`]).
//! * `PeersChangedPatch` entries (`tailcfg.PeerChange`): a non-null
//!   `KeySignature` (an empty one included) or `Key` replaces the peer's,
//!   patches for unknown node IDs are ignored ([`apply_patch`]). Go
//!   rebuilds and re-filters the whole netmap on such a patch; the machine
//!   re-checks the patched peer (and its rotation group), which gives the
//!   same verdicts.
//!
//! [`netmap_events`] puts one full netmap's events in the order the
//! machine wants them: control's state first (so a sync toward a newer head
//! is in flight when the peers are checked), then our own signature, then
//! the peers.

use crate::hash::AumHash;
use crate::key::NodeKey;
use crate::machine::{Event, NodeId, Peer};
use crate::wire::{NodeTka, TkaInfo};
use bytes::Bytes;

/// Control's Tailnet Lock state from one map response's `TKAInfo`: `first`
/// says whether it is the first response of the stream. `None` when the
/// response says nothing new (a later response without `TKAInfo`).
pub fn control_state(first: bool, info: Option<&TkaInfo>) -> Option<Event> {
    match info {
        None if first => Some(Event::ControlState {
            enabled: false,
            head: None,
        }),
        None => None,
        Some(info) => {
            let head: Option<AumHash> = info.head_hash().ok().flatten();
            Some(Event::ControlState {
                enabled: info.enabled(),
                head,
            })
        }
    }
}

/// Remembers whether the first map response of a stream has been seen, for
/// [`control_state`]. Start a new one for every new map-response stream.
#[derive(Clone, Debug, Default)]
pub struct TkaInfoStream {
    seen_first: bool,
}

impl TkaInfoStream {
    /// A tracker for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event for the next map response's `TKAInfo`, if any.
    pub fn next(&mut self, info: Option<&TkaInfo>) -> Option<Event> {
        let first = !std::mem::replace(&mut self.seen_first, true);
        control_state(first, info)
    }
}

/// A netmap node as the machine sees a peer.
pub fn peer(node: &NodeTka) -> Peer {
    Peer {
        node_id: node.id,
        node_key: node.key,
        signature: Bytes::copy_from_slice(&node.key_signature),
        unsigned_peer_api_only: node.unsigned_peer_api_only,
    }
}

/// Our own node's signature, from the netmap's self node.
pub fn self_signature(node: &NodeTka) -> Event {
    Event::SelfSignature(Bytes::copy_from_slice(&node.key_signature))
}

/// The Tailnet Lock fields of one `tailcfg.PeerChange` (a
/// `PeersChangedPatch` entry); `None` is an absent or `null` field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerChange {
    /// `NodeID`: which peer.
    pub node_id: NodeId,
    /// `Key`: the peer's new node key.
    pub key: Option<NodeKey>,
    /// `KeySignature`: the peer's new signature (`Some(empty)` clears it).
    pub key_signature: Option<Bytes>,
}

/// The event for a patch to a known peer (`known` is the peer as the
/// machine knows it, e.g. [`TkaMachine::peer`](crate::machine::TkaMachine::peer)):
/// an upsert of the patched peer when its key or signature changed, `None`
/// when the patch changes nothing Tailnet Lock looks at or names another
/// peer. Unknown peers are ignored, as Go ignores patches for them.
pub fn apply_patch(known: Option<&Peer>, change: &PeerChange) -> Option<Event> {
    let known = known.filter(|p| p.node_id == change.node_id)?;
    let mut p = known.clone();
    if let Some(k) = change.key {
        p.node_key = k;
    }
    if let Some(sig) = &change.key_signature {
        p.signature = sig.clone();
    }
    (p != *known).then_some(Event::PeerUpserted(p))
}

/// One full netmap's events, in the order the machine wants them: control's
/// state (if the response says something about it), our own signature (if
/// the self node is given), then the whole peer set.
pub fn netmap_events(
    stream: &mut TkaInfoStream,
    info: Option<&TkaInfo>,
    self_node: Option<&NodeTka>,
    peers: &[NodeTka],
) -> Vec<Event> {
    let mut out = Vec::with_capacity(3);
    out.extend(stream.next(info));
    out.extend(self_node.map(self_signature));
    let mut list: Vec<Peer> = peers.iter().map(peer).collect();
    list.sort_by_key(|p| p.node_id);
    out.push(Event::PeersReplaced(list));
    out
}
