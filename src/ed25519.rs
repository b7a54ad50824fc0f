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

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha512};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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
/// decoded once, as by [`PreparedKey::new`] (and never given a table: keep a
/// [`PreparedKey`] for a key that checks many signatures).
pub fn verify_zip215_hardened(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    split_inputs(public, sig)?;
    // A one-off key: never worth a table.
    PreparedKey::new(public)?.check(msg, sig, None)
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
/// − R)` the identity.
///
/// How `[S]B − [k]A` is computed changes, never the verdict. Until the key
/// has verified a signature it is one variable-time double-base
/// multiplication with `−A` kept decoded (about 250 point doublings). After
/// its first valid signature the key builds a table of multiples of `−A`
/// (220 KB, at most [`MAX_KEY_TABLES`] alive at once); from then on `[k](−A)`
/// is a sum of about 43 table entries and `[S]B` one of about 32 entries of
/// a table for `B` shared by the process (675 KB, built on first use), with
/// no doublings: about 60 % of a raw `ed25519-zebra` verify in instructions.
/// Both ways compute the same point exactly, so the cofactored equation
/// gets the same input.
pub struct PreparedKey {
    /// The key's bytes as given (hashed into `k`).
    bytes: [u8; PUBLIC_KEY_LENGTH],
    /// The decoded key, negated.
    minus_a: EdwardsPoint,
    /// Multiples of `−A`, built after the key's first valid signature;
    /// shared by clones.
    table: OnceLock<Arc<Multiples>>,
}

impl Clone for PreparedKey {
    fn clone(&self) -> Self {
        PreparedKey {
            bytes: self.bytes,
            minus_a: self.minus_a,
            table: self.table.clone(),
        }
    }
}

/// Two prepared keys are equal when their bytes are: everything else is
/// derived from them.
impl PartialEq for PreparedKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for PreparedKey {}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedKey")
            .field("bytes", &self.bytes)
            .field("has_table", &self.has_table())
            .finish()
    }
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
        Ok(PreparedKey {
            bytes,
            minus_a: -a,
            table: OnceLock::new(),
        })
    }

    /// The key's 32 bytes, as given to [`PreparedKey::new`].
    pub fn public(&self) -> &[u8; PUBLIC_KEY_LENGTH] {
        &self.bytes
    }

    /// Whether this key (or a clone of it) holds its table of multiples,
    /// so that its checks take the fast way (see the type's docs).
    pub fn has_table(&self) -> bool {
        self.table.get().is_some()
    }

    /// Builds this key's table of multiples now, unless it has one or
    /// [`MAX_KEY_TABLES`] tables are alive in the process; returns
    /// [`PreparedKey::has_table`]. The first table built also builds the
    /// process-wide table of the basepoint. [`PreparedKey::verify_zip215`]
    /// calls it after the key's first valid signature, and a batch of
    /// node-key checks that verifies calls it for the keys that signed in
    /// it ([`crate::sig::TrustedKeys`]), so calling it is only needed to pay
    /// the building cost up front.
    pub fn build_table(&self) -> bool {
        if self.table.get().is_none() {
            if let Some(table) = Multiples::new_key_table(&self.minus_a) {
                // Another thread may have been first: its table is kept and
                // this one dropped, which returns its slot.
                let _ = self.table.set(Arc::new(table));
                // Checks with a key table also read the basepoint's: build
                // it now too (once per process), not in the next check.
                base_table();
            }
        }
        self.has_table()
    }

    /// Verifies `sig` over `msg` with the ZIP-215 rules: the same verdict as
    /// [`verify_zip215`] (and [`verify_zip215_hardened`]) on this key's bytes.
    pub fn verify_zip215(&self, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        let table = self.table.get();
        self.check(msg, sig, table.map(|t| &**t))?;
        if table.is_none() {
            self.build_table();
        }
        Ok(())
    }

    /// The ZIP-215 check, with `[S]B − [k]A` from the tables when `minus_a`
    /// (this key's table) is given, else from a double-base multiplication.
    fn check(
        &self,
        msg: &[u8],
        sig: &[u8],
        minus_a: Option<&Multiples>,
    ) -> Result<(), VerifyError> {
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
        let r_prime = match minus_a {
            Some(minus_a) => {
                let mut sum = EdwardsPoint::identity();
                base_table().add_multiple(&mut sum, &s);
                minus_a.add_multiple(&mut sum, &k);
                sum
            }
            None => EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.minus_a, &s),
        };
        if (r - r_prime).mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// The most tables of multiples of trusted keys (220 KB each, see
