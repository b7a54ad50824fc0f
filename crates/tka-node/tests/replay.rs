//! The committed recording of a real run (node A's first run in
//! `tests/end_to_end.rs`, against the control service over real HTTP:
//! lock off, `lock init` and bootstrap, a key added at control with a peer
//! signed by it in the same netmap, observe then enforce) replays with no
//! divergence, and a changed recording is caught at the changed line.

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
    let sent: Vec<&str> = report
        .outputs
        .iter()
        .flatten()
        .filter_map(|a| a.get("send")?.get("path")?.as_str())
        .collect();
    assert_eq!(sent[0], "/machine/tka/bootstrap");
    assert!(sent.contains(&"/machine/tka/sync/send"), "{sent:?}");
    // The peer signed by the key control added was held, then admitted.
    let kinds: Vec<&str> = report
        .outputs
        .iter()
        .flatten()
        .filter_map(|a| a.get("verdict")?.get("kind")?.as_str())
        .collect();
    let pending = kinds.iter().position(|k| *k == "pending").expect("pending");
    assert_eq!(kinds[pending + 1], "authorized");
    // The one refusal is of the unsigned peer, once A enforces.
    let refused: Vec<&&str> = kinds.iter().filter(|k| k.contains("signature")).collect();
    assert_eq!(refused, [&"missing_signature"], "{kinds:?}");
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
