//! bootstrap.json: the control-plane JSON messages. Each case gives the Go
//! type, the exact text Go's encoding/json wrote (`json`) and that text
//! re-parsed (`json_value`, keys sorted).
//!
//! For the TKA message types the text must round-trip byte for byte. For
//! the big structs this crate does not own (MapResponse, MapRequest, Node)
//! only the Tailnet Lock fields are checked, plus, for MapResponse, that the
//! TKAInfo object alone serializes to the exact text inside Go's output.

use super::common::{eq, Outcome};
use serde_json::Value;
use std::fmt::Debug;
use std::path::Path;
use tka::wire::*;
use tka::{AumHash, NodeKey};

pub fn case(c: &Value, _dir: &Path) -> Outcome {
    run(c).into()
}

fn run(c: &Value) -> Result<(), String> {
    let go_type = c["go_type"].as_str().ok_or("no go_type")?;
    let json = c["json"].as_str().ok_or("no json")?;
    // The alphabetical re-serialization of the same value.
    let sorted = serde_json::to_string(&c["json_value"]).map_err(|e| e.to_string())?;
    let ty = go_type.strip_prefix("*tailcfg.").unwrap_or(go_type);
    match ty {
        "TKAInitBeginRequest" => round_trip::<InitBeginRequest>(json, &sorted),
        "TKAInitBeginResponse" => round_trip::<InitBeginResponse>(json, &sorted),
        "TKAInitFinishRequest" => round_trip::<InitFinishRequest>(json, &sorted),
        "TKAInitFinishResponse" => round_trip::<InitFinishResponse>(json, &sorted),
        "TKAInfo" => round_trip::<TkaInfo>(json, &sorted),
        "TKABootstrapRequest" => round_trip::<BootstrapRequest>(json, &sorted),
        "TKABootstrapResponse" => round_trip::<BootstrapResponse>(json, &sorted),
        "TKASyncOfferRequest" => round_trip::<SyncOfferRequest>(json, &sorted),
        "TKASyncOfferResponse" => round_trip::<SyncOfferResponse>(json, &sorted),
        "TKASyncSendRequest" => round_trip::<SyncSendRequest>(json, &sorted),
        "TKASyncSendResponse" => round_trip::<SyncSendResponse>(json, &sorted),
        "TKADisableRequest" => round_trip::<DisableRequest>(json, &sorted),
        "TKADisableResponse" => round_trip::<DisableResponse>(json, &sorted),
        "TKASubmitSignatureRequest" => round_trip::<SubmitSignatureRequest>(json, &sorted),
        "TKASubmitSignatureResponse" => round_trip::<SubmitSignatureResponse>(json, &sorted),
        "TKASignaturesUsingKeyRequest" => round_trip::<SignaturesUsingKeyRequest>(json, &sorted),
        "TKASignaturesUsingKeyResponse" => round_trip::<SignaturesUsingKeyResponse>(json, &sorted),
        "MapResponse" => map_response(json, &sorted, &c["json_value"]),
        "MapRequest" => map_request(json, &sorted, &c["json_value"]),
        "Node" => node(json, &sorted, &c["json_value"]),
        other => Err(format!("unknown go_type {other}")),
    }
}

fn parse<T: FromWire>(text: &str, what: &str) -> Result<T, String> {
    T::from_json(text.as_bytes()).map_err(|e| format!("parsing {what}: {e}"))
}

/// Go's text parses, writes back identically, and the key-sorted text of
/// the same value parses to the same message.
fn round_trip<T: FromWire + ToWire + PartialEq + Debug>(
    json: &str,
    sorted: &str,
) -> Result<(), String> {
    let m: T = parse(json, "json")?;
    let out = String::from_utf8(m.to_json()).map_err(|e| e.to_string())?;
    eq("re-serialized", out.as_str(), json)?;
    let again: T = parse(sorted, "json_value")?;
    eq("json_value parse", &again, &m)
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v[name]
        .as_str()
        .ok_or_else(|| format!("json_value.{name} is not a string"))
}

fn key_field(v: &Value, name: &str) -> Result<NodeKey, String> {
    str_field(v, name)?
        .parse()
        .map_err(|e| format!("{name}: {e}"))
}

fn map_response(json: &str, sorted: &str, v: &Value) -> Result<(), String> {
    let m: MapResponseTka = parse(json, "json")?;
    eq(
        "json_value parse",
        &parse::<MapResponseTka>(sorted, "json_value")?,
        &m,
    )?;
    let info = m.tka_info.as_ref().ok_or("TKAInfo missing")?;
    let want_head = v["TKAInfo"]["Head"].as_str().unwrap_or("");
    eq("TKAInfo.Head", info.head.as_str(), want_head)?;
    eq(
        "TKAInfo.Disabled",
        info.disabled,
        v["TKAInfo"]["Disabled"].as_bool().unwrap_or(false),
    )?;
    let want: Option<AumHash> = if want_head.is_empty() {
        None
    } else {
        Some(want_head.parse().map_err(|e| format!("vector head: {e}"))?)
    };
    eq("TKAInfo head hash", info.head_hash().ok(), Some(want))?;
    let text = String::from_utf8(info.to_json()).map_err(|e| e.to_string())?;
    let inner = format!("\"TKAInfo\":{text}");
    if !json.contains(&inner) {
        return Err(format!("TKAInfo wrote {text}, not found in Go's {json}"));
    }
    Ok(())
}

fn map_request(json: &str, sorted: &str, v: &Value) -> Result<(), String> {
    let m: MapRequestTka = parse(json, "json")?;
    eq(
        "json_value parse",
        &parse::<MapRequestTka>(sorted, "json_value")?,
        &m,
    )?;
    eq("Version", Some(m.version), v["Version"].as_i64())?;
    eq("NodeKey", m.node_key, key_field(v, "NodeKey")?)?;
    let head = str_field(v, "TKAHead")?;
    eq(
        "TKAHead",
        m.tka_head.map(|h| h.to_string()),
        Some(head.to_string()),
    )
}

fn node(json: &str, sorted: &str, v: &Value) -> Result<(), String> {
    let n: NodeTka = parse(json, "json")?;
    eq(
        "json_value parse",
        &parse::<NodeTka>(sorted, "json_value")?,
        &n,
    )?;
    eq("ID", Some(n.id), v["ID"].as_i64())?;
    eq("Key", n.key, key_field(v, "Key")?)?;
    let sig = str_field(v, "KeySignature")?;
    let want = data_encoding::BASE64
        .decode(sig.as_bytes())
        .map_err(|e| format!("vector KeySignature: {e}"))?;
    eq("KeySignature", &n.key_signature, &want)?;
    eq(
        "UnsignedPeerAPIOnly",
        n.unsigned_peer_api_only,
        v["UnsignedPeerAPIOnly"].as_bool().unwrap_or(false),
    )
}
