//! Authority benchmarks: Open, Bootstrap + Inform, node-key checks (single,
//! against one raw ed25519-zebra verify, and batched).
mod common;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use tka::builder::Signer;
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State};

/// A peer: node key, node-key signature bytes, and the Ed25519 message and
/// signature inside it.
type Peer = (NodeKey, Vec<u8>, [u8; 32], [u8; 64]);

use common::genesis;

/// `n` signed NoOp AUMs in a line after the genesis.
fn chain(k: &NlPrivate, n: usize) -> (Aum, Vec<Aum>) {
    let g = genesis(k);
    let mut parent = g.hash();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut a = Aum {
            message_kind: AumKind::NO_OP,
            prev_aum_hash: Some(parent.0.to_vec()),
            ..Default::default()
        };
        a.signatures = Some(k.sign_aum(&a.sig_hash()));
        parent = a.hash();
        out.push(a);
    }
    (g, out)
}

/// `n` NoOp AUMs in a line, each signed by `k1` then `k2`, after a genesis
/// trusting both; a variant of each with the two signatures swapped (what a
/// relay can make without a key; SPEC §5.2); and an honest fork beside each
/// (another NoOp signed by `k2`).
fn two_signer_chain(
    k1: &NlPrivate,
    k2: &NlPrivate,
    n: usize,
) -> (Aum, Vec<Aum>, Vec<Aum>, Vec<Aum>) {
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![1; 32])]),
            keys: Some(vec![k1.to_key(1), k2.to_key(1)]),
            state_id1: 1,
            state_id2: 2,
        }),
        ..Default::default()
    };
    g.signatures = Some(k1.sign_aum(&g.sig_hash()));
    let mut parent = g.hash();
    let (mut out, mut variants, mut forks) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let mut a = Aum {
            message_kind: AumKind::NO_OP,
            prev_aum_hash: Some(parent.0.to_vec()),
            ..Default::default()
        };
        let sh = a.sig_hash();
        a.signatures = Some([k1.sign_aum(&sh), k2.sign_aum(&sh)].concat());
        let mut v = a.clone();
        v.signatures.as_mut().unwrap().reverse();
        let mut f = Aum {
            votes: Some(1),
            ..a.clone()
        };
        f.signatures = Some(k2.sign_aum(&f.sig_hash()));
        parent = a.hash();
        out.push(a);
        variants.push(v);
        forks.push(f);
    }
    (g, out, variants, forks)
}

fn bench(c: &mut Criterion) {
    let k = NlPrivate::from_seed(&[3; 32]);

    let (g, aums) = chain(&k, 999);
    let mut store = MemStorage::new();
    let mut a = Authority::bootstrap(&mut store, g.clone(), 0).unwrap();
    a.inform(&mut store, &aums, 0).unwrap();
    c.bench_function("open_1000_aum_chain", |b| {
        b.iter(|| Authority::open(&store).unwrap())
    });

    // Fork choice with a signature variant at every step: each fork
    // compares subtree heights (computed once per walk).
    let k2 = NlPrivate::from_seed(&[4; 32]);
    let (g2, aums2, variants2, forks2) = two_signer_chain(&k, &k2, 999);
    let mut plain = MemStorage::new();
    let mut a2 = Authority::bootstrap(&mut plain, g2, 0).unwrap();
    a2.inform(&mut plain, &aums2, 0).unwrap();
    let mut forked = plain.clone();
    a2.inform(&mut forked, &forks2, 0).unwrap();
    let mut varied = plain.clone();
    a2.inform(&mut varied, &variants2, 0).unwrap();
    // Only the last AUM's variant can win (neither has a child there).
    let (last, last_v) = (aums2[998].hash(), variants2[998].hash());
    assert!(a2.head() == last || a2.head() == last_v);
    c.bench_function("open_1000_aum_chain_two_signers", |b| {
        b.iter(|| Authority::open(&plain).unwrap())
    });
    // The same number of side branches, honest ones (Go's candidate walk
    // from every head is what dominates both).
    c.bench_function("open_1000_aum_chain_two_signers_999_forks", |b| {
        b.iter(|| Authority::open(&forked).unwrap())
    });
    c.bench_function("open_1000_aum_chain_two_signers_999_variants", |b| {
        b.iter(|| Authority::open(&varied).unwrap())
    });

    let (g1k, aums1k) = chain(&k, 1000);
    c.bench_function("bootstrap_inform_1000", |b| {
        b.iter_batched(
            MemStorage::new,
            |mut s| {
                let mut a = Authority::bootstrap(&mut s, g1k.clone(), 0).unwrap();
                a.inform(&mut s, &aums1k, 0).unwrap();
            },
            BatchSize::LargeInput,
        )
    });

    // One node-key check at a time (a peer delta), against its floor: one
    // raw ed25519-zebra verify of the same signature (key decoded from bytes).
    let single: Vec<Peer> = (0..64u8)
        .map(|i| {
            let nk = NodeKey([i; 32]);
            let s = NodeKeySignature::sign_direct(&k, &nk, None).unwrap();
            let sig: [u8; 64] = s.signature.clone().unwrap().try_into().unwrap();
            (nk, s.to_cbor(), s.sig_hash(), sig)
        })
        .collect();
    let public = k.public().0;
    let mut i = 0;
    c.bench_function("raw_zebra_verify_floor", |b| {
        b.iter(|| {
            let (_, _, msg, sig) = &single[i % single.len()];
            i += 1;
            let vk = ed25519_zebra::VerificationKey::try_from(black_box(public)).unwrap();
            vk.verify(&ed25519_zebra::Signature::from_bytes(sig), msg)
                .unwrap()
        })
    });
    c.bench_function("node_key_authorized_single_direct", |b| {
        b.iter(|| {
            let (nk, bytes, ..) = &single[i % single.len()];
            i += 1;
            a.node_key_authorized(nk, black_box(bytes)).unwrap()
        })
    });

    let mut group = c.benchmark_group("slow");
    group.sample_size(10);
    let (g10k, aums10k) = chain(&k, 10_000);
    group.bench_function("inform_10000", |b| {
        b.iter_batched(
            MemStorage::new,
            |mut s| {
                let mut a = Authority::bootstrap(&mut s, g10k.clone(), 0).unwrap();
                a.inform(&mut s, &aums10k, 0).unwrap();
            },
            BatchSize::LargeInput,
        )
    });

    let peers: Vec<(NodeKey, Vec<u8>)> = (0..10_000u32)
        .map(|i| {
            let mut nk = [0u8; 32];
            nk[..4].copy_from_slice(&i.to_le_bytes());
            let nk = NodeKey(nk);
            (
                nk,
                NodeKeySignature::sign_direct(&k, &nk, None)
                    .unwrap()
                    .to_cbor(),
            )
        })
        .collect();
    group.bench_function("node_key_authorized_10000_direct", |b| {
        b.iter(|| {
            for (nk, sig) in &peers {
                a.node_key_authorized(nk, sig).unwrap();
            }
        })
    });
    let refs: Vec<(NodeKey, &[u8])> = peers.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    group.bench_function("node_keys_authorized_batch_10000_direct", |b| {
        b.iter(|| {
            let r = a.node_keys_authorized(&refs);
            assert!(r.iter().all(|x| x.is_ok()));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
