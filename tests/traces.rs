//! Replays the recorded traces in `tests/traces/*.jsonl` against
//! [`TkaMachine`]. The format is described in `tests/traces/README.md`.
//!
//! Every trace is replayed deterministically: its inputs are fed in order,
//! the machine's actions are drained after each one and matched against the
//! `out` lines that follow. With `TKA_TRACE_PRINT=1` the actual outputs are
//! printed in trace syntax (to help write a new trace; every printed line
//! must still be reviewed by hand before it is committed).

use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path as FsPath;
use tka::builder::Signer;
use tka::machine::{
    Action, Config, Event, HealthIssue, Level, Mode, Peer, Persisted, RejectReason, RequestId,
    StorageDelta, Time, TkaMachine, Verdict,
};
use tka::wire::{self, Path, ToWire};
use tka::{
    Aum, AumHash, AumKind, Key, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State, Storage,
    StoredAum,
};

type Res<T> = Result<T, String>;

fn seed(domain: &str, name: &str) -> [u8; 32] {
    tka::hash::blake2s256(format!("tka-trace-{domain}:{name}").as_bytes())
}

/// The network-lock key named `name`.
fn nl_key(name: &str) -> NlPrivate {
    NlPrivate::from_seed(&seed("nl", name))
}

/// The node key named `name`.
fn node_key(name: &str) -> NodeKey {
    NodeKey(seed("node", name))
}

/// Names for everything a trace refers to, and the fixtures built from them.
struct Fixtures {
    secret: String,
    state_ids: (u64, u64),
    kdf: HashMap<String, Vec<u8>>,
    aums: BTreeMap<String, Aum>,
    aum_names: HashMap<AumHash, String>,
    nl_names: HashMap<[u8; 32], String>,
    node_names: HashMap<NodeKey, String>,
}

impl Fixtures {
    fn kdf(&mut self, secret: &str) -> Vec<u8> {
        self.kdf
            .entry(secret.to_owned())
            .or_insert_with(|| {
                tka::kdf::disablement_kdf(secret.as_bytes())
                    .unwrap()
                    .to_vec()
            })
            .clone()
    }

    fn nl(&mut self, name: &str) -> NlPrivate {
        let k = nl_key(name);
        self.nl_names.insert(k.public().0, name.to_owned());
        k
    }

    fn node(&mut self, name: &str) -> NodeKey {
        let k = node_key(name);
        self.node_names.insert(k, name.to_owned());
        k
    }

    fn keys(&mut self, list: &str) -> Res<Vec<Key>> {
        list.split(',')
            .map(|k| {
                let (name, votes) = k.split_once(':').unwrap_or((k, "1"));
                let votes = votes.parse().map_err(|_| format!("bad votes in {k:?}"))?;
                Ok(self.nl(name).to_key(votes))
            })
            .collect()
    }

