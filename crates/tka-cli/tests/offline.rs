//! The `tka` verbs that need no control server, run as a binary against
//! the Go-written tailchonk directories in `vectors/tailchonk`.

use serde_json::Value;
use std::path::{Path, PathBuf};
mod common;

use common::{error_line, stdout, tka};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn chonk_case(name: &str) -> (String, Value) {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("tailchonk.json")).unwrap())
            .unwrap();
    let c = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone();
    (
        vectors()
            .join(c["dir"].as_str().unwrap())
            .display()
            .to_string(),
        c,
    )
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn hash_text(hex: &str) -> String {
    let b = data_encoding::HEXLOWER.decode(hex.as_bytes()).unwrap();
    data_encoding::BASE32_NOPAD.encode(&b)
}

#[test]
fn status_json_on_a_go_directory_has_the_tslockjsonv1_fields() {
    let (dir, c) = chonk_case("public_tailchonk_fork");
    let out = stdout(&tka(&["status", "--json", "--chonk", &dir]));
    assert!(
        out.starts_with("{\n  \"SchemaVersion\": \"1\",\n  \"Enabled\": true,\n"),
        "{out}"
    );
    assert!(out.ends_with("}\n"));
    let v: Value = serde_json::from_str(&out).unwrap();
    // No key file with --chonk: PublicKey and NodeKey are omitted (omitzero).
    let mut want = vec![
        "Enabled",
        "FilteredPeers",
        "Head",
        "NodeKeySignature",
        "NodeKeySigned",
        "SchemaVersion",
        "State",
        "TrustedKeys",
        "VisiblePeers",
    ];
    want.sort();
    let mut got = keys(&v);
    got.sort();
    assert_eq!(got, want);
    let open = &c["open"];
    assert_eq!(v["Head"], open["head_text"]);
    assert_eq!(v["State"], open["state"]["state_id1"]);
    assert_eq!(v["NodeKeySigned"], false);
    assert_eq!(v["VisiblePeers"], Value::Array(vec![]));
    assert_eq!(v["FilteredPeers"], Value::Array(vec![]));
    let tk = v["TrustedKeys"].as_array().unwrap();
    let want_keys = open["state"]["keys"].as_array().unwrap();
    assert_eq!(tk.len(), want_keys.len());
    for (k, w) in tk.iter().zip(want_keys) {
        let mut kk = keys(k);
        kk.sort();
        assert_eq!(kk, vec!["Kind", "Public", "Votes"]);
        assert_eq!(k["Kind"], "25519");
        assert_eq!(k["Votes"], w["votes"]);
        assert_eq!(
            k["Public"],
            format!("tlpub:{}", w["public"].as_str().unwrap())
        );
    }
    // The zero signature Go shows when the node's own is unknown.
    assert_eq!(v["NodeKeySignature"]["SigKind"], "invalid");
    assert_eq!(v["NodeKeySignature"]["Signature"], "");
}

