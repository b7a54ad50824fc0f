//! Property tests for the codec: arbitrary values round-trip through their
//! canonical encoding, and arbitrary or mutated bytes never make the
//! decoders panic (the checks are the fuzz targets', `tka::fuzzing`).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tka::fuzzing::{
    canonical_aum, canonical_nks, check_aum, check_canonical_path, check_key, check_nks,
};
use tka::{Aum, AumHash, AumKind, Key, KeyKind, NodeKeySignature, SigKind, Signature, State};

/// `None`, `Some(empty)` or `Some(bytes)`: Go tells nil and empty apart.
fn bytes_opt(max: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Vec::new())),
        3 => vec(any::<u8>(), 0..=max).prop_map(Some),
        2 => vec(any::<u8>(), 32).prop_map(Some),
    ]
}

fn meta_opt() -> impl Strategy<Value = Option<tka::Meta>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(BTreeMap::new())),
        3 => btree_map("\\PC{0,6}", "\\PC{0,10}", 1..5)
            .prop_map(|m| Some(m.into_iter().map(|(k, v)| (k, v.into())).collect())),
    ]
}

fn u64_edgy() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(4096u64),
        Just(u64::MAX),
        0u64..100_000,
        any::<u64>(),
    ]
}

fn key() -> impl Strategy<Value = Key> {
    (
        prop_oneof![3 => Just(1u8), 1 => any::<u8>()],
        u64_edgy(),
        bytes_opt(40),
        meta_opt(),
    )
        .prop_map(|(kind, votes, public, meta)| Key {
            kind: KeyKind(kind),
            votes,
            public,
            meta,
        })
}

fn state() -> impl Strategy<Value = State> {
    (
        proptest::option::of(any::<[u8; 32]>().prop_map(AumHash)),
        proptest::option::of(vec(bytes_opt(33), 0..4)),
        proptest::option::of(vec(key(), 0..4)),
        u64_edgy(),
        u64_edgy(),
    )
        .prop_map(|(last, dv, keys, id1, id2)| State {
            last_aum_hash: last,
            disablement_values: dv,
            keys,
            state_id1: id1,
            state_id2: id2,
        })
}

fn signature() -> impl Strategy<Value = Signature> {
    (bytes_opt(33), bytes_opt(65)).prop_map(|(key_id, signature)| Signature { key_id, signature })
}

fn aum() -> impl Strategy<Value = Aum> {
    (
        prop_oneof![3 => 0u8..=6, 1 => any::<u8>()],
        bytes_opt(33),
        proptest::option::of(key()),
        bytes_opt(33),
        proptest::option::of(state()),
        proptest::option::of(u64_edgy()),
        meta_opt(),
        proptest::option::of(vec(signature(), 0..4)),
    )
        .prop_map(
            |(kind, prev, key, key_id, state, votes, meta, signatures)| Aum {
                message_kind: AumKind(kind),
                prev_aum_hash: prev,
                key,
                key_id,
                state,
                votes,
                meta,
                signatures,
            },
        )
}

/// One layer's fields; `nested` is filled by the recursion.
fn nks_layer() -> impl Strategy<Value = NodeKeySignature> {
    let pubkey = prop_oneof![
        2 => any::<[u8; 32]>().prop_map(|k| Some(tka::NodeKey(k).to_binary().to_vec())),
        1 => bytes_opt(36),
    ];
    (
        prop_oneof![3 => 0u8..=4, 1 => any::<u8>()],
        pubkey,
        bytes_opt(33),
        bytes_opt(65),
        bytes_opt(33),
    )
        .prop_map(
            |(kind, pubkey, key_id, signature, wrapping_pubkey)| NodeKeySignature {
                sig_kind: SigKind(kind),
                pubkey,
                key_id,
                signature,
                nested: None,
                wrapping_pubkey,
            },
        )
}

/// Signatures nested up to 5 levels below the outermost one.
fn nks() -> impl Strategy<Value = NodeKeySignature> {
    nks_layer().prop_recursive(5, 6, 1, |inner| {
        (nks_layer(), proptest::option::of(inner)).prop_map(|(mut outer, nested)| {
            outer.nested = nested.map(Box::new);
            outer
        })
    })
}

fn depth(s: &NodeKeySignature) -> usize {
    1 + s.nested.as_deref().map_or(0, depth)
}

