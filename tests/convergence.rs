//! Convergence: for two stores that share an ancestor, one sync exchange
//! (offer and send, exactly as the client drives it against control) leaves
//! both on the same head, and that head is the one a single store holding
//! every AUM would choose.
//!
//! The exchange, as the client does it (Go's `tkaSyncLocked`):
//!
//! 1. the node sends its offer; control answers with its own offer and the
//!    AUMs it computes the node lacks;
//! 2. the node computes what control lacks from control's offer, *before*
//!    applying anything;
//! 3. the node informs control's AUMs;
//! 4. the node sends its AUMs; control informs them and answers with its
//!    head.
//!
//! The cases: a shared linear history (up to 993 AUMs), one side up to 1,000
//! AUMs ahead of the other on that line, random forks near both tips (which
//! may or may not beat the long line), stale losing branches anywhere below
//! the tips, and optionally one side compacted with Go's defaults (24 AUMs,
//! 14 days) at a `now` when the shared history is 15 days old; sometimes the
//! node sends Go's legacy offer. The long line is signed once and shared by
//! every case; stores are loaded from it as persisted (unverified) records,
//! so only the exchange itself verifies signatures.
//!
//! Where Go's limits make the property fail, a deterministic test below
//! shows the boundary (`*_boundary` tests), and
//! `compacted_side_converges_or_reports_no_intersection` explores past it.
//!
//! PROPTEST_CASES overrides every property's case count.

use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use tka::builder::Signer;
use tka::compact::CompactionOptions;
use tka::control::{ControlError, ControlResponder};
use tka::wire::{self, Path, Rpc};
use tka::{
    Aum, AumHash, AumKind, Authority, AuthorityError, MemStorage, NlPrivate, NodeKey, State,
    StoredAum, SyncError, SyncOffer, Time,
};

const DAY: u64 = 86_400;
/// "Now" for every case: compaction and the exchange run at this time.
const NOW: u64 = 20_000 * DAY;
/// Commit time of old AUMs: older than Go's 14-day minimum age.
const OLD: u64 = NOW - 15 * DAY;
/// Commit time of young AUMs: within the minimum age.
const FRESH: u64 = NOW - DAY;

/// The shared line: positions 0 (genesis) ..= LINE_LAST.
const LINE_LAST: usize = MAX_SHARED + MAX_AHEAD;
/// A checkpoint every this many AUMs on the line (as the builder does).
const EVERY: usize = 50;
/// Most shared AUMs after the genesis: with a side [`MAX_AHEAD`] ahead and a
/// fork [`FORK_DEPTH`] deep on top, the longest chain is then exactly 2,000
/// AUMs, the most Go's `Open` and `Inform` can walk.
const MAX_SHARED: usize = 2000 - 1 - MAX_AHEAD - FORK_DEPTH;
/// Most AUMs one side is ahead of the other.
const MAX_AHEAD: usize = 1000;
/// Forks attach to one of the last this-many-plus-one line AUMs of a side.
const FORK_REACH: usize = 3;
/// Deepest fork (AUMs above the line).
const FORK_DEPTH: usize = 6;

const NODE: NodeKey = NodeKey([0x4e; 32]);
const CAP_VERSION: i64 = 130;

/// Signer pool: 0, 1 and 2 are trusted at genesis (1, 2 and 1 votes); 3 can
/// be added by a fork.
fn keys() -> &'static [NlPrivate] {
    static KEYS: OnceLock<Vec<NlPrivate>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..4u8)
            .map(|i| NlPrivate::from_seed(&[0xc0 + i; 32]))
            .collect()
    })
}

/// The line's signer: 2 votes, so a fork needs two signers, or key 1 and
/// a lower hash, to beat it.
const LINE_SIGNER: usize = 1;

/// A long linear chain, signed once: NoOps by one key, a checkpoint every
/// [`EVERY`] AUMs.
struct Line {
    genesis_state: State,
    aums: Vec<StoredAum>,
}

impl Line {
    fn build(genesis_state: State, signer: &NlPrivate, last: usize) -> Line {
        let mut g = Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(genesis_state.clone()),
            ..Default::default()
        };
        g.signatures = Some(signer.sign_aum(&g.sig_hash()));
        let mut aums = vec![StoredAum::new(g)];
        for i in 1..=last {
            let prev = Some(aums[i - 1].hash().0.to_vec());
            let mut aum = if i % EVERY == 0 {
                Aum {
                    message_kind: AumKind::CHECKPOINT,
                    prev_aum_hash: prev,
                    state: Some(genesis_state.clone()),
                    ..Default::default()
                }
            } else {
                Aum {
                    message_kind: AumKind::NO_OP,
                    prev_aum_hash: prev,
                    ..Default::default()
                }
            };
            aum.signatures = Some(signer.sign_aum(&aum.sig_hash()));
            aums.push(StoredAum::new(aum));
        }
        Line {
            genesis_state,
            aums,
        }
    }

    fn hash(&self, i: usize) -> AumHash {
        self.aums[i].hash()
    }

    /// The state after line AUM `i` (the line never changes the keys).
    fn state_at(&self, i: usize) -> State {
        let mut s = self.genesis_state.clone();
        s.last_aum_hash = Some(self.hash(i));
        s
    }

    /// A store holding line AUMs `0..=upto` committed at `time`, plus
    /// `extra`, as the embedder would load them from disk.
    fn store(&self, upto: usize, time: u64, extra: &[(StoredAum, u64)]) -> MemStorage {
        let mut s = MemStorage::new();
        for a in &self.aums[..=upto] {
            s.load_persisted(a.clone(), time);
        }
        for (a, t) in extra {
            s.load_persisted(a.clone(), *t);
        }
        s.load_last_active_ancestor(Some(self.hash(0)));
        s
    }
}

