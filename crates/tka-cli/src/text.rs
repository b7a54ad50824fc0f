//! Text output in the layout of Go's `tailscale lock status` and
//! `tailscale lock log`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tka::admin::{LogEntry, Status};
use tka::{Aum, AumKind, Key, NodeKey, NodeKeySignature};

fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

fn tlpub(b: &[u8]) -> String {
    format!("tlpub:{}", hex(b))
}

/// Go's `NodeKeySignature.String()`: one field per line, nested
/// signatures indented two spaces per level.
pub fn nks_string(s: &NodeKeySignature) -> String {
    let mut out = String::new();
    fn add(out: &mut String, s: &NodeKeySignature, depth: usize) {
        let ind = "  ".repeat(depth);
        let _ = writeln!(out, "{ind}SigKind: {}", s.sig_kind);
        if let Some(p) = s.pubkey.as_deref().filter(|p| !p.is_empty()) {
            let text = match NodeKey::from_binary(p) {
                Ok(k) => short_node_key(&k),
                Err(e) => format!("<error: {e}>"),
            };
            let _ = writeln!(out, "{ind}Pubkey: {text}");
        }
        if let Some(k) = s.key_id.as_deref().filter(|k| !k.is_empty()) {
            let _ = writeln!(out, "{ind}KeyID: {}", tlpub(k));
        }
        if let Some(k) = s.wrapping_pubkey.as_deref().filter(|k| !k.is_empty()) {
            let _ = writeln!(out, "{ind}WrappingPubkey: {}", tlpub(k));
        }
        if let Some(n) = &s.nested {
            let _ = writeln!(out, "{ind}Nested:");
            add(out, n, depth + 1);
        }
    }
    add(&mut out, s, 0);
    out.trim().to_string()
}

/// Go's `NodePublic.ShortString()`: `[` + the first five characters of
/// the key's standard base64 + `]` (empty for the zero key).
pub fn short_node_key(k: &NodeKey) -> String {
    if k.0 == [0; 32] {
        return String::new();
    }
    let b64 = data_encoding::BASE64.encode(&k.0[..4]);
    format!("[{}]", &b64[..5])
}

/// `tailscale lock status` text. `program` is how to invoke this tool in
/// the suggested `sign` command.
pub fn status(s: &Status, program: &str) -> String {
    let mut out = String::new();
    if s.enabled {
        out.push_str("Tailnet Lock is ENABLED.\n\n");
    } else {
        out.push_str("Tailnet Lock is NOT enabled.\n\n");
    }
    if let (true, Some(nk), Some(pk)) = (s.enabled, s.node_key, s.public_key) {
        if s.node_key_signed {
            out.push_str("This node is accessible under Tailnet Lock. Node signature:\n");
            let sig = s.node_key_signature.clone().unwrap_or_default();
            let _ = writeln!(out, "{}", nks_string(&sig));
        } else {
            out.push_str(
                "This node is LOCKED OUT by Tailnet Lock, and action is required to establish connectivity.\n",
            );
            let _ = writeln!(
                out,
                "Run the following command on a node with a trusted key:\n\t{program} sign {nk} {}",
                pk.to_tlpub()
            );
        }
        out.push('\n');
    }
    if let Some(pk) = s.public_key {
        let _ = writeln!(out, "This node's tailnet-lock key: {}\n", pk.to_tlpub());
    }
    if s.enabled && !s.trusted_keys.is_empty() {
        out.push_str("Trusted signing keys:\n");
        for k in &s.trusted_keys {
            let public = k.public.as_deref().unwrap_or_default();
            let _ = write!(out, "\t{}\t{}\t", tlpub(public), k.votes);
            if s.public_key.is_some_and(|pk| pk.0[..] == *public) {
                out.push_str("(self)");
            }
            let meta = k.meta.as_ref();
            if meta.and_then(|m| m.get("purpose")).map(|v| &**v) == Some("pre-auth key") {
                match meta
                    .and_then(|m| m.get("authkey_stableid"))
                    .filter(|s| !s.is_empty())
                {
                    Some(id) => {
                        let _ = write!(out, "(pre-auth key {id})");
                    }
                    None => out.push_str("(pre-auth key)"),
                }
            }
            out.push('\n');
        }
    }
    if s.enabled && !s.filtered_peers.is_empty() {
        out.push_str(
            "\nThe following nodes are locked out by tailnet lock and cannot connect to other nodes:\n",
        );
        for p in &s.filtered_peers {
            let _ = writeln!(
                out,
                "\t{}\t{}\t{}\t{}",
                p.name,
                p.tailscale_ips.join(","),
                p.stable_id,
                p.node_key
            );
        }
    }
    out
}

/// Go's `%+v` of a `map[string]string`: `map[k:v k2:v2]`, keys sorted.
fn go_map(m: &tka::Meta) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", items.join(" "))
}

