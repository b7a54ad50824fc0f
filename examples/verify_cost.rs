//! Fixed work for instruction counting under callgrind (repeatable on a
//! shared, noisy machine, where wall-clock times are not): one mode, run
//! `N` times inside a function of its own so that callgrind can count just
//! that function.
//!
//! ```text
//! cargo build --release --example verify_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     --collect-atstart=no --toggle-collect='verify_cost::run_*' \
//!     target/release/examples/verify_cost MODE 100
//! ```
//!
//! MODE is `zebra` (one raw `ed25519-zebra` verify, key decoded from
//! bytes: the floor), `check` (`Authority::node_key_authorized`, Direct
//! signature, trusted key with its table), `prepared`
//! (`ed25519::PreparedKey::verify_zip215` with the key's table) or
//! `no_table` (`ed25519::verify_zip215_hardened`: key decoded, double-base
//! multiplication); or, for the AUM codec, `blake2s` (BLAKE2s-256 of the
//! 184-byte signed AddKey AUM: the floor), `aum_hashed`
//! (`Aum::from_cbor_hashed` of those bytes, canonical: the fast path) or
//! `aum_general` (the same AUM with one non-minimal head, so Go's decoder
//! and a re-encoding hash). Divide the `Collected` total by `N`. The tables
//! are built before the counted function runs.

#[path = "../benches/common/mod.rs"]
mod common;
use std::hint::black_box;
use tka::{Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature};

#[inline(never)]
fn run_zebra(n: usize, public: [u8; 32], msg: &[u8; 32], sig: &[u8; 64]) {
    for _ in 0..n {
        let vk = ed25519_zebra::VerificationKey::try_from(black_box(public)).unwrap();
        vk.verify(&ed25519_zebra::Signature::from_bytes(black_box(sig)), msg)
            .unwrap();
    }
}

#[inline(never)]
fn run_check(n: usize, authority: &Authority, nk: &NodeKey, bytes: &[u8]) {
    for _ in 0..n {
        authority.node_key_authorized(nk, black_box(bytes)).unwrap();
    }
}

#[inline(never)]
fn run_no_table(n: usize, public: &[u8; 32], msg: &[u8; 32], sig: &[u8; 64]) {
    for _ in 0..n {
        tka::ed25519::verify_zip215_hardened(public, msg, black_box(sig)).unwrap();
    }
}

#[inline(never)]
fn run_prepared(n: usize, key: &tka::ed25519::PreparedKey, msg: &[u8; 32], sig: &[u8; 64]) {
    for _ in 0..n {
        key.verify_zip215(msg, black_box(sig)).unwrap();
    }
}

#[inline(never)]
fn run_blake2s(n: usize, aum: &[u8]) {
    for _ in 0..n {
        black_box(tka::hash::blake2s256(black_box(aum)));
    }
}

#[inline(never)]
fn run_aum_hashed(n: usize, aum: &[u8]) {
    for _ in 0..n {
        black_box(tka::Aum::from_cbor_hashed(black_box(aum)).unwrap());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "check".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let k = NlPrivate::from_seed(&[3; 32]);
    let g = common::genesis(&k);
    let mut store = MemStorage::new();
    let authority = Authority::bootstrap(&mut store, g, 0).unwrap();
    let nk = NodeKey([7; 32]);
    let s = NodeKeySignature::sign_direct(&k, &nk, None).unwrap();
    let sig: [u8; 64] = s.signature.clone().unwrap().try_into().unwrap();
    let msg = s.sig_hash();
    let bytes = s.to_cbor();
    let public = k.public().0;
    let prepared = tka::ed25519::PreparedKey::new(&public).unwrap();
    // One check each first, outside the counted functions: trusted keys
    // build their tables after their first valid signature.
    for _ in 0..2 {
        authority.node_key_authorized(&nk, &bytes).unwrap();
        prepared.verify_zip215(&msg, &sig).unwrap();
    }
    let aum = common::signed_add_key().to_cbor();
    let loose: Vec<u8> = [&aum[..2], &[0x18], &aum[2..]].concat();
    match mode.as_str() {
        "blake2s" => run_blake2s(n, &aum),
        "aum_hashed" => run_aum_hashed(n, &aum),
        "aum_general" => run_aum_hashed(n, &loose),
        "zebra" => run_zebra(n, public, &msg, &sig),
        "check" => run_check(n, &authority, &nk, &bytes),
        "prepared" => run_prepared(n, &prepared, &msg, &sig),
        "no_table" => run_no_table(n, &public, &msg, &sig),
        other => panic!("unknown mode {other}"),
    }
}
