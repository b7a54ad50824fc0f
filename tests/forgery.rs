//! The small-order wrapping-key forgery Go accepts, built with this crate's
//! own primitives, and shown refused by `node_key_authorized`.
//!
//! Go's `tailscale lock sign <nodekey>` without a rotation key stores 32 zero
//! bytes as the Direct signature's `WrappingPubkey`. Those bytes encode a
//! point of order 4, so a rotation "signed" by it can be forged by anyone:
//! pick S, set R = [S]B and retry until the challenge k is 0 mod 4, then
//! [S]B - [k]A = R holds without any private key.

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use tka::sig::{node_key_authorized, NksError, SigKind};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

/// Forges a signature over `msg` that the cofactorless check accepts for the
/// all-zero public key.
fn forge_for_zero_key(msg: &[u8]) -> [u8; 64] {
    let public = [0u8; 32];
    for i in 1u64.. {
        let mut wide = [0u8; 64];
        wide[..8].copy_from_slice(&i.to_le_bytes());
        wide[9] = 0x77;
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        let r = (&s * ED25519_BASEPOINT_TABLE).compress().to_bytes();
        let digest: [u8; 64] = Sha512::new()
            .chain_update(r)
            .chain_update(public)
            .chain_update(msg)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&digest);
        if k.as_bytes()[0] & 3 == 0 {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r);
            sig[32..].copy_from_slice(s.as_bytes());
            return sig;
        }
    }
    unreachable!("the loop only ends by returning")
}

/// What Go's `tailscale lock sign <nodekey>` produces without a rotation
/// key: a Direct signature whose wrapping key is 32 zero bytes. This crate's
/// signing API refuses to make one, so it is built by hand.
fn go_cli_direct(signer: &NlPrivate, node_key: &NodeKey) -> NodeKeySignature {
    let mut s = NodeKeySignature {
        sig_kind: SigKind::DIRECT,
        pubkey: Some(node_key.to_binary().to_vec()),
        key_id: Some(signer.public().0.to_vec()),
        wrapping_pubkey: Some(vec![0; 32]),
        ..Default::default()
    };
    s.signature = Some(signer.sign(&s.sig_hash()).to_vec());
    s
}

#[test]
fn signing_refuses_small_order_wrapping_keys() {
    let k = NlPrivate::from_seed(&[9; 32]);
    let nk = NodeKey([3; 32]);
    assert_eq!(
        NodeKeySignature::sign_direct(&k, &nk, Some([0; 32])),
        Err(NksError::SmallOrderKey)
    );
    // The identity (y = 1) is small-order too.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        NodeKeySignature::sign_credential(&k, identity),
        Err(NksError::SmallOrderKey)
    );
    assert!(NodeKeySignature::sign_direct(&k, &nk, Some(k.public().0)).is_ok());
}

#[test]
fn forged_rotation_over_zero_wrapping_key_is_refused() {
    let trusted = NlPrivate::from_seed(&[7; 32]);
    let victim = NodeKey([1; 32]);
    let attacker_key = NodeKey([2; 32]);

    // What Go's CLI produces: a Direct signature with 32 zero bytes as the
    // wrapping key. It is honest and must stay authorized.
    let direct = go_cli_direct(&trusted, &victim);
    let keys = vec![trusted.to_key(1)];
    assert!(node_key_authorized(&keys, &victim, &direct.to_cbor()).is_ok());

    // The forgery: a rotation for the attacker's node key over it.
    let mut forged = NodeKeySignature {
        sig_kind: SigKind::ROTATION,
        pubkey: Some(attacker_key.to_binary().to_vec()),
        nested: Some(Box::new(direct)),
        ..Default::default()
    };
    let sig = forge_for_zero_key(&forged.sig_hash());
    forged.signature = Some(sig.to_vec());

    // Go's cofactorless check (which this crate reproduces exactly) accepts it...
    assert!(tka::ed25519::verify_cofactorless(&[0; 32], &forged.sig_hash(), &sig).is_ok());
    // ...and the crate's node-key check refuses it.
    let got = node_key_authorized(&keys, &attacker_key, &forged.to_cbor());
    assert_eq!(got.unwrap_err(), NksError::SmallOrderKey);
}

#[test]
fn signing_without_rotation_key_leaves_wrapping_key_absent() {
    let trusted = NlPrivate::from_seed(&[9; 32]);
    let s = NodeKeySignature::sign_direct(&trusted, &NodeKey([3; 32]), None).unwrap();
    assert_eq!(s.wrapping_pubkey, None);
    // Key 6 (WrappingPubkey) is not in the encoding at all.
    let decoded = NodeKeySignature::from_cbor(&s.to_cbor()).unwrap();
    assert_eq!(decoded.wrapping_public(), None);
}

#[test]
fn honest_rotation_still_verifies() {
    let trusted = NlPrivate::from_seed(&[7; 32]);
    let rotation = NlPrivate::from_seed(&[8; 32]);
    let old = NodeKey([1; 32]);
    let new = NodeKey([4; 32]);
    let direct = NodeKeySignature::sign_direct(&trusted, &old, Some(rotation.public().0)).unwrap();
    let rotated = tka::sig::resign(&rotation, &new, &direct.to_cbor()).unwrap();
    let auth = node_key_authorized(&[trusted.to_key(1)], &new, &rotated).unwrap();
    assert_eq!(auth.rotation().unwrap().prev_node_keys, vec![old]);
}
