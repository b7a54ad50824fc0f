//! differential.json: mutated inputs and Go's one-line answer for each.
//!
//! The crate's answer is formatted the same way and compared as a whole
//! line, so acceptance, canonical bytes, hashes and validity must all match.
use super::common::*;
use serde_json::Value;
use std::path::Path;

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    let input = hex(&c["input"]);
    let want = c["go"].as_str().expect("go answer");
    let got = match c["kind"].as_str().expect("kind") {
        "aum" => aum_line(&input),
        "nks" => nks_line(&input),
        "key" => key_line(&input),
        other => return Outcome::Fail(format!("unknown kind {other}")),
    };
    eq("answer", got.as_str(), want).into()
}

/// `-` for no bytes, else lowercase hex.
fn bytes_or_dash(b: &[u8]) -> String {
    if b.is_empty() {
        "-".into()
    } else {
        to_hex(b)
    }
}

fn validity<E>(r: Result<(), E>) -> &'static str {
    if r.is_ok() {
        "valid"
    } else {
        "invalid"
    }
}

fn aum_line(input: &[u8]) -> String {
    let Ok(a) = tka::Aum::from_cbor(input) else {
        return "err".into();
    };
    let parent = a.parent().map(|h| h.0.to_vec()).unwrap_or_default();
    format!(
        "ok {} {} {} {} {}",
        to_hex(&a.to_cbor()),
        a.hash().to_hex(),
        to_hex(&a.sig_hash()),
        validity(a.static_validate()),
        bytes_or_dash(&parent),
    )
}

fn nks_line(input: &[u8]) -> String {
    let Ok(s) = tka::NodeKeySignature::from_cbor(input) else {
        return "err".into();
    };
    let id = match s.authorizing_key_id() {
        Ok(id) => format!("id:{}", bytes_or_dash(id)),
        Err(_) => "err".into(),
    };
    let wrapping = match s.wrapping_public() {
        Some(w) => format!("w:{}", bytes_or_dash(w)),
        None => "none".into(),
    };
    format!(
        "ok {} {} {id} {wrapping}",
        to_hex(&s.to_cbor()),
        to_hex(&s.sig_hash()),
    )
}

fn key_line(input: &[u8]) -> String {
    let Ok(k) = tka::Key::from_cbor(input) else {
        return "err".into();
    };
    format!(
        "ok {} {}",
        to_hex(&k.to_cbor()),
        validity(k.static_validate())
    )
}
