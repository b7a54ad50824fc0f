//! The machine's inputs, outputs and settings.

use super::peers::{NodeId, Peer, Verdict};
use super::record::StorageDelta;
use crate::compact::CompactionOptions;
use crate::hash::AumHash;
use crate::key::{Key, NodeKey};
use crate::storage::{Storage, StorageError, StoredAum};
use crate::wire::Path;
pub use crate::Time;
use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// Whether rejected peers are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
    /// A configuration for `node_key` in `mode` (chosen by the embedder,
    /// never defaulted: persist it beside the AUMs). The rest defaults to
    /// capability version 145, a 60 s request timeout, retries from 1 s
    /// doubling to 5 min, 8 attempts and Go's compaction.
    pub fn new(node_key: NodeKey, mode: Mode) -> Self {
        Config {
            node_key,
            capability_version: 145,
            mode,
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

impl Persisted {
    /// Everything `store` holds (AUMs in hash order, with their commit
    /// times, and the hint), plus the disallowed state IDs: what a machine
    /// restarted over that store starts from.
    pub fn from_storage<S: Storage + ?Sized>(
        store: &S,
        disallowed_state_ids: &[(u64, u64)],
    ) -> Result<Self, StorageError> {
        let mut hashes = store.all_aums()?;
        hashes.sort();
        let mut aums = Vec::with_capacity(hashes.len());
        for h in hashes {
            if let Some(a) = store.aum(&h)? {
                aums.push((a, store.commit_time(&h)?.unwrap_or(0)));
            }
        }
        Ok(Persisted {
            aums,
            last_active_ancestor: store.last_active_ancestor()?,
            disallowed_state_ids: disallowed_state_ids.to_vec(),
        })
    }
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
    /// The embedder could not carry out a [`Action::Persist`],
    /// [`Action::RemoveAllState`] or [`Action::PersistDisallowedStateIds`].
    /// Feed it before any other input, after stopping the store actions that
    /// followed the failed one. `stored` is what the store holds now (read
    /// it back, e.g. with [`Persisted::from_storage`]): the machine reloads
    /// from it, so memory and disk never drift, raises
    /// [`HealthIssue::PersistFailed`] and retries the exchange with backoff.
    PersistFailed {
        /// Why the save failed, for the log.
        reason: String,
        /// What the store holds after the failure.
        stored: Persisted,
    },
}

/// A health condition the embedder should surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
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
    /// Saving state failed ([`Event::PersistFailed`]); the machine reloaded
    /// what is stored and retries. Cleared once a later save succeeds (an
    /// input other than `PersistFailed` follows it) or the node agrees with
    /// control with nothing to save.
    PersistFailed,
}

/// Where an installed authority came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthoritySource {
    /// Opened from the AUMs the embedder persisted.
    Loaded,
    /// Bootstrapped from the genesis AUM control sent.
    Bootstrapped,
}

/// How loud a log record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Routine progress.
    Info,
    /// Something the operator should look at.
    Warn,
}

/// An output. Drain with [`TkaMachine::poll_action`](super::TkaMachine::poll_action) after every input.
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
        body: Bytes,
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
        /// Loaded from the store or bootstrapped from control.
        source: AuthoritySource,
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

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Observe => "observe",
            Mode::Enforce => "enforce",
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "info",
            Level::Warn => "warn",
        })
    }
}

impl fmt::Display for AuthoritySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthoritySource::Loaded => "loaded from storage",
            AuthoritySource::Bootstrapped => "bootstrapped from control",
        })
    }
}

impl fmt::Display for HealthIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HealthIssue::NoAuthority => {
                "tailnet lock is enabled but this node has no authority yet: peers are not filtered"
            }
            HealthIssue::LockedOut => {
                "this node's key is not signed by a trusted key: peers enforcing the lock refuse it"
            }
            HealthIssue::BootstrapFailing => {
                "fetching the tailnet lock genesis from control keeps failing"
            }
            HealthIssue::SyncFailing => {
                "syncing tailnet lock with control keeps failing; the last good state is used"
            }
            HealthIssue::NoIntersection => {
                "control's tailnet lock chain shares no update with this node's"
            }
            HealthIssue::UnrelatedChain => {
                "control sent tailnet lock updates that do not connect to this node's chain"
            }
            HealthIssue::DisablementRejected => {
                "control asked to disable tailnet lock without a valid disablement secret"
            }
            HealthIssue::StateIdDisallowed => {
                "control's tailnet lock state was locally disabled on this node"
            }
            HealthIssue::StorageUnreadable => "the stored tailnet lock state could not be opened",
            HealthIssue::PersistFailed => {
                "saving tailnet lock state failed; the node reloaded what is stored"
            }
        })
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for PeerVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.admitted { "admitted" } else { "refused" };
        write!(
            f,
            "peer {} ({}) {what}: {}",
            self.node_id, self.node_key, self.verdict
        )
    }
}

impl Serialize for PeerVerdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("PeerVerdict", 4)?;
        st.serialize_field("node_id", &self.node_id)?;
        st.serialize_field("node_key", &self.node_key.to_string())?;
        st.serialize_field("verdict", &self.verdict)?;
        st.serialize_field("admitted", &self.admitted)?;
        st.end()
    }
}
