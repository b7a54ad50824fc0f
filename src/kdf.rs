//! The disablement key-derivation function.
//!
//! Tailnet Lock can be switched off by anyone who knows one of the
//! *disablement secrets* chosen when it was enabled. The authority state
//! stores only `DisablementKDF(secret)` for each of them. Go computes that
//! with `golang.org/x/crypto/argon2.Key`, which is **Argon2i** (not Argon2id),
//! version 0x13, with the parameters below.

use std::fmt;
use subtle::ConstantTimeEq;

/// The Argon2 salt Go uses for disablement values.
pub const DISABLEMENT_SALT: &[u8] = b"tailscale network-lock disablement salt";

/// Argon2 time cost (number of passes).
pub const KDF_TIME_COST: u32 = 4;

/// Argon2 memory cost in KiB (16 MiB).
pub const KDF_MEMORY_KIB: u32 = 16 * 1024;

/// Argon2 parallelism (number of lanes).
pub const KDF_LANES: u32 = 4;

/// Length in bytes of a disablement value.
pub const KDF_OUTPUT_LEN: usize = 32;

/// Why a disablement value could not be derived.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfError {
    /// The secret is longer than Argon2 allows (2^32 − 1 bytes); the value is
    /// its length.
    SecretTooLong(usize),
    /// The Argon2 implementation refused the computation for another reason;
    /// the text is its message. The parameters are fixed and valid, so this
    /// is not expected to happen.
    Argon2(String),
}

impl fmt::Display for KdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KdfError::SecretTooLong(n) => {
                write!(f, "disablement secret too long for Argon2 ({n} bytes)")
            }
            KdfError::Argon2(e) => write!(f, "argon2: {e}"),
        }
    }
}

impl std::error::Error for KdfError {}

/// Derives the disablement value for `secret`, as Go's `tka.DisablementKDF`:
/// Argon2i, version 0x13, salt [`DISABLEMENT_SALT`], [`KDF_TIME_COST`] passes,
/// [`KDF_MEMORY_KIB`] KiB, [`KDF_LANES`] lanes, [`KDF_OUTPUT_LEN`] bytes.
///
/// Any secret up to 2^32 − 1 bytes long (including the empty one) gives a
/// value. Longer secrets give [`KdfError::SecretTooLong`]: Argon2 encodes the
/// password length in 32 bits, and the implementation used here refuses them
/// rather than truncating the length as Go does.
///
/// Each call allocates 16 MiB and takes tens of milliseconds.
pub fn disablement_kdf(secret: &[u8]) -> Result<[u8; KDF_OUTPUT_LEN], KdfError> {
    if u32::try_from(secret.len()).is_err() {
        return Err(KdfError::SecretTooLong(secret.len()));
    }
    let params = argon2::Params::new(
        KDF_MEMORY_KIB,
        KDF_TIME_COST,
        KDF_LANES,
        Some(KDF_OUTPUT_LEN),
    )
    .map_err(|e| KdfError::Argon2(e.to_string()))?;
    let ctx = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
    let mut out = [0u8; KDF_OUTPUT_LEN];
    ctx.hash_password_into(secret, DISABLEMENT_SALT, &mut out)
        .map_err(|e| match e {
            argon2::Error::PwdTooLong => KdfError::SecretTooLong(secret.len()),
            other => KdfError::Argon2(other.to_string()),
        })?;
    Ok(out)
}

/// Whether `secret` is a valid disablement secret for the stored disablement
/// `values`, as Go's `State.checkDisablement`.
///
/// The value is derived once and compared in constant time with every stored
/// value (all of them are compared, even after a match). A stored value of
/// the wrong length never matches. A secret that cannot be derived (see
/// [`disablement_kdf`]) is never valid.
pub fn check_disablement(secret: &[u8], values: &[impl AsRef<[u8]>]) -> bool {
    let Ok(derived) = disablement_kdf(secret) else {
        return false;
    };
    let mut found = subtle::Choice::from(0u8);
    for v in values {
        // `ct_eq` on slices of different lengths is simply "not equal".
        found |= derived[..].ct_eq(v.as_ref());
    }
    found.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(s.as_bytes()).unwrap()
    }

    #[test]
    fn known_values_and_check() {
        // Go's tka tests use secret 01 02 03.
        let v = disablement_kdf(&[1, 2, 3]).unwrap();
        assert_eq!(
            v.to_vec(),
            hex("a628b2bf849a89dc7289fdc84d1d7efe61a86bcf8e429cf65fa5450c5987b856")
        );
        let other = [0x11u8; 32];
        let short = vec![0u8; 3];
        let long = vec![0u8; 64];
        assert!(check_disablement(&[1, 2, 3], &[other.to_vec(), v.to_vec()]));
        assert!(check_disablement(&[1, 2, 3], &[v]));
        // Wrong-length values never match, and do not panic.
        assert!(!check_disablement(
            &[1, 2, 3],
            &[short, long, v[..31].to_vec(), Vec::new()]
        ));
        let none: &[[u8; 32]] = &[];
        assert!(!check_disablement(&[1, 2, 3], none));
    }

    #[test]
    fn error_display() {
        assert!(KdfError::SecretTooLong(5).to_string().contains('5'));
        assert!(KdfError::Argon2("x".into()).to_string().contains('x'));
    }
}
