//! Seeded simulation of several [`TkaMachine`] nodes against a control model,
//! in the style of quinn-proto's test harness: a virtual clock, a network
//! that drops, duplicates, delays, reorders and corrupts responses, a store
//! whose saves fail (reported with `Event::PersistFailed`; a generator of
//! its own, so older seeds keep their other choices), node restarts from
//! persisted state, administrators changing the chain, forks, disable and
//! re-enable.
//!
//! Every node runs as a pair: the node proper in enforce mode and a twin in
//! observe mode fed exactly the same inputs. After every step the harness
//! checks the invariants listed on [`Sim::check_node`]; at the end of each
//! case it checks convergence over a reliable network, that one sync brings
//! a node to control's head, and that over a dead network every node goes
//! quiet after a bounded number of attempts.
//!
//! Each case is one `u64` seed (plus a step count proptest may shrink):
//! every random choice comes from a ChaCha generator seeded with it, so a
//! failure prints a seed that replays exactly. Seeds that failed during
//! development are kept below as plain regression tests, and
//! `the_simulation_reaches_every_behaviour` checks that the random steps
//! really produce forks, compaction, disablement, stale answers and so on.
//!
//! `TKA_SIM_CASES` sets the number of proptest cases (default 1000);
//! `TKA_SIM_SEED=<n> [TKA_SIM_STEPS=<n>] cargo test --test sim replay_one_seed
//! -- --nocapture` replays one seed and prints its step log.

use bytes::Bytes;
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use tka::builder::Signer;
use tka::control::ControlResponder;
use tka::machine::{
    Action, Config, Event, HealthIssue, Mode, NodeId, Peer, PeerVerdict, Persisted, RequestId,
    StorageDelta, Time, TkaMachine, Verdict,
};
use tka::wire::Path;
use tka::{
    Aum, AumHash, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, Signature,
    State, Storage,
};

type Res<T = ()> = Result<T, String>;

/// Network-lock keys administrators and peers sign with.
const POOL: usize = 6;

fn seed32(domain: &str, i: u64) -> [u8; 32] {
    tka::hash::blake2s256(format!("tka-sim-{domain}:{i}").as_bytes())
}

fn pool_key(i: usize) -> NlPrivate {
    static KEYS: OnceLock<Vec<NlPrivate>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..POOL)
            .map(|i| NlPrivate::from_seed(&seed32("pool", i as u64)))
            .collect()
    })[i]
        .clone()
}

fn pool_index(public: &[u8]) -> Option<usize> {
    (0..POOL).find(|i| pool_key(*i).public().0[..] == *public)
}

fn rotation_key(i: u64) -> NlPrivate {
    NlPrivate::from_seed(&seed32("rotation", i))
}

/// The disablement secret of generation `gen` and its KDF value (Argon2i
/// is slow, so each is computed once per process).
fn secret(gen: u64) -> (Vec<u8>, Vec<u8>) {
    static CACHE: OnceLock<Mutex<HashMap<u64, Vec<u8>>>> = OnceLock::new();
    let s = format!("sim secret {gen}").into_bytes();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    let kdf = cache
        .entry(gen)
        .or_insert_with(|| tka::kdf::disablement_kdf(&s).unwrap().to_vec())
        .clone();
    (s, kdf)
}

/// Signs with several keys at once (a fork "signed with heavier keys").
struct MultiSigner(Vec<NlPrivate>);

impl Signer for MultiSigner {
    fn sign_aum(&self, sig_hash: &[u8; 32]) -> Vec<Signature> {
        self.0.iter().flat_map(|k| k.sign_aum(sig_hash)).collect()
    }
}

struct Rng(ChaCha8Rng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.0.next_u64() % n
        }
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize].clone()
    }
}

// ---------------------------------------------------------------------------
// Control
// ---------------------------------------------------------------------------

struct Ctl {
    resp: ControlResponder<MemStorage>,
    gen: u64,
    /// State IDs control disabled with the real secret.
    disabled_ids: BTreeSet<(u64, u64)>,
    /// The state after every AUM control holds (this generation).
    states: HashMap<AumHash, State>,
}

impl Ctl {
    fn off() -> Ctl {
        Ctl {
            resp: ControlResponder::disabled(MemStorage::new()),
            gen: 0,
            disabled_ids: BTreeSet::new(),
            states: HashMap::new(),
        }
    }

    fn on(&self) -> bool {
        self.resp.authority().is_some()
    }

    fn authority(&self) -> Option<&Authority> {
        self.resp.authority()
    }

    /// The `TKAInfo` as the node's netmap sees it.
    fn info(&self) -> Event {
        Event::ControlState {
            enabled: self.on(),
            head: self.authority().map(Authority::head),
        }
    }

