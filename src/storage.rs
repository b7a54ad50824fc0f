//! AUM storage: the trait an embedder implements, and an in-memory store.
//!
//! The type boundary: [`Storage::commit_verified_aums`] takes only
//! [`VerifiedAum`]s, which nothing outside this crate can construct; they
//! come out of the authority's verification path (bootstrap, inform). What
//! storage hands back ([`StoredAum`]) is trusted as the embedder's own store,
//! exactly as Go trusts its tailchonk (opening does not re-check
//! signatures).

use crate::aum::Aum;
use crate::hash::AumHash;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// An AUM held by storage, with its hash computed once.
///
/// Cloning is cheap (the AUM is shared).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAum {
    hash: AumHash,
    aum: Arc<Aum>,
}

impl StoredAum {
    /// Wraps an AUM read from the embedder's own store, hashing it.
    pub fn new(aum: Aum) -> Self {
        StoredAum {
            hash: aum.hash(),
            aum: Arc::new(aum),
        }
    }

    /// Decodes AUM bytes the embedder persisted earlier (see
    /// [`VerifiedAum::to_cbor`]). Canonical bytes (what this crate writes)
    /// are hashed as read, without re-encoding ([`Aum::from_cbor_hashed`]).
    pub fn from_persisted(bytes: &[u8]) -> Result<Self, crate::DecodeError> {
        Self::decode_within(
            bytes,
            &mut crate::limits::DecodeBudget::for_input(bytes.len()),
        )
    }

    /// Decodes an AUM received in a larger message, charging the message's
    /// `budget` ([`Aum::from_cbor_hashed_within`]). Nothing is verified.
    pub fn decode_within(
        bytes: &[u8],
        budget: &mut crate::limits::DecodeBudget,
    ) -> Result<Self, crate::DecodeError> {
        let (aum, hash) = Aum::from_cbor_hashed_within(bytes, budget)?;
        Ok(StoredAum {
            hash,
            aum: Arc::new(aum),
        })
    }

    /// The AUM's hash.
    pub fn hash(&self) -> AumHash {
        self.hash
    }

    /// The AUM.
    pub fn aum(&self) -> &Aum {
        &self.aum
    }

    /// The parent hash, if any.
    pub fn parent(&self) -> Option<AumHash> {
        self.aum.parent()
    }
}

impl fmt::Debug for StoredAum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoredAum({} {})", self.aum.message_kind, self.hash)
    }
}

/// An AUM that was verified against the state at its parent. Only this
/// crate's verification path creates these; only these can be committed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedAum(StoredAum);

impl VerifiedAum {
    /// Marks an AUM as verified. Crate-private: callers must have run the
    /// full acceptance check against the parent state first.
    pub(crate) fn new_verified(aum: StoredAum) -> Self {
        VerifiedAum(aum)
    }

    /// The AUM's hash.
    pub fn hash(&self) -> AumHash {
        self.0.hash
    }

    /// The AUM.
    pub fn aum(&self) -> &Aum {
        &self.0.aum
    }

    /// The canonical bytes to persist.
    pub fn to_cbor(&self) -> Vec<u8> {
        self.0.aum.to_cbor()
    }

    /// The stored form.
    pub fn stored(&self) -> &StoredAum {
        &self.0
    }
}

impl From<VerifiedAum> for StoredAum {
    fn from(v: VerifiedAum) -> Self {
        v.0
    }
}

/// A storage failure, carrying the embedder's error.
#[derive(Debug, Clone)]
pub struct StorageError(pub Arc<dyn std::error::Error + Send + Sync>);

