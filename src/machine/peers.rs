//! Peer filtering: verdicts, the rotation tracker and the netmap diff.
//!
//! A verdict is computed from the peer's node key and signature bytes under
//! the installed authority. Only the verifying path
//! ([`crate::sig::node_key_authorized`]) produces [`Verdict::Authorized`],
//! which carries its proof; the other admitting verdicts say why no check
//! ran (no authority: fail-open as Go; a peer-API-only peer).

use super::types::Time;
use crate::authority::Authority;
use crate::hash::AumHash;
use crate::key::NodeKey;
use crate::sig::{Authorized, NksError, SigKind};
use bytes::Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

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
#[non_exhaustive]
pub enum Verdict {
    /// The signature verified under the current authority.
    Authorized(Authorized),
    /// No authority is installed: peers are not filtered (fail-open, as Go).
    Unfiltered,
    /// Exempt from the signature check (peer API only).
    PeerApiOnly,
    /// Refused.
    Rejected(RejectReason),
    /// Signed by a key that is not trusted yet, while a sync toward control's
    /// newer head is in flight: decided when the sync settles (or gives up).
    /// Not admitted in enforce mode; not counted as a rejection.
    Pending,
}

impl Verdict {
    /// Whether enforcement admits the peer.
    pub fn admits(&self) -> bool {
        !matches!(self, Verdict::Rejected(_) | Verdict::Pending)
    }

    /// Whether this verdict refuses the peer only because its signer is not
    /// trusted (yet): the one refusal a pending sync may overturn.
    pub(crate) fn untrusted_signer(&self) -> bool {
        fn key_not_found(e: &NksError) -> bool {
            match e {
                NksError::KeyNotFound => true,
                NksError::Nested(inner) => key_not_found(inner),
                _ => false,
            }
        }
        matches!(self, Verdict::Rejected(RejectReason::InvalidSignature(e)) if key_not_found(e))
    }
}

/// Peer-verdict figures over the current peer set, and the exchange with
/// control so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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
    /// Peers waiting for a sync that may trust their signer.
    pub pending: usize,
    /// Peers enforcement would refuse (in observe mode these are admitted).
    pub would_reject: usize,
    /// Exchanges with control started (bootstrap, sync, disablement),
    /// retries included.
    pub sync_attempts: u64,
    /// Exchanges that failed (transport, timeout, bad answer, verification,
    /// a failed save).
    pub sync_failures: u64,
    /// When an exchange with control last completed.
    pub last_successful_sync: Option<Time>,
}

/// What one peer contributes to rotation obsolescence.
struct Rotation {
    /// Earlier node keys of its chain: all obsolete.
    prev: Vec<NodeKey>,
    /// The wrapping key of its initial Direct signature (the group it
    /// competes in), or `None` for a Credential-rooted chain.
    group: Option<Vec<u8>>,
}

struct Entry {
    peer: Peer,
    /// The verdict before rotation obsolescence.
    base: Base,
    /// Boxed: only rotation signatures have one.
    rotation: Option<Box<Rotation>>,
}

/// A peer's own verdict (before rotation obsolescence) in 16 bytes, where
/// a [`Verdict`] takes 40: a failed check's error, rare, is boxed. Keeps
/// entries small, which the netmap walk in [`PeerSet::diff`] reads.
enum Base {
    Authorized(Authorized),
    Unfiltered,
    PeerApiOnly,
    MissingSignature,
    InvalidSignature(Box<NksError>),
}

impl Base {
    fn verdict(&self) -> Verdict {
        match self {
            Base::Authorized(a) => Verdict::Authorized(a.clone()),
            Base::Unfiltered => Verdict::Unfiltered,
            Base::PeerApiOnly => Verdict::PeerApiOnly,
            Base::MissingSignature => Verdict::Rejected(RejectReason::MissingSignature),
            Base::InvalidSignature(e) => {
                Verdict::Rejected(RejectReason::InvalidSignature((**e).clone()))
            }
        }
    }
}

