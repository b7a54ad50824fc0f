//! Runs the `tka` binary: `inspect` prints an AUM's hash as Go computes it,
//! reads node-key signatures, and fails cleanly on bad input.

use serde_json::Value;
use std::path::Path;
mod common;

use common::{stdout, tka};

fn case(file: &str, name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("vectors")
        .join(file);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

#[test]
fn inspect_genesis_aum_prints_go_hash() {
    let c = case("aum.json", "ts_aum_test_genesis_aum_2025_11_07");
    let cbor = c["cbor"].as_str().unwrap();
    let out = stdout(&tka(&["inspect", cbor]));
    assert!(out.starts_with("AUM\n"), "{out}");
    assert!(out.contains("kind: checkpoint (5)"), "{out}");
    assert!(out.contains("parent: none (genesis)"), "{out}");
    let hash_text = c["hash_text"].as_str().unwrap();
    let hash = c["hash"].as_str().unwrap();
    let sig_hash = c["sig_hash"].as_str().unwrap();
    assert!(out.contains(&format!("hash: {hash_text}\n")), "{out}");
    assert!(out.contains(&format!("hash (hex): {hash}\n")), "{out}");
    assert!(
        out.contains(&format!("sig hash (hex): {sig_hash}\n")),
        "{out}"
    );
    assert!(out.contains("static validation: ok"), "{out}");
}

#[test]
fn inspect_reads_base64_and_files() {
    let c = case("aum.json", "ts_aum_test_serialization_AddKey");
    let bytes = data_encoding::HEXLOWER
        .decode(c["cbor"].as_str().unwrap().as_bytes())
        .unwrap();
    let want = format!("hash: {}\n", c["hash_text"].as_str().unwrap());
    let b64 = data_encoding::BASE64.encode(&bytes);
    let out = stdout(&tka(&["inspect", &b64]));
    assert!(out.contains(&want), "{out}");
    assert!(out.contains("kind: add-key (1)"), "{out}");

    let dir = std::env::temp_dir().join(format!("tka-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("aum.bin");
    std::fs::write(&raw, &bytes).unwrap();
    let out = stdout(&tka(&["inspect", &format!("@{}", raw.display())]));
    assert!(out.contains(&want), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_node_key_signature() {
    let c = case("sig.json", "public_direct_valid");
    let cbor = c["cbor"].as_str().unwrap();
    let out = stdout(&tka(&["inspect", cbor]));
    assert!(out.starts_with("NodeKeySignature\n"), "{out}");
    assert!(out.contains("kind: direct (1)"), "{out}");
    let nk = c["node_key_text"].as_str().unwrap();
    assert!(out.contains(&format!("pubkey: {nk}\n")), "{out}");
    let kid = c["authorizing_key_id"].as_str().unwrap();
    assert!(out.contains(&format!("key ID: tlpub:{kid}\n")), "{out}");
    let sig_hash = c["sig_hash"].as_str().unwrap();
    assert!(
        out.contains(&format!("sig hash (hex): {sig_hash}\n")),
        "{out}"
    );
}

#[test]
fn bad_input_fails_without_panicking() {
    for input in [
        "",
        "not hex or base64!",
        "c1c1c100",
        "ff",
        "@/nonexistent/tka",
    ] {
        let o = tka(&["inspect", input]);
        assert!(!o.status.success(), "accepted {input:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("tka: "), "{input:?}: {err}");
        assert!(!err.contains("panicked"), "{input:?}: {err}");
    }
    // Forcing the other type reports that type's error.
    let o = tka(&["inspect", "--as", "nks", "a10200"]);
    assert!(!o.status.success());
}

#[test]
fn inspect_refuses_unbounded_file() {
    let o = tka(&["inspect", "@/dev/zero"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("larger than"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
