//! Property checks shared by the cargo-fuzz targets (`fuzz/`), the stable
//! corpus replay test (`tests/fuzz_corpus.rs`) and the property tests.
//!
//! Not part of the supported API. Each `check_*` function takes arbitrary
//! bytes and **panics** when a property is violated; it returns normally
//! when the input is rejected or every property holds. The properties are:
//!
//! * decoding never panics;
//! * an accepted value's canonical encoding decodes again, to the value Go
//!   would hold after a round trip ([`canonical_aum`] and friends: empty
//!   fields that the encoding omits come back as absent);
//! * re-encoding that value gives the same bytes (a fixed point), and the
//!   hashes computed by streaming equal the hashes of those bytes;
//! * the accessors and validators never panic and agree on both values;
//! * the canonical fast path of AUM decoding takes only inputs that are the
//!   canonical encoding of what Go's rules decode them to, with the same
//!   budget, and takes every such encoding ([`check_canonical_path`]).
//!
//! The stateful targets state their own properties: [`check_wire`] (every
//! control-plane JSON parser), [`check_machine`] (a hostile control plane
//! driving the node's state machine), [`check_control`] (a hostile node
//! driving the control responder) and [`check_tailchonk`] (Go's on-disk AUM
//! files).

mod control;
mod machine;
mod wire;
mod world;

pub use control::check_control;
pub use machine::check_machine;
pub use wire::{check_wire, parse_wire, WIRE_TYPES};

use crate::aum::Aum;
use crate::hash::{blake2s256, AumHash};
use crate::key::{Key, KeyKind, NodeKey};
use crate::limits::DecodeBudget;
use crate::sig::{node_key_authorized, NksError, NodeKeySignature, SigKind};
use crate::state::State;

