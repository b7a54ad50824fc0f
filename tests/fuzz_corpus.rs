//! Replays every committed fuzz input (`fuzz/corpus/<target>/*`) through the
//! same property checks the cargo-fuzz targets run, so a regression in the
//! codec is caught by `cargo test` on stable, without nightly or libFuzzer.

use std::path::{Path, PathBuf};

/// The check a fuzz target runs, by target (directory) name.
fn check_for(target: &str) -> Option<fn(&[u8])> {
    match target {
        "aum_decode" => Some(|d| {
            let _ = tka::fuzzing::check_aum(d);
        }),
        "nks_decode_verify" => Some(|d| {
            let _ = tka::fuzzing::check_nks(d);
        }),
        "key_decode" => Some(|d| {
            let _ = tka::fuzzing::check_key(d);
        }),
        _ => None,
    }
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn replay_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    let mut accepted_total = 0usize;
    let mut seen_targets = Vec::new();
    for dir in sorted_entries(&root) {
        let target = dir.file_name().unwrap().to_string_lossy().to_string();
        let check = check_for(&target)
            .unwrap_or_else(|| panic!("corpus directory for unknown target {target}"));
        let files = sorted_entries(&dir);
        assert!(!files.is_empty(), "empty corpus for {target}");
        for f in &files {
            let data = std::fs::read(f).expect("read corpus file");
            if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}", f.display()));
            }
        }
        // Count accepted inputs so an always-rejecting decoder cannot pass.
        accepted_total += files
            .iter()
            .filter(|f| {
                let d = std::fs::read(f).expect("read corpus file");
                match target.as_str() {
                    "aum_decode" => tka::Aum::from_cbor(&d).is_ok(),
                    "nks_decode_verify" => tka::NodeKeySignature::from_cbor(&d).is_ok(),
                    _ => tka::Key::from_cbor(&d).is_ok(),
                }
            })
            .count();
        println!("fuzz corpus: {target}: {} inputs replayed", files.len());
        seen_targets.push(target);
    }
    for t in ["aum_decode", "nks_decode_verify", "key_decode"] {
        assert!(
            seen_targets.iter().any(|s| s == t),
            "no corpus for target {t}"
        );
    }
    assert!(accepted_total > 100, "only {accepted_total} inputs decoded");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
