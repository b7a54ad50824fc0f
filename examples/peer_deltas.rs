//! Cost of peer deltas against a full netmap, in one process.
//!
//! Feeds the same N peers (Direct signatures by a trusted key) to a fresh
//! machine twice: once as one `PeersReplaced` netmap, once as N single
//! `PeerUpserted` events, and prints both times and their ratio (best of a
//! few runs). Run with
//!
//! ```sh
//! cargo run --release --example peer_deltas -- 3000
//! ```
use bytes::Bytes;
use std::time::{Duration, Instant};
use tka::machine::{Event, Peer, Time, TkaMachine};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

#[path = "../benches/common/mod.rs"]
mod common;
use common::machine_with_authority;

fn machine(k: &NlPrivate) -> TkaMachine {
    let mut m = machine_with_authority(k);
    drain(&mut m);
    m
}

fn drain(m: &mut TkaMachine) -> usize {
    let mut n = 0;
    while m.poll_action().is_some() {
        n += 1;
    }
    n
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let k = NlPrivate::from_seed(&[3; 32]);
    let peers: Vec<Peer> = (0..n)
        .map(|i| {
            let mut nk = [0u8; 32];
            nk[..4].copy_from_slice(&i.to_le_bytes());
            let nk = NodeKey(nk);
            let sig = NodeKeySignature::sign_direct(&k, &nk, None).expect("sign");
            Peer {
                node_id: i64::from(i),
                node_key: nk,
                signature: Bytes::from(sig.to_cbor()),
                unsigned_peer_api_only: false,
            }
        })
        .collect();

    let mut netmap = Duration::MAX;
    let mut deltas = Duration::MAX;
    for _ in 0..3 {
        let mut m = machine(&k);
        let t = Instant::now();
        m.handle_event(Time(1), Event::PeersReplaced(peers.clone()));
        let emitted = drain(&mut m);
        netmap = netmap.min(t.elapsed());
        assert_eq!(m.verdicts().len(), n as usize);
        assert!(emitted >= n as usize);

        let mut m = machine(&k);
        let t = Instant::now();
        for p in &peers {
            m.handle_event(Time(1), Event::PeerUpserted(p.clone()));
            drain(&mut m);
        }
        deltas = deltas.min(t.elapsed());
        assert_eq!(m.counters().authorized, n as usize);
    }
    println!("peers: {n}");
    println!("one netmap of {n} peers: {netmap:?}");
    println!("{n} single upserts:      {deltas:?}");
    println!(
        "ratio: {:.2}x",
        deltas.as_secs_f64() / netmap.as_secs_f64().max(1e-9)
    );
}
