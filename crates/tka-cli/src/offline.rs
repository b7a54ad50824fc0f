//! The verbs that need no control server: status, log, disablement-kdf,
//! keygen, and the first two steps of revoke-keys.

use crate::node::{parse_nlpub, NodeDir};
use crate::{json, text};
use std::path::{Path, PathBuf};
use tka::admin::{self, Status};
use tka::{Aum, AumHash, Authority, MemStorage};

/// Where the verbs find the node's files.
pub struct Ctx {
    /// The node state directory, if given.
    pub node: Option<NodeDir>,
    chonk: Option<PathBuf>,
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand_core::RngCore as _;
    let mut b = [0u8; N];
    rand_core::OsRng.fill_bytes(&mut b);
    b
}

/// Whether stdout is a terminal (for colour).
pub fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

impl Ctx {
    /// The context of one invocation.
    pub fn new(state: Option<PathBuf>, chonk: Option<PathBuf>) -> Self {
        Ctx {
            node: state.map(NodeDir::new),
            chonk,
        }
    }

    /// The bare store directory (`--chonk`), if given.
    pub fn chonk(&self) -> Option<&Path> {
        self.chonk.as_deref()
    }

    /// The node directory, required.
    pub fn node(&self) -> Result<&NodeDir, String> {
        self.node
            .as_ref()
            .ok_or_else(|| "no node state directory: pass --state DIR (or set TKA_STATE)".into())
    }

    fn store_path(&self) -> Result<PathBuf, String> {
        match (&self.chonk, &self.node) {
            (Some(c), _) => Ok(c.clone()),
            (None, Some(n)) => Ok(n.store_dir()),
            (None, None) => Err("no store: pass --state DIR or --chonk DIR".into()),
        }
    }

    /// The AUM store, read into memory (read-only use).
    pub fn load(&self) -> Result<MemStorage, String> {
        let p = self.store_path()?;
        load_store(&p)
    }
}

/// Reads a tailchonk directory into memory; a missing directory is an
/// empty store only when it is a node directory's own `tka/`.
pub fn load_store(p: &Path) -> Result<MemStorage, String> {
    if !p.exists() {
        return Err(format!("{} does not exist", p.display()));
    }
    if !p.is_dir() {
        return Err(format!("{} is not a directory", p.display()));
    }
    tka::tailchonk::load_dir(p).map_err(|e| format!("reading the AUM store: {e}"))
}

/// Opens the authority in `storage`, `None` if the store is empty.
pub fn open_authority(storage: &MemStorage) -> Result<Option<Authority>, String> {
    if storage.is_empty() {
        return Ok(None);
    }
    Authority::open(storage)
        .map(Some)
        .map_err(|e| format!("opening the authority: {e}"))
}

fn ctx_authority(ctx: &Ctx) -> Result<(MemStorage, Option<Authority>), String> {
    let storage = match (&ctx.chonk, &ctx.node) {
        // A node directory whose store was never created: lock off.
        (None, Some(n)) if !n.store_dir().exists() => MemStorage::new(),
        _ => ctx.load()?,
    };
    let a = open_authority(&storage)?;
    Ok((storage, a))
}

/// What `status` knows of this node's own signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelfSig {
    /// Not known (no control server asked): the text output then says
    /// neither "accessible" nor "LOCKED OUT".
    Unknown,
    /// Control's answer: the node's signature that verifies, or none.
    Known(Option<Vec<u8>>),
}

/// `tka status [--json]`.
pub fn status(ctx: &Ctx, json_out: bool, self_sig: SelfSig) -> Result<String, String> {
    let (_, a) = ctx_authority(ctx)?;
    let (pk, nk) = match &ctx.node {
        Some(n) if ctx.chonk.is_none() => (Some(n.key()?.public()), Some(n.node_key()?)),
        _ => (None, None),
    };
    // Without a key Go reports the lock off; a bare store (--chonk) has
    // no key, so it is shown as the authority sees it.
    let st = if pk.is_none() && a.is_some() {
        let mut s = admin::status(
            a.as_ref(),
            Some(tka::NlPublic([0; 32])),
            nk,
            None,
            vec![],
            vec![],
        );
        s.public_key = None;
        s
    } else {
        let sig = match &self_sig {
            SelfSig::Known(Some(s)) => Some(&s[..]),
            _ => None,
        };
        admin::status(a.as_ref(), pk, nk, sig, vec![], vec![])
    };
    if self_sig == SelfSig::Unknown && !json_out {
        // Go's text names the node's standing only when it knows the
        // signature; the node key is shown nowhere else in the text.
        let mut st = st;
        st.node_key = None;
        return Ok(render_status(&st, false));
    }
    Ok(render_status(&st, json_out))
}

/// Status in the requested form.
pub fn render_status(st: &Status, json_out: bool) -> String {
    if json_out {
        json::status(st)
    } else {
        text::status(st, "tka")
    }
}

/// `tka log [--limit N] [--json]`.
pub fn log(ctx: &Ctx, limit: usize, json_out: bool) -> Result<String, String> {
    let (storage, a) = ctx_authority(ctx)?;
    if a.is_none() {
        return Err("Tailnet Lock is not enabled".into());
    }
    let entries = admin::log(a.as_ref(), &storage, limit).map_err(|e| e.to_string())?;
    Ok(if json_out {
        json::log(&entries)
    } else {
        text::log(&entries, stdout_is_terminal())
    })
}

/// `tka disablement-kdf <hex>`.
pub fn disablement_kdf(secret: &str) -> Result<String, String> {
    let s = data_encoding::HEXLOWER_PERMISSIVE
        .decode(secret.trim().as_bytes())
        .map_err(|_| format!("the secret must be hex, got {secret:?}"))?;
    let v = tka::kdf::disablement_kdf(&s).map_err(|e| e.to_string())?;
    Ok(format!(
        "disablement:{}\n",
        data_encoding::HEXLOWER.encode(&v)
    ))
}

