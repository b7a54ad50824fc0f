//! A storage wrapper that records what changed, so the machine can tell the
//! embedder what to persist.

use crate::hash::AumHash;
use crate::storage::{MemStorage, Storage, StorageError, StoredAum, VerifiedAum};

/// What the embedder must write to its durable store after one step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageDelta {
    /// Verified AUMs to store (persist [`VerifiedAum::to_cbor`]).
    pub committed: Vec<VerifiedAum>,
    /// AUMs to delete.
    pub purged: Vec<AumHash>,
    /// The new last-active-ancestor hint, if it changed.
    pub last_active_ancestor: Option<AumHash>,
}

impl StorageDelta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty() && self.purged.is_empty() && self.last_active_ancestor.is_none()
    }

    /// Applies this change to a store (the embedder's durable one, or a
    /// model of it), recording `now` (Unix seconds) as the commit time.
    pub fn apply_to<S: Storage + ?Sized>(
        &self,
        store: &mut S,
        now: u64,
    ) -> Result<(), StorageError> {
        store.commit_verified_aums(&self.committed, now)?;
        store.purge_aums(&self.purged)?;
        if let Some(h) = self.last_active_ancestor {
            store.set_last_active_ancestor(h)?;
        }
        Ok(())
    }
}

/// Wraps the machine's in-memory store and records every change.
pub(crate) struct Recording<'a> {
    pub(crate) inner: &'a mut MemStorage,
    pub(crate) delta: StorageDelta,
}

impl<'a> Recording<'a> {
    pub(crate) fn new(inner: &'a mut MemStorage) -> Self {
        Recording {
            inner,
            delta: StorageDelta::default(),
        }
    }
}

impl Storage for Recording<'_> {
    fn aum(&self, hash: &AumHash) -> Result<Option<StoredAum>, StorageError> {
        self.inner.aum(hash)
    }
    fn child_aums(&self, parent: &AumHash) -> Result<Vec<StoredAum>, StorageError> {
        self.inner.child_aums(parent)
    }
    fn heads(&self) -> Result<Vec<StoredAum>, StorageError> {
        self.inner.heads()
    }
    fn commit_verified_aums(&mut self, aums: &[VerifiedAum], now: u64) -> Result<(), StorageError> {
        self.inner.commit_verified_aums(aums, now)?;
        self.delta.committed.extend(aums.iter().cloned());
        Ok(())
    }
    fn last_active_ancestor(&self) -> Result<Option<AumHash>, StorageError> {
        self.inner.last_active_ancestor()
    }
    fn set_last_active_ancestor(&mut self, hash: AumHash) -> Result<(), StorageError> {
        self.inner.set_last_active_ancestor(hash)?;
        self.delta.last_active_ancestor = Some(hash);
        Ok(())
    }
    fn all_aums(&self) -> Result<Vec<AumHash>, StorageError> {
        self.inner.all_aums()
    }
    fn commit_time(&self, hash: &AumHash) -> Result<Option<u64>, StorageError> {
        self.inner.commit_time(hash)
    }
    fn purge_aums(&mut self, hashes: &[AumHash]) -> Result<(), StorageError> {
        self.inner.purge_aums(hashes)?;
        self.delta.purged.extend_from_slice(hashes);
        Ok(())
    }
    fn remove_all(&mut self) -> Result<(), StorageError> {
        self.inner.remove_all()
    }
}