fn line() -> &'static Line {
    static LINE: OnceLock<Line> = OnceLock::new();
    LINE.get_or_init(|| {
        let k = keys();
        let state = State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![0xd5; 32])]),
            keys: Some(vec![k[0].to_key(1), k[1].to_key(2), k[2].to_key(1)]),
            state_id1: 0x5eed,
            state_id2: 0xc0de,
        };
        Line::build(state, &k[LINE_SIGNER], LINE_LAST)
    })
}

/// A chain unrelated to [`line`]: another genesis, other state IDs.
fn other_line() -> &'static Line {
    static OTHER: OnceLock<Line> = OnceLock::new();
    OTHER.get_or_init(|| {
        let k = keys();
        let state = State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![0xd6; 32])]),
            keys: Some(vec![k[3].to_key(1), k[1].to_key(1)]),
            state_id1: 0xbad,
            state_id2: 0xf00d,
        };
        Line::build(state, &k[3], 1200)
    })
}

/// A tiny deterministic generator driven by a proptest seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
}

/// A generated AUM off the line, with the state after it.
struct Grown {
    aum: StoredAum,
    state: State,
    depth: usize,
    time: u64,
    /// Part of a [`stale_branch`].
    stale: bool,
}

fn trusted(state: &State) -> Vec<usize> {
    keys()
        .iter()
        .enumerate()
        .filter(|(_, k)| state.key(&k.public().0).is_some())
        .map(|(i, _)| i)
        .collect()
}

fn sign_with(mut aum: Aum, signers: &[usize]) -> Aum {
    let sh = aum.sig_hash();
    let mut sigs = Vec::new();
    for &s in signers {
        sigs.extend(keys()[s].sign_aum(&sh));
    }
    aum.signatures = Some(sigs);
    aum
}

/// A random valid AUM on top of `parent_state` (whose last AUM is its
/// parent), signed by one or two distinct trusted keys.
fn random_update(rng: &mut Rng, parent_state: &State) -> Aum {
    let pool = keys();
    let tr = trusted(parent_state);
    let untr: Vec<usize> = (0..pool.len()).filter(|i| !tr.contains(i)).collect();
    let mut aum = Aum {
        prev_aum_hash: Some(parent_state.last_aum_hash.unwrap().0.to_vec()),
        ..Default::default()
    };
    match rng.below(6) {
        0 if !untr.is_empty() => {
            let k = untr[rng.below(untr.len())];
            aum.message_kind = AumKind::ADD_KEY;
            aum.key = Some(pool[k].to_key(1 + rng.below(2) as u64));
        }
        1 if tr.len() > 1 => {
            let k = tr[rng.below(tr.len())];
            aum.message_kind = AumKind::REMOVE_KEY;
            aum.key_id = Some(pool[k].public().0.to_vec());
        }
        2 => {
            let k = tr[rng.below(tr.len())];
            aum.message_kind = AumKind::UPDATE_KEY;
            aum.key_id = Some(pool[k].public().0.to_vec());
            aum.votes = Some(1 + rng.below(3) as u64);
        }
        3 => {
            let mut st = parent_state.clone();
            st.last_aum_hash = None;
            aum.message_kind = AumKind::CHECKPOINT;
            aum.state = Some(st);
        }
        _ => aum.message_kind = AumKind::NO_OP,
    }
    let first = tr[rng.below(tr.len())];
    let mut signers = vec![first];
    if rng.chance(1, 2) {
        let second = tr[rng.below(tr.len())];
        // Distinct signers (a repeated one is refused, SPEC §5.2), in one
        // order, so no two generated AUMs are signature variants of each
        // other and this crate's fork choice is exactly Go's here.
        if second != first {
            signers.push(second);
            signers.sort_unstable();
        }
    }
    sign_with(aum, &signers)
}

fn grow_on(parent_state: &State, aum: Aum, depth: usize, time: u64) -> Grown {
    let aum = StoredAum::new(aum);
    let mut state = parent_state.clone();
    state
        .apply(aum.aum(), aum.hash())
        .expect("generated AUMs apply");
    Grown {
        aum,
        state,
        depth,
        time,
        stale: false,
    }
}

