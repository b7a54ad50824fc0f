//! `tka inspect` and `tka verify`: decode AUMs, signatures, tailchonk
//! files and whole tailchonk directories, and check a node's signature,
//! without control.

use crate::input::{input_bytes, read_capped, MAX_INPUT_FILE};
use std::fmt::Write as _;
use std::path::Path;
use tka::tailchonk::FsEntry;
use tka::{Aum, AumHash, Authority, Key, NodeKey, NodeKeySignature, State, Storage};

/// What to decode the input as.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum As {
    /// An AUM, else a node-key signature, else a tailchonk file.
    Auto,
    /// An AUM.
    Aum,
    /// A node-key signature.
    Nks,
    /// One file of Go's on-disk AUM store.
    Chonk,
}

/// `tka inspect`: `arg` is hex or base64 text, `@file` (raw bytes, hex or
/// base64), or `@dir` / a directory path for a whole tailchonk directory.
pub fn inspect(arg: &str, as_: As) -> Result<String, String> {
    let path = arg.strip_prefix('@').unwrap_or(arg);
    if Path::new(path).is_dir() {
        return inspect_dir(Path::new(path));
    }
    let bytes = input_bytes(arg)?;
    let chonk = |b: &[u8]| FsEntry::from_cbor(b).map(|e| show_entry(&e));
    match as_ {
        As::Aum => Aum::from_cbor(&bytes)
            .map(|a| show_aum(&a))
            .map_err(|e| format!("not an AUM: {e}")),
        As::Nks => NodeKeySignature::from_cbor(&bytes)
            .map(|s| show_nks_top(&s))
            .map_err(|e| format!("not a node-key signature: {e}")),
        As::Chonk => chonk(&bytes).map_err(|e| format!("not a tailchonk file: {e}")),
        As::Auto => match Aum::from_cbor(&bytes) {
            Ok(a) => Ok(show_aum(&a)),
            Err(ae) => match NodeKeySignature::from_cbor(&bytes) {
                Ok(s) => Ok(show_nks_top(&s)),
                Err(se) => chonk(&bytes).map_err(|ce| {
                    format!(
                        "not an AUM ({ae}), a node-key signature ({se}) nor a tailchonk file ({ce})"
                    )
                }),
            },
        },
    }
}

fn show_entry(e: &FsEntry) -> String {
    let mut out = String::from("tailchonk file\n");
    let _ = writeln!(out, "created: {} (Unix seconds)", e.created_unix);
    if e.purged_unix != 0 {
        let _ = writeln!(out, "purged: {} (Unix seconds)", e.purged_unix);
    }
    match &e.aum {
        Some(a) => {
            out.push_str("---\n");
            out.push_str(&show_aum(a));
        }
        None => out.push_str("AUM: none\n"),
    }
    out
}

/// One file of a tailchonk directory, as found on disk.
struct DirFile {
    name: String,
    entry: Result<FsEntry, String>,
}

