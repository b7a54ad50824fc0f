//! sig.json (and hardening.json, ed25519.json `tka_nks`): node-key
//! signatures, re-signing and wrapped auth keys.
use super::common::*;
use serde_json::Value;
use std::path::Path;
use tka::sig::{decode_wrapped_authkey, node_key_authorized, resign};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    match c["type"].as_str().unwrap_or("") {
        "verify" | "tka_nks" => verify(c).into(),
        "resign" => resign_case(c).into(),
        "wrapped_authkey" => wrapped(c).into(),
        t => Outcome::Fail(format!("unknown case type {t}")),
    }
}

fn seed(v: &Value) -> Result<[u8; 32], String> {
    hex(v).try_into().map_err(|_| "seed length".to_string())
}

/// A verify case; `hardened_verdict` wins over Go's `verdict` when present.
pub fn verify(c: &Value) -> Result<(), String> {
    let cbor = hex(&c["cbor"]);
    let node_key = NodeKey(
        hex(&c["node_key"])
            .try_into()
            .map_err(|_| "node key length")?,
    );
    eq(
        "node_key_text",
        node_key.to_string(),
        c["node_key_text"].as_str().unwrap().to_owned(),
    )?;
    let trusted = keys_opt(&c["trusted_keys"]).unwrap_or_default();
    match NodeKeySignature::from_cbor(&cbor) {
        Ok(s) => {
            if !c["nks"].is_null() {
                eq("decoded", &s, &nks(&c["nks"]))?;
            }
            if let Some(want) = c["canonical_cbor"].as_str() {
                eq("canonical", to_hex(&s.to_cbor()), want.to_owned())?;
            }
            if let Some(want) = c["sig_hash"].as_str() {
                eq("sig_hash", to_hex(&s.sig_hash()), want.to_owned())?;
            }
            if c.get("authorizing_key_id").is_some() {
                let got = s.authorizing_key_id().ok().map(to_hex);
                eq(
                    "authorizing_key_id",
                    got,
                    c["authorizing_key_id"].as_str().map(str::to_owned),
                )?;
            }
            if c.get("wrapping_public").is_some() {
                let got = s.wrapping_public().map(to_hex);
                eq(
                    "wrapping_public",
                    got,
                    c["wrapping_public"].as_str().map(str::to_owned),
                )?;
            }
        }
        Err(e) => {
            if c["decode_error"].is_null() {
                return Err(format!("decode failed ({e}), Go decoded it"));
            }
        }
    }
    let want = match c.get("hardened_verdict") {
        Some(h) => h,
        None => &c["verdict"],
    };
    let got = node_key_authorized(&trusted, &node_key, &cbor);
    // The authority's path (trusted keys decoded once) gives the same verdict.
    eq(
        "TrustedKeys verdict",
        &tka::sig::TrustedKeys::new(&trusted).node_key_authorized(&node_key, &cbor),
        &got,
    )?;
    match (&got, want.as_str()) {
        (Ok(auth), None) => {
            let want_rd = &c["rotation_details"];
            match (auth.rotation(), want_rd.is_null()) {
                (None, true) => Ok(()),
                (Some(rd), false) => {
                    let want_prev: Vec<String> = want_rd["prev_node_keys"]
                        .as_array()
                        .map(|a| a.iter().map(|k| k.as_str().unwrap().to_owned()).collect())
                        .unwrap_or_default();
                    let got_prev: Vec<String> =
                        rd.prev_node_keys.iter().map(|k| to_hex(&k.0)).collect();
                    let got_prev_text: Vec<String> =
                        rd.prev_node_keys.iter().map(|k| k.to_string()).collect();
                    if got_prev != want_prev && got_prev_text != want_prev {
                        return Err(format!(
                            "prev_node_keys: got {got_prev:?}, want {want_prev:?}"
                        ));
                    }
                    eq(
                        "initial_sig",
                        &rd.initial_sig,
                        &nks(&want_rd["initial_sig"]),
                    )
                }
                (got, _) => Err(format!("rotation details: got {got:?}, want {want_rd}")),
            }
        }
        (Err(_), Some(_)) => Ok(()),
        (Ok(_), Some(w)) => Err(format!("authorized; want refusal: {w}")),
        (Err(e), None) => Err(format!("refused ({e}); want authorized")),
    }
}

fn resign_case(c: &Value) -> Result<(), String> {
    let key = NlPrivate::from_seed(&seed(&c["rotation_key_seed"])?);
    let nk = NodeKey(
        hex(&c["new_node_key"])
            .try_into()
            .map_err(|_| "node key length")?,
    );
    let got = resign(&key, &nk, &hex(&c["old_nks"]));
    match (got, c["result"].as_str()) {
        (Ok(bytes), Some(want)) => eq("result", to_hex(&bytes), want.to_owned()),
        (Err(_), None) => Ok(()),
        (Ok(_), None) => Err(format!("re-signed; Go failed: {}", c["error"])),
        (Err(e), Some(_)) => Err(format!("failed ({e}); Go re-signed")),
    }
}

fn wrapped(c: &Value) -> Result<(), String> {
    let input = c["input"].as_str().unwrap();
    let got = decode_wrapped_authkey(input);
    let is_wrapped = c["is_wrapped"].as_bool().unwrap();
    eq("is_wrapped", got.is_some(), is_wrapped)?;
    match got {
        Some(w) => {
            eq(
                "auth_key",
                w.auth_key.as_str(),
                c["auth_key"].as_str().unwrap(),
            )?;
            eq("sig", &w.sig, &nks(&c["sig"]))?;
            eq(
                "priv",
                to_hex(&w.private),
                c["priv"].as_str().unwrap().to_owned(),
            )
        }
        None => eq("auth_key", input, c["auth_key"].as_str().unwrap()),
    }
}
