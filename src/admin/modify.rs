//! `lock add` / `lock remove`: signed key changes submitted to control,
//! and the re-signing of nodes a removed key had signed.

use super::{
    parse, usable_wrapping_key, AdminError, Flow, Identity, Request, Step, CAPABILITY_VERSION,
};
use crate::authority::Authority;
use crate::hash::AumHash;
use crate::key::{Key, NodeKey};
use crate::sig::NodeKeySignature;
use crate::storage::Storage;
use crate::wire;
use crate::Aum;
use std::collections::VecDeque;

/// The `lock add` / `lock remove --re-sign=false` flow (Go's
/// `TailnetLockModify`).
///
/// The updates are built and signed with this node's key (which must be
/// trusted) on top of the local head, and sent with `sync/send` marked
/// interactive. Control's answered head must be the last update, else
/// someone changed the chain meanwhile and the caller should sync and try
/// again ([`AdminError::HeadMismatch`]). Like Go, the local store is not
/// changed: the node's next sync brings the updates back.
pub struct Modify {
    id: Identity,
    head: AumHash,
    aums: Vec<Aum>,
    done: bool,
}

impl Modify {
    /// Builds the updates adding `add` and removing the keys with IDs
    /// `remove`. `authority` is the node's (`None` if the lock is off).
    pub fn new<S: Storage + ?Sized>(
        id: Identity,
        authority: Option<&Authority>,
        storage: &S,
        add: &[Key],
        remove: &[Vec<u8>],
    ) -> Result<Self, AdminError> {
        let a = authority.ok_or(AdminError::NotEnabled)?;
        if !a.key_trusted(&id.key.public().0) {
            return Err(AdminError::NotTrusted);
        }
        let mut b = a.builder(Some(&id.key));
        for k in add {
            b.add_key(k.clone())?;
        }
        for k in remove {
            b.remove_key(k)?;
        }
        let aums = b.finalize(storage)?;
        Ok(Modify {
            id,
            head: a.head(),
            aums,
            done: false,
        })
    }

    /// The updates this flow submits, oldest first.
    pub fn updates(&self) -> &[Aum] {
        &self.aums
    }
}

impl Flow for Modify {
    /// The hashes of the submitted updates, oldest first.
    type Output = Vec<AumHash>;

    fn start(&mut self) -> Result<Step<Vec<AumHash>>, AdminError> {
        if self.aums.is_empty() {
            self.done = true;
            return Ok(Step::Done(Vec::new()));
        }
        // Go sends the head the updates were built on, not the new one.
        Ok(Step::Send(Request::of(&wire::SyncSendRequest {
            version: CAPABILITY_VERSION,
            node_key: self.id.node_key,
            head: self.head,
            missing_aums: Some(self.aums.iter().map(Aum::to_cbor).collect()),
            interactive: true,
        })))
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<Vec<AumHash>>, AdminError> {
        if self.done {
            return Err(AdminError::Finished);
        }
        let resp = parse::<wire::SyncSendRequest>(body)?;
        self.done = true;
        let hashes: Vec<AumHash> = self.aums.iter().map(Aum::hash).collect();
        let last = *hashes.last().expect("not empty");
        if resp.head != last {
            return Err(AdminError::HeadMismatch {
                submitted: last,
                control: resp.head,
            });
        }
        Ok(Step::Done(hashes))
    }
}

/// What `lock remove` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoveOutcome {
    /// Nodes re-signed with this node's key before the removal.
    pub resigned: Vec<NodeKey>,
    /// The submitted updates, oldest first.
    pub updates: Vec<AumHash>,
}

enum Phase {
    Affected(usize),
    Submitting,
    Modifying,
    Done,
}

/// The `lock remove` flow (Go's CLI `runTailnetLockRemove`).
///
/// Refuses to remove the last trusted key. With re-signing (Go's default),
/// refuses to remove this node's own key; asks control for every signature
/// made by each removed key (`affected-sigs`), checks that each was made by
/// that key and currently verifies, re-signs each node with this node's
/// key keeping its wrapping (rotation) key, submits the new signatures
/// (`sign`), and only then submits the removal ([`Modify`]).
pub struct Remove {
    id: Identity,
    authority: Authority,
    remove: Vec<Vec<u8>>,
    to_submit: VecDeque<(NodeKey, Vec<u8>)>,
    outcome: RemoveOutcome,
    modify: Modify,
    resign: bool,
    phase: Phase,
}

