//! `lock revoke-keys`: retroactive revocation of compromised keys.

use super::{parse, AdminError, Flow, Identity, Request, Step, CAPABILITY_VERSION};
use crate::authority::Authority;
use crate::builder::{cosign, Signer};
use crate::hash::AumHash;
use crate::key::NlPrivate;
use crate::storage::Storage;
use crate::wire;
use crate::Aum;

/// Starts a revocation (Go's `TailnetLockGenerateRecoveryAUM`): a
/// checkpoint forking the chain at `fork_from` (or, when `None`, at the
/// newest AUM whose state trusts none of `revoke` but trusts this node's
/// key) holding the current state minus `revoke`, signed by `key`.
///
/// It takes more signatures than the keys it revokes to win fork choice:
/// pass it to other holders of trusted keys for [`cosign_recovery`], then
/// submit it with [`SubmitRecovery`].
pub fn generate_recovery<S: Storage + ?Sized>(
    authority: Option<&Authority>,
    storage: &S,
    key: &NlPrivate,
    revoke: &[Vec<u8>],
    fork_from: Option<AumHash>,
) -> Result<Aum, AdminError> {
    let a = authority.ok_or(AdminError::NotEnabled)?;
    if revoke.is_empty() {
        return Err(AdminError::NoKeys);
    }
    let ids: Vec<&[u8]> = revoke.iter().map(Vec::as_slice).collect();
    // Go treats the zero hash as "no fork point given".
    let fork_from = fork_from.filter(|h| !h.is_zero());
    let mut aum = a.make_retroactive_revocation(storage, &ids, &key.public().0, fork_from)?;
    aum.signatures = Some(key.sign_aum(&aum.sig_hash()));
    Ok(aum)
}

/// Adds `key`'s signature to a recovery AUM (Go's
/// `TailnetLockCosignRecoveryAUM`), refusing a key that already signed it.
/// Like Go, the node must have an authority.
pub fn cosign_recovery(
    authority: Option<&Authority>,
    mut aum: Aum,
    key: &NlPrivate,
) -> Result<Aum, AdminError> {
    authority.ok_or(AdminError::NotEnabled)?;
    let id = key.public().0;
    if aum
        .signatures()
        .iter()
        .any(|s| s.key_id.as_deref() == Some(&id[..]))
    {
        return Err(AdminError::AlreadySigned);
    }
    cosign(&mut aum, key)?;
    Ok(aum)
}

/// Submits a recovery AUM (Go's `TailnetLockSubmitRecoveryAUM`): one
/// `sync/send` with the AUM as head, not interactive.
pub struct SubmitRecovery {
    id: Identity,
    aum: Aum,
    done: bool,
}

impl SubmitRecovery {
    /// Prepares the submission. The node must have an authority.
    pub fn new(id: Identity, authority: Option<&Authority>, aum: Aum) -> Result<Self, AdminError> {
        authority.ok_or(AdminError::NotEnabled)?;
        Ok(SubmitRecovery {
            id,
            aum,
            done: false,
        })
    }
}

impl Flow for SubmitRecovery {
    /// Control's head afterwards (equal to the AUM's hash when the
    /// revocation won fork choice there; Go does not check).
    type Output = AumHash;

    fn start(&mut self) -> Result<Step<AumHash>, AdminError> {
        Ok(Step::Send(Request::of(&wire::SyncSendRequest {
            version: CAPABILITY_VERSION,
            node_key: self.id.node_key,
            head: self.aum.hash(),
            missing_aums: Some(vec![self.aum.to_cbor()]),
            interactive: false,
        })))
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<AumHash>, AdminError> {
        if self.done {
            return Err(AdminError::Finished);
        }
        let resp = parse::<wire::SyncSendRequest>(body)?;
        self.done = true;
        Ok(Step::Done(resp.head))
    }
}