    /// One line of chain notation (see the README).
    fn add_chain_line(&mut self, line: &str) -> Res<()> {
        let (body, signers) = line
            .rsplit_once(" by ")
            .ok_or_else(|| format!("chain line needs `by`: {line:?}"))?;
        let mut words = body.split_whitespace();
        let name = words.next().ok_or("empty chain line")?.to_owned();
        let mut kind = words.next().ok_or_else(|| format!("no kind: {line:?}"))?;
        let mut parent = None;
        if kind == "<-" {
            let p = words.next().ok_or("no parent")?;
            parent = Some(self.aum_hash(p)?);
            kind = words.next().ok_or_else(|| format!("no kind: {line:?}"))?;
        }
        let args: Vec<&str> = words.collect();
        let mut aum = Aum {
            prev_aum_hash: parent.map(|h| h.0.to_vec()),
            ..Default::default()
        };
        let arg = |i: usize| -> Res<&str> {
            args.get(i)
                .copied()
                .ok_or_else(|| format!("missing argument {i}: {line:?}"))
        };
        match kind {
            "checkpoint" => {
                aum.message_kind = AumKind::CHECKPOINT;
                let keys = self.keys(arg(0)?)?;
                let mut secret = self.secret.clone();
                let mut ids = self.state_ids;
                for opt in &args[1..] {
                    if let Some(s) = opt.strip_prefix("secret=") {
                        secret = s.to_owned();
                    } else if let Some(s) = opt.strip_prefix("ids=") {
                        let (a, b) = s.split_once(':').ok_or("ids=A:B")?;
                        ids = (
                            a.parse().map_err(|_| "bad id")?,
                            b.parse().map_err(|_| "bad id")?,
                        );
                    } else {
                        return Err(format!("unknown checkpoint option {opt:?}"));
                    }
                }
                aum.state = Some(State {
                    last_aum_hash: None,
                    disablement_values: Some(vec![Some(self.kdf(&secret))]),
                    keys: Some(keys),
                    state_id1: ids.0,
                    state_id2: ids.1,
                });
            }
            "add" => {
                aum.message_kind = AumKind::ADD_KEY;
                aum.key = Some(self.keys(arg(0)?)?.remove(0));
            }
            "remove" => {
                aum.message_kind = AumKind::REMOVE_KEY;
                aum.key_id = Some(self.nl(arg(0)?).public().0.to_vec());
            }
            "votes" => {
                aum.message_kind = AumKind::UPDATE_KEY;
                aum.key_id = Some(self.nl(arg(0)?).public().0.to_vec());
                aum.votes = Some(arg(1)?.parse().map_err(|_| "bad votes")?);
            }
            "noop" => aum.message_kind = AumKind::NO_OP,
            k => return Err(format!("unknown AUM kind {k:?}")),
        }
        let sig_hash = aum.sig_hash();
        let mut sigs = Vec::new();
        for s in signers.split(',') {
            sigs.extend(self.nl(s.trim()).sign_aum(&sig_hash));
        }
        aum.signatures = Some(sigs);
        self.aum_names.insert(aum.hash(), name.clone());
        if self.aums.insert(name.clone(), aum).is_some() {
            return Err(format!("AUM {name} defined twice"));
        }
        Ok(())
    }

    fn aum(&self, name: &str) -> Res<&Aum> {
        self.aums
            .get(name)
            .ok_or_else(|| format!("no AUM named {name:?}"))
    }

    fn aum_hash(&self, name: &str) -> Res<AumHash> {
        match self.aums.get(name) {
            Some(a) => Ok(a.hash()),
            None => name
                .parse()
                .map_err(|_| format!("no AUM named {name:?} (and not a hash)")),
        }
    }