/// The IDs of the peers that hold one node key: almost always one, so
/// without a collection of its own.
enum Ids {
    One(NodeId),
    Many(BTreeSet<NodeId>),
}

impl Ids {
    fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        let (one, many) = match self {
            Ids::One(id) => (Some(*id), None),
            Ids::Many(ids) => (None, Some(ids.iter().copied())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn insert(&mut self, id: NodeId) {
        match self {
            Ids::One(old) if *old == id => {}
            Ids::One(old) => *self = Ids::Many(BTreeSet::from([*old, id])),
            Ids::Many(ids) => {
                ids.insert(id);
            }
        }
    }

    /// Removes `id`; whether none is left.
    fn remove(&mut self, id: NodeId) -> bool {
        match self {
            Ids::One(old) => *old == id,
            Ids::Many(ids) => {
                ids.remove(&id);
                match ids.len() {
                    0 => true,
                    1 => {
                        let last = *ids.first().expect("one left");
                        *self = Ids::One(last);
                        false
                    }
                    _ => false,
                }
            }
        }
    }
}

/// The known peers and their verdicts, kept up to date one peer at a time
/// (Go's `tkaFilterNetmapLocked` and `rotationTracker`, made incremental).
///
/// A peer's verdict is its own signature check, unless its node key is
/// obsolete: named as an earlier key by a verified rotation chain, or a loser
/// in a group of Direct-rooted chains that share a wrapping key. Reference
/// counts and per-group results are maintained as peers come and go, so an
/// upsert or removal costs that peer's check plus the work on its group and
/// the keys whose obsolescence changed; [`PeerSet::rebuild`] recomputes
/// everything (when the authority changes).
///
/// A peer whose node key, signature and peer-API flag are unchanged keeps
/// the check it had under the same authority head, so an unchanged netmap
/// (in any order) verifies nothing again.
#[derive(Default)]
pub(crate) struct PeerSet {
    entries: BTreeMap<NodeId, Entry>,
    /// The authority head the entries were checked under (`None`: no
    /// authority).
    checked_under: Option<AumHash>,
    by_key: HashMap<NodeKey, Ids>,
    /// How many verified rotation chains name a key as an earlier key.
    prev_refs: HashMap<NodeKey, usize>,
    /// Direct-rooted rotation chains by wrapping key: member -> (key, chain length).
    groups: HashMap<Vec<u8>, BTreeMap<NodeId, (NodeKey, usize)>>,
    /// The keys each group rejects.
    group_losers: HashMap<Vec<u8>, Vec<NodeKey>>,
    /// How many groups reject a key.
    loser_refs: HashMap<NodeKey, usize>,
}

/// How a full peer list differs from a [`PeerSet`]: see [`PeerSet::diff`].
pub(crate) struct Diff {
    /// Indices into the list of the peers that are new or changed (for a
    /// node ID listed more than once, its last entry), ascending.
    pub(crate) upserts: Vec<usize>,
    /// Known peers the list does not have.
    pub(crate) removed: Vec<NodeId>,
}

/// Collects what one change touched, resolved by [`PeerSet::settle`].
#[derive(Default)]
struct Touched {
    keys: HashSet<NodeKey>,
    prev_changed: Vec<NodeKey>,
    groups: HashSet<Vec<u8>>,
}

impl PeerSet {
    /// The number of known peers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The peer with this ID.
    pub(crate) fn peer(&self, id: NodeId) -> Option<&Peer> {
        self.entries.get(&id).map(|e| &e.peer)
    }

    /// Every known peer's ID, in order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.entries.keys().copied()
    }

    /// A peer's verdict with rotation obsolescence applied.
    pub(crate) fn verdict(&self, id: NodeId) -> Option<Verdict> {
        let e = self.entries.get(&id)?;
        if self.obsolete(&e.peer.node_key) {
            Some(Verdict::Rejected(RejectReason::RotatedAway))
        } else {
            Some(e.base.verdict())
        }
    }

    fn obsolete(&self, key: &NodeKey) -> bool {
        self.prev_refs.get(key).is_some_and(|n| *n > 0)
            || self.loser_refs.get(key).is_some_and(|n| *n > 0)
    }

    /// Checks one peer under `authority`.
    fn check(authority: Option<&Authority>, peer: Peer) -> Entry {
        let Some(authority) = authority else {
            return Entry {
                peer,
                base: Base::Unfiltered,
                rotation: None,
            };
        };
        if peer.unsigned_peer_api_only {
            Entry {
                peer,
                base: Base::PeerApiOnly,
                rotation: None,
            }
        } else if peer.signature.is_empty() {
            Entry {
                peer,
                base: Base::MissingSignature,
                rotation: None,
            }
        } else {
            let result = authority.node_key_authorized(&peer.node_key, &peer.signature);
            Self::entry(peer, result)
        }
    }

    /// The entry for a signed peer whose check gave `result`.
    fn entry(peer: Peer, result: Result<Authorized, NksError>) -> Entry {
        match result {
            Ok(a) => {
                let rotation = a.rotation().map(|rd| {
                    Box::new(Rotation {
                        prev: rd.prev_node_keys.clone(),
                        group: (rd.initial_sig.sig_kind == SigKind::DIRECT)
                            .then(|| rd.initial_sig.wrapping_pubkey.clone().unwrap_or_default()),
                    })
                });
                Entry {
                    peer,
                    base: Base::Authorized(a),
                    rotation,
                }
            }
            Err(e) => Entry {
                peer,
                base: Base::InvalidSignature(Box::new(e)),
                rotation: None,
            },
        }
    }

    /// `old` for `peer` if it was checked under `authority` with the same
    /// node key, signature and flag, else a fresh check.
    fn recheck(&self, authority: Option<&Authority>, old: Option<Entry>, peer: Peer) -> Entry {
        match old {
            Some(old) if self.is_current(authority) && old.peer == peer => old,
            _ => Self::check(authority, peer),
        }
    }

    /// Whether the entries were checked under `authority`.
    fn is_current(&self, authority: Option<&Authority>) -> bool {
        self.checked_under == authority.map(Authority::head)
    }

    fn link(&mut self, id: NodeId, e: &Entry, t: &mut Touched) {
        t.keys.insert(e.peer.node_key);
        match self.by_key.entry(e.peer.node_key) {
            std::collections::hash_map::Entry::Occupied(mut ids) => ids.get_mut().insert(id),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Ids::One(id));
            }
        }
        let Some(r) = &e.rotation else { return };
        for k in &r.prev {
            let n = self.prev_refs.entry(*k).or_insert(0);
            *n += 1;
            if *n == 1 {
                t.prev_changed.push(*k);
            }
        }
        if let Some(g) = &r.group {
            self.groups
                .entry(g.clone())
                .or_default()
                .insert(id, (e.peer.node_key, r.prev.len()));
            t.groups.insert(g.clone());
        }
    }

    fn unlink(&mut self, id: NodeId, e: &Entry, t: &mut Touched) {
        t.keys.insert(e.peer.node_key);
        if let Some(ids) = self.by_key.get_mut(&e.peer.node_key) {
            if ids.remove(id) {
                self.by_key.remove(&e.peer.node_key);
            }
        }
        let Some(r) = &e.rotation else { return };
        for k in &r.prev {
            if let Some(n) = self.prev_refs.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.prev_refs.remove(k);
                    t.prev_changed.push(*k);
                }
            }
        }
        if let Some(g) = &r.group {
            if let Some(members) = self.groups.get_mut(g) {
                members.remove(&id);
            }
            t.groups.insert(g.clone());
        }
    }

    /// Recomputes the touched groups and returns the node keys whose
    /// holders' verdict may have changed (see [`PeerSet::holders`]).
    fn settle(&mut self, mut t: Touched) -> HashSet<NodeKey> {
        // A key that became (or stopped being) an earlier key of some chain
        // joins or leaves the competition in the group of its own chain.
        for k in &t.prev_changed {
            t.keys.insert(*k);
            for id in self.by_key.get(k).into_iter().flat_map(Ids::iter) {
                if let Some(g) = self
                    .entries
                    .get(&id)
                    .and_then(|e| e.rotation.as_ref())
                    .and_then(|r| r.group.as_ref())
                {
                    t.groups.insert(g.clone());
                }
            }
        }
        for g in t.groups {
            for k in self.group_losers.remove(&g).unwrap_or_default() {
                if let Some(n) = self.loser_refs.get_mut(&k) {
                    *n -= 1;
                    if *n == 0 {
                        self.loser_refs.remove(&k);
                    }
                }
                t.keys.insert(k);
            }
            let Some(members) = self.groups.get(&g) else {
                continue;
            };
            if members.is_empty() {
                self.groups.remove(&g);
                continue;
            }
            let losers = group_losers(members, &self.prev_refs);
            for k in &losers {
                *self.loser_refs.entry(*k).or_insert(0) += 1;
                t.keys.insert(*k);
            }
            self.group_losers.insert(g, losers);
        }
        t.keys
    }

    /// The peers holding any of `keys`.
    fn holders(&self, keys: &HashSet<NodeKey>) -> BTreeSet<NodeId> {
        keys.iter()
            .flat_map(|k| self.by_key.get(k).into_iter().flat_map(Ids::iter))
            .collect()
    }

    /// Adds or replaces one peer; returns the peers whose verdict may have
    /// changed (the peer itself, and those its rotation chain touches).
    pub(crate) fn upsert(&mut self, authority: Option<&Authority>, peer: Peer) -> BTreeSet<NodeId> {
        let id = peer.node_id;
        let mut t = Touched::default();
        let old = self.entries.remove(&id);
        if let Some(old) = &old {
            self.unlink(id, old, &mut t);
        }
        let e = self.recheck(authority, old, peer);
        self.checked_under = authority.map(Authority::head);
        self.link(id, &e, &mut t);
        self.entries.insert(id, e);
        let keys = self.settle(t);
        self.holders(&keys)
    }

    /// Removes one peer; returns the other peers whose verdict may have
    /// changed.
    pub(crate) fn remove(&mut self, id: NodeId) -> BTreeSet<NodeId> {
        let Some(old) = self.entries.remove(&id) else {
            return BTreeSet::new();
        };
        let mut t = Touched::default();
        self.unlink(id, &old, &mut t);
        let keys = self.settle(t);
        self.holders(&keys)
    }

    /// Replaces the whole set. A peer listed more than once counts with its
    /// last entry. Peers unchanged under the same authority keep their
    /// check; the others' Direct signatures are checked as one batch.
    pub(crate) fn replace(&mut self, authority: Option<&Authority>, peers: Vec<Peer>) {
        let mut old = std::mem::take(&mut self.entries);
        if !self.is_current(authority) {
            old.clear();
        }
        *self = PeerSet {
            checked_under: authority.map(Authority::head),
            ..PeerSet::default()
        };
        let reusable = |p: &Peer| old.get(&p.node_id).is_some_and(|e| e.peer == *p);
        // Batch results by list index.
        let mut batched: Vec<Option<Result<Authorized, NksError>>> = Vec::new();
        if let Some(authority) = authority {
            let fresh: Vec<(usize, (NodeKey, &[u8]))> = peers
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.unsigned_peer_api_only && !p.signature.is_empty())
                .filter(|(_, p)| !reusable(p))
                .map(|(i, p)| (i, (p.node_key, &p.signature[..])))
                .collect();
            if fresh.len() > 1 {
                let checks: Vec<(NodeKey, &[u8])> = fresh.iter().map(|(_, c)| *c).collect();
                let results = authority.node_keys_authorized(&checks);
                batched.resize_with(peers.len(), || None);
                for ((i, _), r) in fresh.iter().zip(results) {
                    batched[*i] = Some(r);
                }
            }
        }
        let mut all: Vec<(NodeId, Entry)> = Vec::with_capacity(peers.len());
        for (i, p) in peers.into_iter().enumerate() {
            let id = p.node_id;
            let e = match batched.get_mut(i).and_then(Option::take) {
                Some(result) => Self::entry(p, result),
                None => match old.remove(&id) {
                    Some(e) if e.peer == p => e,
                    _ => Self::check(authority, p),
                },
            };
            all.push((id, e));
        }
        // By ID (stable: a list in that order, as control sends it, is only
        // scanned), keeping the last entry for each ID.
        all.sort_by_key(|(id, _)| *id);
        all.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        let mut t = Touched::default();
        for (id, e) in &all {
            self.link(*id, e, &mut t);
        }
        // Built in one go from sorted entries, the map's nodes are full
        // (inserts in ID order leave them a little over half full): less
        // memory, and a faster walk in `diff`.
        self.entries = all.into_iter().collect();
        self.settle(t);
    }

    /// Recomputes every verdict under `authority` (after it changed).
    pub(crate) fn rebuild(&mut self, authority: Option<&Authority>) {
        let peers: Vec<Peer> = std::mem::take(&mut self.entries)
            .into_values()
            .map(|e| e.peer)
            .collect();
        // The entries are gone, so nothing is reused: every peer is checked.
        self.replace(authority, peers);
    }

    /// How `list` (a full netmap, any order) differs from the set: its
    /// entries are walked in node-ID order beside the set, so an unchanged
    /// netmap costs one comparison per peer, plus a sort of compact keys
    /// (see [`IdOrder`]) when the list is not in node-ID order already (as
    /// control sends it).
    pub(crate) fn diff(&self, list: &[Peer]) -> Diff {
        if list.is_sorted_by_key(|p| p.node_id) {
            let order = list.iter().enumerate().map(|(i, p)| (p.node_id, i));
            return self.diff_in_order(list, order);
        }
        match IdOrder::new(list) {
            IdOrder::Packed { min, shift, keys } => {
                let order = keys.iter().map(|k| IdOrder::unpack(min, shift, *k));
                self.diff_in_order(list, order)
            }
            IdOrder::Pairs(pairs) => self.diff_in_order(list, pairs.into_iter()),
        }
    }

    /// [`PeerSet::diff`] given `order`: every `(node ID, list index)` of
    /// `list`, by node ID and, for equal IDs, by index.
    fn diff_in_order(&self, list: &[Peer], order: impl Iterator<Item = (NodeId, usize)>) -> Diff {
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        let mut known = self.entries.iter().peekable();
        let mut order = order.peekable();
        while let Some((id, mut i)) = order.next() {
            // The last entry for this ID wins, as in `replace`.
            while let Some((_, later)) = order.next_if(|(next, _)| *next == id) {
                i = later;
            }
            while let Some((&k, _)) = known.next_if(|(k, _)| **k < id) {
                removed.push(k);
            }
            match known.next_if(|(k, _)| **k == id) {
                Some((_, e)) if e.peer == list[i] => {}
                _ => upserts.push(i),
            }
        }
        removed.extend(known.map(|(k, _)| *k));
        // Ascending already unless the list was out of order.
        upserts.sort_unstable();
        Diff { upserts, removed }
    }
}

