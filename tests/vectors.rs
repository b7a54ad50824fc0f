//! Runs every case of every vector file in `vectors/` and, when the environment
//! variable `TKA_VECTORS` names another directory in the same format, every case
//! there too. Prints one line per file: `vectors: <file> N passed, M failed`
//! and a total, and fails if any case fails. A file with no handler counts
//! every case as failed.

use serde_json::Value;
use std::path::{Path, PathBuf};

#[path = "vectors/aum.rs"]
mod aum;
#[path = "vectors/bootstrap.rs"]
mod bootstrap;
#[path = "vectors/chains.rs"]
mod chains;
#[path = "vectors/common.rs"]
mod common;
#[path = "vectors/decode.rs"]
mod decode;
#[path = "vectors/differential.rs"]
mod differential;
#[path = "vectors/ed25519.rs"]
mod ed25519;
#[path = "vectors/kdf.rs"]
mod kdf;
#[path = "vectors/key.rs"]
mod key;
#[path = "vectors/sig.rs"]
mod sig;
#[path = "vectors/sync.rs"]
mod sync;
#[path = "vectors/tailchonk.rs"]
mod tailchonk;

use common::Outcome;

/// The handler for one file, chosen by the file's stem.
type Handler = fn(&Value, &Path) -> Outcome;

fn handler_for(stem: &str) -> Option<Handler> {
    match stem {
        "aum" => Some(aum::case),
        "bootstrap" => Some(bootstrap::case),
        "decode" => Some(decode::case),
        "differential" => Some(differential::case),
        "key" => Some(key::case),
        "ed25519" => Some(ed25519::case),
        "sig" | "hardening" => Some(sig::case),
        "chains" => Some(chains::case),
        "tailchonk" => Some(tailchonk::case),
        "sync" => Some(sync::case),
        "kdf" => Some(kdf::case),
        _ => None,
    }
}

fn run_dir(dir: &Path, failures: &mut Vec<String>, total: &mut (usize, usize)) {
    std::panic::set_hook(Box::new(|_| {}));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read vector directory {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector files in {}", dir.display());
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).expect("read vector file");
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let cases = doc["cases"].as_array().expect("cases array");
        let (mut passed, mut failed) = (0usize, 0usize);
        let handler = handler_for(&stem);
        for case in cases {
            let name = case["name"].as_str().unwrap_or("<unnamed>");
            let outcome = match handler {
                Some(h) => {
                    let r = std::panic::catch_unwind(|| h(case, dir));
                    r.unwrap_or_else(|_| Outcome::Fail("handler panicked".into()))
                }
                None => Outcome::Fail(format!("no handler for {stem}.json")),
            };
            match outcome {
                Outcome::Pass => passed += 1,
                Outcome::Fail(why) => {
                    failed += 1;
                    failures.push(format!("{} {name}: {why}", path.display()));
                }
            }
        }
        println!(
            "vectors: {} {passed} passed, {failed} failed",
            path.display()
        );
        total.0 += passed;
        total.1 += failed;
    }
}

fn main() {
    let mut failures = Vec::new();
    let mut total = (0, 0);
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    run_dir(&here, &mut failures, &mut total);
    if let Ok(extra) = std::env::var("TKA_VECTORS") {
        if !extra.is_empty() {
            run_dir(Path::new(&extra), &mut failures, &mut total);
        }
    }
    println!("vectors: {} passed, {} failed", total.0, total.1);
    for f in failures.iter().take(200) {
        eprintln!("FAIL {f}");
    }
    if !failures.is_empty() {
        eprintln!("vectors: {} case(s) failed", failures.len());
        std::process::exit(1);
    }
}