    /// A new genesis (enable, or re-enable after a disable).
    fn enable(&mut self, rng: &mut Rng, now: u64) {
        self.gen += 1;
        let (_, kdf) = secret(self.gen);
        let mut keys = vec![pool_key(0).to_key(1), pool_key(1).to_key(2)];
        if rng.chance(30) {
            keys.push(pool_key(2).to_key(1));
        }
        let state = State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(kdf)]),
            keys: Some(keys),
            state_id1: self.gen * 1000 + 1,
            state_id2: self.gen * 1000 + 2,
        };
        let mut g = Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(state.clone()),
            ..Default::default()
        };
        g.signatures = Some(pool_key(0).sign_aum(&g.sig_hash()));
        let mut storage = MemStorage::new();
        Authority::bootstrap(&mut storage, g.clone(), now).unwrap();
        self.resp = ControlResponder::enabled(storage, g.clone()).unwrap();
        self.states.clear();
        let mut s = state;
        s.last_aum_hash = Some(g.hash());
        self.states.insert(g.hash(), s);
    }

    fn disable(&mut self) -> bool {
        let Some(ids) = self.authority().map(Authority::state_ids) else {
            return false;
        };
        let ok = self.resp.disable(&secret(self.gen).0);
        if ok {
            self.disabled_ids.insert(ids);
            self.states.clear();
        }
        ok
    }

    /// Informs control of AUMs an administrator made.
    fn submit(&mut self, aums: &[Aum], now: u64) -> Res {
        let (storage, a) = self.resp.parts_mut();
        let a = a.ok_or("control is off")?;
        a.inform(storage, aums, now)
            .map_err(|e| format!("control refused admin AUMs: {e}"))?;
        for aum in aums {
            let h = aum.hash();
            let parent = aum.parent().ok_or("admin AUM without parent")?;
            let mut s = self
                .states
                .get(&parent)
                .ok_or("no state at parent")?
                .clone();
            s.apply(aum, h).map_err(|e| e.to_string())?;
            self.states.insert(h, s);
        }
        Ok(())
    }

    fn trusted(&self, state: &State) -> Vec<usize> {
        state
            .keys()
            .iter()
            .filter_map(|k| pool_index(k.public.as_deref().unwrap_or(&[])))
            .collect()
    }

    /// The trusted key with the fewest votes signs routine changes.
    fn light_signer(&self) -> Option<NlPrivate> {
        let a = self.authority()?;
        let k = a.keys().iter().min_by_key(|k| k.votes)?;
        pool_index(k.public.as_deref()?).map(pool_key)
    }

    /// One administrator change; returns a description.
    fn admin(&mut self, rng: &mut Rng, now: u64) -> Res<String> {
        let Some(signer) = self.light_signer() else {
            return Ok("admin: control off".into());
        };
        let a = self.authority().unwrap();
        let trusted = self.trusted(a.state());
        let untrusted: Vec<usize> = (0..POOL).filter(|i| !trusted.contains(i)).collect();
        let choice = rng.below(4);
        let (aums, what) = match choice {
            0 if !untrusted.is_empty() => {
                let j = rng.pick(&untrusted);
                let mut b = a.builder(Some(&signer));
                b.add_key(pool_key(j).to_key(rng.range(1, 2)))
                    .map_err(|e| e.to_string())?;
                (
                    b.finalize(self.resp.storage()).map_err(|e| e.to_string())?,
                    format!("add k{j}"),
                )
            }
            1 if trusted.len() > 1 => {
                let j = rng.pick(&trusted);
                let mut b = a.builder(Some(&signer));
                b.remove_key(&pool_key(j).public().0)
                    .map_err(|e| e.to_string())?;
                (
                    b.finalize(self.resp.storage()).map_err(|e| e.to_string())?,
                    format!("remove k{j}"),
                )
            }
            2 => {
                let mut state = a.state().clone();
                state.last_aum_hash = None;
                let mut c = Aum {
                    message_kind: AumKind::CHECKPOINT,
                    prev_aum_hash: Some(a.head().0.to_vec()),
                    state: Some(state),
                    ..Default::default()
                };
                c.signatures = Some(signer.sign_aum(&c.sig_hash()));
                (vec![c], "checkpoint".to_string())
            }
            _ => (vec![noop(a.head(), &signer)], "noop".to_string()),
        };
        self.submit(&aums, now)?;
        Ok(format!("admin {what} -> {}", short(&self.head())))
    }

    fn head(&self) -> AumHash {
        self.authority()
            .map(Authority::head)
            .unwrap_or(AumHash::ZERO)
    }

    /// A competing branch from a recent ancestor, signed by every key
    /// trusted there (heavier than routine single-key changes).
    fn fork(&mut self, rng: &mut Rng, now: u64) -> Res<String> {
        let Some(a) = self.authority() else {
            return Ok("fork: control off".into());
        };
        let chain = a
            .active_chain_hashes(self.resp.storage())
            .map_err(|e| e.to_string())?;
        if chain.len() < 2 {
            return Ok("fork: chain too short".into());
        }
        let back = rng.range(1, (chain.len() as u64 - 1).min(3)) as usize;
        let from = chain[chain.len() - 1 - back];
        let state = self.states.get(&from).ok_or("no state at fork point")?;
        let signer = MultiSigner(self.trusted(state).into_iter().map(pool_key).collect());
        let mut aums = Vec::new();
        let mut parent = from;
        for _ in 0..rng.range(1, 3) {
            let mut n = Aum {
                message_kind: AumKind::NO_OP,
                prev_aum_hash: Some(parent.0.to_vec()),
                ..Default::default()
            };
            n.signatures = Some(signer.sign_aum(&n.sig_hash()));
            parent = n.hash();
            aums.push(n);
        }
        self.submit(&aums, now)?;
        Ok(format!(
            "fork {} AUMs from {} -> head {}",
            aums.len(),
            short(&from),
            short(&self.head())
        ))
    }

    /// A routine change that always moves the head.
    fn push_noop(&mut self, now: u64) -> Res {
        let signer = self.light_signer().ok_or("control off")?;
        let n = noop(self.head(), &signer);
        self.submit(&[n], now)
    }
}

fn noop(parent: AumHash, signer: &NlPrivate) -> Aum {
    let mut n = Aum {
        message_kind: AumKind::NO_OP,
        prev_aum_hash: Some(parent.0.to_vec()),
        ..Default::default()
    };
    n.signatures = Some(signer.sign_aum(&n.sig_hash()));
    n
}

fn short(h: &AumHash) -> String {
    h.to_string()[..6].to_string()
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

/// One machine and the embedder's view of it.
struct Half {
    m: TkaMachine,
    /// The embedder's durable store, kept from `Persist` actions.
    store: MemStorage,
    disallowed: Vec<(u64, u64)>,
    /// The last verdict emitted for each peer.
    emitted: BTreeMap<NodeId, PeerVerdict>,
}

impl Half {
    fn new(config: Config, store: MemStorage, disallowed: Vec<(u64, u64)>, now: Time) -> Half {
        let m = TkaMachine::new(config, persisted(&store, &disallowed), now);
        Half {
            m,
            store,
            disallowed,
            emitted: BTreeMap::new(),
        }
    }

    /// Drains the machine, applying what the embedder must persist. With
    /// `fail_saves`, the first store action fails: it and the store actions
    /// after it are skipped and `PersistFailed` is fed with what the store
    /// holds. Returns the actions and whether a save failed.
    fn drain(&mut self, now: Time, fail_saves: bool) -> (Vec<Action>, bool) {
        let mut out = Vec::new();
        let failed = self.drain_into(now, fail_saves, &mut out);
        if failed {
            let stored = persisted(&self.store, &self.disallowed);
            self.m.handle_event(
                now,
                Event::PersistFailed {
                    reason: "simulated disk failure".into(),
                    stored,
                },
            );
            self.drain_into(now, false, &mut out);
        }
        (out, failed)
    }

    fn drain_into(&mut self, now: Time, fail_saves: bool, out: &mut Vec<Action>) -> bool {
        let mut failed = false;
        while let Some(a) = self.m.poll_action() {
            let store_action = matches!(
                a,
                Action::Persist(_) | Action::RemoveAllState | Action::PersistDisallowedStateIds(_)
            );
            failed |= store_action && fail_saves;
            match &a {
                _ if store_action && failed => {}
                Action::Persist(d) => apply(&mut self.store, d, now.unix_secs()),
                Action::RemoveAllState => self.store = MemStorage::new(),
                Action::PersistDisallowedStateIds(ids) => self.disallowed = ids.clone(),
                Action::PeerVerdict(v) => {
                    self.emitted.insert(v.node_id, v.clone());
                }
                _ => {}
            }
            out.push(a);
        }
        failed
    }
}

fn apply(store: &mut MemStorage, d: &StorageDelta, now: u64) {
    d.apply_to(store, now).unwrap();
}

fn persisted(store: &MemStorage, disallowed: &[(u64, u64)]) -> Persisted {
    Persisted::from_storage(store, disallowed).unwrap()
}

struct Node {
    config: Config,
    /// Enforce mode.
    p: Half,
    /// Observe mode, same inputs.
    o: Half,
    /// Bumped on restart: answers to an earlier incarnation are lost.
    inc: u64,
    peers: BTreeMap<NodeId, Peer>,
    /// The authority's state IDs after the last input (to judge removals).
    ids: Option<(u64, u64)>,
    /// Requests sent (path), for the one-sync check.
    sent: Vec<Path>,
    /// Whether the last control state the node was told says "enabled".
    told_enabled: Option<bool>,
}

impl Node {
    fn new(config: Config, now: Time) -> Node {
        let mut observe = config.clone();
        observe.mode = Mode::Observe;
        Node {
            p: Half::new(config.clone(), MemStorage::new(), Vec::new(), now),
            o: Half::new(observe, MemStorage::new(), Vec::new(), now),
            config,
            inc: 0,
            peers: BTreeMap::new(),
            ids: None,
            sent: Vec::new(),
            told_enabled: None,
        }
    }

    fn timeout(&self) -> Option<Time> {
        self.p.m.poll_timeout()
    }
}

/// An input fed to both halves of a node.
#[derive(Clone, Debug)]
enum Input {
    Event(Event),
    Timeout,
    Restart,
}

// ---------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    drop_request: u64,
    drop_response: u64,
    duplicate: u64,
    corrupt: u64,
    fail: u64,
    slow: u64,
}

