//! Building signed updates (Go's `UpdateBuilder`) and retroactive
//! revocation (Go's `MakeRetroactiveRevocation`, the CLI's `revoke-keys`).

use crate::aum::{Aum, AumKind, Signature};
use crate::authority::Authority;
use crate::chain::state_at;
use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::key::{Key, Meta, NlPrivate};
use crate::limits::{CHECKPOINT_EVERY, MAX_KEYS, MAX_SCAN_ITERATIONS};
use crate::state::State;
use crate::storage::Storage;

/// Something that signs AUM signature hashes (Go's `Signer`).
pub trait Signer {
    /// Signatures over `sig_hash` (usually one).
    fn sign_aum(&self, sig_hash: &[u8; 32]) -> Vec<Signature>;
}

impl Signer for NlPrivate {
    fn sign_aum(&self, sig_hash: &[u8; 32]) -> Vec<Signature> {
        vec![Signature {
            key_id: Some(self.public().0.to_vec()),
            signature: Some(self.sign(sig_hash).to_vec()),
        }]
    }
}

/// Builds a chain of signed updates on top of an authority's head.
///
/// Each step is validated and applied to the builder's own copy of the
/// state, so a later step sees earlier ones. [`UpdateBuilder::finalize`]
/// appends a checkpoint when none is within the last 50 AUMs.
pub struct UpdateBuilder<'a> {
    authority: &'a Authority,
    signer: Option<&'a dyn Signer>,
    state: State,
    parent: AumHash,
    out: Vec<Aum>,
}

impl Authority {
    /// A builder on top of this authority's head, signing with `signer`
    /// (`None` leaves updates unsigned, for a caller that signs later).
    pub fn builder<'a>(&'a self, signer: Option<&'a dyn Signer>) -> UpdateBuilder<'a> {
        UpdateBuilder {
            authority: self,
            signer,
            state: self.state().clone(),
            parent: self.head(),
            out: Vec::new(),
        }
    }
}

impl UpdateBuilder<'_> {
    fn push(&mut self, mut update: Aum) -> Result<(), AuthorityError> {
        update.prev_aum_hash = Some(self.parent.0.to_vec());
        if let Some(s) = self.signer {
            let sigs = s.sign_aum(&update.sig_hash());
            update.signatures.get_or_insert_with(Vec::new).extend(sigs);
        }
        update
            .static_validate()
            .map_err(|_| AuthorityError::Builder("generated update was invalid"))?;
        let hash = update.hash();
        let mut next = self.state.clone();
        next.apply(&update, hash)
            .map_err(|_| AuthorityError::Builder("update cannot be applied"))?;
        self.state = next;
        self.parent = hash;
        self.out.push(update);
        Ok(())
    }

    fn require_key(&self, key_id: &[u8]) -> Result<(), AuthorityError> {
        self.state
            .key(key_id)
            .map(|_| ())
            .ok_or(AuthorityError::Builder("no such key"))
    }

    /// Adds a key. Refuses a key already trusted and refuses to pass 512
    /// keys (Go once let a tailnet reach 552 keys and wedge itself).
    pub fn add_key(&mut self, key: Key) -> Result<(), AuthorityError> {
        let id = key
            .id()
            .map_err(|_| AuthorityError::Builder("key has an unknown kind"))?;
        if self.state.key(id).is_some() {
            return Err(AuthorityError::Builder("key already exists"));
        }
        if self.state.keys().len() >= MAX_KEYS {
            return Err(AuthorityError::Builder("maximum number of keys reached"));
        }
        self.push(Aum {
            message_kind: AumKind::ADD_KEY,
            key: Some(key),
            ..Default::default()
        })
    }

    /// Removes a key. Refuses to remove the last key (the network would be
    /// left with no one able to sign; Go's verifier refuses it too).
    pub fn remove_key(&mut self, key_id: &[u8]) -> Result<(), AuthorityError> {
        self.require_key(key_id)?;
        if self.state.keys().len() == 1 {
            return Err(AuthorityError::Builder("cannot remove the last key"));
        }
        self.push(Aum {
            message_kind: AumKind::REMOVE_KEY,
            key_id: Some(key_id.to_vec()),
            ..Default::default()
        })
    }

    /// Sets a key's votes.
    pub fn set_key_vote(&mut self, key_id: &[u8], votes: u64) -> Result<(), AuthorityError> {
        self.require_key(key_id)?;
        self.push(Aum {
            message_kind: AumKind::UPDATE_KEY,
            key_id: Some(key_id.to_vec()),
            votes: Some(votes),
            ..Default::default()
        })
    }

    /// Replaces a key's metadata.
    pub fn set_key_meta(&mut self, key_id: &[u8], meta: Meta) -> Result<(), AuthorityError> {
        self.require_key(key_id)?;
        self.push(Aum {
            message_kind: AumKind::UPDATE_KEY,
            key_id: Some(key_id.to_vec()),
            meta: Some(meta),
            ..Default::default()
        })
    }

    /// The updates built so far, plus a checkpoint when none of the last 50
    /// AUMs (counting these) is one. Fails if the authority's head moved.
    pub fn finalize<S: Storage + ?Sized>(
        mut self,
        storage: &S,
    ) -> Result<Vec<Aum>, AuthorityError> {
        let mut need_checkpoint = true;
        let mut cursor = self.authority.head();
        for _ in self.out.len()..CHECKPOINT_EVERY {
            let Some(aum) = storage.aum(&cursor)? else {
                need_checkpoint = false;
                break;
            };
            if aum.aum().message_kind == AumKind::CHECKPOINT {
                need_checkpoint = false;
                break;
            }
            let Some(p) = aum.parent() else {
                need_checkpoint = false;
                break;
            };
            cursor = p;
        }
        if need_checkpoint {
            let mut state = self.state.clone();
            state.last_aum_hash = None;
            self.push(Aum {
                message_kind: AumKind::CHECKPOINT,
                state: Some(state),
                ..Default::default()
            })?;
        }
        if let Some(first) = self.out.first() {
            if first.parent() != Some(self.authority.head()) {
                return Err(AuthorityError::Builder("updates no longer apply to head"));
            }
        }
        Ok(self.out)
    }
}

