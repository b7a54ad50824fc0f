//! The control side's decisions, without IO: each `/machine/tka` request
//! against a tailnet snapshot ([`Tailnet`]) gives a response and the
//! [`Update`] to store. Nothing here touches a database, a clock or a
//! socket; [`Service`](crate::Service) loads the snapshot under the
//! tailnet's lock, calls these, and writes the update.
//!
//! Every byte from a node is verified before it appears in an update:
//! genesis AUMs through [`Authority::bootstrap`], AUMs through
//! [`Authority::inform_stored`], node-key signatures through the hardened
//! [`Authority::node_key_authorized`], disablement secrets through the
//! Argon2i check.

use crate::error::ServiceError;
use crate::model::{AumRow, LockStatus, NewAum, NodeRecord, TailnetRow, Update};
use std::collections::HashSet;
use std::sync::Arc;
use tka::limits::MAX_SYNC_OFFER_ANCESTORS;
use tka::storage::{Storage, StoredAum};
use tka::wire;
use tka::{Aum, AumHash, Authority, MemStorage, NodeKey, NodeKeySignature, SyncOffer};

/// An enabled tailnet's chain, held in memory.
#[derive(Clone, Debug)]
pub struct Chain {
    storage: MemStorage,
    authority: Authority,
    /// Control's own sync offer (computed once per head).
    offer: SyncOffer,
    /// The epoch and the last AUM sequence number this chain holds.
    epoch: i64,
    loaded_seq: i64,
}

impl Chain {
    fn new(
        storage: MemStorage,
        authority: Authority,
        epoch: i64,
        loaded_seq: i64,
    ) -> Result<Self, ServiceError> {
        let offer = authority
            .sync_offer(&storage)
            .map_err(|e| ServiceError::Chain(e.to_string()))?;
        Ok(Chain {
            storage,
            authority,
            offer,
            epoch,
            loaded_seq,
        })
    }

    /// The authority at the head.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The AUM storage.
    pub fn storage(&self) -> &MemStorage {
        &self.storage
    }

    /// Number of AUMs held.
    pub fn len(&self) -> usize {
        self.storage.len()
    }

    /// Whether no AUM is held (never true for a loaded chain).
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
    }
}

/// One tailnet's state as last read: its row and, while enabled, its chain.
#[derive(Clone, Debug, Default)]
pub struct Tailnet {
    /// The stored row.
    pub row: TailnetRow,
    chain: Option<Arc<Chain>>,
}

impl Tailnet {
    /// The chain, while enabled.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_deref()
    }

    fn enabled(&self) -> Result<&Chain, ServiceError> {
        match (&self.chain, self.row.status) {
            (Some(c), LockStatus::Enabled) => Ok(c),
            _ => Err(ServiceError::NotEnabled),
        }
    }

    /// After which sequence number AUMs must be read to bring `prev` (the
    /// cached snapshot, if any) up to `row`: `None` when no AUMs are needed.
    pub fn aums_needed_after(prev: Option<&Tailnet>, row: &TailnetRow) -> Option<i64> {
        if row.status != LockStatus::Enabled {
            return None;
        }
        match prev.and_then(|p| p.chain.as_deref()) {
            Some(c) if c.epoch == row.epoch && c.loaded_seq <= row.aum_seq => {
                (c.loaded_seq < row.aum_seq).then_some(c.loaded_seq)
            }
            _ => Some(0),
        }
    }

    /// The snapshot for `row`, reusing `prev`'s chain when it is of the
    /// same epoch. `aums` are the stored AUMs after the sequence number
    /// [`Tailnet::aums_needed_after`] gave, in commit order. AUMs are
    /// verified again on the way in (the database is not trusted more than
    /// a node) and the head found must be the stored one.
    ///
    /// `Ok(None)`: the AUMs did not extend `prev`'s chain to the stored
    /// head; call again with `prev = None` and every stored AUM.
    pub fn load(
        prev: Option<&Tailnet>,
        row: TailnetRow,
        aums: Vec<AumRow>,
        now: u64,
    ) -> Result<Option<Tailnet>, ServiceError> {
        if row.status != LockStatus::Enabled {
            return Ok(Some(Tailnet { row, chain: None }));
        }
        let reuse = prev
            .and_then(|p| p.chain.clone())
            .filter(|c| c.epoch == row.epoch && c.loaded_seq <= row.aum_seq);
        let chain = match reuse {
            Some(c) if aums.is_empty() => c,
            Some(c) => {
                let last = aums.last().map_or(c.loaded_seq, |a| a.seq);
                let stored = decode_rows(&aums)?;
                let mut storage = c.storage.clone();
                let mut authority = c.authority.clone();
                match authority.inform_stored(&mut storage, stored, now) {
                    Ok(()) if Some(authority.head()) == row.head => {
                        Arc::new(Chain::new(storage, authority, row.epoch, last)?)
                    }
                    _ => return Ok(None),
                }
            }
            None => Arc::new(Self::open_chain(&row, &aums, now)?),
        };
        Ok(Some(Tailnet {
            row,
            chain: Some(chain),
        }))
    }

    fn open_chain(row: &TailnetRow, aums: &[AumRow], now: u64) -> Result<Chain, ServiceError> {
        let corrupt = ServiceError::Chain;
        let genesis_bytes = row
            .genesis
            .as_deref()
            .ok_or_else(|| corrupt("no genesis stored".into()))?;
        let genesis =
            Aum::from_cbor(genesis_bytes).map_err(|e| corrupt(format!("genesis: {e}")))?;
        let genesis_hash = genesis.hash();
        let mut storage = MemStorage::new();
        let mut authority = Authority::bootstrap(&mut storage, genesis, now)
            .map_err(|e| corrupt(format!("genesis: {e}")))?;
        let last = aums.last().map_or(0, |a| a.seq);
        let rest: Vec<StoredAum> = decode_rows(aums)?
            .into_iter()
            .filter(|s| s.hash() != genesis_hash)
            .collect();
        if !rest.is_empty() {
            authority
                .inform_stored(&mut storage, rest, now)
                .map_err(|e| corrupt(format!("stored AUMs do not verify: {e}")))?;
        }
        if Some(authority.head()) != row.head {
            return Err(corrupt(format!(
                "stored head {:?} but the stored AUMs give {}",
                row.head,
                authority.head()
            )));
        }
        Chain::new(storage, authority, row.epoch, last)
    }
}

