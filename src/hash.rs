//! AUM hashes: BLAKE2s-256 digests and their text forms.

use blake2::{Blake2s256, Digest};
use std::fmt;
use std::str::FromStr;

/// The BLAKE2s-256 hash of an AUM's canonical encoding.
///
/// Its text form is RFC 4648 standard base32 without padding (52 characters),
/// as Go's `AUMHash.String()` writes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AumHash(pub [u8; 32]);

/// BLAKE2s-256 (unkeyed, 32-byte digest) of `bytes`.
pub fn blake2s256(bytes: &[u8]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(bytes);
    h.finalize().into()
}

impl AumHash {
    /// The all-zero hash, which Go uses to mean "no head".
    pub const ZERO: AumHash = AumHash([0; 32]);

    /// Hashes `bytes` with BLAKE2s-256.
    pub fn of(bytes: &[u8]) -> Self {
        AumHash(blake2s256(bytes))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    /// Lowercase hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// Parses the raw 32-byte form; any other length is an error.
    pub fn from_slice(b: &[u8]) -> Result<Self, HashParseError> {
        <[u8; 32]>::try_from(b)
            .map(AumHash)
            .map_err(|_| HashParseError::Length(b.len()))
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
        let v = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| HashParseError::Encoding)?;
        Self::from_slice(&v)
    }
}

/// Why a hash's text or byte form was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashParseError {
    /// The text was not 52 characters of base32 (or the hex was not hex).
    Encoding,
    /// The decoded value was not 32 bytes long.
    Length(usize),
}

impl fmt::Display for HashParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashParseError::Encoding => f.write_str("invalid AUM hash text"),
            HashParseError::Length(n) => write!(f, "AUM hash must be 32 bytes, got {n}"),
        }
    }
}

impl std::error::Error for HashParseError {}

impl fmt::Display for AumHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::BASE32_NOPAD.encode(&self.0))
    }
}

impl fmt::Debug for AumHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AumHash({self})")
    }
}

impl FromStr for AumHash {
    type Err = HashParseError;

    /// Parses the 52-character base32 text form, as Go's `UnmarshalText`:
    /// only 52 characters of the uppercase standard alphabet are accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 52 {
            return Err(HashParseError::Encoding);
        }
        // Go's decoder ignores the unused low bits of the last character; a
        // strict decoder would refuse text Go accepts, so decode leniently.
        let mut spec = data_encoding::BASE32_NOPAD.specification();
        spec.check_trailing_bits = false;
        let enc = spec.encoding().map_err(|_| HashParseError::Encoding)?;
        let v = enc
            .decode(s.as_bytes())
            .map_err(|_| HashParseError::Encoding)?;
        Self::from_slice(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let h = AumHash::of(b"hello");
        let t = h.to_string();
        assert_eq!(t.len(), 52);
        assert_eq!(t.parse::<AumHash>().unwrap(), h);
        assert!("abc".parse::<AumHash>().is_err());
        assert!(t.to_lowercase().parse::<AumHash>().is_err());
    }
}