/// [`PreparedKey`]) alive at once in the process: 7 MB in all. A key that
/// finds no free slot keeps the double-base check (the same verdicts,
/// slower) and tries again after its next valid signature.
pub const MAX_KEY_TABLES: usize = 32;

/// Tables of multiples of trusted keys alive now (at most
/// [`MAX_KEY_TABLES`]).
static KEY_TABLES: AtomicUsize = AtomicUsize::new(0);

/// Window width, in bits, of a trusted key's table.
const KEY_WINDOW: u32 = 6;

/// Window width, in bits, of the basepoint's table (one per process, 675
/// KB).
const BASE_WINDOW: u32 = 8;

/// The basepoint's table of multiples, built on first use.
fn base_table() -> &'static Multiples {
    static BASE: OnceLock<Multiples> = OnceLock::new();
    BASE.get_or_init(|| Multiples::build(&ED25519_BASEPOINT_POINT, BASE_WINDOW, false))
}

/// A fixed-base table for variable-time multiplication: for each window
/// position `j` (of `w` bits) and each digit `d` in `1..=2^(w-1)`, the point
/// `[d·2^(w·j)]P`. A scalar written in signed base-`2^w` digits then gives
/// `[scalar]P` as one table entry added or subtracted per non-zero digit,
/// with no doublings. There are enough positions for any 32-byte scalar
/// (not only reduced ones).
///
/// curve25519-dalek's own basepoint tables are constant-time (every entry
/// of a window is read for each digit); checking a signature handles only
/// public data, so this one indexes directly, which is what makes it pay.
struct Multiples {
    /// Window width in bits.
    w: u32,
    /// Entries, position-major: entry `(j, d)` is at `j·2^(w-1) + d − 1`.
    points: Box<[EdwardsPoint]>,
    /// Whether this table holds one of the [`MAX_KEY_TABLES`] slots.
    counted: bool,
}

impl Multiples {
    /// Digit positions for any 32-byte scalar: enough that the top digit
    /// never carries (`positions·w ≥ 257`), whatever the scalar's value.
    fn positions(w: u32) -> usize {
        257usize.div_ceil(w as usize)
    }

    /// A table for a trusted key, if a slot is free.
    fn new_key_table(p: &EdwardsPoint) -> Option<Multiples> {
        KEY_TABLES
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_KEY_TABLES).then_some(n + 1)
            })
            .ok()?;
        Some(Multiples::build(p, KEY_WINDOW, true))
    }

    fn build(p: &EdwardsPoint, w: u32, counted: bool) -> Multiples {
        let half = 1usize << (w - 1);
        let positions = Multiples::positions(w);
        let mut points = Vec::with_capacity(positions * half);
        let mut base = *p;
        for _ in 0..positions {
            let mut multiple = base;
            for _ in 0..half {
                points.push(multiple);
                multiple += base;
            }
            for _ in 0..w {
                base += base;
            }
        }
        Multiples {
            w,
            points: points.into_boxed_slice(),
            counted,
        }
    }

    /// Adds `[scalar]P` to `sum`.
    fn add_multiple(&self, sum: &mut EdwardsPoint, scalar: &Scalar) {
        let bytes = scalar.as_bytes();
        let w = self.w as usize;
        let half = 1i32 << (w - 1);
        let mut carry = 0i32;
        for j in 0..Multiples::positions(self.w) {
            // The w bits at j·w (bits past 255 read as zero).
            let bit = j * w;
            let mut window = 0u32;
            for (t, byte) in bytes.iter().enumerate().skip(bit / 8).take(3) {
                window |= u32::from(*byte) << (8 * (t - bit / 8));
            }
            let value = ((window >> (bit % 8)) & ((1 << w) - 1)) as i32 + carry;
            // Signed digit in -half..=half.
            let digit = if value > half {
                carry = 1;
                value - (1 << w)
            } else {
                carry = 0;
                value
            };
            let row = j << (w - 1);
            match digit.cmp(&0) {
                std::cmp::Ordering::Greater => {
                    *sum += &self.points[row + digit as usize - 1];
                }
                std::cmp::Ordering::Less => {
                    *sum -= &self.points[row + (-digit) as usize - 1];
                }
                std::cmp::Ordering::Equal => {}
            }
        }
        // The last window holds at most bit 255 and a carry: no carry left.
        debug_assert_eq!(carry, 0);
    }
}