fn decode_rows(aums: &[AumRow]) -> Result<Vec<StoredAum>, ServiceError> {
    aums.iter()
        .map(|a| {
            StoredAum::from_persisted(&a.aum)
                .map_err(|e| ServiceError::Chain(format!("AUM {}: {e}", a.seq)))
        })
        .collect()
}

/// The outcome of an accepted request: the response, what to store, and the
/// snapshot once it is stored.
#[derive(Debug)]
pub struct Decision<R> {
    /// The response to send.
    pub response: R,
    /// What to store (`None`: nothing changes).
    pub update: Option<Update>,
    /// The tailnet after the update.
    pub next: Tailnet,
}

impl<R> Decision<R> {
    fn unchanged(response: R, t: &Tailnet) -> Self {
        Decision {
            response,
            update: None,
            next: t.clone(),
        }
    }
}

/// The row after a change: version bumped.
fn next_row(t: &Tailnet) -> TailnetRow {
    let mut row = t.row.clone();
    row.version += 1;
    row
}

/// Decodes and checks a genesis: a parentless checkpoint signed by keys of
/// its own state, whose state IDs are not those of a disabled authority.
fn check_genesis(
    t: &Tailnet,
    bytes: Option<&[u8]>,
    now: u64,
) -> Result<(MemStorage, Authority), ServiceError> {
    let bytes = bytes
        .filter(|b| !b.is_empty())
        .ok_or(ServiceError::MissingGenesis)?;
    let aum = Aum::from_cbor(bytes).map_err(ServiceError::GenesisDecode)?;
    if aum.prev_aum_hash.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(ServiceError::GenesisHasParent);
    }
    let mut storage = MemStorage::new();
    let authority =
        Authority::bootstrap(&mut storage, aum, now).map_err(ServiceError::BadGenesis)?;
    let ids = authority.state_ids();
    if t.row.disallowed_state_ids.contains(&ids) {
        return Err(ServiceError::StateIdDisallowed(ids.0, ids.1));
    }
    Ok((storage, authority))
}