#[test]
fn log_json_walks_the_go_chain_from_the_head() {
    let (dir, c) = chonk_case("public_tailchonk_fork");
    let out = stdout(&tka(&["log", "--json", "--chonk", &dir]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys(&v), vec!["Messages", "SchemaVersion"]);
    assert_eq!(v["SchemaVersion"], "1");
    let msgs = v["Messages"].as_array().unwrap();
    let chain: Vec<String> = c["open"]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|h| hash_text(h.as_str().unwrap()))
        .collect();
    let got: Vec<String> = msgs
        .iter()
        .map(|m| m["Hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, chain);
    for (i, m) in msgs.iter().enumerate() {
        let mut mk = keys(m);
        mk.sort();
        assert_eq!(mk, vec!["AUM", "Hash", "Raw"]);
        // Raw is URL-safe padded base64 of an AUM hashing to Hash.
        let raw = data_encoding::BASE64URL
            .decode(m["Raw"].as_str().unwrap().as_bytes())
            .unwrap();
        let aum = tka::Aum::from_cbor(&raw).unwrap();
        assert_eq!(aum.hash().to_string(), m["Hash"].as_str().unwrap());
        let a = &m["AUM"];
        assert_eq!(a["MessageKind"], aum.message_kind.to_string());
        if i + 1 < msgs.len() {
            assert_eq!(a["PrevAUMHash"], msgs[i + 1]["Hash"]);
        }
        for s in a["Signatures"].as_array().unwrap() {
            assert!(s["KeyID"].as_str().unwrap().starts_with("tlpub:"));
            let sig = data_encoding::BASE64URL
                .decode(s["Signature"].as_str().unwrap().as_bytes())
                .unwrap();
            assert_eq!(sig.len(), 64);
        }
        match a["MessageKind"].as_str().unwrap() {
            "checkpoint" => {
                let st = &a["State"];
                assert!(st["DisablementValues"].is_array() && st["Keys"].is_array());
                assert!(st["StateID1"].is_u64() && st["StateID2"].is_u64());
                assert!(
                    a.get("Key").is_none() && a.get("KeyID").is_none() && a.get("Votes").is_none()
                );
            }
            "add-key" => {
                assert!(a["Key"]["Public"].as_str().unwrap().starts_with("tlpub:"));
                assert!(a.get("State").is_none());
            }
            _ => {}
        }
    }
    // The genesis has no parent: PrevAUMHash is omitted.
    assert!(msgs.last().unwrap()["AUM"].get("PrevAUMHash").is_none());
    // --limit.
    let out = stdout(&tka(&["log", "--json", "--limit", "2", "--chonk", &dir]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Messages"].as_array().unwrap().len(), 2);
}

#[test]
fn log_text_follows_gos_layout_and_stops_at_compacted_history() {
    let (dir, c) = chonk_case("public_tailchonk_compacted");
    let out = stdout(&tka(&["log", "--chonk", &dir]));
    let head = c["open"]["head_text"].as_str().unwrap();
    assert!(out.starts_with(&format!("update {head} (")), "{out}");
    assert!(!out.contains("\x1b["), "no colour when not a terminal");
    assert!(
        out.contains("(checkpoint)\nDisablement values:\n - "),
        "{out}"
    );
    assert!(
        out.contains("Keys:\n  Type: 25519\n  KeyID: tlpub:"),
        "{out}"
    );
    // Only the live part of the chain (compaction purged the rest).
    let stanzas = out.matches("update ").count();
    assert_eq!(stanzas, c["open"]["chain"].as_array().unwrap().len());
}

#[test]
fn status_text_on_a_go_directory() {
    let (dir, _) = chonk_case("public_tailchonk_fork");
    let out = stdout(&tka(&["status", "--chonk", &dir]));
    assert!(out.starts_with("Tailnet Lock is ENABLED.\n\n"), "{out}");
    assert!(out.contains("Trusted signing keys:\n\ttlpub:"), "{out}");
    assert!(out.contains("\t2\t\n"), "the 2-vote key: {out}");
}

#[test]
fn inspect_a_go_directory_shows_head_chain_forks_and_purged_entries() {
    let (dir, c) = chonk_case("public_tailchonk_fork");
    let out = stdout(&tka(&["inspect", &dir]));
    assert!(
        out.contains(&format!(
            "head: {} (",
            c["open"]["head_text"].as_str().unwrap()
        )),
        "{out}"
    );
    assert!(
        out.contains("active chain (8 AUMs, oldest first):"),
        "{out}"
    );
    assert!(out.contains("forks (1 losing heads):"), "{out}");
    assert!(out.contains("trusted keys (2):"), "{out}");
    let (dir, c) = chonk_case("public_tailchonk_compacted");
    let out = stdout(&tka(&["inspect", &format!("@{dir}")]));
    let purged = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["purged_unix"].as_i64().unwrap_or(0) != 0)
        .count();
    assert!(purged > 0);
    assert!(
        out.contains(&format!("purged entries ({purged}):")),
        "{out}"
    );
    assert!(out.contains("active chain (12 AUMs"), "{out}");
    // One file of the store.
    let f = &c["files"][0];
    let path = format!("{dir}/{}", f["path"].as_str().unwrap());
    let out = stdout(&tka(&["inspect", &format!("@{path}")]));
    assert!(out.starts_with("tailchonk file\n"), "{out}");
    assert!(
        out.contains(&format!("created: {} ", f["created_unix"])),
        "{out}"
    );
}

#[test]
fn disablement_kdf_matches_go() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("kdf.json")).unwrap())
            .unwrap();
    let c = &doc["cases"][1];
    let out = stdout(&tka(&["disablement-kdf", c["secret"].as_str().unwrap()]));
    assert_eq!(out, format!("disablement:{}\n", c["kdf"].as_str().unwrap()));
    assert!(error_line(&tka(&["disablement-kdf", "xyz"])).contains("must be hex"));
}

#[test]
fn keygen_then_status_shows_the_key_and_lock_off() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("node");
    let s = state.to_str().unwrap();
    let out = stdout(&tka(&["keygen", "--state", s]));
    let tlpub = out
        .lines()
        .find_map(|l| l.strip_prefix("This node's tailnet-lock key: "))
        .unwrap()
        .to_string();
    assert!(error_line(&tka(&["keygen", "--state", s])).contains("refusing to overwrite"));
    let out = stdout(&tka(&["status", "--state", s]));
    assert_eq!(
        out,
        format!("Tailnet Lock is NOT enabled.\n\nThis node's tailnet-lock key: {tlpub}\n\n")
    );
    let v: Value =
        serde_json::from_str(&stdout(&tka(&["status", "--json=1", "--state", s]))).unwrap();
    let mut got = keys(&v);
    got.sort();
    assert_eq!(
        got,
        vec!["Enabled", "NodeKey", "PublicKey", "SchemaVersion"]
    );
    assert_eq!(v["PublicKey"], tlpub);
    assert!(error_line(&tka(&["status", "--json=2", "--state", s])).contains("schema version"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(state.join("tailnet-lock.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn bad_input_gets_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let m = missing.to_str().unwrap();
    assert!(error_line(&tka(&["log", "--chonk", m])).contains("does not exist"));
    assert!(error_line(&tka(&["status"])).contains("--state"));
    assert!(error_line(&tka(&["inspect", &format!("@{m}")])).contains("cannot read"));
    // A key file holding the wrong text.
    let state = tmp.path().join("bad");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("tailnet-lock.key"), "tlpub:00").unwrap();
    std::fs::write(
        state.join("node.key"),
        format!("nodekey:{}", "00".repeat(32)),
    )
    .unwrap();
    assert!(error_line(&tka(&["status", "--state", state.to_str().unwrap()])).contains("nlpriv:"));
    // Files are read with a cap.
    std::fs::write(state.join("tailnet-lock.key"), vec![b'a'; 10_000]).unwrap();
    assert!(
        error_line(&tka(&["status", "--state", state.to_str().unwrap()])).contains("larger than")
    );
    // revoke-keys needs keys and a key file.
    let (dir, _) = chonk_case("public_tailchonk_fork");
    assert!(error_line(&tka(&["revoke-keys", "--chonk", &dir])).contains("expected one or more"));
    assert!(error_line(&tka(&["revoke-keys", "--cosign", "zz", "--chonk", &dir])).contains("hex"));
    assert!(
        error_line(&tka(&["verify", "nodekey:00", "AA==", "--chonk", &dir])).contains("node key")
    );
}
