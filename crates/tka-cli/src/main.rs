//! `tka`: inspect Tailnet Lock structures.
//!
//! `tka inspect <hex|base64|@file>` decodes an AUM (or, failing that, a
//! node-key signature) and prints its fields and hashes. Errors are printed
//! as text with a non-zero exit status.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use std::fmt::Write as _;
use std::process::ExitCode;
use tka::{Aum, AumHash, Key, NodeKey, NodeKeySignature, State};

/// Tailnet Lock tools.
#[derive(Parser)]
#[command(name = "tka", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an AUM or node-key signature and print its fields and hashes.
    Inspect {
        /// The encoding: hex, standard or URL-safe base64 (padded or not),
        /// or `@path` to read a file holding raw bytes, hex or base64.
        input: String,
        /// What to decode the bytes as; `auto` tries an AUM first, then a
        /// node-key signature.
        #[arg(long = "as", value_enum, default_value_t = As::Auto)]
        as_: As,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum As {
    Auto,
    Aum,
    Nks,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { input, as_ } => match inspect(&input, as_) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tka: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Decodes text as hex, then as base64 (standard or URL-safe, padded or not).
fn decode_text(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return None;
    }
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(&s);
    use data_encoding::{BASE64, BASE64URL, BASE64URL_NOPAD, BASE64_NOPAD, HEXLOWER_PERMISSIVE};
    [
        &HEXLOWER_PERMISSIVE,
        &BASE64,
        &BASE64_NOPAD,
        &BASE64URL,
        &BASE64URL_NOPAD,
    ]
    .iter()
    .find_map(|enc| enc.decode(s.as_bytes()).ok())
}

/// The largest file `@path` reads. A hex or base64 text of the largest
/// wire body (10 MiB) fits; anything bigger is refused before it is read.
const MAX_INPUT_FILE: u64 = 32 << 20;

/// Reads at most `cap` bytes of `path`, failing if the file holds more.
/// The cap is applied while reading, so `/dev/zero` or a growing file
/// cannot exhaust memory.
fn read_capped(path: &str, cap: u64) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut raw = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if raw.len() as u64 > cap {
        return Err(format!("{path} is larger than {cap} bytes; refusing to read it"));
    }
    Ok(raw)
}

/// The bytes named by the command-line argument.
fn input_bytes(arg: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = arg.strip_prefix('@') {
        let raw = read_capped(path, MAX_INPUT_FILE)?;
        // A file holding hex or base64 text is decoded; anything else is
        // taken as the raw encoding.
        let text = std::str::from_utf8(&raw).ok().and_then(decode_text);
        return Ok(text.unwrap_or(raw));
    }
    decode_text(arg)
        .ok_or_else(|| "input is neither hex nor base64 (use @file for raw bytes)".into())
}

fn inspect(arg: &str, as_: As) -> Result<String, String> {
    let bytes = input_bytes(arg)?;
    match as_ {
        As::Aum => Aum::from_cbor(&bytes)
            .map(|a| show_aum(&a))
            .map_err(|e| format!("not an AUM: {e}")),
        As::Nks => NodeKeySignature::from_cbor(&bytes)
            .map(|s| show_nks_top(&s))
            .map_err(|e| format!("not a node-key signature: {e}")),
        As::Auto => match Aum::from_cbor(&bytes) {
            Ok(a) => Ok(show_aum(&a)),
            Err(ae) => NodeKeySignature::from_cbor(&bytes)
                .map(|s| show_nks_top(&s))
                .map_err(|se| format!("not an AUM ({ae}) nor a node-key signature ({se})")),
        },
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
