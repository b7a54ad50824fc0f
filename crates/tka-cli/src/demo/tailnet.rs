//! The demo's tailnet: the standalone control server over SQLite, the
//! nodes (each a `DirStore` in the work directory driven by the tokio
//! driver over HTTP), the netmaps control sends them, and the checks on
//! what the nodes decide.
//!
//! Netmaps are what an honest control would send (the `TKAInfo` from
//! [`tka_control::Service::tka_info`], the peers
//! [`tka_control::netmap::peer_views`] lets through, each with its stored
//! signature) plus the peers a lying control slips in ([`Tailnet::inject`]):
//! the nodes must refuse those on their own.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tka::admin::Identity;
use tka::machine::{Mode, NodeId, Peer, PeerVerdict};
use tka::wire::{Path as WirePath, TkaInfo};
use tka::{AumHash, NlPrivate, NodeKey};
use tka_control::standalone::{self, Handle, TAILNET};
use tka_control::{NodeRecord, TailnetId, UnsignedPolicy};
use tka_node::{DirStore, HttpTransport, Netmap, Node, NodeHandle, Transport, TransportError};

/// How long a node may take to reach an expected state before the demo
/// reports it as failed (a hang guard; it normally takes milliseconds).
const SETTLE: Duration = Duration::from_secs(20);

/// Requests a node sent to control, by endpoint.
type Counts = Arc<Mutex<BTreeMap<&'static str, u32>>>;

/// An [`HttpTransport`] that counts the requests it sends.
#[derive(Clone)]
struct Counted {
    http: HttpTransport,
    counts: Counts,
}

impl Transport for Counted {
    async fn send(&self, path: WirePath, body: Bytes) -> Result<Bytes, TransportError> {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.as_str())
            .or_default() += 1;
        self.http.send(path, body).await
    }
}

/// A node run by the demo.
pub struct Member {
    /// Its name in the output.
    pub name: &'static str,
    /// Its node key (control identifies it by this).
    pub node_key: NodeKey,
    /// Its tailnet-lock key.
    pub lock_key: NlPrivate,
    /// Its AUM store.
    pub dir: PathBuf,
    handle: Option<NodeHandle>,
    counts: Counts,
    /// The peers of the last netmap it was given.
    peers: Vec<NodeId>,
}

impl Member {
    /// Who it is when it operates the lock.
    pub fn identity(&self) -> Identity {
        Identity {
            node_key: self.node_key,
            key: self.lock_key.clone(),
        }
    }

    /// Its running driver.
    pub fn handle(&self) -> Result<&NodeHandle, String> {
        self.handle
            .as_ref()
            .ok_or_else(|| format!("{}'s node is not running", self.name))
    }

