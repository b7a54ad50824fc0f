//! Replays every committed fuzz input (`fuzz/corpus/<target>/*`) through the
//! same property checks the cargo-fuzz targets run, so a regression in the
//! codec is caught by `cargo test` on stable, without nightly or libFuzzer.

use std::path::{Path, PathBuf};

/// The check a fuzz target runs, by target (directory) name; it returns
/// whether the input was accepted (decoded, or for the stateful targets:
/// ran to the end), so an always-rejecting decoder cannot pass.
fn check_for(target: &str) -> Option<fn(&[u8]) -> bool> {
    match target {
        "aum_decode" => Some(|d| tka::fuzzing::check_aum(d).is_some()),
        "nks_decode_verify" => Some(|d| tka::fuzzing::check_nks(d).is_some()),
        "key_decode" => Some(|d| tka::fuzzing::check_key(d).is_some()),
        "wire_json" => Some(tka::fuzzing::check_wire),
        "tailchonk_decode" => Some(|d| tka::fuzzing::check_tailchonk(d).is_some()),
        "machine_events" => Some(|d| {
            tka::fuzzing::check_machine(d);
            true
        }),
        "control_handle" => Some(|d| {
            tka::fuzzing::check_control(d);
            true
        }),
        _ => None,
    }
}

/// Every target, and how many of its committed inputs must be accepted.
const TARGETS: [(&str, usize); 7] = [
    ("aum_decode", 100),
    ("nks_decode_verify", 100),
    ("key_decode", 20),
    ("wire_json", 40),
    ("tailchonk_decode", 5),
    ("machine_events", 5),
    ("control_handle", 5),
];

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
    let mut seen_targets = Vec::new();
    for dir in sorted_entries(&root) {
        let target = dir.file_name().unwrap().to_string_lossy().to_string();
        let check = check_for(&target)
            .unwrap_or_else(|| panic!("corpus directory for unknown target {target}"));
        let files = sorted_entries(&dir);
        assert!(!files.is_empty(), "empty corpus for {target}");
        let mut accepted = 0usize;
        for f in &files {
            let data = std::fs::read(f).expect("read corpus file");
            match std::panic::catch_unwind(|| check(&data)) {
                Ok(ok) => accepted += usize::from(ok),
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{}: {msg}", f.display()));
                }
            }
        }
        println!(
            "fuzz corpus: {target}: {} inputs replayed, {accepted} accepted",
            files.len()
        );
        let want = TARGETS
            .iter()
            .find(|(t, _)| *t == target)
            .map_or(1, |(_, n)| *n);
        if accepted < want {
            failures.push(format!(
                "{target}: only {accepted} inputs accepted, want at least {want}"
            ));
        }
        seen_targets.push(target);
    }
    for (t, _) in TARGETS {
        assert!(
            seen_targets.iter().any(|s| s == t),
            "no corpus for target {t}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
