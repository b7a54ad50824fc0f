//! Helpers shared by the per-file vector handlers.
#![allow(dead_code)]

use serde_json::Value;

/// What one case came to.
pub enum Outcome {
    /// The crate did what Go did.
    Pass,
    /// The crate differed; the text says how.
    Fail(String),
}

impl From<Result<(), String>> for Outcome {
    fn from(r: Result<(), String>) -> Self {
        match r {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e),
        }
    }
}

/// Decodes a lowercase-hex field; `null` gives `None`.
pub fn hex_opt(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .unwrap_or_else(|e| panic!("bad hex in vector: {e}"))
    })
}

/// Decodes a lowercase-hex field that must be present.
pub fn hex(v: &Value) -> Vec<u8> {
    hex_opt(v).expect("expected a hex string")
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

/// Checks two values are equal, saying which field differed.
pub fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

use tka::{Aum, AumKind, Key, KeyKind, NodeKeySignature, SigKind, Signature, State};

fn meta(v: &Value) -> Option<tka::Meta> {
    v.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("meta value").into()))
            .collect()
    })
}

/// A Key object from the vectors.
pub fn key(v: &Value) -> Key {
    Key {
        kind: KeyKind(v["kind"].as_u64().expect("kind") as u8),
        votes: v["votes"].as_u64().expect("votes"),
        public: hex_opt(&v["public"]),
        meta: meta(&v["meta"]),
    }
}

/// A list of keys, or `None` for null.
pub fn keys_opt(v: &Value) -> Option<Vec<Key>> {
    v.as_array().map(|a| a.iter().map(key).collect())
}

/// A State object from the vectors.
pub fn state(v: &Value) -> State {
    State {
        last_aum_hash: hex_opt(&v["last_aum_hash"])
            .map(|b| tka::AumHash::from_slice(&b).expect("32-byte hash")),
        disablement_values: v["disablement_values"]
            .as_array()
            .map(|a| a.iter().map(hex_opt).collect()),
        keys: keys_opt(&v["keys"]),
        state_id1: v["state_id1"].as_u64().expect("state_id1"),
        state_id2: v["state_id2"].as_u64().expect("state_id2"),
    }
}

/// An AUM object from the vectors.
pub fn aum(v: &Value) -> Aum {
    Aum {
        message_kind: AumKind(v["message_kind"].as_u64().expect("kind") as u8),
        prev_aum_hash: hex_opt(&v["prev_aum_hash"]),
        key: (!v["key"].is_null()).then(|| key(&v["key"])),
        key_id: hex_opt(&v["key_id"]),
        state: (!v["state"].is_null()).then(|| state(&v["state"])),
        votes: v["votes"].as_u64(),
        meta: meta(&v["meta"]),
        signatures: v["signatures"].as_array().map(|a| {
            a.iter()
                .map(|s| Signature {
                    key_id: hex_opt(&s["key_id"]),
                    signature: hex_opt(&s["signature"]),
                })
                .collect()
        }),
    }
}

/// A NodeKeySignature object from the vectors.
pub fn nks(v: &Value) -> NodeKeySignature {
    NodeKeySignature {
        sig_kind: SigKind(v["sig_kind"].as_u64().expect("sig_kind") as u8),
        pubkey: hex_opt(&v["pubkey"]),
        key_id: hex_opt(&v["key_id"]),
        signature: hex_opt(&v["signature"]),
        nested: (!v["nested"].is_null()).then(|| Box::new(nks(&v["nested"]))),
        wrapping_pubkey: hex_opt(&v["wrapping_pubkey"]),
    }
}

/// Compares a success/failure outcome with Go's (`null` = success).
pub fn outcome<E: std::fmt::Display>(
    what: &str,
    got: &Result<(), E>,
    want: &Value,
) -> Result<(), String> {
    match (got, want.as_str()) {
        (Ok(()), None) => Ok(()),
        (Err(_), Some(_)) => Ok(()),
        (Ok(()), Some(w)) => Err(format!("{what}: accepted, Go refused: {w}")),
        (Err(e), None) => Err(format!("{what}: refused ({e}), Go accepted")),
    }
}