    /// Requests sent since its driver (re)started, by endpoint.
    pub fn requests(&self) -> BTreeMap<&'static str, u32> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Control, the nodes, and the peers a lying control adds.
pub struct Tailnet {
    control: Option<Handle>,
    tailnet: TailnetId,
    url: String,
    /// The nodes the demo runs.
    pub members: Vec<Member>,
    names: BTreeMap<NodeId, &'static str>,
    injected: BTreeMap<NodeId, Peer>,
    operator: HttpTransport,
}

/// 32 random bytes.
pub fn random32() -> [u8; 32] {
    crate::offline::random_bytes::<32>()
}

fn err(what: &str) -> impl Fn(tka_control::ServiceError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Tailnet {
    /// Starts control on 127.0.0.1 with its database in `dir` and a node
    /// per name (IDs 1, 2, …; stores in `dir/<name>`; observe mode; keys
    /// fresh from the OS's random source), each registered at control with
    /// its lock key as rotation key.
    pub async fn start(dir: &Path, names: &[&'static str]) -> Result<Self, String> {
        let (addr, control) = standalone::spawn(dir.join("control.sqlite"))
            .await
            .map_err(|e| format!("starting control: {e}"))?;
        let url = format!("http://{addr}");
        let operator = HttpTransport::new(&url).map_err(|e| e.to_string())?;
        let mut t = Tailnet {
            control: Some(control),
            tailnet: TailnetId::from(TAILNET),
            url,
            members: Vec::new(),
            names: BTreeMap::new(),
            injected: BTreeMap::new(),
            operator,
        };
        for (i, name) in names.iter().enumerate() {
            let lock_key = NlPrivate::from_seed(&random32());
            let node_key = NodeKey(random32());
            let id = i as NodeId + 1;
            t.register(name, id, node_key, Some(lock_key.public().0.to_vec()))
                .await?;
            let dir = dir.join(name);
            let mut m = Member {
                name,
                node_key,
                lock_key,
                dir,
                handle: None,
                counts: Counts::default(),
                peers: Vec::new(),
            };
            let store = DirStore::open(&m.dir).map_err(|e| format!("{name}'s store: {e}"))?;
            launch(&t.url, &mut m, store, Some(Mode::Observe))?;
            t.members.push(m);
        }
        Ok(t)
    }

    /// Control's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The transport the operator's commands use.
    pub fn operator(&self) -> &HttpTransport {
        &self.operator
    }

    fn control(&self) -> Result<&Handle, String> {
        self.control
            .as_ref()
            .ok_or_else(|| "control has stopped".to_string())
    }

    /// Adds a node to control's list (a node that joined the tailnet).
    pub async fn register(
        &mut self,
        name: &'static str,
        id: NodeId,
        key: NodeKey,
        rotation: Option<Vec<u8>>,
    ) -> Result<(), String> {
        let record = NodeRecord {
            id,
            key,
            rotation_pubkey: rotation,
            key_signature: None,
        };
        self.control()?
            .service()
            .upsert_node(&self.tailnet, &record)
            .await
            .map_err(err("registering a node at control"))?;
        self.names.insert(id, name);
        Ok(())
    }

    /// A peer a lying control adds to every netmap (unless control sends
    /// that node itself).
    pub fn inject(&mut self, name: &'static str, id: NodeId, key: NodeKey, signature: Vec<u8>) {
        self.names.insert(id, name);
        self.injected.insert(
            id,
            Peer {
                node_id: id,
                node_key: key,
                signature: Bytes::from(signature),
                unsigned_peer_api_only: false,
            },
        );
    }

    /// The name of node `id`.
    pub fn name(&self, id: NodeId) -> &'static str {
        self.names.get(&id).copied().unwrap_or("?")
    }

    /// The `TKAInfo` control puts in map responses.
    pub async fn tka_info(&self) -> Result<Option<TkaInfo>, String> {
        self.control()?
            .service()
            .tka_info(&self.tailnet)
            .await
            .map_err(err("reading control's TKAInfo"))
    }

    /// Control's head (`None` while the lock is off).
    pub async fn control_head(&self) -> Result<Option<AumHash>, String> {
        match self.tka_info().await? {
            Some(info) if info.enabled() => info
                .head_hash()
                .map_err(|e| format!("control's TKAInfo: {e}")),
            _ => Ok(None),
        }
    }

    /// The trusted keys in control's current state.
    pub async fn control_keys(&self) -> Result<Vec<[u8; 32]>, String> {
        let t = self
            .control()?
            .service()
            .snapshot(&self.tailnet)
            .await
            .map_err(err("reading control's state"))?;
        Ok(t.chain()
            .map(|c| {
                c.authority()
                    .keys()
                    .iter()
                    .filter_map(|k| k.public.as_deref()?.try_into().ok())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The signature control stores for node `key`.
    pub async fn stored_signature(&self, key: &NodeKey) -> Result<Option<Vec<u8>>, String> {
        let nodes = self
            .control()?
            .service()
            .nodes(&self.tailnet)
            .await
            .map_err(err("reading control's nodes"))?;
        Ok(nodes
            .into_iter()
            .find(|n| n.key == *key)
            .and_then(|n| n.key_signature))
    }

    /// The peers honest control sends (`peer_views`, hiding nodes without
    /// a signature that verifies) and the nodes it hides.
    async fn honest_peers(&self) -> Result<(Vec<Peer>, Vec<NodeId>), String> {
        let views = self
            .control()?
            .service()
            .peer_views(&self.tailnet, UnsignedPolicy::Hide)
            .await
            .map_err(err("reading control's peer views"))?;
        let mut sent = Vec::new();
        let mut hidden = Vec::new();
        for (node, view) in views {
            match view.into_peer(&node) {
                Some(peer) => sent.push(peer),
                None => hidden.push(node.id),
            }
        }
        Ok((sent, hidden))
    }

    /// The peers control's own filter keeps out of netmaps that the lying
    /// control sends anyway.
    pub async fn hidden_by_control(&self) -> Result<Vec<&'static str>, String> {
        let (sent, _) = self.honest_peers().await?;
        let sent: BTreeSet<NodeId> = sent.iter().map(|p| p.node_id).collect();
        Ok(self
            .injected
            .keys()
            .filter(|id| !sent.contains(id))
            .map(|id| self.name(*id))
            .collect())
    }

    /// Sends every running node its netmap: control's `TKAInfo`, its own
    /// signature, and its peers (honest control's, then the injected ones).
    pub async fn push_netmaps(&mut self) -> Result<(), String> {
        let tka_info = self.tka_info().await?;
        let (honest, _) = self.honest_peers().await?;
        let mut all: BTreeMap<NodeId, Peer> = self.injected.clone();
        for p in honest {
            all.insert(p.node_id, p);
        }
        for i in 0..self.members.len() {
            let me = self.members[i].node_key;
            let Some(handle) = self.members[i].handle.clone() else {
                continue;
            };
            let self_signature = self.stored_signature(&me).await?.map(Bytes::from);
            let peers: Vec<Peer> = all.values().filter(|p| p.node_key != me).cloned().collect();
            self.members[i].peers = peers.iter().map(|p| p.node_id).collect();
            handle
                .netmap(Netmap {
                    tka_info: tka_info.clone(),
                    self_signature,
                    peers,
                })
                .await
                .map_err(|e| format!("{}: {e}", self.members[i].name))?;
        }
        Ok(())
    }

    /// Sets every running node's mode.
    pub async fn set_mode(&self, mode: Mode) -> Result<(), String> {
        for m in &self.members {
            m.handle()?
                .set_mode(mode)
                .await
                .map_err(|e| format!("{}: {e}", m.name))?;
        }
        Ok(())
    }

    /// Stops member `i`'s node and returns its store.
    pub async fn stop(&mut self, i: usize) -> Result<DirStore, String> {
        let m = &mut self.members[i];
        let h = m
            .handle
            .take()
            .ok_or_else(|| format!("{}'s node is not running", m.name))?;
        h.shutdown()
            .await
            .map_err(|e| format!("stopping {}: {e}", m.name))
    }

    /// Starts member `i`'s node again from what is on disk (the mode
    /// saved there included), without a netmap yet.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        let m = &mut self.members[i];
        let store =
            DirStore::open(&m.dir).map_err(|e| format!("reopening {}'s store: {e}", m.name))?;
        launch(&self.url, m, store, None)
    }

    /// Waits until every running node is healthy, has head `head` and, for each peer
    /// of its last netmap, the verdict expected: for the peers in `bad`,
    /// that refusal (admitted anyway in observe mode); for the others,
    /// authorized (or unfiltered while the lock is off).
    pub async fn settle(
        &self,
        head: Option<AumHash>,
        bad: &BTreeMap<NodeId, &'static str>,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + SETTLE;
        for m in &self.members {
            if m.handle.is_none() {
                continue;
            }
            loop {
                match self.check(m, head, bad) {
                    Ok(()) => break,
                    Err(why) if tokio::time::Instant::now() >= deadline => {
                        return Err(format!("{}: {why}", m.name));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }
        Ok(())
    }

    fn check(
        &self,
        m: &Member,
        head: Option<AumHash>,
        bad: &BTreeMap<NodeId, &'static str>,
    ) -> Result<(), String> {
        let h = m.handle()?;
        let got = *h.head().borrow();
        if got != head {
            return Err(format!(
                "head is {}, expected {}",
                short_head(got),
                short_head(head)
            ));
        }
        let health = h.health().borrow().clone();
        if !health.is_ok() {
            return Err(format!("unhealthy: {}", health_text(&health)));
        }
        let verdicts = h.verdicts().borrow().clone();
        let observe = h.current_mode() == Mode::Observe;
        for id in &m.peers {
            let name = self.name(*id);
            let v = verdicts
                .get(id)
                .ok_or_else(|| format!("no verdict for {name} yet"))?;
            let (kind, admitted) = match bad.get(id) {
                Some(kind) => (*kind, observe),
                None if head.is_some() => ("authorized", true),
                None => ("unfiltered", true),
            };
            if v.verdict.kind() != kind || v.admitted != admitted {
                let what = if admitted { "admitted" } else { "refused" };
                return Err(format!(
                    "{name}: expected {what} ({kind}), got {}",
                    describe(v).join(": ")
                ));
            }
        }
        if verdicts.len() != m.peers.len() {
            return Err(format!(
                "{} verdicts for {} peers",
                verdicts.len(),
                m.peers.len()
            ));
        }
        Ok(())
    }

    /// Each running node's verdict on peer `id`.
    pub fn verdicts_on(&self, id: NodeId) -> Vec<(&'static str, PeerVerdict)> {
        self.members
            .iter()
            .filter_map(|m| {
                let v = m.handle.as_ref()?.verdicts().borrow().get(&id).cloned()?;
                Some((m.name, v))
            })
            .collect()
    }

    /// Stops every node and control; returns each node's store.
    pub async fn shutdown(mut self) -> Result<Vec<(&'static str, DirStore)>, String> {
        let mut stores = Vec::new();
        for i in 0..self.members.len() {
            if self.members[i].handle.is_some() {
                stores.push((self.members[i].name, self.stop(i).await?));
            }
        }
        if let Some(c) = self.control.take() {
            c.shutdown()
                .await
                .map_err(|e| format!("stopping control: {e}"))?;
        }
        Ok(stores)
    }
}

/// Starts `m`'s driver on `store`, talking to control at `url` (`mode`
/// `None`: the mode saved in the store).
fn launch(url: &str, m: &mut Member, store: DirStore, mode: Option<Mode>) -> Result<(), String> {
    m.counts = Counts::default();
    let transport = Counted {
        http: HttpTransport::new(url).map_err(|e| e.to_string())?,
        counts: m.counts.clone(),
    };
    let mut node = Node::new(m.node_key);
    if let Some(mode) = mode {
        node = node.mode(mode);
    }
    let handle = node
        .start(store, transport)
        .map_err(|e| format!("starting {}'s node: {e}", m.name))?;
    m.handle = Some(handle);
    Ok(())
}

fn health_text(h: &tka_node::Health) -> String {
    let mut parts: Vec<String> = h.issues.iter().map(ToString::to_string).collect();
    parts.extend(h.persist_error.iter().map(|e| format!("saving: {e}")));
    parts.extend(h.bad_tka_info.iter().cloned());
    parts.join("; ")
}

/// The first 8 characters of a hash's text.
pub fn short(h: &AumHash) -> String {
    h.to_string().chars().take(8).collect()
}

fn short_head(h: Option<AumHash>) -> String {
    h.map_or_else(|| "none (lock off)".to_string(), |h| short(&h))
}

/// A verdict in words: what happens to the peer, and why.
pub fn describe(v: &PeerVerdict) -> [String; 2] {
    use tka::machine::Verdict;
    let (word, why) = match &v.verdict {
        Verdict::Authorized(a) if a.rotation().is_some() => {
            ("admitted", "authorized (rotated key)".into())
        }
        Verdict::Authorized(_) => ("admitted", "signature verified".into()),
        Verdict::Unfiltered => ("admitted", "lock off, peers not filtered".into()),
        Verdict::PeerApiOnly => ("admitted", "peer API only".into()),
        Verdict::Rejected(r) if v.admitted => (
            "would be refused",
            format!("{r} (observe mode admits it anyway)"),
        ),
        Verdict::Rejected(r) => ("refused", r.to_string()),
        Verdict::Pending => ("pending", "waiting for a sync with control".into()),
        other => (
            if v.admitted { "admitted" } else { "refused" },
            other.to_string(),
        ),
    };
    [word.to_string(), why]
}
