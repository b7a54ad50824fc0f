//! The verbs that talk to a control server: init, add, remove, sign,
//! disable, revoke-keys `--finish`, and the sync every verb on a node
//! directory runs first when `--control` is given.
//!
//! Each verb works like a node running `tailscale lock …`: it syncs the
//! node's store with control (so it starts from control's head), runs the
//! core's operator flow ([`tka::admin`]) over HTTP
//! ([`tka_node::HttpTransport`], driven by [`tka_node::admin::run`]), and
//! syncs again so the store on disk reflects the change. The store is
//! Go's tailchonk layout ([`tka_node::DirStore`]); do not run these verbs
//! on a directory a node process is using at the same time.

use crate::input::read_capped;
use crate::node::parse_nlpub;
use crate::offline::{self, parse_tl_args, random_bytes, Ctx, SelfSig};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};
use tka::admin::{
    self, AdminError, DriveError, Flow, Identity, Init, InitRandom, Modify, Remove, SignNode,
    SubmitRecovery, Sync, SyncOutcome, WrapAuthKey,
};
use tka::admin::{Request, Step};
use tka::wire::{self, Rpc as _};
use tka::{Authority, NodeKey, NodeKeySignature};
use tka_node::store::Change;
use tka_node::{DirStore, HttpTransport, TransportError};

/// The largest file a `file:PATH` argument of `sign` may name.
const MAX_SIGN_ARG_FILE: u64 = 64 << 10;

/// The longest part of control's error text shown (it is untrusted and
/// goes on one line).
const MAX_CONTROL_REASON: usize = 300;

/// A node directory opened for talking to control.
pub struct Online {
    id: Identity,
    store: DirStore,
    authority: Option<Authority>,
    control: Option<Control>,
}

/// A control server and the runtime the requests run on.
struct Control {
    url: String,
    transport: HttpTransport,
    rt: tokio::runtime::Runtime,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks the `--control` value: an `http://` or `https://` URL.
/// The error for a verb that needs control when none was given.
const NO_CONTROL: &str = "no control server: pass --control URL (or set TKA_CONTROL)";

fn control_url(control: Option<&str>) -> Result<&str, String> {
    let url = control
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(NO_CONTROL)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "--control must be an http:// or https:// URL such as http://127.0.0.1:8080, got {url:?}"
        ));
    }
    Ok(url)
}

/// Control's error text on one line, shortened.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > MAX_CONTROL_REASON {
        let mut s: String = joined.chars().take(MAX_CONTROL_REASON).collect();
        s.push('…');
        s
    } else {
        joined
    }
}

