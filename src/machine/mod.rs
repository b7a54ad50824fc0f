//! The sans-IO Tailnet Lock driver: events in, actions out.
//!
//! [`TkaMachine`] holds the node's authority (in memory), the peers it has
//! been told about, and the exchange with control in progress. It never
//! reads a clock, draws randomness, does IO or spawns threads: every input
//! comes with the current time, and everything it wants done comes out as
//! an [`Action`].
//!
//! # The drive loop
//!
//! After every call to a `handle_*` method, drain [`TkaMachine::poll_action`]
//! until it returns `None`, carrying out each action; then sleep until
//! [`TkaMachine::poll_timeout`] (if any) and call
//! [`TkaMachine::handle_timeout`]. Time must not go backwards.
//!
//! Store actions ([`Action::Persist`], [`Action::RemoveAllState`],
//! [`Action::PersistDisallowedStateIds`]) must be carried out in order and
//! durably before the next input. If one fails, skip the store actions after
//! it and feed [`Event::PersistFailed`] with what the store holds now,
//! before any other input: the machine reloads from it (so what it trusts
//! is always what is stored), raises [`HealthIssue::PersistFailed`] and
//! retries with backoff. Any other input after a save means the save
//! succeeded. A local disable whose save failed is therefore undone (the
//! stored authority is reloaded and enforced, the failure reported); the
//! user can ask again.
//!
//! Within one netmap, feed [`Event::ControlState`] before the peers, so a
//! sync toward a newer head is already in flight when they are checked
//! (peers signed by a key it may bring are then [`Verdict::Pending`], not
//! dropped; see [`TkaMachine::holding_for_sync`]).
//!
//! ```
//! use tka::machine::{Action, Config, Event, Mode, Persisted, TkaMachine, Time};
//! use tka::NodeKey;
//!
//! let config = Config::new(NodeKey([1; 32]), Mode::Enforce);
//! let mut m = TkaMachine::new(config, Persisted::default(), Time::from_unix_secs(1_700_000_000));
//! // Control's netmap says the lock is enabled at some head.
//! m.handle_event(Time::from_unix_secs(1_700_000_001), Event::ControlState { enabled: true, head: None });
//! while let Some(action) = m.poll_action() {
//!     match action {
//!         Action::SendRequest { id, path, body } => {
//!             // POST-less HTTP GET with `body` to `path` over the control
//!             // channel; feed the answer back with handle_event(Event::Response { .. }).
//!             let _ = (id, path, body);
//!         }
//!         Action::Persist(delta) => {
//!             // Write delta.committed, delete delta.purged; on failure feed
//!             // Event::PersistFailed { reason, stored } before anything else.
//!             let _ = delta;
//!         }
//!         Action::PeerVerdict(v) => { /* admit or drop the peer */ let _ = v; }
//!         _ => {}
//!     }
//! }
//! assert!(m.poll_timeout().is_some()); // the request's deadline
//! ```

mod exchange;
mod peers;
mod record;
mod types;

pub use peers::{Counters, NodeId, Peer, RejectReason, Verdict};
pub use record::StorageDelta;
pub use types::{
    Action, AuthoritySource, Config, Event, HealthIssue, Level, Mode, PeerVerdict, Persisted,
    RequestId, Time,
};

use crate::authority::Authority;
use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::storage::MemStorage;
use crate::sync::SyncOffer;
use crate::wire::{self, Path, ToWire};
use crate::Aum;
use bytes::Bytes;
use peers::PeerSet;
use record::Recording;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ControlState {
    enabled: bool,
    head: Option<AumHash>,
}

#[derive(Clone, Debug)]
enum Pending {
    Bootstrap { enable: bool },
    SyncOffer,
    SyncSend,
}

#[derive(Clone, Debug)]
struct InFlight {
    id: RequestId,
    deadline: Time,
    what: Pending,
    /// Control's state the exchange was started for: an exchange completes
    /// (or gives up) for that state, not for whatever control said since.
    for_state: Option<ControlState>,
}

