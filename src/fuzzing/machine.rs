//! [`check_machine`]: a hostile control plane drives a [`TkaMachine`]
//! through an arbitrary event sequence, and the node's safety properties
//! are checked after every step.

use super::world::{node_key, node_signature, Cursor, Pool, WORLD};
use crate::hash::AumHash;
use crate::key::NodeKey;
use crate::machine::{
    Action, Config, Event, HealthIssue, Mode, NodeId, Peer, PeerVerdict, Persisted, RequestId,
    Time, TkaMachine, Verdict,
};
use crate::sig::NksError;
use crate::storage::MemStorage;
use crate::wire::{self, FromWire, Path, ToWire};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// Most events one input drives.
const MAX_STEPS: usize = 256;
/// Most responses to a disabling bootstrap per input: each makes the
/// machine run the disablement KDF (16 MiB, tens of milliseconds).
const MAX_DISABLE_ATTEMPTS: u32 = 1;
/// Node IDs peers are drawn from.
const PEER_IDS: u8 = 8;

/// What the embedder holds: its durable store, the verdicts it was given,
/// the peers it told the machine about and the request awaiting an answer.
struct Embedder {
    machine: TkaMachine,
    config: Config,
    store: MemStorage,
    disallowed: Vec<(u64, u64)>,
    peers: BTreeMap<NodeId, Peer>,
    verdicts: BTreeMap<NodeId, PeerVerdict>,
    /// Per peer, the latest signature control gave it that verified under
    /// the keys of the moment while the machine showed it authorized: what
    /// a verdict kept during a sync stands on.
    basis: BTreeMap<NodeId, (NodeKey, Bytes)>,
    /// Verification results under one head (the checks run every step).
    verified: HashMap<(AumHash, NodeKey, Bytes), Result<(), NksError>>,
    outstanding: Option<(RequestId, Path)>,
    now: Time,
    disable_attempts: u32,
}

/// What one step may legitimately do to the lock.
enum Licence {
    /// Nothing special: the authority must not be removed.
    None,
    /// The user ran `lock local-disable`.
    LocalDisable,
    /// A bootstrap response carrying this disablement secret.
    Secret(Vec<u8>),
}

/// Runs the event program in `data` against a fresh machine and panics when
/// a property is violated:
///
/// * no panic, and every request body the machine sends parses as the
///   request control expects on that path;
/// * in enforce mode, no peer the embedder was told to admit has a
///   signature that fails [`crate::sig::node_key_authorized`] under the
///   current authority's keys, unless control marked it peer-API-only, and
///   an admitting verdict is always about the peer's current node key. The
///   one exception is issue 8's "a peer admitted before keeps its verdict":
///   while the machine holds peers for a sync (a request is then in flight,
///   so its deadline bounds the wait), a peer whose signature fails only
///   because its signer is not trusted may stay admitted if an earlier
///   signature control gave for the same node key verifies under the
///   *current* keys. Once the hold ends the check is strict again;
/// * every known peer has a verdict;
/// * the authority is never removed except by `lock local-disable` or a
///   bootstrap response whose secret derives (by the KDF, checked here
///   independently) to a disablement value of the authority that was
///   installed before the step;
/// * a machine restarted from what it asked to persist opens the same head
///   and keys.
///
/// Memory is bounded by the caller (the fuzz target measures the peak).
pub fn check_machine(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mut pool = Pool::new();
    let start = c.u8();
    let config = Config::new(crate::NodeKey([0x5a; 32]), Mode::Enforce);
    let now = Time::from_unix_secs(1_700_000_000);
    let mut store = MemStorage::new();
    if start & 1 != 0 {
        // Start with genesis A already installed, so sync is one step away.
        let mut rec = MemStorage::new();
        crate::Authority::bootstrap(&mut rec, WORLD.genesis[0].clone(), now.unix_secs())
            .expect("world genesis bootstraps");
        store = rec;
    }
    let persisted = Persisted::from_storage(&store, &[]).expect("mem storage");
    let machine = TkaMachine::new(config.clone(), persisted, now);
    let mut e = Embedder {
        machine,
        config,
        store,
        disallowed: Vec::new(),
        peers: BTreeMap::new(),
        verdicts: BTreeMap::new(),
        basis: BTreeMap::new(),
        verified: HashMap::new(),
        outstanding: None,
        now,
        disable_attempts: 0,
    };
    e.drain(&Licence::None, None);
    for _ in 0..MAX_STEPS {
        if c.is_empty() {
            break;
        }
        e.step(&mut c, &mut pool);
    }
}