/// `/machine/tka/init/begin`: checks the genesis and remembers it as
/// pending; answers with every node of the tailnet (`nodes`) to sign.
pub fn init_begin(
    t: &Tailnet,
    caller: &NodeKey,
    req: &wire::InitBeginRequest,
    nodes: &[NodeRecord],
    now: u64,
) -> Result<Decision<wire::InitBeginResponse>, ServiceError> {
    if t.row.status == LockStatus::Enabled {
        return Err(ServiceError::AlreadyEnabled);
    }
    check_genesis(t, req.genesis_aum.as_deref(), now)?;
    let mut row = next_row(t);
    row.pending_genesis = req.genesis_aum.clone();
    row.pending_by = Some(*caller);
    let mut sorted: Vec<&NodeRecord> = nodes.iter().collect();
    sorted.sort_by_key(|n| n.id);
    let need = sorted
        .into_iter()
        .map(|n| wire::SignInfo {
            node_id: n.id,
            node_public: n.key,
            rotation_pubkey: n.rotation_pubkey.clone(),
        })
        .collect();
    Ok(Decision {
        response: wire::InitBeginResponse {
            need_signatures: Some(need),
        },
        update: Some(Update {
            row: Some(row.clone()),
            ..Update::default()
        }),
        next: Tailnet { row, chain: None },
    })
}

/// `/machine/tka/init/finish`: verifies every submitted signature (and the
/// support disablement secret) under the pending genesis, then enables the
/// lock with the genesis as the whole chain and the signatures on their
/// nodes.
pub fn init_finish(
    t: &Tailnet,
    caller: &NodeKey,
    req: &wire::InitFinishRequest,
    nodes: &[NodeRecord],
    now: u64,
) -> Result<Decision<wire::InitFinishResponse>, ServiceError> {
    if t.row.status == LockStatus::Enabled {
        return Err(ServiceError::AlreadyEnabled);
    }
    let pending = t
        .row
        .pending_genesis
        .as_deref()
        .ok_or(ServiceError::NoInitInProgress)?;
    if t.row.pending_by.as_ref() != Some(caller) {
        return Err(ServiceError::InitByOtherNode);
    }
    let (storage, authority) = check_genesis(t, Some(pending), now)?;
    let mut signatures = Vec::new();
    for (id, sig) in req.signatures.iter().flatten() {
        let node = nodes
            .iter()
            .find(|n| n.id == *id)
            .ok_or(ServiceError::UnknownNode(*id))?;
        authority
            .node_key_authorized(&node.key, sig)
            .map_err(|error| ServiceError::NodeSignature { node: *id, error })?;
        signatures.push((*id, node.key, sig.clone()));
    }
    if !req.support_disablement.is_empty() && !authority.valid_disablement(&req.support_disablement)
    {
        return Err(ServiceError::BadSupportDisablement);
    }
    let head = authority.head();
    let mut row = next_row(t);
    row.epoch += 1;
    row.aum_seq += 1;
    row.status = LockStatus::Enabled;
    row.genesis = Some(pending.to_vec());
    row.head = Some(head);
    row.last_active_ancestor = Some(head);
    row.disablement_secret = None;
    row.support_disablement =
        (!req.support_disablement.is_empty()).then(|| req.support_disablement.clone());
    row.pending_genesis = None;
    row.pending_by = None;
    let chain = Chain::new(storage, authority, row.epoch, row.aum_seq)?;
    Ok(Decision {
        response: wire::InitFinishResponse {},
        update: Some(Update {
            row: Some(row.clone()),
            wipe_aums: true,
            new_aums: vec![NewAum {
                seq: row.aum_seq,
                hash: head,
                aum: pending.to_vec(),
            }],
            now,
            clear_signatures: true,
            signatures,
        }),
        next: Tailnet {
            row,
            chain: Some(Arc::new(chain)),
        },
    })
}

/// `/machine/tka/bootstrap`: the genesis while enabled, the disablement
/// secret once disabled, nothing if never enabled.
pub fn bootstrap(t: &Tailnet, _req: &wire::BootstrapRequest) -> wire::BootstrapResponse {
    match t.row.status {
        LockStatus::Enabled => wire::BootstrapResponse {
            genesis_aum: t.row.genesis.clone().unwrap_or_default(),
            disablement_secret: Vec::new(),
        },
        LockStatus::Disabled => wire::BootstrapResponse {
            genesis_aum: Vec::new(),
            disablement_secret: t.row.disablement_secret.clone().unwrap_or_default(),
        },
        LockStatus::Off => wire::BootstrapResponse::default(),
    }
}