impl Online {
    /// Opens the node directory of `ctx` (keys and store) and, when
    /// `control` is given, prepares the HTTP transport to it.
    pub fn open(ctx: &Ctx, control: Option<&str>) -> Result<Self, String> {
        if ctx.chonk().is_some() {
            return Err(
                "--chonk is for reading a bare store; this verb needs a node directory (--state DIR)"
                    .into(),
            );
        }
        let node = ctx.node()?.clone();
        if !node.dir.is_dir() {
            return Err(format!(
                "the node state directory {} does not exist; create one with `tka keygen --state {}`",
                node.dir.display(),
                node.dir.display()
            ));
        }
        let id = Identity {
            key: node.key()?,
            node_key: node.node_key()?,
        };
        let control = control
            .map(|c| -> Result<Control, String> {
                let url = control_url(Some(c))?.to_string();
                let transport = HttpTransport::new(&url)
                    .map_err(|e| format!("setting up the connection to control: {e}"))?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("starting the async runtime: {e}"))?;
                Ok(Control { url, transport, rt })
            })
            .transpose()?;
        let store_dir = node.store_dir();
        let mut store = DirStore::open(&store_dir)
            .map_err(|e| format!("opening the AUM store {}: {e}", store_dir.display()))?;
        store.set_now(now());
        let authority = if store.is_empty() {
            None
        } else {
            Some(Authority::open(&store).map_err(|e| format!("opening the authority: {e}"))?)
        };
        Ok(Online {
            id,
            store,
            authority,
            control,
        })
    }

    /// Opens the node directory and requires a control server.
    pub fn connect(ctx: &Ctx, control: Option<&str>) -> Result<Self, String> {
        control_url(control)?;
        Self::open(ctx, control)
    }

    fn control(&self) -> Result<&Control, String> {
        self.control.as_ref().ok_or_else(|| NO_CONTROL.to_string())
    }

    /// Runs `flow` against control; errors become one line.
    fn run<F: Flow>(control: &Control, flow: F) -> Result<F::Output, String> {
        Self::run_typed(control, flow).map_err(|e| describe(&control.url, e))
    }

    fn run_typed<F: Flow>(
        control: &Control,
        flow: F,
    ) -> Result<F::Output, DriveError<TransportError>> {
        control
            .rt
            .block_on(tka_node::admin::run(flow, &control.transport))
    }

    /// Syncs the store with control, as a node does on each netmap: the
    /// lock may be bootstrapped, advanced, or removed (disabled).
    pub fn sync(&mut self) -> Result<SyncOutcome, String> {
        let url = self.control()?.url.clone();
        self.sync_typed().map_err(|e| match e {
            SyncFailure::Flow(e) => describe(&url, e),
            SyncFailure::Save(e) | SyncFailure::NoControl(e) => e,
        })
    }

    fn sync_typed(&mut self) -> Result<SyncOutcome, SyncFailure> {
        let t = now().max(self.store.latest_time());
        self.store.set_now(t);
        let disallowed = self.store.disallowed_state_ids().to_vec();
        let Some(control) = self.control.as_ref() else {
            return Err(SyncFailure::NoControl(NO_CONTROL.into()));
        };
        let flow = Sync::new(
            self.id.node_key,
            &mut self.store,
            &mut self.authority,
            &disallowed,
            t,
        );
        let out = Self::run_typed(control, flow);
        self.store.retry_failed().map_err(|e| {
            SyncFailure::Save(format!(
                "saving the AUM store {}: {e}",
                self.store.dir().display()
            ))
        })?;
        out.map_err(SyncFailure::Flow)
    }

    /// Syncs, treating control's authority as off when this node turned
    /// it off locally (it keeps it off, as Go's node does) rather than as
    /// an error.
    fn sync_keeping_local_disable(&mut self) -> Result<(), String> {
        match self.sync_typed() {
            Ok(_) => Ok(()),
            Err(SyncFailure::Flow(DriveError::Admin(AdminError::LocallyDisabled { .. }))) => Ok(()),
            Err(SyncFailure::Flow(e)) => Err(describe(&self.control()?.url, e)),
            Err(SyncFailure::Save(e) | SyncFailure::NoControl(e)) => Err(e),
        }
    }

    fn authority(&self) -> Option<&Authority> {
        self.authority.as_ref()
    }
}

/// Why a sync failed.
enum SyncFailure {
    /// The flow refused or control could not be reached.
    Flow(DriveError<TransportError>),
    /// The store could not save what the sync learnt.
    Save(String),
    /// No control server was given.
    NoControl(String),
}

/// One line for a failed flow: the flow's own refusal, or what went
/// wrong talking to control (naming control's reason for a 4xx).
fn describe(url: &str, e: DriveError<TransportError>) -> String {
    match e {
        DriveError::Admin(a) => a.to_string(),
        DriveError::Transport(TransportError::Status { status, body }) => {
            let reason = one_line(&body);
            if (400..500).contains(&status) {
                format!("control at {url} refused the request (HTTP {status}): {reason}")
            } else {
                format!("control at {url} failed (HTTP {status}): {reason}")
            }
        }
        DriveError::Transport(TransportError::Network(m)) => {
            format!("cannot reach control at {url}: {}", one_line(&m))
        }
        DriveError::Transport(t) => format!("talking to control at {url}: {t}"),
        other => other.to_string(),
    }
}

/// Syncs the node directory with control when `--control` is given, so a
/// read-only verb that follows sees control's head. No state directory, or
/// `--chonk`, means nothing to sync.
pub fn presync(ctx: &Ctx, control: Option<&str>) -> Result<(), String> {
    presync_open(ctx, control).map(drop)
}

/// [`presync`], keeping the synced node directory open.
fn presync_open(ctx: &Ctx, control: Option<&str>) -> Result<Option<Online>, String> {
    if control.is_none() || ctx.chonk().is_some() || ctx.node.is_none() {
        return Ok(None);
    }
    let mut o = Online::open(ctx, control)?;
    o.sync_keeping_local_disable()?;
    Ok(Some(o))
}

