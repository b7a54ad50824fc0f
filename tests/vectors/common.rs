//! Helpers shared by the per-file vector handlers.
#![allow(dead_code)]

use serde_json::Value;

/// What one case came to.
pub enum Outcome {
    /// The crate did what Go did.
    Pass,
    /// The crate differed; the text says how.
    Fail(String),
    /// The case's feature is not implemented yet.
    Skip,
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
