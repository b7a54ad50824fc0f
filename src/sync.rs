//! AUM synchronisation with an untrusted remote authority (Go's
//! `tka/sync.go`).
//!
//! Each side sends a [`SyncOffer`] (its head and a few ancestors). The other
//! side finds where the offer meets its own active chain
//! ([`compute_intersection`]) and answers with the AUMs the remote may lack
//! ([`Authority::missing_aums`]), which the remote then applies with
//! [`Authority::inform`]. Both directions are needed: either side may hold
//! AUMs the other lacks.
//!
//! Every walk is bounded by Go's limits
//! ([`MAX_SYNC_HEAD_INTERSECTION_ITER`], [`MAX_SYNC_ITER`]), and a received
//! offer may list at most [`MAX_SYNC_OFFER_ANCESTORS`] ancestors.

use crate::aum::{Aum, AumKind};
use crate::authority::Authority;
use crate::chain::{fast_forward, state_at};
use crate::error::{AumVerifyError, AuthorityError, SyncError, ValidationError};
use crate::hash::AumHash;
use crate::limits::MAX_META_BYTES;
use crate::limits::{
    LEGACY_SYNC_HEAD_INTERSECTION_ITER, MAX_SYNC_HEAD_INTERSECTION_ITER, MAX_SYNC_ITER,
    MAX_SYNC_OFFER_ANCESTORS,
};
use crate::state::ApplyError;
use crate::storage::{Storage, StoredAum};
use std::collections::HashSet;

/// The legacy offer lists the ancestor this many AUMs back first...
const LEGACY_SKIP_START: usize = 4;
/// ...then multiplies the distance by 2^this after each entry (4, 16, 64, 256).
const LEGACY_SKIP_SHIFT: u32 = 2;

/// A short description of an active chain, sent to a remote so it can work
/// out which AUMs to send back (Go's `tka.SyncOffer`).
///
/// `ancestors` holds some ancestors of `head`, newest first; by convention
/// the last entry is the sender's oldest stored ancestor. A receiver must
/// accept any list (up to [`MAX_SYNC_OFFER_ANCESTORS`] entries): different
/// Go versions choose different ancestors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncOffer {
    /// The sender's head.
    pub head: AumHash,
    /// Ancestors of the head, newest first, oldest stored ancestor last.
    pub ancestors: Vec<AumHash>,
}

impl SyncOffer {
    /// The offer's wire form, as in `tailcfg.TKASyncOfferRequest` (Go's
    /// `FromSyncOffer`): the head and each ancestor as 52-character base32
    /// text.
    pub fn to_wire(&self) -> (String, Vec<String>) {
        (
            self.head.to_string(),
            self.ancestors.iter().map(AumHash::to_string).collect(),
        )
    }

