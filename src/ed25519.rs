//! Ed25519 verification with the two rule sets Go uses, plus signing.
//!
//! Go's `tailscale.com/tka` verifies Ed25519 signatures in two different ways:
//!
//! * AUM signatures and Direct / Credential node-key signatures use
//!   `github.com/hdevalence/ed25519consensus`, i.e. the ZIP-215 rules:
//!   [`verify_zip215`].
//! * The outer signature of a Rotation node-key signature uses the standard
//!   library's `crypto/ed25519.Verify` (cofactorless, with the recomputed `R`
//!   compared byte for byte with the signature's `R`): [`verify_cofactorless`].
//!
//! Both accept public keys that are small-order points, for which anyone can
//! forge signatures without a private key. AUM verification must accept
//! exactly what Go accepts (or Rust and Go nodes would follow different
//! chains), so [`verify_zip215`] and [`verify_cofactorless`] keep Go's
//! behaviour. Node-key signature verification in this crate is deliberately
//! stricter and uses [`verify_zip215_hardened`] and
//! [`verify_cofactorless_hardened`], which refuse small-order keys first
//! (see [`is_small_order`]). This only ever differs from Go on forged input:
//! nobody holds a private key for a small-order point.
//!
//! A key that verifies many signatures (a trusted tailnet-lock key checking
//! one node-key signature per peer) can be decoded once into a
//! [`PreparedKey`], whose [`PreparedKey::verify_zip215`] gives the verdicts of
//! [`verify_zip215_hardened`] without decoding the key again.
//!
//! Every function here takes byte slices of any length and reports wrong
//! lengths as a [`VerifyError`]; none of them panics.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha512};
use std::fmt;

/// Length in bytes of an Ed25519 public key.
pub const PUBLIC_KEY_LENGTH: usize = 32;

/// Length in bytes of an Ed25519 signature (`R` followed by `S`).
pub const SIGNATURE_LENGTH: usize = 64;

/// Length in bytes of an Ed25519 seed (an RFC 8032 private key).
pub const SEED_LENGTH: usize = 32;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The public key was not 32 bytes long; the value is the length given.
    PublicKeyLength(usize),
    /// The signature was not 64 bytes long; the value is the length given.
    SignatureLength(usize),
    /// The public key's 32 bytes do not encode a curve point.
    InvalidPublicKey,
    /// The public key is a point of small order (its order divides 8). Only
    /// the hardened verifiers return this.
    SmallOrderKey,
    /// The signature did not verify: `S` was not below the group order `L`,
    /// `R` was malformed, or the verification equation did not hold.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::PublicKeyLength(n) => {
                write!(f, "ed25519: bad public key length {n} (want 32)")
            }
            VerifyError::SignatureLength(n) => {
                write!(f, "ed25519: bad signature length {n} (want 64)")
            }
            VerifyError::InvalidPublicKey => f.write_str("ed25519: invalid public key"),
            VerifyError::SmallOrderKey => f.write_str("ed25519: public key has small order"),
            VerifyError::BadSignature => f.write_str("ed25519: invalid signature"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The group order `L = 2^252 + 27742317777372353535851937790883648493`,
/// little-endian.
const GROUP_ORDER_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Whether the little-endian integer `s` is below the group order `L`.
fn scalar_is_canonical(s: &[u8; 32]) -> bool {
    for (a, l) in s.iter().zip(GROUP_ORDER_LE.iter()).rev() {
        if a != l {
            return a < l;
        }
    }
    false
}

/// Checks lengths and converts to fixed-size arrays.
fn split_inputs(public: &[u8], sig: &[u8]) -> Result<([u8; 32], [u8; 64]), VerifyError> {
    let a: [u8; 32] = public
        .try_into()
        .map_err(|_| VerifyError::PublicKeyLength(public.len()))?;
    let s: [u8; 64] = sig
        .try_into()
        .map_err(|_| VerifyError::SignatureLength(sig.len()))?;
    Ok((a, s))
}

/// Verifies `sig` over `msg` under `public` with the ZIP-215 rules, exactly as
/// Go's `ed25519consensus.Verify` does.
///
/// The rules: `A` and `R` are decoded accepting non-canonical encodings
/// (`y ≥ p`, and `x = 0` with the sign bit set); `S` must be below the group
/// order `L`; `k = SHA-512(R_bytes ‖ A_bytes ‖ msg) mod L` over the bytes as
/// given; the signature is valid iff `[8]([S]B − [k]A − R)` is the identity.
/// Small-order public keys are accepted (use [`verify_zip215_hardened`] to
/// refuse them).
///
/// Used for AUM signatures and for Direct and Credential node-key signatures.
/// The check is done by the `ed25519-zebra` crate, which implements the same
/// rules.
pub fn verify_zip215(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    let (a, s) = split_inputs(public, sig)?;
    let vk =
        ed25519_zebra::VerificationKey::try_from(a).map_err(|_| VerifyError::InvalidPublicKey)?;
    let signature = ed25519_zebra::Signature::from_bytes(&s);
    vk.verify(&signature, msg)
        .map_err(|_| VerifyError::BadSignature)
}

/// One signature for [`verify_zip215_batch`].
#[derive(Clone, Copy, Debug)]
pub struct BatchItem<'a> {
    /// The public key (32 bytes).
    pub public: &'a [u8],
    /// The signed message.
    pub msg: &'a [u8],
    /// The signature (64 bytes).
    pub sig: &'a [u8],
}