/// A netmap's list indices in node-ID order (equal IDs by index), for a
/// list that is not in that order.
///
/// When the IDs span a range narrow enough that an ID's offset from the
/// smallest and the index fit in 64 bits together (with 100,000 peers: IDs
/// within 2^47 of each other), each entry is one `u64` key, `offset << shift
/// | index`, and the keys are sorted as plain integers: about half the cost
/// of sorting `(NodeId, usize)` pairs, which remain the way for wider
/// ranges. Keys are distinct (they hold the index), so either sort gives
/// the one order.
enum IdOrder {
    /// Sorted keys; `min` is the smallest ID, `shift` the index's width.
    Packed {
        min: NodeId,
        shift: u32,
        keys: Vec<u64>,
    },
    /// Sorted `(node ID, index)` pairs.
    Pairs(Vec<(NodeId, usize)>),
}

impl IdOrder {
    fn new(list: &[Peer]) -> IdOrder {
        if list.is_empty() {
            return IdOrder::Pairs(Vec::new());
        }
        // One pass over `list` for the IDs (their bits) and their range;
        // the keys are then made in place.
        let id = |k: u64| k as i64;
        let mut keys: Vec<u64> = Vec::with_capacity(list.len());
        let (mut min, mut max) = (NodeId::MAX, NodeId::MIN);
        for p in list {
            min = min.min(p.node_id);
            max = max.max(p.node_id);
            keys.push(p.node_id as u64);
        }
        // max >= min, so the wrapped difference is the true span.
        let span = max.wrapping_sub(min) as u64;
        let last_index = list.len() - 1;
        let shift = usize::BITS - last_index.leading_zeros();
        if shift >= u64::BITS || span.leading_zeros() < shift {
            let mut pairs: Vec<(NodeId, usize)> = keys
                .into_iter()
                .enumerate()
                .map(|(i, k)| (id(k), i))
                .collect();
            pairs.sort_unstable();
            return IdOrder::Pairs(pairs);
        }
        for (i, k) in keys.iter_mut().enumerate() {
            let offset = id(*k).wrapping_sub(min) as u64;
            *k = offset << shift | i as u64;
        }
        keys.sort_unstable();
        IdOrder::Packed { min, shift, keys }
    }

