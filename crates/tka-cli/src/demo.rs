//! `tka demo`: a complete Tailnet Lock lifecycle on this machine, with no
//! setup. A control server (`tka_control`, SQLite in a temporary
//! directory) listens on 127.0.0.1; nodes keep their AUMs on disk
//! (`tka_node::DirStore`) and are driven by the tokio driver; every
//! request goes over real HTTP. The operator's commands are the same
//! admin flows the `tka` verbs run.
//!
//! Each step checks what it shows: if anything behaves unexpectedly the
//! demo stops with an error and a non-zero exit status.

use crate::online::run_flow;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tka::admin::{self, Identity};
use tka::machine::{Mode, Peer, RejectReason, Verdict};
use tka::{Authority, AumHash, MemStorage, NlPrivate, NodeKey, NodeKeySignature};
use tka_control::model::{NodeRecord, TailnetId};
use tka_control::standalone;
use tka_node::{DirStore, HttpTransport, Netmap, Node, NodeHandle};

type R<T> = Result<T, String>;

/// Terminal styling (plain when stdout is not a terminal).
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn step(&self, n: usize, title: &str) {
        println!("\n{}", self.paint("1;36", &format!("{n}. {title}")));
    }
    fn ok(&self, s: &str) {
        println!("   {} {s}", self.paint("32", "✓"));
    }
    fn no(&self, s: &str) {
        println!("   {} {s}", self.paint("31", "✗"));
    }
    fn info(&self, s: &str) {
        println!("   {}", self.paint("2", s));
    }
}

fn short(h: &AumHash) -> String {
    h.to_string()[..8].to_string()
}

fn short_key(k: &[u8]) -> String {
    format!("tlpub:{}…", data_encoding::HEXLOWER.encode(&k[..k.len().min(4)]))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One demo node: its keys, its directory and its running driver.
struct DemoNode {
    name: &'static str,
    id: i64,
    nl: NlPrivate,
    key: NodeKey,
    dir: PathBuf,
    handle: Option<NodeHandle>,
}

impl DemoNode {
    fn identity(&self) -> Identity {
        Identity {
            node_key: self.key,
            key: self.nl.clone(),
        }
    }
    fn handle(&self) -> R<&NodeHandle> {
        self.handle.as_ref().ok_or_else(|| format!("{} is not running", self.name))
    }
    /// The operator's view of this node's store: read from disk, as the
    /// `tka` command reads it.
    fn snapshot(&self) -> R<(MemStorage, Option<Authority>)> {
        let s = tka::tailchonk::load_dir(&self.dir).map_err(|e| e.to_string())?;
        let a = if s.is_empty() {
            None
        } else {
            Some(Authority::open(&s).map_err(|e| e.to_string())?)
        };
        Ok((s, a))
    }
}

/// A peer the (compromised) control plane slips into the netmaps.
struct Intruder {
    name: &'static str,
    id: i64,
    key: NodeKey,
    sig: Vec<u8>,
}

struct Demo {
    style: Style,
    url: String,
    transport: HttpTransport,
    control: standalone::Handle,
    tailnet: TailnetId,
    nodes: Vec<DemoNode>,
    intruders: Vec<Intruder>,
    names: BTreeMap<Vec<u8>, String>,
}

/// Runs the demo; `dir` keeps its files (a temporary directory when
/// `None`).
pub fn run(dir: Option<PathBuf>) -> R<String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let tmp;
    let root = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).map_err(|e| format!("creating {}: {e}", d.display()))?;
            d
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| format!("creating a temporary directory: {e}"))?;
            tmp.path().to_path_buf()
        }
    };
    rt.block_on(lifecycle(root))?;
    Ok(String::new())
}

fn seed(name: &str, what: &str) -> [u8; 32] {
    // Fresh randomness per run, labelled for readability of the code only.
    let _ = (name, what);
    crate::offline::random_bytes::<32>()
}

