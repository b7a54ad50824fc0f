//! `lock disable` and `lock local-disable`.

use super::{parse, AdminError, Flow, Identity, Request, Step, CAPABILITY_VERSION};
use crate::authority::Authority;
use crate::hash::AumHash;
use crate::storage::Storage;
use crate::wire;

/// The `lock disable <secret>` flow (Go's `TailnetLockDisable`): the secret
/// is checked against the authority's disablement values locally first, so
/// a wrong secret never leaves the node, then sent with `disable`.
///
/// The node's own authority is not removed here: control then reports the
/// lock off and every node (this one included) removes its authority when
/// bootstrap hands it the secret.
pub struct Disable {
    id: Identity,
    head: AumHash,
    secret: Vec<u8>,
    done: bool,
}

impl Disable {
    /// Prepares disabling with `secret`.
    pub fn new(
        id: Identity,
        authority: Option<&Authority>,
        secret: Vec<u8>,
    ) -> Result<Self, AdminError> {
        let a = authority.ok_or(AdminError::NotEnabled)?;
        if !a.valid_disablement(&secret) {
            return Err(AdminError::IncorrectSecret);
        }
        Ok(Disable {
            id,
            head: a.head(),
            secret,
            done: false,
        })
    }
}

impl Flow for Disable {
    type Output = ();

    fn start(&mut self) -> Result<Step<()>, AdminError> {
        Ok(Step::Send(Request::of(&wire::DisableRequest {
            version: CAPABILITY_VERSION,
            node_key: self.id.node_key,
            head: self.head,
            disablement_secret: Some(self.secret.clone()),
        })))
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<()>, AdminError> {
        if self.done {
            return Err(AdminError::Finished);
        }
        parse::<wire::DisableRequest>(body)?;
        self.done = true;
        Ok(Step::Done(()))
    }
}

/// `lock local-disable` (Go's `TailnetLockForceLocalDisable`): records the
/// authority's state IDs with `record` (given the store; it must persist them in the
/// node's disallowed list, so the node never bootstraps this authority
/// again; a re-initialised lock has fresh state IDs), then removes the
/// node's authority from `storage`. Returns the state IDs. If `record`
/// fails, nothing is removed.
pub fn force_local_disable<S: Storage + ?Sized>(
    authority: Option<&Authority>,
    storage: &mut S,
    record: impl FnOnce(&mut S, (u64, u64)) -> Result<(), crate::storage::StorageError>,
) -> Result<(u64, u64), AdminError> {
    let a = authority.ok_or(AdminError::NotEnabled)?;
    let ids = a.state_ids();
    record(storage, ids)?;
    storage.remove_all()?;
    Ok(ids)
}
