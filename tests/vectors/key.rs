//! key.json: keys, key IDs, validation and text forms.
use super::common::*;
use serde_json::Value;
use std::path::Path;

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    run(c).into()
}

fn run(c: &Value) -> Result<(), String> {
    if let Some(raw) = c.get("node_key_raw") {
        let raw: [u8; 32] = hex(raw).try_into().map_err(|_| "node key length")?;
        let nk = tka::NodeKey(raw);
        eq(
            "binary",
            to_hex(&nk.to_binary()),
            c["node_key_binary"].as_str().unwrap().to_owned(),
        )?;
        eq(
            "text",
            nk.to_string(),
            c["node_key_text"].as_str().unwrap().to_owned(),
        )?;
        let parsed: tka::NodeKey = c["node_key_text"]
            .as_str()
            .unwrap()
            .parse()
            .map_err(|e| format!("{e}"))?;
        eq("parsed", parsed, nk)?;
        let bin =
            tka::NodeKey::from_binary(&hex(&c["node_key_binary"])).map_err(|e| format!("{e}"))?;
        return eq("from binary", bin, nk);
    }
    let k = key(&c["key"]);
    match (k.id(), c["key_id_error"].as_str()) {
        (Ok(id), None) => eq(
            "key_id",
            to_hex(id),
            to_hex(&hex_opt(&c["key_id"]).unwrap_or_default()),
        )?,
        (Err(_), Some(_)) => {}
        (got, want) => return Err(format!("key_id: got {got:?}, want error {want:?}")),
    }
    outcome("static_validate", &k.static_validate(), &c["static_valid"])?;
    let cbor = hex(&c["cbor"]);
    eq("cbor", to_hex(&k.to_cbor()), to_hex(&cbor))?;
    let back = tka::Key::from_cbor(&cbor).map_err(|e| format!("decode: {e}"))?;
    eq("decoded", back.to_cbor(), cbor)?;
    if let Some(t) = c["nlpub_text"].as_str() {
        let public: [u8; 32] = k
            .public
            .clone()
            .unwrap_or_default()
            .try_into()
            .map_err(|_| "len")?;
        let p = tka::NlPublic(public);
        eq("nlpub", p.to_nlpub(), t.to_owned())?;
        eq(
            "tlpub",
            p.to_tlpub(),
            c["tlpub_cli"].as_str().unwrap().to_owned(),
        )?;
        eq(
            "parse nlpub",
            t.parse::<tka::NlPublic>().map_err(|e| format!("{e}"))?,
            p,
        )?;
    }
    Ok(())
}