/// `n` random AUMs forking off the line near `tip` (attached to one of line
/// AUMs `tip - FORK_REACH ..= tip` or to an earlier fork AUM, at most
/// [`FORK_DEPTH`] deep). They may beat the line.
fn forks(rng: &mut Rng, tip: usize, n: usize, seen: &mut HashSet<AumHash>) -> Vec<Grown> {
    let l = line();
    let low = tip.saturating_sub(FORK_REACH);
    let mut out: Vec<Grown> = Vec::new();
    for _ in 0..n {
        let pick = rng.below(tip - low + 1 + out.len());
        let (parent_state, depth) = match pick.checked_sub(tip - low + 1) {
            Some(j) if out[j].depth < FORK_DEPTH => (out[j].state.clone(), out[j].depth + 1),
            Some(_) => (l.state_at(tip), 1),
            None => (l.state_at(low + pick), 1),
        };
        let aum = random_update(rng, &parent_state);
        if !seen.insert(aum.hash()) {
            continue;
        }
        let time = if rng.chance(1, 2) { FRESH } else { OLD };
        out.push(grow_on(&parent_state, aum, depth, time));
    }
    out
}

/// A short branch attached anywhere below `tip`, signed by a one-vote key
/// alone: it always loses to the line (two votes). Mostly young, so that
/// compaction has to keep it and move its oldest ancestor back.
fn stale_branch(rng: &mut Rng, tip: usize, seen: &mut HashSet<AumHash>) -> Vec<Grown> {
    if tip == 0 {
        return Vec::new();
    }
    let l = line();
    let at = rng.below(tip);
    let time = if rng.chance(3, 4) { FRESH } else { OLD };
    let mut state = l.state_at(at);
    let mut out = Vec::new();
    for depth in 1..=1 + rng.below(3) {
        let signer = if rng.chance(1, 2) { 0 } else { 2 };
        let mut aum = Aum {
            message_kind: AumKind::NO_OP,
            prev_aum_hash: Some(state.last_aum_hash.unwrap().0.to_vec()),
            ..Default::default()
        };
        if rng.chance(1, 3) {
            aum.message_kind = AumKind::UPDATE_KEY;
            aum.key_id = Some(keys()[signer].public().0.to_vec());
            aum.votes = Some(1 + rng.below(4) as u64);
        }
        let aum = sign_with(aum, &[signer]);
        if !seen.insert(aum.hash()) {
            break;
        }
        let mut g = grow_on(&state, aum, depth, time);
        g.stale = true;
        state = g.state.clone();
        out.push(g);
    }
    out
}

