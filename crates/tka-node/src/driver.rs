//! The tokio driver: one task owns the machine, the store and the
//! transport; a cloneable [`NodeHandle`] feeds it and watches it.
//!
//! The task waits for the next of: a command from a handle, a response from
//! control, or the machine's timer. After every input it drains the
//! machine's actions: storage changes become one atomic [`DirStore::save`],
//! requests are sent on the transport (each in its own task), verdicts,
//! health and the head are published on watch channels.
//!
//! # Failed saves
//!
//! When a save fails, the store drops it and reads the disk again
//! ([`DirStore::reload`]), and the machine is fed [`Event::PersistFailed`]
//! with what the store now holds: it reloads from that (so what it trusts
//! is what is stored), raises [`HealthIssue::PersistFailed`] and retries
//! its exchange with control with backoff; the retry saves again. The
//! requests of the failed step are not sent, and what the step changed is
//! published only together with the reload, so the peer filter never
//! shows a state the disk does not hold. Once a later save succeeds the
//! driver confirms it to the machine at once (with a timer input), which
//! clears the health issue.
//!
//! # Time
//!
//! The machine's clock is the wall clock read once at start (never earlier
//! than the latest time the store recorded, so stored commit times are never
//! in the machine's future) plus tokio's monotonic clock since then: it
//! never goes backwards, and a test can pause it.

use crate::record::{Input, Recorder};
use crate::store::{Change, DirStore};
use crate::trace;
use crate::transport::{Transport, TransportError};
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tka::machine::{
    Action, Config, Counters, Event, HealthIssue, Mode, NodeId, Peer, PeerVerdict, Persisted,
    RequestId, Time, TkaMachine,
};
use tka::wire::{Path, TkaInfo};
use tka::{AumHash, NodeKey};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A netmap from control, as far as Tailnet Lock reads it.
#[derive(Clone, Debug, Default)]
pub struct Netmap {
    /// The map response's `TKAInfo`. Go's rule: absent in the first map
    /// response means the lock is off; absent later means unchanged.
    pub tka_info: Option<TkaInfo>,
    /// This node's own key signature (`SelfNode.KeySignature`), if any.
    pub self_signature: Option<Bytes>,
    /// Every peer (in node-ID order, as control sends them).
    pub peers: Vec<Peer>,
}

/// What the driver adds to the machine's health.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// The machine's issues.
    pub issues: BTreeSet<HealthIssue>,
    /// Why the last save failed, while the machine reports
    /// [`HealthIssue::PersistFailed`] for it.
    pub persist_error: Option<String>,
    /// Why the last map's `TKAInfo` head did not parse, if it did not (the
    /// lock was then taken as off for that map, as Go does).
    pub bad_tka_info: Option<String>,
}

impl Health {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.issues.is_empty() && self.persist_error.is_none() && self.bad_tka_info.is_none()
    }
}

/// Figures for a status page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Verdict counts over the current peers.
    pub verdicts: Counters,
    /// Requests sent to control.
    pub requests: u64,
    /// Requests that failed (transport error, non-200, timeout).
    pub request_failures: u64,
    /// When a request last succeeded.
    pub last_response: Option<SystemTime>,
    /// Saves to the store that failed.
    pub persist_failures: u64,
    /// Inputs fed to the machine.
    pub inputs: u64,
}

/// Why the driver did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// No mode was given and the store has none: the mode is never
    /// defaulted.
    ModeNotChosen,
    /// Saving the chosen mode failed.
    Store(crate::store::StoreError),
    /// The recording file could not be written.
    Record(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::ModeNotChosen => {
                f.write_str("no mode chosen: pass observe or enforce at first start")
            }
            StartError::Store(e) => write!(f, "saving the mode: {e}"),
            StartError::Record(e) => write!(f, "opening the recording: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The driver stopped (shut down, or its task ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the tailnet lock driver has stopped")
    }
}

impl std::error::Error for Stopped {}

/// Why a change asked of the driver ([`NodeHandle::set_mode`],
/// [`NodeHandle::local_disable`]) did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeError {
    /// The driver stopped.
    Stopped,
    /// Saving the change failed, so it was not made: the node goes on with
    /// what is stored (see [`Health::persist_error`]); ask again later.
    NotSaved(String),
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::Stopped => Stopped.fmt(f),
            ChangeError::NotSaved(why) => write!(f, "not saved, so not changed: {why}"),
        }
    }
}

impl std::error::Error for ChangeError {}

impl From<Stopped> for ChangeError {
    fn from(_: Stopped) -> Self {
        ChangeError::Stopped
    }
}