/// Checks many ZIP-215 signatures at once; `true` iff every one is valid
/// under [`verify_zip215`].
///
/// ZIP-215 defines single and batch verification by the same cofactored
/// equation, so the batch accepts exactly what the single checks accept; a
/// `false` says only that at least one failed (check them singly to name
/// it). The batch's random coefficients are derived from a hash of every
/// item (no RNG is used), so a forger cannot predict them without fixing
/// the whole batch first.
pub fn verify_zip215_batch(items: &[BatchItem<'_>]) -> bool {
    use rand_core::SeedableRng;
    let mut seed = blake2::Blake2s256::default();
    let mut verifier = ed25519_zebra::batch::Verifier::new();
    for item in items {
        let Ok((a, s)) = split_inputs(item.public, item.sig) else {
            return false;
        };
        for part in [item.public, item.sig, item.msg] {
            blake2::Digest::update(&mut seed, (part.len() as u64).to_le_bytes());
            blake2::Digest::update(&mut seed, part);
        }
        let vk = ed25519_zebra::VerificationKeyBytes::from(a);
        verifier.queue((vk, ed25519_zebra::Signature::from_bytes(&s), item.msg));
    }
    let seed: [u8; 32] = blake2::Digest::finalize(seed).into();
    verifier
        .verify(rand_chacha::ChaCha20Rng::from_seed(seed))
        .is_ok()
}

/// Verifies `sig` over `msg` under `public` exactly as Go's standard library
/// `crypto/ed25519.Verify` does (cofactorless).
///
/// The rules: `A` is decoded accepting non-canonical encodings (as Go's
/// `edwards25519.Point.SetBytes` does), and an undecodable `A` is an error;
/// `S` must be below the group order `L`; `k = SHA-512(R_bytes ‖ A_bytes ‖
/// msg) mod L` over the bytes as given; `R' = [S]B − [k]A` is encoded
/// canonically and must equal `sig[..32]` byte for byte (so `R` itself is
/// never decoded, and a non-canonical or off-curve `R` never verifies).
/// Small-order public keys are accepted (use [`verify_cofactorless_hardened`]
/// to refuse them). Where Go panics on a public key of the wrong length, this
/// returns [`VerifyError::PublicKeyLength`].
///
/// Used for the outer signature of Rotation node-key signatures. The check is
/// `ed25519-dalek`'s non-strict `verify`, which follows the same steps; in
/// addition `S < L` is checked here first, so that the result does not depend
/// on whether some other crate in the build enables `ed25519-dalek`'s
/// `legacy_compatibility` feature (which would accept any `S < 2^253`).
pub fn verify_cofactorless(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    let (a, s) = split_inputs(public, sig)?;
    let vk =
        ed25519_dalek::VerifyingKey::from_bytes(&a).map_err(|_| VerifyError::InvalidPublicKey)?;
    cofactorless_with(&vk, msg, &s)
}

/// [`verify_cofactorless`] with the key already decoded.
fn cofactorless_with(
    vk: &ed25519_dalek::VerifyingKey,
    msg: &[u8],
    s: &[u8; 64],
) -> Result<(), VerifyError> {
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&s[32..]);
    if !scalar_is_canonical(&s_bytes) {
        return Err(VerifyError::BadSignature);
    }
    let signature = ed25519_dalek::Signature::from_bytes(s);
    // The plain (non-strict) `verify`: cofactorless, `R` compared as bytes,
    // small-order `A` accepted. Never `verify_strict`.
    ed25519_dalek::Verifier::verify(vk, msg, &signature).map_err(|_| VerifyError::BadSignature)
}

