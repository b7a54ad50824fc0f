//! Recordings of real runs: every input the driver feeds the machine, with
//! its time and raw bytes, and the outputs it produced, as JSON lines; and
//! [`replay`], which feeds a recording to a fresh machine and reports the
//! first output that differs.
//!
//! The hand-written traces of the core (`tests/traces`) name their fixtures
//! (`"admin"`, `"G"`) so they can be written by hand; a recording holds the
//! actual bytes a run saw, so it replays exactly what happened.
//!
//! # Format
//!
//! One JSON object per line:
//!
//! * first, `{"recording": 1, "start": MS, "node_key": "nodekey:…", "mode":
//!   "observe"|"enforce", "config": {…}, "persisted": {"aums": [[HEX,
//!   SECS]…], "laa": HASH|null, "disallowed": [[A, B]…]}}`: what the machine
//!   was built from (times are milliseconds since the Unix epoch);
//! * then for each input, `{"t": MS, "in": INPUT}` followed by
//!   `{"out": [ACTION…]}`, the actions it produced in order.
//!
//! `INPUT` is `{"control": {"enabled": B, "head": HASH|null}}`,
//! `{"response": {"req": N, "body": TEXT}}` (or `"hex"` for a body that is
//! not UTF-8), `{"failed": {"req": N, "reason": TEXT}}`, `{"peers": [PEER…]}`,
//! `{"peer": PEER}`, `{"peer_removed": ID}`, `{"self_sig": HEX}`,
//! `"local_disable"`, `{"persist_failed": {"reason": TEXT, "stored":
//! PERSISTED}}`, `{"mode": "observe"|"enforce"}` or `"timeout"`, where
//! `PEER` is `{"id": N, "key": "nodekey:…", "sig": HEX, "api_only": B}` and
//! `PERSISTED` is the header's `"persisted"` object.
//! Hashes are Go's base32 text. `ACTION` is what [`action_json`] writes.

use bytes::Bytes;
use serde_json::{json, Value};
use std::fmt;
use std::io::{BufRead, Write};
use tka::machine::{
    Action, Config, Event, HealthIssue, Level, Mode, Peer, PeerVerdict, Persisted, RejectReason,
    RequestId, Time, TkaMachine, Verdict,
};
use tka::{AumHash, NodeKey, StoredAum};

const HEX: data_encoding::Encoding = data_encoding::HEXLOWER;

/// One input to the machine, as the driver feeds it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Input {
    /// [`TkaMachine::handle_event`].
    Event(Event),
    /// [`TkaMachine::set_mode`].
    Mode(Mode),
    /// [`TkaMachine::handle_timeout`].
    Timeout,
}

impl Input {
    /// Feeds this input to `m` at `now`.
    pub fn apply(self, m: &mut TkaMachine, now: Time) {
        match self {
            Input::Event(e) => m.handle_event(now, e),
            Input::Mode(mode) => m.set_mode(now, mode),
            Input::Timeout => m.handle_timeout(now),
        }
    }
}

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Observe => "observe",
        Mode::Enforce => "enforce",
    }
}

fn parse_mode(v: &Value) -> Result<Mode, String> {
    match v.as_str() {
        Some("observe") => Ok(Mode::Observe),
        Some("enforce") => Ok(Mode::Enforce),
        _ => Err(format!("bad mode {v}")),
    }
}

fn hash_json(h: Option<AumHash>) -> Value {
    h.map_or(Value::Null, |h| Value::String(h.to_string()))
}

fn peer_json(p: &Peer) -> Value {
    json!({"id": p.node_id, "key": p.node_key.to_string(), "sig": HEX.encode(&p.signature), "api_only": p.unsigned_peer_api_only})
}

/// The JSON form of an input.
pub fn input_json(input: &Input) -> Value {
    match input {
        Input::Mode(m) => json!({"mode": mode_str(*m)}),
        Input::Timeout => json!("timeout"),
        Input::Event(e) => match e {
            Event::ControlState { enabled, head } => {
                json!({"control": {"enabled": enabled, "head": hash_json(*head)}})
            }
            Event::Response { id, body } => match std::str::from_utf8(body) {
                Ok(text) => json!({"response": {"req": id.0, "body": text}}),
                Err(_) => json!({"response": {"req": id.0, "hex": HEX.encode(body)}}),
            },
            Event::RequestFailed { id, reason } => {
                json!({"failed": {"req": id.0, "reason": reason}})
            }
            Event::PeersReplaced(list) => {
                json!({"peers": list.iter().map(peer_json).collect::<Vec<_>>()})
            }
            Event::PeerUpserted(p) => json!({"peer": peer_json(p)}),
            Event::PeerRemoved(id) => json!({"peer_removed": id}),
            Event::SelfSignature(sig) => json!({"self_sig": HEX.encode(sig)}),
            Event::LocalDisable => json!("local_disable"),
            Event::PersistFailed { reason, stored } => {
                json!({"persist_failed": {"reason": reason, "stored": persisted_json(stored)}})
            }
            // Inputs added to the machine later are recorded by name only.
            #[allow(unreachable_patterns)]
            other => json!({"unsupported": format!("{other:?}")}),
        },
    }
}

