//! Chain replay over storage: finding the active chain, computing the state
//! at an AUM, and fork choice (Go's `computeChainCandidates`,
//! `computeActiveAncestor`, `computeStateAt`, `fastForward`, `pickNextAUM`),
//! with one divergence: signature variants are set aside before Go's rules
//! pick a child (SPEC §5.2).

use crate::aum::AumKind;
use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::state::State;
use crate::storage::{Storage, StoredAum};
use std::collections::{BTreeSet, HashMap, HashSet};

/// A chain from an oldest stored ancestor to a head, with the head's state.
pub(crate) struct Chain {
    pub(crate) oldest: StoredAum,
    pub(crate) head: StoredAum,
    pub(crate) state: State,
}

fn load<S: Storage + ?Sized>(storage: &S, h: &AumHash) -> Result<StoredAum, AuthorityError> {
    storage.aum(h)?.ok_or(AuthorityError::NotFound(*h))
}

/// Go's fork choice (`pickNextAUM`) among `children`, which must not be
/// empty: the greatest weight (votes of distinct trusted signers in
/// `state`, the parent's state) wins; on a tie a RemoveKey wins; then the
/// lowest hash.
fn go_pick(state: &State, children: Vec<StoredAum>) -> Option<StoredAum> {
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

/// Heights of stored subtrees (0 for an AUM with no stored child),
/// computed on demand and remembered for one walk over unchanged storage.
#[derive(Default)]
pub(crate) struct Heights(HashMap<AumHash, u64>);

impl Heights {
    /// The height of the stored subtree under `root`: the length of the
    /// longest path of stored descendants. Every descendant is read once
    /// per walk; a storage that reports a cycle cannot make this loop.
    fn of<S: Storage + ?Sized>(
        &mut self,
        storage: &S,
        root: AumHash,
    ) -> Result<u64, AuthorityError> {
        // Post-order without recursion: a node is pushed once to expand it
        // (its children are read and remembered), once more to sum it up.
        let mut pending: HashMap<AumHash, Vec<AumHash>> = HashMap::new();
        let mut stack = vec![(root, false)];
        while let Some((h, expanded)) = stack.pop() {
            if self.0.contains_key(&h) {
                continue;
            }
            if expanded {
                let kids = pending.remove(&h).unwrap_or_default();
                let height = kids
                    .iter()
                    .filter_map(|k| self.0.get(k))
                    .map(|k| k.saturating_add(1))
                    .max()
                    .unwrap_or(0);
                self.0.insert(h, height);
                continue;
            }
            if pending.contains_key(&h) {
                // Already being expanded further up: a cycle, or a child
                // listed twice. Either way there is nothing new below it.
                continue;
            }
            let kids: Vec<AumHash> = storage
                .child_aums(&h)?
                .iter()
                .map(StoredAum::hash)
                .collect();
            stack.push((h, true));
            stack.extend(kids.iter().map(|k| (*k, false)));
            pending.insert(h, kids);
        }
        Ok(self.0.get(&root).copied().unwrap_or(0))
    }
}

/// The distinct key IDs named by an AUM's signatures.
fn signer_set(aum: &StoredAum) -> BTreeSet<Option<&[u8]>> {
    aum.aum()
        .signatures()
        .iter()
        .map(|s| s.key_id.as_deref())
        .collect()
}

/// This crate's fork choice: [`go_pick`] among the children that remain
/// after signature variants are set aside (SPEC §5.2), a divergence from Go
/// that only bites on AUMs a relay can make without a private key.
///
/// A child X is set aside when a sibling Y has the same SigHash, every key
/// that signed X also signed Y, and Y ranks before X: deeper stored subtree
/// first, then higher weight under `state`, then lower hash. Children whose
/// signer sets are not nested are never set aside, so honest forks (even
/// with identical content) resolve exactly as in Go.
pub(crate) fn pick_next<S: Storage + ?Sized>(
    storage: &S,
    heights: &mut Heights,
    state: &State,
    children: Vec<StoredAum>,
) -> Result<Option<StoredAum>, AuthorityError> {
    if children.len() < 2 {
        return Ok(go_pick(state, children));
    }
    let sig_hashes: Vec<[u8; 32]> = children.iter().map(|c| c.aum().sig_hash()).collect();
    let signers: Vec<BTreeSet<Option<&[u8]>>> = children.iter().map(signer_set).collect();
    // The height is read only for children that have a nested sibling.
    let mut height: Vec<Option<u64>> = vec![None; children.len()];
    let mut aside = vec![false; children.len()];
    for x in 0..children.len() {
        for y in 0..children.len() {
            if x == y || sig_hashes[x] != sig_hashes[y] || !signers[x].is_subset(&signers[y]) {
                continue;
            }
            for i in [x, y] {
                if height[i].is_none() {
                    height[i] = Some(heights.of(storage, children[i].hash())?);
                }
            }
            let rank = |i: usize| {
                (
                    std::cmp::Reverse(height[i]),
                    std::cmp::Reverse(children[i].aum().weight(state)),
                    children[i].hash(),
                )
            };
            if rank(y) < rank(x) {
                aside[x] = true;
                break;
            }
        }
    }
    let kept = children
        .into_iter()
        .zip(aside)
        .filter(|(_, a)| !a)
        .map(|(c, _)| c)
        .collect();
    Ok(go_pick(state, kept))
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

/// Follows fork choice ([`pick_next`]) from `state` to the head (Go's
/// `fastForward`, with signature variants set aside).
pub(crate) fn fast_forward<S: Storage + ?Sized>(
    storage: &S,
    max_iter: usize,
    state: State,
    done: impl FnMut(&StoredAum, &State) -> bool,
) -> Result<(StoredAum, State), AuthorityError> {
    let mut heights = Heights::default();
    fast_forward_with(
        storage,
        max_iter,
        state,
        |s, c| pick_next(storage, &mut heights, s, c),
        done,
    )
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
