//! kdf.json: the disablement KDF and disablement checks.

use super::common::{eq, hex, to_hex, Outcome};
use serde_json::Value;
use std::path::Path;
use tka::kdf::{check_disablement, disablement_kdf};

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    match c["type"].as_str() {
        Some("kdf") => kdf(c).into(),
        Some("check") => check(c).into(),
        other => Outcome::Fail(format!("unknown case type {other:?}")),
    }
}

fn kdf(c: &Value) -> Result<(), String> {
    let secret = hex(&c["secret"]);
    let got = disablement_kdf(&secret).map_err(|e| format!("kdf error: {e}"))?;
    eq("kdf", to_hex(&got), to_hex(&hex(&c["kdf"])))
}

fn check(c: &Value) -> Result<(), String> {
    let secret = hex(&c["secret"]);
    let values: Vec<Vec<u8>> = match &c["disablement_values"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().map(hex).collect(),
        other => return Err(format!("disablement_values: unexpected {other}")),
    };
    let want = c["valid"]
        .as_bool()
        .ok_or_else(|| "valid: not a boolean".to_string())?;
    eq("valid", check_disablement(&secret, &values), want)
}