/// Go's fork choice computed directly over every AUM in `all`: from the
/// genesis, repeatedly take the child with the most votes from distinct
/// signers trusted at the parent, then RemoveKey, then the lowest hash.
fn reference_head(
    genesis_state: &State,
    genesis: AumHash,
    all: &HashMap<AumHash, StoredAum>,
) -> (AumHash, State) {
    let mut children: HashMap<AumHash, Vec<&StoredAum>> = HashMap::new();
    for a in all.values() {
        if let Some(p) = a.parent() {
            children.entry(p).or_default().push(a);
        }
    }
    let weight = |a: &StoredAum, state: &State| -> u64 {
        let mut ids: Vec<&[u8]> = a
            .aum()
            .signatures()
            .iter()
            .map(|s| s.key_id.as_deref().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        ids.iter()
            .filter_map(|id| state.key(id).map(|k| k.votes))
            .sum()
    };
    let mut state = genesis_state.clone();
    state.last_aum_hash = Some(genesis);
    let mut cur = genesis;
    while let Some(kids) = children.get(&cur) {
        let best = kids
            .iter()
            .max_by_key(|a| {
                (
                    weight(a, &state),
                    a.aum().message_kind == AumKind::REMOVE_KEY,
                    std::cmp::Reverse(a.hash()),
                )
            })
            .unwrap();
        state.apply(best.aum(), best.hash()).unwrap();
        cur = best.hash();
    }
    (cur, state)
}

/// Why an exchange stopped (the errors are read through `Debug` in
/// failure messages).
#[derive(Debug)]
#[allow(dead_code)]
enum Stop {
    /// Control refused the offer or the send.
    Control(ControlError),
    /// The node could not compute what control lacks.
    Node(SyncError),
    /// The node could not apply control's AUMs.
    NodeInform(AuthorityError),
}

/// What one exchange did.
#[derive(Debug)]
struct Exchanged {
    /// AUMs control sent the node.
    to_node: usize,
    /// AUMs the node sent control (`None`: heads matched, nothing sent).
    to_control: Option<usize>,
    /// Control's head as it answered the send.
    control_head: Option<AumHash>,
}

/// One offer exchange plus one send, as the client drives it, through
/// control's JSON handler.
fn exchange(
    node: &mut Authority,
    node_store: &mut MemStorage,
    control: &mut ControlResponder<MemStorage>,
) -> Result<Exchanged, Stop> {
    exchange_seen(node, node_store, control, false, &mut Vec::new())
}

/// [`exchange`], recording the offers sent (the node's, then control's).
/// With `legacy`, the node sends the offer Go sent before 2026-04-17.
fn exchange_seen(
    node: &mut Authority,
    node_store: &mut MemStorage,
    control: &mut ControlResponder<MemStorage>,
    legacy: bool,
    offers: &mut Vec<SyncOffer>,
) -> Result<Exchanged, Stop> {
    let offer = if legacy {
        node.legacy_sync_offer(node_store)
    } else {
        node.sync_offer(node_store)
    }
    .expect("node offer");
    offers.push(offer.clone());
    let req = wire::SyncOfferRequest {
        version: CAP_VERSION,
        node_key: NODE,
        head: offer.head,
        ancestors: Some(offer.ancestors),
    };
    let body = control
        .handle(Path::SyncOffer, &req.body(), Time::from_unix_secs(NOW))
        .map_err(Stop::Control)?;
    let resp = wire::parse_response::<wire::SyncOfferRequest>(&body).expect("offer response");
    let control_offer = SyncOffer {
        head: resp.head,
        ancestors: resp.ancestors.unwrap_or_default(),
    };
    offers.push(control_offer.clone());
    let from_control: Vec<Aum> = resp
        .missing_aums
        .unwrap_or_default()
        .iter()
        .map(|b| Aum::from_cbor(b).expect("control's AUMs decode"))
        .collect();
    if control_offer.head == node.head() {
        return Ok(Exchanged {
            to_node: from_control.len(),
            to_control: None,
            control_head: None,
        });
    }
    // What control lacks, computed before anything is applied.
    let to_send = node
        .missing_aums(node_store, &control_offer)
        .map_err(Stop::Node)?
        .unwrap_or_default();
    if !from_control.is_empty() {
        node.inform(node_store, &from_control, NOW)
            .map_err(Stop::NodeInform)?;
    }
    let send = wire::SyncSendRequest {
        version: CAP_VERSION,
        node_key: NODE,
        head: node.head(),
        missing_aums: Some(to_send.iter().map(|a| a.aum().to_cbor()).collect()),
        interactive: false,
    };
    let body = control
        .handle(Path::SyncSend, &send.body(), Time::from_unix_secs(NOW))
        .map_err(Stop::Control)?;
    let resp = wire::parse_response::<wire::SyncSendRequest>(&body).expect("send response");
    Ok(Exchanged {
        to_node: from_control.len(),
        to_control: Some(to_send.len()),
        control_head: Some(resp.head),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Compact {
    None,
    /// The side that is behind was compacted.
    Behind,
    /// The side that is ahead was compacted.
    Ahead,
}

#[derive(Clone, Debug)]
struct Params {
    /// Line AUMs both sides hold after the genesis.
    shared: usize,
    /// Line AUMs only the ahead side holds.
    ahead_by: usize,
    node_is_ahead: bool,
    compact: Compact,
    /// The node sends Go's legacy (pre-2026-04-17) offer.
    legacy_node_offer: bool,
    forks_ahead: usize,
    forks_behind: usize,
    stale_ahead: usize,
    stale_behind: usize,
    seed: u64,
}

/// One side before the exchange.
struct SideSetup {
    store: MemStorage,
    authority: Authority,
}

fn setup_side(tip: usize, extra: &[Grown], compact: bool) -> Result<SideSetup, TestCaseError> {
    let l = line();
    // A young stale branch keeps the history below it.
    let pinned = extra.iter().any(|g| g.stale && g.time == FRESH);
    let extra: Vec<(StoredAum, u64)> = extra.iter().map(|g| (g.aum.clone(), g.time)).collect();
    let mut store = l.store(tip, OLD, &extra);
    let mut authority = Authority::open(&store).expect("side opens");
    if compact {
        let before = store.len();
        let head = authority.head();
        let state = authority.state().clone();
        authority
            .compact(&mut store, NOW, CompactionOptions::default())
            .expect("compaction");
        prop_assert_eq!(authority.head(), head);
        // Compaction really purges: a long old history shrinks.
        if tip >= 2 * EVERY && !pinned {
            prop_assert!(store.len() < before, "nothing purged from {before}");
            prop_assert_ne!(authority.oldest_ancestor().hash(), l.hash(0));
        }
        // The compacted store reopens on the same chain.
        let reopened = Authority::open(&store);
        prop_assert!(
            reopened.is_ok(),
            "compacted store does not reopen: {:?}",
            reopened.err()
        );
        let reopened = reopened.unwrap();
        prop_assert_eq!(reopened.head(), head);
        prop_assert_eq!(reopened.state(), &state);
    }
    Ok(SideSetup { store, authority })
}

/// How a case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ended {
    /// Both sides on the reference head.
    Converged,
    /// Control found nothing in the node's offer on its active chain.
    NoIntersectionAtControl,
    /// The node found nothing in control's offer on its active chain.
    NoIntersectionAtNode,
}

/// Builds the case, runs one exchange and checks it. The exchange must
/// converge on the reference head, or stop with `NoIntersection` on a side
/// whose active chain holds none of the AUMs the other side offered
/// (Go's offer could not reveal a common AUM), with nothing changed. Any
/// other error fails the case.
fn run_case(p: &Params) -> Result<Ended, TestCaseError> {
    let l = line();
    let behind_tip = p.shared;
    let ahead_tip = p.shared + p.ahead_by;
    let mut rng = Rng(p.seed | 1);
    let mut seen: HashSet<AumHash> = l.aums[..=ahead_tip].iter().map(|a| a.hash()).collect();
    let mut ahead_extra = forks(&mut rng, ahead_tip, p.forks_ahead, &mut seen);
    let mut behind_extra = forks(&mut rng, behind_tip, p.forks_behind, &mut seen);
    for _ in 0..p.stale_ahead {
        ahead_extra.extend(stale_branch(&mut rng, ahead_tip, &mut seen));
    }
    for _ in 0..p.stale_behind {
        behind_extra.extend(stale_branch(&mut rng, behind_tip, &mut seen));
    }

    // The reference: one store holding every AUM.
    let mut all: HashMap<AumHash, StoredAum> = l.aums[..=ahead_tip]
        .iter()
        .map(|a| (a.hash(), a.clone()))
        .collect();
    for g in ahead_extra.iter().chain(&behind_extra) {
        all.insert(g.aum.hash(), g.aum.clone());
    }
    let (want_head, want_state) = reference_head(&l.genesis_state, l.hash(0), &all);

    let ahead = setup_side(ahead_tip, &ahead_extra, p.compact == Compact::Ahead)?;
    let behind = setup_side(behind_tip, &behind_extra, p.compact == Compact::Behind)?;
    let (node, control) = if p.node_is_ahead {
        (ahead, behind)
    } else {
        (behind, ahead)
    };
    let SideSetup {
        store: mut node_store,
        authority: mut node_auth,
    } = node;
    let mut control =
        ControlResponder::enabled(control.store, l.aums[0].aum().clone()).expect("control opens");

    let on_chain = |a: &Authority, s: &MemStorage| -> HashSet<AumHash> {
        a.active_chain_hashes(s).unwrap().into_iter().collect()
    };
    let node_chain = on_chain(&node_auth, &node_store);
    let control_chain = on_chain(control.authority().unwrap(), control.storage());
    let (node_head, node_len) = (node_auth.head(), node_store.len());
    let (control_head, control_len) =
        (control.authority().unwrap().head(), control.storage().len());
    let shares = |o: &SyncOffer, chain: &HashSet<AumHash>| {
        std::iter::once(&o.head)
            .chain(&o.ancestors)
            .any(|h| chain.contains(h))
    };

    let mut offers = Vec::new();
    let done = match exchange_seen(
        &mut node_auth,
        &mut node_store,
        &mut control,
        p.legacy_node_offer,
        &mut offers,
    ) {
        Ok(done) => done,
        Err(stop) => {
            let ended = match &stop {
                Stop::Control(ControlError::Sync(SyncError::NoIntersection)) => {
                    prop_assert!(
                        !shares(&offers[0], &control_chain),
                        "control found no intersection with an offer it shares: {:?}",
                        p
                    );
                    Ended::NoIntersectionAtControl
                }
                Stop::Node(SyncError::NoIntersection) => {
                    prop_assert!(
                        !shares(&offers[1], &node_chain),
                        "node found no intersection with an offer it shares: {:?}",
                        p
                    );
                    Ended::NoIntersectionAtNode
                }
                other => {
                    return Err(TestCaseError::fail(format!("exchange failed: {other:?}")));
                }
            };
            prop_assert_eq!(node_auth.head(), node_head);
            prop_assert_eq!(node_store.len(), node_len);
            prop_assert_eq!(control.authority().unwrap().head(), control_head);
            prop_assert_eq!(control.storage().len(), control_len);
            return Ok(ended);
        }
    };
    let control_auth = control.authority().unwrap();
    prop_assert_eq!(node_auth.head(), want_head, "node head ({:?})", done);
    prop_assert_eq!(control_auth.head(), want_head, "control head ({:?})", done);
    if let Some(h) = done.control_head {
        prop_assert_eq!(h, want_head);
    }
    prop_assert_eq!(node_auth.state(), &want_state);
    prop_assert_eq!(control_auth.state(), &want_state);

    // Both stores reopen on that head.
    prop_assert_eq!(Authority::open(&node_store).unwrap().head(), want_head);
    prop_assert_eq!(
        Authority::open(control.storage()).unwrap().head(),
        want_head
    );

    // The client compacts after the send; that keeps the head.
    node_auth
        .compact(&mut node_store, NOW, CompactionOptions::default())
        .expect("node compaction after sync");
    prop_assert_eq!(node_auth.head(), want_head);
    prop_assert_eq!(Authority::open(&node_store).unwrap().head(), want_head);

    // A second exchange finds both up to date: nothing moves either way.
    let again = exchange(&mut node_auth, &mut node_store, &mut control);
    prop_assert!(again.is_ok(), "second exchange failed: {:?}", again.err());
    let again = again.unwrap();
    prop_assert_eq!(again.to_node, 0);
    prop_assert_eq!(again.to_control, None);
    Ok(Ended::Converged)
}

/// Cases come from PROPTEST_CASES when set, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// How far ahead one side is: often near the 1,000 boundary.
fn ahead_by() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => 0..=40usize,
        3 => 0..=MAX_AHEAD,
        2 => (MAX_AHEAD - 30)..=MAX_AHEAD,
        1 => Just(MAX_AHEAD),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    (
        prop_oneof![0..=80usize, 0..=MAX_SHARED],
        ahead_by(),
        any::<bool>(),
        prop_oneof![
            Just(Compact::None),
            Just(Compact::Behind),
            Just(Compact::Ahead)
        ],
        (0..=6usize, 0..=6usize, 0..=2usize, 0..=2usize),
        (any::<u64>(), prop::bool::weighted(0.25)),
    )
        .prop_map(
            |(shared, ahead_by, node_is_ahead, compact, forks, (seed, legacy))| {
                // Stay inside Go's limits (see the boundary tests):
                // - a compacted side ahead keeps only about 24 to 73 AUMs, so the
                //   other side's fork point must be inside that window;
                // - a compacted side behind must keep an AUM that the other
                //   side's offer (a 1,000-AUM walk from its head) lists.
                let ahead_by = match compact {
                    Compact::Ahead => ahead_by % 15,
                    Compact::Behind => ahead_by.min(900),
                    Compact::None => ahead_by,
                };
                // A legacy offer (4, 16, 64 and 256 back, then the oldest) from
                // an older node only reaches into a compacted control's window
                // when the node is close; keep it to uncompacted controls here.
                let control_compacted = match compact {
                    Compact::None => false,
                    Compact::Ahead => !node_is_ahead,
                    Compact::Behind => node_is_ahead,
                };
                Params {
                    shared,
                    ahead_by,
                    node_is_ahead,
                    compact,
                    legacy_node_offer: legacy && !control_compacted,
                    forks_ahead: forks.0,
                    forks_behind: forks.1,
                    stale_ahead: forks.2,
                    stale_behind: forks.3,
                    seed,
                }
            },
        )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn one_exchange_converges_on_the_reference_head(p in params()) {
        prop_assert_eq!(run_case(&p)?, Ended::Converged);
    }
}

/// Beyond the strict region: one side compacted and the other up to 1,000
/// AUMs ahead (compacted side behind) or up to 120 ahead (compacted side
/// ahead). Each case must converge, or stop with `NoIntersection` exactly
/// where Go's offers cannot show a common AUM (see [`run_case`]); both
/// outcomes must occur, so the boundary is really crossed.
#[test]
fn compacted_side_converges_or_reports_no_intersection() {
    let far = prop_oneof![0..=MAX_AHEAD, (MAX_AHEAD - 100)..=MAX_AHEAD];
    let strategy = (params(), any::<bool>(), far, 0..=120usize, any::<bool>()).prop_map(
        |(mut p, behind, far, near, legacy)| {
            p.legacy_node_offer = legacy;
            if behind {
                p.compact = Compact::Behind;
                p.ahead_by = far;
            } else {
                p.compact = Compact::Ahead;
                p.ahead_by = near;
            }
            p
        },
    );
    let seen: std::cell::RefCell<HashMap<(Compact, Ended), usize>> = Default::default();
    let mut runner = proptest::test_runner::TestRunner::new(config(64));
    let result = runner.run(&strategy, |p| {
        let ended = run_case(&p)?;
        *seen.borrow_mut().entry((p.compact, ended)).or_default() += 1;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    let count = |f: &dyn Fn(&Ended) -> bool| -> usize {
        seen.iter().filter(|((_, e), _)| f(e)).map(|(_, n)| n).sum()
    };
    assert!(
        count(&|e| *e == Ended::Converged) > 0 && count(&|e| *e != Ended::Converged) > 0,
        "the boundary was not crossed: {seen:?}"
    );
}

proptest! {
    #![proptest_config(config(24))]

    /// Unrelated chains: the exchange stops with `NoIntersection` on
    /// control's side, and neither store changes; the node, asked
    /// directly, says the same.
    #[test]
    fn unrelated_chains_report_no_intersection(
        node_tip in prop_oneof![0..=20usize, 0..=1200usize],
        control_tip in prop_oneof![0..=20usize, 0..=1200usize],
        node_on_other in any::<bool>(),
        node_forks in 0..=4usize,
        seed in any::<u64>(),
    ) {
        let (nl, cl) = if node_on_other { (other_line(), line()) } else { (line(), other_line()) };
        let mut rng = Rng(seed | 1);
        let mut seen = HashSet::new();
        // Forks only on the main line (the generator grows from it).
        let extra: Vec<(StoredAum, u64)> = if node_on_other {
            Vec::new()
        } else {
            forks(&mut rng, node_tip.min(LINE_LAST), node_forks, &mut seen)
                .into_iter()
                .map(|g| (g.aum, g.time))
                .collect()
        };
        let mut node_store = nl.store(node_tip, OLD, &extra);
        let mut node_auth = Authority::open(&node_store).unwrap();
        let control_store = cl.store(control_tip, OLD, &[]);
        let mut control = ControlResponder::enabled(control_store, cl.aums[0].aum().clone()).unwrap();
        let (node_head, control_head) = (node_auth.head(), control.authority().unwrap().head());
        let (node_len, control_len) = (node_store.len(), control.storage().len());

        let r = exchange(&mut node_auth, &mut node_store, &mut control);
        prop_assert!(
            matches!(r, Err(Stop::Control(ControlError::Sync(SyncError::NoIntersection)))),
            "got {:?}", r
        );
        let control_offer = control.authority().unwrap().sync_offer(control.storage()).unwrap();
        prop_assert_eq!(
            node_auth.missing_aums(&node_store, &control_offer),
            Err(SyncError::NoIntersection)
        );
        prop_assert_eq!(node_auth.head(), node_head);
        prop_assert_eq!(control.authority().unwrap().head(), control_head);
        prop_assert_eq!(node_store.len(), node_len);
        prop_assert_eq!(control.storage().len(), control_len);
    }
}

/// Fixed corners of the property, so they run every time: exactly 1,000
/// behind (the head walk no longer finds the node's head; the tail
/// intersection must), either way round, with the longest shared history.
#[test]
fn exactly_a_thousand_behind_either_way() {
    for node_is_ahead in [false, true] {
        for shared in [0, 1, 49, 50, MAX_SHARED] {
            let p = Params {
                shared,
                ahead_by: MAX_AHEAD,
                node_is_ahead,
                compact: Compact::None,
                legacy_node_offer: false,
                forks_ahead: 0,
                forks_behind: 0,
                stale_ahead: 0,
                stale_behind: 0,
                seed: 1,
            };
            let ended = run_case(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert_eq!(ended, Ended::Converged, "{p:?}");
        }
    }
}

/// Builds the node (line `0..=node_tip`) and control (line
/// `0..=control_tip`), compacting whichever is asked at [`NOW`].
fn pair(
    node_tip: usize,
    control_tip: usize,
    compact_node: bool,
    compact_control: bool,
) -> (Authority, MemStorage, ControlResponder<MemStorage>) {
    let l = line();
    let mut ns = l.store(node_tip, OLD, &[]);
    let mut na = Authority::open(&ns).unwrap();
    if compact_node {
        na.compact(&mut ns, NOW, CompactionOptions::default())
            .unwrap();
    }
    let mut cs = l.store(control_tip, OLD, &[]);
    if compact_control {
        let mut ca = Authority::open(&cs).unwrap();
        ca.compact(&mut cs, NOW, CompactionOptions::default())
            .unwrap();
    }
    let control = ControlResponder::enabled(cs, l.aums[0].aum().clone()).unwrap();
    (na, ns, control)
}

/// Boundary (Go's limits): a compacted node far behind control cannot say
/// what control lacks. Go's offer lists only checkpoints within 1,000 AUMs
/// of the head, plus the oldest ancestor; once the node's compacted window
/// (here line AUMs 450..=520) falls below that walk, nothing control offers
/// is stored on the node, and the node stops with `NoIntersection` before
/// applying the AUMs control sent — even though they would apply.
/// Uncompacted, the same node converges; 979 behind, compacted, too.
#[test]
fn compacted_node_far_behind_boundary() {
    let l = line();
    let node_tip = 520;

    // 979 behind: control's offer still lists checkpoint 500.
    let (mut na, mut ns, mut control) = pair(node_tip, node_tip + 979, true, false);
    assert_eq!(na.oldest_ancestor().hash(), l.hash(450));
    let done = exchange(&mut na, &mut ns, &mut control).unwrap();
    assert_eq!(done.to_node, 979);
    assert_eq!(na.head(), l.hash(node_tip + 979));
    assert_eq!(control.authority().unwrap().head(), na.head());

    // 980 behind: checkpoint 500 is 1,000 AUMs below control's head, one
    // past the walk.
    let (mut na, mut ns, mut control) = pair(node_tip, node_tip + 980, true, false);
    let control_offer = {
        let a = control.authority().unwrap();
        a.sync_offer(control.storage()).unwrap()
    };
    assert!(!control_offer.ancestors.contains(&l.hash(500)));
    assert_eq!(*control_offer.ancestors.last().unwrap(), l.hash(0));
    let r = exchange(&mut na, &mut ns, &mut control);
    assert!(
        matches!(r, Err(Stop::Node(SyncError::NoIntersection))),
        "{r:?}"
    );
    assert_eq!(na.head(), l.hash(node_tip), "nothing applied");
    // Control did find the node (head intersection) and sent 980 AUMs,
    // which would have applied cleanly.
    let offer = na.sync_offer(&ns).unwrap();
    let sent = control
        .authority()
        .unwrap()
        .missing_aums(control.storage(), &offer)
        .unwrap()
        .unwrap();
    assert_eq!(sent.len(), 980);
    let aums: Vec<Aum> = sent.iter().map(|a| a.aum().clone()).collect();
    let (mut probe, mut probe_store) = (na.clone(), ns.clone());
    probe.inform(&mut probe_store, &aums, NOW).unwrap();
    assert_eq!(probe.head(), l.hash(node_tip + 980));

    // Uncompacted, the same node converges (through its genesis).
    let (mut na, mut ns, mut control) = pair(node_tip, node_tip + 980, false, false);
    exchange(&mut na, &mut ns, &mut control).unwrap();
    assert_eq!(na.head(), l.hash(node_tip + 980));
    assert_eq!(control.authority().unwrap().head(), na.head());
}

/// Boundary: control compacted with the client's defaults forgets what a
/// node behind its window last saw. At the window's oldest ancestor the
/// node converges; one AUM further behind, control answers the offer with
/// `NoIntersection` (never a hang or an empty success) and nothing changes.
#[test]
fn compacted_control_window_boundary() {
    let l = line();
    let control_tip = 600;
    let (_, _, probe) = pair(0, control_tip, false, true);
    let oldest = probe.authority().unwrap().oldest_ancestor().hash();
    let k = (0..=control_tip).find(|&i| l.hash(i) == oldest).unwrap();
    assert!(k > 0 && k < control_tip - 23, "window starts at {k}");

    let (mut na, mut ns, mut control) = pair(k, control_tip, false, true);
    exchange(&mut na, &mut ns, &mut control).unwrap();
    assert_eq!(na.head(), l.hash(control_tip));
    assert_eq!(control.authority().unwrap().head(), na.head());

    let (mut na, mut ns, mut control) = pair(k - 1, control_tip, false, true);
    let before = control.storage().len();
    let r = exchange(&mut na, &mut ns, &mut control);
    assert!(
        matches!(
            r,
            Err(Stop::Control(ControlError::Sync(SyncError::NoIntersection)))
        ),
        "{r:?}"
    );
    assert_eq!(na.head(), l.hash(k - 1));
    assert_eq!(control.storage().len(), before);
}

/// Unrelated chains of every size in the test set, both ways, through the
/// control responder: always `NoIntersection`.
#[test]
fn unrelated_long_chains_report_no_intersection() {
    for (nt, ct) in [(0, 0), (1200, 0), (0, 1200), (1200, 1200), (1000, 999)] {
        for node_on_other in [false, true] {
            let (nl, cl) = if node_on_other {
                (other_line(), line())
            } else {
                (line(), other_line())
            };
            let mut ns = nl.store(nt, OLD, &[]);
            let mut na = Authority::open(&ns).unwrap();
            let mut control =
                ControlResponder::enabled(cl.store(ct, OLD, &[]), cl.aums[0].aum().clone())
                    .unwrap();
            let r = exchange(&mut na, &mut ns, &mut control);
            assert!(
                matches!(
                    r,
                    Err(Stop::Control(ControlError::Sync(SyncError::NoIntersection)))
                ),
                "{nt} {ct}: {r:?}"
            );
        }
    }
}

/// Boundary (Go's 2,000-step limits): a chain of exactly 2,000 AUMs (993
/// shared, 1,000 ahead, a 6-AUM fork on top) still syncs in one exchange;
/// one AUM more and the ahead side cannot even be opened, so a side 1,000
/// behind with more shared history needs compaction first.
#[test]
fn two_thousand_aum_chain_boundary() {
    let l = line();
    let tip = MAX_SHARED + MAX_AHEAD;
    let mut top = Vec::new();
    let mut parent = l.state_at(tip);
    for _ in 0..=FORK_DEPTH {
        let aum = sign_with(
            Aum {
                message_kind: AumKind::NO_OP,
                prev_aum_hash: Some(parent.last_aum_hash.unwrap().0.to_vec()),
                ..Default::default()
            },
            &[0],
        );
        let g = grow_on(&parent, aum, 0, OLD);
        parent = g.state.clone();
        top.push((g.aum, g.time));
    }
    // 2,000 AUMs: genesis, 1,993 line AUMs, 6 on top.
    let cs = l.store(tip, OLD, &top[..FORK_DEPTH]);
    assert_eq!(cs.len(), 2000);
    let mut control = ControlResponder::enabled(cs, l.aums[0].aum().clone()).unwrap();
    let mut ns = l.store(MAX_SHARED, OLD, &[]);
    let mut na = Authority::open(&ns).unwrap();
    let done = exchange(&mut na, &mut ns, &mut control).unwrap();
    let want = top[FORK_DEPTH - 1].0.hash();
    assert_eq!(na.head(), want);
    assert_eq!(control.authority().unwrap().head(), want);
    assert_eq!(done.control_head, Some(want));
    assert_eq!(Authority::open(&ns).unwrap().head(), want);

    // 2,001: Open gives up.
    let cs = l.store(tip, OLD, &top);
    assert_eq!(
        Authority::open(&cs).err(),
        Some(AuthorityError::IterationLimit(2000))
    );
}
