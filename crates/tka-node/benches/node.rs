//! tka-node benchmarks.
//!
//! * `open_store/N`: what a node does at start over a directory of N AUMs
//!   in Go's layout (written by `DirStore`, whose files are byte-identical
//!   to Go's): `DirStore::open` and `Authority::open` over it. Linear in N
//!   when the time per AUM (criterion's throughput) stays flat.
//! * `netmap_10000_one_signature_changed/{machine,driver}`: one netmap of
//!   10,000 peers, in which one peer's signature comes and goes, so one
//!   verdict changes. `machine`: `TkaMachine` handles the netmap's two events
//!   (control's unchanged state, the peer list) and its actions are
//!   drained. `driver`: the same netmap through a running `NodeHandle`,
//!   until the verdicts watch has changed. Both hand over a fresh copy of
//!   the peer list each time, as an embedder does with a new netmap.
//!   Then the two are timed again interleaved, one netmap each in turn
//!   (order alternating), and the medians and their ratio printed: on a
//!   loaded machine the criterion figures, measured seconds apart, can
//!   differ by more than the overhead.
//!
//! `cargo bench -p tka-node --bench node`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::{Duration, Instant};
use tka::machine::{Config, Event, Mode, Peer, Time, TkaMachine};
use tka::wire::{Path, TkaInfo};
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State};
use tka_node::{DirStore, Netmap, Node, Transport, TransportError};

const T0: u64 = 1_800_000_000;

fn genesis(admin: &NlPrivate) -> Aum {
    let mut g = Aum {
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
    g.signatures = Some(tka::builder::Signer::sign_aum(admin, &g.sig_hash()));
    Aum::from_cbor(&g.to_cbor()).unwrap()
}

fn open_store(c: &mut Criterion) {
    let admin = NlPrivate::from_seed(&[1; 32]);
    let genesis = genesis(&admin);
    // The whole chain once, in memory: key-vote updates, 40 per batch.
    let mut mem = MemStorage::new();
    let mut a = Authority::bootstrap(&mut mem, genesis.clone(), T0).unwrap();
    let mut chain = Vec::new();
    while chain.len() < 1999 {
        let mut b = a.builder(Some(&admin));
        for i in 0..40 {
            b.set_key_vote(&admin.public().0, 1 + (chain.len() + i) as u64 % 3)
                .unwrap();
        }
        let updates = b.finalize(&mem).unwrap();
        a.inform(&mut mem, &updates, T0).unwrap();
        chain.extend(updates);
    }
    let mut g = c.benchmark_group("open_store");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    let mut dirs = Vec::new();
    for n in [500usize, 1000, 2000] {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = DirStore::open(dir.path()).unwrap();
            let mut a = Authority::bootstrap(&mut store, genesis.clone(), T0).unwrap();
            a.inform(&mut store, &chain[..n - 1], T0).unwrap();
        }
        let store = DirStore::open(dir.path()).unwrap();
        assert_eq!(store.len(), n);
        let head = Authority::open(&store).unwrap().head();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), dir.path(), |b, path| {
            b.iter(|| {
                let store = DirStore::open(path).unwrap();
                let a = Authority::open(&store).unwrap();
                assert_eq!(a.head(), head);
                black_box(store)
            })
        });
        dirs.push(dir);
    }
    g.finish();
}

/// Control is never asked: the node agrees with it throughout.
struct Unreachable;

impl Transport for Unreachable {
    async fn send(&self, _: Path, _: Bytes) -> Result<Bytes, TransportError> {
        Err(TransportError::Network("not in this benchmark".into()))
    }
}

const PEERS: usize = 10_000;

/// Two netmaps of `PEERS` signed peers that differ in peer 1's signature
/// (valid in one, missing in the other).
fn netmaps(admin: &NlPrivate) -> [Vec<Peer>; 2] {
    let sign = |key: &NodeKey| {
        Bytes::from(
            NodeKeySignature::sign_direct(admin, key, None)
                .unwrap()
                .to_cbor(),
        )
    };
    let peers: Vec<Peer> = (0..PEERS)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = NodeKey(k);
            Peer {
                node_id: i as i64 + 1,
                node_key: key,
                signature: sign(&key),
                unsigned_peer_api_only: false,
            }
        })
        .collect();
    let mut other = peers.clone();
    other[0].signature = Bytes::new();
    [peers, other]
}

