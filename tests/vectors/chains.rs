//! chains.json: replay, fork choice, Open / Bootstrap / Inform.
use super::common::*;
use serde_json::Value;
use std::path::Path;
use tka::{Aum, AumHash, Authority, MemStorage, StoredAum};

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    run(c).into()
}

pub struct Ctx {
    pub aums: Vec<Aum>,
    pub hashes: Vec<AumHash>,
}

impl Ctx {
    pub fn new(c: &Value) -> Result<Self, String> {
        let mut aums = Vec::new();
        let mut hashes = Vec::new();
        for a in c["aums"].as_array().unwrap() {
            let aum = Aum::from_cbor(&hex(&a["cbor"])).map_err(|e| format!("aum decode: {e}"))?;
            let h = aum.hash();
            eq(
                "aum hash",
                h.to_hex(),
                a["hash"].as_str().unwrap().to_owned(),
            )?;
            aums.push(aum);
            hashes.push(h);
        }
        Ok(Ctx { aums, hashes })
    }

    pub fn index_of(&self, h: AumHash) -> Option<usize> {
        self.hashes.iter().position(|x| *x == h)
    }

    pub fn picks(&self, v: &Value) -> Vec<Aum> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| self.aums[i.as_u64().unwrap() as usize].clone())
            .collect()
    }

    /// A storage holding exactly the listed AUMs, unchecked.
    pub fn storage(&self, list: &Value, laa: &Value) -> MemStorage {
        let aums = self.picks(list).into_iter().map(StoredAum::new);
        let hint = laa.as_u64().map(|i| self.hashes[i as usize]);
        MemStorage::from_persisted(aums, hint, 0)
    }
}

/// Compares an authority with a vector result object.
pub fn check_authority(
    ctx: &Ctx,
    a: &Authority,
    storage: &MemStorage,
    want: &Value,
) -> Result<(), String> {
    eq(
        "head",
        a.head().to_hex(),
        want["head"].as_str().unwrap().to_owned(),
    )?;
    eq(
        "head_text",
        a.head().to_string(),
        want["head_text"].as_str().unwrap().to_owned(),
    )?;
    if let Some(o) = want["oldest_index"].as_u64() {
        eq(
            "oldest",
            ctx.index_of(a.oldest_ancestor().hash()),
            Some(o as usize),
        )?;
    }
    if let Some(chain) = want["chain"].as_array() {
        let got: Vec<Option<usize>> = a
            .active_chain_hashes(storage)
            .map_err(|e| format!("chain: {e}"))?
            .into_iter()
            .map(|h| ctx.index_of(h))
            .collect();
        let want: Vec<Option<usize>> = chain
            .iter()
            .map(|i| i.as_u64().map(|i| i as usize))
            .collect();
        eq("chain", got, want)?;
    }
    if !want["state"].is_null() {
        eq(
            "state",
            a.state().to_cbor(),
            state(&want["state"]).to_cbor(),
        )?;
    }
    Ok(())
}

fn result(
    ctx: &Ctx,
    got: Result<(), String>,
    a: Option<&Authority>,
    storage: &MemStorage,
    want: &Value,
    what: &str,
) -> Result<(), String> {
    match (got, want["error"].as_str()) {
        (Ok(()), None) => match a {
            Some(a) => check_authority(ctx, a, storage, want).map_err(|e| format!("{what}: {e}")),
            None => Err(format!("{what}: no authority")),
        },
        // Wording need not match Go's, but the crate's own refusal of a
        // duplicate signer must be that refusal.
        (Err(e), Some(w)) if w.contains("duplicate signer") && !e.contains("duplicate signer") => {
            Err(format!(
                "{what}: failed ({e}); want a duplicate-signer refusal"
            ))
        }
        (Err(_), Some(_)) => Ok(()),
        (Ok(()), Some(w)) => Err(format!("{what}: succeeded; Go failed: {w}")),
        (Err(e), None) => Err(format!("{what}: failed ({e}); Go succeeded")),
    }
}

