//! Compaction: purging AUMs the authority no longer needs (Go's `Compact`).
//!
//! An AUM is kept when it is young (received within `min_age`), on the
//! active chain within `min_chain` of the head (and back to a checkpoint
//! that is not young), a descendant of a kept AUM, or on the path between a
//! kept AUM and the new oldest ancestor. Everything else is purged and is
//! never read again.

use crate::aum::AumKind;
use crate::error::AuthorityError;
use crate::hash::AumHash;
use crate::limits::{COMPACTION_MIN_AGE_SECS, COMPACTION_MIN_CHAIN};
use crate::storage::Storage;
use std::collections::HashMap;

/// How much history compaction keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionOptions {
    /// AUMs kept on the active chain, counting the head.
    pub min_chain: usize,
    /// AUMs committed within this many seconds are kept.
    pub min_age_secs: u64,
}

impl Default for CompactionOptions {
    /// Go's `CompactionDefaults`: 24 AUMs, 14 days.
    fn default() -> Self {
        CompactionOptions {
            min_chain: COMPACTION_MIN_CHAIN,
            min_age_secs: COMPACTION_MIN_AGE_SECS,
        }
    }
}

const ACTIVE: u8 = 1;
const YOUNG: u8 = 2;
const LEAF: u8 = 4;
const ANCESTOR: u8 = 8;
const CANDIDATE: u8 = 16;
const RETAIN: u8 = ACTIVE | YOUNG | LEAF | ANCESTOR;

type Verdicts = HashMap<AumHash, u8>;

fn load<S: Storage + ?Sized>(
    s: &S,
    h: &AumHash,
) -> Result<crate::storage::StoredAum, AuthorityError> {
    s.aum(h)?.ok_or(AuthorityError::NotFound(*h))
}

fn mark_young<S: Storage + ?Sized>(
    storage: &S,
    v: &mut Verdicts,
    now: u64,
    min_age: u64,
) -> Result<(), AuthorityError> {
    let min_time = now.saturating_sub(min_age);
    for (h, bits) in v.iter_mut() {
        let t = storage
            .commit_time(h)?
            .ok_or(AuthorityError::NotFound(*h))?;
        if t > min_time {
            *bits |= YOUNG;
        }
    }
    Ok(())
}

fn mark_active_chain<S: Storage + ?Sized>(
    storage: &S,
    v: &mut Verdicts,
    min_chain: usize,
    head: AumHash,
) -> Result<AumHash, AuthorityError> {
    let mut next = load(storage, &head)?;
    for _ in 0..min_chain {
        let h = next.hash();
        *v.entry(h).or_default() |= ACTIVE;
        let Some(parent) = next.parent() else {
            return Ok(h);
        };
        match storage.aum(&parent)? {
            Some(p) => next = p,
            None => return Ok(h),
        }
    }
    let mut last_active_ancestor;
    loop {
        let h = next.hash();
        *v.entry(h).or_default() |= ACTIVE;
        let parent = next.parent();
        let young = v.get(&h).is_some_and(|b| b & YOUNG != 0);
        if next.aum().message_kind == AumKind::CHECKPOINT {
            last_active_ancestor = h;
            if !young || parent.is_none() {
                break;
            }
        }
        let p = parent.unwrap_or(AumHash::ZERO);
        next = load(storage, &p)?;
    }
    while let Some(parent) = next.parent() {
        *v.entry(parent).or_default() |= CANDIDATE;
        match storage.aum(&parent)? {
            Some(p) => next = p,
            None => break,
        }
    }
    Ok(last_active_ancestor)
}

fn mark_descendants<S: Storage + ?Sized>(
    storage: &S,
    v: &mut Verdicts,
) -> Result<(), AuthorityError> {
    let mut scan: Vec<AumHash> = v
        .iter()
        .filter(|(_, b)| **b & RETAIN != 0)
        .map(|(h, _)| *h)
        .collect();
    while !scan.is_empty() {
        let mut next = Vec::new();
        for h in scan {
            let bits = v.entry(h).or_default();
            if *bits & LEAF != 0 {
                continue;
            }
            *bits |= LEAF;
            next.extend(storage.child_aums(&h)?.iter().map(|a| a.hash()));
        }
        scan = next;
    }
    Ok(())
}

