//! Peer filtering: verdicts, the rotation tracker and the verdict cache.
//!
//! A verdict is computed from the peer's node key and signature bytes under
//! the installed authority. Only the verifying path
//! ([`crate::sig::node_key_authorized`]) produces [`Verdict::Authorized`],
//! which carries its proof; the other admitting verdicts say why no check
//! ran (no authority: fail-open as Go; a peer-API-only peer).

use crate::authority::Authority;
use crate::hash::AumHash;
use crate::key::NodeKey;
use crate::sig::{Authorized, NksError, SigKind};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A peer's identifier in the control plane's netmap.
pub type NodeId = i64;

/// One peer as the netmap describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer's node ID.
    pub node_id: NodeId,
    /// The peer's node key.
    pub node_key: NodeKey,
    /// Its node-key signature (empty when it has none).
    pub signature: Bytes,
    /// Control marks the peer as reachable only through the peer API; it is
    /// exempt from the signature check (not from rotation obsolescence).
    pub unsigned_peer_api_only: bool,
}

/// Why a peer was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The peer has no node-key signature.
    MissingSignature,
    /// The signature does not authorize the node key.
    InvalidSignature(NksError),
    /// A newer rotation of the same node supersedes this key, or two nodes
    /// claim equally long rotation chains from the same signature.
    RotatedAway,
}

/// What the machine decided about a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The signature verified under the current authority.
    Authorized(Authorized),
    /// No authority is installed: peers are not filtered (fail-open, as Go).
    Unfiltered,
    /// Exempt from the signature check (peer API only).
    PeerApiOnly,
    /// Refused.
    Rejected(RejectReason),
}

impl Verdict {
    /// Whether enforcement admits the peer.
    pub fn admits(&self) -> bool {
        !matches!(self, Verdict::Rejected(_))
    }
}

/// Peer-verdict figures over the current peer set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Peers whose signature verified.
    pub authorized: usize,
    /// Peers whose signature failed.
    pub unauthorized: usize,
    /// Peers with no signature.
    pub unsigned: usize,
    /// Peers superseded by a rotation.
    pub rotated_away: usize,
    /// Peers exempt as peer-API-only.
    pub peer_api_only: usize,
    /// Peers admitted because no authority is installed.
    pub unfiltered: usize,
    /// Peers enforcement would refuse (in observe mode these are admitted).
    pub would_reject: usize,
}

/// Verification results for one authority head, keyed by node key and
/// signature bytes.
#[derive(Default)]
pub(crate) struct VerdictCache {
    head: Option<AumHash>,
    entries: HashMap<(NodeKey, Bytes), Result<Authorized, NksError>>,
}

impl VerdictCache {
    fn check(
        &mut self,
        authority: &Authority,
        key: &NodeKey,
        sig: &Bytes,
    ) -> Result<Authorized, NksError> {
        if self.head != Some(authority.head()) {
            self.entries.clear();
            self.head = Some(authority.head());
        }
        self.entries
            .entry((*key, sig.clone()))
            .or_insert_with(|| authority.node_key_authorized(key, sig))
            .clone()
    }

    /// Drops entries for keys no longer present.
    fn retain(&mut self, live: &HashSet<(NodeKey, Bytes)>) {
        if self.entries.len() > live.len() {
            self.entries.retain(|k, _| live.contains(k));
        }
    }
}

