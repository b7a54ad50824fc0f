//! Machine benchmarks: the verdict cache on an unchanged netmap, and single
//! peer deltas against one netmap of the same peers.
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tka::machine::{Event, Peer, Time, TkaMachine};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

mod common;
use common::machine_with_authority;

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
