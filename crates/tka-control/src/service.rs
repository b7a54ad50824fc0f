//! [`Service`]: the eight `/machine/tka` endpoints over a [`ControlStore`],
//! for callers the embedder identified.
//!
//! Reads (`bootstrap`, `sync/offer`, `affected-sigs`, a `sync/send` that
//! brings nothing new) answer from an in-memory snapshot of the tailnet,
//! refreshed whenever the stored row's version moved (only the AUMs added
//! since are read). Changes take the tailnet's lock in the store, bring the
//! snapshot up to date under it, decide ([`crate::decide`]), write, commit,
//! and only then replace the snapshot.

use crate::decide::{self, Decision, Tailnet};
use crate::error::ServiceError;
use crate::model::{Caller, NodeQuery, NodeRecord, TailnetId, TailnetRow};
use crate::netmap::{self, PeerView, UnsignedPolicy};
use crate::store::{ControlStore, LockedTailnet};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tka::wire::{self, FromWire, Path, ToWire};
use tka::NodeKey;

/// The control side of Tailnet Lock for many tailnets.
#[derive(Debug)]
pub struct Service<St: ControlStore> {
    store: St,
    cache: Mutex<HashMap<TailnetId, Arc<Tailnet>>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check_caller(caller: &Caller, node_key: &NodeKey) -> Result<(), ServiceError> {
    if *node_key != caller.node {
        return Err(ServiceError::NodeKeyMismatch { got: *node_key });
    }
    Ok(())
}

/// A response body as Go's server writes it (`json.Encoder`: JSON and a
/// newline).
fn body<T: ToWire>(resp: &T) -> Vec<u8> {
    let mut out = resp.to_json();
    out.push(b'\n');
    out
}

impl<St: ControlStore> Service<St> {
    /// A service over `store`.
    pub fn new(store: St) -> Self {
        Service {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// Answers a request body for `path` from `caller` with a response
    /// body (JSON and a newline, as Go writes it).
    pub async fn handle(
        &self,
        caller: &Caller,
        path: Path,
        req: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        Ok(match path {
            Path::InitBegin => body(
                &self
                    .init_begin(caller, &wire::InitBeginRequest::from_json(req)?)
                    .await?,
            ),
            Path::InitFinish => body(
                &self
                    .init_finish(caller, &wire::InitFinishRequest::from_json(req)?)
                    .await?,
            ),
            Path::Bootstrap => body(
                &self
                    .bootstrap(caller, &wire::BootstrapRequest::from_json(req)?)
                    .await?,
            ),
            Path::SyncOffer => body(
                &self
                    .sync_offer(caller, &wire::SyncOfferRequest::from_json(req)?)
                    .await?,
            ),
            Path::SyncSend => body(
                &self
                    .sync_send(caller, &wire::SyncSendRequest::from_json(req)?)
                    .await?,
            ),
            Path::Disable => body(
                &self
                    .disable(caller, &wire::DisableRequest::from_json(req)?)
                    .await?,
            ),
            Path::Sign => body(
                &self
                    .sign(caller, &wire::SubmitSignatureRequest::from_json(req)?)
                    .await?,
            ),
            Path::AffectedSigs => body(
                &self
                    .affected_sigs(caller, &wire::SignaturesUsingKeyRequest::from_json(req)?)
                    .await?,
            ),
            // `Path` may grow variants.
            #[allow(unreachable_patterns)]
            p => return Err(ServiceError::UnknownPath(p.to_string())),
        })
    }

    /// `/machine/tka/init/begin`.
    pub async fn init_begin(
        &self,
        caller: &Caller,
        req: &wire::InitBeginRequest,
    ) -> Result<wire::InitBeginResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        self.locked(&caller.tailnet, NodeQuery::All, |t, nodes, now| {
            decide::init_begin(t, &caller.node, req, nodes, now)
        })
        .await
    }

    /// `/machine/tka/init/finish`.
    pub async fn init_finish(
        &self,
        caller: &Caller,
        req: &wire::InitFinishRequest,
    ) -> Result<wire::InitFinishResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        self.locked(&caller.tailnet, NodeQuery::All, |t, nodes, now| {
            decide::init_finish(t, &caller.node, req, nodes, now)
        })
        .await
    }

