//! A node's state directory as the `tka` command uses it:
//!
//! ```text
//! <dir>/tailnet-lock.key   nlpriv:<128 hex digits>   this node's tailnet-lock key (mode 0600)
//! <dir>/node.key           nodekey:<64 hex digits>   this node's node key (control identifies it by it)
//! <dir>/tka/               the AUM store (Go's tailchonk layout, `tka_node::DirStore`)
//! ```

use crate::input::read_capped;
use std::path::{Path, PathBuf};
use tka::{NlPrivate, NlPublic, NodeKey};

/// File name of the tailnet-lock private key.
pub const KEY_FILE: &str = "tailnet-lock.key";
/// File name of the node key.
pub const NODE_KEY_FILE: &str = "node.key";
/// Sub-directory holding the AUM store.
pub const STORE_DIR: &str = "tka";

/// A node state directory.
#[derive(Clone, Debug)]
pub struct NodeDir {
    /// The directory.
    pub dir: PathBuf,
}

/// Parses `nlpriv:<hex>` (Go's `key.NLPrivate` text: the 64-byte Ed25519
/// private key, seed then public half), checking the halves agree.
pub fn parse_nlpriv(text: &str) -> Result<NlPrivate, String> {
    let t = text.trim();
    let hex = t
        .strip_prefix("nlpriv:")
        .ok_or("a tailnet-lock private key must start with \"nlpriv:\"")?;
    let b = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .map_err(|_| "the tailnet-lock private key is not hex")?;
    let b: [u8; 64] = b.try_into().map_err(|b: Vec<u8>| {
        format!(
            "the tailnet-lock private key has {} bytes, want 64",
            b.len()
        )
    })?;
    let seed: [u8; 32] = b[..32].try_into().expect("32 bytes");
    let k = NlPrivate::from_seed(&seed);
    if k.public().0[..] != b[32..] {
        return Err(
            "the tailnet-lock private key is corrupt (its public half does not match)".into(),
        );
    }
    Ok(k)
}

/// `nlpriv:<hex>` text of a key.
pub fn format_nlpriv(k: &NlPrivate) -> String {
    format!(
        "nlpriv:{}",
        data_encoding::HEXLOWER.encode(&k.to_keypair_bytes())
    )
}

/// Parses a tailnet-lock public key (`tlpub:` or `nlpub:` + 64 hex).
pub fn parse_nlpub(text: &str) -> Result<NlPublic, String> {
    text.trim().parse::<NlPublic>().map_err(|e| {
        format!("{text:?} is not a tailnet-lock key ({e}); want tlpub:<64 hex digits>")
    })
}

impl NodeDir {
    /// The directory at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        NodeDir { dir: dir.into() }
    }

    /// Where the AUM store is.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.join(STORE_DIR)
    }

    fn read_small(&self, name: &str, what: &str) -> Result<String, String> {
        let p = self.dir.join(name);
        if !p.exists() {
            return Err(format!(
                "{} has no {what} ({}); create one with `tka keygen --state {}`",
                self.dir.display(),
                p.display(),
                self.dir.display()
            ));
        }
        let raw = read_capped(&p.to_string_lossy(), 4096)?;
        String::from_utf8(raw).map_err(|_| format!("{} is not text", p.display()))
    }

    /// This node's tailnet-lock key.
    pub fn key(&self) -> Result<NlPrivate, String> {
        let t = self.read_small(KEY_FILE, "tailnet-lock key")?;
        parse_nlpriv(&t).map_err(|e| format!("{}: {e}", self.dir.join(KEY_FILE).display()))
    }

    /// This node's node key.
    pub fn node_key(&self) -> Result<NodeKey, String> {
        let t = self.read_small(NODE_KEY_FILE, "node key")?;
        t.trim()
            .parse()
            .map_err(|e| format!("{}: {e}", self.dir.join(NODE_KEY_FILE).display()))
    }

    /// Writes fresh keys from the 64 random bytes given (refusing to
    /// overwrite existing ones).
    pub fn create(&self, random: [u8; 64]) -> Result<(NlPublic, NodeKey), String> {
        let kp = self.dir.join(KEY_FILE);
        let np = self.dir.join(NODE_KEY_FILE);
        if kp.exists() || np.exists() {
            return Err(format!(
                "{} already holds keys; refusing to overwrite them",
                self.dir.display()
            ));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let key = NlPrivate::from_seed(&random[..32].try_into().expect("32 bytes"));
        let node = NodeKey(random[32..].try_into().expect("32 bytes"));
        write_private(&kp, &format!("{}\n", format_nlpriv(&key)))?;
        std::fs::write(&np, format!("{node}\n"))
            .map_err(|e| format!("cannot write {}: {e}", np.display()))?;
        Ok((key.public(), node))
    }
}

fn write_private(p: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o
        .open(p)
        .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", p.display()))
}