    /// The node ID and list index in a packed key.
    fn unpack(min: NodeId, shift: u32, key: u64) -> (NodeId, usize) {
        // Below 2^(64 - shift) <= 2^63: the cast keeps the value.
        let offset = (key >> shift) as i64;
        let index = key & ((1 << shift) - 1);
        (min.wrapping_add(offset), index as usize)
    }
}

/// Go's rule for one group of Direct-rooted rotation chains sharing a
/// wrapping key: chains whose own key is an earlier key of another chain
/// do not compete; of the rest the longest survives, and a tie for longest
/// rejects them all.
fn group_losers(
    members: &BTreeMap<NodeId, (NodeKey, usize)>,
    prev_refs: &HashMap<NodeKey, usize>,
) -> Vec<NodeKey> {
    let mut v: Vec<(NodeKey, usize)> = members
        .values()
        .copied()
        .filter(|(k, _)| !prev_refs.contains_key(k))
        .collect();
    if v.is_empty() {
        return v.into_iter().map(|(k, _)| k).collect();
    }
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    if v.len() >= 2 && v[0].1 == v[1].1 {
        v.into_iter().map(|(k, _)| k).collect()
    } else {
        v[1..].iter().map(|(k, _)| *k).collect()
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
            Verdict::Pending => c.pending += 1,
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

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::MissingSignature => f.write_str("missing signature"),
            RejectReason::InvalidSignature(e) => write!(f, "failed signature check: {e}"),
            RejectReason::RotatedAway => f.write_str("key rotation"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Authorized(a) if a.rotation().is_some() => {
                f.write_str("authorized (rotated key)")
            }
            Verdict::Authorized(_) => f.write_str("authorized"),
            Verdict::Unfiltered => f.write_str("unfiltered (no authority)"),
            Verdict::PeerApiOnly => f.write_str("peer-API only (not checked)"),
            Verdict::Rejected(r) => write!(f, "rejected: {r}"),
            Verdict::Pending => f.write_str("pending (waiting for a sync with control)"),
        }
    }
}

