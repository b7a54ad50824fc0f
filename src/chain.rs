//! Chain replay over storage: finding the active chain, computing the state
//! at an AUM, and fork choice (Go's `computeChainCandidates`,
//! `computeActiveAncestor`, `computeStateAt`, `fastForward`, `pickNextAUM`).

use crate::aum::AumKind;
use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::state::State;
use crate::storage::{Storage, StoredAum};
use std::collections::HashSet;

/// A chain from an oldest stored ancestor to a head, with the head's state.
pub(crate) struct Chain {
    pub(crate) oldest: StoredAum,
    pub(crate) head: StoredAum,
    pub(crate) state: State,
}

fn load<S: Storage + ?Sized>(storage: &S, h: &AumHash) -> Result<StoredAum, AuthorityError> {
    storage.aum(h)?.ok_or(AuthorityError::NotFound(*h))
}

/// Go's fork choice: the child with the greatest weight (votes of distinct
/// trusted signers in `state`, the parent's state) wins; on a tie a
/// RemoveKey wins; then the lowest hash. `children` must not be empty.
pub(crate) fn pick_next(state: &State, children: Vec<StoredAum>) -> Option<StoredAum> {
    children.into_iter().max_by(|a, b| {
        let wa = a.aum().weight(state);
        let wb = b.aum().weight(state);
        let ra = a.aum().message_kind == AumKind::REMOVE_KEY;
        let rb = b.aum().message_kind == AumKind::REMOVE_KEY;
        wa.cmp(&wb)
            .then(ra.cmp(&rb))
            // Lower hash is "greater" for max_by.
            .then(b.hash().cmp(&a.hash()))
    })
}

struct Candidate {
    oldest: StoredAum,
    head_hash: AumHash,
    through_active: bool,
}

/// Walks every head back to its oldest stored ancestor, round-robin, at most
/// `max_iter` rounds (Go's `computeChainCandidates`).
fn candidates<S: Storage + ?Sized>(
    storage: &S,
    last_known_oldest: Option<AumHash>,
    max_iter: usize,
) -> Result<Vec<Candidate>, AuthorityError> {
    let mut cands: Vec<Candidate> = storage
        .heads()?
        .into_iter()
        .map(|h| Candidate {
            head_hash: h.hash(),
            oldest: h,
            through_active: false,
        })
        .collect();
    cands.sort_by_key(|c| c.head_hash);
    let mut again = true;
    let mut i = 0;
    while again {
        if i >= max_iter {
            return Err(AuthorityError::IterationLimit(max_iter));
        }
        again = false;
        for c in cands.iter_mut() {
            let Some(parent_hash) = c.oldest.parent() else {
                continue;
            };
            let Some(parent) = storage.aum(&parent_hash)? else {
                continue;
            };
            if last_known_oldest == Some(parent.hash()) {
                c.through_active = true;
            }
            c.oldest = parent;
            again = true;
        }
        i += 1;
    }
    Ok(cands)
}

/// Picks the oldest ancestor of the active chain (Go's
/// `computeActiveAncestor`): the only one, or the one whose chain passes
/// through the last known oldest ancestor.
fn active_ancestor(cands: &[Candidate]) -> Result<AumHash, AuthorityError> {
    // Like Go's map, a later candidate with the same oldest overwrites the
    // flag of an earlier one.
    let mut ancestors: Vec<(AumHash, bool)> = Vec::new();
    for c in cands {
        let h = c.oldest.hash();
        match ancestors.iter_mut().find(|(a, _)| *a == h) {
            Some(slot) => slot.1 = c.through_active,
            None => ancestors.push((h, c.through_active)),
        }
    }
    if ancestors.len() == 1 {
        return Ok(ancestors[0].0);
    }
    ancestors
        .iter()
        .find(|(_, through)| *through)
        .map(|(h, _)| *h)
        .ok_or(AuthorityError::MultipleDistinctChains)
}

