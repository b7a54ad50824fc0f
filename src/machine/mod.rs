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

mod peers;
mod record;

pub use peers::{Counters, NodeId, Peer, RejectReason, Verdict};
pub use record::StorageDelta;

use crate::authority::Authority;
use crate::compact::CompactionOptions;
use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::key::{Key, NodeKey};
use crate::storage::{MemStorage, StoredAum};
use crate::sync::SyncOffer;
use crate::wire::{self, Path, ToWire};
use crate::Aum;
use bytes::Bytes;
use peers::VerdictCache;
use record::Recording;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// Wall-clock time in milliseconds since the Unix epoch, always passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub u64);

impl Time {
    /// From whole seconds since the epoch.
    pub fn from_unix_secs(s: u64) -> Self {
        Time(s.saturating_mul(1000))
    }
    /// Whole seconds since the epoch.
    pub fn unix_secs(self) -> u64 {
        self.0 / 1000
    }
    /// This time plus `ms` milliseconds.
    pub fn plus_ms(self, ms: u64) -> Self {
        Time(self.0.saturating_add(ms))
    }
}

/// Whether rejected peers are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Verify and log: every peer is admitted; verdicts say what enforcement
    /// would have done.
    Observe,
    /// Refuse peers whose verdict rejects them.
    Enforce,
}

/// Settings for a machine.
#[derive(Clone, Debug)]
pub struct Config {
    /// This node's key (sent to control with every request).
    pub node_key: NodeKey,
    /// The capability version sent as `Version` in requests.
    pub capability_version: i64,
    /// Observe or enforce.
    pub mode: Mode,
    /// A request with no answer after this long counts as failed.
    pub request_timeout_ms: u64,
    /// The first retry delay; it doubles on each failure.
    pub retry_initial_ms: u64,
    /// The longest retry delay.
    pub retry_max_ms: u64,
    /// Failures in a row before the machine stops retrying until control's
    /// state changes.
    pub max_attempts: u32,
    /// Compaction after each sync.
    pub compaction: CompactionOptions,
}

impl Config {
    /// Defaults: enforce, capability version 145, 60 s request timeout,
    /// retries from 1 s doubling to 5 min, 8 attempts, Go's compaction.
    pub fn new(node_key: NodeKey) -> Self {
        Config {
            node_key,
            capability_version: 145,
            mode: Mode::Enforce,
            request_timeout_ms: 60_000,
            retry_initial_ms: 1_000,
            retry_max_ms: 300_000,
            max_attempts: 8,
            compaction: CompactionOptions::default(),
        }
    }
}

/// What the embedder persisted from earlier runs.
#[derive(Clone, Debug, Default)]
pub struct Persisted {
    /// Stored AUMs with their commit times (Unix seconds).
    pub aums: Vec<(StoredAum, u64)>,
    /// The last-active-ancestor hint.
    pub last_active_ancestor: Option<AumHash>,
    /// State IDs this node refuses to bootstrap (`lock local-disable`).
    pub disallowed_state_ids: Vec<(u64, u64)>,
}

/// An identifier pairing a request with its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// An input.
#[derive(Clone, Debug)]
pub enum Event {
    /// Control's TKA state from a netmap (`TKAInfo`): enabled (not disabled)
    /// and the head control holds.
    ControlState {
        /// Whether control says the lock is on.
        enabled: bool,
        /// Control's head (`None` for an empty head).
        head: Option<AumHash>,
    },
    /// The body of a response to request `id`.
    Response {
        /// Which request.
        id: RequestId,
        /// The response body (JSON).
        body: Bytes,
    },
    /// Request `id` failed (transport error, non-200 status, ...).
    RequestFailed {
        /// Which request.
        id: RequestId,
        /// Why, for the log.
        reason: String,
    },
    /// A peer was added or changed.
    PeerUpserted(Peer),
    /// A peer left the netmap.
    PeerRemoved(NodeId),
    /// The full peer set, replacing what was known.
    PeersReplaced(Vec<Peer>),
    /// This node's own signature from the netmap's self node.
    SelfSignature(Bytes),
    /// The user ran `lock local-disable`: forget the authority and refuse to
    /// bootstrap its state IDs again.
    LocalDisable,
}