/// Every AUM file of a tailchonk directory (including purged ones and
/// ones that do not decode), each read with a cap.
fn scan_dir(dir: &Path) -> Result<(Vec<DirFile>, usize), String> {
    let rd =
        |p: &Path| std::fs::read_dir(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let mut files = Vec::new();
    let mut other = 0;
    for sub in rd(dir)? {
        let sub = sub.map_err(|e| e.to_string())?.path();
        if !sub.is_dir() {
            continue;
        }
        for f in rd(&sub)? {
            let p = f.map_err(|e| e.to_string())?.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.parse::<AumHash>().is_err() {
                other += 1;
                continue;
            }
            let entry = read_capped(&p.to_string_lossy(), MAX_INPUT_FILE)
                .and_then(|b| FsEntry::from_cbor(&b).map_err(|e| e.to_string()));
            files.push(DirFile { name, entry });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((files, other))
}

fn short(h: &AumHash) -> String {
    h.to_string()[..10].to_string()
}

fn signers(a: &Aum) -> String {
    let ids: Vec<String> = a
        .signatures()
        .iter()
        .map(|s| match s.key_id.as_deref() {
            Some(k) if k.len() >= 4 => format!("tlpub:{}…", hex(&k[..4])),
            Some(k) => hex(k),
            None => "?".into(),
        })
        .collect();
    if ids.is_empty() {
        "unsigned".into()
    } else {
        format!("signed by {}", ids.join(", "))
    }
}

fn inspect_dir(dir: &Path) -> Result<String, String> {
    let (files, other) = scan_dir(dir)?;
    let mut out = String::new();
    let _ = writeln!(out, "tailchonk directory {}", dir.display());
    let live = files
        .iter()
        .filter(|f| matches!(&f.entry, Ok(e) if e.purged_unix == 0 && e.aum.is_some()))
        .count();
    let purged: Vec<&DirFile> = files
        .iter()
        .filter(|f| matches!(&f.entry, Ok(e) if e.purged_unix != 0))
        .collect();
    let broken: Vec<&DirFile> = files.iter().filter(|f| f.entry.is_err()).collect();
    let _ = writeln!(
        out,
        "AUM files: {} ({live} live, {} purged, {} unreadable); other names skipped: {other}",
        files.len(),
        purged.len(),
        broken.len()
    );
    for f in &broken {
        if let Err(e) = &f.entry {
            let _ = writeln!(out, "  unreadable {}: {e}", f.name);
        }
    }
    let storage = tka::tailchonk::load_dir(dir).map_err(|e| e.to_string())?;
    match storage.last_active_ancestor() {
        Ok(Some(h)) => {
            let _ = writeln!(out, "last active ancestor: {h}");
        }
        _ => out.push_str("last active ancestor: none recorded\n"),
    }
    if storage.is_empty() {
        out.push_str("no live AUMs: Tailnet Lock is not enabled by this store\n");
        return Ok(out);
    }
    let a = Authority::open(&storage).map_err(|e| format!("opening the authority: {e}"))?;
    let chain = a.active_chain_hashes(&storage).map_err(|e| e.to_string())?;
    let _ = writeln!(
        out,
        "head: {} ({})",
        a.head(),
        a.head_aum().aum().message_kind
    );
    let _ = writeln!(out, "state ID: {} {}", a.state_ids().0, a.state_ids().1);
    let _ = writeln!(out, "active chain ({} AUMs, oldest first):", chain.len());
    for h in &chain {
        if let Ok(Some(s)) = storage.aum(h) {
            let _ = writeln!(
                out,
                "  {h}  {:<10}  {}",
                s.aum().message_kind.to_string(),
                signers(s.aum())
            );
        }
    }
    let on_chain: std::collections::HashSet<AumHash> = chain.iter().copied().collect();
    let heads = storage.heads().map_err(|e| e.to_string())?;
    let forks: Vec<_> = heads
        .iter()
        .filter(|h| !on_chain.contains(&h.hash()))
        .collect();
    if forks.is_empty() {
        out.push_str("forks: none\n");
    } else {
        let _ = writeln!(out, "forks ({} losing heads):", forks.len());
        for f in forks {
            let parent = f.parent().map_or("none".to_string(), |p| short(&p));
            let _ = writeln!(
                out,
                "  {}  {} (parent {parent}…)",
                f.hash(),
                f.aum().message_kind
            );
        }
    }
    let _ = writeln!(out, "trusted keys ({}):", a.keys().len());
    for k in a.keys() {
        let _ = writeln!(out, "  {}  votes {}", opt_bytes(&k.public, tlpub), k.votes);
        show_meta(&mut out, "    ", &k.meta);
    }
    let _ = writeln!(
        out,
        "disablement values: {}",
        a.state().disablement_values().count()
    );
    if !purged.is_empty() {
        let _ = writeln!(out, "purged entries ({}):", purged.len());
        for f in purged {
            if let Ok(e) = &f.entry {
                let kind = e
                    .aum
                    .as_ref()
                    .map_or("empty".to_string(), |a| a.message_kind.to_string());
                let _ = writeln!(out, "  {}  {kind}  purged at {}", f.name, e.purged_unix);
            }
        }
    }
    Ok(out)
}

/// `tka verify`: whether `sig` authorizes `node` under the authority in
/// `storage`; the text says by which key, or why not.
pub fn verify<S: Storage>(storage: &S, node: &str, sig: &str) -> Result<String, String> {
    let node: NodeKey = node
        .trim()
        .parse()
        .map_err(|e| format!("node key {node:?}: {e} (want nodekey:<64 hex digits>)"))?;
    let sig = input_bytes(sig)?;
    let a = Authority::open(storage).map_err(|e| format!("opening the authority: {e}"))?;
    let nks =
        NodeKeySignature::from_cbor(&sig).map_err(|e| format!("not a node-key signature: {e}"))?;
    match a.node_key_authorized(&node, &sig) {
        Ok(details) => {
            let by = nks.authorizing_key_id().map(tlpub).unwrap_or_default();
            let mut out = format!(
                "{node} is authorized ({} signature by {by})\n",
                nks.sig_kind
            );
            if let Some(r) = details.rotation() {
                let _ = writeln!(
                    out,
                    "rotation: {} earlier node key(s) superseded",
                    r.prev_node_keys.len()
                );
            }
            Ok(out)
        }
        Err(e) => Err(format!("{node} is NOT authorized: {e}")),
    }
}

fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

/// A tailnet-lock key ID: `tlpub:<hex>` when it is 32 bytes, else hex.
fn tlpub(b: &[u8]) -> String {
    match <[u8; 32]>::try_from(b) {
        Ok(k) => tka::NlPublic(k).to_tlpub(),
        Err(_) => format!("{} ({} bytes, not a 32-byte key)", hex(b), b.len()),
    }
}

/// A node key in its binary form: `nodekey:<hex>` when well-formed, else hex.
fn nodekey(b: &[u8]) -> String {
    match NodeKey::from_binary(b) {
        Ok(k) => k.to_string(),
        Err(e) => format!("{} (not a node key: {e})", hex(b)),
    }
}

fn opt_bytes(b: &Option<Vec<u8>>, f: impl Fn(&[u8]) -> String) -> String {
    match b {
        None => "nil".into(),
        Some(v) if v.is_empty() => "empty".into(),
        Some(v) => f(v),
    }
}

fn show_meta(out: &mut String, indent: &str, m: &Option<tka::Meta>) {
    match m {
        None => {}
        Some(m) if m.is_empty() => {
            let _ = writeln!(out, "{indent}meta: {{}}");
        }
        Some(m) => {
            let _ = writeln!(out, "{indent}meta:");
            for (k, v) in m {
                let _ = writeln!(out, "{indent}  {k:?}: {v:?}");
            }
        }
    }
}

fn show_key(out: &mut String, indent: &str, k: &Key) {
    let _ = writeln!(out, "{indent}public: {}", opt_bytes(&k.public, tlpub));
    let _ = writeln!(out, "{indent}kind: {} ({})", k.kind, k.kind.0);
    let _ = writeln!(out, "{indent}votes: {}", k.votes);
    show_meta(out, indent, &k.meta);
}

fn show_state(out: &mut String, s: &State) {
    let last = s
        .last_aum_hash
        .map_or_else(|| "nil".to_string(), |h| h.to_string());
    let _ = writeln!(out, "  last AUM hash: {last}");
    match &s.disablement_values {
        None => {
            let _ = writeln!(out, "  disablement values: nil");
        }
        Some(dv) => {
            let _ = writeln!(out, "  disablement values: {}", dv.len());
            for (i, v) in dv.iter().enumerate() {
                let _ = writeln!(out, "    [{i}] {}", opt_bytes(v, hex));
            }
        }
    }
    match &s.keys {
        None => {
            let _ = writeln!(out, "  keys: nil");
        }
        Some(ks) => {
            let _ = writeln!(out, "  keys: {}", ks.len());
            for (i, k) in ks.iter().enumerate() {
                let _ = writeln!(out, "    [{i}]");
                show_key(out, "      ", k);
            }
        }
    }
    let _ = writeln!(out, "  state ID: {} {}", s.state_id1, s.state_id2);
}

fn show_aum(a: &Aum) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "AUM");
    let _ = writeln!(out, "kind: {} ({})", a.message_kind, a.message_kind.0);
    let parent = match &a.prev_aum_hash {
        None => "none (genesis)".to_string(),
        Some(p) => match AumHash::from_slice(p) {
            Ok(h) => h.to_string(),
            Err(_) => format!("{} ({} bytes, not a 32-byte hash)", hex(p), p.len()),
        },
    };
    let _ = writeln!(out, "parent: {parent}");
    if let Some(k) = &a.key {
        let _ = writeln!(out, "key:");
        show_key(&mut out, "  ", k);
    }
    if a.key_id.is_some() {
        let _ = writeln!(out, "key ID: {}", opt_bytes(&a.key_id, tlpub));
    }
    if let Some(s) = &a.state {
        let _ = writeln!(out, "state:");
        show_state(&mut out, s);
    }
    if let Some(v) = a.votes {
        let _ = writeln!(out, "votes: {v}");
    }
    show_meta(&mut out, "", &a.meta);
    let sigs = a.signatures();
    let _ = writeln!(out, "signatures: {}", sigs.len());
    for (i, s) in sigs.iter().enumerate() {
        let _ = writeln!(out, "  [{i}] key ID: {}", opt_bytes(&s.key_id, tlpub));
        let _ = writeln!(out, "      signature: {}", opt_bytes(&s.signature, hex));
    }
    match a.static_validate() {
        Ok(()) => {
            let _ = writeln!(out, "static validation: ok");
        }
        Err(e) => {
            let _ = writeln!(out, "static validation: FAILED: {e}");
        }
    }
    let h = a.hash();
    let _ = writeln!(out, "hash: {h}");
    let _ = writeln!(out, "hash (hex): {}", h.to_hex());
    let _ = writeln!(out, "sig hash (hex): {}", hex(&a.sig_hash()));
    out
}

fn show_nks(out: &mut String, indent: &str, s: &NodeKeySignature) {
    let _ = writeln!(out, "{indent}kind: {} ({})", s.sig_kind, s.sig_kind.0);
    if s.pubkey.is_some() {
        let _ = writeln!(out, "{indent}pubkey: {}", opt_bytes(&s.pubkey, nodekey));
    }
    if s.key_id.is_some() {
        let _ = writeln!(out, "{indent}key ID: {}", opt_bytes(&s.key_id, tlpub));
    }
    if s.signature.is_some() {
        let _ = writeln!(out, "{indent}signature: {}", opt_bytes(&s.signature, hex));
    }
    if s.wrapping_pubkey.is_some() {
        let _ = writeln!(
            out,
            "{indent}wrapping pubkey: {}",
            opt_bytes(&s.wrapping_pubkey, tlpub)
        );
    }
    let _ = writeln!(out, "{indent}sig hash (hex): {}", hex(&s.sig_hash()));
    if let Some(n) = &s.nested {
        let _ = writeln!(out, "{indent}nested:");
        show_nks(out, &format!("{indent}  "), n);
    }
}

fn show_nks_top(s: &NodeKeySignature) -> String {
    let mut out = String::from("NodeKeySignature\n");
    show_nks(&mut out, "", s);
    let _ = match s.authorizing_key_id() {
        Ok(k) => writeln!(out, "authorizing key (unverified): {}", tlpub(k)),
        Err(e) => writeln!(out, "authorizing key: none ({e})"),
    };
    if let Some(w) = s.wrapping_public() {
        let _ = writeln!(out, "wrapping key (unverified): {}", tlpub(w));
    }
    out
}
