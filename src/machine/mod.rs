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
//! use tka::machine::{Action, Config, Event, Persisted, TkaMachine, Time};
//! use tka::NodeKey;
//!
//! let mut m = TkaMachine::new(Config::new(NodeKey([1; 32])), Persisted::default(), Time::from_unix_secs(1_700_000_000));
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
use peers::VerdictCache;
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
    peers: BTreeMap<NodeId, Peer>,
    self_signature: Option<Bytes>,
    verdicts: BTreeMap<NodeId, Verdict>,
    emitted: BTreeMap<NodeId, PeerVerdict>,
    cache: VerdictCache,
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
            peers: BTreeMap::new(),
            self_signature: None,
            verdicts: BTreeMap::new(),
            emitted: BTreeMap::new(),
            cache: VerdictCache::default(),
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
        self.emitted.clear();
        self.reevaluate();
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
                self.peers.insert(p.node_id, p);
                self.reevaluate();
            }
            Event::PeerRemoved(id) => {
                self.peers.remove(&id);
                self.emitted.remove(&id);
                self.reevaluate();
            }
            Event::PeersReplaced(list) => {
                // An unchanged netmap (in node-ID order, as control sends
                // it) changes no verdict: skip the sweep entirely.
                let unchanged = list.len() == self.peers.len()
                    && list.iter().zip(self.peers.values()).all(|(a, b)| a == b);
                if unchanged {
                    self.drive(now);
                    self.finish();
                    return;
                }
                self.peers = list.into_iter().map(|p| (p.node_id, p)).collect();
                self.emitted.retain(|id, _| self.peers.contains_key(id));
                self.reevaluate();
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
            (Some(a), Some(sig)) => a.node_key_authorized(&self.config.node_key, sig).is_err(),
            _ => false,
        };
        if locked_out {
            self.health.insert(HealthIssue::LockedOut);
        } else {
            self.health.remove(&HealthIssue::LockedOut);
        }
    }

    /// Recomputes every peer's verdict and emits the ones that changed.
    fn reevaluate(&mut self) {
        self.verdicts = peers::evaluate(self.authority.as_ref(), &self.peers, &mut self.cache);
        let observe = self.config.mode == Mode::Observe;
        let mut out = Vec::new();
        for (id, verdict) in &self.verdicts {
            let Some(peer) = self.peers.get(id) else {
                continue;
            };
            let pv = PeerVerdict {
                node_id: *id,
                node_key: peer.node_key,
                verdict: verdict.clone(),
                admitted: observe || verdict.admits(),
            };
            if self.emitted.get(id) != Some(&pv) {
                out.push(pv);
            }
        }
        for pv in out {
            if let Verdict::Rejected(r) = &pv.verdict {
                let why = match r {
                    RejectReason::MissingSignature => "missing signature".to_string(),
                    RejectReason::InvalidSignature(e) => format!("failed signature check: {e}"),
                    RejectReason::RotatedAway => "key rotation".to_string(),
                };
                let verb = if pv.admitted {
                    "would drop"
                } else {
                    "is dropping"
                };
                self.log(
                    Level::Warn,
                    format!("Tailnet lock {verb} peer {} due to {why}", pv.node_id),
                );
            }
            self.emitted.insert(pv.node_id, pv.clone());
            self.actions.push_back(Action::PeerVerdict(pv));
        }
    }

    fn finish(&mut self) {
        if self.health != self.reported_health {
            self.reported_health = self.health.clone();
            self.actions
                .push_back(Action::HealthChanged(self.health.clone()));
        }
    }
}