    fn opt_hash(&self, v: &Value) -> Res<Option<AumHash>> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => self.aum_hash(s).map(Some),
            v => Err(format!("expected an AUM name or null, got {v}")),
        }
    }

    fn hash_list(&self, v: &Value) -> Res<Vec<AumHash>> {
        names(v)?.iter().map(|n| self.aum_hash(n)).collect()
    }

    fn hash_name(&self, h: &AumHash) -> String {
        self.aum_names
            .get(h)
            .cloned()
            .unwrap_or_else(|| h.to_string())
    }

    fn nl_name(&self, k: &[u8]) -> String {
        <[u8; 32]>::try_from(k)
            .ok()
            .and_then(|k| self.nl_names.get(&k).cloned())
            .unwrap_or_else(|| format!("nlpub:{}", hex(k)))
    }

    fn node_name(&self, k: &NodeKey) -> String {
        self.node_names
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string())
    }

    /// A node-key signature for `key` from its JSON description.
    fn signature(&mut self, key: Option<NodeKey>, spec: &Value) -> Res<Bytes> {
        if spec.is_null() {
            return Ok(Bytes::new());
        }
        if let Some(h) = spec.get("bytes").and_then(Value::as_str) {
            return unhex(h).map(Bytes::from);
        }
        Ok(Bytes::from(self.nks(key, spec)?.to_cbor()))
    }

    fn nks(&mut self, key: Option<NodeKey>, spec: &Value) -> Res<NodeKeySignature> {
        let key = match spec.get("for").and_then(Value::as_str) {
            Some(n) => Some(self.node(n)),
            None => key,
        };
        let wrapping = spec
            .get("wrapping")
            .and_then(Value::as_str)
            .map(|n| self.nl(n).public().0);
        if let Some(signer) = spec.get("direct").and_then(Value::as_str) {
            let key = key.ok_or("a direct signature needs a node key")?;
            return Ok(NodeKeySignature::sign_direct(&self.nl(signer), &key, wrapping).unwrap());
        }
        if let Some(signer) = spec.get("credential").and_then(Value::as_str) {
            let w = wrapping.ok_or("a credential needs `wrapping`")?;
            return Ok(NodeKeySignature::sign_credential(&self.nl(signer), w).unwrap());
        }
        if let Some(signer) = spec.get("rotation").and_then(Value::as_str) {
            let key = key.ok_or("a rotation needs a node key")?;
            let prev = spec
                .get("prev")
                .and_then(Value::as_str)
                .map(|n| self.node(n));
            let nested = self.nks(prev, spec.get("nested").ok_or("rotation needs `nested`")?)?;
            return Ok(NodeKeySignature::sign_rotation(
                &self.nl(signer),
                &key.to_binary(),
                nested,
            ));
        }
        Err(format!("unknown signature description {spec}"))
    }

    fn peer(&mut self, v: &Value) -> Res<Peer> {
        let id = v
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("peer needs a numeric id: {v}"))?;
        let name = v
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("peer needs a key name: {v}"))?;
        let key = self.node(name);
        let signature = self.signature(Some(key), v.get("sig").unwrap_or(&Value::Null))?;
        Ok(Peer {
            node_id: id,
            node_key: key,
            signature,
            unsigned_peer_api_only: v.get("api_only").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// A response body from its JSON description.
    fn response_body(&mut self, r: &Map<String, Value>) -> Res<Vec<u8>> {
        if let Some(b) = r.get("bootstrap") {
            let genesis = match b.get("genesis").and_then(Value::as_str) {
                Some(n) => self.aum(n)?.to_cbor(),
                None => Vec::new(),
            };
            let secret = b
                .get("secret")
                .and_then(Value::as_str)
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default();
            return Ok(wire::BootstrapResponse {
                genesis_aum: genesis,
                disablement_secret: secret,
            }
            .to_json());
        }
        if let Some(o) = r.get("offer") {
            let head = self
                .opt_hash(o.get("head").unwrap_or(&Value::Null))?
                .ok_or("offer needs a head")?;
            let ancestors = self.hash_list(o.get("ancestors").unwrap_or(&json!([])))?;
            let missing = o
                .get("missing")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(
                    |m| match (m.as_str(), m.get("hex").and_then(Value::as_str)) {
                        (Some(n), _) => self.aum(n).map(Aum::to_cbor),
                        (None, Some(h)) => unhex(h),
                        _ => Err(format!("missing: a name or {{\"hex\": ...}}, not {m}")),
                    },
                )
                .collect::<Res<Vec<_>>>()?;
            return Ok(wire::SyncOfferResponse {
                head,
                ancestors: Some(ancestors),
                missing_aums: Some(missing),
            }
            .to_json());
        }
        if let Some(s) = r.get("send") {
            let head = self
                .opt_hash(s.get("head").unwrap_or(&Value::Null))?
                .ok_or("send needs a head")?;
            return Ok(wire::SyncSendResponse { head }.to_json());
        }
        if let Some(j) = r.get("json") {
            return Ok(serde_json::to_vec(j).unwrap());
        }
        if let Some(raw) = r.get("raw").and_then(Value::as_str) {
            return Ok(raw.as_bytes().to_vec());
        }
        Err(format!("unknown response description {r:?}"))
    }

    // ---- rendering actual outputs in trace syntax ----

    fn render(&self, a: &Action) -> Value {
        match a {
            Action::SendRequest { id, path, body } => {
                let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let short = path.as_str().trim_start_matches("/machine/tka/");
                let mut o = json!({"req": id.0, "path": short});
                let head = match b.get("Head").and_then(Value::as_str) {
                    Some("") | None => Value::Null,
                    Some(s) => Value::String(
                        s.parse()
                            .map(|h| self.hash_name(&h))
                            .unwrap_or(s.to_owned()),
                    ),
                };
                o["head"] = head;
                if *path == Path::SyncOffer {
                    o["ancestors"] = self.render_text_hashes(&b["Ancestors"]);
                }
                if *path == Path::SyncSend {
                    let missing: Vec<Value> = b["MissingAUMs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| {
                            let name = m
                                .as_str()
                                .and_then(|s| data_encoding::BASE64.decode(s.as_bytes()).ok())
                                .and_then(|c| Aum::from_cbor(&c).ok())
                                .map(|a| self.hash_name(&a.hash()))
                                .unwrap_or_else(|| format!("?{m}"));
                            Value::String(name)
                        })
                        .collect();
                    o["missing"] = Value::Array(missing);
                }
                o["body"] = b;
                json!({ "send": o })
            }
            Action::Persist(d) => json!({"persist": self.render_delta(d)}),
            Action::RemoveAllState => json!("remove_all_state"),
            Action::PersistDisallowedStateIds(ids) => {
                let l: Vec<Value> = ids.iter().map(|(a, b)| json!([a, b])).collect();
                json!({ "disallowed": l })
            }
            Action::AuthorityInstalled { head, keys, .. } => {
                json!({"installed": {"head": self.hash_name(head), "keys": self.render_keys(keys)}})
            }
            Action::AuthorityChanged { head, keys } => {
                json!({"changed": {"head": self.hash_name(head), "keys": self.render_keys(keys)}})
            }
            Action::AuthorityRemoved => json!("authority_removed"),
            Action::PeerVerdict(v) => {
                let mut o = json!({
                    "id": v.node_id,
                    "key": self.node_name(&v.node_key),
                    "kind": verdict_kind(&v.verdict),
                    "admitted": v.admitted,
                });
                if let Verdict::Rejected(RejectReason::InvalidSignature(e)) = &v.verdict {
                    o["error"] = Value::String(e.to_string());
                }
                json!({ "verdict": o })
            }
            Action::HealthChanged(set) => {
                let l: Vec<Value> = set.iter().map(|h| json!(health_name(*h))).collect();
                json!({ "health": l })
            }
            Action::Log { level, message } => {
                let lv = match level {
                    Level::Info => "info",
                    Level::Warn => "warn",
                };
                json!({"log": message, "level": lv})
            }
        }
    }

    fn render_text_hashes(&self, v: &Value) -> Value {
        Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let s = s.as_str().unwrap_or("");
                    Value::String(
                        s.parse()
                            .map(|h| self.hash_name(&h))
                            .unwrap_or(s.to_owned()),
                    )
                })
                .collect(),
        )
    }

    fn render_delta(&self, d: &StorageDelta) -> Value {
        let mut committed: Vec<String> = d
            .committed
            .iter()
            .map(|a| self.hash_name(&a.hash()))
            .collect();
        let mut purged: Vec<String> = d.purged.iter().map(|h| self.hash_name(h)).collect();
        committed.sort();
        purged.sort();
        json!({
            "committed": committed,
            "purged": purged,
            "laa": d.last_active_ancestor.map(|h| self.hash_name(&h)),
        })
    }

    fn render_keys(&self, keys: &[Key]) -> Value {
        let mut names: Vec<String> = keys
            .iter()
            .map(|k| self.nl_name(k.public.as_deref().unwrap_or(&[])))
            .collect();
        names.sort();
        json!(names)
    }
}

