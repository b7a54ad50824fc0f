//! `tka replay FILE`: feeds a node's recording (see [`tka_node::record`])
//! to a fresh state machine and says whether it did what the recording
//! says.

use crate::input::read_capped;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tka_node::record::{replay, ReplayReport};

/// The largest recording read. A recording is one JSON line per input and
/// one per input's outputs; an hour of a busy node is far below this.
pub const MAX_RECORDING: u64 = 64 << 20;

/// Replays the recording at `path`. On a divergence the summary is
/// printed to stdout and the error names the line.
pub fn run(path: &str) -> Result<String, String> {
    let raw = read_capped(path, MAX_RECORDING)?;
    let report = replay(&raw[..]).map_err(|e| format!("{path} is not a recording: {e}"))?;
    if report.inputs == 0 && report.outputs.is_empty() {
        return Err(format!("{path} is not a recording: it is empty"));
    }
    let text = summary(path, &report);
    match &report.divergence {
        None => Ok(text),
        Some(d) => {
            print!("{text}");
            Err(format!(
                "the replay of {path} diverged from the recording at line {}",
                d.line
            ))
        }
    }
}

fn summary(path: &str, r: &ReplayReport) -> String {
    let actions: usize = r.outputs.iter().map(Vec::len).sum();
    let mut out = String::new();
    let _ = writeln!(out, "Replayed {path}");
    let _ = writeln!(out, "  inputs replayed: {}", r.inputs);
    let _ = writeln!(out, "  outputs: {actions} actions");
    for (kind, n) in kinds(r) {
        let _ = writeln!(out, "    {kind}: {n}");
    }
    match &r.divergence {
        None => {
            out.push_str("  no divergence: the machine produced exactly the recorded outputs\n")
        }
        Some(d) => {
            let _ = writeln!(out, "  first divergence at line {}:", d.line);
            let _ = writeln!(out, "    recorded: {}", d.expected);
            let _ = writeln!(out, "    replayed: {}", d.actual);
        }
    }
    out
}

/// How many actions of each kind the replay produced (the kind is the
/// action's JSON tag: `send`, `persist`, `verdict`, …), by name.
fn kinds(r: &ReplayReport) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in r.outputs.iter().flatten() {
        let kind = match a {
            Value::Object(o) => o.keys().next().cloned().unwrap_or_default(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        *m.entry(kind).or_insert(0) += 1;
    }
    m
}