/// Starts a driver: `Node::new(node_key).mode(Mode::Observe).start(store,
/// transport)`.
#[derive(Debug)]
pub struct Node {
    config: Config,
    mode: Option<Mode>,
    record: Option<PathBuf>,
}

impl Node {
    /// A driver for the node with this key, with the machine's default
    /// settings (see [`Node::configure`]).
    pub fn new(node_key: NodeKey) -> Self {
        Node {
            // The machine's mode is a placeholder here: `start` replaces it
            // with the mode chosen by `Node::mode` or saved in the store.
            config: Config::new(node_key, Mode::Observe),
            mode: None,
            record: None,
        }
    }

    /// Chooses the mode and saves it in the store. Without this the mode
    /// saved by an earlier start is used; with neither, [`Node::start`]
    /// fails.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Adjusts the machine's settings (timeouts, retries, compaction). The
    /// mode set here is ignored: see [`Node::mode`].
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Records every input to the machine to this file (JSON lines, see
    /// [`crate::record`]), replacing it.
    pub fn record_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.record = Some(path.into());
        self
    }

    /// Spawns the driver task on the current tokio runtime.
    pub fn start<T: Transport>(
        self,
        mut store: DirStore,
        transport: T,
    ) -> Result<NodeHandle, StartError> {
        let mode = match (self.mode, store.mode()) {
            (Some(m), stored) => {
                if stored != Some(m) {
                    let now = wall_now_secs().max(store.latest_time());
                    store
                        .save(vec![Change::Mode(m)], now)
                        .map_err(StartError::Store)?;
                }
                m
            }
            (None, Some(m)) => m,
            (None, None) => return Err(StartError::ModeNotChosen),
        };
        let mut config = self.config;
        config.mode = mode;
        let clock = Clock::start(store.latest_time());
        let start = clock.now();
        let persisted = store.persisted();
        let recorder = match &self.record {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(StartError::Record)?;
                let out = Box::new(std::io::BufWriter::new(file));
                Some(Recorder::new(out, &config, &persisted, start).map_err(StartError::Record)?)
            }
            None => None,
        };
        let machine = TkaMachine::new(config, persisted, start);
        let (tx, rx) = mpsc::channel(256);
        let (verdicts_tx, verdicts) = watch::channel(HashMap::new());
        let (health_tx, health) = watch::channel(Health::default());
        let (head_tx, head) = watch::channel(None);
        let (stats_tx, stats) = watch::channel(Stats::default());
        let (mode_tx, mode_rx) = watch::channel(mode);
        let mut task = Task {
            machine,
            store: Some(store),
            transport: Arc::new(transport),
            clock,
            in_flight: JoinSet::new(),
            recorder,
            tka_info: tka::netmap::TkaInfoStream::new(),
            verdicts: verdicts_tx,
            health: health_tx,
            head: head_tx,
            stats: stats_tx,
            mode: mode_tx,
        };
        task.settle(None);
        tokio::spawn(task.run(rx));
        Ok(NodeHandle {
            tx,
            verdicts,
            health,
            head,
            stats,
            mode: mode_rx,
        })
    }
}

fn wall_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The machine's clock: wall time at start plus tokio's monotonic time.
#[derive(Clone, Copy, Debug)]
struct Clock {
    wall0_ms: u64,
    inst0: Instant,
}

impl Clock {
    fn start(not_before_secs: u64) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            wall0_ms: wall.max(not_before_secs.saturating_mul(1000)),
            inst0: Instant::now(),
        }
    }

    fn now(&self) -> Time {
        Time(self.wall0_ms + self.inst0.elapsed().as_millis() as u64)
    }

    fn instant(&self, t: Time) -> Instant {
        self.inst0 + Duration::from_millis(t.0.saturating_sub(self.wall0_ms))
    }
}

enum Command {
    Netmap(Netmap),
    Input(Input),
    LocalDisable(oneshot::Sender<Result<(), ChangeError>>),
    SetMode(Mode, oneshot::Sender<Result<(), ChangeError>>),
    Shutdown(oneshot::Sender<DirStore>),
}

/// A handle on a running driver; clone it freely. Dropping every handle
/// stops the driver.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    tx: mpsc::Sender<Command>,
    verdicts: watch::Receiver<HashMap<NodeId, PeerVerdict>>,
    health: watch::Receiver<Health>,
    head: watch::Receiver<Option<AumHash>>,
    stats: watch::Receiver<Stats>,
    mode: watch::Receiver<Mode>,
}