impl Embedder {
    fn step(&mut self, c: &mut Cursor<'_>, pool: &mut Pool) {
        let before = self
            .machine
            .authority()
            .map(|a| (a.head(), disablement_values(a)));
        let op = c.u8();
        let mut licence = Licence::None;
        let event = match op % 16 {
            0 => {
                let enabled = c.bit();
                let head = if c.bit() { Some(pool.hash(c)) } else { None };
                Some(Event::ControlState { enabled, head })
            }
            1..=4 => {
                let body = match op % 16 {
                    1 => c.blob().to_vec(),
                    2 => {
                        let flags = c.u8();
                        let genesis_aum = match flags % 4 {
                            0 => Vec::new(),
                            1 | 2 => pool.aums[pool.pick(c) % 2].cbor.clone(),
                            _ => pool.aums[pool.pick(c)].cbor.clone(),
                        };
                        let disablement_secret = match (flags >> 2) % 4 {
                            0 => Vec::new(),
                            1 => super::world::SECRETS[c.below(3)].to_vec(),
                            2 => b"not a disablement secret".to_vec(),
                            _ => c.blob().to_vec(),
                        };
                        wire::BootstrapResponse {
                            genesis_aum,
                            disablement_secret,
                        }
                        .to_json()
                    }
                    3 => {
                        let head = pool.hash(c);
                        let ancestors = (0..c.below(4)).map(|_| pool.hash(c)).collect();
                        wire::SyncOfferResponse {
                            head,
                            ancestors: Some(ancestors),
                            missing_aums: Some(pool.aum_list(c)),
                        }
                        .to_json()
                    }
                    _ => wire::SyncSendResponse { head: pool.hash(c) }.to_json(),
                };
                let stale = c.u8() == 0xff;
                match self.outstanding {
                    Some((id, path)) if !stale => {
                        if path == Path::Bootstrap && self.machine.authority().is_some() {
                            // A disabling bootstrap: the machine runs the KDF.
                            if self.disable_attempts >= MAX_DISABLE_ATTEMPTS {
                                None
                            } else {
                                self.disable_attempts += 1;
                                if let Ok(r) = wire::BootstrapResponse::from_json(&body) {
                                    licence = Licence::Secret(r.disablement_secret);
                                }
                                Some(Event::Response {
                                    id,
                                    body: body.into(),
                                })
                            }
                        } else {
                            Some(Event::Response {
                                id,
                                body: body.into(),
                            })
                        }
                    }
                    _ => Some(Event::Response {
                        id: RequestId(u64::from(c.u8())),
                        body: body.into(),
                    }),
                }
            }
            5 => self.outstanding.map(|(id, _)| Event::RequestFailed {
                id,
                reason: "fuzz: transport error".into(),
            }),
            6 => {
                let sel = c.u8();
                self.now = match (sel % 4, self.machine.poll_timeout()) {
                    (0, Some(t)) => t.max(self.now),
                    (1, _) => self.now.plus_ms(1_000),
                    (2, _) => self.now.plus_ms(60_000 * u64::from(sel >> 2)),
                    _ => self.now.plus_ms(u64::from(sel) * 37),
                };
                self.machine.handle_timeout(self.now);
                self.drain(&licence, before);
                return;
            }
            7 => {
                let p = peer(c);
                self.peers.insert(p.node_id, p.clone());
                Some(Event::PeerUpserted(p))
            }
            8 => {
                let id = NodeId::from(c.u8() % PEER_IDS);
                self.peers.remove(&id);
                self.verdicts.remove(&id);
                self.basis.remove(&id);
                Some(Event::PeerRemoved(id))
            }
            9 => {
                let mut list: BTreeMap<NodeId, Peer> = BTreeMap::new();
                for _ in 0..c.below(usize::from(PEER_IDS) + 1) {
                    let p = peer(c);
                    list.insert(p.node_id, p);
                }
                self.peers = list.clone();
                self.verdicts.retain(|id, _| list.contains_key(id));
                self.basis.retain(|id, _| list.contains_key(id));
                Some(Event::PeersReplaced(list.into_values().collect()))
            }
            10 => {
                let sig = node_signature(c, &self.config.node_key);
                Some(Event::SelfSignature(Bytes::from(sig)))
            }
            11 => {
                licence = Licence::LocalDisable;
                Some(Event::LocalDisable)
            }
            12 => {
                let mode = if c.bit() {
                    Mode::Observe
                } else {
                    Mode::Enforce
                };
                self.machine.set_mode(self.now, mode);
                self.drain(&licence, before);
                return;
            }
            13 => {
                pool.build(c);
                None
            }
            14 => {
                pool.variant(c);
                None
            }
            _ => {
                self.restart();
                return;
            }
        };
        if let Some(ev) = event {
            self.now = self.now.plus_ms(u64::from(c.u8()));
            self.machine.handle_event(self.now, ev);
            self.drain(&licence, before);
        }
    }