impl StorageError {
    /// Wraps any error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StorageError(Arc::new(e))
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

impl std::error::Error for StorageError {}

impl PartialEq for StorageError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for StorageError {}

/// What the authority needs from AUM storage (Go's `Chonk` and
/// `CompactableChonk`). Times are seconds since the Unix epoch, passed in by
/// the caller: storage never reads a clock.
pub trait Storage {
    /// The AUM with this hash, or `None` if it is not stored (or purged).
    fn aum(&self, hash: &AumHash) -> Result<Option<StoredAum>, StorageError>;
    /// Every stored AUM whose parent is `parent`.
    fn child_aums(&self, parent: &AumHash) -> Result<Vec<StoredAum>, StorageError>;
    /// Every stored AUM with no stored children.
    fn heads(&self) -> Result<Vec<StoredAum>, StorageError>;
    /// Durably stores verified AUMs, recording `now` as their commit time
    /// (re-committing an AUM refreshes its time).
    fn commit_verified_aums(&mut self, aums: &[VerifiedAum], now: u64) -> Result<(), StorageError>;
    /// The hint recorded for where the active chain starts.
    fn last_active_ancestor(&self) -> Result<Option<AumHash>, StorageError>;
    /// Records the hint for where the active chain starts.
    fn set_last_active_ancestor(&mut self, hash: AumHash) -> Result<(), StorageError>;
    /// Every stored AUM's hash (for compaction).
    fn all_aums(&self) -> Result<Vec<AumHash>, StorageError>;
    /// When an AUM was committed, or `None` if it is not stored.
    fn commit_time(&self, hash: &AumHash) -> Result<Option<u64>, StorageError>;
    /// Removes AUMs; a purged AUM is never returned again.
    fn purge_aums(&mut self, hashes: &[AumHash]) -> Result<(), StorageError>;
    /// Removes everything (used when the lock is disabled).
    fn remove_all(&mut self) -> Result<(), StorageError>;
}

/// An in-memory [`Storage`] (Go's `tka.Mem`).
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    aums: HashMap<AumHash, StoredAum>,
    commit_times: HashMap<AumHash, u64>,
    children: HashMap<AumHash, Vec<AumHash>>,
    last_active_ancestor: Option<AumHash>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store loaded with AUMs the embedder persisted earlier (they are
    /// trusted as its own records, as Go trusts its on-disk store), each
    /// with commit time `now`.
    pub fn from_persisted(
        aums: impl IntoIterator<Item = StoredAum>,
        last_active_ancestor: Option<AumHash>,
        now: u64,
    ) -> Self {
        let mut s = MemStorage::new();
        for a in aums {
            s.insert(a, now);
        }
        s.last_active_ancestor = last_active_ancestor;
        s
    }

    /// Adds one AUM the embedder persisted earlier, with the commit time it
    /// recorded (trusted as its own record, like
    /// [`MemStorage::from_persisted`]).
    pub fn load_persisted(&mut self, aum: StoredAum, commit_time: u64) {
        self.insert(aum, commit_time);
    }

    /// Sets the last-active-ancestor hint (as loaded from disk).
    pub fn load_last_active_ancestor(&mut self, hash: Option<AumHash>) {
        self.last_active_ancestor = hash;
    }

    /// Number of stored AUMs.
    pub fn len(&self) -> usize {
        self.aums.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.aums.is_empty()
    }

    fn insert(&mut self, a: StoredAum, now: u64) {
        let h = a.hash();
        if let Some(p) = a.parent() {
            let kids = self.children.entry(p).or_default();
            if !kids.contains(&h) {
                kids.push(h);
            }
        }
        self.aums.insert(h, a);
        self.commit_times.insert(h, now);
    }
}

impl Storage for MemStorage {
    fn aum(&self, hash: &AumHash) -> Result<Option<StoredAum>, StorageError> {
        Ok(self.aums.get(hash).cloned())
    }

    fn child_aums(&self, parent: &AumHash) -> Result<Vec<StoredAum>, StorageError> {
        Ok(self
            .children
            .get(parent)
            .into_iter()
            .flatten()
            .filter_map(|h| self.aums.get(h).cloned())
            .collect())
    }

    fn heads(&self) -> Result<Vec<StoredAum>, StorageError> {
        Ok(self
            .aums
            .values()
            .filter(|a| {
                self.children
                    .get(&a.hash())
                    .is_none_or(|kids| kids.iter().all(|k| !self.aums.contains_key(k)))
            })
            .cloned()
            .collect())
    }

    fn commit_verified_aums(&mut self, aums: &[VerifiedAum], now: u64) -> Result<(), StorageError> {
        for a in aums {
            self.insert(a.stored().clone(), now);
        }
        Ok(())
    }

    fn last_active_ancestor(&self) -> Result<Option<AumHash>, StorageError> {
        Ok(self.last_active_ancestor)
    }

    fn set_last_active_ancestor(&mut self, hash: AumHash) -> Result<(), StorageError> {
        self.last_active_ancestor = Some(hash);
        Ok(())
    }

    fn all_aums(&self) -> Result<Vec<AumHash>, StorageError> {
        Ok(self.aums.keys().copied().collect())
    }

    fn commit_time(&self, hash: &AumHash) -> Result<Option<u64>, StorageError> {
        Ok(self.commit_times.get(hash).copied())
    }

    fn purge_aums(&mut self, hashes: &[AumHash]) -> Result<(), StorageError> {
        for h in hashes {
            if let Some(a) = self.aums.remove(h) {
                if let Some(p) = a.parent() {
                    if let Some(kids) = self.children.get_mut(&p) {
                        kids.retain(|k| k != h);
                        if kids.is_empty() {
                            self.children.remove(&p);
                        }
                    }
                }
            }
            self.commit_times.remove(h);
        }
        Ok(())
    }

    fn remove_all(&mut self) -> Result<(), StorageError> {
        *self = MemStorage::new();
        Ok(())
    }
}
