//! Key types: tailnet-lock keys, node keys and their text forms.

use std::fmt;
use std::str::FromStr;

/// A node's WireGuard public key (Go's `key.NodePublic`).
///
/// Text form `nodekey:<64 lowercase hex>`; binary form (as stored in a
/// node-key signature) the ASCII bytes `np` followed by the 32 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeKey(pub [u8; 32]);

/// The 2-byte prefix of a node key's binary form.
pub const NODE_KEY_BINARY_PREFIX: &[u8; 2] = b"np";

/// Why a key's text or binary form was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The text did not start with the expected prefix.
    Prefix,
    /// The hex part was not valid hex.
    Hex,
    /// The key was not the expected length.
    Length(usize),
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyParseError::Prefix => f.write_str("key text has the wrong prefix"),
            KeyParseError::Hex => f.write_str("key text is not hex"),
            KeyParseError::Length(n) => write!(f, "key has wrong length {n}"),
        }
    }
}

impl std::error::Error for KeyParseError {}

fn parse_hex32(hex: &str) -> Result<[u8; 32], KeyParseError> {
    let v = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .map_err(|_| KeyParseError::Hex)?;
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| KeyParseError::Length(v.len()))
}

impl NodeKey {
    /// The 34-byte binary form: `np` followed by the raw key.
    pub fn to_binary(&self) -> [u8; 34] {
        let mut out = [0u8; 34];
        out[..2].copy_from_slice(NODE_KEY_BINARY_PREFIX);
        out[2..].copy_from_slice(&self.0);
        out
    }

    /// Parses the 34-byte binary form.
    pub fn from_binary(b: &[u8]) -> Result<Self, KeyParseError> {
        if b.len() != 34 {
            return Err(KeyParseError::Length(b.len()));
        }
        if &b[..2] != NODE_KEY_BINARY_PREFIX {
            return Err(KeyParseError::Prefix);
        }
        let mut k = [0u8; 32];
        k.copy_from_slice(&b[2..]);
        Ok(NodeKey(k))
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nodekey:{}", data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for NodeKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("nodekey:").ok_or(KeyParseError::Prefix)?;
        parse_hex32(hex).map(NodeKey)
    }
}

/// A tailnet-lock public key (Go's `key.NLPublic`): a raw Ed25519 public key.
///
/// Written `tlpub:<hex>` (the CLI form) or `nlpub:<hex>` (Go's MarshalText);
/// both prefixes are accepted when parsing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NlPublic(pub [u8; 32]);

impl NlPublic {
    /// The `nlpub:<hex>` form (Go's `MarshalText`).
    pub fn to_nlpub(&self) -> String {
        format!("nlpub:{}", data_encoding::HEXLOWER.encode(&self.0))
    }

    /// The `tlpub:<hex>` form (the CLI's).
    pub fn to_tlpub(&self) -> String {
        format!("tlpub:{}", data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl fmt::Display for NlPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_tlpub())
    }
}

impl fmt::Debug for NlPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for NlPublic {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("tlpub:")
            .or_else(|| s.strip_prefix("nlpub:"))
            .ok_or(KeyParseError::Prefix)?;
        parse_hex32(hex).map(NlPublic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_key_forms() {
        let k = NodeKey([7; 32]);
        let t = k.to_string();
        assert!(t.starts_with("nodekey:0707"));
        assert_eq!(t.parse::<NodeKey>().unwrap(), k);
        assert_eq!(NodeKey::from_binary(&k.to_binary()).unwrap(), k);
        assert!(NodeKey::from_binary(&[0; 34]).is_err());
        assert!("nlpub:00".parse::<NodeKey>().is_err());
    }

    #[test]
    fn nl_key_forms() {
        let k = NlPublic([9; 32]);
        assert_eq!(k.to_nlpub().parse::<NlPublic>().unwrap(), k);
        assert_eq!(k.to_tlpub().parse::<NlPublic>().unwrap(), k);
        assert!("nodekey:00".parse::<NlPublic>().is_err());
    }
}