fn names(v: &Value) -> Res<Vec<String>> {
    v.as_array()
        .ok_or_else(|| format!("expected a list of names, got {v}"))?
        .iter()
        .map(|n| {
            n.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("expected a name, got {n}"))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn unhex(s: &str) -> Res<Vec<u8>> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .map_err(|e| format!("bad hex {s:?}: {e}"))
}

fn verdict_kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Authorized(_) => "authorized",
        Verdict::Unfiltered => "unfiltered",
        Verdict::PeerApiOnly => "peer_api_only",
        Verdict::Rejected(RejectReason::MissingSignature) => "missing_signature",
        Verdict::Rejected(RejectReason::InvalidSignature(_)) => "invalid_signature",
        Verdict::Rejected(RejectReason::RotatedAway) => "rotated_away",
        Verdict::Rejected(_) => "rejected",
        Verdict::Pending => "pending",
        _ => "unknown",
    }
}

fn health_name(h: HealthIssue) -> &'static str {
    match h {
        HealthIssue::NoAuthority => "no_authority",
        HealthIssue::LockedOut => "locked_out",
        HealthIssue::BootstrapFailing => "bootstrap_failing",
        HealthIssue::SyncFailing => "sync_failing",
        HealthIssue::NoIntersection => "no_intersection",
        HealthIssue::UnrelatedChain => "unrelated_chain",
        HealthIssue::DisablementRejected => "disablement_rejected",
        HealthIssue::StateIdDisallowed => "state_id_disallowed",
        HealthIssue::StorageUnreadable => "storage_unreadable",
        HealthIssue::PersistFailed => "persist_failed",
        _ => "unknown",
    }
}

