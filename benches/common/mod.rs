//! Fixture shared by the machine benchmarks and the examples that measure
//! the machine (`examples/peer_deltas.rs`, `examples/netmap_100k.rs`), and
//! the genesis the authority benchmarks and examples start from, and the
//! codec benchmark's signed AddKey AUM. Each user
//! takes what it needs.
#![allow(dead_code)]

use tka::builder::Signer;
use tka::machine::{Config, Mode, Persisted, Time, TkaMachine};
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, Signature, State};

/// A signed AddKey AUM (about 184 bytes): an Ed25519 key with one vote, a
/// parent hash and one signature by another key.
pub fn signed_add_key() -> Aum {
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

/// The genesis checkpoint every benchmark starts from: `k` alone trusted
/// (one vote), one disablement value, state IDs 1 and 2, signed by `k`.
pub fn genesis(k: &NlPrivate) -> Aum {
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
    g
}

/// An enforcing machine whose authority is a genesis checkpoint trusting
/// `k` alone, as if loaded from storage. Its startup actions are not
/// drained.
pub fn machine_with_authority(k: &NlPrivate) -> TkaMachine {
    let g = genesis(k);
    let mut s = MemStorage::new();
    Authority::bootstrap(&mut s, g, 0).expect("genesis bootstraps");
    let persisted = Persisted::from_storage(&s, &[]).expect("memory storage reads");
    TkaMachine::new(
        Config::new(NodeKey([0xee; 32]), Mode::Enforce),
        persisted,
        Time(0),
    )
}
