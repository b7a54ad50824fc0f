//! Key types: tailnet-lock keys, node keys and their text forms.

use crate::cbor::{
    check_encoded_len, check_well_formed, encode_to_vec, encoded_len, put_opt_bytes,
    put_string_map, DecodeError, Encoder, Reader,
};
use crate::error::ValidationError;
use crate::limits::{MAX_META_BYTES, MAX_VOTES};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Key metadata (Go's `map[string]string`), as carried by a [`Key`] and by
/// an UpdateKey [`Aum`](crate::Aum).
///
/// Values are [`Arc<str>`] because Go's decoder lets a `null` value repeat
/// the previous entry's value: decoded maps share such a value instead of
/// copying it, so decoding n bytes never builds more than about n bytes of
/// metadata. Build values with `.into()` from a `&str` or `String`.
pub type Meta = BTreeMap<String, Arc<str>>;

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

/// The kind of a tailnet-lock key (Go's `KeyKind`). Only Ed25519 (1) is
/// defined; other values survive decoding and fail validation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyKind(pub u8);

impl KeyKind {
    /// Kind 0, never valid.
    pub const INVALID: KeyKind = KeyKind(0);
    /// An Ed25519 key.
    pub const ED25519: KeyKind = KeyKind(1);
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("invalid"),
            1 => f.write_str("25519"),
            n => write!(f, "Key?<{n}>"),
        }
    }
}

impl fmt::Debug for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A key trusted by the authority (Go's `tka.Key`).
///
/// `public` and `meta` keep Go's nil-versus-empty distinction because the two
/// encode differently (`public`: `null` vs an empty byte string; `meta`:
/// omitted when nil *or* empty, but validation sees the difference).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Key {
    /// The key's kind; must be [`KeyKind::ED25519`] to be valid.
    pub kind: KeyKind,
    /// Voting weight used by fork choice (1..=4096 when valid).
    pub votes: u64,
    /// The raw public key (32 bytes for Ed25519); `None` is Go's nil.
    pub public: Option<Vec<u8>>,
    /// Free-form metadata; `None` is Go's nil map.
    pub meta: Option<Meta>,
}

/// Why a key has no ID.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyIdError {
    /// The key's kind is not one this crate knows.
    UnknownKind(KeyKind),
}

impl fmt::Display for KeyIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyIdError::UnknownKind(k) => write!(f, "unknown key kind: {k}"),
        }
    }
}

impl std::error::Error for KeyIdError {}

impl Key {
    /// An Ed25519 key with the given votes and no metadata.
    pub fn ed25519(public: [u8; 32], votes: u64) -> Self {
        Key {
            kind: KeyKind::ED25519,
            votes,
            public: Some(public.to_vec()),
            meta: None,
        }
    }

    /// The key's ID: for Ed25519, the public key bytes verbatim.
    pub fn id(&self) -> Result<&[u8], KeyIdError> {
        match self.kind {
            KeyKind::ED25519 => Ok(self.public.as_deref().unwrap_or(&[])),
            k => Err(KeyIdError::UnknownKind(k)),
        }
    }

    /// Go's `Key.StaticValidate`: votes in 1..=4096, metadata at most 512
    /// bytes, kind Ed25519. The public key's length is *not* checked here
    /// (Go checks it only when the key verifies something).
    pub fn static_validate(&self) -> Result<(), ValidationError> {
        if self.votes > MAX_VOTES {
            return Err(ValidationError::ExcessiveVotes(self.votes));
        }
        if self.votes == 0 {
            return Err(ValidationError::ZeroVotes);
        }
        let meta_bytes: usize = self
            .meta
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if meta_bytes > MAX_META_BYTES {
            return Err(ValidationError::MetaTooBig(meta_bytes));
        }
        if self.kind != KeyKind::ED25519 {
            return Err(ValidationError::UnknownKeyKind(self.kind.0));
        }
        Ok(())
    }

    /// The key's canonical CBOR encoding on its own.
    pub fn to_cbor(&self) -> Vec<u8> {
        encode_to_vec(|e| self.encode(e))
    }

    /// Decodes a key on its own, with Go's acceptance rules, except that,
    /// like [`Aum::from_cbor`](crate::Aum::from_cbor), it refuses a key
    /// whose decoding would allocate more than `4 * input.len() + 256 KiB`
    /// or whose canonical encoding would exceed
    /// [`max_encoding_len`](crate::limits::max_encoding_len) of the input.
    pub fn from_cbor(input: &[u8]) -> Result<Self, DecodeError> {
        check_well_formed(input)?;
        let k = Key::decode(&mut Reader::new(input))?;
        check_encoded_len(encoded_len(|e| k.encode(e)), input.len())?;
        Ok(k)
    }

    pub(crate) fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        let meta = self.meta.as_ref().filter(|m| !m.is_empty());
        e.map(3 + u64::from(meta.is_some()))?;
        e.u8(1)?.u8(self.kind.0)?;
        e.u8(2)?.u64(self.votes)?;
        e.u8(3)?;
        put_opt_bytes(e, self.public.as_deref())?;
        if let Some(m) = meta {
            e.u8(12)?;
            put_string_map(e, m)?;
        }
        Ok(())
    }

    /// Decodes a key map; `null` gives the zero key.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut k = Key::default();
        r.struct_map(
            "tka.Key",
            (1 << 1) | (1 << 2) | (1 << 3) | (1 << 12),
            |r, f| {
                match f {
                    1 => k.kind = KeyKind(r.uint("tka.Key.Kind", u8::MAX.into())? as u8),
                    2 => k.votes = r.uint("tka.Key.Votes", u64::MAX)?,
                    3 => k.public = r.bytes("tka.Key.Public")?,
                    _ => k.meta = r.string_map("tka.Key.Meta")?,
                }
                Ok(())
            },
        )?;
        Ok(k)
    }
}

/// A tailnet-lock private key (Go's `key.NLPrivate`): an Ed25519 signing key.
///
/// Signing is deterministic (RFC 8032), so the same seed and message always
/// give the same signature.
#[derive(Clone)]
pub struct NlPrivate(ed25519_dalek::SigningKey);

impl NlPrivate {
    /// The key for a 32-byte seed (the RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        NlPrivate(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The matching public key.
    pub fn public(&self) -> NlPublic {
        NlPublic(self.0.verifying_key().to_bytes())
    }

    /// The 64-byte private key Go uses (seed followed by public key).
    pub fn to_keypair_bytes(&self) -> [u8; 64] {
        self.0.to_keypair_bytes()
    }

    /// Signs `msg` (a 32-byte signature hash in this protocol).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0.sign(msg).to_bytes()
    }

    /// This key as a trusted [`Key`] with the given votes.
    pub fn to_key(&self, votes: u64) -> Key {
        Key::ed25519(self.public().0, votes)
    }
}

impl fmt::Debug for NlPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NlPrivate({})", self.public())
    }
}
