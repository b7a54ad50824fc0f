//! End to end over real HTTP on 127.0.0.1: the control service
//! (`tka_control::standalone`, SQLite in a temporary directory) and three
//! nodes, each with a `DirStore` in its own temporary directory, driven by
//! `Node` over `HttpTransport`. An operator at node A runs `tka::admin`
//! flows against the same service; netmaps are what control shows each
//! node.
//!
//! Lock off, then `lock init` and bootstrap; a key added at control and a
//! peer signed by it appearing in the same netmap (pending while the sync
//! runs, never refused, then admitted); observe then enforce; restart from
//! disk with no new bootstrap; `lock disable` with the secret. Node A's
//! first run is recorded and replayed.

mod common;

use bytes::Bytes;
use common::{wait, Control, Operator, Watched};
use serde_json::Value;
use std::path::Path as FsPath;
use tka::machine::{Mode, NodeId, Peer, Verdict};
use tka::wire::Path;
use tka::{NlPrivate, NodeKey};
use tka_node::{DirStore, HttpTransport, Node, NodeHandle};

/// The verdict kinds a recording shows for peer `id`, in order.
fn recorded_verdicts(recording: &FsPath, id: NodeId) -> Vec<String> {
    let text = std::fs::read_to_string(recording).unwrap();
    let mut kinds = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for a in v.get("out").and_then(Value::as_array).into_iter().flatten() {
            if let Some(pv) = a.get("verdict").filter(|pv| pv["id"] == id) {
                kinds.push(pv["kind"].as_str().unwrap().to_string());
            }
        }
    }
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_against_the_control_service() {
    let tmp = tempfile::tempdir().unwrap();
    let control = Control::spawn(tmp.path()).await;
    let admin = NlPrivate::from_seed(&[1; 32]);
    let k2 = NlPrivate::from_seed(&[2; 32]);
    let keys: Vec<NodeKey> = (0..3u8).map(|i| NodeKey([10 + i; 32])).collect();
    let mut ids = Vec::new();
    for k in &keys {
        ids.push(control.register(k).await);
    }
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let recording = tmp.path().join("node_a.jsonl");
    let recording_b = tmp.path().join("node_b.jsonl");
    let start = |i: usize, mode: Option<Mode>, record: Option<&FsPath>| {
        let store = DirStore::open(dirs[i].path()).unwrap();
        let mut node = Node::new(keys[i]).configure(|c| c.retry_initial_ms = 50);
        if let Some(m) = mode {
            node = node.mode(m);
        }
        if let Some(p) = record {
            node = node.record_to(p);
        }
        let transport = Watched::new(HttpTransport::new(&control.url).unwrap());
        let handle = node.start(store, transport.clone()).unwrap();
        (handle, transport)
    };

    // A and C observe, B enforces.
    let (nodes, wires): (Vec<NodeHandle>, Vec<Watched<HttpTransport>>) = [
        start(0, Some(Mode::Observe), Some(&recording)),
        start(1, Some(Mode::Enforce), Some(&recording_b)),
        start(2, Some(Mode::Observe), None),
    ]
    .into_iter()
    .unzip();

    // The lock is off: nothing to ask control, every peer admitted.
    for (i, n) in nodes.iter().enumerate() {
        n.netmap(control.netmap(&keys[i]).await).await.unwrap();
        wait(&mut n.verdicts(), "peers, lock off", |v| v.len() == 2).await;
        assert!(n.verdicts().borrow().values().all(|p| p.admitted));
        assert!(n.health().borrow().is_ok());
    }

    // `lock init` at A: control signs every node; each node bootstraps.
    let mut op = Operator::new(keys[0], admin.clone());
    let secret = op.init(&control, vec![admin.to_key(1)]).await;
    let genesis = control.head().await;
    assert!(genesis.is_some());
    for (i, n) in nodes.iter().enumerate() {
        n.netmap(control.netmap(&keys[i]).await).await.unwrap();
    }
    for (i, n) in nodes.iter().enumerate() {
        wait(&mut n.head(), "bootstrap", |h| *h == genesis).await;
        let v = wait(&mut n.verdicts(), "peers authorized", |v| {
            v.len() == 2
                && v.values()
                    .all(|p| matches!(p.verdict, Verdict::Authorized(_)))
        })
        .await;
        assert!(v.values().all(|p| p.admitted));
        wait(&mut n.health(), "health", |h| h.is_ok()).await;
        assert_eq!(wires[i].count(Path::Bootstrap), 1);
        assert_eq!(n.tka_head(), genesis.unwrap().to_string());
    }

    // A TKAInfo head that does not parse, at C: as in Go's netmap, the lock
    // counts as off for that map, so C asks control for a disablement
    // secret, gets none, and keeps its authority. Health names the bad head
    // until a map brings a good one.
    let mut bad = control.netmap(&keys[2]).await;
    bad.tka_info.as_mut().unwrap().head = "not-a-hash".into();
    nodes[2].netmap(bad).await.unwrap();
    let h = wait(
        &mut nodes[2].health(),
        "bad head flagged, disablement refused",
        |h| {
            h.bad_tka_info.is_some()
                && h.issues
                    .contains(&tka::machine::HealthIssue::DisablementRejected)
        },
    )
    .await;
    assert!(h.bad_tka_info.unwrap().contains("not-a-hash"));
    assert_eq!(wires[2].count(Path::Bootstrap), 2);
    assert_eq!(*nodes[2].head().borrow(), genesis);
    nodes[2]
        .netmap(control.netmap(&keys[2]).await)
        .await
        .unwrap();
    wait(&mut nodes[2].health(), "bad head cleared", |h| h.is_ok()).await;
    assert_eq!(*nodes[2].head().borrow(), genesis);

    // A new node X joins: unsigned, control hides it while the lock is on.
    let x_key = NodeKey([100; 32]);
    let x = control.register(&x_key).await;
    for (i, n) in nodes.iter().enumerate() {
        let nm = control.netmap(&keys[i]).await;
        assert!(nm.peers.iter().all(|p| p.node_id != x));
        n.netmap(nm).await.unwrap();
    }

    // The operator trusts k2 and signs X with it: X appears in the same
    // netmap as control's new head. B (enforcing) holds its sync to see
    // the in-between state: X is pending, not refused.
    op.add_key(&control, k2.to_key(1)).await;
    op.sign_with(&control, &k2, &x_key).await;
    let head1 = control.head().await;
    assert_ne!(head1, genesis);
    wires[1].hold(Path::SyncOffer);
    for (i, n) in nodes.iter().enumerate() {
        let nm = control.netmap(&keys[i]).await;
        assert!(nm.peers.iter().any(|p| p.node_id == x));
        n.netmap(nm).await.unwrap();
    }
    let v = wait(&mut nodes[1].verdicts(), "X pending at B", |v| {
        v.contains_key(&x)
    })
    .await;
    assert_eq!(v[&x].verdict, Verdict::Pending);
    assert!(!v[&x].admitted);
    wires[1].release();
    for n in &nodes {
        wait(&mut n.head(), "sync", |h| *h == head1).await;
        let v = wait(&mut n.verdicts(), "X authorized", |v| {
            v.get(&x)
                .is_some_and(|p| matches!(p.verdict, Verdict::Authorized(_)))
        })
        .await;
        assert!(v[&x].admitted);
        assert_eq!(n.tka_head(), head1.unwrap().to_string());
    }

    // Observe, then enforce at A: a peer control sends without a signature
    // is refused.
    assert_eq!(nodes[0].current_mode(), Mode::Observe);
    nodes[0].set_mode(Mode::Enforce).await.unwrap();
    let mut nm = control.netmap(&keys[0]).await;
    nm.peers.push(Peer {
        node_id: 999,
        node_key: NodeKey([200; 32]),
        signature: Bytes::new(),
        unsigned_peer_api_only: false,
    });
    nodes[0].netmap(nm).await.unwrap();
    wait(&mut nodes[0].verdicts(), "unsigned peer", |v| {
        v.contains_key(&999)
    })
    .await;
    assert_eq!(nodes[0].admitted(999), Some(false));
    assert_eq!(nodes[0].admitted(x), Some(true));
    let stats = *nodes[0].stats().borrow();
    assert_eq!(stats.verdicts.authorized, 3);
    assert_eq!(stats.verdicts.unsigned, 1);
    assert!(stats.requests >= 3 && stats.last_response.is_some());

    // Restart A from disk: the authority and the mode are there at once;
    // no request to control at all.
    drop(nodes[0].shutdown().await.unwrap());
    let (a, a_wire) = start(0, None, None);
    assert_eq!(*a.head().borrow(), head1);
    assert_eq!(a.current_mode(), Mode::Enforce);
    a.netmap(control.netmap(&keys[0]).await).await.unwrap();
    wait(&mut a.verdicts(), "verdicts after restart", |v| {
        v.len() == 3
    })
    .await;
    assert_eq!(a.admitted(x), Some(true));
    assert!(a.health().borrow().is_ok());
    assert_eq!(a_wire.count(Path::Bootstrap), 0);
    assert_eq!(a.stats().borrow().requests, 0);

    // `lock disable` with the secret: every node drops its authority and
    // its AUMs, and keeps its mode.
    op.disable(&control, secret).await;
    let nodes = [a, nodes[1].clone(), nodes[2].clone()];
    for (i, n) in nodes.iter().enumerate() {
        n.netmap(control.netmap(&keys[i]).await).await.unwrap();
    }
    for n in &nodes {
        wait(&mut n.head(), "disabled", Option::is_none).await;
        wait(&mut n.verdicts(), "unfiltered", |v| {
            v.values()
                .all(|p| p.admitted && matches!(p.verdict, Verdict::Unfiltered))
        })
        .await;
    }
    for (i, n) in nodes.iter().enumerate() {
        drop(n.shutdown().await.unwrap());
        let reopened = DirStore::open(dirs[i].path()).unwrap();
        assert!(reopened.is_empty(), "node {i} kept AUMs");
        let mode = if i == 2 { Mode::Observe } else { Mode::Enforce };
        assert_eq!(reopened.mode(), Some(mode));
    }

    // X was never refused: pending while the sync ran, then authorized
    // (B held its sync; A's ran at once but X was checked while it was in
    // flight).
    for rec in [&recording, &recording_b] {
        let kinds = recorded_verdicts(rec, x);
        assert_eq!(kinds[..2], ["pending", "authorized"], "{kinds:?}");
    }
    // The recordings replay with no divergence.
    for rec in [&recording, &recording_b] {
        let file = std::io::BufReader::new(std::fs::File::open(rec).unwrap());
        let report = tka_node::record::replay(file).unwrap();
        assert!(report.inputs > 10);
        assert_eq!(report.divergence, None);
    }
    if let Ok(out) = std::env::var("TKA_NODE_SAVE_RECORDING") {
        std::fs::copy(&recording, out).unwrap();
    }
    control.handle.shutdown().await.unwrap();
}