/// Whether an actual output (rendered) matches an expected one.
///
/// Objects match when every key given in `want` matches (keys not given are
/// not checked); lists match element by element, except that the lists of
/// `committed`, `purged`, `keys` and `health` are compared as sets and may be
/// given as a count instead; `log` matches by substring; `installed` and
/// `changed` may be given as just the head's name.
fn matches(want: &Value, got: &Value, key: &str) -> bool {
    match (want, got) {
        (Value::Number(n), Value::Array(a)) if is_set_key(key) => {
            n.as_u64() == Some(a.len() as u64)
        }
        (Value::Array(w), Value::Array(g)) if is_set_key(key) => {
            let mut w: Vec<String> = w.iter().map(|v| v.to_string()).collect();
            let mut g: Vec<String> = g.iter().map(|v| v.to_string()).collect();
            w.sort();
            g.sort();
            w == g
        }
        (Value::String(w), Value::String(g)) if key == "log" => g.contains(w.as_str()),
        (Value::String(w), Value::Object(g)) if key == "installed" || key == "changed" => {
            g.get("head") == Some(&Value::String(w.clone()))
        }
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, wv)| g.get(k).is_some_and(|gv| matches(wv, gv, k))),
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| matches(a, b, ""))
        }
        (w, g) => w == g,
    }
}

fn is_set_key(key: &str) -> bool {
    matches!(key, "committed" | "purged" | "keys" | "health")
}

fn is_log(v: &Value) -> bool {
    v.get("log").is_some()
}

/// The state of one replay.
struct Replay {
    fx: Fixtures,
    config: Config,
    machine: TkaMachine,
    now: Time,
    epoch_ms: u64,
    /// The model of the embedder's durable store (applied from actions).
    store: MemStorage,
    disallowed: Vec<(u64, u64)>,
    /// The store before the last input's actions were applied (what a
    /// `persist_failed` input rolls back to).
    before_last: (MemStorage, Vec<(u64, u64)>),
    /// Actions of the last input not yet matched.
    pending: Vec<(Action, Value)>,
    print: bool,
    out: String,
}

impl Replay {
    fn start(setup: &Value, print: bool) -> Res<Replay> {
        let mut fx = Fixtures {
            secret: setup
                .get("secret")
                .and_then(Value::as_str)
                .unwrap_or("correct horse battery staple")
                .to_owned(),
            state_ids: match setup.get("state_ids") {
                Some(v) => (
                    v[0].as_u64().ok_or("state_ids: [a, b]")?,
                    v[1].as_u64().ok_or("state_ids: [a, b]")?,
                ),
                None => (1, 2),
            },
            kdf: HashMap::new(),
            aums: BTreeMap::new(),
            aum_names: HashMap::new(),
            nl_names: HashMap::new(),
            node_names: HashMap::new(),
        };
        for line in setup
            .get("chain")
            .map(names)
            .transpose()?
            .unwrap_or_default()
        {
            fx.add_chain_line(&line)?;
        }
        for k in setup
            .get("keys")
            .map(names)
            .transpose()?
            .unwrap_or_default()
        {
            fx.nl(&k);
        }
        let self_name = setup.get("node").and_then(Value::as_str).unwrap_or("self");
        // The trace format's default mode is enforce.
        let mode = match setup.get("mode") {
            Some(m) => parse_mode(m)?,
            None => Mode::Enforce,
        };
        let mut config = Config::new(fx.node(self_name), mode);
        if let Some(c) = setup.get("config").and_then(Value::as_object) {
            for (k, v) in c {
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("config {k} must be a number"))?;
                match k.as_str() {
                    "request_timeout_ms" => config.request_timeout_ms = n,
                    "retry_initial_ms" => config.retry_initial_ms = n,
                    "retry_max_ms" => config.retry_max_ms = n,
                    "max_attempts" => config.max_attempts = n as u32,
                    "min_chain" => config.compaction.min_chain = n as usize,
                    "min_age_secs" => config.compaction.min_age_secs = n,
                    k => return Err(format!("unknown config {k:?}")),
                }
            }
        }
        let epoch_ms = setup
            .get("epoch")
            .and_then(Value::as_u64)
            .unwrap_or(1_800_000_000)
            * 1000;
        let now = Time(epoch_ms);
        let mut store = MemStorage::new();
        for n in setup
            .get("persisted")
            .map(names)
            .transpose()?
            .unwrap_or_default()
        {
            store.load_persisted(StoredAum::new(fx.aum(&n)?.clone()), now.unix_secs());
        }
        if let Some(l) = setup.get("laa") {
            store.load_last_active_ancestor(fx.opt_hash(l)?);
        }
        let disallowed: Vec<(u64, u64)> = match setup.get("disallowed") {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let machine = TkaMachine::new(config.clone(), persisted(&store, &disallowed), now);
        let mut r = Replay {
            fx,
            config,
            machine,
            now,
            epoch_ms,
            store,
            before_last: (MemStorage::new(), Vec::new()),
            disallowed,
            pending: Vec::new(),
            print,
            out: String::new(),
        };
        r.drain();
        Ok(r)
    }

