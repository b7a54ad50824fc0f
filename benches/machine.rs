//! Machine benchmarks: the verdict cache on an unchanged netmap, and single
//! peer deltas against one netmap of the same peers.
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tka::builder::Signer;
use tka::machine::{Config, Event, Mode, Peer, Persisted, Time, TkaMachine};
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State};

fn machine_with_authority(k: &NlPrivate) -> TkaMachine {
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![1; 32])]),
            keys: Some(vec![k.to_key(1)]),
            state_id1: 1,
            state_id2: 2,
        }),
        ..Default::default()
    };
    g.signatures = Some(k.sign_aum(&g.sig_hash()));
    let mut s = MemStorage::new();
    Authority::bootstrap(&mut s, g, 0).unwrap();
    let persisted = Persisted::from_storage(&s, &[]).unwrap();
    TkaMachine::new(
        Config::new(NodeKey([0xee; 32]), Mode::Enforce),
        persisted,
        Time(0),
    )
}

fn drain(m: &mut TkaMachine) -> usize {
    let mut n = 0;
    while m.poll_action().is_some() {
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let k = NlPrivate::from_seed(&[3; 32]);
    let peers: Vec<Peer> = (0..10_000u32)
        .map(|i| {
            let mut nk = [0u8; 32];
            nk[..4].copy_from_slice(&i.to_le_bytes());
            let nk = NodeKey(nk);
            Peer {
                node_id: i64::from(i),
                node_key: nk,
                signature: Bytes::from(
                    NodeKeySignature::sign_direct(&k, &nk, None)
                        .unwrap()
                        .to_cbor(),
                ),
                unsigned_peer_api_only: false,
            }
        })
        .collect();
    let mut g = c.benchmark_group("netmap_10000");
    g.sample_size(10);
    g.bench_function("first_sight_verifies", |b| {
        b.iter_batched(
            || machine_with_authority(&k),
            |mut m| {
                m.handle_event(Time(1), Event::PeersReplaced(peers.clone()));
                drain(&mut m)
            },
            BatchSize::LargeInput,
        )
    });
    let mut m = machine_with_authority(&k);
    m.handle_event(Time(1), Event::PeersReplaced(peers.clone()));
    drain(&mut m);
    g.bench_function("unchanged_netmap_again", |b| {
        b.iter_batched(
            || peers.clone(),
            |p| {
                m.handle_event(Time(2), Event::PeersReplaced(p));
                drain(&mut m)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // 3,000 single upserts against one netmap of the same 3,000 peers, each
    // into a fresh machine (examples/peer_deltas.rs prints the ratio).
    let few = &peers[..3000];
    let mut g = c.benchmark_group("peers_3000");
    g.sample_size(10);
    g.bench_function("one_netmap", |b| {
        b.iter_batched(
            || machine_with_authority(&k),
            |mut m| {
                m.handle_event(Time(1), Event::PeersReplaced(few.to_vec()));
                drain(&mut m)
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("single_upserts", |b| {
        b.iter_batched(
            || machine_with_authority(&k),
            |mut m| {
                let mut n = 0;
                for p in few {
                    m.handle_event(Time(1), Event::PeerUpserted(p.clone()));
                    n += drain(&mut m);
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
