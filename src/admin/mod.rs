//! The operator's side of Tailnet Lock, sans-IO: what `tailscale lock …`
//! asks a node to do (Go's `ipn/ipnlocal/tailnet-lock.go`), as flows that
//! produce control requests, take control's responses and end in a typed
//! result.
//!
//! | command | here |
//! |---|---|
//! | `lock init` | [`Init`] |
//! | `lock add` / `lock remove --re-sign=false` | [`Modify`] |
//! | `lock remove` (re-signing) | [`Remove`] |
//! | `lock sign <nodekey>` | [`SignNode`] |
//! | `lock sign <tskey-auth-…>` | [`WrapAuthKey`] |
//! | `lock disable` | [`Disable`] |
//! | `lock local-disable` | [`force_local_disable`] |
//! | `lock log` | [`log`] |
//! | `lock status` | [`status()`] |
//! | `lock revoke-keys` | [`generate_recovery`], [`cosign_recovery`], [`SubmitRecovery`] |
//! | (a node's own sync, for tools without a running node) | [`Sync`] |
//!
//! # Driving a flow
//!
//! A [`Flow`] is started with [`Flow::start`]; every [`Step::Send`] is a
//! request to deliver to control (an HTTP `GET` with a JSON body, see
//! [`crate::wire`]) whose response body goes back in through
//! [`Flow::handle_response`], until a [`Step::Done`] carries the result. A
//! transport failure simply ends the flow: no flow leaves anything half
//! done on the node's side (the local store changes only in [`Sync`], and
//! only through [`Authority`](crate::Authority) calls that are all-or-nothing).
//! [`drive`] runs a flow over any blocking send function.
//!
//! Nothing here reads a clock or draws randomness: times come in as Unix
//! seconds and fresh secrets or keys as caller-supplied bytes.

mod disable;
mod init;
mod modify;
mod recovery;
mod sign;
mod status;
mod sync;

pub use disable::{force_local_disable, Disable};
pub use init::{Init, InitOutcome, InitRandom};
pub use modify::{Modify, Remove, RemoveOutcome};
pub use recovery::{cosign_recovery, generate_recovery, SubmitRecovery};
pub use sign::{preauth_key_meta, SignNode, WrapAuthKey};
pub use status::{log, status, LogEntry, Status, StatusPeer};
pub use sync::{Sync, SyncOutcome};

use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::key::{NlPrivate, NodeKey};
use crate::sig::NksError;
use crate::storage::StorageError;
use crate::wire::{self, Path, Rpc, WireError};
use std::fmt;

/// The capability version sent in every request (Go's
/// `tailcfg.CurrentCapabilityVersion` at the snapshot this crate follows;
/// the same value as [`crate::machine::Config`]'s default).
pub const CAPABILITY_VERSION: i64 = 145;

/// Who is operating: this node's current node key (control identifies the
/// caller by it) and its tailnet-lock private key.
#[derive(Clone)]
pub struct Identity {
    /// The node's node key.
    pub node_key: NodeKey,
    /// The node's tailnet-lock (`nlpriv:`) key.
    pub key: NlPrivate,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("node_key", &self.node_key)
            .field("key", &self.key.public())
            .finish()
    }
}

/// A request for control: the endpoint and the JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The endpoint.
    pub path: Path,
    /// The body, as Go's client writes it.
    pub body: Vec<u8>,
}

impl Request {
    fn of<R: Rpc>(r: &R) -> Request {
        Request {
            path: R::PATH,
            body: r.body(),
        }
    }
}

/// What a flow wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// Deliver this request and feed the response body back in.
    Send(Request),
    /// The flow is over.
    Done(T),
}

/// An operator flow: requests out, responses in, a typed result at the end.
pub trait Flow {
    /// The result.
    type Output;
    /// The first step. Call once.
    fn start(&mut self) -> Result<Step<Self::Output>, AdminError>;
    /// Control's response body to the last [`Step::Send`].
    fn handle_response(&mut self, body: &[u8]) -> Result<Step<Self::Output>, AdminError>;
}

/// Why [`drive`] stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriveError<E> {
    /// The flow refused (a rule, a bad response).
    Admin(AdminError),
    /// The send function failed.
    Transport(E),
}