fn print_key(out: &mut String, k: &Key, prefix: &str) {
    let _ = writeln!(out, "{prefix}Type: {}", k.kind);
    match k.id() {
        Ok(id) => {
            let _ = writeln!(out, "{prefix}KeyID: {}", tlpub(id));
        }
        Err(e) => {
            let _ = writeln!(out, "{prefix}KeyID: <Error: {e}>");
        }
    }
    if let Some(m) = &k.meta {
        let _ = writeln!(out, "{prefix}Metadata: {}", go_map(m));
    }
}

/// One stanza of `tailscale lock log` (Go's `nlDescribeUpdate`), without
/// the blank line that follows it. Where Go prints the address of the
/// votes pointer for an update-key AUM, this prints the number.
pub fn log_stanza(e: &LogEntry, color: bool) -> String {
    let (yellow, clear) = if color {
        ("\x1b[33m", "\x1b[0m")
    } else {
        ("", "")
    };
    let a = &e.aum;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{yellow}update {} ({}){clear}",
        a.hash(),
        a.message_kind
    );
    match a.message_kind {
        AumKind::ADD_KEY => {
            if let Some(k) = &a.key {
                print_key(&mut out, k, "");
            }
        }
        AumKind::REMOVE_KEY => {
            let _ = writeln!(
                out,
                "KeyID: {}",
                tlpub(a.key_id.as_deref().unwrap_or_default())
            );
        }
        AumKind::UPDATE_KEY => {
            let _ = writeln!(
                out,
                "KeyID: {}",
                tlpub(a.key_id.as_deref().unwrap_or_default())
            );
            if let Some(v) = a.votes {
                let _ = writeln!(out, "Votes: {v}");
            }
            if let Some(m) = &a.meta {
                let _ = writeln!(out, "Metadata: {}", go_map(m));
            }
        }
        AumKind::CHECKPOINT => {
            out.push_str("Disablement values:\n");
            let st = a.state.clone().unwrap_or_default();
            for v in st.disablement_values.iter().flatten() {
                let _ = writeln!(out, " - {}", hex(v.as_deref().unwrap_or_default()));
            }
            out.push_str("Keys:\n");
            for k in st.keys() {
                print_key(&mut out, k, "  ");
            }
        }
        _ => {
            out.push_str(&go_struct_json(a));
            out.push('\n');
        }
    }
    out
}

/// `tailscale lock log` text: every stanza followed by a blank line.
pub fn log(entries: &[LogEntry], color: bool) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&log_stanza(e, color));
        out.push('\n');
    }
    out
}

fn go_meta(m: &Option<tka::Meta>) -> Option<BTreeMap<String, String>> {
    m.as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
}

/// Go's `encoding/json` of the `tka.AUM` struct with a tab indent, for
/// the kinds the log has no layout for (no-op, unknown).
fn go_struct_json(a: &Aum) -> String {
    let b64 = |b: &Option<Vec<u8>>| b.as_deref().map(|b| data_encoding::BASE64.encode(b));
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct GoKey {
        kind: u8,
        votes: u64,
        public: Option<String>,
        meta: Option<BTreeMap<String, String>>,
    }
    #[derive(Serialize)]
    struct GoSig {
        #[serde(rename = "KeyID")]
        key_id: Option<String>,
        #[serde(rename = "Signature")]
        signature: Option<String>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct GoState {
        #[serde(rename = "LastAUMHash")]
        last_aum_hash: Option<String>,
        disablement_values: Option<Vec<Option<String>>>,
        keys: Option<Vec<GoKey>>,
        #[serde(rename = "StateID1")]
        state_id1: u64,
        #[serde(rename = "StateID2")]
        state_id2: u64,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct GoAum {
        message_kind: u8,
        #[serde(rename = "PrevAUMHash")]
        prev_aum_hash: Option<String>,
        key: Option<GoKey>,
        #[serde(rename = "KeyID")]
        key_id: Option<String>,
        state: Option<GoState>,
        votes: Option<u64>,
        meta: Option<BTreeMap<String, String>>,
        signatures: Option<Vec<GoSig>>,
    }
    let key = |k: &Key| GoKey {
        kind: k.kind.0,
        votes: k.votes,
        public: b64(&k.public),
        meta: go_meta(&k.meta),
    };
    let v = GoAum {
        message_kind: a.message_kind.0,
        prev_aum_hash: b64(&a.prev_aum_hash),
        key: a.key.as_ref().map(key),
        key_id: b64(&a.key_id),
        state: a.state.as_ref().map(|s| GoState {
            last_aum_hash: s.last_aum_hash.map(|h| h.to_string()),
            disablement_values: s
                .disablement_values
                .as_ref()
                .map(|v| v.iter().map(b64).collect()),
            keys: s.keys.as_ref().map(|ks| ks.iter().map(key).collect()),
            state_id1: s.state_id1,
            state_id2: s.state_id2,
        }),
        votes: a.votes,
        meta: go_meta(&a.meta),
        signatures: a.signatures.as_ref().map(|ss| {
            ss.iter()
                .map(|s| GoSig {
                    key_id: b64(&s.key_id),
                    signature: b64(&s.signature),
                })
                .collect()
        }),
    };
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("plain data always serializes");
    let mut s = String::from_utf8(buf).expect("JSON is UTF-8");
    s.push('\n');
    s
}