/// `/machine/tka/sync/offer`: control's offer and the AUMs the node lacks.
pub fn sync_offer(
    t: &Tailnet,
    req: &wire::SyncOfferRequest,
) -> Result<wire::SyncOfferResponse, ServiceError> {
    let chain = t.enabled()?;
    let ancestors = req.ancestors.clone().unwrap_or_default();
    if ancestors.len() > MAX_SYNC_OFFER_ANCESTORS {
        return Err(ServiceError::Sync(tka::SyncError::TooManyAncestors(
            ancestors.len(),
        )));
    }
    let node_offer = SyncOffer {
        head: req.head,
        ancestors,
    };
    let missing = chain
        .authority
        .missing_aums(&chain.storage, &node_offer)
        .map_err(ServiceError::Sync)?
        .unwrap_or_default();
    Ok(wire::SyncOfferResponse {
        head: chain.offer.head,
        ancestors: Some(chain.offer.ancestors.clone()),
        missing_aums: Some(missing.iter().map(|a| a.aum().to_cbor()).collect()),
    })
}

/// `/machine/tka/sync/send`: verifies the node's AUMs against the chain
/// (all or nothing), stores the new ones and answers with the head.
pub fn sync_send(
    t: &Tailnet,
    req: &wire::SyncSendRequest,
    now: u64,
) -> Result<Decision<wire::SyncSendResponse>, ServiceError> {
    let chain = t.enabled()?;
    let missing = req.missing_aums.as_deref().unwrap_or(&[]);
    // One budget for all the AUMs, sized by their bytes (4 per byte +
    // 256 KiB), so a body of many tiny AUMs cannot decode to 50x its size.
    let mut budget = tka::limits::DecodeBudget::for_input(missing.iter().map(Vec::len).sum());
    let mut stored = Vec::with_capacity(missing.len());
    for (i, b) in missing.iter().enumerate() {
        let aum =
            StoredAum::decode_within(b, &mut budget).map_err(|e| ServiceError::AumDecode(i, e))?;
        stored.push(aum);
    }
    let mut seen = HashSet::new();
    let fresh: Vec<(AumHash, Vec<u8>)> = stored
        .iter()
        .filter(|s| {
            let h = s.hash();
            seen.insert(h) && chain.storage.aum(&h).ok().flatten().is_none()
        })
        .map(|s| (s.hash(), s.aum().to_cbor()))
        .collect();
    if stored.is_empty() {
        let head = chain.authority.head();
        return Ok(Decision::unchanged(wire::SyncSendResponse { head }, t));
    }
    let mut storage = chain.storage.clone();
    let mut authority = chain.authority.clone();
    authority
        .inform_stored(&mut storage, stored, now)
        .map_err(ServiceError::Inform)?;
    let head = authority.head();
    if fresh.is_empty() {
        return Ok(Decision::unchanged(wire::SyncSendResponse { head }, t));
    }
    let mut row = next_row(t);
    let first = row.aum_seq + 1;
    row.aum_seq += fresh.len() as i64;
    row.head = Some(head);
    row.last_active_ancestor = storage
        .last_active_ancestor()
        .ok()
        .flatten()
        .or(row.last_active_ancestor);
    let new_aums = fresh
        .into_iter()
        .enumerate()
        .map(|(i, (hash, aum))| NewAum {
            seq: first + i as i64,
            hash,
            aum,
        })
        .collect();
    let next_chain = Chain::new(storage, authority, row.epoch, row.aum_seq)?;
    Ok(Decision {
        response: wire::SyncSendResponse { head },
        update: Some(Update {
            row: Some(row.clone()),
            new_aums,
            now,
            ..Update::default()
        }),
        next: Tailnet {
            row,
            chain: Some(Arc::new(next_chain)),
        },
    })
}

/// Whether `secret` disables the tailnet's current authority (the Argon2i
/// check, tens of milliseconds: the service runs it before taking the
/// tailnet's lock, so wrong guesses do not hold the lock).
pub fn disablement_valid(t: &Tailnet, req: &wire::DisableRequest) -> Result<(), ServiceError> {
    let chain = t.enabled()?;
    let secret = req
        .disablement_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(ServiceError::MissingSecret)?;
    if chain.authority.valid_disablement(secret) {
        Ok(())
    } else {
        Err(ServiceError::WrongSecret)
    }
}

