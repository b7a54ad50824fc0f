//! Differential tests: `ed25519::PreparedKey` (a trusted key decoded once,
//! checked with and without its table of multiples) gives exactly the verdicts of `ed25519-zebra` (`verify_zip215`) and of
//! `verify_zip215_hardened`, on random signatures, signatures with torsion
//! added to `A` or `R` (which only the cofactored rule accepts), broken
//! signatures, and every edge case of vectors/ed25519.json; and
//! `TrustedKeys` gives the verdicts of `node_key_authorized`.

use curve25519_dalek::constants::{ED25519_BASEPOINT_TABLE, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use proptest::collection::vec;
use proptest::prelude::*;
use tka::ed25519::{
    is_small_order, verify_cofactorless, verify_zip215, verify_zip215_hardened, PreparedKey,
    VerifyError,
};
use tka::sig::{node_key_authorized, node_keys_authorized, TrustedKeys};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

/// A Schnorr signature `(R, S = r + k·a)` with `k = H(R ‖ A ‖ msg)` under
/// `A = [a]B + T_ta` and `R = [r]B + T_tr`: valid under the cofactored
/// (ZIP-215) rule for every torsion choice; the cofactorless rule accepts it
/// without torsion (and with some torsion choices, by chance of `k`).
fn torsioned_signature(
    a: Scalar,
    r: Scalar,
    ta: usize,
    tr: usize,
    msg: &[u8],
) -> ([u8; 32], [u8; 64]) {
    // EIGHT_TORSION[0] is the identity: no torsion.
    let a_bytes = (&a * ED25519_BASEPOINT_TABLE + EIGHT_TORSION[ta])
        .compress()
        .to_bytes();
    let r_bytes = (&r * ED25519_BASEPOINT_TABLE + EIGHT_TORSION[tr])
        .compress()
        .to_bytes();
    (
        a_bytes,
        tka::fuzzing::schnorr_signature(&a, &a_bytes, &r, &r_bytes, msg),
    )
}

/// Checks the prepared verdict against zebra and the hardened function.
fn agree(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), TestCaseError> {
    let zebra = verify_zip215(public, msg, sig);
    let hardened = verify_zip215_hardened(public, msg, sig);
    match PreparedKey::new(public) {
        Ok(p) => {
            prop_assert_eq!(p.public().as_slice(), public);
            let got = p.verify_zip215(msg, sig);
            prop_assert_eq!(got, hardened);
            if sig.len() == 64 {
                prop_assert_eq!(got, zebra);
            }
            // The same verdict through the key's table of multiples.
            let fast = PreparedKey::new(public).unwrap();
            prop_assert!(fast.build_table());
            prop_assert_eq!(fast.verify_zip215(msg, sig), got);
        }
        Err(VerifyError::SmallOrderKey) => {
            prop_assert!(is_small_order(public));
            if sig.len() == 64 {
                prop_assert_eq!(hardened, Err(VerifyError::SmallOrderKey));
            }
        }
        Err(e) => {
            prop_assert!(!is_small_order(public));
            prop_assert!(zebra.is_err());
            if sig.len() == 64 {
                prop_assert_eq!(hardened, Err(e));
            }
        }
    }
    Ok(())
}

fn scalar() -> impl Strategy<Value = Scalar> {
    any::<[u8; 32]>().prop_map(|b| Scalar::from_bytes_mod_order(b) + Scalar::ONE)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prepared_agrees_on_torsioned_signatures(
        a in scalar(),
        r in scalar(),
        ta in 0usize..8,
        tr in 0usize..8,
        msg in vec(any::<u8>(), 0..40),
        damage in 0usize..6,
        pos in 0usize..64,
    ) {
        let (public, mut sig) = torsioned_signature(a, r, ta, tr, &msg);
        let mut msg = msg;
        match damage {
            0 => {
                // Intact: the cofactored rule accepts it whatever the torsion.
                prop_assert_eq!(verify_zip215(&public, &msg, &sig), Ok(()));
                if ta == 0 && tr == 0 {
                    prop_assert_eq!(verify_cofactorless(&public, &msg, &sig), Ok(()));
                }
            }
            1 => sig[pos] ^= 1,
            2 => msg.push(0),
            3 => {
                // S + L: the same scalar, not canonical.
                let mut carry = 0u16;
                let l = Scalar::ZERO - Scalar::ONE;
                let mut l_bytes = l.to_bytes();
                l_bytes[0] += 1;
                for i in 0..32 {
                    let v = u16::from(sig[32 + i]) + u16::from(l_bytes[i]) + carry;
                    sig[32 + i] = v as u8;
                    carry = v >> 8;
                }
            }
            4 => sig[..32].copy_from_slice(&[0u8; 32]),
            _ => sig[32..].copy_from_slice(&[0u8; 32]),
        }
        agree(&public, &msg, &sig)?;
    }

    #[test]
    fn prepared_agrees_on_random_bytes(
        public in any::<[u8; 32]>(),
        msg in vec(any::<u8>(), 0..16),
        sig in vec(any::<u8>(), 62..66),
    ) {
        agree(&public, &msg, &sig)?;
    }
}

/// Every `verify` case of vectors/ed25519.json: small-order and mixed-order
/// keys and R, non-canonical encodings of A and R, S at and above L.
#[test]
fn prepared_agrees_on_ed25519_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/ed25519.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let hex = |v: &serde_json::Value| {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(v.as_str().unwrap().as_bytes())
            .unwrap()
    };
    let mut checked = 0;
    let mut prepared = 0;
    for c in doc["cases"].as_array().unwrap() {
        if c["type"] != "verify" {
            continue;
        }
        let (public, msg, sig) = (
            hex(&c["public_key"]),
            hex(&c["message"]),
            hex(&c["signature"]),
        );
        agree(&public, &msg, &sig).unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
        if let Ok(p) = PreparedKey::new(&public) {
            // And the verdict is Go's ed25519consensus verdict, with and
            // without the key's table of multiples.
            let want = c["ed25519consensus_verify"].as_bool().unwrap();
            assert_eq!(p.verify_zip215(&msg, &sig).is_ok(), want, "{}", c["name"]);
            assert!(p.build_table());
            assert_eq!(p.verify_zip215(&msg, &sig).is_ok(), want, "{}", c["name"]);
            prepared += 1;
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} verify cases");
    assert!(prepared >= 20, "only {prepared} cases with a usable key");
}

/// `TrustedKeys` gives `node_key_authorized`'s verdicts, single and batched,
/// with good, wrong-key and damaged signatures and an untrusted signer.
#[test]
fn trusted_keys_agree_with_node_key_authorized() {
    let a = NlPrivate::from_seed(&[1; 32]);
    let b = NlPrivate::from_seed(&[2; 32]);
    let outsider = NlPrivate::from_seed(&[3; 32]);
    let rot = NlPrivate::from_seed(&[4; 32]);
    let mut keys = vec![a.to_key(1), b.to_key(2)];
    // Keys that cannot verify: small-order, undecodable, wrong length.
    let mut weak = a.to_key(1);
    weak.public = Some(vec![0; 32]);
    let mut undecodable = a.to_key(1);
    let mut bad = [0u8; 32];
    bad[0] = 2;
    undecodable.public = Some(bad.to_vec());
    let mut short = a.to_key(1);
    short.public = Some(vec![9; 31]);
    keys.extend([weak, undecodable, short]);
    let cache = TrustedKeys::new(&keys);
    assert_eq!(cache.keys(), keys.as_slice());

    let mut sigs: Vec<(NodeKey, Vec<u8>)> = Vec::new();
    for i in 0..6u8 {
        let nk = NodeKey([i + 10; 32]);
        let signer = [&a, &b, &outsider][usize::from(i % 3)];
        let direct = NodeKeySignature::sign_direct(signer, &nk, Some(rot.public().0)).unwrap();
        sigs.push((nk, direct.to_cbor()));
        // Signed for another node key.
        sigs.push((NodeKey([0x77; 32]), direct.to_cbor()));
        // A damaged signature.
        let mut damaged = direct.clone();
        if let Some(s) = damaged.signature.as_mut() {
            s[5] ^= 0x40;
        }
        sigs.push((nk, damaged.to_cbor()));
        // A rotation over it, and a credential-based rotation.
        let rotated =
            NodeKeySignature::sign_rotation(&rot, &NodeKey([i + 50; 32]).to_binary(), direct);
        sigs.push((NodeKey([i + 50; 32]), rotated.to_cbor()));
        let cred = NodeKeySignature::sign_credential(signer, rot.public().0).unwrap();
        let via_cred =
            NodeKeySignature::sign_rotation(&rot, &NodeKey([i + 90; 32]).to_binary(), cred);
        sigs.push((NodeKey([i + 90; 32]), via_cred.to_cbor()));
    }
    sigs.push((NodeKey([1; 32]), vec![0xa0]));
    let mut ok = 0;
    for (nk, s) in &sigs {
        let want = node_key_authorized(&keys, nk, s);
        assert_eq!(cache.node_key_authorized(nk, s), want);
        ok += usize::from(want.is_ok());
    }
    assert!(ok >= 8, "too few valid signatures in the sample: {ok}");
    let refs: Vec<(NodeKey, &[u8])> = sigs.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    assert_eq!(
        cache.node_keys_authorized(&refs),
        node_keys_authorized(&keys, &refs)
    );
    // Only valid signatures: the batch succeeds in one go.
    let good: Vec<(NodeKey, &[u8])> = refs
        .iter()
        .copied()
        .filter(|(n, s)| node_key_authorized(&keys, n, s).is_ok())
        .collect();
    let got = cache.node_keys_authorized(&good);
    assert!(got.iter().all(Result::is_ok));
    assert_eq!(got, node_keys_authorized(&keys, &good));
}
