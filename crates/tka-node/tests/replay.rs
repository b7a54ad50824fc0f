//! The committed recording of a real run (node A's first run in
//! `tests/end_to_end.rs`: bootstrap, sync, a key added at control, observe
//! then enforce, over real HTTP) replays with no divergence, and a changed
//! recording is caught at the changed line.

use std::io::BufReader;
use std::path::PathBuf;
use tka_node::record::replay;

fn recording() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recordings/end_to_end_node_a.jsonl")
}

#[test]
fn committed_recording_replays() {
    let file = std::fs::File::open(recording()).unwrap();
    let report = replay(BufReader::new(file)).unwrap();
    assert_eq!(report.divergence, None);
    assert!(report.inputs >= 10, "{} inputs", report.inputs);
    let sends = report
        .outputs
        .iter()
        .flatten()
        .filter(|a| a.get("send").is_some())
        .count();
    assert!(sends >= 3, "bootstrap and syncs: {sends} requests");
}

#[test]
fn a_changed_output_is_the_first_divergence() {
    let text = std::fs::read_to_string(recording()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (i, line) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("\"installed\""))
        .expect("the recording installs an authority");
    let mut changed = lines.clone();
    let edited = line.replacen("\"installed\"", "\"changed\"", 1);
    changed[i] = &edited;
    let report = replay(BufReader::new(changed.join("\n").as_bytes())).unwrap();
    let d = report.divergence.expect("divergence");
    assert_eq!(d.line, i + 1);
    assert!(d.actual.to_string().contains("installed"));
}
