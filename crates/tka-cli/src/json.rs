//! `--json` output in Go's stable `tslockjsonv1` schema
//! (`cmd/tailscale/tslockjsonv1` + `feature/tailnetlock/tslockjsonv1`):
//! the same field names and order, the same `omitzero` rules, and the
//! same encoding as Go's `json.Encoder` with a two-space indent (HTML
//! characters escaped, a trailing newline).

use serde::Serialize;
use std::collections::BTreeMap;
use tka::admin::{LogEntry, Status, StatusPeer};
use tka::{Aum, Key, NodeKeySignature};

type Meta = Option<BTreeMap<String, String>>;

/// The metadata as plain strings.
fn meta(m: &Option<tka::Meta>) -> Meta {
    m.as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `jsonoutput.ResponseEnvelope` with `SchemaVersion` "1".
#[derive(Serialize)]
struct Envelope<T: Serialize> {
    #[serde(rename = "SchemaVersion")]
    schema_version: &'static str,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct JKey {
    #[serde(skip_serializing_if = "String::is_empty")]
    kind: String,
    votes: u64,
    public: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Meta,
}

impl JKey {
    fn is_zero(&self) -> bool {
        self.kind.is_empty() && self.votes == 0 && self.public.is_empty() && self.meta.is_none()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JNks {
    sig_kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    public_key: String,
    #[serde(rename = "KeyID", skip_serializing_if = "String::is_empty")]
    key_id: String,
    signature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nested: Option<Box<JNks>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    wrapping_public_key: String,
}

#[derive(Serialize)]
struct JPeer {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "DNSName")]
    dns_name: String,
    #[serde(rename = "TailscaleIPs")]
    tailscale_ips: Option<Vec<String>>,
    #[serde(rename = "NodeKey")]
    node_key: String,
    #[serde(rename = "NodeKeySignature", skip_serializing_if = "Option::is_none")]
    node_key_signature: Option<JNks>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JStatus {
    enabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    public_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    node_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    head: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_key_signed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_key_signature: Option<JNks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted_keys: Option<Vec<JKey>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visible_peers: Option<Vec<JPeer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filtered_peers: Option<Vec<JPeer>>,
    #[serde(rename = "State", skip_serializing_if = "is_zero")]
    state_id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JState {
    #[serde(rename = "LastAUMHash", skip_serializing_if = "String::is_empty")]
    last_aum_hash: String,
    disablement_values: Option<Vec<String>>,
    keys: Option<Vec<JKey>>,
    #[serde(rename = "StateID1")]
    state_id1: u64,
    #[serde(rename = "StateID2")]
    state_id2: u64,
}

impl JState {
    fn is_zero(&self) -> bool {
        self.last_aum_hash.is_empty()
            && self.disablement_values.is_none()
            && self.keys.is_none()
            && self.state_id1 == 0
            && self.state_id2 == 0
    }
}

#[derive(Serialize)]
struct JSig {
    #[serde(rename = "KeyID")]
    key_id: String,
    #[serde(rename = "Signature")]
    signature: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JAum {
    message_kind: String,
    #[serde(rename = "PrevAUMHash", skip_serializing_if = "String::is_empty")]
    prev_aum_hash: String,
    #[serde(skip_serializing_if = "JKey::is_zero")]
    key: JKey,
    #[serde(rename = "KeyID", skip_serializing_if = "String::is_empty")]
    key_id: String,
    #[serde(skip_serializing_if = "state_is_zero")]
    state: Option<JState>,
    #[serde(skip_serializing_if = "is_zero")]
    votes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Meta,
    #[serde(skip_serializing_if = "Option::is_none")]
    signatures: Option<Vec<JSig>>,
}

fn state_is_zero(s: &Option<JState>) -> bool {
    s.as_ref().is_none_or(JState::is_zero)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JLogMessage {
    hash: String,
    #[serde(rename = "AUM")]
    aum: JAum,
    raw: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JLog {
    messages: Vec<JLogMessage>,
}

fn tlpub(b: &[u8]) -> String {
    format!("tlpub:{}", data_encoding::HEXLOWER.encode(b))
}

fn b64url(b: &[u8]) -> String {
    data_encoding::BASE64URL.encode(b)
}

/// Go's `tkaKey` (log) and `ipnTKAKey` (status) give the same text for a
/// 32-byte Ed25519 key.
fn key(k: &Key) -> JKey {
    JKey {
        kind: k.kind.to_string(),
        votes: k.votes,
        public: tlpub(k.public.as_deref().unwrap_or_default()),
        meta: meta(&k.meta),
    }
}

fn nks(s: &NodeKeySignature) -> JNks {
    let nonempty = |b: &Option<Vec<u8>>| b.as_deref().filter(|b| !b.is_empty()).map(tlpub);
    JNks {
        sig_kind: s.sig_kind.to_string(),
        // Go prints the 34-byte `np…` value after `tlpub:` here.
        public_key: nonempty(&s.pubkey).unwrap_or_default(),
        key_id: nonempty(&s.key_id).unwrap_or_default(),
        signature: b64url(s.signature.as_deref().unwrap_or_default()),
        nested: s.nested.as_deref().map(|n| Box::new(nks(n))),
        wrapping_public_key: nonempty(&s.wrapping_pubkey).unwrap_or_default(),
    }
}

fn peer(p: &StatusPeer, with_sig: bool) -> JPeer {
    JPeer {
        id: p.stable_id.clone(),
        dns_name: p.name.clone(),
        // Go appends to a nil slice: no addresses is `null`.
        tailscale_ips: (!p.tailscale_ips.is_empty()).then(|| p.tailscale_ips.clone()),
        node_key: p.node_key.to_string(),
        node_key_signature: with_sig.then(|| nks(&p.node_key_signature)),
    }
}

/// The AUM in `tslockjsonv1.AUM` form (Go's `logMessage`).
fn aum(a: &Aum) -> JAum {
    JAum {
        message_kind: a.message_kind.to_string(),
        prev_aum_hash: a
            .prev_aum_hash
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| data_encoding::BASE32_NOPAD.encode(p))
            .unwrap_or_default(),
        key: a.key.as_ref().map(key).unwrap_or_default(),
        key_id: a.key_id.as_deref().map(tlpub).unwrap_or_default(),
        state: a.state.as_ref().map(|s| JState {
            last_aum_hash: s.last_aum_hash.map(|h| h.to_string()).unwrap_or_default(),
            disablement_values: s
                .disablement_values
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.iter()
                        .map(|d| data_encoding::HEXLOWER.encode(d.as_deref().unwrap_or_default()))
                        .collect()
                }),
            keys: s
                .keys
                .as_ref()
                .filter(|k| !k.is_empty())
                .map(|ks| ks.iter().map(key).collect()),
            state_id1: s.state_id1,
            state_id2: s.state_id2,
        }),
        votes: a.votes.unwrap_or(0),
        meta: meta(&a.meta),
        signatures: a.signatures.as_ref().filter(|s| !s.is_empty()).map(|sigs| {
            sigs.iter()
                .map(|s| JSig {
                    key_id: tlpub(s.key_id.as_deref().unwrap_or_default()),
                    signature: b64url(s.signature.as_deref().unwrap_or_default()),
                })
                .collect()
        }),
    }
}

/// `tailscale lock log --json` output.
pub fn log(entries: &[LogEntry]) -> String {
    let messages = entries
        .iter()
        .map(|e| JLogMessage {
            hash: e.hash.to_string(),
            aum: aum(&e.aum),
            raw: b64url(&e.raw),
        })
        .collect();
    encode(&Envelope {
        schema_version: "1",
        body: JLog { messages },
    })
}

/// `tailscale lock status --json` output.
pub fn status(s: &Status) -> String {
    let mut out = JStatus {
        enabled: s.enabled,
        public_key: s.public_key.map(|k| k.to_tlpub()).unwrap_or_default(),
        node_key: s.node_key.map(|k| k.to_string()).unwrap_or_default(),
        head: String::new(),
        node_key_signed: None,
        node_key_signature: None,
        trusted_keys: None,
        visible_peers: None,
        filtered_peers: None,
        state_id: 0,
    };
    if s.enabled {
        out.head = s.head.map(|h| h.to_string()).unwrap_or_default();
        out.node_key_signed = Some(s.node_key_signed);
        out.node_key_signature = s.node_key_signature.as_ref().map(nks);
        out.trusted_keys = Some(s.trusted_keys.iter().map(key).collect());
        out.visible_peers = Some(s.visible_peers.iter().map(|p| peer(p, true)).collect());
        out.filtered_peers = Some(s.filtered_peers.iter().map(|p| peer(p, false)).collect());
        out.state_id = s.state_id;
    }
    encode(&Envelope {
        schema_version: "1",
        body: out,
    })
}

/// Go's `json.Encoder` with `SetIndent("", "  ")`: serde_json's pretty
/// form is the same layout; Go also escapes `<`, `>`, `&`, U+2028 and
/// U+2029 (these only occur inside strings) and ends with a newline.
fn encode<T: Serialize>(v: &T) -> String {
    let text = serde_json::to_string_pretty(v).expect("plain data always serializes");
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}