/// Whether the 32 bytes decode to a point of small order (an order dividing
/// 8: the identity and the seven other torsion points).
///
/// Decoding is as lenient as Go's `edwards25519.Point.SetBytes`: non-canonical
/// encodings (`y ≥ p`, and `x = 0` with the sign bit set) are accepted, so for
/// example 32 zero bytes (y = 0, a point of order 4) and `y = p + 1` (the
/// identity) are small-order. Returns `false` for input that is not 32 bytes
/// long or does not decode to a point at all.
pub fn is_small_order(public: &[u8]) -> bool {
    let Ok(a) = <[u8; 32]>::try_from(public) else {
        return false;
    };
    match ed25519_dalek::VerifyingKey::from_bytes(&a) {
        Ok(vk) => vk.is_weak(),
        Err(_) => false,
    }
}

/// [`verify_zip215`], but a small-order public key is refused with
/// [`VerifyError::SmallOrderKey`] before anything else is checked (after the
/// length checks and decoding the key).
///
/// This crate uses it for Direct and Credential node-key signatures. It is
/// stricter than Go only for keys nobody holds a private key for. The key is
/// decoded once, as by [`PreparedKey::new`].
pub fn verify_zip215_hardened(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    split_inputs(public, sig)?;
    PreparedKey::new(public)?.verify_zip215(msg, sig)
}

/// [`verify_cofactorless`], but a small-order public key is refused with
/// [`VerifyError::SmallOrderKey`] before anything else is checked (after the
/// length checks and decoding the key).
///
/// This crate uses it for the outer signature of Rotation node-key
/// signatures, where Go accepts forgeries under small-order wrapping keys
/// (for example the 32 zero bytes `tailscale lock sign` stores).
pub fn verify_cofactorless_hardened(
    public: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    let (a, s) = split_inputs(public, sig)?;
    let vk =
        ed25519_dalek::VerifyingKey::from_bytes(&a).map_err(|_| VerifyError::InvalidPublicKey)?;
    if vk.is_weak() {
        return Err(VerifyError::SmallOrderKey);
    }
    cofactorless_with(&vk, msg, &s)
}

/// A public key decoded once for many ZIP-215 checks: the hardened rules of
/// [`verify_zip215_hardened`] with the key's decoding and small-order check
/// done up front.
///
/// The check is the one `ed25519-zebra` (and Go's `ed25519consensus`) makes:
/// `k = SHA-512(R_bytes ‖ A_bytes ‖ msg) mod L` over the bytes as given, `R`
/// decoded accepting non-canonical encodings, `S < L`, and `[8]([S]B − [k]A
/// − R)` the identity; the sum is one variable-time double-base
/// multiplication with `−A` kept decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedKey {
    /// The key's bytes as given (hashed into `k`).
    bytes: [u8; PUBLIC_KEY_LENGTH],
    /// The decoded key, negated.
    minus_a: EdwardsPoint,
}

impl PreparedKey {
    /// Decodes `public` (non-canonical encodings accepted, as Go's decoders
    /// do) and refuses it if it is not 32 bytes
    /// ([`VerifyError::PublicKeyLength`]), not a curve point
    /// ([`VerifyError::InvalidPublicKey`]) or a point of small order
    /// ([`VerifyError::SmallOrderKey`]).
    pub fn new(public: &[u8]) -> Result<Self, VerifyError> {
        let bytes: [u8; PUBLIC_KEY_LENGTH] = public
            .try_into()
            .map_err(|_| VerifyError::PublicKeyLength(public.len()))?;
        let a = CompressedEdwardsY(bytes)
            .decompress()
            .ok_or(VerifyError::InvalidPublicKey)?;
        if a.is_small_order() {
            return Err(VerifyError::SmallOrderKey);
        }
        Ok(PreparedKey { bytes, minus_a: -a })
    }

    /// The key's 32 bytes, as given to [`PreparedKey::new`].
    pub fn public(&self) -> &[u8; PUBLIC_KEY_LENGTH] {
        &self.bytes
    }

    /// Verifies `sig` over `msg` with the ZIP-215 rules: the same verdict as
    /// [`verify_zip215`] (and [`verify_zip215_hardened`]) on this key's bytes.
    pub fn verify_zip215(&self, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        let sig: &[u8; SIGNATURE_LENGTH] = sig
            .try_into()
            .map_err(|_| VerifyError::SignatureLength(sig.len()))?;
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&sig[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&sig[32..]);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
            .ok_or(VerifyError::BadSignature)?;
        let r = CompressedEdwardsY(r_bytes)
            .decompress()
            .ok_or(VerifyError::BadSignature)?;
        let digest: [u8; 64] = Sha512::new()
            .chain_update(r_bytes)
            .chain_update(self.bytes)
            .chain_update(msg)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&digest);
        // [S]B − [k]A; the signature holds iff [8](R − ([S]B − [k]A)) = 0.
        let r_prime = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.minus_a, &s);
        if (r - r_prime).mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// Signs `msg` with the Ed25519 key whose RFC 8032 seed is `seed`
