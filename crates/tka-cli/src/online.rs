//! The verbs that talk to control over HTTP (`tka_node::HttpTransport`):
//! each opens the node's store (`tka_node::DirStore`), syncs it with
//! control the way a running node would, then runs its admin flow.
//!
//! The store must not be in use by a running node process at the same
//! time (two writers of one directory).

use crate::node::NodeDir;
use crate::offline::{self, parse_tl_args, random_bytes, Ctx};
use bytes::Bytes;
use tka::admin::{self, Flow, Identity, Step, SyncOutcome};
use tka::{Authority, NodeKey};
use tka_node::store::{Change, DirStore};
use tka_node::{HttpTransport, Transport};

/// Runs `flow` against control over `t`. Errors are one line.
pub async fn run_flow<F: Flow, T: Transport>(t: &T, url: &str, mut flow: F) -> Result<F::Output, String> {
    let mut step = flow.start().map_err(|e| e.to_string())?;
    loop {
        match step {
            Step::Done(out) => return Ok(out),
            Step::Send(req) => {
                let body = t
                    .send(req.path, Bytes::from(req.body))
                    .await
                    .map_err(|e| format!("control at {url} ({}): {e}", req.path))?;
                step = flow.handle_response(&body).map_err(|e| e.to_string())?;
            }
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A node directory opened for an online verb.
pub struct Online {
    /// Control's URL.
    pub url: String,
    /// The transport.
    pub transport: HttpTransport,
    /// Who operates.
    pub id: Identity,
    /// The store.
    pub store: DirStore,
    /// The authority, if the lock is on here.
    pub authority: Option<Authority>,
}

impl Online {
    /// Opens the node directory and the transport (no request yet).
    pub fn open(node: &NodeDir, url: Option<&str>) -> Result<Online, String> {
        let url = url
            .ok_or("no control server: pass --control URL (or set TKA_CONTROL)")?
            .trim_end_matches('/')
            .to_string();
        let transport = HttpTransport::new(&url).map_err(|e| format!("control URL {url}: {e}"))?;
        let id = Identity {
            node_key: node.node_key()?,
            key: node.key()?,
        };
        let store = DirStore::open(node.store_dir())
            .map_err(|e| format!("opening {}: {e}", node.store_dir().display()))?;
        let authority = if store.is_empty() {
            None
        } else {
            Some(Authority::open(&store).map_err(|e| format!("opening the authority: {e}"))?)
        };
        Ok(Online {
            url,
            transport,
            id,
            store,
            authority,
        })
    }

    /// Brings the store up to date with control.
    pub async fn sync(&mut self) -> Result<SyncOutcome, String> {
        let disallowed = self.store.disallowed_state_ids().to_vec();
        let flow = admin::Sync::new(
            self.id.node_key,
            &mut self.store,
            &mut self.authority,
            &disallowed,
            now(),
        );
        run_flow(&self.transport, &self.url, flow).await
    }

    async fn run<F: Flow>(&self, flow: F) -> Result<F::Output, String> {
        run_flow(&self.transport, &self.url, flow).await
    }
}

fn describe_sync(s: &SyncOutcome) -> String {
    if s.disabled {
        return "Tailnet Lock was disabled by control; this node's authority was removed.\n".into();
    }
    if !s.enabled {
        return "Tailnet Lock is not enabled.\n".into();
    }
    let mut out = String::new();
    if s.bootstrapped {
        out.push_str("Bootstrapped the authority from control's genesis.\n");
    }
    if s.bad_secret {
        out.push_str("Control handed out a disablement secret that does not match; keeping the lock.\n");
    }
    let head = s.head.map(|h| h.to_string()).unwrap_or_default();
    out.push_str(&format!(
        "In sync at head {head} (received {}, sent {}).\n",
        s.received, s.sent
    ));
    out
}

/// The online verbs.
pub enum Verb {
    /// `tka sync`.
    Sync,
    /// `tka status` with a control server: sync, then status.
    Status {
        /// JSON output.
        json: bool,
    },
    /// `tka init`.
    Init {
        /// `--gen-disablements`.
        gen: usize,
        /// `--gen-disablement-for-support`.
        support: bool,
        /// `--confirm`.
        confirm: bool,
        /// Keys and disablements.
        args: Vec<String>,
    },
    /// `tka add`.
    Add(Vec<String>),
    /// `tka remove`.
    Remove {
        /// `--re-sign`.
        resign: bool,
        /// Keys.
        keys: Vec<String>,
    },
    /// `tka sign`.
    Sign(Vec<String>),
    /// `tka disable`.
    Disable(Vec<String>),
    /// `tka local-disable`.
    LocalDisable,
    /// `tka revoke-keys --finish`.
    RevokeFinish(Vec<String>),
}

/// Runs an online verb.
pub fn run(ctx: &Ctx, url: Option<&str>, verb: Verb) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    rt.block_on(run_async(ctx, url, verb))
}

async fn run_async(ctx: &Ctx, url: Option<&str>, verb: Verb) -> Result<String, String> {
    let node = ctx.node()?;
    if let Verb::LocalDisable = verb {
        return local_disable(node);
    }
    // Parse arguments before any request.
    let mut o = Online::open(node, url)?;
    let synced = o.sync().await?;
    match verb {
        Verb::Sync => Ok(describe_sync(&synced)),
        Verb::Status { json } => {
            let st = admin::status(
                o.authority.as_ref(),
                Some(o.id.key.public()),
                Some(o.id.node_key),
                None,
                vec![],
                vec![],
            );
            Ok(offline::render_status(&st, json))
        }
        Verb::Init {
            gen,
            support,
            confirm,
            args,
        } => init(&mut o, gen, support, confirm, &args).await,
        Verb::Add(keys) => {
            let p = parse_tl_args(&keys, true, false)?;
            if p.keys.is_empty() {
                return Err("missing argument, expected one or more tailnet lock keys".into());
            }
            if o.authority.is_none() {
                return Err("tailnet lock is not enabled".into());
            }
            let m = admin::Modify::new(o.id.clone(), o.authority.as_ref(), &o.store, &p.keys, &[])
                .map_err(|e| format!("modify tailnet-lock keys: {e}"))?;
            o.run(m).await.map_err(|e| format!("modify tailnet-lock keys: {e}"))?;
            o.sync().await?;
            Ok(String::new())
        }
        Verb::Remove { resign, keys } => {
            let p = parse_tl_args(&keys, true, false)?;
            if o.authority.is_none() {
                return Err("tailnet lock is not enabled".into());
            }
            let ids = p.keys.iter().map(|k| k.public.clone().unwrap_or_default()).collect();
            let r = admin::Remove::new(o.id.clone(), o.authority.as_ref(), &o.store, ids, resign)
                .map_err(|e| e.to_string())?;
            let out = o.run(r).await?;
            o.sync().await?;
            let mut text = String::new();
            for n in out.resigned {
                text.push_str(&format!("Re-signed {n}\n"));
            }
            Ok(text)
        }
        Verb::Sign(args) => sign(&mut o, args).await,
        Verb::Disable(args) => {
            let p = parse_tl_args(&args, false, true)?;
            let [secret] = <[Vec<u8>; 1]>::try_from(p.disablements)
                .map_err(|_| "usage: tka disable <disablement-secret>".to_string())?;
            let d = admin::Disable::new(o.id.clone(), o.authority.as_ref(), secret)
                .map_err(|e| e.to_string())?;
            o.run(d).await?;
            o.sync().await?;
            Ok(String::new())
        }
        Verb::RevokeFinish(args) => {
            let aum = offline::recovery_arg(&args)?;
            let s = admin::SubmitRecovery::new(o.id.clone(), o.authority.as_ref(), aum)
                .map_err(|e| format!("submitting recovery AUM failed: {e}"))?;
            o.run(s).await.map_err(|e| format!("submitting recovery AUM failed: {e}"))?;
            o.sync().await?;
            Ok("Recovery completed.\n".into())
        }
        Verb::LocalDisable => unreachable!("handled above"),
    }
}

async fn init(o: &mut Online, gen: usize, support: bool, confirm: bool, args: &[String]) -> Result<String, String> {
    if o.authority.is_some() {
        return Err("tailnet lock is already enabled".into());
    }
    let p = parse_tl_args(args, true, true)?;
    let ours = o.id.key.public().0;
    if !p.keys.iter().any(|k| k.public.as_deref() == Some(&ours[..])) {
        return Err(
            "the tailnet lock key of the current node must be one of the trusted keys during initialization".into(),
        );
    }
    let mut out = String::from("You are initializing tailnet lock with the following trusted signing keys:\n");
    for k in &p.keys {
        out.push_str(&format!(
            " - tlpub:{} ({} key)\n",
            data_encoding::HEXLOWER.encode(k.public.as_deref().unwrap_or_default()),
            k.kind
        ));
    }
    out.push('\n');
    if !confirm {
        out.push_str(&format!("{gen} disablement secrets will be generated.\n"));
        if support {
            out.push_str("A disablement secret will be generated and transmitted to Tailscale support.\n");
        }
        let flag = if support { "--gen-disablement-for-support " } else { "" };
        out.push_str(&format!(
            "\nIf this is correct, please re-run this command with the --confirm flag:\n\ttka init --confirm --gen-disablements {gen} {flag}{}\n",
            args.join(" ")
        ));
        return Ok(out);
    }
    let random = admin::InitRandom {
        state_ids: random_bytes::<16>(),
        secrets: (0..gen).map(|_| random_bytes::<32>()).collect(),
        support: support.then(random_bytes::<32>),
    };
    let init = admin::Init::new(o.id.clone(), false, p.keys, p.disablements, random, now())
        .map_err(|e| e.to_string())?;
    let done = o.run(init).await?;
    out.push_str(&format!(
        "{gen} disablement secrets have been generated and are printed below. Take note of them now, they WILL NOT be shown again.\n"
    ));
    for s in &done.secrets {
        out.push_str(&format!("\tdisablement-secret:{}\n", data_encoding::HEXUPPER.encode(s)));
    }
    if done.support_sent {
        out.push_str("A disablement secret for support has been generated and transmitted to the control server.\n");
    }
    out.push_str("Initialization complete.\n");
    o.sync().await?;
    Ok(out)
}

async fn sign(o: &mut Online, mut args: Vec<String>) -> Result<String, String> {
    for a in args.iter_mut() {
        if let Some(path) = a.strip_prefix("file:") {
            let raw = crate::input::read_capped(path, 64 << 10)?;
            *a = String::from_utf8(raw)
                .map_err(|_| format!("{path} is not text"))?
                .trim()
                .to_string();
        }
    }
    if args.first().is_some_and(|a| a.starts_with("tskey-auth-")) {
        let [auth] = <[String; 1]>::try_from(args)
            .map_err(|_| "usage: tka sign <tailscale pre-auth key>".to_string())?;
        let flow = admin::WrapAuthKey::new(
            o.id.clone(),
            o.authority.as_ref(),
            &o.store,
            &auth,
            random_bytes::<32>(),
            random_bytes::<32>(),
            &o.id.node_key.to_string(),
            now(),
        )
        .map_err(|e| format!("wrapping failed: {e}"))?;
        let (wrapped, _) = o.run(flow).await.map_err(|e| format!("add key failed: {e}"))?;
        o.sync().await?;
        return Ok(format!("{wrapped}\n"));
    }
    if args.is_empty() || args.len() > 2 {
        return Err("usage: tka sign <node-key> [<rotation-key>]".into());
    }
    let node: NodeKey = args[0]
        .parse()
        .map_err(|e| format!("decoding node-key: {e}"))?;
    let rotation = match args.get(1) {
        Some(r) => Some(crate::node::parse_nlpub(r).map_err(|e| format!("decoding rotation-key: {e}"))?.0),
        None => None,
    };
    let flow = match admin::SignNode::new(o.id.clone(), o.authority.as_ref(), &node, rotation) {
        Err(admin::AdminError::NotTrusted) => {
            return Err("Signing is not available on this device because it does not have a trusted tailnet lock key. Try again on a signing device instead.".into())
        }
        r => r.map_err(|e| e.to_string())?,
    };
    o.run(flow).await?;
    Ok(String::new())
}

fn local_disable(node: &NodeDir) -> Result<String, String> {
    let mut store = DirStore::open(node.store_dir())
        .map_err(|e| format!("opening {}: {e}", node.store_dir().display()))?;
    let a = if store.is_empty() {
        None
    } else {
        Some(Authority::open(&store).map_err(|e| format!("opening the authority: {e}"))?)
    };
    let ids = admin::force_local_disable(a.as_ref(), &mut store, |s, ids| {
        let mut list = s.disallowed_state_ids().to_vec();
        list.push(ids);
        s.save(vec![Change::DisallowedStateIds(list)], now())
            .map_err(tka::storage::StorageError::new)
    })
    .map_err(|e| match e {
        admin::AdminError::NotEnabled => "tailnet-lock is not active".to_string(),
        e => e.to_string(),
    })?;
    Ok(format!(
        "Tailnet Lock is disabled on this node for state ID {}:{}; it will not re-enable that authority.\n",
        ids.0, ids.1
    ))
}