fn field<'a>(v: &'a Value, k: &str) -> Result<&'a Value, String> {
    v.get(k).ok_or_else(|| format!("missing {k:?} in {v}"))
}

fn u64_of(v: &Value, k: &str) -> Result<u64, String> {
    field(v, k)?
        .as_u64()
        .ok_or_else(|| format!("{k:?} is not a number in {v}"))
}

fn hex_of(v: &Value, k: &str) -> Result<Vec<u8>, String> {
    let s = field(v, k)?
        .as_str()
        .ok_or_else(|| format!("{k:?} is not a string"))?;
    HEX.decode(s.as_bytes()).map_err(|e| format!("{k:?}: {e}"))
}

fn hash_of(v: &Value) -> Result<Option<AumHash>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s.parse().map(Some).map_err(|e| format!("hash {s}: {e}")),
        _ => Err(format!("bad hash {v}")),
    }
}

fn parse_peer(v: &Value) -> Result<Peer, String> {
    Ok(Peer {
        node_id: field(v, "id")?.as_i64().ok_or("bad peer id")?,
        node_key: field(v, "key")?
            .as_str()
            .ok_or("bad peer key")?
            .parse()
            .map_err(|e| format!("peer key: {e}"))?,
        signature: Bytes::from(hex_of(v, "sig")?),
        unsigned_peer_api_only: field(v, "api_only")?.as_bool().ok_or("bad api_only")?,
    })
}

/// Reads an input from its JSON form.
pub fn parse_input(v: &Value) -> Result<Input, String> {
    if let Some(s) = v.as_str() {
        return match s {
            "timeout" => Ok(Input::Timeout),
            "local_disable" => Ok(Input::Event(Event::LocalDisable)),
            _ => Err(format!("unknown input {s:?}")),
        };
    }
    let obj = v.as_object().ok_or_else(|| format!("bad input {v}"))?;
    let (kind, body) = obj.iter().next().ok_or("empty input")?;
    let ev = match kind.as_str() {
        "mode" => return Ok(Input::Mode(parse_mode(body)?)),
        "control" => Event::ControlState {
            enabled: field(body, "enabled")?.as_bool().ok_or("bad enabled")?,
            head: hash_of(field(body, "head")?)?,
        },
        "response" => {
            let id = RequestId(u64_of(body, "req")?);
            let bytes = match body.get("body").and_then(Value::as_str) {
                Some(text) => text.as_bytes().to_vec(),
                None => hex_of(body, "hex")?,
            };
            Event::Response {
                id,
                body: Bytes::from(bytes),
            }
        }
        "failed" => Event::RequestFailed {
            id: RequestId(u64_of(body, "req")?),
            reason: field(body, "reason")?
                .as_str()
                .ok_or("bad reason")?
                .to_string(),
        },
        "peers" => Event::PeersReplaced(
            body.as_array()
                .ok_or("bad peers")?
                .iter()
                .map(parse_peer)
                .collect::<Result<_, _>>()?,
        ),
        "peer" => Event::PeerUpserted(parse_peer(body)?),
        "peer_removed" => Event::PeerRemoved(body.as_i64().ok_or("bad peer id")?),
        "persist_failed" => Event::PersistFailed {
            reason: field(body, "reason")?
                .as_str()
                .ok_or("bad reason")?
                .to_string(),
            stored: parse_persisted(field(body, "stored")?)?,
        },
        "self_sig" => Event::SelfSignature(Bytes::from(
            HEX.decode(body.as_str().ok_or("bad self_sig")?.as_bytes())
                .map_err(|e| e.to_string())?,
        )),
        k => return Err(format!("unknown input {k:?}")),
    };
    Ok(Input::Event(ev))
}

fn health_name(h: &HealthIssue) -> String {
    format!("{h:?}")
}

