//! sync.json: SyncOffer (current and legacy), MissingAUMs, and the informs
//! that complete an exchange between two sides.
use super::chains::{check_authority, Ctx};
use super::common::*;
use serde_json::Value;
use std::path::Path;
use tka::{AumHash, Authority, MemStorage, SyncError, SyncOffer};

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    run(c).into()
}

#[derive(Default)]
struct Side {
    storage: MemStorage,
    auth: Option<Authority>,
}

fn side_index(name: &str) -> Result<usize, String> {
    match name {
        "local" => Ok(0),
        "remote" => Ok(1),
        other => Err(format!("unknown side {other:?}")),
    }
}

fn hashes(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

/// Checks an offer against a vector object with `head`, `head_text`,
/// `ancestors` and `ancestors_text`, including the wire form both ways.
fn check_offer(what: &str, got: &SyncOffer, want: &Value) -> Result<(), String> {
    eq(
        &format!("{what} head"),
        got.head.to_hex(),
        want["head"].as_str().unwrap().to_owned(),
    )?;
    eq(
        &format!("{what} ancestors"),
        got.ancestors
            .iter()
            .map(AumHash::to_hex)
            .collect::<Vec<_>>(),
        hashes(&want["ancestors"]),
    )?;
    let (head_text, ancestors_text) = got.to_wire();
    eq(
        &format!("{what} head_text"),
        head_text,
        want["head_text"].as_str().unwrap().to_owned(),
    )?;
    eq(
        &format!("{what} ancestors_text"),
        ancestors_text,
        hashes(&want["ancestors_text"]),
    )?;
    let parsed = SyncOffer::from_wire(
        want["head_text"].as_str().unwrap(),
        &hashes(&want["ancestors_text"]),
    )
    .map_err(|e| format!("{what}: from_wire: {e}"))?;
    eq(&format!("{what} from_wire"), &parsed, got)
}

fn run(c: &Value) -> Result<(), String> {
    let ctx = Ctx::new(c)?;
    let mut sides: [Side; 2] = Default::default();
    for (i, op) in c["ops"].as_array().unwrap().iter().enumerate() {
        // The crate's answer where its two extra rules (duplicate signers
        // refused, signature variants set aside) change Go's.
        let want = op.get("hardened_result").unwrap_or(&op["result"]);
        let what = format!("op {i} {} {}", op["op"], op["side"]);
        let si = side_index(op["side"].as_str().unwrap_or(""))?;
        match op["op"].as_str().unwrap() {
            "open" => {
                let side = &mut sides[si];
                side.storage = ctx.storage(&op["storage"], &op["last_active_ancestor"]);
                side.auth = None;
                match (Authority::open(&side.storage), want["error"].as_str()) {
                    (Ok(a), None) => {
                        check_authority(&ctx, &a, &side.storage, want)
                            .map_err(|e| format!("{what}: {e}"))?;
                        side.auth = Some(a);
                    }
                    (Err(_), Some(_)) => {}
                    (Ok(_), Some(w)) => return Err(format!("{what}: opened; Go failed: {w}")),
                    (Err(e), None) => return Err(format!("{what}: failed ({e}); Go opened")),
                }
            }
            "sync_offer" => {
                let side = &sides[si];
                let a = side.auth.as_ref().ok_or(format!("{what}: no authority"))?;
                let got = a
                    .sync_offer(&side.storage)
                    .map_err(|e| format!("{what}: {e}"))?;
                check_offer(&what, &got, want)?;
            }
            "missing_aums" => {
                // Whose offer: "local", "remote", or "<side>_legacy".
                let name = op["remote_offer"].as_str().unwrap();
                let (offerer, legacy) = match name.strip_suffix("_legacy") {
                    Some(s) => (s, true),
                    None => (name, false),
                };
                let o = &sides[side_index(offerer)?];
                let oa = o.auth.as_ref().ok_or(format!("{what}: offerer not open"))?;
                let offer = if legacy {
                    oa.legacy_sync_offer(&o.storage)
                } else {
                    oa.sync_offer(&o.storage)
                }
                .map_err(|e| format!("{what}: {name} offer: {e}"))?;
                let want_offer = op.get("hardened_offer").unwrap_or(&op["offer"]);
                check_offer(&format!("{what} {name} offer"), &offer, want_offer)?;

                let side = &sides[si];
                let a = side.auth.as_ref().ok_or(format!("{what}: no authority"))?;
                let got = a.missing_aums(&side.storage, &offer);
                match (got, want["error"].as_str()) {
                    (Ok(got), None) => {
                        let got: Option<Vec<Option<usize>>> =
                            got.map(|v| v.iter().map(|s| ctx.index_of(s.hash())).collect());
                        let want: Option<Vec<Option<usize>>> = want["aums"]
                            .as_array()
                            .map(|v| v.iter().map(|i| i.as_u64().map(|i| i as usize)).collect());
                        eq(&format!("{what} aums"), got, want)?;
                    }
                    (Err(e), Some(w)) => {
                        // The only failure Go's vectors show is the missing
                        // intersection; it must be that variant, not some
                        // other error.
                        if w.contains("no intersection") && e != SyncError::NoIntersection {
                            return Err(format!("{what}: failed with {e:?}; Go: {w}"));
                        }
                    }
                    (Ok(got), Some(w)) => {
                        return Err(format!("{what}: gave {got:?}; Go failed: {w}"))
                    }
                    (Err(e), None) => return Err(format!("{what}: failed ({e}); Go succeeded")),
                }
            }
            "inform" => {
                let side = &mut sides[si];
                let a = side.auth.as_mut().ok_or(format!("{what}: no authority"))?;
                let before = a.head();
                let updates = ctx.picks(&op["aums"]);
                match (
                    a.inform(&mut side.storage, &updates, 0),
                    want["error"].as_str(),
                ) {
                    (Ok(()), None) => check_authority(&ctx, a, &side.storage, want)
                        .map_err(|e| format!("{what}: {e}"))?,
                    (Err(_), Some(_)) => eq(&format!("{what} head unchanged"), a.head(), before)?,
                    (Ok(()), Some(w)) => return Err(format!("{what}: succeeded; Go failed: {w}")),
                    (Err(e), None) => return Err(format!("{what}: failed ({e}); Go succeeded")),
                }
            }
            other => return Err(format!("unknown op {other}")),
        }
    }
    Ok(())
}