    /// Carries out every action and checks the invariants.
    fn drain(&mut self, licence: &Licence, before: Option<(AumHash, Vec<Vec<u8>>)>) {
        let mut removed = false;
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::SendRequest { id, path, body } => {
                    check_request(path, &body);
                    self.outstanding = Some((id, path));
                }
                Action::Persist(delta) => delta
                    .apply_to(&mut self.store, self.now.unix_secs())
                    .unwrap_or_else(|e| panic!("persisting {delta:?}: {e}")),
                Action::RemoveAllState => {
                    self.store = MemStorage::new();
                    removed = true;
                }
                Action::AuthorityRemoved => removed = true,
                Action::PersistDisallowedStateIds(ids) => self.disallowed = ids,
                Action::PeerVerdict(v) => {
                    assert!(
                        self.peers.contains_key(&v.node_id),
                        "verdict for unknown peer {}",
                        v.node_id
                    );
                    self.verdicts.insert(v.node_id, v);
                }
                _ => {}
            }
        }
        if let Some((head, values)) = before {
            if removed || self.machine.authority().is_none() {
                let ok = match licence {
                    Licence::None => false,
                    Licence::LocalDisable => true,
                    Licence::Secret(s) => {
                        !s.is_empty() && crate::kdf::check_disablement(s, &values)
                    }
                };
                assert!(
                    ok,
                    "authority at {head} removed without local-disable or a valid disablement secret"
                );
            }
        }
        self.check_peers();
    }

    /// Whether `sig` authorizes `nk` under the current authority (memoised
    /// per head).
    fn authorized(&mut self, nk: &NodeKey, sig: &Bytes) -> Result<(), NksError> {
        let Some(a) = self.machine.authority() else {
            return Ok(());
        };
        let head = a.head();
        if self.verified.len() > 4096 {
            self.verified.clear();
        }
        self.verified
            .entry((head, *nk, sig.clone()))
            .or_insert_with(|| crate::sig::node_key_authorized(a.keys(), nk, sig).map(|_| ()))
            .clone()
    }

    fn check_peers(&mut self) {
        let holding = self.machine.holding_for_sync();
        assert!(
            !holding || self.machine.exchange_in_flight(),
            "peers held for a sync with no request in flight (an unbounded wait)"
        );
        let enforce = self.machine.mode() == Mode::Enforce;
        let peers: Vec<Peer> = self.peers.values().cloned().collect();
        for p in peers {
            let id = p.node_id;
            let v = self
                .verdicts
                .get(&id)
                .unwrap_or_else(|| panic!("peer {id} has no verdict"))
                .clone();
            if self.machine.authority().is_none() || p.unsigned_peer_api_only {
                continue;
            }
            if matches!(v.verdict, Verdict::Authorized(_))
                && self.authorized(&p.node_key, &p.signature).is_ok()
            {
                self.basis.insert(id, (p.node_key, p.signature.clone()));
            }
            if !v.admitted || !enforce {
                continue;
            }
            assert_eq!(
                v.node_key, p.node_key,
                "peer {id} admitted under a node key it no longer has"
            );
            let Err(e) = self.authorized(&p.node_key, &p.signature) else {
                continue;
            };
            // A verdict kept while the sync may trust the new signer: it
            // must stand on an earlier signature for this node key that the
            // current keys still verify.
            let kept = holding
                && untrusted_signer(&e)
                && match self.basis.get(&id).cloned() {
                    Some((nk, sig)) => nk == p.node_key && self.authorized(&nk, &sig).is_ok(),
                    None => false,
                };
            let head = self.machine.authority().map(|a| a.head());
            assert!(
                kept,
                "enforce admitted peer {id} whose signature fails under head {}: {e:?} (holding for a sync: {holding})",
                head.map(|h| h.to_string()).unwrap_or_default()
            );
        }
    }

    /// The embedder restarts: a new machine from what was persisted must
    /// hold the same authority.
    fn restart(&mut self) {
        let head = self
            .machine
            .authority()
            .map(|a| (a.head(), a.keys().to_vec()));
        let persisted =
            Persisted::from_storage(&self.store, &self.disallowed).expect("mem storage");
        self.machine = TkaMachine::new(self.config.clone(), persisted, self.now);
        self.peers.clear();
        self.verdicts.clear();
        self.basis.clear();
        self.outstanding = None;
        self.drain(&Licence::None, None);
        let reopened = self
            .machine
            .authority()
            .map(|a| (a.head(), a.keys().to_vec()));
        assert_eq!(
            reopened.as_ref().map(|r| r.0),
            head.as_ref().map(|h| h.0),
            "a restart from the persisted AUMs opened another head"
        );
        assert_eq!(reopened, head, "a restart changed the trusted keys");
        assert!(
            !self
                .machine
                .health()
                .contains(&HealthIssue::StorageUnreadable),
            "the persisted AUMs do not reopen"
        );
    }
}