impl NodeHandle {
    async fn send(&self, c: Command) -> Result<(), Stopped> {
        self.tx.send(c).await.map_err(|_| Stopped)
    }

    /// Feeds a full netmap: control's `TKAInfo`, this node's signature and
    /// the whole peer list.
    pub async fn netmap(&self, netmap: Netmap) -> Result<(), Stopped> {
        self.send(Command::Netmap(netmap)).await
    }

    /// A peer was added or changed (a netmap delta, e.g. a `KeySignature`
    /// patch).
    pub async fn peer_upserted(&self, peer: Peer) -> Result<(), Stopped> {
        self.send(Command::Input(Input::Event(Event::PeerUpserted(peer))))
            .await
    }

    /// A peer left the netmap.
    pub async fn peer_removed(&self, node_id: NodeId) -> Result<(), Stopped> {
        self.send(Command::Input(Input::Event(Event::PeerRemoved(node_id))))
            .await
    }

    /// Changes the mode: saved in the store first, then applied; returns
    /// once applied (or, if the save failed, not applied).
    pub async fn set_mode(&self, mode: Mode) -> Result<(), ChangeError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::SetMode(mode, tx)).await?;
        rx.await.map_err(|_| ChangeError::Stopped)?
    }

    /// `lock local-disable`: forget the authority and refuse its state IDs
    /// from now on (saved); returns once applied. If the save fails the
    /// authority stays (the machine reloads what is stored) and this says
    /// why.
    pub async fn local_disable(&self) -> Result<(), ChangeError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::LocalDisable(tx)).await?;
        rx.await.map_err(|_| ChangeError::Stopped)?
    }

    /// Whether peer `node_id` may connect now (`None` if it is not in the
    /// netmap). A read of a shared map: call it per packet path decision.
    pub fn admitted(&self, node_id: NodeId) -> Option<bool> {
        self.verdicts.borrow().get(&node_id).map(|v| v.admitted)
    }

    /// Every current peer's verdict; `changed()` on it wakes on changes.
    pub fn verdicts(&self) -> watch::Receiver<HashMap<NodeId, PeerVerdict>> {
        self.verdicts.clone()
    }

    /// Health: the machine's issues and the driver's.
    pub fn health(&self) -> watch::Receiver<Health> {
        self.health.clone()
    }

    /// The authority's head, `None` without an authority.
    pub fn head(&self) -> watch::Receiver<Option<AumHash>> {
        self.head.clone()
    }

    /// What to send as `TKAHead` in map requests: the head's text, or empty.
    pub fn tka_head(&self) -> String {
        self.head
            .borrow()
            .map(|h| h.to_string())
            .unwrap_or_default()
    }

    /// Counters.
    pub fn stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// The current mode.
    pub fn current_mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Stops the driver: requests in flight are abandoned, the recording is
    /// flushed. Returns the store (which holds what the machine holds).
    pub async fn shutdown(&self) -> Result<DirStore, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Shutdown(tx)).await?;
        rx.await.map_err(|_| Stopped)
    }
}

type Completion = (RequestId, Path, Instant, Result<Bytes, TransportError>);

struct Task<T: Transport> {
    machine: TkaMachine,
    store: Option<DirStore>,
    transport: Arc<T>,
    clock: Clock,
    in_flight: JoinSet<Completion>,
    recorder: Option<Recorder>,
    tka_info: tka::netmap::TkaInfoStream,
    verdicts: watch::Sender<HashMap<NodeId, PeerVerdict>>,
    health: watch::Sender<Health>,
    head: watch::Sender<Option<AumHash>>,
    stats: watch::Sender<Stats>,
    mode: watch::Sender<Mode>,
}