impl Faults {
    fn random(rng: &mut Rng) -> Faults {
        if rng.chance(25) {
            return Faults::default();
        }
        Faults {
            drop_request: rng.below(10),
            drop_response: rng.below(10),
            duplicate: rng.below(15),
            corrupt: rng.below(10),
            fail: rng.below(10),
            slow: rng.below(8),
        }
    }
}

enum Net {
    Arrive {
        node: usize,
        inc: u64,
        id: RequestId,
        path: Path,
        body: Bytes,
    },
    Deliver {
        node: usize,
        inc: u64,
        event: Event,
    },
}

// ---------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------

struct Sim {
    rng: Rng,
    now: Time,
    ctl: Ctl,
    nodes: Vec<Node>,
    net: BTreeMap<(Time, u64), Net>,
    seq: u64,
    faults: Faults,
    /// Saves fail in this percentage of inputs (a generator of its own, so
    /// the seeds' other choices are unchanged).
    save_fail_pct: u64,
    save_rng: Rng,
    allow_disable: bool,
    /// The peers control knows about.
    universe: BTreeMap<NodeId, Peer>,
    next_peer_key: u64,
    /// Independent signature checks: (head, key, sig) -> prev keys if valid.
    verified: HashMap<(AumHash, NodeKey, Bytes), Option<Vec<NodeKey>>>,
    /// Which node ran local-disable in the current input.
    local_disable: Option<usize>,
    /// The node fed last (checked after each event).
    last_fed: Option<usize>,
    log: VecDeque<String>,
    verbose: bool,
    /// How often interesting things happened (see `the_simulation_reaches_every_behaviour`).
    stats: BTreeMap<&'static str, u64>,
}

impl Sim {
    fn new(seed: u64, verbose: bool) -> Sim {
        let mut rng = Rng(ChaCha8Rng::seed_from_u64(seed));
        let now = Time::from_unix_secs(1_800_000_000);
        let mut ctl = Ctl::off();
        if rng.chance(90) {
            ctl.enable(&mut rng, now.unix_secs());
        }
        let faults = Faults::random(&mut rng);
        let mut save_rng = Rng(ChaCha8Rng::seed_from_u64(seed ^ 0x5a7e_fa11_5a7e_fa11));
        let save_fail_pct = if save_rng.chance(50) {
            0
        } else {
            save_rng.range(1, 15)
        };
        let allow_disable = rng.chance(4);
        let n = rng.range(2, 4) as usize;
        let mut nodes = Vec::new();
        for i in 0..n {
            let mut c = Config::new(NodeKey(seed32("self", i as u64)), Mode::Enforce);
            c.max_attempts = rng.range(3, 8) as u32;
            c.retry_max_ms = rng.range(5_000, 60_000);
            if rng.chance(50) {
                c.compaction.min_chain = rng.range(1, 4) as usize;
                c.compaction.min_age_secs = rng.range(10, 300);
            }
            nodes.push(Node::new(c, now));
        }
        let mut sim = Sim {
            rng,
            now,
            ctl,
            nodes,
            net: BTreeMap::new(),
            seq: 0,
            faults,
            save_fail_pct,
            save_rng,
            allow_disable,
            universe: BTreeMap::new(),
            next_peer_key: 0,
            verified: HashMap::new(),
            local_disable: None,
            last_fed: None,
            log: VecDeque::new(),
            verbose,
            stats: BTreeMap::new(),
        };
        for id in 0..sim.rng.range(3, 7) as i64 {
            let p = sim.random_peer(100 + id);
            sim.universe.insert(p.node_id, p);
        }
        sim.note(format!(
            "seed {seed:#x}: {n} nodes, faults {:?}, disable allowed {}",
            sim.faults, sim.allow_disable
        ));
        sim
    }

    fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    fn note(&mut self, s: String) {
        if self.verbose {
            println!("[{:>9}] {s}", self.now.0 - 1_800_000_000_000);
        }
        self.log
            .push_back(format!("[{}] {s}", self.now.0 - 1_800_000_000_000));
        if self.log.len() > 120 {
            self.log.pop_front();
        }
    }

    fn fresh_node_key(&mut self) -> NodeKey {
        self.next_peer_key += 1;
        NodeKey(seed32("peer", self.next_peer_key))
    }

    /// A peer as control might list it: signed by any pool key (trusted or
    /// not), unsigned, garbage, peer-API-only, or on a rotation chain.
    fn random_peer(&mut self, id: NodeId) -> Peer {
        let key = self.fresh_node_key();
        let mut peer = Peer {
            node_id: id,
            node_key: key,
            signature: Bytes::new(),
            unsigned_peer_api_only: false,
        };
        match self.rng.below(10) {
            0 => {}
            1 => peer.signature = Bytes::from_static(b"\xa1\x01\x02garbage"),
            2 => {
                peer.unsigned_peer_api_only = true;
                if self.rng.chance(50) {
                    let k = pool_key(self.rng.below(POOL as u64) as usize);
                    peer.signature = Bytes::from(
                        NodeKeySignature::sign_direct(&k, &key, None)
                            .unwrap()
                            .to_cbor(),
                    );
                }
            }
            3..=4 => {
                // A rotation chain from a shared root: family f's root key
                // is signed by pool key f with wrapping key f.
                let f = self.rng.below(2);
                let root = NodeKey(seed32("root", f));
                let wrap = rotation_key(f);
                let mut sig = NodeKeySignature::sign_direct(
                    &pool_key(f as usize),
                    &root,
                    Some(wrap.public().0),
                )
                .unwrap();
                for _ in 1..self.rng.range(1, 3) {
                    let mid = self.fresh_node_key();
                    sig = NodeKeySignature::sign_rotation(&wrap, &mid.to_binary(), sig);
                }
                sig = NodeKeySignature::sign_rotation(&wrap, &key.to_binary(), sig);
                peer.signature = Bytes::from(sig.to_cbor());
            }
            5 => {
                // The family root itself.
                let f = self.rng.below(2);
                let root = NodeKey(seed32("root", f));
                peer.node_key = root;
                peer.signature = Bytes::from(
                    NodeKeySignature::sign_direct(
                        &pool_key(f as usize),
                        &root,
                        Some(rotation_key(f).public().0),
                    )
                    .unwrap()
                    .to_cbor(),
                );
            }
            _ => {
                let k = pool_key(self.rng.below(POOL as u64) as usize);
                peer.signature = Bytes::from(
                    NodeKeySignature::sign_direct(&k, &key, None)
                        .unwrap()
                        .to_cbor(),
                );
            }
        }
        peer
    }