/// `tka status` with `--control`: syncs, then asks control for the
/// signatures each trusted key made (`affected-sigs`) to find this node's
/// own, as a node learns it from its netmap. Without `--control` the
/// signature is unknown.
pub fn status_sync(ctx: &Ctx, control: Option<&str>) -> Result<SelfSig, String> {
    let Some(o) = presync_open(ctx, control)? else {
        return Ok(SelfSig::Unknown);
    };
    let Some(a) = o.authority() else {
        return Ok(SelfSig::Unknown);
    };
    let flow = OwnSignature {
        node_key: o.id.node_key,
        authority: a,
        keys: a
            .keys()
            .iter()
            .filter_map(|k| k.id().ok().map(<[u8]>::to_vec))
            .collect(),
        next: 0,
    };
    Ok(SelfSig::Known(Online::run(o.control()?, flow)?))
}

/// Finds this node's signature among those control lists for each trusted
/// key; only one that verifies under the node's authority counts.
struct OwnSignature<'a> {
    node_key: NodeKey,
    authority: &'a Authority,
    keys: Vec<Vec<u8>>,
    next: usize,
}

impl OwnSignature<'_> {
    fn ask(&mut self) -> Step<Option<Vec<u8>>> {
        let Some(id) = self.keys.get(self.next) else {
            return Step::Done(None);
        };
        self.next += 1;
        let req = wire::SignaturesUsingKeyRequest {
            version: admin::CAPABILITY_VERSION,
            node_key: self.node_key,
            key_id: Some(id.clone()),
        };
        Step::Send(Request {
            path: wire::Path::AffectedSigs,
            body: req.body(),
        })
    }
}

impl Flow for OwnSignature<'_> {
    type Output = Option<Vec<u8>>;

    fn start(&mut self) -> Result<Step<Self::Output>, AdminError> {
        Ok(self.ask())
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<Self::Output>, AdminError> {
        let resp = wire::parse_response::<wire::SignaturesUsingKeyRequest>(body)
            .map_err(AdminError::Response)?;
        for sig in resp.signatures.unwrap_or_default() {
            let ours = NodeKeySignature::from_cbor(&sig)
                .ok()
                .and_then(|s| NodeKey::from_binary(s.pubkey.as_deref()?).ok())
                .is_some_and(|k| k == self.node_key);
            if ours
                && self
                    .authority
                    .node_key_authorized(&self.node_key, &sig)
                    .is_ok()
            {
                return Ok(Step::Done(Some(sig)));
            }
        }
        Ok(self.ask())
    }
}

/// `tka sync`: one sync, described.
pub fn sync(ctx: &Ctx, control: Option<&str>) -> Result<String, String> {
    let mut o = Online::connect(ctx, control)?;
    let r = o.sync()?;
    let mut out = String::new();
    if r.disabled {
        out.push_str(
            "Tailnet Lock was disabled for the tailnet; this node removed its authority.\n",
        );
    } else if r.bad_secret {
        out.push_str("Control says Tailnet Lock was disabled, but its disablement secret does not match; the authority was kept.\n");
    }
    if r.bootstrapped {
        out.push_str(
            "Tailnet Lock is enabled: this node bootstrapped its authority from control.\n",
        );
    }
    match r.head {
        None => out.push_str("Tailnet Lock is NOT enabled.\n"),
        Some(h) => {
            let _ = writeln!(
                out,
                "Head: {h} (received {} AUMs from control, sent {})",
                r.received, r.sent
            );
        }
    }
    Ok(out)
}