    /// Parses an offer's wire form (Go's `ToSyncOffer`). Any string that is
    /// not a 52-character base32 AUM hash is an error, and so is a list of
    /// more than [`MAX_SYNC_OFFER_ANCESTORS`] ancestors (checked before any
    /// parsing).
    pub fn from_wire<A: AsRef<str>>(head: &str, ancestors: &[A]) -> Result<SyncOffer, SyncError> {
        if ancestors.len() > MAX_SYNC_OFFER_ANCESTORS {
            return Err(SyncError::TooManyAncestors(ancestors.len()));
        }
        let head = head.parse::<AumHash>().map_err(SyncError::InvalidHead)?;
        let ancestors = ancestors
            .iter()
            .enumerate()
            .map(|(index, a)| {
                a.as_ref()
                    .parse::<AumHash>()
                    .map_err(|error| SyncError::InvalidAncestor { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SyncOffer { head, ancestors })
    }
}

/// Where a remote offer meets the local active chain (Go's `intersection`).
/// "No intersection" is [`SyncError::NoIntersection`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Intersection {
    /// Both heads are the same: nothing to exchange.
    UpToDate,
    /// The remote's head is an ancestor of the local head (within
    /// [`MAX_SYNC_HEAD_INTERSECTION_ITER`] AUMs): the remote needs every
    /// local AUM after it.
    Head(AumHash),
    /// A remote ancestor leads, by fork choice, to the local head: the two
    /// chains diverge somewhere after it, so each side sends its chain from
    /// there.
    Tail(AumHash),
}

/// Moves `cursor` to `aum`'s parent exactly as Go's
/// `copy(curs[:], aum.PrevAUMHash)` does: a nil parent leaves the cursor
/// unchanged and a short one overwrites only its first bytes.
fn step_back(cursor: &mut AumHash, aum: &Aum) {
    if let Some(prev) = aum.prev_aum_hash.as_deref() {
        let n = prev.len().min(32);
        cursor.0[..n].copy_from_slice(&prev[..n]);
    }
}

impl Authority {
    /// This authority's sync offer (Go's current `SyncOffer`, since
    /// 2026-04-17): every checkpoint from the head back to, but excluding,
    /// the oldest ancestor, newest first (the head itself when it is a
    /// checkpoint), walking at most [`MAX_SYNC_HEAD_INTERSECTION_ITER`]
    /// AUMs, then the oldest ancestor. The walk stops early at an AUM that
    /// is not stored. Fails only when storage fails.
    pub fn sync_offer<S: Storage + ?Sized>(&self, storage: &S) -> Result<SyncOffer, SyncError> {
        let oldest = self.oldest_ancestor().hash();
        let mut ancestors = Vec::with_capacity(6);
        let mut cursor = self.head();
        for _ in 0..MAX_SYNC_HEAD_INTERSECTION_ITER {
            let Some(aum) = storage.aum(&cursor)? else {
                break;
            };
            // The oldest ancestor is appended last, once.
            if aum.hash() == oldest {
                break;
            }
            if aum.aum().message_kind == AumKind::CHECKPOINT {
                ancestors.push(cursor);
            }
            step_back(&mut cursor, aum.aum());
        }
        ancestors.push(oldest);
        Ok(SyncOffer {
            head: self.head(),
            ancestors,
        })
    }

    /// The sync offer Go sent before 2026-04-17, which older peers and
    /// control servers may still send: walking back at most
    /// [`LEGACY_SYNC_HEAD_INTERSECTION_ITER`] AUMs, the ancestors 4, 16, 64
    /// and 256 AUMs behind the head (as far as the chain reaches), then the
    /// oldest ancestor.
    ///
    /// Like Go, when the oldest ancestor is exactly 4, 16, 64 or 256 AUMs
    /// behind the head it is listed twice. Receivers use it only to test
    /// intersection, so this is harmless; it is kept so offers match Go's.
    pub fn legacy_sync_offer<S: Storage + ?Sized>(
        &self,
        storage: &S,
    ) -> Result<SyncOffer, SyncError> {
        let oldest = self.oldest_ancestor().hash();
        let mut ancestors = Vec::with_capacity(6);
        let mut skip = LEGACY_SKIP_START;
        let mut cursor = self.head();
        for i in 0..LEGACY_SYNC_HEAD_INTERSECTION_ITER {
            if i > 0 && i % skip == 0 {
                ancestors.push(cursor);
                skip = skip.saturating_mul(1 << LEGACY_SKIP_SHIFT);
            }
            let Some(aum) = storage.aum(&cursor)? else {
                break;
            };
            if aum.hash() == oldest {
                break;
            }
            step_back(&mut cursor, aum.aum());
        }
        ancestors.push(oldest);
        Ok(SyncOffer {
            head: self.head(),
            ancestors,
        })
    }

    /// The AUMs a remote that sent `remote` may lack (Go's `MissingAUMs`).
    ///
    /// * `Ok(None)`: the remote's head is ours; nothing to exchange.
    /// * `Ok(Some(aums))`: every AUM of our active chain after the
    ///   intersection (see [`Intersection`]), oldest first, following fork
    ///   choice to the head. This may be empty ("nothing to send", e.g. the
    ///   remote is ahead of us) and may repeat AUMs the remote already has
    ///   (after a tail intersection); [`Authority::inform`] skips those.
    ///   Only the primary chain is sent, never losing branches.
    /// * `Err(SyncError::NoIntersection)`: the offer shares nothing with our
    ///   chain that we can find within Go's limits.
    ///
    /// Like Go, the local offer is computed first (so a storage failure
    /// during that walk is reported), though only its head is used.
    pub fn missing_aums<S: Storage + ?Sized>(
        &self,
        storage: &S,
        remote: &SyncOffer,
    ) -> Result<Option<Vec<StoredAum>>, SyncError> {
        let local = self.sync_offer(storage)?;
        let from = match compute_intersection(storage, local.head, remote)? {
            Intersection::UpToDate => return Ok(None),
            Intersection::Head(h) | Intersection::Tail(h) => h,
        };
        let state = state_at(storage, MAX_SYNC_ITER, from)?;
        let mut out = Vec::new();
        fast_forward(storage, MAX_SYNC_ITER, state, |cursor, _| {
            if cursor.hash() != from {
                out.push(cursor.clone());
            }
            false
        })?;
        Ok(Some(out))
    }
}

/// Where `remote` meets the active chain whose head is `local_head` (Go's
/// `computeSyncIntersection`), checked in Go's order:
///
/// 1. the same head: [`Intersection::UpToDate`];
/// 2. the remote head is stored and found walking back from our head (at
///    most [`MAX_SYNC_HEAD_INTERSECTION_ITER`] AUMs): [`Intersection::Head`];
/// 3. the first remote ancestor, in the order listed, that is stored and
///    from which fork choice reaches our head (at most [`MAX_SYNC_ITER`]
///    steps back to a checkpoint and forward): [`Intersection::Tail`];
/// 4. otherwise [`SyncError::NoIntersection`].
///
/// Ancestors that are not stored are skipped; any other failure while
/// replaying from a stored ancestor ends the search with an error, as in
/// Go. An ancestor listed twice is tried once (the second try would give
/// the same answer). Offers with more than [`MAX_SYNC_OFFER_ANCESTORS`]
/// ancestors are refused.
pub fn compute_intersection<S: Storage + ?Sized>(
    storage: &S,
    local_head: AumHash,
    remote: &SyncOffer,
) -> Result<Intersection, SyncError> {
    if remote.ancestors.len() > MAX_SYNC_OFFER_ANCESTORS {
        return Err(SyncError::TooManyAncestors(remote.ancestors.len()));
    }
    if remote.head == local_head {
        return Ok(Intersection::UpToDate);
    }

    // Head intersection: the remote is behind us on our own chain.
    if storage.aum(&remote.head)?.is_some() {
        let mut cursor = local_head;
        for _ in 0..MAX_SYNC_HEAD_INTERSECTION_ITER {
            let Some(aum) = storage.aum(&cursor)? else {
                break;
            };
            if aum.hash() == remote.head {
                return Ok(Intersection::Head(aum.hash()));
            }
            let before = cursor;
            step_back(&mut cursor, aum.aum());
            if cursor == before {
                // A parentless AUM: Go would re-read it until the limit,
                // comparing the same hash each time.
                break;
            }
        }
    }

    // Tail intersection: a remote ancestor from which fork choice leads to
    // our head. Newer ancestors come first, so less is sent.
    let mut tried: HashSet<AumHash> = HashSet::new();
    for &ancestor in &remote.ancestors {
        if !tried.insert(ancestor) {
            continue;
        }
        let state = match state_at(storage, MAX_SYNC_ITER, ancestor) {
            Ok(s) => s,
            Err(AuthorityError::NotFound(h)) if h == ancestor => continue,
            Err(e) => return Err(e.into()),
        };
        let (end, _) = fast_forward(storage, MAX_SYNC_ITER, state, |cursor, _| {
            cursor.hash() == local_head
        })?;
        // Fast-forward also stops at a head that is not ours.
        if end.hash() == local_head {
            return Ok(Intersection::Tail(ancestor));
        }
    }
    Err(SyncError::NoIntersection)
}

/// Refuses received update `index` if [`Authority::inform`] would refuse it
/// whatever storage holds: it fails static validation, it is unsigned, or it
/// is an UpdateKey whose metadata is over 512 bytes (applying it always
/// fails, since the metadata replaces the key's). An AUM already stored,
/// which inform skips, passed these checks when it was stored.
///
/// Callers decoding a list of AUMs from a sync message check each one as
/// it is decoded, so a body of many tiny AUMs, each decoding to a structure
/// hundreds of times its few encoded bytes, is refused at the first instead
/// of being held decoded all at once. The list is refused either way; only
/// which error is reported may differ.
pub(crate) fn refuse_before_inform(index: usize, aum: &Aum) -> Result<(), AuthorityError> {
    let invalid = |error| AuthorityError::UpdateInvalid { index, error };
    aum.static_validate()
        .map_err(|e| invalid(AumVerifyError::Invalid(e)))?;
    if aum.signatures().is_empty() {
        return Err(invalid(AumVerifyError::Unsigned));
    }
    // Checked before anything hashes the AUM: a shared `Meta` value is
    // written once per entry in the canonical encoding, so hashing a 1 MiB
    // metadata bomb reads 1 GiB.
    if aum.message_kind == AumKind::UPDATE_KEY {
        let meta_bytes: usize = aum
            .meta
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if meta_bytes > MAX_META_BYTES {
            return Err(AuthorityError::UpdateApply {
                index,
                error: ApplyError::UpdatedKeyInvalid(ValidationError::MetaTooBig(meta_bytes)),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_back_is_gos_copy() {
        let mut c = AumHash([9; 32]);
        let mut aum = Aum::default();
        step_back(&mut c, &aum);
        assert_eq!(c, AumHash([9; 32]), "nil parent leaves the cursor");
        aum.prev_aum_hash = Some(vec![1, 2, 3]);
        step_back(&mut c, &aum);
        assert_eq!(&c.0[..4], &[1, 2, 3, 9]);
        aum.prev_aum_hash = Some(vec![7; 40]);
        step_back(&mut c, &aum);
        assert_eq!(c, AumHash([7; 32]));
    }

    #[test]
    fn wire_round_trip_and_refusals() {
        let offer = SyncOffer {
            head: AumHash::of(b"h"),
            ancestors: vec![AumHash::of(b"a"), AumHash::of(b"b")],
        };
        let (h, a) = offer.to_wire();
        assert_eq!(SyncOffer::from_wire(&h, &a).unwrap(), offer);
        assert!(matches!(
            SyncOffer::from_wire("nope", &a),
            Err(SyncError::InvalidHead(_))
        ));
        let mut bad = a.clone();
        bad[1] = bad[1].to_lowercase();
        assert!(matches!(
            SyncOffer::from_wire(&h, &bad),
            Err(SyncError::InvalidAncestor { index: 1, .. })
        ));
        let many = vec![a[0].clone(); MAX_SYNC_OFFER_ANCESTORS + 1];
        assert!(matches!(
            SyncOffer::from_wire(&h, &many),
            Err(SyncError::TooManyAncestors(_))
        ));
        let cap = vec![a[0].as_str(); MAX_SYNC_OFFER_ANCESTORS];
        assert_eq!(
            SyncOffer::from_wire(&h, &cap).unwrap().ancestors.len(),
            MAX_SYNC_OFFER_ANCESTORS
        );
        let empty: [&str; 0] = [];
        assert!(SyncOffer::from_wire(&h, &empty)
            .unwrap()
            .ancestors
            .is_empty());
    }
}
