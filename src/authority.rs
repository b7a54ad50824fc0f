//! The authority: the active chain's head and state, and the operations that
//! move it (Go's `tka.Authority`).

use crate::aum::{Aum, AumKind, Signature};
use crate::chain::{active_chain, state_at};
use crate::ed25519;
use crate::ed25519::BatchItem;
use crate::error::{AumVerifyError, AuthorityError};
use crate::hash::AumHash;
use crate::key::{Key, KeyKind, NlPrivate, NodeKey};
use crate::limits::MAX_SCAN_ITERATIONS;
use crate::sig::{Authorized, NksError, TrustedKeys};
use crate::state::State;
use crate::storage::{Storage, StoredAum, VerifiedAum};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Go's `aumVerify`: the rule for accepting `aum` on top of `state` (the
/// state at its parent; for a genesis, the checkpoint's own state).
///
/// Static validation; the parent is the state's head (unless genesis); at
/// least one signature; no key ID named by two signatures (a divergence
/// from Go, see [`AumVerifyError::DuplicateSigner`]); every signature by a
/// key in `state` and valid under ZIP-215 over the AUM's signature hash; not
/// removing the last key.
pub fn verify_aum(aum: &Aum, state: &State, is_genesis: bool) -> Result<(), AumVerifyError> {
    verify_aum_inner(aum, state, is_genesis, None)
}

/// A signature check put off for batch verification.
struct Deferred {
    public: Vec<u8>,
    msg: [u8; 32],
    sig: Vec<u8>,
}

/// [`verify_aum`], optionally collecting the Ed25519 checks into `defer`
/// instead of running them (every other rule is still checked here).
fn verify_aum_inner(
    aum: &Aum,
    state: &State,
    is_genesis: bool,
    mut defer: Option<&mut Vec<Deferred>>,
) -> Result<(), AumVerifyError> {
    aum.static_validate().map_err(AumVerifyError::Invalid)?;
    if !is_genesis {
        let parent = aum.parent().ok_or(AumVerifyError::NoParent)?;
        let last = state.last_aum_hash.ok_or(AumVerifyError::StateHasNoHead)?;
        if last != parent {
            return Err(AumVerifyError::ParentMismatch);
        }
    }
    if aum.signatures().is_empty() {
        return Err(AumVerifyError::Unsigned);
    }
    check_distinct_signers(aum)?;
    let sig_hash = aum.sig_hash();
    for (i, sig) in aum.signatures().iter().enumerate() {
        let kid = sig.key_id.as_deref().unwrap_or(&[]);
        let key = state.key(kid).ok_or(AumVerifyError::UnknownSigner(i))?;
        if key.kind != KeyKind::ED25519 {
            return Err(AumVerifyError::BadSignature(i));
        }
        let public = key.public.as_deref().unwrap_or(&[]);
        let signature = sig.signature.as_deref().unwrap_or(&[]);
        match defer.as_deref_mut() {
            Some(d) => d.push(Deferred {
                public: public.to_vec(),
                msg: sig_hash,
                sig: signature.to_vec(),
            }),
            // AUM acceptance is exactly Go's: plain ZIP-215, no hardening.
            None => ed25519::verify_zip215(public, &sig_hash, signature)
                .map_err(|_| AumVerifyError::BadSignature(i))?,
        }
    }
    if aum.message_kind == AumKind::REMOVE_KEY {
        if let [only] = state.keys() {
            if only.id().is_ok_and(|id| Some(id) == aum.key_id.as_deref()) {
                return Err(AumVerifyError::RemovesLastKey);
            }
        }
    }
    Ok(())
}

/// Refuses an AUM whose signature list names one key ID twice. Go accepts
/// such an AUM; repeating a signature keeps the SigHash but changes the
/// hash, so a relay that cannot sign could otherwise mint an unbounded
/// number of valid variants of any AUM it holds.
fn check_distinct_signers(aum: &Aum) -> Result<(), AumVerifyError> {
    let mut seen: HashSet<Option<&[u8]>> = HashSet::with_capacity(aum.signatures().len());
    for (index, sig) in aum.signatures().iter().enumerate() {
        let kid = sig.key_id.as_deref();
        if !seen.insert(kid) {
            return Err(AumVerifyError::DuplicateSigner {
                index,
                key_id: kid.unwrap_or_default().to_vec(),
            });
        }
    }
    Ok(())
}

