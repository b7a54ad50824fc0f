//! A real control service for node tests: `tka_control::standalone` over a
//! SQLite file on 127.0.0.1, an operator running `tka::admin` flows
//! against it, netmaps as control would send them, and a transport
//! wrapper that counts requests and can hold one kind back.

#![allow(dead_code)] // each test binary uses a part

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tka::admin::{Disable, Identity, Init, InitRandom, Modify, SignNode};
use tka::wire::Path;
use tka::{AumHash, Authority, Key, MemStorage, NlPrivate, NodeKey};
use tka_control::standalone::{self, TAILNET};
use tka_control::{TailnetId, UnsignedPolicy};
use tka_node::{HttpTransport, Netmap, Transport, TransportError};
use tokio::sync::watch;

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The standalone control service, serving one tailnet.
pub struct Control {
    pub handle: standalone::Handle,
    pub url: String,
    tailnet: TailnetId,
}

impl Control {
    /// Serves a new SQLite database in `dir` on an ephemeral loopback port.
    pub async fn spawn(dir: &std::path::Path) -> Control {
        let (addr, handle) = standalone::spawn(dir.join("db.sqlite")).await.unwrap();
        Control {
            handle,
            url: format!("http://{addr}"),
            tailnet: TailnetId::from(TAILNET),
        }
    }

    pub fn transport(&self) -> HttpTransport {
        HttpTransport::new(&self.url).unwrap()
    }

    /// Registers a node (as its first request would); returns its ID.
    pub async fn register(&self, key: &NodeKey) -> i64 {
        self.handle
            .service()
            .register_key(&self.tailnet, key)
            .await
            .unwrap()
    }

    /// Control's head, if the lock is on.
    pub async fn head(&self) -> Option<AumHash> {
        let info = self.handle.service().tka_info(&self.tailnet).await.unwrap();
        info.filter(|i| !i.disabled)
            .and_then(|i| i.head_hash().unwrap())
    }

    /// The netmap control sends node `me`: `TKAInfo`, its own signature,
    /// and every other node it shows (nodes without a valid signature are
    /// left out while the lock is on).
    pub async fn netmap(&self, me: &NodeKey) -> Netmap {
        let service = self.handle.service();
        let tka_info = service.tka_info(&self.tailnet).await.unwrap();
        let views = service
            .peer_views(&self.tailnet, UnsignedPolicy::Hide)
            .await
            .unwrap();
        let mut self_signature = None;
        let mut peers = Vec::new();
        for (node, view) in views {
            if node.key == *me {
                self_signature = node.key_signature.map(Bytes::from);
                continue;
            }
            peers.extend(view.into_peer(&node));
        }
        peers.sort_by_key(|p| p.node_id);
        Netmap {
            tka_info,
            self_signature,
            peers,
        }
    }
}

/// An operator at a node: its identity and its own copy of the authority.
pub struct Operator {
    pub id: Identity,
    pub storage: MemStorage,
    pub authority: Option<Authority>,
}

impl Operator {
    pub fn new(node_key: NodeKey, key: NlPrivate) -> Self {
        Operator {
            id: Identity { node_key, key },
            storage: MemStorage::new(),
            authority: None,
        }
    }

    /// `lock init` trusting `keys` with one generated disablement secret;
    /// signs every node control knows. Returns the secret.
    pub async fn init(&mut self, control: &Control, keys: Vec<Key>) -> Vec<u8> {
        let secret = [0x5e; 32];
        let random = InitRandom {
            state_ids: *b"0123456789abcdef",
            secrets: vec![secret],
            support: None,
        };
        let flow = Init::new(self.id.clone(), false, keys, Vec::new(), random, now_secs()).unwrap();
        let out = tka_node::admin::run(flow, &control.transport())
            .await
            .unwrap();
        self.authority =
            Some(Authority::bootstrap(&mut self.storage, out.genesis, now_secs()).unwrap());
        out.secrets[0].to_vec()
    }

    /// `lock add`.
    pub async fn add_key(&mut self, control: &Control, key: Key) {
        let flow = Modify::new(
            self.id.clone(),
            self.authority.as_ref(),
            &self.storage,
            &[key],
            &[],
        )
        .unwrap();
        let updates = flow.updates().to_vec();
        tka_node::admin::run(flow, &control.transport())
            .await
            .unwrap();
        let a = self.authority.as_mut().unwrap();
        a.inform(&mut self.storage, &updates, now_secs()).unwrap();
    }

    /// `lock sign` with another trusted key, in this operator's name.
    pub async fn sign_with(&self, control: &Control, signer: &NlPrivate, node: &NodeKey) {
        let id = Identity {
            node_key: self.id.node_key,
            key: signer.clone(),
        };
        let flow = SignNode::new(id, self.authority.as_ref(), node, None).unwrap();
        tka_node::admin::run(flow, &control.transport())
            .await
            .unwrap();
    }

    /// `lock disable <secret>`.
    pub async fn disable(&self, control: &Control, secret: Vec<u8>) {
        let flow = Disable::new(self.id.clone(), self.authority.as_ref(), secret).unwrap();
        tka_node::admin::run(flow, &control.transport())
            .await
            .unwrap();
    }
}

/// A transport over a real one that counts requests per path and can hold
/// requests of one path until released.
#[derive(Clone)]
pub struct Watched<T> {
    inner: Arc<T>,
    counts: Arc<Mutex<HashMap<&'static str, usize>>>,
    hold: watch::Sender<Option<Path>>,
}

impl<T> Watched<T> {
    pub fn new(inner: T) -> Self {
        Watched {
            inner: Arc::new(inner),
            counts: Arc::default(),
            hold: watch::channel(None).0,
        }
    }

    pub fn count(&self, path: Path) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(path.as_str())
            .copied()
            .unwrap_or(0)
    }

    /// Holds requests to `path` (sent once released).
    pub fn hold(&self, path: Path) {
        self.hold.send_replace(Some(path));
    }

    pub fn release(&self) {
        self.hold.send_replace(None);
    }
}

impl<T: Transport> Transport for Watched<T> {
    async fn send(&self, path: Path, body: Bytes) -> Result<Bytes, TransportError> {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(path.as_str())
            .or_default() += 1;
        let mut held = self.hold.subscribe();
        let _ = held.wait_for(|h| *h != Some(path)).await;
        self.inner.send(path, body).await
    }
}

/// Waits for a watched value (a hang guard, not a timing assertion).
pub async fn wait<T: Clone>(
    rx: &mut watch::Receiver<T>,
    what: &str,
    f: impl FnMut(&T) -> bool,
) -> T {
    match tokio::time::timeout(Duration::from_secs(60), rx.wait_for(f)).await {
        Ok(Ok(v)) => v.clone(),
        Ok(Err(_)) => panic!("{what}: driver stopped"),
        Err(_) => panic!("{what}: not reached"),
    }
}