/// `tka keygen --state DIR`.
pub fn keygen(ctx: &Ctx) -> Result<String, String> {
    let n = ctx.node()?;
    let (pk, nk) = n.create(random_bytes::<64>())?;
    Ok(format!(
        "Created {}\nThis node's tailnet-lock key: {}\nThis node's node key: {nk}\n",
        n.dir.display(),
        pk.to_tlpub()
    ))
}

/// Keys and disablement values from the command line (Go's
/// `parseTLArgs`).
pub struct TlArgs {
    /// Keys (`tlpub:HEX[?VOTES]`, votes default 1).
    pub keys: Vec<tka::Key>,
    /// The bytes of `disablement:HEX` and `disablement-secret:HEX`
    /// arguments. Go treats both prefixes alike: `init` takes them as
    /// disablement values, `disable` as the secret.
    pub disablements: Vec<Vec<u8>>,
}

/// See [`TlArgs`]; `keys` / `disablements` say which kinds are allowed.
pub fn parse_tl_args(args: &[String], keys: bool, disablements: bool) -> Result<TlArgs, String> {
    let mut out = TlArgs {
        keys: vec![],
        disablements: vec![],
    };
    for (i, a) in args.iter().enumerate() {
        let n = i + 1;
        let dis = a
            .strip_prefix("disablement:")
            .or_else(|| a.strip_prefix("disablement-secret:"));
        if let (true, Some(h)) = (disablements, dis) {
            let b = data_encoding::HEXLOWER_PERMISSIVE
                .decode(h.as_bytes())
                .map_err(|_| format!("parsing disablement {n}: {h:?} is not hex"))?;
            out.disablements.push(b);
            continue;
        }
        if !keys {
            return Err(format!(
                "parsing argument {n}: expected value with \"disablement:\" or \"disablement-secret:\" prefix, got {a:?}"
            ));
        }
        let (k, votes) = match a.split_once('?') {
            Some((k, v)) => (
                k,
                v.parse::<u64>()
                    .map_err(|_| format!("parsing key {n} votes: {v:?} is not a number"))?,
            ),
            None => (a.as_str(), 1),
        };
        let pk = parse_nlpub(k).map_err(|e| format!("parsing key {n}: {e}"))?;
        out.keys.push(tka::Key::ed25519(pk.0, votes));
    }
    Ok(out)
}

/// Parses `--fork-from`: 64 hex digits or a base32 AUM hash.
pub fn parse_fork_from(s: &str) -> Result<AumHash, String> {
    let r = if s.len() == 64 {
        AumHash::from_hex(s).map_err(|e| e.to_string())
    } else {
        s.parse::<AumHash>().map_err(|e| e.to_string())
    };
    r.map_err(|e| format!("invalid fork-from hash: {e}"))
}

/// The node's key and authority, for revoke-keys' local steps.
fn revoke_ctx(ctx: &Ctx) -> Result<(tka::NlPrivate, MemStorage, Authority), String> {
    let key = ctx.node()?.key()?;
    let (storage, a) = ctx_authority(ctx)?;
    let a = a.ok_or("tailnet-lock is not active")?;
    Ok((key, storage, a))
}

/// `tka revoke-keys <keys>`: generates the recovery AUM, signed by this
/// node, and prints the next command.
pub fn revoke_keys_start(
    ctx: &Ctx,
    fork_from: Option<&str>,
    args: &[String],
) -> Result<String, String> {
    let parsed = parse_tl_args(args, true, false)?;
    if parsed.keys.is_empty() {
        return Err("missing argument, expected one or more tailnet lock keys".into());
    }
    let fork = fork_from.map(parse_fork_from).transpose()?;
    let (key, storage, a) = revoke_ctx(ctx)?;
    let ids: Vec<Vec<u8>> = parsed
        .keys
        .iter()
        .map(|k| k.public.clone().unwrap_or_default())
        .collect();
    let aum = admin::generate_recovery(Some(&a), &storage, &key, &ids, fork)
        .map_err(|e| format!("generation of recovery AUM failed: {e}"))?;
    Ok(format!(
        "Run the following command on another machine with a trusted tailnet lock key:\n\ttka revoke-keys --cosign {}\n",
        data_encoding::HEXUPPER.encode(&aum.to_cbor())
    ))
}

/// Decodes the recovery AUM argument of `--cosign` / `--finish`.
pub fn recovery_arg(args: &[String]) -> Result<Aum, String> {
    let [hex] = args else {
        return Err("expected exactly one argument: the recovery AUM as hex".into());
    };
    let b = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.trim().as_bytes())
        .map_err(|_| "parsing hex: the recovery AUM must be hex".to_string())?;
    Aum::from_cbor(&b).map_err(|e| format!("decoding recovery AUM: {e}"))
}

/// `tka revoke-keys --cosign <hex>`.
pub fn revoke_keys_cosign(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let aum = recovery_arg(args)?;
    let (key, _, a) = revoke_ctx(ctx)?;
    let aum = admin::cosign_recovery(Some(&a), aum, &key)
        .map_err(|e| format!("co-signing recovery AUM failed: {e}"))?;
    let hex = data_encoding::HEXUPPER.encode(&aum.to_cbor());
    Ok(format!(
        "Co-signing completed successfully.\n\nTo accumulate an additional signature, run the following command on another machine with a trusted tailnet lock key:\n\ttka revoke-keys --cosign {hex}\n\nAlternatively if you are done with co-signing, complete recovery by running the following command:\n\ttka revoke-keys --finish {hex}\n"
    ))
}