/// Advances from `state` (whose last AUM must be stored) by choosing among
/// children with `advance` until `done` or no children, at most `max_iter`
/// steps (Go's `fastForwardWithAdvancer`).
fn fast_forward_with<S: Storage + ?Sized>(
    storage: &S,
    max_iter: usize,
    mut state: State,
    mut advance: impl FnMut(&State, Vec<StoredAum>) -> Result<Option<StoredAum>, AuthorityError>,
    mut done: impl FnMut(&StoredAum, &State) -> bool,
) -> Result<(StoredAum, State), AuthorityError> {
    let start = state.last_aum_hash.ok_or(AuthorityError::NoInitialHead)?;
    let mut cursor = load(storage, &start)?;
    for _ in 0..max_iter {
        if done(&cursor, &state) {
            return Ok((cursor, state));
        }
        let children = storage.child_aums(&cursor.hash())?;
        if children.is_empty() {
            return Ok((cursor, state));
        }
        let Some(next) = advance(&state, children)? else {
            return Ok((cursor, state));
        };
        state
            .apply(next.aum(), next.hash())
            .map_err(|e| AuthorityError::Advance {
                at: cursor.hash(),
                error: e,
            })?;
        cursor = next;
    }
    Err(AuthorityError::IterationLimit(max_iter))
}

/// Follows fork choice from `state` to the head (Go's `fastForward`).
pub(crate) fn fast_forward<S: Storage + ?Sized>(
    storage: &S,
    max_iter: usize,
    state: State,
    done: impl FnMut(&StoredAum, &State) -> bool,
) -> Result<(StoredAum, State), AuthorityError> {
    fast_forward_with(storage, max_iter, state, |s, c| Ok(pick_next(s, c)), done)
}

/// The state after applying the AUM `want` (Go's `computeStateAt`): walk
/// back to a checkpoint or a parentless NoOp/AddKey, then forward again
/// along exactly that path.
pub(crate) fn state_at<S: Storage + ?Sized>(
    storage: &S,
    max_iter: usize,
    want: AumHash,
) -> Result<State, AuthorityError> {
    let top = load(storage, &want)?;
    let mut cursor = top;
    let mut path: HashSet<AumHash> = HashSet::new();
    let mut state;
    let mut i = 0;
    loop {
        if i > max_iter {
            return Err(AuthorityError::IterationLimit(max_iter));
        }
        path.insert(cursor.hash());
        let aum = cursor.aum();
        if aum.message_kind == AumKind::CHECKPOINT {
            // A checkpoint passed validation, so it has a state.
            state = aum.state.clone().unwrap_or_default();
            state.last_aum_hash = Some(cursor.hash());
            break;
        }
        match cursor.parent() {
            None => {
                if aum.message_kind == AumKind::NO_OP || aum.message_kind == AumKind::ADD_KEY {
                    state = State::default();
                    state
                        .apply(aum, cursor.hash())
                        .map_err(AuthorityError::Genesis)?;
                    break;
                }
                return Err(AuthorityError::InvalidGenesis(aum.message_kind));
            }
            Some(p) => {
                cursor = storage.aum(&p)?.ok_or(AuthorityError::MissingParent(p))?;
            }
        }
        i += 1;
    }
    let (_, state) = fast_forward_with(
        storage,
        max_iter,
        state,
        |_, children| {
            children
                .into_iter()
                .find(|c| path.contains(&c.hash()))
                .map(Some)
                .ok_or(AuthorityError::NoCandidateOnPath)
        },
        |cursor, _| cursor.hash() == want,
    )?;
    if state.last_aum_hash != Some(want) {
        return Err(AuthorityError::NoCandidateOnPath);
    }
    Ok(state)
}

/// The active chain in storage (Go's `computeActiveChain`).
pub(crate) fn active_chain<S: Storage + ?Sized>(
    storage: &S,
    last_known_oldest: Option<AumHash>,
    max_iter: usize,
) -> Result<Chain, AuthorityError> {
    let cands = candidates(storage, last_known_oldest, max_iter)?;
    if cands.is_empty() {
        return Err(AuthorityError::NoChainCandidates);
    }
    let oldest_hash = active_ancestor(&cands)?;
    let oldest = load(storage, &oldest_hash)?;
    let state = state_at(storage, max_iter, oldest_hash)?;
    let (head, state) = fast_forward(storage, max_iter, state, |_, _| false)?;
    Ok(Chain {
        oldest,
        head,
        state,
    })
}
