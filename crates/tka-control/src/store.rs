//! What the service needs from storage: a tailnet's row, its AUMs after a
//! sequence number, its nodes, and a locked read-decide-write cycle.
//!
//! [`SqlStore`](crate::SqlStore) implements it for SQLite and Postgres.

use crate::error::StoreError;
use crate::model::{AumRow, NodeQuery, NodeRecord, TailnetId, TailnetRow, Update};
use std::future::Future;
use tka::NodeKey;

/// Storage for the control service.
///
/// Correctness across replicas rests on [`ControlStore::lock`]: while a
/// [`LockedTailnet`] is held, no other holder (in this process or another
/// sharing the database) can change the tailnet, so a decision made on
/// what it read cannot lose an update.
pub trait ControlStore: Send + Sync + 'static {
    /// A tailnet held under its lock.
    type Locked: LockedTailnet;

    /// The tailnet's row (`None` if the tailnet was never written), read
    /// without the lock.
    fn row(
        &self,
        tailnet: &TailnetId,
    ) -> impl Future<Output = Result<Option<TailnetRow>, StoreError>> + Send;

    /// A consistent read of the row and the AUMs of its epoch with
    /// sequence number above `after_seq`, without the lock.
    fn read_chain(
        &self,
        tailnet: &TailnetId,
        after_seq: i64,
    ) -> impl Future<Output = Result<(Option<TailnetRow>, Vec<AumRow>), StoreError>> + Send;

    /// Every node of the tailnet.
    fn nodes(
        &self,
        tailnet: &TailnetId,
    ) -> impl Future<Output = Result<Vec<NodeRecord>, StoreError>> + Send;

    /// Adds a node, or updates its key and rotation key (its signature is
    /// kept only if the key is unchanged).
    fn upsert_node(
        &self,
        tailnet: &TailnetId,
        node: &NodeRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds a node with the next free ID if no node has this key; returns
    /// the node's ID.
    fn register_key(
        &self,
        tailnet: &TailnetId,
        key: &NodeKey,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Removes a node.
    fn remove_node(
        &self,
        tailnet: &TailnetId,
        id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the tailnet's lock (creating its row if needed) and returns
    /// the locked tailnet.
    fn lock(
        &self,
        tailnet: &TailnetId,
    ) -> impl Future<Output = Result<Self::Locked, StoreError>> + Send;
}

/// A tailnet under its lock. Dropping it without [`LockedTailnet::commit`]
/// discards every write.
pub trait LockedTailnet: Send {
    /// The row.
    fn row(&mut self) -> impl Future<Output = Result<TailnetRow, StoreError>> + Send;

    /// The AUMs of `epoch` with sequence number above `after_seq`, in order.
    fn aums(
        &mut self,
        epoch: i64,
        after_seq: i64,
    ) -> impl Future<Output = Result<Vec<AumRow>, StoreError>> + Send;

    /// The nodes the query names.
    fn nodes(
        &mut self,
        query: &NodeQuery,
    ) -> impl Future<Output = Result<Vec<NodeRecord>, StoreError>> + Send;

    /// Writes `update`; `expected_version` is the version of the row read
    /// (the write fails with [`StoreError::Conflict`] if it changed).
    fn apply(
        &mut self,
        expected_version: i64,
        update: &Update,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Commits and releases the lock.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
