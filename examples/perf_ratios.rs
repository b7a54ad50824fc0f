//! The per-item costs that have a physical floor, measured against that
//! floor in one run with alternating rounds (so machine noise hits both
//! sides alike): a node-key check against one raw `ed25519-zebra` verify,
//! and AUM decode+hash against BLAKE2s of the same bytes.
//!
//! Run with `cargo run --release --example perf_ratios` (optional argument:
//! rounds of 200 samples, default 15). Prints the median time of each item
//! and its ratio to the floor.

#[path = "../benches/common/mod.rs"]
mod common;
use std::hint::black_box;
use std::time::Instant;
use tka::{Aum, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature};

/// A peer: node key, node-key signature bytes, and the Ed25519 message and
/// signature inside it.
type Peer = (NodeKey, Vec<u8>, [u8; 32], [u8; 64]);

/// Average time of one call of `f`, in microseconds, over `n` calls.
fn time(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The codec benchmark's signed AddKey AUM (184 bytes), encoded.
fn add_key_aum() -> Vec<u8> {
    common::signed_add_key().to_cbor()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let k = NlPrivate::from_seed(&[3; 32]);
    let g = common::genesis(&k);
    let mut store = MemStorage::new();
    let authority = Authority::bootstrap(&mut store, g, 0).unwrap();

    // 64 peers with Direct signatures, checked in turn.
    let peers: Vec<Peer> = (0..64u8)
        .map(|i| {
            let nk = NodeKey([i; 32]);
            let s = NodeKeySignature::sign_direct(&k, &nk, None).unwrap();
            let sig: [u8; 64] = s.signature.clone().unwrap().try_into().unwrap();
            (nk, s.to_cbor(), s.sig_hash(), sig)
        })
        .collect();
    let public = k.public().0;
    let aum = add_key_aum();
    assert_eq!(aum.len(), 184);
    let decoded = Aum::from_cbor(&aum).unwrap();
    // The same AUM with its kind written in a two-byte head (`18 01` for
    // `01`): Go accepts it, it is not canonical, so it takes the general
    // decoder and its hash re-encodes.
    assert_eq!(&aum[1..3], &[0x01, 0x01]);
    let loose: Vec<u8> = [&aum[..2], &[0x18], &aum[2..]].concat();
    assert_eq!(Aum::from_cbor_hashed(&loose).unwrap().1, decoded.hash());

    let names = [
        "raw ed25519-zebra verify (floor)",
        "node-key check, Authority (keys prepared)",
        "node-key check, sig::node_key_authorized",
        "ed25519::PreparedKey::verify_zip215, tables",
        "ed25519::PreparedKey::verify_zip215, no table",
        "BLAKE2s-256 of 184 bytes (floor)",
        "AUM decode+hash, Aum::from_cbor_hashed",
        "AUM decode only, Aum::from_cbor",
        "AUM hash only, Aum::hash (re-encode)",
        "same, one non-minimal head: general path",
    ];
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let keys = authority.keys().to_vec();
    // A trusted key builds its table after its first valid signature.
    let prepared = tka::ed25519::PreparedKey::new(&public).unwrap();
    assert!(prepared.build_table());
    // Each round times every item once, back to back, so a burst of load
    // from elsewhere on the machine lands on all of them alike; the order
    // is shuffled every round, because an item measured right after another
    // can pay for what that one left behind (an item timed right after the
    // AVX2 raw verify came out up to 10 % slower than the same item timed
    // elsewhere in the round).
    let mut order: Vec<usize> = (0..names.len()).collect();
    let mut lcg: u64 = 0x2545_f491_4f6c_dd1d;
    for r in 0..rounds * 200 {
        for i in (1..order.len()).rev() {
            lcg = lcg
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (lcg >> 33) as usize % (i + 1));
        }
        let (nk, bytes, msg, sig) = &peers[r % peers.len()];
        let m = 50;
        for &item in &order {
            let sample = match item {
                0 => time(1, || {
                    let vk = ed25519_zebra::VerificationKey::try_from(black_box(public)).unwrap();
                    vk.verify(&ed25519_zebra::Signature::from_bytes(sig), msg)
                        .unwrap();
                }),
                1 => time(1, || {
                    authority.node_key_authorized(nk, black_box(bytes)).unwrap();
                }),
                2 => time(1, || {
                    tka::node_key_authorized(&keys, nk, black_box(bytes)).unwrap();
                }),
                3 => time(1, || {
                    prepared.verify_zip215(msg, black_box(sig)).unwrap();
                }),
                4 => time(1, || {
                    tka::ed25519::verify_zip215_hardened(&public, msg, black_box(sig)).unwrap();
                }),
                5 => time(m, || {
                    black_box(tka::hash::blake2s256(black_box(&aum)));
                }),
                6 => time(m, || {
                    black_box(Aum::from_cbor_hashed(black_box(&aum)).unwrap());
                }),
                7 => time(m, || {
                    black_box(Aum::from_cbor(black_box(&aum)).unwrap());
                }),
                8 => time(m, || {
                    black_box(black_box(&decoded).hash());
                }),
                _ => time(m, || {
                    black_box(Aum::from_cbor_hashed(black_box(&loose)).unwrap());
                }),
            };
            t[item].push(sample);
        }
    }
    let med: Vec<f64> = t.iter_mut().map(|v| median(v)).collect();
    println!("medians of {} interleaved samples each:", rounds * 200);
    for (i, name) in names.iter().enumerate() {
        let floor = if i < 5 { med[0] } else { med[5] };
        println!(
            "  {name:44} {:9.3} us  {:5.2}x floor",
            med[i],
            med[i] / floor
        );
    }
}