impl<T: Transport> Task<T> {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let timer = self.machine.poll_timeout().map(|t| self.clock.instant(t));
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    if let Command::Shutdown(reply) = cmd {
                        self.shutdown(reply);
                        return;
                    }
                    self.command(cmd);
                }
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    if let Ok(done) = done {
                        self.completed(done);
                    }
                }
                () = sleep_until(timer), if timer.is_some() => {
                    self.feed(Input::Timeout);
                }
            }
        }
        if let Some(r) = self.recorder.as_mut() {
            let _ = r.flush();
        }
    }

    fn shutdown(&mut self, reply: oneshot::Sender<DirStore>) {
        self.in_flight.abort_all();
        if let Some(r) = self.recorder.as_mut() {
            let _ = r.flush();
        }
        if let Some(store) = self.store.take() {
            let _ = reply.send(store);
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Netmap(nm) => self.netmap(nm),
            Command::Input(i) => {
                self.feed(i);
            }
            Command::LocalDisable(ack) => {
                let failed = self.feed(Input::Event(Event::LocalDisable));
                let _ = ack.send(failed.map_or(Ok(()), |why| Err(ChangeError::NotSaved(why))));
            }
            Command::SetMode(mode, ack) => {
                // The mode is the driver's setting, not the machine's: it is
                // saved first and applied only once saved.
                let result = self.save(vec![Change::Mode(mode)]);
                if result.is_ok() {
                    self.feed(Input::Mode(mode));
                    let _ = self.mode.send(mode);
                }
                let _ = ack.send(result.map_err(|(why, _)| ChangeError::NotSaved(why)));
            }
            Command::Shutdown(_) => {}
        }
    }

    fn netmap(&mut self, nm: Netmap) {
        // Go's rules, from the core's glue: no TKAInfo in the first map
        // means the lock is off, later it means nothing changed; a head that
        // does not parse turns the lock off for this map, as Go's netmap
        // does. Such a head is also shown in health until a map brings a
        // good one.
        match nm.tka_info.as_ref().map(|info| (info, info.head_hash())) {
            Some((info, Err(e))) => {
                let why = format!("TKAInfo head {:?}: {e}", info.head);
                trace::warn_bad_tka_info(&why);
                self.health.send_modify(|h| h.bad_tka_info = Some(why));
            }
            Some((_, Ok(_))) => {
                self.health
                    .send_if_modified(|h| h.bad_tka_info.take().is_some());
            }
            None => {}
        }
        let control = self.tka_info.next(nm.tka_info.as_ref());
        // Control's state first, so a sync toward a newer head is in
        // flight when the peers are checked: peers signed by a key it may
        // bring are then pending, not dropped.
        if let Some(ev) = control {
            self.feed(Input::Event(ev));
        }
        if let Some(sig) = nm.self_signature {
            self.feed(Input::Event(Event::SelfSignature(sig)));
        }
        self.feed(Input::Event(Event::PeersReplaced(nm.peers)));
    }

    /// Feeds one input (and what it leads to, see [`Task::drain`]) and
    /// publishes the result. Returns why a save failed, if one did.
    fn feed(&mut self, input: Input) -> Option<String> {
        self.settle(Some(input))
    }

    /// Feeds `input` (or, `None`, takes the constructor's actions), then
    /// every input that follows from it, then publishes once.
    fn settle(&mut self, input: Option<Input>) -> Option<String> {
        let first = input.is_none();
        let mut out = Outcome::default();
        let mut next = match input {
            Some(i) => Some(i),
            None => self.drain(&mut out),
        };
        while let Some(input) = next.take() {
            let now = self.clock.now();
            if let Some(r) = self.recorder.as_mut() {
                let _ = r.input(now, &input);
            }
            input.apply(&mut self.machine, now);
            self.stats.send_modify(|s| s.inputs += 1);
            next = self.drain(&mut out);
        }
        let failed = out.persist_error.clone();
        self.publish(out, first);
        failed
    }

    /// Drains the machine's actions into `out` and saves the changes they
    /// ask for. Returns the input to feed next, if any: `PersistFailed`
    /// when the save failed, or a timer input confirming a save that
    /// succeeded while the machine still reports an earlier failure (the
    /// machine takes any input after a save as its confirmation).
    fn drain(&mut self, out: &mut Outcome) -> Option<Input> {
        let mut actions = Vec::new();
        while let Some(a) = self.machine.poll_action() {
            actions.push(a);
        }
        if let Some(r) = self.recorder.as_mut() {
            let _ = r.outputs(&actions);
        }
        let mut changes = Vec::new();
        for a in actions {
            match a {
                Action::SendRequest { id, path, body } => out.sends.push((id, path, body)),
                Action::Persist(delta) => changes.push(Change::Delta(delta)),
                Action::RemoveAllState => changes.push(Change::RemoveAll),
                Action::PersistDisallowedStateIds(ids) => {
                    changes.push(Change::DisallowedStateIds(ids))
                }
                Action::AuthorityInstalled { head, .. } | Action::AuthorityChanged { head, .. } => {
                    trace::head(Some(head));
                    out.head = Some(Some(head));
                }
                Action::AuthorityRemoved => {
                    trace::head(None);
                    out.head = Some(None);
                }
                Action::PeerVerdict(pv) => {
                    trace::verdict(&pv);
                    out.verdicts.push(pv);
                }
                Action::HealthChanged(issues) => {
                    trace::health(&issues);
                    out.issues = Some(issues);
                }
                Action::Log { level, message } => trace::log(level, &message),
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        if changes.is_empty() {
            return None;
        }
        match self.save(changes) {
            Ok(()) => {
                let unconfirmed = self.machine.health().contains(&HealthIssue::PersistFailed);
                (unconfirmed && !std::mem::replace(&mut out.confirmed, true))
                    .then_some(Input::Timeout)
            }
            Err((reason, stored)) => {
                // The machine drops the request in flight on PersistFailed:
                // what this step asked to send is not sent.
                out.sends.clear();
                out.persist_error = Some(reason.clone());
                Some(Input::Event(Event::PersistFailed { reason, stored }))
            }
        }
    }

    /// Publishes what the inputs of one [`Task::settle`] changed: the
    /// counters, health and head before the verdicts, so whoever sees a new
    /// verdict sees the rest of the state that goes with it.
    fn publish(&mut self, out: Outcome, first: bool) {
        let current = self.machine.verdicts();
        let stale = self.verdicts.borrow().len() != current.len();
        let changed = !out.verdicts.is_empty();
        if first || stale || changed {
            let counters = self.machine.counters();
            self.stats.send_if_modified(|s| {
                let changed = s.verdicts != counters;
                s.verdicts = counters;
                changed
            });
        }
        let failing = self.machine.health().contains(&HealthIssue::PersistFailed);
        let error = out.persist_error;
        let issues = out.issues;
        self.health.send_if_modified(|h| {
            let mut changed = false;
            if let Some(issues) = issues {
                changed |= h.issues != issues;
                h.issues = issues;
            }
            let e = if failing {
                error.or(h.persist_error.take())
            } else {
                None
            };
            changed |= h.persist_error != e;
            h.persist_error = e;
            changed
        });
        if let Some(head) = out.head {
            let _ = self.head.send_replace(head);
        }
        if changed || stale {
            self.verdicts.send_modify(|m| {
                for pv in out.verdicts {
                    m.insert(pv.node_id, pv);
                }
                // Peers that left: the view keeps exactly the machine's
                // peers (equal sizes mean equal sets, since every peer the
                // machine knows has had a verdict published).
                if m.len() != current.len() {
                    m.retain(|id, _| current.contains_key(id));
                }
            });
        }
        for (id, path, body) in out.sends {
            self.spawn_send(id, path, body);
        }
    }

    /// Saves `changes` as one step. On failure the store drops them and
    /// reads the disk again; the error comes with what is stored now.
    fn save(&mut self, changes: Vec<Change>) -> Result<(), (String, Persisted)> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let now = self.clock.now().unix_secs();
        let Err(e) = store.save(changes, now) else {
            return Ok(());
        };
        let mut why = e.to_string();
        trace::persist_failed(&why);
        self.stats.send_modify(|s| s.persist_failures += 1);
        if let Err(e) = store.reload() {
            // The directory cannot even be read: what it holds is unknown.
            // The store keeps the failed save in memory (retried by the
            // next save) and the machine is told that; the health issue
            // says the disk may lag.
            why = format!("{why}; reading the store back: {e}");
            trace::persist_failed(&why);
        }
        Err((why, store.persisted()))
    }

    fn spawn_send(&mut self, id: RequestId, path: Path, body: Bytes) {
        trace::request(id, path);
        self.stats.send_modify(|s| s.requests += 1);
        let transport = self.transport.clone();
        self.in_flight.spawn(async move {
            let started = Instant::now();
            let r = transport.send(path, body).await;
            (id, path, started, r)
        });
    }

    fn completed(&mut self, (id, path, started, result): Completion) {
        let elapsed = started.elapsed();
        trace::response(id, path, elapsed, result.as_ref().err());
        let ev = match result {
            Ok(body) => {
                self.stats
                    .send_modify(|s| s.last_response = Some(SystemTime::now()));
                Event::Response { id, body }
            }
            Err(e) => {
                self.stats.send_modify(|s| s.request_failures += 1);
                Event::RequestFailed {
                    id,
                    reason: e.to_string(),
                }
            }
        };
        self.feed(Input::Event(ev));
    }
}

/// What the inputs of one [`Task::settle`] changed, published together.
#[derive(Default)]
struct Outcome {
    verdicts: Vec<PeerVerdict>,
    head: Option<Option<AumHash>>,
    issues: Option<BTreeSet<HealthIssue>>,
    sends: Vec<(RequestId, Path, Bytes)>,
    /// Why a save failed.
    persist_error: Option<String>,
    /// A confirming timer input was fed already.
    confirmed: bool,
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