impl Remove {
    /// Prepares removing the keys with IDs `remove`, re-signing affected
    /// nodes when `resign`.
    pub fn new<S: Storage + ?Sized>(
        id: Identity,
        authority: Option<&Authority>,
        storage: &S,
        remove: Vec<Vec<u8>>,
        resign: bool,
    ) -> Result<Self, AdminError> {
        let a = authority.ok_or(AdminError::NotEnabled)?;
        if remove.is_empty() {
            return Err(AdminError::NoKeys);
        }
        if a.keys().len() == 1 {
            return Err(AdminError::LastKey);
        }
        if resign && remove.iter().any(|k| k[..] == id.key.public().0[..]) {
            return Err(AdminError::RemovingOwnKey);
        }
        let modify = Modify::new(id.clone(), Some(a), storage, &[], &remove)?;
        Ok(Remove {
            id,
            authority: a.clone(),
            remove,
            to_submit: VecDeque::new(),
            outcome: RemoveOutcome::default(),
            modify,
            resign,
            phase: Phase::Done,
        })
    }

    fn affected_request(&self, i: usize) -> Request {
        Request::of(&wire::SignaturesUsingKeyRequest {
            version: CAPABILITY_VERSION,
            node_key: self.id.node_key,
            key_id: Some(self.remove[i].clone()),
        })
    }

    /// Checks control's list of signatures made by `key_id` (Go's
    /// `TailnetLockAffectedSigs`) and queues their replacements.
    fn take_affected(&mut self, key_id: &[u8], sigs: Vec<Vec<u8>>) -> Result<(), AdminError> {
        for (i, bytes) in sigs.into_iter().enumerate() {
            let bad =
                |why: String| AdminError::BadControlData(format!("affected signature {i}: {why}"));
            let sig = NodeKeySignature::from_cbor(&bytes).map_err(|e| bad(e.to_string()))?;
            let by = sig.authorizing_key_id().map_err(|e| bad(e.to_string()))?;
            if by != key_id {
                return Err(bad(format!(
                    "made by {} rather than the key asked about",
                    data_encoding::HEXLOWER.encode(by)
                )));
            }
            let node = NodeKey::from_binary(sig.pubkey.as_deref().unwrap_or_default())
                .map_err(|e| bad(e.to_string()))?;
            self.authority
                .node_key_authorized(&node, &bytes)
                .map_err(|e| bad(format!("does not verify: {e}")))?;
            let wrapping = usable_wrapping_key(sig.wrapping_public());
            let new = NodeKeySignature::sign_direct(&self.id.key, &node, wrapping)?;
            self.to_submit.push_back((node, new.to_cbor()));
        }
        Ok(())
    }

    fn next_submission(&mut self) -> Result<Step<RemoveOutcome>, AdminError> {
        if let Some((_, sig)) = self.to_submit.front() {
            let req = Request::of(&wire::SubmitSignatureRequest {
                version: CAPABILITY_VERSION,
                node_key: self.id.node_key,
                signature: Some(sig.clone()),
            });
            self.phase = Phase::Submitting;
            return Ok(Step::Send(req));
        }
        self.phase = Phase::Modifying;
        self.modify_step()
    }

    fn modify_step(&mut self) -> Result<Step<RemoveOutcome>, AdminError> {
        match self.modify.start()? {
            Step::Send(r) => Ok(Step::Send(r)),
            Step::Done(h) => self.finish(h),
        }
    }

    fn finish(&mut self, updates: Vec<AumHash>) -> Result<Step<RemoveOutcome>, AdminError> {
        self.phase = Phase::Done;
        self.outcome.updates = updates;
        Ok(Step::Done(std::mem::take(&mut self.outcome)))
    }
}

impl Flow for Remove {
    type Output = RemoveOutcome;

    fn start(&mut self) -> Result<Step<RemoveOutcome>, AdminError> {
        if self.resign {
            self.phase = Phase::Affected(0);
            Ok(Step::Send(self.affected_request(0)))
        } else {
            self.phase = Phase::Modifying;
            self.modify_step()
        }
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<RemoveOutcome>, AdminError> {
        match self.phase {
            Phase::Affected(i) => {
                let resp = parse::<wire::SignaturesUsingKeyRequest>(body)?;
                let key_id = self.remove[i].clone();
                self.take_affected(&key_id, resp.signatures.unwrap_or_default())?;
                if i + 1 < self.remove.len() {
                    self.phase = Phase::Affected(i + 1);
                    return Ok(Step::Send(self.affected_request(i + 1)));
                }
                self.next_submission()
            }
            Phase::Submitting => {
                parse::<wire::SubmitSignatureRequest>(body)?;
                let (node, _) = self.to_submit.pop_front().expect("a submission was sent");
                self.outcome.resigned.push(node);
                self.next_submission()
            }
            Phase::Modifying => match self.modify.handle_response(body)? {
                Step::Done(h) => self.finish(h),
                Step::Send(r) => Ok(Step::Send(r)),
            },
            Phase::Done => Err(AdminError::Finished),
        }
    }
}