impl<E: fmt::Display> fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Admin(e) => e.fmt(f),
            DriveError::Transport(e) => write!(f, "talking to control: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for DriveError<E> {}

/// Runs `flow` to the end, delivering each request with `send` (which
/// returns the response body, or fails).
pub fn drive<F: Flow, E>(
    mut flow: F,
    mut send: impl FnMut(&Request) -> Result<Vec<u8>, E>,
) -> Result<F::Output, DriveError<E>> {
    let mut step = flow.start().map_err(DriveError::Admin)?;
    loop {
        match step {
            Step::Done(out) => return Ok(out),
            Step::Send(req) => {
                let body = send(&req).map_err(DriveError::Transport)?;
                step = flow.handle_response(&body).map_err(DriveError::Admin)?;
            }
        }
    }
}

/// Why an operator flow refused or failed. The messages follow Go's where
/// Go has one.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// The node has no authority (the lock is off, or not yet synced).
    NotEnabled,
    /// `init` on a node that already has an authority.
    AlreadyEnabled,
    /// `init` without this node's key among the initial keys.
    SelfKeyNotInitial,
    /// `init` with no disablement value at all.
    NoDisablement,
    /// The node's key is not trusted by the authority, so it cannot sign.
    NotTrusted,
    /// `remove` of every trusted key.
    LastKey,
    /// `remove` (re-signing) of this node's own key.
    RemovingOwnKey,
    /// Nothing to do: no key given.
    NoKeys,
    /// Control's head after a submitted change is not the change's last
    /// AUM (someone else changed the chain meanwhile).
    HeadMismatch {
        /// The last AUM submitted.
        submitted: AumHash,
        /// Control's head.
        control: AumHash,
    },
    /// The disablement secret does not match any disablement value.
    IncorrectSecret,
    /// A recovery AUM this node already signed.
    AlreadySigned,
    /// A pre-auth key that is already wrapped.
    AlreadyWrapped,
    /// The lock was disabled locally for this authority (`local-disable`),
    /// so this node refuses to bootstrap it again.
    LocallyDisabled {
        /// The authority's state IDs.
        state_ids: (u64, u64),
    },
    /// A response body did not parse.
    Response(WireError),
    /// Something control sent is not acceptable (a signature not made by
    /// the key asked about, an undecodable AUM…).
    BadControlData(String),
    /// The authority refused (builder rules, verification, sync).
    Authority(AuthorityError),
    /// Syncing with control failed (e.g. no common AUM).
    Sync(crate::SyncError),
    /// A node-key signature could not be made.
    Signature(NksError),
    /// The local store failed.
    Storage(StorageError),
    /// The disablement KDF refused a secret.
    Kdf(crate::kdf::KdfError),
    /// A response arrived after the flow was over.
    Finished,
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::NotEnabled => f.write_str("tailnet lock is not enabled"),
            AdminError::AlreadyEnabled => f.write_str("tailnet lock is already enabled"),
            AdminError::SelfKeyNotInitial => f.write_str(
                "the tailnet lock key of the current node must be one of the trusted keys during initialization",
            ),
            AdminError::NoDisablement => f.write_str(
                "at least one disablement secret or value is required to initialize tailnet lock",
            ),
            AdminError::NotTrusted => f.write_str("this node is not trusted by Tailnet Lock"),
            AdminError::LastKey => f.write_str(
                "cannot remove the last trusted signing key; use 'tka disable' to disable tailnet lock instead, or add another signing key before removing one",
            ),
            AdminError::RemovingOwnKey => f.write_str(
                "cannot remove local trusted signing key while resigning; run command on a different node or with --re-sign=false",
            ),
            AdminError::NoKeys => {
                f.write_str("missing argument, expected one or more tailnet lock keys")
            }
            AdminError::HeadMismatch { submitted, control } => write!(
                f,
                "central tka head differs from submitted AUM, try again (submitted {submitted}, control is at {control})"
            ),
            AdminError::IncorrectSecret => f.write_str("incorrect disablement secret"),
            AdminError::AlreadySigned => {
                f.write_str("this node has already signed this recovery AUM")
            }
            AdminError::AlreadyWrapped => f.write_str("provided key was already wrapped"),
            AdminError::LocallyDisabled { state_ids: (a, b) } => write!(
                f,
                "tailnet lock with state ID {a}:{b} was disabled locally on this node; refusing to re-enable it"
            ),
            AdminError::Response(e) => write!(f, "control's response: {e}"),
            AdminError::BadControlData(e) => write!(f, "control sent unacceptable data: {e}"),
            AdminError::Authority(e) => e.fmt(f),
            AdminError::Sync(e) => write!(f, "sync: {e}"),
            AdminError::Signature(e) => write!(f, "signing: {e}"),
            AdminError::Storage(e) => write!(f, "local storage: {e}"),
            AdminError::Kdf(e) => write!(f, "disablement KDF: {e}"),
            AdminError::Finished => f.write_str("response received after the flow ended"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<AuthorityError> for AdminError {
    fn from(e: AuthorityError) -> Self {
        AdminError::Authority(e)
    }
}

impl From<StorageError> for AdminError {
    fn from(e: StorageError) -> Self {
        AdminError::Storage(e)
    }
}

impl From<NksError> for AdminError {
    fn from(e: NksError) -> Self {
        AdminError::Signature(e)
    }
}

fn parse<R: Rpc>(body: &[u8]) -> Result<R::Response, AdminError> {
    wire::parse_response::<R>(body).map_err(AdminError::Response)
}

/// A wrapping (rotation) key as this crate will sign it: empty means none;
/// a 32-byte key that is not of small order is kept; anything else (a
/// wrong length, or a small-order point such as the 32 zero bytes Go's
/// `lock sign` writes, see SPEC.md) is dropped, so no signature this crate
/// makes can be rotated by a key nobody holds.
fn usable_wrapping_key(k: Option<&[u8]>) -> Option<[u8; 32]> {
    let k: [u8; 32] = k?.try_into().ok()?;
    (!crate::ed25519::is_small_order(&k)).then_some(k)
}

#[cfg(test)]
mod tests;