fn driver_overhead(c: &mut Criterion) {
    let admin = NlPrivate::from_seed(&[1; 32]);
    let dir = tempfile::tempdir().unwrap();
    let mut store = DirStore::open(dir.path()).unwrap();
    let head = Authority::bootstrap(&mut store, genesis(&admin), T0)
        .unwrap()
        .head();
    let maps = netmaps(&admin);
    let info = TkaInfo::new(Some(head), false);
    let control = Event::ControlState {
        enabled: true,
        head: Some(head),
    };
    let node_key = NodeKey([0xee; 32]);

    let mut g = c.benchmark_group("netmap_10000_one_signature_changed");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(6));

    let mut m = TkaMachine::new(
        Config::new(node_key, Mode::Enforce),
        store.persisted(),
        Time::from_unix_secs(T0 + 1),
    );
    let now = Time::from_unix_secs(T0 + 2);
    m.handle_event(now, control.clone());
    m.handle_event(now, Event::PeersReplaced(maps[0].clone()));
    while m.poll_action().is_some() {}
    // Each side alternates between the two netmaps: `maps[round % 2]` with
    // its own round counter, so every netmap it gets changes one verdict.
    let mut round_m = 0usize;
    g.bench_function("machine", |b| {
        b.iter(|| {
            round_m += 1;
            m.handle_event(now, control.clone());
            m.handle_event(now, Event::PeersReplaced(maps[round_m % 2].clone()));
            let mut verdicts = 0;
            while let Some(a) = m.poll_action() {
                verdicts += usize::from(matches!(a, tka::machine::Action::PeerVerdict(_)));
            }
            assert_eq!(verdicts, 1);
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let node = rt.block_on(async {
        let node = Node::new(node_key)
            .mode(Mode::Enforce)
            .start(store, Unreachable)
            .unwrap();
        let mut verdicts = node.verdicts();
        node.netmap(Netmap {
            tka_info: Some(info.clone()),
            self_signature: None,
            peers: maps[0].clone(),
        })
        .await
        .unwrap();
        verdicts.wait_for(|v| v.len() == PEERS).await.unwrap();
        node
    });
    let mut round_d = 0usize;
    g.bench_function("driver", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut verdicts = node.verdicts();
                verdicts.borrow_and_update();
                let t = Instant::now();
                for _ in 0..iters {
                    round_d += 1;
                    node.netmap(Netmap {
                        tka_info: Some(info.clone()),
                        self_signature: None,
                        peers: maps[round_d % 2].clone(),
                    })
                    .await
                    .unwrap();
                    verdicts.changed().await.unwrap();
                }
                t.elapsed()
            })
        })
    });
    g.finish();

    // Interleaved: one netmap through each, in alternating order.
    let rounds = 60;
    let (mut tm, mut td) = (Vec::new(), Vec::new());
    let mut verdicts = node.verdicts();
    verdicts.borrow_and_update();
    for r in 0..rounds {
        let mut machine = || {
            round_m += 1;
            let list = maps[round_m % 2].clone();
            let t = Instant::now();
            m.handle_event(now, control.clone());
            m.handle_event(now, Event::PeersReplaced(list));
            let mut verdicts = 0;
            while let Some(a) = m.poll_action() {
                verdicts += usize::from(matches!(a, tka::machine::Action::PeerVerdict(_)));
            }
            let took = t.elapsed();
            assert_eq!(verdicts, 1);
            took
        };
        let mut driver = || {
            round_d += 1;
            let list = maps[round_d % 2].clone();
            rt.block_on(async {
                let t = Instant::now();
                node.netmap(Netmap {
                    tka_info: Some(info.clone()),
                    self_signature: None,
                    peers: list,
                })
                .await
                .unwrap();
                let changed = tokio::time::timeout(Duration::from_secs(60), verdicts.changed());
                changed.await.expect("a verdict changes").unwrap();
                t.elapsed()
            })
        };
        if r % 2 == 0 {
            tm.push(machine());
            td.push(driver());
        } else {
            td.push(driver());
            tm.push(machine());
        }
    }
    tm.sort();
    td.sort();
    let (m50, d50) = (tm[rounds / 2], td[rounds / 2]);
    println!(
        "netmap_10000_one_signature_changed interleaved, {rounds} rounds: machine median {m50:.2?}, \
         driver median {d50:.2?}, driver/machine {:.3}",
        d50.as_secs_f64() / m50.as_secs_f64()
    );
    rt.block_on(async {
        assert!(node.health().borrow().is_ok());
        assert_eq!(node.stats().borrow().requests, 0);
        node.shutdown().await.unwrap();
    });
}

criterion_group!(benches, open_store, driver_overhead);
criterion_main!(benches);
