//! [`check_wire`]: every control-plane JSON parser, both sides.
//!
//! The first input byte picks the message type (modulo the number of
//! types, in the order of [`WIRE_TYPES`]); the rest is the body.

use crate::wire::*;
use std::fmt::Debug;

/// The message types, in selector order (`data[0] % WIRE_TYPES.len()`).
/// `fuzz/seed_corpus.py` writes seeds with the same numbering.
pub const WIRE_TYPES: [&str; 20] = [
    "InitBeginRequest",
    "InitBeginResponse",
    "InitFinishRequest",
    "InitFinishResponse",
    "BootstrapRequest",
    "BootstrapResponse",
    "SyncOfferRequest",
    "SyncOfferResponse",
    "SyncSendRequest",
    "SyncSendResponse",
    "DisableRequest",
    "DisableResponse",
    "SubmitSignatureRequest",
    "SubmitSignatureResponse",
    "SignaturesUsingKeyRequest",
    "SignaturesUsingKeyResponse",
    "TkaInfo",
    "MapResponseTka",
    "MapRequestTka",
    "NodeTka",
];

fn split(data: &[u8]) -> Option<(usize, &[u8])> {
    let (sel, body) = data.split_first()?;
    Some((usize::from(*sel) % WIRE_TYPES.len(), body))
}

/// Only the parse of the selected type: what the memory bound applies to.
/// Returns whether the body was accepted.
pub fn parse_wire(data: &[u8]) -> bool {
    let Some((t, body)) = split(data) else {
        return false;
    };
    match t {
        0 => InitBeginRequest::from_json(body).is_ok(),
        1 => InitBeginResponse::from_json(body).is_ok(),
        2 => InitFinishRequest::from_json(body).is_ok(),
        3 => InitFinishResponse::from_json(body).is_ok(),
        4 => BootstrapRequest::from_json(body).is_ok(),
        5 => BootstrapResponse::from_json(body).is_ok(),
        6 => SyncOfferRequest::from_json(body).is_ok(),
        7 => SyncOfferResponse::from_json(body).is_ok(),
        8 => SyncSendRequest::from_json(body).is_ok(),
        9 => SyncSendResponse::from_json(body).is_ok(),
        10 => DisableRequest::from_json(body).is_ok(),
        11 => DisableResponse::from_json(body).is_ok(),
        12 => SubmitSignatureRequest::from_json(body).is_ok(),
        13 => SubmitSignatureResponse::from_json(body).is_ok(),
        14 => SignaturesUsingKeyRequest::from_json(body).is_ok(),
        15 => SignaturesUsingKeyResponse::from_json(body).is_ok(),
        16 => TkaInfo::from_json(body).is_ok(),
        17 => MapResponseTka::from_json(body).is_ok(),
        18 => MapRequestTka::from_json(body).is_ok(),
        _ => NodeTka::from_json(body).is_ok(),
    }
}

/// Parses the body as the selected type and panics when a property is
/// violated: an accepted message re-encodes (as Go's `json.Marshal` would)
/// to JSON that parses back to the same value and re-encodes to the same
/// bytes; a request's [`Rpc::body`] parses to the same value; a response
/// parses the same through [`parse_response`] (the node's entry point) as
/// through [`FromWire::from_json`]; the parse-only map types never panic
/// when their Tailnet Lock fields are read. Returns whether the body was
/// accepted.
pub fn check_wire(data: &[u8]) -> bool {
    let Some((t, body)) = split(data) else {
        return false;
    };
    match t {
        0 => request::<InitBeginRequest>(body),
        1 => response::<InitBeginRequest>(body),
        2 => request::<InitFinishRequest>(body),
        3 => response::<InitFinishRequest>(body),
        4 => request::<BootstrapRequest>(body),
        5 => response::<BootstrapRequest>(body),
        6 => request::<SyncOfferRequest>(body),
        7 => response::<SyncOfferRequest>(body),
        8 => request::<SyncSendRequest>(body),
        9 => response::<SyncSendRequest>(body),
        10 => request::<DisableRequest>(body),
        11 => response::<DisableRequest>(body),
        12 => request::<SubmitSignatureRequest>(body),
        13 => response::<SubmitSignatureRequest>(body),
        14 => request::<SignaturesUsingKeyRequest>(body),
        15 => response::<SignaturesUsingKeyRequest>(body),
        16 => round_trip::<TkaInfo>(body).is_some_and(|i| {
            let _ = (i.head_hash(), i.enabled());
            true
        }),
        17 => match MapResponseTka::from_json(body) {
            Ok(m) => {
                if let Some(info) = &m.tka_info {
                    let _ = (info.head_hash(), info.enabled());
                    let j = info.to_json();
                    let back = TkaInfo::from_json_capped(&j, usize::MAX)
                        .unwrap_or_else(|e| panic!("TKAInfo from a map response: {e}"));
                    assert_eq!(&back, info, "TKAInfo from a map response changed");
                }
                let _ = format!("{m:?}");
                true
            }
            Err(_) => false,
        },
        18 => MapRequestTka::from_json(body)
            .map(|m| format!("{m:?}"))
            .is_ok(),
        _ => NodeTka::from_json(body).map(|n| format!("{n:?}")).is_ok(),
    }
}

/// Parse, re-encode, parse again: same value, and the re-encoding is a
/// fixed point.
fn round_trip<T: FromWire + ToWire + PartialEq + Debug>(body: &[u8]) -> Option<T> {
    let v = T::from_json(body).ok()?;
    let j = v.to_json();
    let back = T::from_json_capped(&j, usize::MAX).unwrap_or_else(|e| {
        panic!(
            "re-encoding {} of an accepted message does not parse: {e}",
            String::from_utf8_lossy(&j)
        )
    });
    assert_eq!(
        back,
        v,
        "round trip through {} changed the message",
        String::from_utf8_lossy(&j)
    );
    assert_eq!(back.to_json(), j, "re-encoding is not a fixed point");
    let _ = format!("{v:?}");
    Some(v)
}

fn request<R: Rpc + FromWire + PartialEq + Debug>(body: &[u8]) -> bool {
    let Some(v) = round_trip::<R>(body) else {
        return false;
    };
    let sent = v.body();
    let back = R::from_json_capped(&sent, usize::MAX)
        .unwrap_or_else(|e| panic!("request body as the client sends it does not parse: {e}"));
    assert_eq!(
        back, v,
        "request body as the client sends it parses differently"
    );
    true
}

fn response<R: Rpc>(body: &[u8]) -> bool
where
    R::Response: ToWire + PartialEq + Debug,
{
    let direct = round_trip::<R::Response>(body);
    let via = parse_response::<R>(body).ok();
    assert_eq!(via, direct, "parse_response and from_json disagree");
    direct.is_some()
}