/// Why an exchange with control stopped.
enum Failure {
    /// Retry with backoff.
    Transient(HealthIssue, String),
    /// Do not retry until control's state changes.
    Terminal(HealthIssue, String),
}

/// The Tailnet Lock state machine for one node. See the module docs for the
/// drive loop.
pub struct TkaMachine {
    config: Config,
    storage: MemStorage,
    authority: Option<Authority>,
    disallowed: Vec<(u64, u64)>,
    control: Option<ControlState>,
    settled_for: Option<ControlState>,
    blocked_for: Option<ControlState>,
    just_enabled: bool,
    in_flight: Option<InFlight>,
    next_id: u64,
    attempts: u32,
    retry_at: Option<Time>,
    peers: PeerSet,
    self_signature: Option<Bytes>,
    /// The verdict shown for every known peer (pending rules applied).
    verdicts: BTreeMap<NodeId, Verdict>,
    /// The node key and admission of the last `PeerVerdict` emitted for
    /// every known peer; its verdict is the one in `verdicts`.
    emitted: BTreeMap<NodeId, (crate::key::NodeKey, bool)>,
    /// Peers whose shown verdict must be recomputed by `finish`.
    dirty: BTreeSet<NodeId>,
    /// Every peer's verdict is emitted again by `finish` (mode change).
    emit_all: bool,
    /// Peers refused only because their signer is not trusted (yet).
    untrusted: BTreeSet<NodeId>,
    /// The authority head under which each peer's shown `Authorized`
    /// verdict was verified: a verdict kept while a sync is pending stands
    /// only while that head is still the node's.
    authorized_at: BTreeMap<NodeId, AumHash>,
    /// A sync toward control's newer head is in flight: untrusted-signer
    /// refusals are held as pending.
    awaiting_keys: bool,
    /// The control state whose sync already ended (or failed) once: no more
    /// holding for it.
    waited_for: Option<ControlState>,
    health: BTreeSet<HealthIssue>,
    reported_health: BTreeSet<HealthIssue>,
    actions: VecDeque<Action>,
    /// A store action was emitted and no `PersistFailed` has come back yet.
    unconfirmed_save: bool,
    sync_attempts: u64,
    sync_failures: u64,
    last_successful_sync: Option<Time>,
}

/// A trusted key as `tlpub:<hex>` (the CLI's form), or its hex for a key
/// of another kind.
fn key_text(k: &crate::Key) -> String {
    let public = k.public.as_deref().unwrap_or_default();
    match <[u8; 32]>::try_from(public) {
        Ok(b) if k.kind == crate::KeyKind::ED25519 => crate::NlPublic(b).to_tlpub(),
        _ => data_encoding::HEXLOWER.encode(public),
    }
}

/// What a status page shows: [`TkaMachine::status`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Observe or enforce.
    pub mode: Mode,
    /// The installed authority's head (base32), if any.
    pub head: Option<String>,
    /// The trusted keys (`tlpub:` text).
    pub keys: Vec<String>,
    /// The current health issues.
    pub health: BTreeSet<HealthIssue>,
    /// Verdict and sync figures.
    pub counters: Counters,
    /// Whether a request to control is in flight.
    pub exchange_in_flight: bool,
    /// Whether peers are held for a sync ([`TkaMachine::holding_for_sync`]).
    pub holding_for_sync: bool,
}

impl fmt::Debug for TkaMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TkaMachine")
            .field("head", &self.authority.as_ref().map(Authority::head))
            .field("peers", &self.peers.len())
            .field("health", &self.health)
            .finish()
    }
}