/// `tka init`.
pub fn init(
    ctx: &Ctx,
    control: Option<&str>,
    gen_disablements: usize,
    support: bool,
    confirm: bool,
    args: &[String],
) -> Result<String, String> {
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    if o.authority.is_some() {
        return Err(AdminError::AlreadyEnabled.to_string());
    }
    let parsed = parse_tl_args(args, true, true)?;
    let ours = o.id.key.public().0;
    if !parsed
        .keys
        .iter()
        .any(|k| k.public.as_deref() == Some(&ours[..]))
    {
        return Err(AdminError::SelfKeyNotInitial.to_string());
    }
    if gen_disablements
        .saturating_add(parsed.disablements.len())
        .saturating_add(usize::from(support))
        > tka::limits::MAX_DISABLEMENT_VALUES
    {
        return Err(format!(
            "too many disablement values: at most {} in total",
            tka::limits::MAX_DISABLEMENT_VALUES
        ));
    }
    let mut out = String::from(
        "You are initializing tailnet lock with the following trusted signing keys:\n",
    );
    for k in &parsed.keys {
        let _ = writeln!(
            out,
            " - tlpub:{} ({} key)",
            data_encoding::HEXLOWER.encode(k.public.as_deref().unwrap_or_default()),
            k.kind
        );
    }
    out.push('\n');
    if !confirm {
        let _ = writeln!(
            out,
            "{gen_disablements} disablement secrets will be generated."
        );
        if support {
            out.push_str(
                "A disablement secret will be generated and transmitted to Tailscale support.\n",
            );
        }
        let _ = writeln!(
            out,
            "\nIf this is correct, please re-run this command with the --confirm flag:\n\ttka init --confirm --gen-disablements {gen_disablements} {}{}",
            if support { "--gen-disablement-for-support " } else { "" },
            args.join(" ")
        );
        return Ok(out);
    }
    let random = InitRandom {
        state_ids: random_bytes::<16>(),
        secrets: (0..gen_disablements)
            .map(|_| random_bytes::<32>())
            .collect(),
        support: support.then(random_bytes::<32>),
    };
    let flow = Init::new(
        o.id.clone(),
        false,
        parsed.keys,
        parsed.disablements,
        random,
        now(),
    )
    .map_err(|e| e.to_string())?;
    let outcome = Online::run(o.control()?, flow)?;
    let _ = writeln!(
        out,
        "{} disablement secrets have been generated and are printed below. Take note of them now, they WILL NOT be shown again.",
        outcome.secrets.len()
    );
    for s in &outcome.secrets {
        let _ = writeln!(
            out,
            "\tdisablement-secret:{}",
            data_encoding::HEXUPPER.encode(s)
        );
    }
    if outcome.support_sent {
        out.push_str(
            "A disablement secret for Tailscale support has been generated and transmitted to Tailscale.\n",
        );
    }
    out.push_str("Initialization complete.\n");
    // The secrets are printed even if this last sync fails: the lock is on.
    if let Err(e) = o.sync() {
        let _ = writeln!(out, "(this node did not pick up the new lock yet: {e})");
    }
    Ok(out)
}

/// `tka add`.
pub fn add(ctx: &Ctx, control: Option<&str>, args: &[String]) -> Result<String, String> {
    let parsed = parse_tl_args(args, true, false)?;
    if parsed.keys.is_empty() {
        return Err(AdminError::NoKeys.to_string());
    }
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    let flow = Modify::new(o.id.clone(), o.authority(), &o.store, &parsed.keys, &[])
        .map_err(|e| e.to_string())?;
    Online::run(o.control()?, flow)?;
    o.sync()?;
    Ok(String::new())
}

/// `tka remove [--re-sign=false]`.
pub fn remove(
    ctx: &Ctx,
    control: Option<&str>,
    resign: bool,
    args: &[String],
) -> Result<String, String> {
    let parsed = parse_tl_args(args, true, false)?;
    if parsed.keys.is_empty() {
        return Err(AdminError::NoKeys.to_string());
    }
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    let ids = parsed
        .keys
        .iter()
        .map(|k| k.public.clone().unwrap_or_default())
        .collect();
    let flow = Remove::new(o.id.clone(), o.authority(), &o.store, ids, resign)
        .map_err(|e| e.to_string())?;
    Online::run(o.control()?, flow)?;
    o.sync()?;
    Ok(String::new())
}

/// Replaces each `file:PATH` argument with the file's trimmed text.
fn read_file_args(args: &[String]) -> Result<Vec<String>, String> {
    args.iter()
        .map(|a| match a.strip_prefix("file:") {
            Some(path) => {
                let raw = read_capped(path, MAX_SIGN_ARG_FILE)?;
                let text =
                    String::from_utf8(raw).map_err(|_| format!("{path} does not hold text"))?;
                Ok(text.trim().to_string())
            }
            None => Ok(a.clone()),
        })
        .collect()
}

/// `tka sign NODEKEY [ROTATION-KEY]` or `tka sign tskey-auth-…`.
pub fn sign(ctx: &Ctx, control: Option<&str>, args: &[String]) -> Result<String, String> {
    let args = read_file_args(args)?;
    if args.first().is_some_and(|a| a.starts_with("tskey-auth-")) {
        return wrap_auth_key(ctx, control, &args);
    }
    let (node, rotation) = match args.as_slice() {
        [n] => (n, None),
        [n, r] => (n, Some(r)),
        _ => return Err("usage: tka sign <node-key> [<rotation-key>]".into()),
    };
    let node: NodeKey = node.trim().parse().map_err(|e| {
        format!("decoding node-key: {node:?} is not a node key ({e}); want nodekey:<64 hex digits>")
    })?;
    let rotation = rotation
        .map(|r| parse_nlpub(r).map_err(|e| format!("decoding rotation-key: {e}")))
        .transpose()?
        .map(|k| k.0);
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    let flow = SignNode::new(o.id.clone(), o.authority(), &node, rotation).map_err(|e| match e {
        AdminError::NotTrusted => "signing is not available on this device because it does not have a trusted tailnet lock key; try again on a signing device".to_string(),
        e => e.to_string(),
    })?;
    Online::run(o.control()?, flow)?;
    Ok(String::new())
}