impl Verdict {
    /// A short machine-readable name: `authorized`, `unfiltered`,
    /// `peer_api_only`, `missing_signature`, `invalid_signature`,
    /// `rotated_away` or `pending`.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Authorized(_) => "authorized",
            Verdict::Unfiltered => "unfiltered",
            Verdict::PeerApiOnly => "peer_api_only",
            Verdict::Rejected(RejectReason::MissingSignature) => "missing_signature",
            Verdict::Rejected(RejectReason::InvalidSignature(_)) => "invalid_signature",
            Verdict::Rejected(RejectReason::RotatedAway) => "rotated_away",
            Verdict::Pending => "pending",
        }
    }
}

/// Serialized as `{"kind": KIND, "detail": TEXT}` ([`Verdict::kind`] and
/// the `Display` text).
impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Verdict", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("detail", &self.to_string())?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A peer with one of a few node keys, signatures and flags (no
    /// authority is installed, so nothing is verified).
    fn peer(id: NodeId, variant: u8) -> Peer {
        Peer {
            node_id: id,
            node_key: NodeKey([variant % 3; 32]),
            signature: Bytes::from(vec![variant % 2; 3 + usize::from(variant % 2)]),
            unsigned_peer_api_only: variant >= 4,
        }
    }

    /// Node IDs spanning a narrow range (one `u64` sort key each) or the
    /// whole `i64` range (sorted as pairs).
    fn pool(wide: bool) -> [NodeId; 6] {
        if wide {
            [i64::MIN, -1, 0, 1, 1 << 62, i64::MAX]
        } else {
            [-3, 0, 1, 2, 7, 40]
        }
    }

    /// The order `IdOrder` gives, as pairs.
    fn pairs(order: IdOrder) -> Vec<(NodeId, usize)> {
        match order {
            IdOrder::Packed { min, shift, keys } => keys
                .iter()
                .map(|k| IdOrder::unpack(min, shift, *k))
                .collect(),
            IdOrder::Pairs(p) => p,
        }
    }

    fn ids_in(ids: &[NodeId]) -> Vec<Peer> {
        ids.iter().map(|id| peer(*id, 0)).collect()
    }

    #[test]
    fn id_order_packs_exactly_when_the_span_fits() {
        // Four entries: a two-bit index, so spans below 2^62 are packed.
        let fits = [0, (1 << 62) - 1, 5, 1];
        let too_wide = [0, 1 << 62, 5, 1];
        let negative = [1 << 61, -(1 << 61) + 1, -(1 << 61) + 1, 3];
        for (ids, packed) in [(&fits, true), (&too_wide, false), (&negative, true)] {
            let order = IdOrder::new(&ids_in(ids));
            assert_eq!(matches!(order, IdOrder::Packed { .. }), packed, "{ids:?}");
            let mut want: Vec<(NodeId, usize)> = ids.iter().copied().zip(0..).collect();
            want.sort_unstable();
            assert_eq!(pairs(order), want, "{ids:?}");
        }
    }

    proptest! {
        /// `diff` against a straightforward reference (last entry per ID
        /// wins), for lists in and out of ID order, with repeated IDs, in
        /// narrow and wide ID ranges; and `replace` keeps the last entry
        /// per ID.
        #[test]
        fn diff_and_replace_match_a_reference(
            wide: bool,
            known in proptest::collection::vec((0usize..6, 0u8..6), 0..14),
            list in proptest::collection::vec((0usize..6, 0u8..6), 0..14),
            sort_list: bool,
        ) {
            let ids = pool(wide);
            let make = |v: &[(usize, u8)]| -> Vec<Peer> {
                v.iter().map(|&(i, variant)| peer(ids[i], variant)).collect()
            };
            let known = make(&known);
            let mut set = PeerSet::default();
            set.replace(None, known.clone());
            let last_known: BTreeMap<NodeId, &Peer> =
                known.iter().map(|p| (p.node_id, p)).collect();
            prop_assert_eq!(set.ids().collect::<Vec<_>>(), last_known.keys().copied().collect::<Vec<_>>());
            for (id, p) in &last_known {
                prop_assert_eq!(set.peer(*id), Some(*p));
            }

            let mut list = make(&list);
            if sort_list {
                list.sort_by_key(|p| p.node_id);
            }
            let last: BTreeMap<NodeId, usize> =
                list.iter().enumerate().map(|(i, p)| (p.node_id, i)).collect();
            let mut upserts: Vec<usize> = last
                .values()
                .copied()
                .filter(|i| set.peer(list[*i].node_id) != Some(&list[*i]))
                .collect();
            upserts.sort_unstable();
            let removed: Vec<NodeId> = set.ids().filter(|id| !last.contains_key(id)).collect();
            let d = set.diff(&list);
            prop_assert_eq!(d.upserts, upserts);
            prop_assert_eq!(d.removed, removed);
        }
    }
}