impl TkaMachine {
    /// A machine from what the embedder persisted. With stored AUMs the
    /// authority is opened at once (signatures are not re-checked: the store
    /// only ever received verified AUMs).
    pub fn new(config: Config, persisted: Persisted, now: Time) -> Self {
        let _ = now;
        let mut m = TkaMachine {
            config,
            storage: MemStorage::new(),
            authority: None,
            disallowed: Vec::new(),
            control: None,
            settled_for: None,
            blocked_for: None,
            just_enabled: false,
            in_flight: None,
            next_id: 1,
            attempts: 0,
            retry_at: None,
            peers: PeerSet::default(),
            self_signature: None,
            verdicts: BTreeMap::new(),
            emitted: BTreeMap::new(),
            dirty: BTreeSet::new(),
            emit_all: false,
            untrusted: BTreeSet::new(),
            authorized_at: BTreeMap::new(),
            awaiting_keys: false,
            waited_for: None,
            health: BTreeSet::new(),
            reported_health: BTreeSet::new(),
            actions: VecDeque::new(),
            unconfirmed_save: false,
            sync_attempts: 0,
            sync_failures: 0,
            last_successful_sync: None,
        };
        m.load(persisted);
        m.finish();
        m
    }

    /// Replaces the in-memory state with what the embedder stored, and
    /// reports how the authority changed.
    fn load(&mut self, persisted: Persisted) {
        let before = self.authority.take().map(|a| a.head());
        let mut storage = MemStorage::new();
        for (aum, t) in persisted.aums {
            storage.load_persisted(aum, t);
        }
        storage.load_last_active_ancestor(persisted.last_active_ancestor);
        self.storage = storage;
        self.disallowed = persisted.disallowed_state_ids;
        self.health.remove(&HealthIssue::StorageUnreadable);
        if !self.storage.is_empty() {
            match Authority::open(&self.storage) {
                Ok(a) => {
                    self.log(Level::Info, format!("tka initialized at head {}", a.head()));
                    let (head, keys) = (a.head(), a.keys().to_vec());
                    match before {
                        None => self.actions.push_back(Action::AuthorityInstalled {
                            head,
                            keys,
                            source: AuthoritySource::Loaded,
                        }),
                        Some(h) if h != head => self
                            .actions
                            .push_back(Action::AuthorityChanged { head, keys }),
                        Some(_) => {}
                    }
                    self.authority = Some(a);
                    return;
                }
                Err(e) => {
                    self.log(Level::Warn, format!("opening stored AUMs failed: {e}"));
                    self.health.insert(HealthIssue::StorageUnreadable);
                }
            }
        }
        if before.is_some() {
            self.actions.push_back(Action::AuthorityRemoved);
        }
    }

    /// The store could not apply what the machine asked: reload from what it
    /// holds and try the exchange again later.
    fn on_persist_failed(&mut self, now: Time, reason: String, stored: Persisted) {
        self.unconfirmed_save = false;
        self.log(
            Level::Warn,
            format!("saving tailnet lock state failed: {reason}; reloading what is stored"),
        );
        self.in_flight = None;
        self.settled_for = None;
        self.just_enabled = false;
        self.load(stored);
        if self.authority.is_none() {
            self.health.remove(&HealthIssue::LockedOut);
        }
        self.reevaluate();
        self.check_self();
        self.health.insert(HealthIssue::PersistFailed);
        let state = self.control;
        self.fail(
            now,
            state,
            Failure::Transient(
                HealthIssue::PersistFailed,
                format!("saving state: {reason}"),
            ),
        );
    }

    /// A snapshot of what a status page shows (serializable).
    pub fn status(&self) -> Status {
        Status {
            mode: self.config.mode,
            head: self.authority.as_ref().map(|a| a.head().to_string()),
            keys: self
                .authority
                .as_ref()
                .map(|a| a.keys().iter().map(key_text).collect())
                .unwrap_or_default(),
            health: self.health.clone(),
            counters: self.counters(),
            exchange_in_flight: self.in_flight.is_some(),
            holding_for_sync: self.awaiting_keys,
        }
    }

    /// A store action the embedder carries out.
    fn save(&mut self, action: Action) {
        self.unconfirmed_save = true;
        self.actions.push_back(action);
    }

    /// An input other than `PersistFailed` arrived: the saves emitted since
    /// the last input succeeded.
    fn confirm_saves(&mut self) {
        if std::mem::take(&mut self.unconfirmed_save) {
            self.health.remove(&HealthIssue::PersistFailed);
        }
    }