fn verdict_json(pv: &PeerVerdict) -> Value {
    let (kind, error) = match &pv.verdict {
        Verdict::Authorized(_) => ("authorized", None),
        Verdict::Unfiltered => ("unfiltered", None),
        Verdict::PeerApiOnly => ("peer_api_only", None),
        Verdict::Rejected(RejectReason::MissingSignature) => ("missing_signature", None),
        Verdict::Rejected(RejectReason::InvalidSignature(e)) => {
            ("invalid_signature", Some(e.to_string()))
        }
        Verdict::Rejected(RejectReason::RotatedAway) => ("rotated_away", None),
        Verdict::Pending => ("pending", None),
        #[allow(unreachable_patterns)]
        _ => ("other", Some(format!("{:?}", pv.verdict))),
    };
    let mut v = json!({"id": pv.node_id, "key": pv.node_key.to_string(), "kind": kind, "admitted": pv.admitted});
    if let Some(e) = error {
        v["error"] = Value::String(e);
    }
    v
}

/// The JSON form of an action, as recordings hold it.
pub fn action_json(a: &Action) -> Value {
    let keys = |keys: &[tka::Key]| -> Vec<String> {
        keys.iter()
            .map(|k| HEX.encode(k.public.as_deref().unwrap_or_default()))
            .collect()
    };
    match a {
        Action::SendRequest { id, path, body } => {
            json!({"send": {"req": id.0, "path": path.as_str(), "body": String::from_utf8_lossy(body)}})
        }
        Action::Persist(d) => json!({"persist": {
            "committed": d.committed.iter().map(|a| a.hash().to_string()).collect::<Vec<_>>(),
            "purged": d.purged.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "laa": hash_json(d.last_active_ancestor),
        }}),
        Action::RemoveAllState => json!("remove_all_state"),
        Action::PersistDisallowedStateIds(ids) => json!({ "disallowed": ids }),
        Action::AuthorityInstalled {
            head,
            keys: k,
            source,
        } => {
            json!({"installed": {"head": head.to_string(), "keys": keys(k), "source": source}})
        }
        Action::AuthorityChanged { head, keys: k } => {
            json!({"changed": {"head": head.to_string(), "keys": keys(k)}})
        }
        Action::AuthorityRemoved => json!("authority_removed"),
        Action::PeerVerdict(pv) => json!({ "verdict": verdict_json(pv) }),
        Action::HealthChanged(set) => {
            json!({"health": set.iter().map(health_name).collect::<Vec<_>>()})
        }
        Action::Log { level, message } => {
            let level = match level {
                Level::Info => "info",
                _ => "warn",
            };
            json!({"log": {"level": level, "message": message}})
        }
        #[allow(unreachable_patterns)]
        other => json!({ "other": format!("{other:?}") }),
    }
}

/// The first line of a recording.
pub fn header_json(config: &Config, persisted: &Persisted, start: Time) -> Value {
    json!({
        "recording": 1,
        "start": start.0,
        "node_key": config.node_key.to_string(),
        "mode": mode_str(config.mode),
        "config": {
            "capability_version": config.capability_version,
            "request_timeout_ms": config.request_timeout_ms,
            "retry_initial_ms": config.retry_initial_ms,
            "retry_max_ms": config.retry_max_ms,
            "max_attempts": config.max_attempts,
            "min_chain": config.compaction.min_chain,
            "min_age_secs": config.compaction.min_age_secs,
        },
        "persisted": persisted_json(persisted),
    })
}

fn persisted_json(persisted: &Persisted) -> Value {
    json!({
        "aums": persisted.aums.iter().map(|(a, t)| json!([HEX.encode(&a.aum().to_cbor()), t])).collect::<Vec<_>>(),
        "laa": hash_json(persisted.last_active_ancestor),
        "disallowed": persisted.disallowed_state_ids,
    })
}

fn parse_persisted(p: &Value) -> Result<Persisted, String> {
    let mut persisted = Persisted::default();
    for a in field(p, "aums")?.as_array().ok_or("bad aums")? {
        let hex = a[0].as_str().ok_or("bad aum")?;
        let bytes = HEX.decode(hex.as_bytes()).map_err(|e| e.to_string())?;
        let aum = StoredAum::from_persisted(&bytes).map_err(|e| format!("aum: {e}"))?;
        persisted
            .aums
            .push((aum, a[1].as_u64().ok_or("bad aum time")?));
    }
    persisted.last_active_ancestor = hash_of(field(p, "laa")?)?;
    persisted.disallowed_state_ids = serde_json::from_value(field(p, "disallowed")?.clone())
        .map_err(|e| format!("disallowed: {e}"))?;
    Ok(persisted)
}