/// `tka sign tskey-auth-…`: prints the wrapped key.
fn wrap_auth_key(ctx: &Ctx, control: Option<&str>, args: &[String]) -> Result<String, String> {
    let [auth_key] = args else {
        return Err("usage: tka sign <tailscale pre-auth key>".into());
    };
    if auth_key.contains("--TL") {
        return Err(AdminError::AlreadyWrapped.to_string());
    }
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    // There is no stable node ID here; the node key stands in for it.
    let stable_id = o.id.node_key.to_string();
    let flow = WrapAuthKey::new(
        o.id.clone(),
        o.authority(),
        &o.store,
        auth_key,
        random_bytes::<32>(),
        random_bytes::<32>(),
        &stable_id,
        now(),
    )
    .map_err(|e| format!("add key failed: {e}"))?;
    let (wrapped, _) =
        Online::run(o.control()?, flow).map_err(|e| format!("add key failed: {e}"))?;
    o.sync()?;
    Ok(format!("{wrapped}\n"))
}

/// `tka disable disablement-secret:HEX`.
pub fn disable(ctx: &Ctx, control: Option<&str>, args: &[String]) -> Result<String, String> {
    let parsed = parse_tl_args(args, false, true)?;
    let [secret] = parsed.disablements.as_slice() else {
        return Err("usage: tka disable <disablement-secret>".into());
    };
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    let flow = admin::Disable::new(o.id.clone(), o.authority(), secret.clone())
        .map_err(|e| e.to_string())?;
    Online::run(o.control()?, flow)?;
    // Control now hands the secret out in bootstrap: the sync removes the
    // node's authority, as it does on every node.
    o.sync()?;
    Ok(String::new())
}

/// `tka local-disable`: turns the lock off on this node only, for this
/// authority (its state IDs are remembered, so later syncs do not bring it
/// back). Needs no control server; with one, the store is synced first.
pub fn local_disable(ctx: &Ctx, control: Option<&str>) -> Result<String, String> {
    let mut o = Online::open(ctx, control)?;
    if o.control.is_some() {
        o.sync_keeping_local_disable()?;
    }
    let t = now().max(o.store.latest_time());
    admin::force_local_disable(o.authority.as_ref(), &mut o.store, |s, ids| {
        let mut list = s.disallowed_state_ids().to_vec();
        if !list.contains(&ids) {
            list.push(ids);
        }
        s.save(vec![Change::DisallowedStateIds(list)], t)
            .map_err(tka::storage::StorageError::new)
    })
    .map_err(|e| e.to_string())?;
    Ok(String::new())
}

/// `tka revoke-keys --finish HEX`: submits the recovery AUM.
pub fn revoke_keys_finish(
    ctx: &Ctx,
    control: Option<&str>,
    cosign: bool,
    args: &[String],
) -> Result<String, String> {
    let mut aum = offline::recovery_arg(args)?;
    let mut o = Online::connect(ctx, control)?;
    o.sync()?;
    let mut out = String::new();
    if cosign {
        // Go prints the co-signed AUM but then submits the one it was
        // given; this submits the co-signed one.
        aum = admin::cosign_recovery(o.authority(), aum, &o.id.key)
            .map_err(|e| format!("co-signing recovery AUM failed: {e}"))?;
        let hex = data_encoding::HEXUPPER.encode(&aum.to_cbor());
        let _ = writeln!(out, "Co-signing completed successfully.\n\nTo accumulate an additional signature, run the following command on another machine with a trusted tailnet lock key:\n\ttka revoke-keys --cosign {hex}\n\nAlternatively if you are done with co-signing, complete recovery by running the following command:\n\ttka revoke-keys --finish {hex}");
    }
    let flow = SubmitRecovery::new(o.id.clone(), o.authority(), aum)
        .map_err(|e| format!("submitting recovery AUM failed: {e}"))?;
    Online::run(o.control()?, flow).map_err(|e| format!("submitting recovery AUM failed: {e}"))?;
    o.sync()?;
    out.push_str("Recovery completed.\n");
    Ok(out)
}