/// `/machine/tka/disable`: turns the lock off with a valid disablement
/// secret; the chain and the node signatures are dropped, the secret is
/// kept for bootstrap and the authority's state IDs are remembered so its
/// genesis cannot be replayed into `init`.
///
/// `checked_head` is the head [`disablement_valid`] accepted the secret at;
/// the secret is checked again unless the chain is still at that head.
pub fn disable(
    t: &Tailnet,
    req: &wire::DisableRequest,
    checked_head: Option<(i64, AumHash)>,
) -> Result<Decision<wire::DisableResponse>, ServiceError> {
    let chain = t.enabled()?;
    let here = (t.row.epoch, chain.authority.head());
    if checked_head != Some(here) {
        disablement_valid(t, req)?;
    }
    let secret = req.disablement_secret.clone().unwrap_or_default();
    let mut row = next_row(t);
    row.epoch += 1;
    row.status = LockStatus::Disabled;
    row.disablement_secret = Some(secret);
    row.genesis = None;
    row.head = None;
    row.last_active_ancestor = None;
    row.support_disablement = None;
    row.pending_genesis = None;
    row.pending_by = None;
    let ids = chain.authority.state_ids();
    if !row.disallowed_state_ids.contains(&ids) {
        row.disallowed_state_ids.push(ids);
    }
    Ok(Decision {
        response: wire::DisableResponse {},
        update: Some(Update {
            row: Some(row.clone()),
            wipe_aums: true,
            clear_signatures: true,
            ..Update::default()
        }),
        next: Tailnet { row, chain: None },
    })
}

/// The node key a `/machine/tka/sign` request signs (unverified: used to
/// find the node before [`sign`] verifies).
pub fn signed_node_key(req: &wire::SubmitSignatureRequest) -> Result<NodeKey, ServiceError> {
    let bytes = req
        .signature
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(ServiceError::MissingSignature)?;
    let sig = NodeKeySignature::from_cbor(bytes).map_err(ServiceError::SignatureDecode)?;
    NodeKey::from_binary(sig.pubkey.as_deref().unwrap_or(&[]))
        .map_err(ServiceError::SignaturePubkey)
}

/// `/machine/tka/sign`: verifies the signature for the node whose key it
/// signs (one of `nodes`) under the current authority, hardened against
/// small-order keys, and stores it on that node.
pub fn sign(
    t: &Tailnet,
    req: &wire::SubmitSignatureRequest,
    nodes: &[NodeRecord],
) -> Result<Decision<wire::SubmitSignatureResponse>, ServiceError> {
    let chain = t.enabled()?;
    let key = signed_node_key(req)?;
    let sig = req.signature.clone().unwrap_or_default();
    let node = nodes
        .iter()
        .find(|n| n.key == key)
        .ok_or(ServiceError::UnknownNodeKey(key))?;
    chain
        .authority
        .node_key_authorized(&key, &sig)
        .map_err(ServiceError::SignatureRejected)?;
    Ok(Decision {
        response: wire::SubmitSignatureResponse {},
        update: Some(Update {
            signatures: vec![(node.id, node.key, sig)],
            ..Update::default()
        }),
        next: t.clone(),
    })
}

/// `/machine/tka/affected-sigs`: the stored signatures, of `nodes`, whose
/// authorizing key is `KeyID` and that still authorize their node (so
/// Go's client, which re-verifies each, accepts the answer).
pub fn affected_sigs(
    t: &Tailnet,
    req: &wire::SignaturesUsingKeyRequest,
    nodes: &[NodeRecord],
) -> Result<wire::SignaturesUsingKeyResponse, ServiceError> {
    let chain = t.enabled()?;
    let kid = req
        .key_id
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or(ServiceError::MissingKeyId)?;
    let mut sorted: Vec<&NodeRecord> = nodes.iter().collect();
    sorted.sort_by_key(|n| n.id);
    let mut out = Vec::new();
    for n in sorted {
        let Some(sig) = n.key_signature.as_deref() else {
            continue;
        };
        let by_key = NodeKeySignature::from_cbor(sig)
            .ok()
            .is_some_and(|s| s.authorizing_key_id().is_ok_and(|k| k == kid));
        if by_key && chain.authority.node_key_authorized(&n.key, sig).is_ok() {
            out.push(sig.to_vec());
        }
    }
    Ok(wire::SignaturesUsingKeyResponse {
        signatures: Some(out),
    })
}