impl Authority {
    /// Builds an unsigned checkpoint that forks the chain to revoke
    /// compromised keys retroactively (Go's `MakeRetroactiveRevocation`).
    ///
    /// Without `fork_from`, the fork point is the newest ancestor whose state
    /// trusts none of `remove` but trusts `our_key` (stopping at the oldest
    /// stored ancestor). The checkpoint carries the current state minus the
    /// revoked keys. It wins only by fork-choice weight, so it needs more
    /// signer votes than the branch it replaces: sign it with [`cosign`].
    pub fn make_retroactive_revocation<S: Storage + ?Sized>(
        &self,
        storage: &S,
        remove: &[&[u8]],
        our_key: &[u8],
        fork_from: Option<AumHash>,
    ) -> Result<Aum, AuthorityError> {
        let parent = match fork_from {
            Some(p) => p,
            None => {
                if !remove.iter().any(|k| self.key_trusted(k)) {
                    return Err(AuthorityError::Builder(
                        "no provided key is currently trusted",
                    ));
                }
                self.find_fork_point(storage, remove, our_key)?
            }
        };
        let mut state = self.state().clone();
        if let Some(keys) = state.keys.as_mut() {
            for r in remove {
                if let Some(i) = keys.iter().position(|k| k.id().is_ok_and(|id| id == *r)) {
                    keys.remove(i);
                }
            }
        }
        if state.keys().is_empty() {
            return Err(AuthorityError::Builder("cannot revoke all trusted keys"));
        }
        state.last_aum_hash = None;
        let aum = Aum {
            message_kind: AumKind::CHECKPOINT,
            prev_aum_hash: Some(parent.0.to_vec()),
            state: Some(state),
            ..Default::default()
        };
        aum.static_validate()
            .map_err(|_| AuthorityError::Builder("revocation checkpoint is invalid"))?;
        Ok(aum)
    }

    fn find_fork_point<S: Storage + ?Sized>(
        &self,
        storage: &S,
        remove: &[&[u8]],
        our_key: &[u8],
    ) -> Result<AumHash, AuthorityError> {
        let oldest = self.oldest_ancestor().hash();
        let mut cursor = self.head();
        for _ in 0..=MAX_SCAN_ITERATIONS {
            if cursor == oldest {
                return Ok(cursor);
            }
            let aum = storage
                .aum(&cursor)?
                .ok_or(AuthorityError::NotFound(cursor))?;
            let state = state_at(storage, MAX_SCAN_ITERATIONS, cursor)?;
            let revoked_trusted = remove.iter().any(|k| state.key(k).is_some());
            if !revoked_trusted && state.key(our_key).is_some() {
                return Ok(cursor);
            }
            match aum.parent() {
                Some(p) => cursor = p,
                None => return Ok(cursor),
            }
        }
        Err(AuthorityError::IterationLimit(MAX_SCAN_ITERATIONS))
    }
}

/// Adds `signer`'s signature to `aum`, refusing a key that already signed.
pub fn cosign(aum: &mut Aum, signer: &NlPrivate) -> Result<(), AuthorityError> {
    let id = signer.public().0;
    if aum
        .signatures()
        .iter()
        .any(|s| s.key_id.as_deref() == Some(&id[..]))
    {
        return Err(AuthorityError::Builder("this key already signed the AUM"));
    }
    let sigs = signer.sign_aum(&aum.sig_hash());
    aum.signatures.get_or_insert_with(Vec::new).extend(sigs);
    Ok(())
}