/// An Ed25519 signature `(R, S = r + k·a)` with `k = SHA-512(R ‖ A ‖ msg)`
/// reduced, from the secret scalars `a` and `r` and the encodings of `A` and
/// `R` exactly as given (they may carry torsion or be non-canonical): what
/// the verifier's differential tests sign with.
pub fn schnorr_signature(
    a: &curve25519_dalek::scalar::Scalar,
    a_bytes: &[u8; 32],
    r: &curve25519_dalek::scalar::Scalar,
    r_bytes: &[u8; 32],
    msg: &[u8],
) -> [u8; 64] {
    use sha2::{Digest, Sha512};
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(a_bytes)
        .chain_update(msg)
        .finalize()
        .into();
    let k = curve25519_dalek::scalar::Scalar::from_bytes_mod_order_wide(&digest);
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

fn non_empty(b: &Option<Vec<u8>>) -> Option<Vec<u8>> {
    b.clone().filter(|b| !b.is_empty())
}

/// The key as it comes back from its canonical encoding: an empty `meta`
/// map is omitted, so it decodes as absent.
pub fn canonical_key(k: &Key) -> Key {
    Key {
        meta: k.meta.clone().filter(|m| !m.is_empty()),
        ..k.clone()
    }
}

/// The state as it comes back from its canonical encoding (each key
/// canonicalised; everything else is kept, nil and empty lists alike).
pub fn canonical_state(s: &State) -> State {
    State {
        keys: s
            .keys
            .as_ref()
            .map(|ks| ks.iter().map(canonical_key).collect()),
        ..s.clone()
    }
}

/// The AUM as it comes back from its canonical encoding: an empty `key_id`,
/// `meta` or `signatures` is omitted (README: "An empty meta map, an empty
/// signatures list and an empty key_id are omitted from the encoding").
pub fn canonical_aum(a: &Aum) -> Aum {
    Aum {
        message_kind: a.message_kind,
        prev_aum_hash: a.prev_aum_hash.clone(),
        key: a.key.as_ref().map(canonical_key),
        key_id: non_empty(&a.key_id),
        state: a.state.as_ref().map(canonical_state),
        votes: a.votes,
        meta: a.meta.clone().filter(|m| !m.is_empty()),
        signatures: a.signatures.clone().filter(|s| !s.is_empty()),
    }
}

/// The node-key signature as it comes back from its canonical encoding:
/// every empty byte field is omitted, at every level of nesting.
pub fn canonical_nks(s: &NodeKeySignature) -> NodeKeySignature {
    NodeKeySignature {
        sig_kind: s.sig_kind,
        pubkey: non_empty(&s.pubkey),
        key_id: non_empty(&s.key_id),
        signature: non_empty(&s.signature),
        nested: s.nested.as_deref().map(|n| Box::new(canonical_nks(n))),
        wrapping_pubkey: non_empty(&s.wrapping_pubkey),
    }
}

/// Longest canonical encoding the checks re-encode: the largest input the
/// fuzz targets take (`-max_len=1048576`).
const MAX_REENCODE: usize = 1 << 20;

fn meta_len(m: &crate::key::Meta) -> usize {
    m.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn key_meta_len(k: &Key) -> usize {
    k.meta.as_ref().map_or(0, meta_len)
}

/// Bytes of metadata the AUM's canonical encoding writes out. Go's "null
/// repeats the previous value" rule lets a small input name a large value
/// many times; decoding shares it, but the canonical encoding (which the
/// hashes cover) repeats it.
fn aum_meta_len(a: &Aum) -> usize {
    a.meta.as_ref().map_or(0, meta_len)
        + a.key.as_ref().map_or(0, key_meta_len)
        + a.state
            .as_ref()
            .map_or(0, |s| s.keys().iter().map(key_meta_len).sum())
}

/// Checks the AUM decoding properties on `data`; returns the decoded AUM
/// when the input was accepted. An AUM whose metadata alone would make the
/// canonical encoding longer than 1 MiB is only validated, not re-encoded.
pub fn check_aum(data: &[u8]) -> Option<Aum> {
    check_canonical_path(data);
    let a = Aum::from_cbor(data).ok()?;
    if aum_meta_len(&a) > MAX_REENCODE {
        let _ = a.static_validate();
        return Some(a);
    }
    let c1 = a.to_cbor();
    let b = Aum::from_cbor(&c1).unwrap_or_else(|e| {
        panic!(
            "canonical encoding {} of accepted AUM does not decode: {e}",
            hex(&c1)
        )
    });
    assert_eq!(
        b,
        canonical_aum(&a),
        "AUM round trip changed the value (canonical {})",
        hex(&c1)
    );
    let c2 = b.to_cbor();
    assert_eq!(hex(&c2), hex(&c1), "AUM re-encoding is not a fixed point");
    // Completeness of the fast path: every canonical encoding the general
    // decoder accepts takes it.
    assert!(
        check_canonical_path(&c1),
        "canonical encoding {} missed the canonical fast path",
        hex(&c1)
    );
    let h = a.hash();
    assert_eq!(
        h,
        AumHash::of(&c1),
        "streamed hash differs from hash of bytes"
    );
    assert_eq!(h, b.hash(), "hash changed across the round trip");
    let sh = a.sig_hash();
    assert_eq!(sh, b.sig_hash(), "sig_hash changed across the round trip");
    let unsigned = Aum {
        signatures: None,
        ..a.clone()
    };
    assert_eq!(
        sh,
        blake2s256(&unsigned.to_cbor()),
        "sig_hash is not the hash of the unsigned encoding"
    );
    if a.signatures().is_empty() {
        assert_eq!(sh, h.0, "unsigned AUM: sig_hash differs from hash");
    }
    // Validation and accessors must not panic; the round-tripped value is
    // what Go validates after a store/load cycle, so both are exercised.
    let _ = a.static_validate();
    let vb = b.static_validate();
    assert_eq!(
        vb,
        canonical_aum(&b).static_validate(),
        "validation of a canonical value is not stable"
    );
    assert_eq!(
        a.parent(),
        b.parent(),
        "parent changed across the round trip"
    );
    if let Some(s) = &a.state {
        let _ = a.weight(s);
        let _ = s.validate_checkpoint();
    }
    let _ = format!("{a:?}");
    Some(a)
}

/// Checks the canonical fast path of AUM decoding on `data` and returns
/// whether it took the input. Soundness: when it does, the general decoder
/// (Go's rules) accepts the input too, gives the same AUM and charges the
/// same budget, and the AUM's canonical encoding is `data` byte for byte,
/// so BLAKE2s of `data` is its hash.
pub fn check_canonical_path(data: &[u8]) -> bool {
    let mut fast_budget = DecodeBudget::for_input(data.len());
    let Some(fast) = crate::canonical::decode_aum(data, &mut fast_budget) else {
        return false;
    };
    let mut budget = DecodeBudget::for_input(data.len());
    let general = Aum::decode_general(data, &mut budget).unwrap_or_else(|e| {
        panic!(
            "canonical fast path took {} but Go's rules refuse it: {e}",
            hex(data)
        )
    });
    assert_eq!(fast, general, "fast path and general decoder disagree");
    assert_eq!(
        fast_budget, budget,
        "fast path and general decoder charged different budgets"
    );
    assert_eq!(
        hex(&fast.to_cbor()),
        hex(data),
        "fast path took an input that is not the canonical encoding"
    );
    let (again, h) = Aum::from_cbor_hashed(data).expect("accepted above");
    assert_eq!(again, fast);
    assert_eq!(
        h,
        fast.hash(),
        "hash as received differs from the re-encoding's"
    );
    true
}

/// Checks the key decoding properties on `data`; returns the decoded key
/// when the input was accepted.
pub fn check_key(data: &[u8]) -> Option<Key> {
    let a = Key::from_cbor(data).ok()?;
    if key_meta_len(&a) > MAX_REENCODE {
        let _ = a.static_validate();
        return Some(a);
    }
    let c1 = a.to_cbor();
    let b = Key::from_cbor(&c1).unwrap_or_else(|e| {
        panic!(
            "canonical encoding {} of accepted key does not decode: {e}",
            hex(&c1)
        )
    });
    assert_eq!(b, canonical_key(&a), "key round trip changed the value");
    assert_eq!(
        hex(&b.to_cbor()),
        hex(&c1),
        "key re-encoding not a fixed point"
    );
    assert_eq!(
        a.static_validate(),
        b.static_validate(),
        "key validation changed across the round trip"
    );
    assert_eq!(
        a.id().ok(),
        b.id().ok(),
        "key ID changed across the round trip"
    );
    Some(a)
}

/// The fixed trusted keys used by [`check_nks`]: the three keys of the
/// `sig.json` verify cases (one of them deliberately 31 bytes long), a key
/// of an unknown kind and a key with no public part.
pub fn fixed_trusted_keys() -> Vec<Key> {
    let from_hex = |s: &str| {
        data_encoding::HEXLOWER
            .decode(s.as_bytes())
            .unwrap_or_default()
    };
    let ed = |s: &str, votes| Key {
        kind: KeyKind::ED25519,
        votes,
        public: Some(from_hex(s)),
        meta: None,
    };
    vec![
        ed(
            "1ab6b181ab34e80ce7f205a0d480423271e10f35cc840a7e3fa2cc6ea1d22d45",
            1,
        ),
        ed(
            "1a924e2fd12763440a1179fd0e94843c0476f8f58b2678a9a6ecc1ff1a364de5",
            2,
        ),
        ed(
            "6040e70d55608ef9438ba4afba88607ae0048cdd12ac5f95b78cb6fd5d28ee",
            1,
        ),
        Key {
            kind: KeyKind(2),
            votes: 1,
            public: Some(vec![0x42; 32]),
            meta: None,
        },
        Key {
            kind: KeyKind::ED25519,
            votes: 1,
            public: None,
            meta: None,
        },
    ]
}

/// The verdict of [`node_key_authorized`] reduced to what must not depend
/// on how the signature was encoded: the error, or the previous node keys
/// and the canonical initial signature.
type Verdict = Result<Option<(Vec<NodeKey>, NodeKeySignature)>, NksError>;

fn verdict(trusted: &[Key], node_key: &NodeKey, sig: &[u8]) -> Verdict {
    node_key_authorized(trusted, node_key, sig).map(|a| {
        a.rotation()
            .map(|r| (r.prev_node_keys.clone(), canonical_nks(&r.initial_sig)))
    })
}

/// Checks the node-key signature properties on `data`: decoding, the round
/// trip, the unverified accessors, and [`node_key_authorized`] against
/// [`fixed_trusted_keys`] (and, to reach signature verification, those keys
/// plus the signature's own authorizing key) for a node key taken from the
/// signature when it holds one, else derived from `data`.
pub fn check_nks(data: &[u8]) -> Option<NodeKeySignature> {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::sig::decode_wrapped_authkey(text);
    }
    let mut trusted = fixed_trusted_keys();
    let Ok(a) = NodeKeySignature::from_cbor(data) else {
        let nk = NodeKey(blake2s256(data));
        match node_key_authorized(&trusted, &nk, data) {
            Err(NksError::Decode(_)) => return None,
            other => panic!("undecodable signature gave verdict {other:?}"),
        }
    };
    let c1 = a.to_cbor();
    let b = NodeKeySignature::from_cbor(&c1).unwrap_or_else(|e| {
        panic!(
            "canonical encoding {} of accepted signature does not decode: {e}",
            hex(&c1)
        )
    });
    assert_eq!(
        b,
        canonical_nks(&a),
        "signature round trip changed the value (canonical {})",
        hex(&c1)
    );
    assert_eq!(
        hex(&b.to_cbor()),
        hex(&c1),
        "signature re-encoding is not a fixed point"
    );
    let sh = a.sig_hash();
    assert_eq!(sh, b.sig_hash(), "sig_hash changed across the round trip");
    let unsigned = NodeKeySignature {
        signature: None,
        ..a.clone()
    };
    assert_eq!(
        sh,
        blake2s256(&unsigned.to_cbor()),
        "sig_hash is not the hash of the unsigned encoding"
    );
    assert_eq!(
        a.authorizing_key_id(),
        b.authorizing_key_id(),
        "authorizing key ID changed across the round trip"
    );
    assert_eq!(
        a.wrapping_public(),
        b.wrapping_public(),
        "wrapping key changed across the round trip"
    );

    let nk = a
        .pubkey
        .as_deref()
        .and_then(|p| NodeKey::from_binary(p).ok())
        .unwrap_or_else(|| NodeKey(blake2s256(data)));
    let v1 = verdict(&trusted, &nk, data);
    check_verdict(&a, &trusted, &nk, &v1);
    if let Ok(kid) = a.authorizing_key_id() {
        if !trusted.iter().any(|k| k.id().is_ok_and(|id| id == kid)) {
            trusted.push(Key {
                kind: KeyKind::ED25519,
                votes: 1,
                public: Some(kid.to_vec()),
                meta: None,
            });
        }
    }
    let v2 = verdict(&trusted, &nk, data);
    check_verdict(&a, &trusted, &nk, &v2);
    let v3 = verdict(&trusted, &nk, &c1);
    assert_eq!(
        v2, v3,
        "verdict differs between the input and its canonical encoding"
    );
    let _ = format!("{a:?}");
    Some(a)
}

/// What any verdict must respect, whatever the signature bytes were.
fn check_verdict(sig: &NodeKeySignature, trusted: &[Key], nk: &NodeKey, v: &Verdict) {
    let Ok(details) = v else { return };
    assert_ne!(
        sig.sig_kind,
        SigKind::CREDENTIAL,
        "a credential authorized a node on its own"
    );
    assert_eq!(
        sig.pubkey.as_deref(),
        Some(&nk.to_binary()[..]),
        "authorized a node key the signature does not name"
    );
    let kid = sig
        .authorizing_key_id()
        .expect("authorized without an authorizing key");
    assert!(
        trusted.iter().any(|k| k.id().is_ok_and(|id| id == kid)),
        "authorized by an untrusted key"
    );
    assert_eq!(
        details.is_some(),
        sig.sig_kind == SigKind::ROTATION,
        "rotation details present exactly for rotations"
    );
}

/// Checks the tailchonk file decoding properties on `data`
/// ([`crate::tailchonk::FsEntry::from_cbor`]): an accepted entry's canonical
/// encoding decodes to the entry with its AUM canonicalised, re-encodes to
/// the same bytes, and the AUM passes [`check_aum`]'s round trip. Returns
/// the entry when the input was accepted.
pub fn check_tailchonk(data: &[u8]) -> Option<crate::tailchonk::FsEntry> {
    use crate::tailchonk::FsEntry;
    let e = FsEntry::from_cbor(data).ok()?;
    if e.aum.as_ref().map_or(0, aum_meta_len) > MAX_REENCODE {
        return Some(e);
    }
    let c1 = e.to_cbor();
    let b = FsEntry::from_cbor(&c1).unwrap_or_else(|err| {
        panic!(
            "canonical encoding {} of accepted entry does not decode: {err}",
            hex(&c1)
        )
    });
    assert_eq!(
        b,
        FsEntry {
            aum: e.aum.as_ref().map(canonical_aum),
            ..e.clone()
        },
        "entry round trip changed the value (canonical {})",
        hex(&c1)
    );
    assert_eq!(
        hex(&b.to_cbor()),
        hex(&c1),
        "entry re-encoding is not a fixed point"
    );
    if let Some(a) = &e.aum {
        let stored = crate::storage::StoredAum::new(a.clone());
        assert_eq!(
            stored.hash(),
            a.hash(),
            "stored hash differs from the AUM's"
        );
        check_aum(&a.to_cbor()).expect("an AUM from a file re-encodes to a decodable AUM");
    }
    Some(e)
}