fn parse_header(v: &Value) -> Result<(Config, Persisted, Time), String> {
    if v.get("recording").and_then(Value::as_u64) != Some(1) {
        return Err("not a version 1 recording".into());
    }
    let key: NodeKey = field(v, "node_key")?
        .as_str()
        .ok_or("bad node_key")?
        .parse()
        .map_err(|e| format!("node_key: {e}"))?;
    let mut config = Config::new(key, parse_mode(field(v, "mode")?)?);
    let c = field(v, "config")?;
    config.capability_version = field(c, "capability_version")?
        .as_i64()
        .ok_or("bad capability_version")?;
    config.request_timeout_ms = u64_of(c, "request_timeout_ms")?;
    config.retry_initial_ms = u64_of(c, "retry_initial_ms")?;
    config.retry_max_ms = u64_of(c, "retry_max_ms")?;
    config.max_attempts = u64_of(c, "max_attempts")? as u32;
    config.compaction.min_chain = u64_of(c, "min_chain")? as usize;
    config.compaction.min_age_secs = u64_of(c, "min_age_secs")?;
    let persisted = parse_persisted(field(v, "persisted")?)?;
    Ok((config, persisted, Time(u64_of(v, "start")?)))
}

/// Writes a recording, line by line.
pub struct Recorder {
    out: Box<dyn Write + Send>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    /// A recorder writing to `out`, starting with the header.
    pub fn new(
        mut out: Box<dyn Write + Send>,
        config: &Config,
        persisted: &Persisted,
        start: Time,
    ) -> std::io::Result<Self> {
        writeln!(out, "{}", header_json(config, persisted, start))?;
        Ok(Recorder { out })
    }

    /// Records the actions the machine's constructor produced.
    pub fn outputs(&mut self, actions: &[Action]) -> std::io::Result<()> {
        let list: Vec<Value> = actions.iter().map(action_json).collect();
        writeln!(self.out, "{}", json!({ "out": list }))
    }

    /// Records one input.
    pub fn input(&mut self, now: Time, input: &Input) -> std::io::Result<()> {
        writeln!(self.out, "{}", json!({"t": now.0, "in": input_json(input)}))
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Where a replay first produced other outputs than the recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The recording's line (1-based) holding the expected outputs.
    pub line: usize,
    /// What the recording says.
    pub expected: Value,
    /// What the machine did.
    pub actual: Value,
}

/// The result of a replay.
#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    /// Inputs fed.
    pub inputs: usize,
    /// The outputs after each input (the first entry: the constructor's).
    pub outputs: Vec<Vec<Value>>,
    /// The first difference from the recording, if any.
    pub divergence: Option<Divergence>,
}

/// Why a recording could not be replayed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplayError {
    /// Reading failed.
    Io(std::io::Error),
    /// A line is not what a recording holds.
    Format {
        /// The line (1-based).
        line: usize,
        /// What was wrong.
        why: String,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Io(e) => write!(f, "reading the recording: {e}"),
            ReplayError::Format { line, why } => write!(f, "line {line}: {why}"),
        }
    }
}

impl std::error::Error for ReplayError {}

/// Replays a recording into a fresh machine, comparing each input's
/// outputs with the recorded ones; replay continues past a divergence (so
/// every output is reported) but only the first is kept.
pub fn replay(reader: impl BufRead) -> Result<ReplayReport, ReplayError> {
    let mut machine: Option<TkaMachine> = None;
    let mut report = ReplayReport::default();
    let mut pending: Option<Vec<Value>> = None;
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(ReplayError::Io)?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| ReplayError::Format { line: n, why };
        let v: Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        if machine.is_none() {
            let (config, persisted, start) = parse_header(&v).map_err(bad)?;
            let mut m = TkaMachine::new(config, persisted, start);
            pending = Some(drain(&mut m));
            machine = Some(m);
            continue;
        }
        let m = machine.as_mut().expect("set above");
        if let Some(out) = v.get("out") {
            let actual = pending
                .take()
                .ok_or_else(|| bad("outputs with no input before them".into()))?;
            let actual = Value::Array(actual);
            if report.divergence.is_none() && *out != actual {
                report.divergence = Some(Divergence {
                    line: n,
                    expected: out.clone(),
                    actual: actual.clone(),
                });
            }
            report
                .outputs
                .push(actual.as_array().cloned().unwrap_or_default());
        } else {
            let t = Time(u64_of(&v, "t").map_err(bad)?);
            let input = parse_input(field(&v, "in").map_err(bad)?).map_err(bad)?;
            if let Some(unmatched) = pending.take() {
                report.outputs.push(unmatched);
            }
            input.apply(m, t);
            report.inputs += 1;
            pending = Some(drain(m));
        }
    }
    if let Some(rest) = pending {
        report.outputs.push(rest);
    }
    Ok(report)
}

fn drain(m: &mut TkaMachine) -> Vec<Value> {
    std::iter::from_fn(|| m.poll_action())
        .map(|a| action_json(&a))
        .collect()
}
