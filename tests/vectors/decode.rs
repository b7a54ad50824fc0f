//! decode.json: what Go's decoder accepts, and what it re-encodes to.
use super::common::*;
use serde_json::Value;
use std::path::Path;

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    run(c).into()
}

fn run(c: &Value) -> Result<(), String> {
    let input = hex(&c["input"]);
    let ok = c["ok"].as_bool().unwrap();
    match c["kind"].as_str().unwrap() {
        "aum" => match (tka::Aum::from_cbor(&input), ok) {
            (Ok(a), true) => {
                eq(
                    "canonical",
                    to_hex(&a.to_cbor()),
                    c["canonical"].as_str().unwrap().to_owned(),
                )?;
                eq(
                    "hash",
                    a.hash().to_hex(),
                    c["hash"].as_str().unwrap().to_owned(),
                )?;
                eq(
                    "sig_hash",
                    to_hex(&a.sig_hash()),
                    c["sig_hash"].as_str().unwrap().to_owned(),
                )?;
                eq("decoded", &a, &aum(&c["decoded"]))?;
                outcome("static_validate", &a.static_validate(), &c["static_valid"])
            }
            (Err(_), false) => Ok(()),
            (Ok(_), false) => Err(format!("accepted; Go: {}", c["error"])),
            (Err(e), true) => Err(format!("refused ({e}); Go accepted")),
        },
        _ => match (tka::NodeKeySignature::from_cbor(&input), ok) {
            (Ok(s), true) => {
                eq(
                    "canonical",
                    to_hex(&s.to_cbor()),
                    c["canonical"].as_str().unwrap().to_owned(),
                )?;
                eq(
                    "sig_hash",
                    to_hex(&s.sig_hash()),
                    c["sig_hash"].as_str().unwrap().to_owned(),
                )?;
                eq("decoded", &s, &nks(&c["decoded"]))
            }
            (Err(_), false) => Ok(()),
            (Ok(_), false) => Err(format!("accepted; Go: {}", c["error"])),
            (Err(e), true) => Err(format!("refused ({e}); Go accepted")),
        },
    }
}