    fn schedule(&mut self, at: Time, n: Net) {
        self.seq += 1;
        self.net.insert((at, self.seq), n);
    }

    fn delay(&mut self) -> u64 {
        if self.rng.chance(self.faults.slow) {
            self.rng.range(20_000, 120_000)
        } else {
            self.rng.range(5, 400)
        }
    }

    // ---- feeding nodes ----

    /// Feeds one input to both halves of node `n`, drains them, checks that
    /// they agree, and carries out the node's actions.
    fn feed(&mut self, n: usize, input: Input) -> Res {
        let now = self.now;
        self.last_fed = Some(n);
        let before_ids = self.nodes[n].ids;
        {
            let node = &mut self.nodes[n];
            for (half, mode) in [(&mut node.p, Mode::Enforce), (&mut node.o, Mode::Observe)] {
                match &input {
                    Input::Event(e) => half.m.handle_event(now, e.clone()),
                    Input::Timeout => half.m.handle_timeout(now),
                    Input::Restart => {
                        let mut c = node.config.clone();
                        c.mode = mode;
                        *half = Half::new(c, half.store.clone(), half.disallowed.clone(), now);
                    }
                }
            }
            match &input {
                Input::Restart => {
                    node.inc += 1;
                    node.peers.clear();
                    node.told_enabled = None;
                }
                Input::Event(Event::ControlState { enabled, .. }) => {
                    node.told_enabled = Some(*enabled);
                }
                _ => {}
            }
        }
        let fail_saves = self.save_fail_pct > 0 && self.save_rng.chance(self.save_fail_pct);
        let node = &mut self.nodes[n];
        let (pa, save_failed) = node.p.drain(now, fail_saves);
        let (oa, _) = node.o.drain(now, fail_saves);
        let strip = |v: &[Action]| -> Vec<Action> {
            v.iter()
                .filter(|a| !matches!(a, Action::Log { .. }))
                .cloned()
                .collect()
        };
        let (ps, os) = (strip(&pa), strip(&oa));
        if ps.len() != os.len() || ps.iter().zip(&os).any(|(a, b)| !same_action(a, b)) {
            return Err(format!(
                "node {n}: observe twin diverged\n enforce: {ps:?}\n observe: {os:?}"
            ));
        }
        for a in &oa {
            if let Action::PeerVerdict(v) = a {
                if !v.admitted {
                    return Err(format!("node {n}: observe mode refused peer {}", v.node_id));
                }
            }
        }
        let ids_after = node.p.m.authority().map(Authority::state_ids);
        node.ids = ids_after;
        let mut sends = Vec::new();
        let mut notes = Vec::new();
        let mut seen: Vec<&'static str> = Vec::new();
        if save_failed {
            seen.push("save failed");
            notes.push(format!("node {n} save failed"));
        }
        for a in pa {
            match &a {
                Action::PeerVerdict(v) if !v.admitted => seen.push("peer refused"),
                Action::Persist(d) if !d.purged.is_empty() => seen.push("compaction purged"),
                Action::HealthChanged(h) => {
                    for (issue, name) in [
                        (HealthIssue::NoIntersection, "no intersection"),
                        (HealthIssue::UnrelatedChain, "unrelated chain"),
                        (HealthIssue::DisablementRejected, "disablement rejected"),
                        (HealthIssue::StateIdDisallowed, "state id disallowed"),
                        (HealthIssue::LockedOut, "locked out"),
                    ] {
                        if h.contains(&issue) {
                            seen.push(name);
                        }
                    }
                }
                Action::Log { message, .. } => {
                    for (text, name) in [
                        ("ignoring response to stale", "stale answer ignored"),
                        ("timed out", "request timed out"),
                        ("TKA desync", "desync"),
                        ("giving up", "gave up"),
                        ("control's state changed since", "failure for an old state"),
                        ("key rotation", "rotated away"),
                    ] {
                        if message.contains(text) {
                            seen.push(name);
                        }
                    }
                }
                _ => {}
            }
            match a {
                Action::SendRequest { id, path, body } => {
                    node.sent.push(path);
                    notes.push(format!("node {n} sends #{} {}", id.0, path));
                    sends.push((id, path, body));
                }
                Action::PeerVerdict(v) if v.admitted != v.verdict.admits() => {
                    return Err(format!("node {n}: enforce verdict/admitted mismatch {v:?}"));
                }
                Action::AuthorityRemoved if save_failed => {
                    // What could not be stored is not kept (the check after
                    // every step compares memory with the store).
                    notes.push(format!("node {n} authority dropped: not stored"));
                }
                Action::AuthorityRemoved => {
                    let ids = before_ids.ok_or("removed an authority it did not have")?;
                    let legit =
                        self.local_disable == Some(n) || self.ctl.disabled_ids.contains(&ids);
                    if !legit {
                        return Err(format!(
                            "node {n}: lock on state {ids:?} dropped without a real disable"
                        ));
                    }
                    notes.push(format!("node {n} authority removed"));
                    seen.push(if self.local_disable == Some(n) {
                        "lock removed by local-disable"
                    } else {
                        "lock removed by control"
                    });
                }
                Action::AuthorityInstalled { head, .. } => {
                    notes.push(format!("node {n} installed {}", short(&head)))
                }
                Action::AuthorityChanged { head, .. } => {
                    seen.push("head changed");
                    notes.push(format!("node {n} head -> {}", short(&head)))
                }
                Action::HealthChanged(h) => notes.push(format!("node {n} health {h:?}")),
                Action::Log { message, .. } if self.verbose => {
                    notes.push(format!("node {n} log: {message}"))
                }
                _ => {}
            }
        }
        for s in notes {
            self.note(s);
        }
        for s in seen {
            self.count(s);
        }
        if matches!(input, Input::Restart) && self.nodes[n].ids.is_some() {
            self.count("restart with authority");
        }
        let inc = self.nodes[n].inc;
        for (id, path, body) in sends {
            if self.rng.chance(self.faults.drop_request) {
                self.note(format!("  request #{} of node {n} lost", id.0));
                continue;
            }
            let at = self.now.plus_ms(self.delay());
            self.schedule(
                at,
                Net::Arrive {
                    node: n,
                    inc,
                    id,
                    path,
                    body,
                },
            );
        }
        for half in [&self.nodes[n].p, &self.nodes[n].o] {
            if let Some(t) = half.m.poll_timeout() {
                if t <= now {
                    return Err(format!(
                        "node {n}: timer at {t:?} not in the future (hot loop)"
                    ));
                }
            }
        }
        if self.nodes[n].p.m.poll_timeout() != self.nodes[n].o.m.poll_timeout() {
            return Err(format!("node {n}: observe twin's timer differs"));
        }
        Ok(())
    }

