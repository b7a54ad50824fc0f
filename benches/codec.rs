//! Codec benchmarks: decoding and hashing a signed AddKey AUM (against the
//! floor, BLAKE2s of the same bytes), serialising it, and decoding node-key
//! signatures.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tka::{Aum, AumKind, NlPrivate, NodeKey, NodeKeySignature, Signature};

/// A signed AddKey AUM (about 184 bytes): an Ed25519 key with one vote, a
/// parent hash and one signature by another key.
fn signed_add_key() -> Aum {
    let signer = NlPrivate::from_seed(&[1; 32]);
    let added = NlPrivate::from_seed(&[2; 32]);
    let mut aum = Aum {
        message_kind: AumKind::ADD_KEY,
        prev_aum_hash: Some(vec![0xab; 32]),
        key: Some(added.to_key(1)),
        ..Aum::default()
    };
    let sig = signer.sign(&aum.sig_hash());
    aum.signatures = Some(vec![Signature {
        key_id: Some(signer.public().0.to_vec()),
        signature: Some(sig.to_vec()),
    }]);
    aum
}

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
        b.iter(|| Aum::from_cbor(black_box(&bytes)).unwrap().hash())
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