    fn drain(&mut self) {
        while let Some(a) = self.machine.poll_action() {
            match &a {
                Action::Persist(d) => apply(&mut self.store, d, self.now.unix_secs()),
                Action::RemoveAllState => self.store = MemStorage::new(),
                Action::PersistDisallowedStateIds(ids) => self.disallowed = ids.clone(),
                _ => {}
            }
            let v = self.fx.render(&a);
            if self.print {
                let mut shown = v.clone();
                if let Some(s) = shown.get_mut("send") {
                    s.as_object_mut().unwrap().remove("body");
                }
                let _ = writeln!(self.out, "{}", json!({ "out": shown }));
            }
            self.pending.push((a, v));
        }
    }

    /// Matches one expected output against the pending actions: unexpected
    /// logs before it are skipped; anything else must be the match.
    fn expect(&mut self, want: &Value) -> Res<()> {
        while !self.pending.is_empty() {
            let (_, got) = self.pending.remove(0);
            if matches(want, &got, "") {
                return Ok(());
            }
            if !is_log(&got) {
                return Err(format!("expected {want}\n     got {got}"));
            }
        }
        Err(format!(
            "expected {want}\n     but there are no more outputs"
        ))
    }

    /// At the next input: everything but logs must have been matched.
    fn settle(&mut self) -> Res<()> {
        for (_, got) in self.pending.drain(..) {
            if !is_log(&got) {
                return Err(format!("unexpected output {got}"));
            }
        }
        Ok(())
    }