fn mark_ancestor_intersection<S: Storage + ?Sized>(
    storage: &S,
    v: &mut Verdicts,
    mut candidate: AumHash,
) -> Result<AumHash, AuthorityError> {
    let mut scan: Vec<AumHash> = v
        .iter()
        .filter(|(h, b)| **b & RETAIN != 0 && **h != candidate)
        .map(|(h, _)| *h)
        .collect();
    scan.sort();
    let mut adjusted = false;
    while !scan.is_empty() {
        let mut next_scan = Vec::new();
        for h in scan {
            let bits = v.entry(h).or_default();
            if *bits & ANCESTOR != 0 {
                continue;
            }
            *bits |= ANCESTOR;
            let a = load(storage, &h)?;
            let parent = a.parent().ok_or(AuthorityError::Compaction(
                "reached genesis AUM without intersecting with candidate ancestor",
            ))?;
            let pbits = v.get(&parent).copied().unwrap_or(0);
            if pbits & RETAIN != 0 {
                continue;
            }
            if pbits & CANDIDATE != 0 {
                candidate = parent;
                adjusted = true;
                *v.entry(parent).or_default() |= ANCESTOR;
                let mut cur = parent;
                'walk: loop {
                    for c in storage.child_aums(&cur)? {
                        let cb = v.get(&c.hash()).copied().unwrap_or(0);
                        if cb & CANDIDATE != 0 && cb & ACTIVE == 0 {
                            *v.entry(c.hash()).or_default() |= ANCESTOR;
                            cur = c.hash();
                            continue 'walk;
                        }
                    }
                    break;
                }
            }
            next_scan.push(parent);
        }
        scan = next_scan;
    }
    if adjusted {
        let mut next = load(storage, &candidate)?;
        loop {
            let h = next.hash();
            *v.entry(h).or_default() |= ACTIVE;
            if next.aum().message_kind == AumKind::CHECKPOINT {
                candidate = h;
                break;
            }
            let p = next.parent().ok_or(AuthorityError::Compaction(
                "reached genesis AUM without finding an appropriate candidate ancestor",
            ))?;
            next = load(storage, &p)?;
        }
    }
    Ok(candidate)
}

/// Compacts `storage` around `head`, purging what is not retained, and
/// returns the new oldest ancestor (also recorded as the storage's hint).
pub fn compact<S: Storage + ?Sized>(
    storage: &mut S,
    head: AumHash,
    now: u64,
    opts: CompactionOptions,
) -> Result<AumHash, AuthorityError> {
    if opts.min_chain == 0 || opts.min_age_secs == 0 {
        return Err(AuthorityError::Compaction(
            "min_chain and min_age must be set",
        ));
    }
    let mut v: Verdicts = storage.all_aums()?.into_iter().map(|h| (h, 0)).collect();
    mark_young(storage, &mut v, now, opts.min_age_secs)?;
    let candidate = mark_active_chain(storage, &mut v, opts.min_chain, head)?;
    mark_descendants(storage, &mut v)?;
    let ancestor = mark_ancestor_intersection(storage, &mut v, candidate)?;
    let mut purge: Vec<AumHash> = v
        .iter()
        .filter(|(_, b)| **b & RETAIN == 0)
        .map(|(h, _)| *h)
        .collect();
    purge.sort();
    storage.set_last_active_ancestor(ancestor)?;
    storage.purge_aums(&purge)?;
    Ok(ancestor)
}

impl crate::Authority {
    /// Compacts storage around this authority's head with the current time
    /// `now` and moves the oldest ancestor (Go's `Authority.Compact`).
    pub fn compact<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        now: u64,
        opts: CompactionOptions,
    ) -> Result<(), AuthorityError> {
        let ancestor = compact(storage, self.head(), now, opts)?;
        let oldest = load(storage, &ancestor)?;
        self.set_oldest(oldest);
        Ok(())
    }
}