/// The refusal a pending sync may overturn: the signer (or a nested
/// signature's signer) is not a trusted key.
fn untrusted_signer(e: &NksError) -> bool {
    match e {
        NksError::KeyNotFound => true,
        NksError::Nested(inner) => untrusted_signer(inner),
        _ => false,
    }
}

fn disablement_values(a: &crate::Authority) -> Vec<Vec<u8>> {
    a.state().disablement_values().map(<[u8]>::to_vec).collect()
}

fn peer(c: &mut Cursor<'_>) -> Peer {
    let node_id = NodeId::from(c.u8() % PEER_IDS);
    let nk = node_key(c);
    let signature = Bytes::from(node_signature(c, &nk));
    Peer {
        node_id,
        node_key: nk,
        signature,
        unsigned_peer_api_only: c.u8() & 7 == 7,
    }
}

/// Every body the machine sends must be what control parses on that path.
fn check_request(path: Path, body: &[u8]) {
    let ok = match path {
        Path::Bootstrap => wire::BootstrapRequest::from_json(body).is_ok(),
        Path::SyncOffer => wire::SyncOfferRequest::from_json(body).is_ok(),
        Path::SyncSend => wire::SyncSendRequest::from_json(body).is_ok(),
        other => panic!("machine sent a request to {other}"),
    };
    assert!(
        ok,
        "machine's {path} body does not parse: {}",
        String::from_utf8_lossy(body)
    );
}