    fn input(&mut self, t: Option<u64>, input: &Value) -> Res<()> {
        if self.print {
            self.pending.clear();
        }
        self.settle()?;
        if let Some(t) = t {
            let at = Time(self.epoch_ms + t);
            if at < self.now {
                return Err(format!("time goes backwards at t={t}"));
            }
            self.now = at;
        }
        if self.print {
            let _ = writeln!(
                self.out,
                "{}",
                json!({"t": self.now.0 - self.epoch_ms, "in": input})
            );
        }
        let now = self.now;
        if let Some(reason) = input.get("persist_failed") {
            // Every store action of the previous input failed: the store is
            // what it was before them.
            let reason = reason.as_str().ok_or("persist_failed: a reason")?;
            (self.store, self.disallowed) = self.before_last.clone();
            let stored = persisted(&self.store, &self.disallowed);
            self.before_last = (self.store.clone(), self.disallowed.clone());
            self.machine.handle_event(
                now,
                Event::PersistFailed {
                    reason: reason.into(),
                    stored,
                },
            );
            self.drain();
            return Ok(());
        }
        self.before_last = (self.store.clone(), self.disallowed.clone());
        match input {
            Value::String(s) => match s.as_str() {
                "timeout" => self.machine.handle_timeout(now),
                "local_disable" => self.machine.handle_event(now, Event::LocalDisable),
                "restart" => {
                    self.machine = TkaMachine::new(
                        self.config.clone(),
                        persisted(&self.store, &self.disallowed),
                        now,
                    );
                }
                s => return Err(format!("unknown input {s:?}")),
            },
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().unwrap();
                let ev = match k.as_str() {
                    "control" => Event::ControlState {
                        enabled: v
                            .get("enabled")
                            .and_then(Value::as_bool)
                            .ok_or("control needs `enabled`")?,
                        head: self.fx.opt_hash(v.get("head").unwrap_or(&Value::Null))?,
                    },
                    "response" => {
                        let r = v.as_object().ok_or("response must be an object")?;
                        let id = r
                            .get("req")
                            .and_then(Value::as_u64)
                            .ok_or("response needs `req`")?;
                        Event::Response {
                            id: RequestId(id),
                            body: Bytes::from(self.fx.response_body(r)?),
                        }
                    }
                    "failed" => Event::RequestFailed {
                        id: RequestId(
                            v.get("req")
                                .and_then(Value::as_u64)
                                .ok_or("failed needs `req`")?,
                        ),
                        reason: v
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or("failed")
                            .to_owned(),
                    },
                    "peer" => Event::PeerUpserted(self.fx.peer(v)?),
                    "peer_removed" => Event::PeerRemoved(v.as_i64().ok_or("peer_removed: id")?),
                    "peers" => Event::PeersReplaced(
                        v.as_array()
                            .ok_or("peers: a list")?
                            .iter()
                            .map(|p| self.fx.peer(p))
                            .collect::<Res<_>>()?,
                    ),
                    "self_sig" => {
                        let me = self.config.node_key;
                        Event::SelfSignature(self.fx.signature(Some(me), v)?)
                    }
                    "mode" => {
                        self.machine.set_mode(now, parse_mode(v)?);
                        self.drain();
                        return Ok(());
                    }
                    k => return Err(format!("unknown input {k:?}")),
                };
                self.machine.handle_event(now, ev);
            }
            other => return Err(format!("unknown input {other}")),
        }
        self.drain();
        Ok(())
    }

    fn check(&mut self, c: &Map<String, Value>) -> Res<()> {
        for (k, v) in c {
            match k.as_str() {
                "timeout" => {
                    let got = self.machine.poll_timeout().map(|t| t.0 - self.epoch_ms);
                    let want = v.as_u64();
                    if got != want {
                        return Err(format!("timeout: want {want:?}, got {got:?}"));
                    }
                }
                "head" => {
                    let want = self.fx.opt_hash(v)?;
                    let got = self.machine.authority().map(|a| a.head());
                    if got != want {
                        return Err(format!(
                            "head: want {v}, got {:?}",
                            got.map(|h| self.fx.hash_name(&h))
                        ));
                    }
                }
                "health" => {
                    let want: Value = v.clone();
                    let got = json!(self
                        .machine
                        .health()
                        .iter()
                        .map(|h| health_name(*h))
                        .collect::<Vec<_>>());
                    if !matches(&want, &got, "health") {
                        return Err(format!("health: want {want}, got {got}"));
                    }
                }
                "verdicts" => {
                    let want = v.as_object().ok_or("verdicts: {id: kind}")?;
                    let got: BTreeMap<String, Value> = self
                        .machine
                        .verdicts()
                        .iter()
                        .map(|(id, v)| (id.to_string(), json!(verdict_kind(v))))
                        .collect();
                    let want: BTreeMap<String, Value> =
                        want.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    if got != want {
                        return Err(format!("verdicts: want {want:?}, got {got:?}"));
                    }
                }
                "stored" => {
                    let mut got: Vec<String> = self
                        .store
                        .all_aums()
                        .unwrap()
                        .iter()
                        .map(|h| self.fx.hash_name(h))
                        .collect();
                    got.sort();
                    if !matches(v, &json!(got), "committed") {
                        return Err(format!("stored: want {v}, got {got:?}"));
                    }
                }
                "disallowed" => {
                    let got = json!(self
                        .disallowed
                        .iter()
                        .map(|(a, b)| json!([a, b]))
                        .collect::<Vec<_>>());
                    if &got != v {
                        return Err(format!("disallowed: want {v}, got {got}"));
                    }
                }
                k => return Err(format!("unknown check {k:?}")),
            }
        }
        // The embedder's store must reopen to the installed authority.
        if let Some(a) = self.machine.authority() {
            let reopened = tka::Authority::open(&self.store)
                .map_err(|e| format!("persisted store does not open: {e}"))?;
            if reopened.head() != a.head() || reopened.state() != a.state() {
                return Err("persisted store opens to a different authority".into());
            }
        }
        Ok(())
    }
}

