//! Sync on a long chain: a genesis checkpoint and 10,000 signed AUMs (a
//! checkpoint every 50, as Go's builder makes), held in `MemStorage`.
//!
//! `Open` cannot load such a chain (Go's 2000-step scan limit), so the
//! authority is built by `Create` and then `Inform` in batches that extend
//! the head, which never rescans; its oldest ancestor is the genesis,
//! 10,000 AUMs back. That is the worst case for the offer: the walk runs
//! its full 1000 steps and lists 20 checkpoints plus the genesis.
//!
//! * `sync_offer/10k`: `Authority::sync_offer` at the head.
//! * `legacy_sync_offer/10k`: the pre-2026 offer (400-step walk).
//! * `missing_aums/remote_500_behind`: the remote holds the first 9,500
//!   AUMs; its real offer is answered with the 500 AUMs it lacks (head
//!   intersection: a 500-step walk back, the state at the remote head from
//!   its checkpoint, then 500 fork-choice steps forward).
//! * `missing_aums/local_500_behind`: the reverse direction: the remote's
//!   head is unknown, so its listed checkpoints are tried until one reaches
//!   our head (tail intersection); 0..49 AUMs are sent back.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tka::{Aum, AumHash, AumKind, Authority, MemStorage, NlPrivate, Signature, State};

const CHAIN: usize = 10_000;
const BEHIND: usize = 500;
const CHECKPOINT_EVERY: usize = 50;

fn sign(k: &NlPrivate, mut aum: Aum) -> Aum {
    aum.signatures = Some(vec![Signature {
        key_id: Some(k.public().0.to_vec()),
        signature: Some(k.sign(&aum.sig_hash()).to_vec()),
    }]);
    aum
}

struct Fixture {
    local: (MemStorage, Authority),
    remote: (MemStorage, Authority),
}

fn build() -> Fixture {
    let key = NlPrivate::from_seed(&[7; 32]);
    let state = State {
        last_aum_hash: None,
        disablement_values: Some(vec![Some(vec![1; 32])]),
        keys: Some(vec![key.to_key(1)]),
        state_id1: 1,
        state_id2: 2,
    };
    let mut ls = MemStorage::new();
    let (mut local, genesis) = Authority::create(&mut ls, state.clone(), &key, 0).unwrap();
    let mut rs = ls.clone();
    let mut remote = local.clone();

    let mut aums = Vec::with_capacity(CHAIN);
    let mut parent: AumHash = genesis.hash();
    for i in 1..=CHAIN {
        let mut aum = Aum {
            message_kind: AumKind::NO_OP,
            prev_aum_hash: Some(parent.0.to_vec()),
            ..Default::default()
        };
        if i % CHECKPOINT_EVERY == 0 {
            aum.message_kind = AumKind::CHECKPOINT;
            aum.state = Some(state.clone());
        }
        let aum = sign(&key, aum);
        parent = aum.hash();
        aums.push(aum);
    }
    for batch in aums.chunks(1000) {
        local.inform(&mut ls, batch, 0).unwrap();
    }
    for batch in aums[..CHAIN - BEHIND].chunks(1000) {
        remote.inform(&mut rs, batch, 0).unwrap();
    }
    assert_eq!(local.head(), parent);
    Fixture {
        local: (ls, local),
        remote: (rs, remote),
    }
}

fn bench(c: &mut Criterion) {
    let f = build();
    let (ls, local) = &f.local;
    let (rs, remote) = &f.remote;

    let offer = local.sync_offer(ls).unwrap();
    assert_eq!(offer.ancestors.len(), 1000 / CHECKPOINT_EVERY + 1);
    c.bench_function("sync_offer/10k", |b| {
        b.iter(|| local.sync_offer(black_box(ls)).unwrap())
    });
    c.bench_function("legacy_sync_offer/10k", |b| {
        b.iter(|| local.legacy_sync_offer(black_box(ls)).unwrap())
    });

    let remote_offer = remote.sync_offer(rs).unwrap();
    let sent = local.missing_aums(ls, &remote_offer).unwrap().unwrap();
    assert_eq!(sent.len(), BEHIND);
    c.bench_function("missing_aums/remote_500_behind", |b| {
        b.iter(|| {
            local
                .missing_aums(black_box(ls), black_box(&remote_offer))
                .unwrap()
        })
    });

    let local_offer = local.sync_offer(ls).unwrap();
    let back = remote.missing_aums(rs, &local_offer).unwrap().unwrap();
    assert!(back.len() < CHECKPOINT_EVERY);
    c.bench_function("missing_aums/local_500_behind", |b| {
        b.iter(|| {
            remote
                .missing_aums(black_box(rs), black_box(&local_offer))
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