/// An edit applied to an encoding.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at (position mod length) with a non-zero mask.
    Flip(usize, u8),
    /// Overwrite the byte at (position mod length).
    Set(usize, u8),
    /// Insert a byte at (position mod (length + 1)).
    Insert(usize, u8),
    /// Remove the byte at (position mod length).
    Remove(usize),
    /// Keep only the first (position mod (length + 1)) bytes.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = b.len();
        match *m {
            Mutation::Flip(i, x) if n > 0 => b[i % n] ^= x,
            Mutation::Set(i, x) if n > 0 => b[i % n] = x,
            Mutation::Insert(i, x) => b.insert(i % (n + 1), x),
            Mutation::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Mutation::Truncate(i) => b.truncate(i % (n + 1)),
            _ => {}
        }
    }
    b
}

/// `default` cases, or `PROPTEST_CASES` when set (for longer local runs).
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn aum_round_trip(a in aum()) {
        let e1 = a.to_cbor();
        let d = Aum::from_cbor(&e1).expect("canonical encoding must decode");
        prop_assert_eq!(&d, &canonical_aum(&a));
        prop_assert_eq!(d.to_cbor(), e1.clone());
        prop_assert_eq!(d.hash(), a.hash());
        prop_assert_eq!(d.hash(), AumHash::of(&e1));
        prop_assert_eq!(d.sig_hash(), a.sig_hash());
        // The decoded value is itself canonical.
        prop_assert_eq!(canonical_aum(&d), d.clone());
        prop_assert!(check_aum(&e1).is_some());
    }

    /// The canonical fast path: a random AUM's encoding is taken by it, and
    /// the hash of the bytes as received is the hash of the re-encoding.
    #[test]
    fn hash_as_received_equals_hash_of_reencoding(a in aum()) {
        let e1 = a.to_cbor();
        prop_assert!(check_canonical_path(&e1));
        let (d, h) = Aum::from_cbor_hashed(&e1).expect("canonical encoding must decode");
        prop_assert_eq!(h, d.hash());
        prop_assert_eq!(h, a.hash());
    }

    /// The fast path after a few byte mutations: wherever it takes the
    /// mutated input, Go's rules give the same AUM and the input is that
    /// AUM's canonical encoding (`check_canonical_path` panics otherwise);
    /// the hash returned always equals the re-encoding's.
    #[test]
    fn hash_as_received_after_mutation(a in aum(), ms in vec(mutation(), 1..4)) {
        let b = mutate(a.to_cbor(), &ms);
        let _ = check_canonical_path(&b);
        if let Ok((d, h)) = Aum::from_cbor_hashed(&b) {
            prop_assert_eq!(h, d.hash());
        }
    }

    #[test]
    fn nks_round_trip(s in nks()) {
        prop_assert!(depth(&s) <= 6);
        let e1 = s.to_cbor();
        let d = NodeKeySignature::from_cbor(&e1).expect("canonical encoding must decode");
        prop_assert_eq!(&d, &canonical_nks(&s));
        prop_assert_eq!(d.to_cbor(), e1.clone());
        prop_assert_eq!(d.sig_hash(), s.sig_hash());
        prop_assert_eq!(d.authorizing_key_id(), s.authorizing_key_id());
        prop_assert_eq!(d.wrapping_public(), s.wrapping_public());
        prop_assert!(check_nks(&e1).is_some());
    }

    #[test]
    fn key_round_trip(k in key()) {
        let e1 = k.to_cbor();
        let d = Key::from_cbor(&e1).expect("canonical encoding must decode");
        prop_assert_eq!(d.to_cbor(), e1.clone());
        prop_assert_eq!(d.static_validate(), tka::fuzzing::canonical_key(&k).static_validate());
        prop_assert!(check_key(&e1).is_some());
    }

}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(b in vec(any::<u8>(), 0..300)) {
        // Each check panics if a property fails on an accepted input.
        let _ = check_aum(&b);
        let _ = check_nks(&b);
        let _ = check_key(&b);
    }

    #[test]
    fn mutated_aum_encodings(a in aum(), ms in vec(mutation(), 1..4)) {
        let b = mutate(a.to_cbor(), &ms);
        let _ = check_aum(&b);
        let _ = check_key(&b);
    }

    #[test]
    fn mutated_nks_encodings(s in nks(), ms in vec(mutation(), 1..4)) {
        let b = mutate(s.to_cbor(), &ms);
        let _ = check_nks(&b);
    }
}
