//! tailchonk.json: reading Go's on-disk store and opening it.
use super::common::*;
use serde_json::Value;
use std::path::Path;
use tka::tailchonk::{load_dir, FsEntry};
use tka::{AumHash, Authority, Storage};

pub fn case(c: &Value, dir: &Path) -> Outcome {
    run(c, dir).into()
}

fn parse(v: &Value) -> Value {
    // Some fields are stored as JSON text.
    match v.as_str() {
        Some(s) if s.starts_with('[') || s.starts_with('{') => serde_json::from_str(s).unwrap(),
        _ => v.clone(),
    }
}

fn run(c: &Value, dir: &Path) -> Result<(), String> {
    let root = dir.join(c["dir"].as_str().unwrap());
    // Every file decodes to the hash and times Go recorded, and re-encodes
    // to the same bytes.
    for f in parse(&c["files"]).as_array().unwrap() {
        let path = root.join(f["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(content) = f.get("content") {
            eq(
                "raw file",
                to_hex(&bytes),
                content.as_str().unwrap().to_owned(),
            )?;
            continue;
        }
        let e = FsEntry::from_cbor(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let h = e.aum.as_ref().map(|a| a.hash().to_hex());
        eq("aum_hash", h.as_deref(), f["aum_hash"].as_str())?;
        eq(
            "created",
            e.created_unix,
            f["created_unix"].as_i64().unwrap(),
        )?;
        eq("purged", e.purged_unix, f["purged_unix"].as_i64().unwrap())?;
        eq("re-encoding", to_hex(&e.to_cbor()), to_hex(&bytes))?;
    }
    let store = load_dir(&root).map_err(|e| e.to_string())?;
    let mut live: Vec<String> = store
        .all_aums()
        .map_err(|e| e.to_string())?
        .iter()
        .map(AumHash::to_hex)
        .collect();
    live.sort();
    let mut want: Vec<String> = parse(&c["live_aums"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    want.sort();
    eq("live_aums", live, want)?;
    eq(
        "last_active_ancestor",
        store.last_active_ancestor().unwrap().map(|h| h.to_hex()),
        c["last_active_ancestor"].as_str().map(str::to_owned),
    )?;
    let open = parse(&c["open"]);
    let a = Authority::open(&store).map_err(|e| format!("open: {e}"))?;
    eq(
        "head",
        a.head().to_hex(),
        open["head"].as_str().unwrap().to_owned(),
    )?;
    eq(
        "oldest",
        a.oldest_ancestor().hash().to_hex(),
        open["oldest"].as_str().unwrap().to_owned(),
    )?;
    let chain: Vec<String> = a
        .active_chain_hashes(&store)
        .map_err(|e| e.to_string())?
        .iter()
        .map(AumHash::to_hex)
        .collect();
    let want_chain: Vec<String> = open["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    eq("chain", chain, want_chain)?;
    eq(
        "state",
        a.state().to_cbor(),
        state(&open["state"]).to_cbor(),
    )
}