/// A health condition the embedder should surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum HealthIssue {
    /// Control says the lock is on but no authority is installed, so peers
    /// are not filtered (fail-open, as Go).
    NoAuthority,
    /// This node's own signature does not verify: peers that enforce the
    /// lock will refuse it.
    LockedOut,
    /// Bootstrapping from control keeps failing.
    BootstrapFailing,
    /// Syncing with control keeps failing; the last good authority is used.
    SyncFailing,
    /// Control's chain shares no AUM with ours (for example a missed disable
    /// and re-enable); no retry until control's head changes.
    NoIntersection,
    /// Control sent AUMs that do not connect to our chain; no retry until
    /// control's head changes.
    UnrelatedChain,
    /// Control asked to disable the lock but the secret was not valid; the
    /// lock stays on.
    DisablementRejected,
    /// Control's genesis has state IDs this node locally disabled.
    StateIdDisallowed,
    /// The persisted AUMs could not be opened.
    StorageUnreadable,
}

/// How loud a log record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Routine progress.
    Info,
    /// Something the operator should look at.
    Warn,
}

/// An output. Drain with [`TkaMachine::poll_action`] after every input.
#[derive(Clone, Debug)]
pub enum Action {
    /// Send an HTTP GET with this JSON body to `path` on the control
    /// channel, and report the outcome as [`Event::Response`] or
    /// [`Event::RequestFailed`] with the same id.
    SendRequest {
        /// Pairs the response with this request.
        id: RequestId,
        /// Where to send it.
        path: Path,
        /// The JSON body.
        body: Vec<u8>,
    },
    /// Durably apply this change to the persisted AUMs.
    Persist(StorageDelta),
    /// Delete every persisted AUM and hint (the lock was disabled).
    RemoveAllState,
    /// Persist this list of locally disallowed state IDs.
    PersistDisallowedStateIds(Vec<(u64, u64)>),
    /// An authority was installed.
    AuthorityInstalled {
        /// Its head.
        head: AumHash,
        /// Its trusted keys.
        keys: Vec<Key>,
    },
    /// The installed authority's head moved.
    AuthorityChanged {
        /// The new head.
        head: AumHash,
        /// Its trusted keys.
        keys: Vec<Key>,
    },
    /// The authority was removed (disabled): peers are no longer filtered.
    AuthorityRemoved,
    /// A peer's verdict changed (or the mode did).
    PeerVerdict(PeerVerdict),
    /// The set of health issues changed; this is the whole new set.
    HealthChanged(BTreeSet<HealthIssue>),
    /// A log line.
    Log {
        /// How loud.
        level: Level,
        /// The text.
        message: String,
    },
}