async fn lifecycle(root: PathBuf) -> R<()> {
    let style = Style {
        color: crate::offline::stdout_is_terminal(),
    };
    println!("{}", style.paint("1", "Tailnet Lock, start to finish: one control server, real HTTP, nodes on disk"));
    println!("{}", style.paint("2", &format!("files in {}", root.display())));

    // 1. Control.
    style.step(1, "Start the control server");
    let db = root.join("control.db");
    let (addr, control) = standalone::spawn(&db).await.map_err(|e| format!("control: {e}"))?;
    let url = format!("http://{addr}");
    style.ok(&format!("control listening on {url} (SQLite database {})", db.display()));
    let transport = HttpTransport::new(&url).map_err(|e| e.to_string())?;
    let mut d = Demo {
        style,
        url,
        transport,
        control,
        tailnet: TailnetId::from(standalone::TAILNET),
        nodes: Vec::new(),
        intruders: Vec::new(),
        names: BTreeMap::new(),
    };
    let r = d.steps(&root).await;
    for n in &d.nodes {
        if let Some(h) = &n.handle {
            let _ = h.shutdown().await;
        }
    }
    let _ = d.control.shutdown().await;
    r
}

impl Demo {
    async fn steps(&mut self, root: &std::path::Path) -> R<()> {
        // 2. Nodes.
        self.style.step(2, "Three nodes join: alice, bob and carol (observe mode)");
        for (i, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
            self.add_node(root, name, i as i64 + 1, Mode::Observe).await?;
        }
        self.push_netmaps().await?;
        self.wait_heads(None).await?;
        self.style.ok("Tailnet Lock is off: every peer is admitted unfiltered");

        // 3. Init.
        self.style.step(3, "alice initializes Tailnet Lock trusting alice's and bob's keys");
        let keys = vec![self.nodes[0].nl.to_key(1), self.nodes[1].nl.to_key(1)];
        let random = admin::InitRandom {
            state_ids: crate::offline::random_bytes::<16>(),
            secrets: vec![seed("init", "secret1"), seed("init", "secret2")],
            support: None,
        };
        let init = admin::Init::new(self.nodes[0].identity(), false, keys, vec![], random, now())
            .map_err(|e| e.to_string())?;
        let out = run_flow(&self.transport, &self.url, init).await?;
        let secrets = out.secrets.clone();
        self.style.ok(&format!(
            "genesis {} accepted by control; {} disablement secrets generated (e.g. {}…)",
            short(&out.genesis.hash()),
            secrets.len(),
            &data_encoding::HEXUPPER.encode(&secrets[0])[..12]
        ));
        let signed: Vec<String> = out.signed.iter().map(|(_, k)| self.node_name(k)).collect();
        self.style.ok(&format!("alice signed every node control listed: {}", signed.join(", ")));
        let head = self.control_head().await?;
        self.push_netmaps().await?;
        self.wait_heads(head).await?;
        for n in &self.nodes {
            self.style.ok(&format!("{} bootstrapped over HTTP and stored the chain on disk at {}", n.name, short(&head.unwrap_or_default())));
        }
        self.expect_all_admitted("every node").await?;

        // 4. Forged and unsigned nodes.
        self.style.step(4, "A compromised control plane slips in a forged and an unsigned node");
        let forger = NlPrivate::from_seed(&seed("mallory", "nl"));
        let mallory = NodeKey(seed("mallory", "node"));
        let forged = NodeKeySignature::sign_direct(&forger, &mallory, None).map_err(|e| e.to_string())?;
        self.intruders.push(Intruder { name: "mallory", id: 66, key: mallory, sig: forged.to_cbor() });
        self.intruders.push(Intruder { name: "eve", id: 77, key: NodeKey(seed("eve", "node")), sig: vec![] });
        self.push_netmaps().await?;
        self.wait_verdicts().await?;
        self.show_intruders("observe mode: admitted, but flagged").await?;
        for n in &self.nodes {
            n.handle()?.set_mode(Mode::Enforce).await.map_err(|_| "node stopped")?;
        }
        self.wait_verdicts().await?;
        self.show_intruders("enforce mode").await?;

        // 5. Add a key; a node signed by it is admitted.
        self.style.step(5, "alice adds carol's key; carol signs a new node, dave");
        let carol_key = self.nodes[2].nl.to_key(1);
        let (s, a) = self.nodes[0].snapshot()?;
        let m = admin::Modify::new(self.nodes[0].identity(), a.as_ref(), &s, &[carol_key], &[])
            .map_err(|e| e.to_string())?;
        let added = run_flow(&self.transport, &self.url, m).await?;
        self.style.ok(&format!("update {} (add-key {}) accepted by control", short(&added[0]), short_key(&self.nodes[2].nl.public().0)));
        let head = self.control_head().await?;
        self.push_netmaps().await?;
        self.wait_heads(head).await?;
        self.add_node(root, "dave", 4, Mode::Enforce).await?;
        let (_, a) = self.nodes[2].snapshot()?;
        let dave_rot = self.nodes[3].nl.public().0;
        let sign = admin::SignNode::new(self.nodes[2].identity(), a.as_ref(), &self.nodes[3].key, Some(dave_rot))
            .map_err(|e| e.to_string())?;
        run_flow(&self.transport, &self.url, sign).await?;
        self.style.ok("carol signed dave's node key (control verified it before storing)");
        self.push_netmaps().await?;
        self.wait_heads(head).await?;
        self.expect_all_admitted("dave too").await?;

        // 6. Restart from disk.
        self.style.step(6, "bob restarts from disk");
        let before = *self.nodes[1].handle()?.head().borrow();
        let store = self.nodes[1].handle()?.shutdown().await.map_err(|_| "bob already stopped")?;
        drop(store);
        self.nodes[1].handle = None;
        self.style.info("bob stopped");
        let store = DirStore::open(&self.nodes[1].dir).map_err(|e| e.to_string())?;
        let mode = store.mode();
        let h = Node::new(self.nodes[1].key)
            .start(store, HttpTransport::new(&self.url).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        self.nodes[1].handle = Some(h);
        let after = *self.nodes[1].handle()?.head().borrow();
        if after != before {
            return Err(format!("bob restarted at {after:?}, was at {before:?}"));
        }
        self.style.ok(&format!(
            "bob reopened its store: head {} and {} mode, before talking to control",
            short(&after.unwrap_or_default()),
            if mode == Some(Mode::Enforce) { "enforce" } else { "observe" }
        ));
        self.push_netmaps().await?;
        self.wait_heads(head).await?;
        self.expect_all_admitted("after the restart").await?;

        // 7. Revoke a compromised key.
        self.style.step(7, "carol's key leaks: the thief adds a key of his own; the others revoke both");
        let thief = NlPrivate::from_seed(&seed("thief", "nl"));
        self.names.insert(thief.public().0.to_vec(), "the thief".into());
        let (s, a) = self.nodes[2].snapshot()?;
        let stolen = Identity { node_key: self.nodes[2].key, key: self.nodes[2].nl.clone() };
        let m = admin::Modify::new(stolen, a.as_ref(), &s, &[thief.to_key(1)], &[]).map_err(|e| e.to_string())?;
        run_flow(&self.transport, &self.url, m).await?;
        let head = self.control_head().await?;
        self.push_netmaps().await?;
        self.wait_heads(head).await?;
        self.style.no(&format!("the thief's key {} is trusted (signed with carol's stolen key)", short_key(&thief.public().0)));
        let revoke = vec![self.nodes[2].nl.public().0.to_vec(), thief.public().0.to_vec()];
        let (s, a) = self.nodes[0].snapshot()?;
        let aum = admin::generate_recovery(a.as_ref(), &s, &self.nodes[0].nl, &revoke, None).map_err(|e| e.to_string())?;
        self.style.ok(&format!(
            "alice builds recovery checkpoint {} forking from {} (before carol's key was added)",
            short(&aum.hash()),
            short(&aum.parent().unwrap_or_default())
        ));
        let (_, a) = self.nodes[1].snapshot()?;
        let aum = admin::cosign_recovery(a.as_ref(), aum, &self.nodes[1].nl).map_err(|e| e.to_string())?;
        self.style.ok("bob co-signs it: 2 signatures outweigh the branch signed by carol's key");
        let (_, a) = self.nodes[0].snapshot()?;
        let submit = admin::SubmitRecovery::new(self.nodes[0].identity(), a.as_ref(), aum.clone()).map_err(|e| e.to_string())?;
        let chead = run_flow(&self.transport, &self.url, submit).await?;
        if chead != aum.hash() {
            return Err(format!("control stayed at {} after the recovery", short(&chead)));
        }
        self.style.ok(&format!("control switched to the recovery branch {}", short(&chead)));
        self.push_netmaps().await?;
        self.wait_heads(Some(chead)).await?;
        let (_, a) = self.nodes[0].snapshot()?;
        let a = a.ok_or("alice lost her authority")?;
        for k in &revoke {
            if a.key_trusted(k) {
                return Err(format!("{} is still trusted", short_key(k)));
            }
        }
        self.style.ok("every node now distrusts carol's key and the thief's key");
        self.wait_verdicts().await?;
        let dave = self.nodes[3].id;
        for n in self.nodes.iter().filter(|n| n.id != dave) {
            let v = n.handle()?.verdicts().borrow().get(&dave).cloned();
            match v {
                Some(v) if !v.admitted => {}
                other => return Err(format!("{} still admits dave: {other:?}", n.name)),
            }
        }
        self.style.no("dave, signed by carol's revoked key, is refused by every node");
        let (_, a) = self.nodes[0].snapshot()?;
        let sign = admin::SignNode::new(self.nodes[0].identity(), a.as_ref(), &self.nodes[3].key, Some(dave_rot))
            .map_err(|e| e.to_string())?;
        run_flow(&self.transport, &self.url, sign).await?;
        self.push_netmaps().await?;
        self.wait_verdicts().await?;
        self.expect_all_admitted("alice re-signed dave").await?;

        // 8. Disable.
        self.style.step(8, "bob disables Tailnet Lock with a disablement secret");
        let (_, a) = self.nodes[1].snapshot()?;
        if admin::Disable::new(self.nodes[1].identity(), a.as_ref(), vec![0; 32]).is_ok() {
            return Err("a wrong secret was accepted".into());
        }
        self.style.no("a wrong secret is refused on bob's node, before it reaches control");
        let dis = admin::Disable::new(self.nodes[1].identity(), a.as_ref(), secrets[1].to_vec()).map_err(|e| e.to_string())?;
        run_flow(&self.transport, &self.url, dis).await?;
        self.style.ok("control accepted the secret and turned the lock off");
        self.push_netmaps().await?;
        self.wait_heads(None).await?;
        for n in &self.nodes {
            let (s, _) = n.snapshot()?;
            if !s.is_empty() {
                return Err(format!("{} still stores AUMs", n.name));
            }
        }
        self.style.ok("every node checked the secret from control and removed its authority from disk");
        self.wait_verdicts().await?;
        self.style.info("with the lock off nothing is filtered, as in Go (mallory and eve are back)");
        println!("\n{}", self.style.paint("1;32", "Done: every step behaved as expected."));
        Ok(())
    }

    fn node_name(&self, k: &NodeKey) -> String {
        self.nodes
            .iter()
            .find(|n| n.key == *k)
            .map(|n| n.name.to_string())
            .or_else(|| self.intruders.iter().find(|i| i.key == *k).map(|i| i.name.to_string()))
            .unwrap_or_else(|| k.to_string())
    }

    async fn add_node(&mut self, root: &std::path::Path, name: &'static str, id: i64, mode: Mode) -> R<()> {
        let nl = NlPrivate::from_seed(&seed(name, "nl"));
        let key = NodeKey(seed(name, "node"));
        let dir = root.join(name);
        self.control
            .service()
            .upsert_node(
                &self.tailnet,
                &NodeRecord {
                    id,
                    key,
                    rotation_pubkey: Some(nl.public().0.to_vec()),
                    key_signature: None,
                },
            )
            .await
            .map_err(|e| format!("registering {name}: {e}"))?;
        let store = DirStore::open(&dir).map_err(|e| e.to_string())?;
        let handle = Node::new(key)
            .mode(mode)
            .start(store, HttpTransport::new(&self.url).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        self.names.insert(nl.public().0.to_vec(), format!("{name}'s key"));
        self.style.ok(&format!("{name}: node key {}, tailnet-lock key {}, store {}", crate::text::short_node_key(&key), short_key(&nl.public().0), dir.display()));
        self.nodes.push(DemoNode { name, id, nl, key, dir, handle: Some(handle) });
        Ok(())
    }

    async fn control_head(&self) -> R<Option<AumHash>> {
        let info = self.control.service().tka_info(&self.tailnet).await.map_err(|e| e.to_string())?;
        Ok(info.and_then(|i| i.head_hash().ok().flatten()))
    }

    /// Sends every running node the netmap control would send now (plus
    /// the intruders).
    async fn push_netmaps(&self) -> R<()> {
        let svc = self.control.service();
        let info = svc.tka_info(&self.tailnet).await.map_err(|e| e.to_string())?;
        let records = svc.nodes(&self.tailnet).await.map_err(|e| e.to_string())?;
        for n in &self.nodes {
            let Some(h) = &n.handle else { continue };
            let mut peers: Vec<Peer> = records
                .iter()
                .filter(|r| r.key != n.key && self.nodes.iter().any(|m| m.key == r.key))
                .map(|r| Peer {
                    node_id: r.id,
                    node_key: r.key,
                    signature: Bytes::from(r.key_signature.clone().unwrap_or_default()),
                    unsigned_peer_api_only: false,
                })
                .collect();
            for i in &self.intruders {
                peers.push(Peer {
                    node_id: i.id,
                    node_key: i.key,
                    signature: Bytes::from(i.sig.clone()),
                    unsigned_peer_api_only: false,
                });
            }
            let me = records.iter().find(|r| r.key == n.key);
            h.netmap(Netmap {
                tka_info: info.clone(),
                self_signature: me.and_then(|r| r.key_signature.clone()).map(Bytes::from),
                peers,
            })
            .await
            .map_err(|_| format!("{} stopped", n.name))?;
        }
        Ok(())
    }

    /// Waits until every running node's head is `want`.
    async fn wait_heads(&self, want: Option<AumHash>) -> R<()> {
        for n in &self.nodes {
            let Some(h) = &n.handle else { continue };
            let mut rx = h.head();
            let r = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|h| *h == want)).await;
            match r {
                Ok(Ok(_)) => {}
                _ => {
                    let got = *h.head().borrow();
                    return Err(format!(
                        "{} did not reach head {:?} over HTTP within 20 s (at {:?}; health {:?})",
                        n.name,
                        want.map(|h| short(&h)),
                        got.map(|h| short(&h)),
                        h.health().borrow().issues
                    ));
                }
            }
        }
        Ok(())
    }