    /// The next action, or `None` when there is nothing more to do until
    /// the next input.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`TkaMachine::handle_timeout`] next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Time> {
        let deadline = self.in_flight.as_ref().map(|f| f.deadline);
        match (deadline, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The installed authority, if any.
    pub fn authority(&self) -> Option<&Authority> {
        self.authority.as_ref()
    }

    /// The current verdict of every known peer.
    pub fn verdicts(&self) -> &BTreeMap<NodeId, Verdict> {
        &self.verdicts
    }

    /// Figures over the current peer set, and the exchange with control.
    pub fn counters(&self) -> Counters {
        Counters {
            sync_attempts: self.sync_attempts,
            sync_failures: self.sync_failures,
            last_successful_sync: self.last_successful_sync,
            ..peers::count(&self.verdicts)
        }
    }

    /// The peer with this node ID, as last given.
    pub fn peer(&self, id: NodeId) -> Option<&Peer> {
        self.peers.peer(id)
    }

    /// Whether a request to control is in flight.
    pub fn exchange_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether peers signed by keys this node does not trust yet are being
    /// held ([`Verdict::Pending`], or their earlier `Authorized` verdict
    /// kept while the head it was verified under is still the node's)
    /// because a sync toward control's newer head is in flight.
    pub fn holding_for_sync(&self) -> bool {
        self.awaiting_keys
    }

    /// The current health issues.
    pub fn health(&self) -> &BTreeSet<HealthIssue> {
        &self.health
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.config.mode
    }

    /// Changes the mode; every peer's verdict is emitted again.
    pub fn set_mode(&mut self, now: Time, mode: Mode) {
        let _ = now;
        self.confirm_saves();
        self.config.mode = mode;
        self.emit_all = true;
        self.finish();
    }

    /// Time passed: fires request deadlines and retries.
    pub fn handle_timeout(&mut self, now: Time) {
        self.confirm_saves();
        self.check_deadline(now);
        self.drive(now);
        self.finish();
    }

    /// Handles one input at time `now`.
    pub fn handle_event(&mut self, now: Time, event: Event) {
        if !matches!(event, Event::PersistFailed { .. }) {
            self.confirm_saves();
        }
        self.check_deadline(now);
        match event {
            Event::ControlState { enabled, head } => {
                let c = ControlState { enabled, head };
                if self.control != Some(c) {
                    self.control = Some(c);
                    // New information: try again from scratch; issues from
                    // earlier attempts are re-raised if they recur.
                    for h in [
                        HealthIssue::DisablementRejected,
                        HealthIssue::NoIntersection,
                        HealthIssue::UnrelatedChain,
                        HealthIssue::StateIdDisallowed,
                    ] {
                        self.health.remove(&h);
                    }
                    self.blocked_for = None;
                    self.attempts = 0;
                    self.retry_at = None;
                }
            }
            Event::Response { id, body } => self.on_response(now, id, &body),
            Event::RequestFailed { id, reason } => {
                if let Some((_, sent_for)) = self.take_in_flight(id) {
                    let issue = self.failing_issue();
                    self.fail(now, sent_for, Failure::Transient(issue, reason));
                }
            }
            Event::PeerUpserted(p) => {
                let touched = self.peers.upsert(self.authority.as_ref(), p);
                self.dirty.extend(touched);
            }
            Event::PeerRemoved(id) => {
                let touched = self.peers.remove(id);
                self.forget_peer(id);
                self.dirty.extend(touched);
            }
            Event::PeersReplaced(list) => {
                // Control sends the whole netmap each time, mostly unchanged:
                // apply a small difference (in any order) peer by peer, and
                // rebuild the set (batching the checks) only for a large one.
                let diff = self.peers.diff(&list);
                if diff.upserts.len() + diff.removed.len() <= self.peers.len() / 8 {
                    for id in diff.removed {
                        let touched = self.peers.remove(id);
                        self.forget_peer(id);
                        self.dirty.extend(touched);
                    }
                    let mut upserts = diff.upserts.into_iter().peekable();
                    for (i, p) in list.into_iter().enumerate() {
                        if upserts.next_if_eq(&i).is_some() {
                            let touched = self.peers.upsert(self.authority.as_ref(), p);
                            self.dirty.extend(touched);
                        }
                    }
                } else {
                    let gone: Vec<NodeId> = {
                        let new: BTreeSet<NodeId> = list.iter().map(|p| p.node_id).collect();
                        self.verdicts
                            .keys()
                            .copied()
                            .filter(|id| !new.contains(id))
                            .collect()
                    };
                    for id in gone {
                        self.forget_peer(id);
                    }
                    self.peers.replace(self.authority.as_ref(), list);
                    self.dirty.extend(self.peers.ids());
                }
            }
            Event::SelfSignature(sig) => {
                self.self_signature = Some(sig);
                self.check_self();
            }
            Event::LocalDisable => self.local_disable(),
            Event::PersistFailed { reason, stored } => self.on_persist_failed(now, reason, stored),
        }
        self.drive(now);
        self.finish();
    }

    fn failing_issue(&self) -> HealthIssue {
        if self.authority.is_some() {
            HealthIssue::SyncFailing
        } else {
            HealthIssue::BootstrapFailing
        }
    }

    fn log(&mut self, level: Level, message: String) {
        self.actions.push_back(Action::Log { level, message });
    }

    fn take_in_flight(&mut self, id: RequestId) -> Option<(Pending, Option<ControlState>)> {
        match &self.in_flight {
            Some(f) if f.id == id => self.in_flight.take().map(|f| (f.what, f.for_state)),
            _ => None,
        }
    }

    fn check_deadline(&mut self, now: Time) {
        if let Some(f) = &self.in_flight {
            if now >= f.deadline {
                let (id, sent_for) = (f.id, f.for_state);
                self.in_flight = None;
                let issue = self.failing_issue();
                self.fail(
                    now,
                    sent_for,
                    Failure::Transient(issue, format!("request {} timed out", id.0)),
                );
            }
        }
    }

    fn send(
        &mut self,
        now: Time,
        for_state: Option<ControlState>,
        what: Pending,
        path: Path,
        body: Vec<u8>,
    ) {
        let body = Bytes::from(body);
        if !matches!(what, Pending::SyncSend) {
            // sync/send is the second half of the exchange its offer began.
            self.sync_attempts += 1;
        }
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.in_flight = Some(InFlight {
            id,
            deadline: now.plus_ms(self.config.request_timeout_ms),
            what,
            for_state,
        });
        self.actions
            .push_back(Action::SendRequest { id, path, body });
    }

    fn check_self(&mut self) {
        let locked_out = match (&self.authority, &self.self_signature) {
            (Some(a), Some(sig)) => match a.node_key_authorized(&self.config.node_key, sig) {
                Ok(_) => false,
                // Our signer may be trusted once the sync in flight settles.
                Err(e)
                    if self.awaiting_keys
                        && Verdict::Rejected(RejectReason::InvalidSignature(e.clone()))
                            .untrusted_signer() =>
                {
                    return
                }
                Err(_) => true,
            },
            _ => false,
        };
        if locked_out {
            self.health.insert(HealthIssue::LockedOut);
        } else {
            self.health.remove(&HealthIssue::LockedOut);
        }
    }

    /// The authority changed: every peer is checked again.
    fn reevaluate(&mut self) {
        self.peers.rebuild(self.authority.as_ref());
        self.dirty.extend(self.peers.ids());
    }

    fn forget_peer(&mut self, id: NodeId) {
        self.verdicts.remove(&id);
        self.emitted.remove(&id);
        self.untrusted.remove(&id);
        self.authorized_at.remove(&id);
        self.dirty.remove(&id);
    }

    /// Whether a sync toward control's newer head is in flight, so a peer
    /// signed by a key we do not trust yet may be trusted once it settles
    /// (Go finishes `tkaSyncIfNeeded` before `tkaFilterNetmapLocked`).
    fn sync_may_add_keys(&self) -> bool {
        let (Some(f), Some(c), Some(a)) = (&self.in_flight, self.control, &self.authority) else {
            return false;
        };
        c.enabled
            && matches!(f.what, Pending::SyncOffer | Pending::SyncSend)
            && f.for_state == Some(c)
            && c.head != Some(a.head())
            && self.waited_for != Some(c)
    }

    /// Recomputes the shown verdict of the dirty peers and emits the ones
    /// that changed.
    fn emit_verdicts(&mut self) {
        let awaiting = self.sync_may_add_keys();
        if awaiting != self.awaiting_keys {
            self.awaiting_keys = awaiting;
            self.dirty.extend(self.untrusted.iter().copied());
            self.check_self();
        }
        let ids: Vec<NodeId> = if self.emit_all {
            self.dirty.clear();
            self.peers.ids().collect()
        } else {
            std::mem::take(&mut self.dirty).into_iter().collect()
        };
        let force = std::mem::take(&mut self.emit_all);
        let observe = self.config.mode == Mode::Observe;
        let head = self.authority.as_ref().map(Authority::head);
        for id in ids {
            let (Some(checked), Some(peer)) = (self.peers.verdict(id), self.peers.peer(id)) else {
                self.forget_peer(id);
                continue;
            };
            let node_key = peer.node_key;
            let untrusted = checked.untrusted_signer();
            let shown = if untrusted {
                self.untrusted.insert(id);
                match (self.emitted.get(&id), self.verdicts.get(&id)) {
                    // A peer authorized before (same node key) keeps that
                    // verdict until the sync settles, as Go keeps the last
                    // filtered netmap while it syncs; but only while the
                    // keys that authorized it are still ours: once the sync
                    // has moved the head, the earlier check proves nothing.
                    (Some((prev_key, _)), Some(prev @ Verdict::Authorized(_)))
                        if awaiting
                            && *prev_key == node_key
                            && head.is_some()
                            && self.authorized_at.get(&id) == head.as_ref() =>
                    {
                        prev.clone()
                    }
                    _ if awaiting => Verdict::Pending,
                    _ => checked,
                }
            } else {
                self.untrusted.remove(&id);
                checked
            };
            match (&shown, head) {
                // A kept verdict keeps the head it was verified under.
                (Verdict::Authorized(_), _) if untrusted => {}
                (Verdict::Authorized(_), Some(h)) => {
                    self.authorized_at.insert(id, h);
                }
                _ => {
                    self.authorized_at.remove(&id);
                }
            }
            let pv = PeerVerdict {
                node_id: id,
                node_key,
                admitted: observe || shown.admits(),
                verdict: shown.clone(),
            };
            let prev = self.verdicts.insert(id, shown);
            if !force
                && prev.as_ref() == Some(&pv.verdict)
                && self.emitted.get(&id) == Some(&(node_key, pv.admitted))
            {
                continue;
            }
            match &pv.verdict {
                Verdict::Rejected(r) => {
                    let verb = if pv.admitted {
                        "would drop"
                    } else {
                        "is dropping"
                    };
                    self.log(
                        Level::Warn,
                        format!("Tailnet lock {verb} peer {} due to {r}", pv.node_id),
                    );
                }
                Verdict::Pending => self.log(
                    Level::Info,
                    format!(
                        "Tailnet lock holds peer {}: its signer is not trusted yet and a sync with control is in flight",
                        pv.node_id
                    ),
                ),
                _ => {}
            }
            self.emitted.insert(id, (node_key, pv.admitted));
            self.actions.push_back(Action::PeerVerdict(pv));
        }
    }

    fn finish(&mut self) {
        self.emit_verdicts();
        if self.health != self.reported_health {
            self.reported_health = self.health.clone();
            self.actions
                .push_back(Action::HealthChanged(self.health.clone()));
        }
    }
}
