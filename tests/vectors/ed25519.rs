//! ed25519.json: signature acceptance under Go's two rule sets.

use super::common::{eq, hex, Outcome};
use serde_json::Value;
use std::path::Path;
use tka::ed25519::{
    is_small_order, verify_cofactorless, verify_cofactorless_hardened, verify_zip215,
    verify_zip215_hardened, VerifyError,
};

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    match c["type"].as_str() {
        Some("verify") => verify(c).into(),
        Some("tka_nks") => super::sig::verify(c).into(),
        Some("tka_bootstrap") => bootstrap(c).into(),
        other => Outcome::Fail(format!("unknown case type {other:?}")),
    }
}

fn want_bool(c: &Value, field: &str) -> Result<bool, String> {
    c[field]
        .as_bool()
        .ok_or_else(|| format!("{field}: not a boolean"))
}

fn verify(c: &Value) -> Result<(), String> {
    let public = hex(&c["public_key"]);
    let msg = hex(&c["message"]);
    let sig = hex(&c["signature"]);

    let std = verify_cofactorless(&public, &msg, &sig);
    let consensus = verify_zip215(&public, &msg, &sig);
    eq(
        "crypto_ed25519_verify",
        std.is_ok(),
        want_bool(c, "crypto_ed25519_verify")?,
    )
    .map_err(|e| format!("{e} ({std:?})"))?;
    eq(
        "ed25519consensus_verify",
        consensus.is_ok(),
        want_bool(c, "ed25519consensus_verify")?,
    )
    .map_err(|e| format!("{e} ({consensus:?})"))?;

    // The kind of failure must agree with Go's helper columns where they
    // decide it: an undecodable A is reported as such by both verifiers.
    if public.len() == 32 && sig.len() == 64 && !want_bool(c, "a_decodes")? {
        eq("stdlib error", std, Err(VerifyError::InvalidPublicKey))?;
        eq(
            "consensus error",
            consensus,
            Err(VerifyError::InvalidPublicKey),
        )?;
        eq("is_small_order", is_small_order(&public), false)?;
    }
    // A non-canonical S never verifies.
    if sig.len() == 64 && !want_bool(c, "s_canonical")? && (std.is_ok() || consensus.is_ok()) {
        return Err("accepted a signature with S >= L".into());
    }
    // The hardened verifiers refuse small-order keys and otherwise agree.
    if public.len() == 32 && sig.len() == 64 && is_small_order(&public) {
        eq(
            "hardened stdlib",
            verify_cofactorless_hardened(&public, &msg, &sig),
            Err(VerifyError::SmallOrderKey),
        )?;
        eq(
            "hardened consensus",
            verify_zip215_hardened(&public, &msg, &sig),
            Err(VerifyError::SmallOrderKey),
        )?;
    } else {
        eq(
            "hardened stdlib",
            verify_cofactorless_hardened(&public, &msg, &sig),
            std,
        )?;
        eq(
            "hardened consensus",
            verify_zip215_hardened(&public, &msg, &sig),
            consensus,
        )?;
    }
    Ok(())
}

/// Bootstrap of a genesis signed with an unusual key: AUM signatures use
/// ZIP-215 exactly as Go (no hardening).
fn bootstrap(c: &Value) -> Result<(), String> {
    let genesis = tka::Aum::from_cbor(&hex(&c["genesis"])).map_err(|e| format!("decode: {e}"))?;
    eq(
        "sig_hash",
        data_encoding::HEXLOWER.encode(&genesis.sig_hash()),
        c["sig_hash"].as_str().unwrap_or("").to_owned(),
    )?;
    let mut storage = tka::MemStorage::new();
    let got = tka::Authority::bootstrap(&mut storage, genesis, 0).map(|_| ());
    super::common::outcome("bootstrap", &got, &c["verdict"])
}