/// (deterministic, as Go's `ed25519.Sign` with `NewKeyFromSeed(seed)`).
pub fn sign(seed: &[u8; SEED_LENGTH], msg: &[u8]) -> [u8; SIGNATURE_LENGTH] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .sign(msg)
        .to_bytes()
}

/// The public key for the RFC 8032 seed `seed` (Go's
/// `ed25519.NewKeyFromSeed(seed).Public()`).
pub fn public_from_seed(seed: &[u8; SEED_LENGTH]) -> [u8; PUBLIC_KEY_LENGTH] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};

    const SEED: [u8; 32] = [7u8; 32];

    #[test]
    fn sign_and_verify_roundtrip() {
        let public = public_from_seed(&SEED);
        let sig = sign(&SEED, b"hello");
        assert_eq!(verify_zip215(&public, b"hello", &sig), Ok(()));
        assert_eq!(verify_cofactorless(&public, b"hello", &sig), Ok(()));
        assert_eq!(verify_zip215_hardened(&public, b"hello", &sig), Ok(()));
        assert_eq!(
            verify_cofactorless_hardened(&public, b"hello", &sig),
            Ok(())
        );
        assert_eq!(
            verify_zip215(&public, b"hellO", &sig),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_cofactorless(&public, b"hellO", &sig),
            Err(VerifyError::BadSignature)
        );
        assert!(!is_small_order(&public));
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032 section 7.1, TEST 1 (empty message).
        let seed: [u8; 32] = data_encoding::HEXLOWER
            .decode(b"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
        let want_pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let want_sig = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
                        5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
        assert_eq!(
            data_encoding::HEXLOWER.encode(&public_from_seed(&seed)),
            want_pub
        );
        assert_eq!(data_encoding::HEXLOWER.encode(&sign(&seed, b"")), want_sig);
    }

    #[test]
    fn wrong_lengths_never_panic() {
        let public = public_from_seed(&SEED);
        let sig = sign(&SEED, b"m");
        for n in [0usize, 1, 31, 33, 64] {
            let p = vec![0u8; n];
            let want = Err(VerifyError::PublicKeyLength(n));
            assert_eq!(verify_zip215(&p, b"m", &sig), want);
            assert_eq!(verify_cofactorless(&p, b"m", &sig), want);
            assert_eq!(verify_zip215_hardened(&p, b"m", &sig), want);
            assert_eq!(verify_cofactorless_hardened(&p, b"m", &sig), want);
            assert!(!is_small_order(&p));
        }
        for n in [0usize, 1, 32, 63, 65, 128] {
            let s = vec![0u8; n];
            let want = Err(VerifyError::SignatureLength(n));
            assert_eq!(verify_zip215(&public, b"m", &s), want);
            assert_eq!(verify_cofactorless(&public, b"m", &s), want);
            assert_eq!(verify_zip215_hardened(&public, b"m", &s), want);
            assert_eq!(verify_cofactorless_hardened(&public, b"m", &s), want);
            // A small-order key with a bad signature length is a length error.
            assert_eq!(verify_cofactorless_hardened(&[0u8; 32], b"m", &s), want);
        }
    }

    #[test]
    fn undecodable_public_key() {
        // y = 2 is not the y-coordinate of any curve point.
        let mut p = [0u8; 32];
        p[0] = 2;
        let sig = sign(&SEED, b"m");
        assert_eq!(
            verify_zip215(&p, b"m", &sig),
            Err(VerifyError::InvalidPublicKey)
        );
        assert_eq!(
            verify_cofactorless(&p, b"m", &sig),
            Err(VerifyError::InvalidPublicKey)
        );
        assert!(!is_small_order(&p));
    }

    #[test]
    fn scalar_canonical_boundary() {
        assert!(scalar_is_canonical(&[0u8; 32]));
        let mut l_minus_1 = GROUP_ORDER_LE;
        l_minus_1[0] -= 1;
        assert!(scalar_is_canonical(&l_minus_1));
        assert!(!scalar_is_canonical(&GROUP_ORDER_LE));
        let mut l_plus_1 = GROUP_ORDER_LE;
        l_plus_1[0] += 1;
        assert!(!scalar_is_canonical(&l_plus_1));
        assert!(!scalar_is_canonical(&[0xff; 32]));
        // Agrees with curve25519-dalek's own check.
        for s in [[0u8; 32], l_minus_1, GROUP_ORDER_LE, l_plus_1, [0xff; 32]] {
            let want = bool::from(Scalar::from_canonical_bytes(s).is_some());
            assert_eq!(scalar_is_canonical(&s), want);
        }
    }

    #[test]
    fn small_order_points() {
        // All eight small-order points, canonical encodings.
        let canonical = [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000080",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        ];
        // Non-canonical encodings that Go's decoder also accepts.
        let non_canonical = [
            // identity with the sign bit set
            "0100000000000000000000000000000000000000000000000000000000000080",
            // y = p (that is, y = 0)
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            // y = p + 1 (the identity)
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            // y = p + 1 with the sign bit set
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ];
        for h in canonical.iter().chain(non_canonical.iter()) {
            let p = data_encoding::HEXLOWER.decode(h.as_bytes()).unwrap();
            assert!(is_small_order(&p), "{h}");
        }
        // A mixed-order point (a regular key plus a torsion point) is not
        // small-order.
        let regular = curve25519_dalek::edwards::CompressedEdwardsY(public_from_seed(&SEED))
            .decompress()
            .unwrap();
        let t = curve25519_dalek::edwards::CompressedEdwardsY([0u8; 32])
            .decompress()
            .unwrap();
        assert!(!is_small_order(&(regular + t).compress().to_bytes()));
    }

    /// Builds a signature that the plain cofactorless check accepts for the
    /// all-zero public key (a point of order 4) without any private key:
    /// pick `S`, set `R = [S]B`, and retry until `k ≡ 0 (mod 4)`, so that
    /// `[S]B − [k]A = R`.
    fn forge_for_zero_key(msg: &[u8]) -> [u8; 64] {
        let public = [0u8; 32];
        let mut i = 0u64;
        loop {
            i += 1;
            let mut wide = [0u8; 64];
            wide[..8].copy_from_slice(&i.to_le_bytes());
            wide[8] = 0x5a;
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
    }

    #[test]
    fn small_order_forgery_is_refused_by_hardened_checks() {
        let public = [0u8; 32];
        let msg = b"rotate to an attacker's node key";
        let sig = forge_for_zero_key(msg);
        // Go's rules accept the forgery.
        assert_eq!(verify_cofactorless(&public, msg, &sig), Ok(()));
        assert_eq!(verify_zip215(&public, msg, &sig), Ok(()));
        // The hardened checks refuse it.
        assert_eq!(
            verify_cofactorless_hardened(&public, msg, &sig),
            Err(VerifyError::SmallOrderKey)
        );
        assert_eq!(
            verify_zip215_hardened(&public, msg, &sig),
            Err(VerifyError::SmallOrderKey)
        );
    }

    #[test]
    fn non_canonical_s_is_refused() {
        // S + L verifies under neither rule set, as in Go.
        let public = public_from_seed(&SEED);
        let mut sig = sign(&SEED, b"m");
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(sig[32 + i]) + u16::from(GROUP_ORDER_LE[i]) + carry;
            sig[32 + i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        assert_eq!(
            verify_cofactorless(&public, b"m", &sig),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_zip215(&public, b"m", &sig),
            Err(VerifyError::BadSignature)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(
            public in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            msg in proptest::collection::vec(proptest::num::u8::ANY, 0..16),
            sig in proptest::collection::vec(proptest::num::u8::ANY, 0..72),
        ) {
            let plain = verify_cofactorless(&public, &msg, &sig);
            let zip = verify_zip215(&public, &msg, &sig);
            let hardened = verify_cofactorless_hardened(&public, &msg, &sig);
            let zip_hardened = verify_zip215_hardened(&public, &msg, &sig);
            let small = is_small_order(&public);
            // Random bytes are (overwhelmingly) not valid signatures.
            proptest::prop_assert!(plain.is_err() || small);
            proptest::prop_assert!(zip.is_err() || small);
            if public.len() == 32 && sig.len() == 64 && small {
                proptest::prop_assert_eq!(hardened, Err(VerifyError::SmallOrderKey));
                proptest::prop_assert_eq!(zip_hardened, Err(VerifyError::SmallOrderKey));
            } else {
                proptest::prop_assert_eq!(hardened, plain);
                proptest::prop_assert_eq!(zip_hardened, zip);
            }
        }
    }

    #[test]
    fn error_display() {
        assert!(VerifyError::PublicKeyLength(3).to_string().contains('3'));
        assert!(VerifyError::SignatureLength(7).to_string().contains('7'));
        let e: Box<dyn std::error::Error> = Box::new(VerifyError::SmallOrderKey);
        assert!(!e.to_string().is_empty());
    }
}
