//! Codec benchmarks: decoding and hashing a signed AddKey AUM (against the
//! floor, BLAKE2s of the same bytes), serialising it, and decoding node-key
//! signatures.

mod common;

use common::signed_add_key;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tka::{Aum, NlPrivate, NodeKey, NodeKeySignature};

/// A Direct signature with a wrapping key, and a three-layer rotation chain.
fn signatures() -> (Vec<u8>, Vec<u8>) {
    let signer = NlPrivate::from_seed(&[3; 32]);
    let rot = NlPrivate::from_seed(&[4; 32]);
    let direct =
        NodeKeySignature::sign_direct(&signer, &NodeKey([5; 32]), Some(rot.public().0)).unwrap();
    let mut chain = direct.clone();
    for i in 6..9 {
        chain = NodeKeySignature::sign_rotation(&rot, &NodeKey([i; 32]).to_binary(), chain);
    }
    (direct.to_cbor(), chain.to_cbor())
}

fn codec(c: &mut Criterion) {
    let aum = signed_add_key();
    let bytes = aum.to_cbor();
    assert_eq!(bytes.len(), 184, "benchmark AUM size changed");
    c.bench_function("blake2s_184B_floor", |b| {
        b.iter(|| tka::hash::blake2s256(black_box(&bytes)))
    });
    c.bench_function("aum_decode_hash_add_key_184B", |b| {
        b.iter(|| Aum::from_cbor_hashed(black_box(&bytes)).unwrap())
    });
    c.bench_function("aum_decode_add_key_184B", |b| {
        b.iter(|| Aum::from_cbor(black_box(&bytes)).unwrap())
    });
    c.bench_function("aum_hash_add_key_184B", |b| {
        b.iter(|| black_box(&aum).hash())
    });
    c.bench_function("aum_serialize_add_key_184B", |b| {
        b.iter(|| black_box(&aum).to_cbor())
    });

    let (direct, chain) = signatures();
    c.bench_function(&format!("nks_decode_direct_{}B", direct.len()), |b| {
        b.iter(|| NodeKeySignature::from_cbor(black_box(&direct)).unwrap())
    });
    c.bench_function(&format!("nks_decode_rotation3_{}B", chain.len()), |b| {
        b.iter(|| NodeKeySignature::from_cbor(black_box(&chain)).unwrap())
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
