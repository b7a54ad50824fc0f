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
                // Decoding with the hash: the canonical fast path takes the
                // input exactly when Go says it is its own canonical form,
                // and the hash is Go's either way.
                let (b, h) = tka::Aum::from_cbor_hashed(&input).map_err(|e| e.to_string())?;
                eq("decoded with hash", &b, &a)?;
                eq("hash as received", h.to_hex(), a.hash().to_hex())?;
                if let Some(canonical) = c["canonical_equals_input"].as_bool() {
                    eq(
                        "canonical fast path taken",
                        tka::fuzzing::check_canonical_path(&input),
                        canonical,
                    )?;
                }
                outcome("static_validate", &a.static_validate(), &c["static_valid"])
            }
            (Err(_), false) => {
                eq(
                    "canonical fast path taken",
                    tka::fuzzing::check_canonical_path(&input),
                    false,
                )?;
                eq(
                    "refused with hash",
                    tka::Aum::from_cbor_hashed(&input).is_err(),
                    true,
                )
            }
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