impl Drop for Multiples {
    fn drop(&mut self) {
        if self.counted {
            KEY_TABLES.fetch_sub(1, Ordering::AcqRel);
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

    /// Encodings of small-order points, canonical and not, that both Go's
    /// and curve25519-dalek's decoders accept.
    const SMALL_ORDER_ENCODINGS: [&str; 6] = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];

    fn scalar_from(seed: u64, tag: u8) -> Scalar {
        let mut wide = [0u8; 64];
        wide[..8].copy_from_slice(&seed.to_le_bytes());
        wide[8] = tag;
        wide[9..17].copy_from_slice(&seed.rotate_left(17).to_le_bytes());
        Scalar::from_bytes_mod_order_wide(&wide)
    }

    /// `ed25519-zebra`'s verdict (the ZIP-215 reference).
    fn zebra_ok(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        ed25519_zebra::VerificationKey::try_from(*public)
            .and_then(|vk| vk.verify(&ed25519_zebra::Signature::from_bytes(sig), msg))
            .is_ok()
    }

    /// A signature under the key with secret scalar `a` and public encoding
    /// `a_bytes` (whose point is `[a]B` plus any torsion), with `R` encoded
    /// as `r_bytes` when given (a small-order point; then the nonce is 0)
    /// or else `[r]B + torsion`.
    fn sign_raw(
        a: &Scalar,
        a_bytes: &[u8; 32],
        r: &Scalar,
        r_torsion: &EdwardsPoint,
        r_bytes: Option<[u8; 32]>,
        msg: &[u8],
    ) -> [u8; 64] {
        let (r, r_bytes) = match r_bytes {
            Some(b) => (Scalar::ZERO, b),
            None => (*r, (r * ED25519_BASEPOINT_TABLE + r_torsion).compress().0),
        };
        crate::fuzzing::schnorr_signature(a, a_bytes, &r, &r_bytes, msg)
    }

    proptest::proptest! {
        /// The table sums are exact multiples, for any reduced scalar.
        #[test]
        fn table_sums_are_exact_multiples(seed in proptest::num::u64::ANY, edge in 0usize..6) {
            let s = match edge {
                0 => Scalar::ZERO,
                1 => Scalar::ONE,
                2 => -Scalar::ONE,
                3 => Scalar::from_bytes_mod_order([0xff; 32]),
                _ => scalar_from(seed, 1),
            };
            let p = &scalar_from(seed, 2) * ED25519_BASEPOINT_TABLE
                + curve25519_dalek::constants::EIGHT_TORSION[(seed % 8) as usize];
            let mut sum = EdwardsPoint::identity();
            base_table().add_multiple(&mut sum, &s);
            proptest::prop_assert_eq!(sum, &s * ED25519_BASEPOINT_TABLE);
            for w in [KEY_WINDOW, 5] {
                let table = Multiples::build(&p, w, false);
                let mut sum = EdwardsPoint::identity();
                table.add_multiple(&mut sum, &s);
                proptest::prop_assert_eq!(sum, p * s);
            }
        }

        /// The table path, the double-base path and ed25519-zebra give the
        /// same verdict on valid signatures, signatures valid only under the
        /// cofactored rule (torsion in `A` or `R`, small-order `R` with
        /// non-canonical encodings) and tampered ones.
        #[test]
        fn table_verdicts_match_zebra(
            seed in proptest::num::u64::ANY,
            a_torsion in 0usize..8,
            r_torsion in 0usize..8,
            small_r in proptest::option::of(0usize..SMALL_ORDER_ENCODINGS.len()),
            tamper in 0usize..8,
            bit in 0usize..512,
            msg in proptest::collection::vec(proptest::num::u8::ANY, 0..48),
        ) {
            let torsion = curve25519_dalek::constants::EIGHT_TORSION;
            let a = scalar_from(seed, 3);
            let a_bytes = (&a * ED25519_BASEPOINT_TABLE + torsion[a_torsion]).compress().0;
            let r_bytes = small_r.map(|i| {
                <[u8; 32]>::try_from(
                    data_encoding::HEXLOWER.decode(SMALL_ORDER_ENCODINGS[i].as_bytes()).unwrap(),
                )
                .unwrap()
            });
            let mut sig = sign_raw(&a, &a_bytes, &scalar_from(seed, 4), &torsion[r_torsion], r_bytes, &msg);
            let mut msg = msg;
            let mut key = a_bytes;
            match tamper {
                0 | 1 => {}
                2 => msg.push(bit as u8),
                3 => sig[bit / 8] ^= 1 << (bit % 8),
                4 => {
                    // S + L: non-canonical S.
                    let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
                    let mut carry = 0u16;
                    for i in 0..32 {
                        let v = u16::from(s.as_bytes()[i]) + u16::from(GROUP_ORDER_LE[i]) + carry;
                        sig[32 + i] = v as u8;
                        carry = v >> 8;
                    }
                }
                5 => sig[..32].copy_from_slice(&scalar_from(seed, 5).as_bytes()[..]),
                6 => key = (&scalar_from(seed, 6) * ED25519_BASEPOINT_TABLE).compress().0,
                _ => sig[bit % 32] ^= 1 << (bit % 8),
            }
            let zebra = zebra_ok(&key, &msg, &sig);
            if tamper < 2 {
                proptest::prop_assert!(zebra, "an untampered signature must verify");
            }
            let prepared = PreparedKey::new(&key).unwrap();
            let table = Multiples::build(&prepared.minus_a, KEY_WINDOW, false);
            let slow = prepared.check(&msg, &sig, None).is_ok();
            let fast = prepared.check(&msg, &sig, Some(&table)).is_ok();
            proptest::prop_assert_eq!(slow, zebra);
            proptest::prop_assert_eq!(fast, zebra);
            proptest::prop_assert_eq!(verify_zip215(&key, &msg, &sig).is_ok(), zebra);
        }
    }

    #[test]
    fn table_is_built_after_first_valid_signature_and_kept_by_clones() {
        let a = scalar_from(99, 7);
        let public = (&a * ED25519_BASEPOINT_TABLE).compress().0;
        let sig = sign_raw(
            &a,
            &public,
            &scalar_from(99, 8),
            &EdwardsPoint::identity(),
            None,
            b"m",
        );
        let key = PreparedKey::new(&public).unwrap();
        assert!(!key.has_table());
        assert_eq!(
            key.verify_zip215(b"n", &sig),
            Err(VerifyError::BadSignature)
        );
        assert!(!key.has_table(), "a bad signature builds nothing");
        assert_eq!(key.verify_zip215(b"m", &sig), Ok(()));
        assert!(key.has_table());
        let clone = key.clone();
        assert!(clone.has_table());
        assert_eq!(clone, key);
        assert_eq!(clone.verify_zip215(b"m", &sig), Ok(()));
        assert_eq!(
            clone.verify_zip215(b"n", &sig),
            Err(VerifyError::BadSignature)
        );
        assert!(format!("{key:?}").contains("has_table: true"));
    }

    #[test]
    fn at_most_max_key_tables_are_alive() {
        let keys: Vec<(PreparedKey, [u8; 64])> = (0..MAX_KEY_TABLES as u64 + 6)
            .map(|i| {
                let a = scalar_from(1000 + i, 9);
                let public = (&a * ED25519_BASEPOINT_TABLE).compress().0;
                let sig = sign_raw(
                    &a,
                    &public,
                    &scalar_from(i, 10),
                    &EdwardsPoint::identity(),
                    None,
                    b"m",
                );
                (PreparedKey::new(&public).unwrap(), sig)
            })
            .collect();
        for (key, sig) in &keys {
            // Verdicts do not depend on whether a table was free.
            assert_eq!(key.verify_zip215(b"m", sig), Ok(()));
            assert_eq!(key.verify_zip215(b"x", sig), Err(VerifyError::BadSignature));
        }
        let with_table = keys.iter().filter(|(k, _)| k.has_table()).count();
        assert!(with_table <= MAX_KEY_TABLES, "{with_table} tables");
        assert!(keys.iter().any(|(k, _)| !k.has_table()));
        // Dropping keys returns their slots.
        drop(keys);
        let a = scalar_from(5, 11);
        let public = (&a * ED25519_BASEPOINT_TABLE).compress().0;
        let key = PreparedKey::new(&public).unwrap();
        assert!(key.build_table());
    }

    #[test]
    fn error_display() {
        assert!(VerifyError::PublicKeyLength(3).to_string().contains('3'));
        assert!(VerifyError::SignatureLength(7).to_string().contains('7'));
        let e: Box<dyn std::error::Error> = Box::new(VerifyError::SmallOrderKey);
        assert!(!e.to_string().is_empty());
    }
}