/// Updates that passed every check, ready to commit.
struct Checked {
    to_commit: Vec<VerifiedAum>,
    /// The new head's state when the updates extend the head in a line.
    head_chain_state: Option<State>,
}

/// A tailnet key authority: the head of the active chain, its oldest stored
/// ancestor and the state at the head.
#[derive(Clone, Debug)]
pub struct Authority {
    head: StoredAum,
    oldest: StoredAum,
    state: State,
    /// The state's keys, decoded for node-key checks; kept in step with
    /// `state` by [`Authority::refresh_trusted`].
    trusted: Arc<TrustedKeys>,
}

impl Authority {
    /// Opens the authority held in `storage` (Go's `Open`). Signatures are
    /// not re-checked: storage only ever receives verified AUMs. Fork
    /// choice is Go's after signature variants are set aside (SPEC §5.2).
    pub fn open<S: Storage + ?Sized>(storage: &S) -> Result<Self, AuthorityError> {
        let hint = storage.last_active_ancestor()?;
        let c = active_chain(storage, hint, MAX_SCAN_ITERATIONS)?;
        Ok(Authority {
            trusted: Arc::new(TrustedKeys::new(c.state.keys())),
            head: c.head,
            oldest: c.oldest,
            state: c.state,
        })
    }

    /// Starts a new authority from `state` (Go's `Create`): a genesis
    /// checkpoint signed by `signer`, which must be one of the state's keys.
    pub fn create<S: Storage + ?Sized>(
        storage: &mut S,
        state: State,
        signer: &NlPrivate,
        now: u64,
    ) -> Result<(Self, Aum), AuthorityError> {
        let mut genesis = Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(state),
            ..Default::default()
        };
        genesis
            .static_validate()
            .map_err(|e| AuthorityError::InvalidBootstrap(AumVerifyError::Invalid(e)))?;
        let sig = signer.sign(&genesis.sig_hash());
        genesis.signatures = Some(vec![Signature {
            key_id: Some(signer.public().0.to_vec()),
            signature: Some(sig.to_vec()),
        }]);
        let a = Authority::bootstrap(storage, genesis.clone(), now)?;
        Ok((a, genesis))
    }

    /// Initialises empty `storage` from a checkpoint (Go's `Bootstrap`). The
    /// checkpoint's signers must be keys of its own state; it need not be
    /// parentless.
    pub fn bootstrap<S: Storage + ?Sized>(
        storage: &mut S,
        genesis: Aum,
        now: u64,
    ) -> Result<Self, AuthorityError> {
        if !storage.heads()?.is_empty() {
            return Err(AuthorityError::NotEmpty);
        }
        if genesis.message_kind != AumKind::CHECKPOINT {
            return Err(AuthorityError::BootstrapNotCheckpoint(genesis.message_kind));
        }
        let Some(state) = genesis.state.as_ref() else {
            return Err(AuthorityError::InvalidBootstrap(AumVerifyError::Invalid(
                crate::ValidationError::KindFields {
                    kind: AumKind::CHECKPOINT,
                    problem: "must specify the state",
                },
            )));
        };
        verify_aum(&genesis, state, true).map_err(AuthorityError::InvalidBootstrap)?;
        let verified = VerifiedAum::new_verified(StoredAum::new(genesis));
        let hash = verified.hash();
        storage.commit_verified_aums(&[verified], now)?;
        storage.set_last_active_ancestor(hash)?;
        Authority::open(storage)
    }

    /// Verifies and stores `updates` (oldest first), then moves the head by
    /// fork choice (Go's `Inform`; an update naming one signer twice is
    /// refused and signature variants are set aside, SPEC §5.2). Verification is all or nothing: if any
    /// update fails, nothing is stored and the authority is unchanged. AUMs
    /// already stored are skipped. (As in Go, if recomputing the active chain
    /// fails *after* the verified AUMs were stored — a storage error or the
    /// 2000-step limit — they stay stored and the head stays where it was.)
    pub fn inform<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        updates: &[Aum],
        now: u64,
    ) -> Result<(), AuthorityError> {
        let stored: Vec<StoredAum> = updates.iter().cloned().map(StoredAum::new).collect();
        self.inform_stored(storage, stored, now)
    }

    /// [`Authority::inform`] for AUMs already hashed.
    ///
    /// Signatures are first checked as one ZIP-215 batch; if the batch or
    /// any other rule fails, the updates are checked again one by one so the
    /// error names the first failing update, as Go's does.
    pub fn inform_stored<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        updates: Vec<StoredAum>,
        now: u64,
    ) -> Result<(), AuthorityError> {
        let mut deferred = Vec::new();
        let checked = match self.check_updates(storage, &updates, Some(&mut deferred)) {
            Ok(c) => {
                let items: Vec<BatchItem<'_>> = deferred
                    .iter()
                    .map(|d| BatchItem {
                        public: &d.public,
                        msg: &d.msg,
                        sig: &d.sig,
                    })
                    .collect();
                if ed25519::verify_zip215_batch(&items) {
                    Some(c)
                } else {
                    None
                }
            }
            Err(_) => None,
        };
        let checked = match checked {
            Some(c) => c,
            None => self.check_updates(storage, &updates, None)?,
        };
        storage.commit_verified_aums(&checked.to_commit, now)?;
        if let Some(state) = checked.head_chain_state {
            if let Some(last) = checked.to_commit.last() {
                self.head = last.stored().clone();
                self.state = state;
                self.refresh_trusted();
                return Ok(());
            }
        }
        let c = active_chain(storage, Some(self.oldest.hash()), MAX_SCAN_ITERATIONS)?;
        self.head = c.head;
        self.oldest = c.oldest;
        self.state = c.state;
        self.refresh_trusted();
        Ok(())
    }

    /// Go's `InformIdempotent` up to the commit: verifies each update
    /// against the state at its parent (signature checks deferred into
    /// `defer` when given).
    fn check_updates<S: Storage + ?Sized>(
        &self,
        storage: &S,
        updates: &[StoredAum],
        mut defer: Option<&mut Vec<Deferred>>,
    ) -> Result<Checked, AuthorityError> {
        if updates.is_empty() {
            return Err(AuthorityError::EmptyInform);
        }
        // States are kept only while a later update still names them as
        // parent, so a long batch holds a handful of states, not one per
        // update (a batch from control may hold tens of thousands).
        let mut refs: HashMap<AumHash, usize> = HashMap::new();
        for u in updates {
            if let Some(p) = u.parent() {
                *refs.entry(p).or_default() += 1;
            }
        }
        let mut state_at_hash: HashMap<AumHash, State> = HashMap::new();
        let mut prev = self.head();
        state_at_hash.insert(prev, self.state.clone());
        let mut to_commit: Vec<VerifiedAum> = Vec::with_capacity(updates.len());
        let mut head_chain = true;
        let mut last_state: Option<State> = None;
        for (index, update) in updates.iter().enumerate() {
            let hash = update.hash();
            let parent = update.parent();
            if let Some(p) = parent {
                if let Some(n) = refs.get_mut(&p) {
                    *n -= 1;
                }
            }
            if storage.aum(&hash)?.is_some() {
                head_chain = false;
                if let Some(p) = parent {
                    if refs.get(&p) == Some(&0) {
                        state_at_hash.remove(&p);
                    }
                }
                continue;
            }
            let parent = parent.ok_or(AuthorityError::UpdateMissingParent(index))?;
            let parent_state = match state_at_hash.get(&parent) {
                Some(s) => s,
                None => {
                    let s = state_at(storage, MAX_SCAN_ITERATIONS, parent).map_err(|e| {
                        AuthorityError::UpdateState {
                            index,
                            error: Box::new(e),
                        }
                    })?;
                    state_at_hash.entry(parent).or_insert(s)
                }
            };
            verify_aum_inner(update.aum(), parent_state, false, defer.as_deref_mut())
                .map_err(|error| AuthorityError::UpdateInvalid { index, error })?;
            let mut next = parent_state.clone();
            next.apply(update.aum(), hash)
                .map_err(|error| AuthorityError::UpdateApply { index, error })?;
            if parent != prev {
                head_chain = false;
            }
            prev = hash;
            if refs.get(&parent) == Some(&0) {
                state_at_hash.remove(&parent);
            }
            if refs.get(&hash).is_some_and(|n| *n > 0) {
                state_at_hash.insert(hash, next.clone());
            }
            last_state = Some(next);
            to_commit.push(VerifiedAum::new_verified(update.clone()));
        }
        Ok(Checked {
            to_commit,
            head_chain_state: if head_chain { last_state } else { None },
        })
    }

    /// The head hash.
    pub fn head(&self) -> AumHash {
        self.head.hash()
    }

    /// The head AUM.
    pub fn head_aum(&self) -> &StoredAum {
        &self.head
    }

    /// The oldest stored AUM of the active chain.
    pub fn oldest_ancestor(&self) -> &StoredAum {
        &self.oldest
    }

    /// The state at the head.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The trusted keys, in state order.
    pub fn keys(&self) -> &[Key] {
        self.state.keys()
    }

    /// Whether a key with this ID is trusted.
    pub fn key_trusted(&self, key_id: &[u8]) -> bool {
        self.state.key(key_id).is_some()
    }

    /// The two state IDs fixed at `lock init`.
    pub fn state_ids(&self) -> (u64, u64) {
        (self.state.state_id1, self.state.state_id2)
    }

    /// Whether `secret` is a disablement secret of this authority (Argon2i,
    /// compared in constant time).
    pub fn valid_disablement(&self, secret: &[u8]) -> bool {
        let values: Vec<&[u8]> = self.state.disablement_values().collect();
        crate::kdf::check_disablement(secret, &values)
    }

    /// Whether `signature` authorizes `node_key` under the trusted keys
    /// (hardened against small-order verification keys; see [`crate::sig`]).
    pub fn node_key_authorized(
        &self,
        node_key: &NodeKey,
        signature: &[u8],
    ) -> Result<Authorized, NksError> {
        self.trusted.node_key_authorized(node_key, signature)
    }

    /// [`Authority::node_key_authorized`] for many peers, batching the
    /// signature checks; same verdicts, in the same order.
    pub fn node_keys_authorized(
        &self,
        peers: &[(NodeKey, &[u8])],
    ) -> Vec<Result<Authorized, NksError>> {
        self.trusted.node_keys_authorized(peers)
    }

    /// The hashes of the active chain, oldest ancestor first, head last.
    pub fn active_chain_hashes<S: Storage + ?Sized>(
        &self,
        storage: &S,
    ) -> Result<Vec<AumHash>, AuthorityError> {
        let mut out = vec![self.head.hash()];
        let mut cursor = self.head.clone();
        while cursor.hash() != self.oldest.hash() {
            let Some(p) = cursor.parent() else { break };
            cursor = storage.aum(&p)?.ok_or(AuthorityError::MissingParent(p))?;
            out.push(cursor.hash());
            if out.len() > MAX_SCAN_ITERATIONS + 1 {
                return Err(AuthorityError::IterationLimit(MAX_SCAN_ITERATIONS));
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Re-decodes the trusted keys if the state's key set changed.
    fn refresh_trusted(&mut self) {
        if self.trusted.keys() != self.state.keys() {
            self.trusted = Arc::new(TrustedKeys::new(self.state.keys()));
        }
    }

    pub(crate) fn set_oldest(&mut self, oldest: StoredAum) {
        self.oldest = oldest;
    }
}
