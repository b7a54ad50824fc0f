//! What the driver adds per netmap of 10,000 peers, over the machine alone.
//!
//! Both sides get the same netmaps (a clone of the peer list each time, as
//! an embedder hands over a fresh netmap) under an installed authority that
//! agrees with control (so no requests are made): first the same netmap
//! again and again, then netmaps where one peer's signature changes each
//! time.
//!
//! `cargo run --release -p tka-node --example driver_overhead`

use bytes::Bytes;
use std::time::{Duration, Instant};
use tka::machine::{Config, Event, Mode, Peer, Time, TkaMachine};
use tka::wire::{Path, TkaInfo};
use tka::{Aum, AumKind, Authority, NlPrivate, NodeKey, NodeKeySignature, State};
use tka_node::{DirStore, Netmap, Node, Transport, TransportError};

/// Control is never asked in this run.
struct Unreachable;

impl Transport for Unreachable {
    async fn send(&self, _: Path, _: Bytes) -> Result<Bytes, TransportError> {
        Err(TransportError::Network("not in this example".into()))
    }
}

const PEERS: usize = 10_000;
const ROUNDS: usize = 200;

fn netmaps(admin: &NlPrivate) -> (Vec<Peer>, Vec<Vec<Peer>>) {
    let peers: Vec<Peer> = (0..PEERS)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = NodeKey(k);
            Peer {
                node_id: i as i64 + 1,
                node_key: key,
                signature: Bytes::from(
                    NodeKeySignature::sign_direct(admin, &key, None)
                        .unwrap()
                        .to_cbor(),
                ),
                unsigned_peer_api_only: false,
            }
        })
        .collect();
    // Netmaps where peer j's signature alternates between two valid ones.
    let other: Vec<Bytes> = (0..ROUNDS)
        .map(|j| {
            let key = peers[j].node_key;
            Bytes::from(
                NodeKeySignature::sign_direct(
                    admin,
                    &key,
                    Some(NlPrivate::from_seed(&[j as u8; 32]).public().0),
                )
                .unwrap()
                .to_cbor(),
            )
        })
        .collect();
    let changing = (0..ROUNDS)
        .map(|j| {
            let mut p = peers.clone();
            p[j].signature = other[j].clone();
            p
        })
        .collect();
    (peers, changing)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let admin = NlPrivate::from_seed(&[1; 32]);
    let mut genesis = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            disablement_values: Some(vec![Some(vec![7; 32])]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 1,
            state_id2: 2,
            ..State::default()
        }),
        ..Aum::default()
    };
    genesis.signatures = Some(tka::builder::Signer::sign_aum(&admin, &genesis.sig_hash()));
    let genesis = Aum::from_cbor(&genesis.to_cbor()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = DirStore::open(dir.path()).unwrap();
    let head = Authority::bootstrap(&mut store, genesis, 1_800_000_000)
        .unwrap()
        .head();
    let (same, changing) = netmaps(&admin);
    let info = TkaInfo::new(Some(head), false);
    let node_key = NodeKey([0xee; 32]);

    // The machine alone.
    let config = Config::new(node_key, Mode::Enforce);
    let mut m = TkaMachine::new(
        config,
        store.persisted(),
        Time::from_unix_secs(1_800_000_001),
    );
    let now = Time::from_unix_secs(1_800_000_002);
    m.handle_event(
        now,
        Event::ControlState {
            enabled: true,
            head: Some(head),
        },
    );
    m.handle_event(now, Event::PeersReplaced(same.clone()));
    while m.poll_action().is_some() {}
    let machine = |list: &dyn Fn(usize) -> Vec<Peer>, m: &mut TkaMachine| {
        let t = Instant::now();
        for r in 0..ROUNDS {
            m.handle_event(now, Event::PeersReplaced(list(r)));
            while m.poll_action().is_some() {}
        }
        t.elapsed() / ROUNDS as u32
    };
    let m_same = machine(&|_| same.clone(), &mut m);
    let m_changing = machine(&|r| changing[r].clone(), &mut m);

    // The driver.
    let node = Node::new(node_key)
        .mode(Mode::Enforce)
        .start(store, Unreachable)
        .unwrap();
    let feed = |peers: Vec<Peer>| Netmap {
        tka_info: Some(info.clone()),
        self_signature: None,
        peers,
    };
    node.netmap(feed(same.clone())).await.unwrap();
    node.set_mode(Mode::Enforce).await.unwrap();
    assert_eq!(node.verdicts().borrow().len(), PEERS);
    async fn driver(node: &tka_node::NodeHandle, maps: impl Fn(usize) -> Netmap) -> Duration {
        let mut stats = node.stats();
        let t = Instant::now();
        for r in 0..ROUNDS {
            // Each netmap is two inputs (the peers, control's state); wait
            // until both are handled, as a netmap per map response would be.
            let done = stats.borrow().inputs + 2;
            node.netmap(maps(r)).await.unwrap();
            stats.wait_for(|s| s.inputs >= done).await.unwrap();
        }
        t.elapsed() / ROUNDS as u32
    }
    let d_same = driver(&node, |_| feed(same.clone())).await;
    let d_changing = driver(&node, |r| feed(changing[r].clone())).await;
    assert!(node.health().borrow().is_ok());
    assert_eq!(node.stats().borrow().requests, 0);
    node.shutdown().await.unwrap();

    println!("netmap of {PEERS} peers       machine alone    driver    overhead");
    for (what, m, d) in [
        ("unchanged", m_same, d_same),
        ("one signature changed", m_changing, d_changing),
    ] {
        let over = (d.as_secs_f64() / m.as_secs_f64() - 1.0) * 100.0;
        println!("{what:<24} {:>12.1?} {:>10.1?} {over:>9.1} %", m, d);
    }
}