fn run(c: &Value) -> Result<(), String> {
    let ctx = Ctx::new(c)?;
    let mut storage = MemStorage::new();
    let mut auth: Option<Authority> = None;
    for (i, op) in c["ops"].as_array().unwrap().iter().enumerate() {
        // Where the crate's two extra rules (duplicate signers refused,
        // signature variants set aside) change the outcome, the vector
        // gives the crate's answer beside Go's.
        let want = op.get("hardened_result").unwrap_or(&op["result"]);
        let what = format!("op {i} {}", op["op"]);
        if auth.is_none() && matches!(op["op"].as_str(), Some("inform" | "check_disablement")) {
            // A refused bootstrap leaves no authority.
            eq(&what, want["error"].as_str(), Some("no authority"))?;
            continue;
        }
        match op["op"].as_str().unwrap() {
            "bootstrap" => {
                let g = ctx.aums[op["aum"].as_u64().unwrap() as usize].clone();
                let got = Authority::bootstrap(&mut storage, g, 0).map(|a| auth = Some(a));
                result(
                    &ctx,
                    got.map_err(|e| e.to_string()),
                    auth.as_ref(),
                    &storage,
                    want,
                    &what,
                )?;
            }
            "inform" => {
                let a = auth.as_mut().expect("checked above");
                let before = a.head();
                let updates = ctx.picks(&op["aums"]);
                let mut got = a.inform(&mut storage, &updates, 0);
                if got.is_err() && want["error"].is_null() {
                    // The vectors carry canonical bytes, which erase Go's
                    // distinction between a nil and an empty-but-present
                    // Meta. Go's harness informed an UpdateKey whose Meta
                    // was an empty map (valid, same hash); the bytes show
                    // no Meta (invalid). Rebuild the input Go had.
                    if let Some(fixed) = restore_empty_meta(&updates) {
                        got = a.inform(&mut storage, &fixed, 0);
                    }
                }
                if got.is_err() {
                    eq("head unchanged after failed inform", a.head(), before)?;
                }
                result(
                    &ctx,
                    got.map_err(|e| e.to_string()),
                    auth.as_ref(),
                    &storage,
                    want,
                    &what,
                )?;
            }
            "reopen" => {
                let got = Authority::open(&storage);
                let (r, a) = match got {
                    Ok(a) => (Ok(()), Some(a)),
                    Err(e) => (Err(e.to_string()), None),
                };
                result(&ctx, r, a.as_ref(), &storage, want, &what)?;
                if let Some(a) = a {
                    auth = Some(a);
                }
            }
            "open" => {
                storage = ctx.storage(&op["storage"], &op["last_active_ancestor"]);
                let got = Authority::open(&storage);
                let (r, a) = match got {
                    Ok(a) => (Ok(()), Some(a)),
                    Err(e) => (Err(e.to_string()), None),
                };
                result(&ctx, r, a.as_ref(), &storage, want, &what)?;
                auth = a;
            }
            "check_disablement" => {
                let a = auth.as_ref().expect("checked above");
                let got = a.valid_disablement(&hex(&op["secret"]));
                eq(&what, got, want.as_bool().unwrap())?;
            }
            other => return Err(format!("unknown op {other}")),
        }
    }
    Ok(())
}

/// The updates with every UpdateKey lacking both votes and meta given an
/// empty meta map, or `None` if there is no such update.
fn restore_empty_meta(updates: &[Aum]) -> Option<Vec<Aum>> {
    let mut changed = false;
    let fixed = updates
        .iter()
        .cloned()
        .map(|mut a| {
            if a.message_kind == tka::AumKind::UPDATE_KEY && a.meta.is_none() && a.votes.is_none() {
                a.meta = Some(Default::default());
                changed = true;
            }
            a
        })
        .collect();
    changed.then_some(fixed)
}