/// The `TKAInfo` for a map response: the head while enabled, `Disabled`
/// once disabled, none for a tailnet that never enabled the lock (Go's
/// client reads any `TKAInfo` without `Disabled` as "enabled").
pub fn tka_info(t: &Tailnet) -> Option<wire::TkaInfo> {
    match t.row.status {
        LockStatus::Enabled => Some(wire::TkaInfo::new(t.row.head, false)),
        LockStatus::Disabled => Some(wire::TkaInfo::new(None, true)),
        LockStatus::Off => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tka::builder::Signer;
    use tka::{NlPrivate, State};

    const SECRET: &[u8] = b"secret";

    fn node(i: u8) -> NodeRecord {
        NodeRecord {
            id: i64::from(i),
            key: NodeKey([i; 32]),
            rotation_pubkey: None,
            key_signature: None,
        }
    }

    fn genesis(admin: &NlPrivate) -> Aum {
        let mut g = Aum {
            message_kind: tka::AumKind::CHECKPOINT,
            state: Some(State {
                disablement_values: Some(vec![Some(
                    tka::kdf::disablement_kdf(SECRET).unwrap().to_vec(),
                )]),
                keys: Some(vec![admin.to_key(1)]),
                state_id1: 3,
                state_id2: 4,
                ..State::default()
            }),
            ..Aum::default()
        };
        g.signatures = Some(admin.sign_aum(&g.sig_hash()));
        g
    }

    /// The whole lifecycle on snapshots alone: no database, no clock.
    #[test]
    fn lifecycle_without_io() {
        let admin = NlPrivate::from_seed(&[1; 32]);
        let nodes = [node(1), node(2)];
        let me = nodes[0].key;
        let g = genesis(&admin);
        let off = Tailnet::default();
        assert_eq!(tka_info(&off), None);

        let begin = wire::InitBeginRequest {
            version: 1,
            node_key: me,
            genesis_aum: Some(g.to_cbor()),
        };
        let d = init_begin(&off, &me, &begin, &nodes, 5).unwrap();
        assert_eq!(d.response.need_signatures.as_ref().map(Vec::len), Some(2));
        assert_eq!(tka_info(&d.next), None, "pending is still off");
        let pending = d.next;

        let sig = |n: &NodeRecord| {
            NodeKeySignature::sign_direct(&admin, &n.key, None)
                .unwrap()
                .to_cbor()
        };
        let finish = wire::InitFinishRequest {
            version: 1,
            node_key: me,
            signatures: Some(nodes.iter().map(|n| (n.id, sig(n))).collect()),
            support_disablement: Vec::new(),
        };
        // Another node cannot finish; nothing is written on refusal.
        assert!(matches!(
            init_finish(&pending, &nodes[1].key, &finish, &nodes, 5),
            Err(ServiceError::InitByOtherNode)
        ));
        let d = init_finish(&pending, &me, &finish, &nodes, 5).unwrap();
        let u = d.update.unwrap();
        assert_eq!(u.signatures.len(), 2);
        assert_eq!(u.new_aums.len(), 1);
        let on = d.next;
        assert_eq!(tka_info(&on).unwrap().head_hash().unwrap(), Some(g.hash()));

        // An update from the admin extends the chain.
        let chain = on.chain().unwrap();
        let mut b = chain.authority().builder(Some(&admin));
        b.add_key(NlPrivate::from_seed(&[2; 32]).to_key(1)).unwrap();
        let aums = b.finalize(chain.storage()).unwrap();
        let send = wire::SyncSendRequest {
            version: 1,
            node_key: me,
            head: g.hash(),
            missing_aums: Some(aums.iter().map(Aum::to_cbor).collect()),
            interactive: true,
        };
        let d = sync_send(&on, &send, 6).unwrap();
        assert_eq!(d.response.head, aums.last().unwrap().hash());
        assert_eq!(d.update.as_ref().unwrap().new_aums.len(), aums.len());
        let on = d.next;
        // The same request again stores nothing.
        assert!(sync_send(&on, &send, 7).unwrap().update.is_none());

        let disable_req = |s: &[u8]| wire::DisableRequest {
            version: 1,
            node_key: me,
            head: g.hash(),
            disablement_secret: Some(s.to_vec()),
        };
        assert!(matches!(
            disable(&on, &disable_req(b"nope"), None),
            Err(ServiceError::WrongSecret)
        ));
        let d = disable(&on, &disable_req(SECRET), None).unwrap();
        let off_again = d.next;
        assert!(tka_info(&off_again).unwrap().disabled);
        let b = bootstrap(
            &off_again,
            &wire::BootstrapRequest {
                version: 1,
                node_key: me,
                head: None,
            },
        );
        assert_eq!(b.disablement_secret, SECRET);
        // The disabled authority's genesis cannot start a new init.
        assert!(matches!(
            init_begin(&off_again, &me, &begin, &nodes, 8),
            Err(ServiceError::StateIdDisallowed(3, 4))
        ));
    }
}