/// Computes verdicts for every peer (Go's `tkaFilterNetmapLocked`, applied
/// to the whole known set so rotation obsolescence is always complete).
pub(crate) fn evaluate(
    authority: Option<&Authority>,
    peers: &BTreeMap<NodeId, Peer>,
    cache: &mut VerdictCache,
) -> BTreeMap<NodeId, Verdict> {
    let Some(authority) = authority else {
        return peers.keys().map(|id| (*id, Verdict::Unfiltered)).collect();
    };
    let mut out = BTreeMap::new();
    // Uncached Direct signatures are checked as one batch first.
    let fresh: Vec<(NodeKey, &[u8])> = peers
        .values()
        .filter(|p| !p.unsigned_peer_api_only && !p.signature.is_empty())
        .filter(|p| {
            cache.head != Some(authority.head())
                || !cache
                    .entries
                    .contains_key(&(p.node_key, p.signature.clone()))
        })
        .map(|p| (p.node_key, &p.signature[..]))
        .collect();
    if fresh.len() > 1 {
        if cache.head != Some(authority.head()) {
            cache.entries.clear();
            cache.head = Some(authority.head());
        }
        let results = authority.node_keys_authorized(&fresh);
        for ((key, sig), r) in fresh.iter().zip(results) {
            cache.entries.insert((*key, Bytes::copy_from_slice(sig)), r);
        }
    }
    let mut tracker = RotationTracker::default();
    for p in peers.values() {
        let v = if p.unsigned_peer_api_only {
            Verdict::PeerApiOnly
        } else if p.signature.is_empty() {
            Verdict::Rejected(RejectReason::MissingSignature)
        } else {
            match cache.check(authority, &p.node_key, &p.signature) {
                Ok(a) => {
                    tracker.add(p.node_key, &a);
                    Verdict::Authorized(a)
                }
                Err(e) => Verdict::Rejected(RejectReason::InvalidSignature(e)),
            }
        };
        out.insert(p.node_id, v);
    }
    let obsolete = tracker.obsolete_keys();
    if !obsolete.is_empty() {
        for p in peers.values() {
            if obsolete.contains(&p.node_key) {
                out.insert(p.node_id, Verdict::Rejected(RejectReason::RotatedAway));
            }
        }
    }
    let live: HashSet<(NodeKey, Bytes)> = peers
        .values()
        .map(|p| (p.node_key, p.signature.clone()))
        .collect();
    cache.retain(&live);
    out
}

/// Go's `rotationTracker`: every earlier key of a rotation chain is
/// obsolete; among chains that start from the same Direct signature's
/// wrapping key, only the longest survives, and a tie rejects them all.
/// Chains starting from a Credential are exempt from the uniqueness rule.
#[derive(Default)]
struct RotationTracker {
    obsolete: HashSet<NodeKey>,
    by_wrapping_key: BTreeMap<Vec<u8>, Vec<(NodeKey, usize)>>,
}

impl RotationTracker {
    fn add(&mut self, key: NodeKey, a: &Authorized) {
        let Some(rd) = a.rotation() else { return };
        self.obsolete.extend(rd.prev_node_keys.iter().copied());
        if rd.initial_sig.sig_kind != SigKind::DIRECT {
            return;
        }
        let wp = rd.initial_sig.wrapping_pubkey.clone().unwrap_or_default();
        self.by_wrapping_key
            .entry(wp)
            .or_default()
            .push((key, rd.prev_node_keys.len()));
    }

    fn obsolete_keys(mut self) -> HashSet<NodeKey> {
        for group in self.by_wrapping_key.values() {
            let mut v: Vec<(NodeKey, usize)> = group
                .iter()
                .copied()
                .filter(|(k, _)| !self.obsolete.contains(k))
                .collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by_key(|e| std::cmp::Reverse(e.1));
            if v.len() >= 2 && v[0].1 == v[1].1 {
                self.obsolete.extend(v.iter().map(|(k, _)| *k));
            } else {
                self.obsolete.extend(v[1..].iter().map(|(k, _)| *k));
            }
        }
        self.obsolete
    }
}

/// Tallies a verdict set.
pub(crate) fn count(verdicts: &BTreeMap<NodeId, Verdict>) -> Counters {
    let mut c = Counters::default();
    for v in verdicts.values() {
        match v {
            Verdict::Authorized(_) => c.authorized += 1,
            Verdict::Unfiltered => c.unfiltered += 1,
            Verdict::PeerApiOnly => c.peer_api_only += 1,
            Verdict::Rejected(r) => {
                c.would_reject += 1;
                match r {
                    RejectReason::MissingSignature => c.unsigned += 1,
                    RejectReason::InvalidSignature(_) => c.unauthorized += 1,
                    RejectReason::RotatedAway => c.rotated_away += 1,
                }
            }
        }
    }
    c
}
