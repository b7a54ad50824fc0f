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
//!         Action::Persist(delta) => { /* write delta.committed, delete delta.purged */ let _ = delta; }
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
    Action, Config, Event, HealthIssue, Level, Mode, PeerVerdict, Persisted, RequestId, Time,
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
    emitted: BTreeMap<NodeId, PeerVerdict>,
    /// Peers whose shown verdict must be recomputed by `finish`.
    dirty: BTreeSet<NodeId>,
    /// Every peer's verdict is emitted again by `finish` (mode change).
    emit_all: bool,
    /// Peers refused only because their signer is not trusted (yet).
    untrusted: BTreeSet<NodeId>,
    /// A sync toward control's newer head is in flight: untrusted-signer
    /// refusals are held as pending.
    awaiting_keys: bool,
    /// The control state whose sync already ended (or failed) once: no more
    /// holding for it.
    waited_for: Option<ControlState>,
    health: BTreeSet<HealthIssue>,
    reported_health: BTreeSet<HealthIssue>,
    actions: VecDeque<Action>,
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
        let mut storage = MemStorage::new();
        for (aum, t) in persisted.aums {
            storage.load_persisted(aum, t);
        }
        storage.load_last_active_ancestor(persisted.last_active_ancestor);
        let mut m = TkaMachine {
            config,
            storage,
            authority: None,
            disallowed: persisted.disallowed_state_ids,
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
            awaiting_keys: false,
            waited_for: None,
            health: BTreeSet::new(),
            reported_health: BTreeSet::new(),
            actions: VecDeque::new(),
        };
        if !m.storage.is_empty() {
            match Authority::open(&m.storage) {
                Ok(a) => {
                    m.log(Level::Info, format!("tka initialized at head {}", a.head()));
                    m.actions.push_back(Action::AuthorityInstalled {
                        head: a.head(),
                        keys: a.keys().to_vec(),
                    });
                    m.authority = Some(a);
                }
                Err(e) => {
                    m.log(Level::Warn, format!("opening stored AUMs failed: {e}"));
                    m.health.insert(HealthIssue::StorageUnreadable);
                }
            }
        }
        m.finish();
        m
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

    /// Figures over the current peer set.
    pub fn counters(&self) -> Counters {
        peers::count(&self.verdicts)
    }

    /// Whether a request to control is in flight.
    pub fn exchange_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether peers signed by keys this node does not trust yet are being
    /// held ([`Verdict::Pending`], or their earlier `Authorized` verdict
    /// kept) because a sync toward control's newer head is in flight.
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
        self.config.mode = mode;
        self.emit_all = true;
        self.finish();
    }

    /// Time passed: fires request deadlines and retries.
    pub fn handle_timeout(&mut self, now: Time) {
        self.check_deadline(now);
        self.drive(now);
        self.finish();
    }

    /// Handles one input at time `now`.
    pub fn handle_event(&mut self, now: Time, event: Event) {
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
                // An unchanged netmap (in node-ID order, as control sends
                // it) changes no verdict: skip the sweep entirely.
                let unchanged = list.len() == self.peers.len()
                    && list.iter().zip(self.peers.peers()).all(|(a, b)| a == b);
                if !unchanged {
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
        for id in ids {
            let (Some(checked), Some(peer)) = (self.peers.verdict(id), self.peers.peer(id)) else {
                self.forget_peer(id);
                continue;
            };
            let node_key = peer.node_key;
            let shown = if checked.untrusted_signer() {
                self.untrusted.insert(id);
                match self.emitted.get(&id) {
                    // A peer authorized before (same node key) keeps that
                    // verdict until the sync settles, as Go keeps the last
                    // filtered netmap while it syncs.
                    Some(prev)
                        if awaiting
                            && prev.node_key == node_key
                            && matches!(prev.verdict, Verdict::Authorized(_)) =>
                    {
                        prev.verdict.clone()
                    }
                    _ if awaiting => Verdict::Pending,
                    _ => checked,
                }
            } else {
                self.untrusted.remove(&id);
                checked
            };
            let pv = PeerVerdict {
                node_id: id,
                node_key,
                admitted: observe || shown.admits(),
                verdict: shown.clone(),
            };
            self.verdicts.insert(id, shown);
            if !force && self.emitted.get(&id) == Some(&pv) {
                continue;
            }
            match &pv.verdict {
                Verdict::Rejected(r) => {
                    let verb = if pv.admitted {
                        "would drop"
                    } else {
                        "is dropping"
                    };
                    let why = match r {
                        RejectReason::MissingSignature => "missing signature".to_string(),
                        RejectReason::InvalidSignature(e) => {
                            format!("failed signature check: {e}")
                        }
                        RejectReason::RotatedAway => "key rotation".to_string(),
                    };
                    self.log(
                        Level::Warn,
                        format!("Tailnet lock {verb} peer {} due to {why}", pv.node_id),
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
            self.emitted.insert(id, pv.clone());
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