/// A peer's verdict and whether it is admitted in the current mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerVerdict {
    /// The peer.
    pub node_id: NodeId,
    /// Its node key.
    pub node_key: NodeKey,
    /// What the checks found.
    pub verdict: Verdict,
    /// Whether the peer may connect: in observe mode always, in enforce mode
    /// as the verdict says.
    pub admitted: bool,
}

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

    /// Starts the next exchange with control, if one is due (Go's
    /// `tkaSyncIfNeeded`).
    fn drive(&mut self, now: Time) {
        let Some(want) = self.control else { return };
        // Fail-open is reported at once, even while a request is in flight
        // or a retry is pending.
        self.update_fail_open(want);
        if self.in_flight.is_some() {
            return;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return;
            }
            self.retry_at = None;
        }
        let agrees = match &self.authority {
            None => !want.enabled,
            Some(a) => want.enabled && !self.just_enabled && want.head == Some(a.head()),
        };
        if agrees {
            // Nothing to do, even after giving up on an earlier exchange
            // (say a sync/send that failed after its offer had brought the
            // node to control's head, or a bootstrap before control turned
            // the lock off): the failure warnings no longer apply.
            self.settled_for = Some(want);
            self.succeed();
            return;
        }
        if self.blocked_for == Some(want) {
            return;
        }
        let is_enabled = self.authority.is_some();
        if is_enabled != want.enabled {
            let head = self.authority.as_ref().map(Authority::head);
            let req = wire::BootstrapRequest {
                version: self.config.capability_version,
                node_key: self.config.node_key,
                head,
            };
            let enable = want.enabled;
            self.send(
                now,
                Some(want),
                Pending::Bootstrap { enable },
                Path::Bootstrap,
                req.to_json(),
            );
            return;
        }
        let Some(a) = &self.authority else {
            return;
        };
        // Heads differ here (or the lock was just enabled). After a sync
        // that completed without consensus, wait for control's next state.
        let needed = self.just_enabled || self.settled_for != Some(want);
        if !needed {
            self.settled_for = Some(want);
        } else {
            match a.sync_offer(&self.storage) {
                Ok(offer) => {
                    let req = wire::SyncOfferRequest {
                        version: self.config.capability_version,
                        node_key: self.config.node_key,
                        head: offer.head,
                        ancestors: Some(offer.ancestors),
                    };
                    self.send(
                        now,
                        Some(want),
                        Pending::SyncOffer,
                        Path::SyncOffer,
                        req.to_json(),
                    );
                }
                Err(e) => self.fail(
                    now,
                    Some(want),
                    Failure::Transient(HealthIssue::SyncFailing, format!("offer: {e}")),
                ),
            }
        }
    }

    fn update_fail_open(&mut self, want: ControlState) {
        if want.enabled && self.authority.is_none() {
            self.health.insert(HealthIssue::NoAuthority);
        } else {
            self.health.remove(&HealthIssue::NoAuthority);
        }
    }

    /// Records a failed exchange that was started for control state
    /// `for_state`.
    fn fail(&mut self, now: Time, for_state: Option<ControlState>, f: Failure) {
        if for_state != self.control {
            // Control's state changed while the exchange ran: the failure
            // says nothing about the new state, which is tried at once.
            let why = match &f {
                Failure::Transient(_, w) | Failure::Terminal(_, w) => w,
            };
            self.log(
                Level::Info,
                format!("TKA sync error: {why}; control's state changed since, trying again"),
            );
            return;
        }
        match f {
            Failure::Transient(issue, why) => {
                self.attempts += 1;
                self.health.insert(issue);
                if self.attempts >= self.config.max_attempts {
                    self.log(
                        Level::Warn,
                        format!("TKA sync error: {why}; giving up until control's state changes"),
                    );
                    self.blocked_for = for_state;
                    self.retry_at = None;
                } else {
                    let shift = (self.attempts - 1).min(30);
                    let delay = self
                        .config
                        .retry_initial_ms
                        .saturating_mul(1u64 << shift)
                        .min(self.config.retry_max_ms);
                    self.log(
                        Level::Warn,
                        format!("TKA sync error: {why}; retrying in {delay} ms"),
                    );
                    self.retry_at = Some(now.plus_ms(delay));
                }
            }
            Failure::Terminal(issue, why) => {
                self.health.insert(issue);
                self.log(Level::Warn, format!("TKA sync error: {why}"));
                self.blocked_for = for_state;
                self.retry_at = None;
            }
        }
    }

    /// An exchange completed, or there is nothing to exchange: every
    /// warning about a failing exchange is cleared.
    fn succeed(&mut self) {
        self.attempts = 0;
        self.retry_at = None;
        for h in [
            HealthIssue::SyncFailing,
            HealthIssue::BootstrapFailing,
            HealthIssue::NoIntersection,
            HealthIssue::UnrelatedChain,
            HealthIssue::DisablementRejected,
            HealthIssue::StateIdDisallowed,
        ] {
            self.health.remove(&h);
        }
    }

    fn on_response(&mut self, now: Time, id: RequestId, body: &[u8]) {
        let Some((what, sent_for)) = self.take_in_flight(id) else {
            self.log(
                Level::Info,
                format!("ignoring response to stale request {}", id.0),
            );
            return;
        };
        let result = match what {
            Pending::Bootstrap { enable } => self.on_bootstrap(now, sent_for, enable, body),
            Pending::SyncOffer => self.on_sync_offer(now, sent_for, body),
            Pending::SyncSend => self.on_sync_send(now, sent_for, body),
        };
        if let Err(f) = result {
            self.fail(now, sent_for, f);
        }
    }

    fn on_bootstrap(
        &mut self,
        now: Time,
        sent_for: Option<ControlState>,
        enable: bool,
        body: &[u8],
    ) -> Result<(), Failure> {
        let resp = wire::parse_response::<wire::BootstrapRequest>(body).map_err(|e| {
            Failure::Transient(self.failing_issue(), format!("bootstrap response: {e}"))
        })?;
        if enable {
            if self.authority.is_some() {
                return Ok(());
            }
            self.bootstrap_from(now, &resp.genesis_aum)
        } else {
            let Some(a) = &self.authority else {
                return Ok(());
            };
            if !resp.disablement_secret.is_empty() && a.valid_disablement(&resp.disablement_secret)
            {
                self.remove_authority();
                self.health.remove(&HealthIssue::DisablementRejected);
                self.log(
                    Level::Info,
                    "tailnet lock disabled by a valid disablement secret".into(),
                );
                self.settled_for = sent_for;
                Ok(())
            } else {
                // Retried with backoff (bounded): control may yet send the
                // right secret, and a wrong one changes nothing.
                Err(Failure::Transient(
                    HealthIssue::DisablementRejected,
                    "Disablement failed, leaving TKA enabled. Error: incorrect disablement secret"
                        .into(),
                ))
            }
        }
    }

    fn bootstrap_from(&mut self, now: Time, genesis_bytes: &[u8]) -> Result<(), Failure> {
        let transient = |why: String| Failure::Transient(HealthIssue::BootstrapFailing, why);
        if genesis_bytes.is_empty() {
            return Err(transient("bootstrap response has no genesis AUM".into()));
        }
        let genesis = Aum::from_cbor(genesis_bytes)
            .map_err(|e| transient(format!("reading genesis: {e}")))?;
        if let Some(st) = &genesis.state {
            if self.disallowed.contains(&(st.state_id1, st.state_id2)) {
                return Err(Failure::Terminal(
                    HealthIssue::StateIdDisallowed,
                    format!(
                        "TKA with stateID of \"{}:{}\" is disallowed on this node",
                        st.state_id1, st.state_id2
                    ),
                ));
            }
        }
        let mut fresh = MemStorage::new();
        let mut rec = Recording::new(&mut fresh);
        let a = Authority::bootstrap(&mut rec, genesis, now.unix_secs())
            .map_err(|e| transient(format!("tka bootstrap: {e}")))?;
        let delta = rec.delta;
        if !self.storage.is_empty() {
            // Stored AUMs that could not be opened: the embedder must drop
            // them too, or its store would not reopen to this authority.
            self.actions.push_back(Action::RemoveAllState);
            self.health.remove(&HealthIssue::StorageUnreadable);
        }
        self.storage = fresh;
        self.actions.push_back(Action::Persist(delta));
        self.actions.push_back(Action::AuthorityInstalled {
            head: a.head(),
            keys: a.keys().to_vec(),
        });
        self.authority = Some(a);
        self.just_enabled = true;
        self.health.remove(&HealthIssue::NoAuthority);
        self.health.remove(&HealthIssue::StateIdDisallowed);
        self.succeed();
        self.reevaluate();
        self.check_self();
        Ok(())
    }

    fn on_sync_offer(
        &mut self,
        now: Time,
        sent_for: Option<ControlState>,
        body: &[u8],
    ) -> Result<(), Failure> {
        let transient = |why: String| Failure::Transient(HealthIssue::SyncFailing, why);
        let resp = wire::parse_response::<wire::SyncOfferRequest>(body)
            .map_err(|e| transient(format!("offer RPC: {e}")))?;
        let Some(a) = self.authority.as_mut() else {
            return Ok(());
        };
        let control_offer = SyncOffer {
            head: resp.head,
            ancestors: resp.ancestors.unwrap_or_default(),
        };
        self.just_enabled = false;
        if control_offer.head == a.head() {
            self.settled_for = sent_for;
            self.succeed();
            return Ok(());
        }
        // What control lacks is computed before anything is applied.
        let to_send = match a.missing_aums(&self.storage, &control_offer) {
            Ok(v) => v.unwrap_or_default(),
            Err(crate::error::SyncError::NoIntersection) => {
                return Err(Failure::Terminal(
                    HealthIssue::NoIntersection,
                    "computing missing AUMs: no intersection with control's chain".into(),
                ))
            }
            Err(e) => return Err(transient(format!("computing missing AUMs: {e}"))),
        };
        let missing = resp.missing_aums.unwrap_or_default();
        if !missing.is_empty() {
            let mut aums = Vec::with_capacity(missing.len());
            for (i, b) in missing.iter().enumerate() {
                let aum =
                    Aum::from_cbor(b).map_err(|e| transient(format!("MissingAUMs[{i}]: {e}")))?;
                aums.push(aum);
            }
            let before = a.head();
            let mut rec = Recording::new(&mut self.storage);
            let informed = a.inform(&mut rec, &aums, now.unix_secs());
            let delta = rec.delta;
            if let Err(e) = informed {
                let unrelated = matches!(
                    e,
                    AuthorityError::UpdateState { .. } | AuthorityError::UpdateMissingParent(_)
                );
                let why = format!("inform failed: {e}");
                return Err(if unrelated {
                    Failure::Terminal(HealthIssue::UnrelatedChain, why)
                } else {
                    transient(why)
                });
            }
            if !delta.is_empty() {
                self.actions.push_back(Action::Persist(delta));
            }
            if a.head() != before {
                let (head, keys) = (a.head(), a.keys().to_vec());
                self.actions
                    .push_back(Action::AuthorityChanged { head, keys });
                self.reevaluate();
                self.check_self();
            }
        }
        let Some(a) = self.authority.as_ref() else {
            return Ok(());
        };
        let req = wire::SyncSendRequest {
            version: self.config.capability_version,
            node_key: self.config.node_key,
            head: a.head(),
            missing_aums: Some(to_send.iter().map(|s| s.aum().to_cbor()).collect()),
            interactive: false,
        };
        self.send(
            now,
            sent_for,
            Pending::SyncSend,
            Path::SyncSend,
            req.to_json(),
        );
        Ok(())
    }

    fn on_sync_send(
        &mut self,
        now: Time,
        sent_for: Option<ControlState>,
        body: &[u8],
    ) -> Result<(), Failure> {
        let resp = wire::parse_response::<wire::SyncSendRequest>(body)
            .map_err(|e| Failure::Transient(HealthIssue::SyncFailing, format!("send RPC: {e}")))?;
        let Some(a) = self.authority.as_mut() else {
            return Ok(());
        };
        let desync = (resp.head != a.head()).then(|| {
            format!(
                "TKA desync: expected consensus after sync but our head is {} and the control plane's is {}",
                a.head(),
                resp.head
            )
        });
        let mut rec = Recording::new(&mut self.storage);
        let compacted = a.compact(&mut rec, now.unix_secs(), self.config.compaction);
        let delta = rec.delta;
        if let Err(e) = compacted {
            self.log(Level::Warn, format!("tka compact: {e}"));
        } else if !delta.is_empty() {
            self.actions.push_back(Action::Persist(delta));
        }
        if let Some(msg) = desync {
            // Not an error for Go either, but Go syncs again at the next
            // netmap since its head still differs; retrying with backoff
            // does the same here instead of settling silently behind.
            return Err(Failure::Transient(HealthIssue::SyncFailing, msg));
        }
        self.settled_for = sent_for;
        self.succeed();
        Ok(())
    }

    fn remove_authority(&mut self) {
        self.authority = None;
        self.storage = MemStorage::new();
        self.just_enabled = false;
        self.actions.push_back(Action::RemoveAllState);
        self.actions.push_back(Action::AuthorityRemoved);
        self.health.remove(&HealthIssue::LockedOut);
        self.reevaluate();
    }

    fn local_disable(&mut self) {
        let Some(a) = &self.authority else { return };
        let ids = a.state_ids();
        if !self.disallowed.contains(&ids) {
            self.disallowed.push(ids);
        }
        self.actions
            .push_back(Action::PersistDisallowedStateIds(self.disallowed.clone()));
        self.log(
            Level::Warn,
            format!(
                "tailnet lock locally disabled for state {}:{}",
                ids.0, ids.1
            ),
        );
        self.remove_authority();
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
