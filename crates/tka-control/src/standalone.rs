//! One tailnet served on loopback, for tests, demos and small self-hosted
//! setups: `tka-control serve --listen 127.0.0.1:PORT --db PATH`, or
//! [`spawn`] in-process.
//!
//! **Unauthenticated.** There is no Noise channel here: the caller is the
//! node whose key is in the request body's `NodeKey` field, and a node key
//! seen for the first time is registered in the tailnet (auto-registration,
//! with the next free node ID), so `init/begin` lists every node that has
//! talked to the server. Anyone who can reach the socket can act as any
//! node; [`serve`] therefore only listens on loopback addresses. Tailnet
//! Lock's own checks (signed AUMs, verified node-key signatures, the
//! disablement secret) still hold: a caller cannot forge those.

use crate::error::StoreError;
use crate::http::{router, Identify, Rejection};
use crate::model::{Caller, TailnetId};
use crate::service::Service;
use crate::sql::SqlStore;
use axum::http::request::Parts;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tka::wire::{self, FromWire, Path, WireError};
use tka::NodeKey;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The tailnet the standalone server serves.
pub const TAILNET: &str = "standalone";

/// Why the standalone server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StandaloneError {
    /// The listen address is not a loopback address.
    #[error("refusing to listen on {0}: the standalone server is unauthenticated and only listens on loopback")]
    NotLoopback(SocketAddr),
    /// Binding or serving failed.
    #[error("listening: {0}")]
    Io(#[from] std::io::Error),
    /// Opening the database failed.
    #[error("opening the database: {0}")]
    Store(#[from] StoreError),
}

/// The `NodeKey` field of a request body for `path`.
pub fn request_node_key(path: Path, body: &[u8]) -> Result<NodeKey, WireError> {
    Ok(match path {
        Path::InitBegin => wire::InitBeginRequest::from_json(body)?.node_key,
        Path::InitFinish => wire::InitFinishRequest::from_json(body)?.node_key,
        Path::Bootstrap => wire::BootstrapRequest::from_json(body)?.node_key,
        Path::SyncOffer => wire::SyncOfferRequest::from_json(body)?.node_key,
        Path::SyncSend => wire::SyncSendRequest::from_json(body)?.node_key,
        Path::Disable => wire::DisableRequest::from_json(body)?.node_key,
        Path::Sign => wire::SubmitSignatureRequest::from_json(body)?.node_key,
        Path::AffectedSigs => wire::SignaturesUsingKeyRequest::from_json(body)?.node_key,
        #[allow(unreachable_patterns)]
        _ => NodeKey::default(),
    })
}

/// Identifies callers by the body's `NodeKey`, registering new keys in
/// [`TAILNET`] (see the module documentation: unauthenticated).
#[derive(Clone, Debug)]
pub struct BodyNodeKey {
    service: Arc<Service<SqlStore>>,
    tailnet: TailnetId,
    known: Arc<Mutex<HashSet<NodeKey>>>,
}

impl BodyNodeKey {
    /// Identifies callers of `service` as nodes of `tailnet`.
    pub fn new(service: Arc<Service<SqlStore>>, tailnet: TailnetId) -> Self {
        BodyNodeKey {
            service,
            tailnet,
            known: Arc::default(),
        }
    }
}

impl Identify for BodyNodeKey {
    async fn identify(&self, path: Path, _: &Parts, body: &[u8]) -> Result<Caller, Rejection> {
        let node = request_node_key(path, body).map_err(|e| Rejection {
            status: 400,
            message: format!("Decode: {e}"),
        })?;
        if node == NodeKey::default() {
            return Err(Rejection {
                status: 400,
                message: "request has no NodeKey".into(),
            });
        }
        let seen = self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&node);
        if !seen {
            self.service
                .register_key(&self.tailnet, &node)
                .await
                .map_err(|e| Rejection {
                    status: 500,
                    message: format!("registering node: {e}"),
                })?;
            self.known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(node);
        }
        Ok(Caller {
            tailnet: self.tailnet.clone(),
            node,
        })
    }
}

/// A running standalone server.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    service: Arc<Service<SqlStore>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Handle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service (e.g. to read `tka_info` or the nodes).
    pub fn service(&self) -> &Arc<Service<SqlStore>> {
        &self.service
    }

    /// Stops serving and waits for the server to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

/// Serves [`TAILNET`] from `store` on `listen` (a loopback address; port 0
/// picks one) in a background task.
pub async fn serve(store: SqlStore, listen: SocketAddr) -> Result<Handle, StandaloneError> {
    if !listen.ip().is_loopback() {
        return Err(StandaloneError::NotLoopback(listen));
    }
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let service = Arc::new(Service::new(store));
    let app = router(
        service.clone(),
        BodyNodeKey::new(service.clone(), TailnetId::from(TAILNET)),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Handle {
        addr,
        service,
        stop: Some(stop),
        task,
    })
}

/// Starts a standalone server on an ephemeral loopback port over the SQLite
/// file `db` (created if missing): for tests.
pub async fn spawn(
    db: impl AsRef<std::path::Path>,
) -> Result<(SocketAddr, Handle), StandaloneError> {
    let store = SqlStore::sqlite(db).await?;
    let h = serve(store, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    Ok((h.addr(), h))
}
