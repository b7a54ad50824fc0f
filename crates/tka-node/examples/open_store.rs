//! Opening a store directory of N AUMs (files as Go writes them) and the
//! authority over it: linear in N, since children are indexed at open.
//!
//! `cargo run --release -p tka-node --example open_store`

use std::time::Instant;
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, State};
use tka_node::DirStore;

fn main() {
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
    // The whole chain once, in memory.
    let mut mem = MemStorage::new();
    let mut a = Authority::bootstrap(&mut mem, genesis.clone(), 1_800_000_000).unwrap();
    let mut chain = Vec::new();
    while chain.len() < 1999 {
        let mut b = a.builder(Some(&admin));
        for i in 0..40 {
            b.set_key_vote(&admin.public().0, 1 + (chain.len() + i) as u64 % 3)
                .unwrap();
        }
        let updates = b.finalize(&mem).unwrap();
        a.inform(&mut mem, &updates, 1_800_000_000).unwrap();
        chain.extend(updates);
    }
    println!("AUMs   open store (ms)   open authority (ms)   per AUM (us)");
    for n in [250usize, 500, 1000, 2000] {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = DirStore::open(dir.path()).unwrap();
            let mut a = Authority::bootstrap(&mut store, genesis.clone(), 1_800_000_000).unwrap();
            a.inform(&mut store, &chain[..n - 1], 1_800_000_000)
                .unwrap();
        }
        let runs = 5;
        let (mut t_store, mut t_auth) = (0.0, 0.0);
        for _ in 0..runs {
            let t = Instant::now();
            let store = DirStore::open(dir.path()).unwrap();
            let opened = t.elapsed();
            let a = Authority::open(&store).unwrap();
            let total = t.elapsed();
            assert_eq!(store.len(), n);
            std::hint::black_box(a.head());
            t_store += opened.as_secs_f64() * 1e3;
            t_auth += (total - opened).as_secs_f64() * 1e3;
        }
        let (s, o) = (t_store / runs as f64, t_auth / runs as f64);
        println!(
            "{n:>5}   {s:>15.2}   {o:>19.2}   {:>12.1}",
            (s + o) * 1e3 / n as f64
        );
    }
}