    /// `/machine/tka/bootstrap`.
    pub async fn bootstrap(
        &self,
        caller: &Caller,
        req: &wire::BootstrapRequest,
    ) -> Result<wire::BootstrapResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        let t = self.snapshot(&caller.tailnet).await?;
        Ok(decide::bootstrap(&t, req))
    }

    /// `/machine/tka/sync/offer`.
    pub async fn sync_offer(
        &self,
        caller: &Caller,
        req: &wire::SyncOfferRequest,
    ) -> Result<wire::SyncOfferResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        let t = self.snapshot(&caller.tailnet).await?;
        decide::sync_offer(&t, req)
    }

    /// `/machine/tka/sync/send`.
    pub async fn sync_send(
        &self,
        caller: &Caller,
        req: &wire::SyncSendRequest,
    ) -> Result<wire::SyncSendResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        // Nothing new (or a replay): answer from the snapshot.
        let t = self.snapshot(&caller.tailnet).await?;
        let d = decide::sync_send(&t, req, now())?;
        if d.update.is_none() {
            return Ok(d.response);
        }
        self.locked(&caller.tailnet, NodeQuery::None, |t, _, now| {
            decide::sync_send(t, req, now)
        })
        .await
    }

    /// `/machine/tka/disable`.
    pub async fn disable(
        &self,
        caller: &Caller,
        req: &wire::DisableRequest,
    ) -> Result<wire::DisableResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        // The Argon2i check runs before the lock is taken.
        let t = self.snapshot(&caller.tailnet).await?;
        decide::disablement_valid(&t, req)?;
        let checked = t.chain().map(|c| (t.row.epoch, c.authority().head()));
        self.locked(&caller.tailnet, NodeQuery::None, |t, _, _| {
            decide::disable(t, req, checked)
        })
        .await
    }

    /// `/machine/tka/sign`.
    pub async fn sign(
        &self,
        caller: &Caller,
        req: &wire::SubmitSignatureRequest,
    ) -> Result<wire::SubmitSignatureResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        let key = decide::signed_node_key(req)?;
        self.locked(&caller.tailnet, NodeQuery::ByKey(key), |t, nodes, _| {
            decide::sign(t, req, nodes)
        })
        .await
    }

    /// `/machine/tka/affected-sigs`.
    pub async fn affected_sigs(
        &self,
        caller: &Caller,
        req: &wire::SignaturesUsingKeyRequest,
    ) -> Result<wire::SignaturesUsingKeyResponse, ServiceError> {
        check_caller(caller, &req.node_key)?;
        let t = self.snapshot(&caller.tailnet).await?;
        let nodes = self.store.nodes(&caller.tailnet).await?;
        decide::affected_sigs(&t, req, &nodes)
    }

    // --- Node registry and netmap helpers ------------------------------

    /// Adds or updates a node of `tailnet` (a changed key drops its
    /// signature).
    pub async fn upsert_node(
        &self,
        tailnet: &TailnetId,
        node: &NodeRecord,
    ) -> Result<(), ServiceError> {
        Ok(self.store.upsert_node(tailnet, node).await?)
    }

    /// Adds a node with key `key` and the next free ID unless one exists;
    /// returns its ID.
    pub async fn register_key(
        &self,
        tailnet: &TailnetId,
        key: &NodeKey,
    ) -> Result<i64, ServiceError> {
        Ok(self.store.register_key(tailnet, key).await?)
    }

    /// Removes a node.
    pub async fn remove_node(&self, tailnet: &TailnetId, id: i64) -> Result<(), ServiceError> {
        Ok(self.store.remove_node(tailnet, id).await?)
    }

    /// Every node of `tailnet`, with its stored signature.
    pub async fn nodes(&self, tailnet: &TailnetId) -> Result<Vec<NodeRecord>, ServiceError> {
        Ok(self.store.nodes(tailnet).await?)
    }

    /// The `TKAInfo` for `tailnet`'s map responses (`None` if the lock was
    /// never enabled).
    pub async fn tka_info(
        &self,
        tailnet: &TailnetId,
    ) -> Result<Option<wire::TkaInfo>, ServiceError> {
        Ok(decide::tka_info(&*self.snapshot(tailnet).await?))
    }

    /// Each node of `tailnet` and how it appears to its peers.
    pub async fn peer_views(
        &self,
        tailnet: &TailnetId,
        policy: UnsignedPolicy,
    ) -> Result<Vec<(NodeRecord, PeerView)>, ServiceError> {
        let t = self.snapshot(tailnet).await?;
        let nodes = self.store.nodes(tailnet).await?;
        let views = netmap::peer_views(t.chain().map(|c| c.authority()), &nodes, policy);
        Ok(nodes.into_iter().zip(views).collect())
    }

    /// The tailnet's current state (row and chain), reading only what
    /// changed since the cached copy.
    pub async fn snapshot(&self, tailnet: &TailnetId) -> Result<Arc<Tailnet>, ServiceError> {
        let Some(row) = self.store.row(tailnet).await? else {
            return Ok(Arc::new(Tailnet::default()));
        };
        let cached = self.cached(tailnet);
        if let Some(c) = cached.as_ref().filter(|c| c.row.version == row.version) {
            return Ok(c.clone());
        }
        let mut prev = cached;
        let mut row = Some(row);
        for _ in 0..3 {
            let after = match &row {
                Some(r) => Tailnet::aums_needed_after(prev.as_deref(), r),
                None => Some(0),
            };
            let (fresh, aums) = match (after, row.take()) {
                (None, Some(r)) => (Some(r), Vec::new()),
                (after, _) => self.store.read_chain(tailnet, after.unwrap_or(0)).await?,
            };
            let Some(fresh) = fresh else {
                return Ok(Arc::new(Tailnet::default()));
            };
            // The row read with the AUMs may be newer than the one the
            // sequence number was chosen for.
            if Tailnet::aums_needed_after(prev.as_deref(), &fresh).is_some_and(|a| Some(a) != after)
            {
                prev = None;
                continue;
            }
            match Tailnet::load(prev.as_deref(), fresh, aums, now())? {
                Some(t) => return Ok(self.put(tailnet, t)),
                None => prev = None,
            }
        }
        Err(ServiceError::Chain(
            "tailnet kept changing while being read".into(),
        ))
    }

    fn cached(&self, tailnet: &TailnetId) -> Option<Arc<Tailnet>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tailnet)
            .cloned()
    }

    /// Caches `t` unless a newer version is cached; returns the newest.
    fn put(&self, tailnet: &TailnetId, t: Tailnet) -> Arc<Tailnet> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(tailnet) {
            Some(c) if c.row.version > t.row.version => c.clone(),
            _ => {
                let t = Arc::new(t);
                cache.insert(tailnet.clone(), t.clone());
                t
            }
        }
    }

    /// Loads the tailnet under its lock into a snapshot.
    async fn load_locked(
        &self,
        locked: &mut St::Locked,
        tailnet: &TailnetId,
        row: TailnetRow,
    ) -> Result<Tailnet, ServiceError> {
        let prev = self.cached(tailnet);
        let prev = prev.as_deref();
        if let Some(after) = Tailnet::aums_needed_after(prev, &row) {
            let aums = locked.aums(row.epoch, after).await?;
            if let Some(t) = Tailnet::load(prev, row.clone(), aums, now())? {
                return Ok(t);
            }
            let aums = locked.aums(row.epoch, 0).await?;
            return Tailnet::load(None, row, aums, now())?
                .ok_or_else(|| ServiceError::Chain("stored AUMs do not reach the head".into()));
        }
        Tailnet::load(prev, row, Vec::new(), now())?
            .ok_or_else(|| ServiceError::Chain("stored AUMs do not reach the head".into()))
    }

    /// Read-decide-write under the tailnet's lock.
    async fn locked<R>(
        &self,
        tailnet: &TailnetId,
        query: NodeQuery,
        decide: impl FnOnce(&Tailnet, &[NodeRecord], u64) -> Result<Decision<R>, ServiceError>,
    ) -> Result<R, ServiceError> {
        let mut locked = self.store.lock(tailnet).await?;
        let row = locked.row().await?;
        let version = row.version;
        let t = self.load_locked(&mut locked, tailnet, row).await?;
        let nodes = locked.nodes(&query).await?;
        match decide(&t, &nodes, now()) {
            Err(e) => {
                self.put(tailnet, t);
                Err(e)
            }
            Ok(d) => {
                if let Some(u) = &d.update {
                    locked.apply(version, u).await?;
                    locked.commit().await?;
                }
                self.put(tailnet, d.next);
                Ok(d.response)
            }
        }
    }
}