    fn arrive(&mut self, n: usize, inc: u64, id: RequestId, path: Path, body: Bytes) -> Res {
        let answer = self.ctl.resp.handle(path, &body, self.now);
        let event = match answer {
            Err(e) => {
                self.note(format!("  control refuses #{} of node {n}: {e}", id.0));
                Event::RequestFailed {
                    id,
                    reason: e.to_string(),
                }
            }
            Ok(_) if self.rng.chance(self.faults.drop_response) => {
                self.note(format!("  answer to #{} of node {n} lost", id.0));
                return Ok(());
            }
            Ok(_) if self.rng.chance(self.faults.fail) => Event::RequestFailed {
                id,
                reason: "HTTP 502".into(),
            },
            Ok(mut resp) => {
                if self.rng.chance(self.faults.corrupt) {
                    self.count("corrupted answer");
                    self.corrupt(&mut resp);
                    self.note(format!("  answer to #{} of node {n} corrupted", id.0));
                }
                Event::Response {
                    id,
                    body: Bytes::from(resp),
                }
            }
        };
        let copies = if self.rng.chance(self.faults.duplicate) {
            self.count("duplicated answer");
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now.plus_ms(self.delay());
            self.schedule(
                at,
                Net::Deliver {
                    node: n,
                    inc,
                    event: event.clone(),
                },
            );
        }
        Ok(())
    }

    fn corrupt(&mut self, body: &mut Vec<u8>) {
        match self.rng.below(4) {
            0 => body.truncate(self.rng.below(body.len() as u64) as usize),
            1 => *body = b"{}".to_vec(),
            2 if !body.is_empty() => {
                // Flip one character inside the JSON (often inside base64).
                let i = self.rng.below(body.len() as u64) as usize;
                body[i] = if body[i] == b'A' { b'B' } else { b'A' };
            }
            _ => {
                let n = self.rng.range(1, 40) as usize;
                *body = (0..n).map(|_| self.rng.below(256) as u8).collect();
            }
        }
    }