fn parse_mode(v: &Value) -> Res<Mode> {
    match v.as_str() {
        Some("observe") => Ok(Mode::Observe),
        Some("enforce") => Ok(Mode::Enforce),
        _ => Err(format!("mode is \"observe\" or \"enforce\", not {v}")),
    }
}

fn apply(store: &mut MemStorage, d: &StorageDelta, now: u64) {
    d.apply_to(store, now).unwrap();
}

fn persisted(store: &MemStorage, disallowed: &[(u64, u64)]) -> Persisted {
    Persisted::from_storage(store, disallowed).unwrap()
}

/// Replays one trace file; returns the printed outputs in print mode.
fn replay(text: &str, print: bool) -> Res<String> {
    let mut replay: Option<Replay> = None;
    let mut inputs = 0;
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| at(format!("bad JSON: {e}")))?;
        if let Some(s) = v.get("setup") {
            if replay.is_some() {
                return Err(at("a second setup line".into()));
            }
            replay = Some(Replay::start(s, print).map_err(at)?);
            continue;
        }
        let r = replay
            .as_mut()
            .ok_or_else(|| at("the first line must be the setup".into()))?;
        if let Some(i) = v.get("in") {
            inputs += 1;
            r.input(v.get("t").and_then(Value::as_u64), i).map_err(at)?;
        } else if let Some(o) = v.get("out") {
            if !print {
                r.expect(o).map_err(at)?;
            }
        } else if let Some(c) = v.get("check").and_then(Value::as_object) {
            if !print {
                r.settle().map_err(at)?;
                r.check(c).map_err(at)?;
            }
        } else {
            return Err(at(format!("unknown line {v}")));
        }
    }
    let mut r = replay.ok_or("no setup line")?;
    if inputs == 0 {
        return Err("a trace needs at least one input".into());
    }
    if print {
        return Ok(std::mem::take(&mut r.out));
    }
    r.settle().map_err(|e| format!("at the end: {e}"))?;
    Ok(String::new())
}

#[test]
fn recorded_traces_replay() {
    let dir = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces");
    let print = std::env::var_os("TKA_TRACE_PRINT").is_some();
    let only = std::env::var("TKA_TRACE").ok();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    if only.is_none() && !print {
        assert!(
            files.len() >= 20,
            "expected the full trace set, found {}",
            files.len()
        );
    }
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        match replay(&text, print) {
            Ok(out) if print => println!("==> {name}\n{out}"),
            Ok(_) => {}
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The matcher and replay must be able to fail: a wrong expectation, a
/// missing one, or an unexpected output each fail the replay.
#[test]
fn replay_detects_mismatches() {
    let setup = r#"{"setup": {"chain": ["G checkpoint admin by admin"]}}"#;
    let base = format!(
        "{setup}\n{}\n",
        r#"{"t": 1000, "in": {"control": {"enabled": true, "head": "G"}}}"#
    );
    let good = format!(
        "{base}{}\n{}\n",
        r#"{"out": {"send": {"req": 1, "path": "bootstrap", "head": null}}}"#,
        r#"{"out": {"health": ["no_authority"]}}"#
    );
    replay(&good, false).unwrap();
    // Missing the health output: unexpected output at the end.
    let missing = format!(
        "{base}{}\n",
        r#"{"out": {"send": {"req": 1, "path": "bootstrap"}}}"#
    );
    assert!(replay(&missing, false)
        .unwrap_err()
        .contains("unexpected output"));
    // Wrong field.
    let wrong = format!(
        "{base}{}\n",
        r#"{"out": {"send": {"req": 2, "path": "bootstrap"}}}"#
    );
    assert!(replay(&wrong, false).unwrap_err().contains("expected"));
    // Wrong order.
    let order = format!(
        "{base}{}\n{}\n",
        r#"{"out": {"health": ["no_authority"]}}"#,
        r#"{"out": {"send": {"req": 1, "path": "bootstrap"}}}"#
    );
    assert!(replay(&order, false).is_err());
    // An expected log that never appears.
    let log = format!("{good}{}\n", r#"{"out": {"log": "no such text"}}"#);
    assert!(replay(&log, false).is_err());
    // A failing check.
    let check = format!("{good}{}\n", r#"{"check": {"timeout": null}}"#);
    assert!(replay(&check, false).unwrap_err().contains("timeout"));
}
