//! aum.json: AUM serialisation, hashes and static validation.
use super::common::*;
use serde_json::Value;
use std::path::Path;

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    run(c).into()
}

fn run(c: &Value) -> Result<(), String> {
    let a = aum(&c["aum"]);
    let cbor = hex(&c["cbor"]);
    eq("cbor", to_hex(&a.to_cbor()), to_hex(&cbor))?;
    eq(
        "hash",
        a.hash().to_hex(),
        c["hash"].as_str().unwrap().to_owned(),
    )?;
    eq(
        "hash_text",
        a.hash().to_string(),
        c["hash_text"].as_str().unwrap().to_owned(),
    )?;
    eq(
        "sig_hash",
        to_hex(&a.sig_hash()),
        c["sig_hash"].as_str().unwrap().to_owned(),
    )?;
    outcome("static_validate", &a.static_validate(), &c["static_valid"])?;
    // Decoding Go's bytes gives the same value back.
    let back = tka::Aum::from_cbor(&cbor).map_err(|e| format!("decode: {e}"))?;
    eq("decoded", back.to_cbor(), cbor.clone())?;
    // Go's bytes are canonical: they take the fast path, hashed as received.
    eq(
        "canonical fast path taken",
        tka::fuzzing::check_canonical_path(&cbor),
        true,
    )?;
    let (_, h) = tka::Aum::from_cbor_hashed(&cbor).map_err(|e| format!("decode: {e}"))?;
    eq(
        "hash as received",
        h.to_hex(),
        c["hash"].as_str().unwrap().to_owned(),
    )?;
    // Signatures made from the seeds verify and re-signing reproduces them.
    if let Some(seeds) = c.get("signer_seeds").and_then(Value::as_array) {
        for (i, s) in seeds.iter().enumerate() {
            let seed: [u8; 32] = hex(s).try_into().map_err(|_| "seed length")?;
            let k = tka::NlPrivate::from_seed(&seed);
            let sig = k.sign(&a.sig_hash());
            let want = a.signatures()[i].signature.clone().unwrap_or_default();
            eq("re-signed signature", to_hex(&sig), to_hex(&want))?;
        }
    }
    Ok(())
}