    /// Runs network deliveries and node timers up to `until`.
    fn run_until(&mut self, until: Time) -> Res {
        let mut events = 0u32;
        loop {
            let net_at = self.net.keys().next().map(|k| k.0);
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.timeout().map(|t| (t, i)))
                .min();
            let next = match (net_at, timer) {
                (Some(a), Some((b, _))) => a.min(b),
                (a, b) => match a.or(b.map(|x| x.0)) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if net_at == Some(next) {
                let key = *self.net.keys().next().unwrap();
                match self.net.remove(&key).unwrap() {
                    Net::Arrive {
                        node,
                        inc,
                        id,
                        path,
                        body,
                    } => self.arrive(node, inc, id, path, body)?,
                    Net::Deliver { node, inc, event } => {
                        if inc == self.nodes[node].inc {
                            let what = match &event {
                                Event::Response { id, .. } => format!("answer #{}", id.0),
                                Event::RequestFailed { id, .. } => format!("failure #{}", id.0),
                                _ => "?".into(),
                            };
                            self.note(format!("node {node} gets {what}"));
                            self.feed(node, Input::Event(event))?;
                        }
                    }
                }
            } else if let Some((_, i)) = timer {
                self.feed(i, Input::Timeout)?;
            }
            // Only the node just fed can have changed.
            if let Some(n) = self.last_fed.take() {
                self.check_node(n)?;
            }
            events += 1;
            if events > 100_000 {
                return Err("more than 100,000 events in one run: a hot loop".into());
            }
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs until nothing is pending anywhere (bounded).
    fn run_quiet(&mut self) -> Res {
        let limit = self.now.plus_ms(6 * 3600 * 1000);
        self.run_until(limit)?;
        if !self.net.is_empty() || self.nodes.iter().any(|n| n.timeout().is_some()) {
            return Err("the simulation did not go quiet within 6 virtual hours".into());
        }
        Ok(())
    }

    fn netmap(&mut self, n: usize) -> Res {
        let info = self.ctl.info();
        self.note(format!(
            "node {n} netmap: on={} head={}",
            self.ctl.on(),
            short(&self.ctl.head())
        ));
        self.feed(n, Input::Event(info))?;
        let peers: Vec<Peer> = self.universe.values().cloned().collect();
        self.nodes[n].peers = self.universe.clone();
        self.feed(n, Input::Event(Event::PeersReplaced(peers)))
    }

    // ---- one random step ----

    fn step(&mut self) -> Res {
        let now = self.now.unix_secs();
        let n = self.rng.below(self.nodes.len() as u64) as usize;
        match self.rng.below(100) {
            0..=29 => {
                let dt = self.rng.range(0, 3_000);
                self.run_until(self.now.plus_ms(dt))?;
            }
            30..=34 => {
                let dt = self.rng.range(30_000, 200_000);
                self.run_until(self.now.plus_ms(dt))?;
            }
            35..=54 => self.netmap(n)?,
            55..=61 => {
                let ids: Vec<NodeId> = self.universe.keys().copied().collect();
                let id = self.rng.pick(&ids);
                if self.rng.chance(25) {
                    self.nodes[n].peers.remove(&id);
                    self.note(format!("node {n} peer {id} removed"));
                    self.feed(n, Input::Event(Event::PeerRemoved(id)))?;
                } else {
                    let p = self.universe[&id].clone();
                    self.nodes[n].peers.insert(id, p.clone());
                    self.note(format!("node {n} peer {id} upserted"));
                    self.feed(n, Input::Event(Event::PeerUpserted(p)))?;
                }
            }
            62..=65 => {
                let me = self.nodes[n].config.node_key;
                let sig = if self.rng.chance(20) {
                    Bytes::new()
                } else {
                    let k = pool_key(self.rng.below(POOL as u64) as usize);
                    Bytes::from(
                        NodeKeySignature::sign_direct(&k, &me, None)
                            .unwrap()
                            .to_cbor(),
                    )
                };
                self.feed(n, Input::Event(Event::SelfSignature(sig)))?;
            }
            66..=77 => {
                if self.ctl.on() {
                    let what = self.ctl.admin(&mut self.rng, now)?;
                    self.note(what);
                } else if self.rng.chance(15) {
                    self.ctl.enable(&mut self.rng, now);
                    self.note(format!("control enables gen {}", self.ctl.gen));
                }
            }
            78..=81 => {
                let before = self.ctl.head();
                let what = self.ctl.fork(&mut self.rng, now)?;
                if self.ctl.head() != before {
                    self.count("fork took over");
                }
                self.note(what);
            }
            82..=85 => {
                self.note(format!("node {n} restarts"));
                self.feed(n, Input::Restart)?;
            }
            86..=89 => {
                let ids: Vec<NodeId> = self.universe.keys().copied().collect();
                let id = if self.rng.chance(20) {
                    200 + self.rng.below(5) as i64
                } else {
                    self.rng.pick(&ids)
                };
                let p = self.random_peer(id);
                self.universe.insert(id, p);
            }
            90 => {
                self.note(format!("node {n} local-disable"));
                self.local_disable = Some(n);
                let r = self.feed(n, Input::Event(Event::LocalDisable));
                self.local_disable = None;
                r?;
            }
            91..=93 if self.allow_disable => {
                if self.ctl.on() {
                    // Each disable costs several Argon2 runs: at most two.
                    if self.ctl.disabled_ids.len() < 2 && self.ctl.disable() {
                        self.note(format!("control disables gen {}", self.ctl.gen));
                    }
                } else {
                    self.ctl.enable(&mut self.rng, now);
                    self.count("re-enabled");
                    self.note(format!("control re-enables: gen {}", self.ctl.gen));
                }
            }
            _ => {
                let dt = self.rng.range(0, 500);
                self.run_until(self.now.plus_ms(dt))?;
            }
        }
        self.check_all()
    }

    // ---- invariants ----

    fn check_all(&mut self) -> Res {
        for n in 0..self.nodes.len() {
            self.check_node(n)?;
        }
        Ok(())
    }

    /// After every step, for every node:
    /// - the embedder's view (last emitted verdicts) equals the machine's
    ///   verdicts for exactly the peers it was told about;
    /// - in enforce mode no peer is admitted unless its signature verifies
    ///   under the node's current authority (checked independently with
    ///   `tka::sig::node_key_authorized`) and no verified rotation made its
    ///   key obsolete; peer-API-only peers skip the signature check, and
    ///   with no authority every peer is `Unfiltered`; a plainly valid
    ///   Direct signature whose key is not obsolete is admitted;
    /// - `NoAuthority` is raised exactly when control says the lock is on
    ///   and the node has no authority (fail-open is never silent);
    /// - the installed authority equals `Authority::open` of the persisted
    ///   model (same head and state), and with no authority nothing is
    ///   persisted;
    /// - the observe twin has the same authority, health, verdict kinds and
    ///   persisted state;
    /// - no timer was missed (the node just fed must have its next timer
    ///   strictly in the future: checked in [`Sim::feed`]).
    fn check_node(&mut self, n: usize) -> Res {
        let now = self.now;
        let node = &self.nodes[n];
        let m = &node.p.m;
        let verdicts = m.verdicts();
        if verdicts.keys().ne(node.peers.keys()) {
            return Err(format!(
                "node {n}: verdicts for {:?}, told about {:?}",
                verdicts.keys().collect::<Vec<_>>(),
                node.peers.keys().collect::<Vec<_>>()
            ));
        }
        for (id, v) in verdicts {
            match node.p.emitted.get(id) {
                Some(e) if &e.verdict == v && e.admitted == v.admits() => {}
                other => {
                    return Err(format!(
                        "node {n}: peer {id} verdict {v:?} but the embedder last saw {other:?}"
                    ))
                }
            }
        }
        // Independent enforcement check.
        let auth = m.authority().cloned();
        let mut prev_keys: BTreeSet<NodeKey> = BTreeSet::new();
        let mut valid: BTreeMap<NodeId, Option<Vec<NodeKey>>> = BTreeMap::new();
        if let Some(a) = &auth {
            for p in node.peers.values() {
                if p.signature.is_empty() {
                    continue;
                }
                let key = (a.head(), p.node_key, p.signature.clone());
                let r = self
                    .verified
                    .entry(key)
                    .or_insert_with(|| {
                        tka::sig::node_key_authorized(a.keys(), &p.node_key, &p.signature)
                            .ok()
                            .map(|ok| {
                                ok.rotation()
                                    .map(|r| r.prev_node_keys.clone())
                                    .unwrap_or_default()
                            })
                    })
                    .clone();
                if let Some(prev) = &r {
                    prev_keys.extend(prev.iter().copied());
                }
                valid.insert(p.node_id, r);
            }
        }
        let node = &self.nodes[n];
        for p in node.peers.values() {
            let v = &node.p.m.verdicts()[&p.node_id];
            let admitted = v.admits();
            match &auth {
                None => {
                    if *v != Verdict::Unfiltered {
                        return Err(format!("node {n}: no authority but peer verdict {v:?}"));
                    }
                }
                Some(_) => {
                    let sig_ok = valid.get(&p.node_id).is_some_and(Option::is_some);
                    let obsolete = prev_keys.contains(&p.node_key);
                    // A peer authorized before may keep that verdict while
                    // a sync that may trust its new signer is in flight.
                    let held = node.p.m.holding_for_sync() && matches!(v, Verdict::Authorized(_));
                    if admitted && ((!p.unsigned_peer_api_only && !sig_ok && !held) || obsolete) {
                        return Err(format!(
                            "node {n}: ENFORCEMENT: peer {} admitted ({v:?}) but signature valid={sig_ok} obsolete={obsolete}",
                            p.node_id
                        ));
                    }
                    if *v == Verdict::Unfiltered {
                        return Err(format!("node {n}: authority installed but peer unfiltered"));
                    }
                    let plain = valid
                        .get(&p.node_id)
                        .is_some_and(|r| r.as_ref().is_some_and(Vec::is_empty));
                    if !p.unsigned_peer_api_only && plain && !obsolete && !admitted {
                        let direct_plain = NodeKeySignature::from_cbor(&p.signature)
                            .is_ok_and(|s| s.nested.is_none());
                        if direct_plain {
                            return Err(format!(
                                "node {n}: peer {} has a valid signature but is refused: {v:?}",
                                p.node_id
                            ));
                        }
                    }
                }
            }
        }
        // Fail-open is always reported: NoAuthority exactly when control
        // says the lock is on and the node has no authority.
        let fail_open = node.told_enabled == Some(true) && auth.is_none();
        let raised = node.p.m.health().contains(&HealthIssue::NoAuthority);
        if raised != fail_open {
            return Err(format!(
                "node {n}: NoAuthority is {raised} but told enabled={:?} with authority={}",
                node.told_enabled,
                auth.is_some()
            ));
        }
        // Persisted model replays to the installed authority.
        match &auth {
            Some(a) => {
                let reopened = Authority::open(&node.p.store)
                    .map_err(|e| format!("node {n}: persisted AUMs do not open: {e}"))?;
                if reopened.head() != a.head() || reopened.state() != a.state() {
                    return Err(format!(
                        "node {n}: persisted AUMs open at {} but the machine has {}",
                        short(&reopened.head()),
                        short(&a.head())
                    ));
                }
            }
            None => {
                if !node.p.store.is_empty() {
                    return Err(format!(
                        "node {n}: no authority but {} AUMs persisted",
                        node.p.store.len()
                    ));
                }
            }
        }
        // The observe twin.
        let (p, o) = (&node.p, &node.o);
        if p.m.authority().map(Authority::head) != o.m.authority().map(Authority::head)
            || p.m.health() != o.m.health()
            || p.m.verdicts() != o.m.verdicts()
            || p.disallowed != o.disallowed
            || sorted(&p.store) != sorted(&o.store)
        {
            return Err(format!("node {n}: observe twin differs from enforce node"));
        }
        if let Some(t) = p.m.poll_timeout() {
            if t < now {
                return Err(format!("node {n}: timer {t:?} was missed"));
            }
        }
        Ok(())
    }

    // ---- end of case ----

    /// Over a reliable network every node settles; a node with no failure
    /// warning agrees with control.
    fn settle_reliably(&mut self) -> Res {
        self.faults = Faults::default();
        self.save_fail_pct = 0;
        for n in 0..self.nodes.len() {
            self.netmap(n)?;
        }
        self.run_quiet()?;
        // A machine learns that a save worked only from the next input
        // (the embedder feeds `PersistFailed` first when one fails), so
        // one more netmap confirms the last saves before health is judged.
        for n in 0..self.nodes.len() {
            self.netmap(n)?;
        }
        self.run_quiet()?;
        let failing = [
            HealthIssue::SyncFailing,
            HealthIssue::BootstrapFailing,
            HealthIssue::NoIntersection,
            HealthIssue::UnrelatedChain,
            HealthIssue::DisablementRejected,
            HealthIssue::StateIdDisallowed,
            HealthIssue::PersistFailed,
        ];
        for (n, node) in self.nodes.iter().enumerate() {
            let m = &node.p.m;
            let h = m.health();
            let warned = failing.iter().any(|f| h.contains(f));
            match (self.ctl.authority(), m.authority()) {
                (Some(c), Some(a)) => {
                    if a.state_ids() == c.state_ids() && !warned && a.head() != c.head() {
                        return Err(format!(
                            "node {n}: quiet with no warning at {} but control is at {}",
                            short(&a.head()),
                            short(&c.head())
                        ));
                    }
                    // Agreeing with control clears failure warnings, except
                    // after giving up on the sync that follows enabling
                    // (Go's "just enabled"): that sync never happened.
                    let post_enable = node.sent.last() == Some(&Path::SyncOffer)
                        && h.iter().all(|i| {
                            matches!(i, HealthIssue::SyncFailing | HealthIssue::LockedOut)
                        });
                    if a.head() == c.head() && warned && !post_enable {
                        return Err(format!(
                            "node {n}: agrees with control but still warns {h:?}"
                        ));
                    }
                }
                (Some(_), None) => {
                    if !h.contains(&HealthIssue::NoAuthority) {
                        return Err(format!(
                            "node {n}: control enabled, no authority, no health warning"
                        ));
                    }
                }
                (None, Some(_)) => {
                    if !warned {
                        return Err(format!(
                            "node {n}: control disabled, node still locked with no warning {h:?}"
                        ));
                    }
                }
                (None, None) => {
                    if !h.is_empty() {
                        return Err(format!("node {n}: lock off everywhere but health {h:?}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Nodes whose chain shares an ancestor with control's reach control's
    /// head with one offer and one send.
    fn one_sync(&mut self) -> Res {
        let Some(c) = self.ctl.authority() else {
            return Ok(());
        };
        let chain: BTreeSet<AumHash> = c
            .active_chain_hashes(self.ctl.resp.storage())
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let ids = c.state_ids();
        let eligible: Vec<usize> = (0..self.nodes.len())
            .filter(|n| {
                self.nodes[*n].p.m.authority().is_some_and(|a| {
                    a.state_ids() == ids && chain.contains(&a.oldest_ancestor().hash())
                })
            })
            .collect();
        self.ctl.push_noop(self.now.unix_secs())?;
        if !eligible.is_empty() {
            self.count("one sync checked");
        }
        self.note(format!(
            "one sync: control at {}, eligible {eligible:?}",
            short(&self.ctl.head())
        ));
        for n in 0..self.nodes.len() {
            self.nodes[n].sent.clear();
            let info = self.ctl.info();
            self.feed(n, Input::Event(info))?;
        }
        self.run_quiet()?;
        let head = self.ctl.head();
        for n in eligible {
            let node = &self.nodes[n];
            let got = node.p.m.authority().map(Authority::head);
            if got != Some(head) {
                return Err(format!(
                    "node {n}: one sync left it at {:?}, control at {}",
                    got.map(|h| short(&h)),
                    short(&head)
                ));
            }
            if node.sent != [Path::SyncOffer, Path::SyncSend] {
                return Err(format!("node {n}: one sync took {:?}", node.sent));
            }
        }
        Ok(())
    }

    /// With a dead network and no new input, every node stops after a
    /// bounded number of attempts and its timer goes away.
    fn dead_network_goes_quiet(&mut self) -> Res {
        self.faults = Faults {
            drop_request: 100,
            ..Faults::default()
        };
        if self.ctl.on() {
            self.ctl.push_noop(self.now.unix_secs())?;
        }
        for n in 0..self.nodes.len() {
            self.nodes[n].sent.clear();
            let info = self.ctl.info();
            self.feed(n, Input::Event(info))?;
        }
        self.run_quiet()?;
        for (n, node) in self.nodes.iter().enumerate() {
            if node.sent.len() > node.config.max_attempts as usize {
                return Err(format!(
                    "node {n}: {} requests over a dead network (max attempts {})",
                    node.sent.len(),
                    node.config.max_attempts
                ));
            }
        }
        Ok(())
    }
}

/// Whether two actions are the same, ignoring whether a peer is admitted
/// (which differs between enforce and observe mode).
fn same_action(a: &Action, b: &Action) -> bool {
    match (a, b) {
        (
            Action::SendRequest { id, path, body },
            Action::SendRequest {
                id: i2,
                path: p2,
                body: b2,
            },
        ) => id == i2 && path == p2 && body == b2,
        (Action::Persist(x), Action::Persist(y)) => x == y,
        (Action::RemoveAllState, Action::RemoveAllState) => true,
        (Action::AuthorityRemoved, Action::AuthorityRemoved) => true,
        (Action::PersistDisallowedStateIds(x), Action::PersistDisallowedStateIds(y)) => x == y,
        (
            Action::AuthorityInstalled { head, keys, .. },
            Action::AuthorityInstalled {
                head: h2, keys: k2, ..
            },
        )
        | (
            Action::AuthorityChanged { head, keys },
            Action::AuthorityChanged { head: h2, keys: k2 },
        ) => head == h2 && keys == k2,
        (Action::PeerVerdict(x), Action::PeerVerdict(y)) => {
            x.node_id == y.node_id && x.node_key == y.node_key && x.verdict == y.verdict
        }
        (Action::HealthChanged(x), Action::HealthChanged(y)) => x == y,
        _ => false,
    }
}

fn sorted(s: &MemStorage) -> (Vec<AumHash>, Option<AumHash>) {
    let mut v = s.all_aums().unwrap();
    v.sort();
    (v, s.last_active_ancestor().unwrap())
}

/// Runs one seeded case of `steps` random steps and the end-of-case checks.
fn run_case(seed: u64, steps: usize, verbose: bool) -> Res {
    run_case_stats(seed, steps, verbose).map(|_| ())
}

fn run_case_stats(seed: u64, steps: usize, verbose: bool) -> Res<BTreeMap<&'static str, u64>> {
    let mut sim = Sim::new(seed, verbose);
    let result = (|| {
        for n in 0..sim.nodes.len() {
            sim.netmap(n)?;
        }
        for _ in 0..steps {
            sim.step()?;
        }
        sim.settle_reliably()?;
        sim.one_sync()?;
        sim.dead_network_goes_quiet()
    })();
    if verbose {
        println!("stats: {:?}", sim.stats);
    }
    result.map(|()| sim.stats).map_err(|e| {
        let log: Vec<String> = sim.log.iter().cloned().collect();
        format!(
            "seed {seed:#x} steps {steps}: {e}\n--- last steps ---\n{}",
            log.join("\n")
        )
    })
}

const STEPS: usize = 60;

fn cases() -> u32 {
    std::env::var("TKA_SIM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn seeded_simulation(seed in any::<u64>(), steps in 1..=STEPS) {
        if let Err(e) = run_case(seed, steps, false) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// `TKA_SIM_SEED=<n> [TKA_SIM_STEPS=<n>]` replays one case with its log.
#[test]
fn replay_one_seed() {
    let Some(seed) = std::env::var("TKA_SIM_SEED").ok() else {
        return;
    };
    let seed = match seed.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => seed.parse().unwrap(),
    };
    let steps = std::env::var("TKA_SIM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(STEPS);
    if let Err(e) = run_case(seed, steps, true) {
        panic!("{e}");
    }
}

/// The invariant checks can fail: a persisted model that lost an AUM no
/// longer reopens to the authority, an admitted peer whose signature does
/// not verify is an enforcement failure, and a peer the machine never heard
/// of is noticed.
#[test]
fn invariants_detect_violations() {
    let mut sim = Sim::new(1, false);
    sim.ctl = Ctl::off();
    let mut rng = Rng(ChaCha8Rng::seed_from_u64(9));
    sim.ctl.enable(&mut rng, sim.now.unix_secs());
    sim.faults = Faults::default();
    for n in 0..sim.nodes.len() {
        sim.netmap(n).unwrap();
    }
    sim.run_quiet().unwrap();
    sim.ctl.push_noop(sim.now.unix_secs()).unwrap();
    sim.netmap(0).unwrap();
    sim.run_quiet().unwrap();
    sim.check_all().unwrap();
    // Break the persisted model behind the machine's back.
    let head = sim.nodes[0].p.m.authority().unwrap().head();
    sim.nodes[0].p.store.purge_aums(&[head]).unwrap();
    assert!(sim.check_node(0).unwrap_err().contains("persisted"));
    sim.nodes[0].p.store = sim.nodes[0].o.store.clone();
    sim.check_node(0).unwrap();
    // A peer the machine admitted, whose signature the harness then sees
    // differently: the independent check flags the admission.
    let admitted = sim.nodes[0]
        .peers
        .values()
        .find(|p| !p.unsigned_peer_api_only && sim.nodes[0].p.m.verdicts()[&p.node_id].admits())
        .map(|p| p.node_id);
    if let Some(id) = admitted {
        sim.nodes[0].peers.get_mut(&id).unwrap().signature = Bytes::from_static(b"\xa0");
        assert!(sim.check_node(0).unwrap_err().contains("ENFORCEMENT"));
    }
    // Tell the harness about a peer the machine never saw.
    let mut sim = Sim::new(2, false);
    sim.nodes[0].peers.insert(
        999,
        Peer {
            node_id: 999,
            node_key: NodeKey([7; 32]),
            signature: Bytes::new(),
            unsigned_peer_api_only: false,
        },
    );
    assert!(sim.check_node(0).unwrap_err().contains("verdicts for"));
}

// Seeds that failed during development, kept as plain regression tests.
// They reproduce their scenario only while the harness draws its random
// numbers in the same order; the deterministic regression tests for the
// bugs they found are in tests/machine.rs.

/// Control's head moved while a sync was in flight; the node took itself
/// to be settled for the newer head and never synced to it.
#[test]
fn regression_seed_e6321365f2e3a167() {
    run_case(0xe6321365f2e3a167, 55, false).unwrap();
}

/// A failed sync/send left `SyncFailing` raised after the retry found the
/// node already at control's head.
#[test]
fn regression_seed_3ed445e0a2aec3b1() {
    run_case(0x3ed445e0a2aec3b1, 20, false).unwrap();
}

/// A node gave up on a sync/send while already at control's head and kept
/// `SyncFailing` until control's state changed.
#[test]
fn regression_seed_54caf79ebf7bb0e4() {
    run_case(0x54caf79ebf7bb0e4, 32, false).unwrap();
}

/// A node that refused a disablement and was then locally disabled kept
/// warning `DisablementRejected` with no lock at all.
#[test]
fn regression_seed_efb8ea804257643d() {
    run_case(0xefb8ea804257643d, 50, false).unwrap();
}

/// A local-disable with a request in flight left the node fail-open
/// without the `NoAuthority` warning until the request finished.
#[test]
fn regression_seed_271ba7480f72af0f() {
    run_case(0x271ba7480f72af0f, 35, false).unwrap();
}

/// Not a machine bug: the sync that follows enabling gave up while the
/// heads were equal; `SyncFailing` rightly stays (this pinned down the
/// harness's agreement check).
#[test]
fn regression_seed_ad30a3aa70f651a2() {
    run_case(0xad30a3aa70f651a2, 2, false).unwrap();
}

/// The simulation is not vacuous: over a fixed set of seeds every kind of
/// event it is meant to produce happens at least once. (`NoIntersection` is
/// not among them: `ControlResponder`, like Go's reference control, refuses
/// an offer it cannot intersect, so the node sees a failed request; the
/// `no_intersection` trace covers a control that answers anyway.)
#[test]
fn the_simulation_reaches_every_behaviour() {
    let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
    for seed in 0..150u64 {
        let stats = run_case_stats(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), STEPS, false).unwrap();
        for (k, v) in stats {
            *total.entry(k).or_default() += v;
        }
    }
    for want in [
        "peer refused",
        "rotated away",
        "compaction purged",
        "head changed",
        "fork took over",
        "lock removed by control",
        "lock removed by local-disable",
        "re-enabled",
        "disablement rejected",
        "state id disallowed",
        "locked out",
        "stale answer ignored",
        "request timed out",
        "gave up",
        "failure for an old state",
        "corrupted answer",
        "duplicated answer",
        "restart with authority",
        "one sync checked",
        "save failed",
    ] {
        assert!(
            total.get(want).copied().unwrap_or(0) > 0,
            "never happened: {want}; seen {total:?}"
        );
    }
}

/// A corrupted offer answer that still parsed (its `MissingAUMs` key
/// mangled, so ignored) let a sync complete without consensus; the node
/// logged the desync and settled behind control with no warning.
#[test]
fn regression_seed_728758b83abd268a() {
    run_case(0x728758b83abd268a, 41, false).unwrap();
}

/// A failed save before control's state was known armed a retry that
/// `drive` never consumed (it returned early without control state), so
/// the same past `poll_timeout` came back forever (a hot loop).
#[test]
fn regression_seed_29fbc6cf19addf8b() {
    run_case(0x29fbc6cf19addf8b, 41, false).unwrap();
}

/// A disablement whose first save failed and whose retry succeeded as the
/// last input of the case: the warning clears with the next input.
#[test]
fn regression_seed_8bc3bd819151825d() {
    run_case(0x8bc3bd819151825d, 10, false).unwrap();
}