    /// Waits until every running node has a verdict for every peer it was
    /// sent, and the verdicts stopped changing.
    async fn wait_verdicts(&self) -> R<()> {
        let mut last = String::new();
        for _ in 0..200 {
            let mut snap = String::new();
            for n in &self.nodes {
                let Some(h) = &n.handle else { continue };
                let v = h.verdicts().borrow().clone();
                let mut ids: Vec<_> = v.iter().map(|(id, pv)| (*id, pv.admitted, format!("{:?}", std::mem::discriminant(&pv.verdict)))).collect();
                ids.sort();
                snap.push_str(&format!("{}:{ids:?};", n.name));
            }
            if snap == last {
                return Ok(());
            }
            last = snap;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("peer verdicts did not settle".into())
    }

    fn reason(&self, v: &Verdict) -> String {
        match v {
            Verdict::Authorized(_) => "signature verifies".into(),
            Verdict::Unfiltered => "lock off: not filtered".into(),
            Verdict::PeerApiOnly => "peer-API only".into(),
            Verdict::Rejected(RejectReason::MissingSignature) => "no signature".into(),
            Verdict::Rejected(RejectReason::InvalidSignature(e)) => format!("bad signature: {e}"),
            Verdict::Rejected(RejectReason::RotatedAway) => "superseded by a newer node key".into(),
            Verdict::Rejected(_) => "refused".into(),
        }
    }

    async fn show_intruders(&self, label: &str) -> R<()> {
        let enforce = label.starts_with("enforce");
        for i in &self.intruders {
            let mut seen = Vec::new();
            for n in &self.nodes {
                let Some(h) = &n.handle else { continue };
                let v = h.verdicts().borrow().get(&i.id).cloned().ok_or(format!("{} has no verdict for {}", n.name, i.name))?;
                if v.verdict.admits() || v.admitted == enforce {
                    return Err(format!("{} judged {} unexpectedly: admitted={} {}", n.name, i.name, v.admitted, self.reason(&v.verdict)));
                }
                seen.push(self.reason(&v.verdict));
            }
            seen.dedup();
            let what = if enforce { "refused by every node" } else { "admitted by every node but flagged" };
            self.style.no(&format!("{label}: {} {what} ({})", i.name, seen.join("; ")));
        }
        Ok(())
    }

    async fn expect_all_admitted(&self, what: &str) -> R<()> {
        self.wait_verdicts().await?;
        let real: Vec<i64> = self.nodes.iter().map(|n| n.id).collect();
        for n in &self.nodes {
            let Some(h) = &n.handle else { continue };
            let v = h.verdicts().borrow().clone();
            for id in real.iter().filter(|id| **id != n.id) {
                match v.get(id) {
                    Some(pv) if pv.admitted && pv.verdict.admits() => {}
                    other => {
                        return Err(format!(
                            "{} does not admit node {id}: {}",
                            n.name,
                            other.map_or("no verdict".into(), |pv| self.reason(&pv.verdict))
                        ))
                    }
                }
            }
        }
        let who: Vec<&str> = self.nodes.iter().map(|n| n.name).collect();
        self.style.ok(&format!("{what}: {} all admit each other (signatures verify)", who.join(", ")));
        Ok(())
    }
}
