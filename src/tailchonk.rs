//! Go's on-disk AUM store (`tka.FS`, "tailchonk"): the file format, and a
//! loader that reads such a directory into a [`MemStorage`].
//!
//! Layout: `<dir>/<first two chars of the base32 hash>/<52-char base32
//! hash>`, each file a CBOR map {1: Children, 2: AUM, 3: CreatedUnix,
//! 4: PurgedUnix} (the children list is type-checked and dropped), and
//! `<dir>/last_active_ancestor` holding the raw 32-byte hash. Purge is a soft delete: the file stays with
//! PurgedUnix set. Files read with Go's strict decoder, except that bytes
//! after the map are ignored, as Go's streaming decoder does.

use crate::aum::Aum;
use crate::cbor::{check_well_formed_prefix, encode_to_vec, DecodeError, Reader};
use crate::hash::AumHash;
use crate::storage::{MemStorage, StoredAum};
use std::fmt;
use std::path::{Path, PathBuf};

/// One file of Go's store.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FsEntry {
    /// The AUM; `None` means the entry holds nothing.
    pub aum: Option<Aum>,
    /// When the AUM was first committed (Unix seconds; 0 if unknown).
    pub created_unix: i64,
    /// When it was purged (Unix seconds; 0 if live).
    pub purged_unix: i64,
}

impl FsEntry {
    /// Decodes a file's bytes.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, DecodeError> {
        check_well_formed_prefix(bytes)?;
        let mut r = Reader::new(bytes);
        let mut e = FsEntry::default();
        r.struct_map("tka.fsHashInfo", 0b11110, |r, f| {
            match f {
                2 => {
                    e.aum = if r.take_nil()? {
                        None
                    } else {
                        Some(Aum::decode(r)?)
                    }
                }
                3 => e.created_unix = r.int64("tka.fsHashInfo.CreatedUnix")?,
                4 => e.purged_unix = r.int64("tka.fsHashInfo.PurgedUnix")?,
                // Key 1, the children list (Go's `[]AUMHash`), is type
                // checked as Go decodes it, then dropped: the loader finds
                // children from the AUMs themselves.
                _ => {
                    if let Some(n) = r.array_len("tka.fsHashInfo.Children")? {
                        for _ in 0..n {
                            r.bytes32("tka.fsHashInfo.Children")?;
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(e)
    }

    /// The canonical encoding Go writes.
    pub fn to_cbor(&self) -> Vec<u8> {
        encode_to_vec(|e| {
            let n = 1 + u64::from(self.created_unix != 0) + u64::from(self.purged_unix != 0);
            e.map(n)?;
            e.u8(2)?;
            match &self.aum {
                Some(a) => a.encode_to(e)?,
                None => {
                    e.null()?;
                }
            }
            if self.created_unix != 0 {
                e.u8(3)?.i64(self.created_unix)?;
            }
            if self.purged_unix != 0 {
                e.u8(4)?.i64(self.purged_unix)?;
            }
            Ok(())
        })
    }
}

/// Why a Go store directory could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum TailchonkError {
    /// Reading the directory or a file failed.
    Io(PathBuf, std::io::Error),
    /// A file did not decode.
    Decode(PathBuf, DecodeError),
    /// A file's AUM does not hash to its name.
    HashMismatch(PathBuf),
    /// `last_active_ancestor` is not 32 bytes.
    BadAncestor(usize),
    /// A file is larger than any AUM file Go writes ([`MAX_FILE`] bytes);
    /// it was not read.
    TooLarge(PathBuf, u64),
    /// A symbolic link stands where the loader would read a hash
    /// directory, an AUM file or `last_active_ancestor`. Go's store never
    /// creates links, so one means the directory was altered; the loader
    /// does not follow it.
    Symlink(PathBuf),
}

impl fmt::Display for TailchonkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TailchonkError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            TailchonkError::Decode(p, e) => write!(f, "{}: {e}", p.display()),
            TailchonkError::HashMismatch(p) => {
                write!(f, "{}: AUM does not match its file name", p.display())
            }
            TailchonkError::BadAncestor(n) => {
                write!(f, "last_active_ancestor has {n} bytes, want 32")
            }
            TailchonkError::TooLarge(p, n) => write!(
                f,
                "{}: {n} bytes, larger than an AUM file can be ({MAX_FILE})",
                p.display()
            ),
            TailchonkError::Symlink(p) => {
                write!(f, "{}: is a symbolic link; not followed", p.display())
            }
        }
    }
}

impl std::error::Error for TailchonkError {}

/// Most bytes read from one AUM file; Go's AUMs are far smaller (a
/// checkpoint at every limit is a few hundred KiB).
pub const MAX_FILE: u64 = 1 << 20;

/// Reads at most `cap` bytes of the regular file `path`, refusing a longer
/// file before allocating for it.
fn read_capped(path: &Path, cap: u64) -> Result<(Vec<u8>, std::fs::Metadata), TailchonkError> {
    let io = |e| TailchonkError::Io(path.to_path_buf(), e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.len() > cap {
        return Err(TailchonkError::TooLarge(path.to_path_buf(), meta.len()));
    }
    // The length can change while reading; never take more than the cap.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, cap + 1), &mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(TailchonkError::TooLarge(
            path.to_path_buf(),
            bytes.len() as u64,
        ));
    }
    Ok((bytes, meta))
}

/// Loads a Go store directory into memory: live AUMs (purged entries are
/// skipped), their commit times, and the last-active-ancestor hint.
///
/// Only Go's layout is read: two-character subdirectories holding files
/// named by an AUM hash, and `last_active_ancestor`; other names are
/// ignored. Every AUM file must decode and match its name, or loading fails
/// with an error naming the file ([`TailchonkError::Decode`],
/// [`TailchonkError::HashMismatch`], [`TailchonkError::TooLarge`]): a store
/// with a damaged file is not silently loaded without it.
///
/// Symbolic links inside `dir` are never followed. One where the loader
/// would read (a two-character subdirectory, a hash-named file,
/// `last_active_ancestor`) is reported as [`TailchonkError::Symlink`];
/// `dir` itself may be a link. (The check is on the directory entry: a
/// process that can rewrite the directory while it is loaded can also
/// rewrite the files.)
pub fn load_dir(dir: &Path) -> Result<MemStorage, TailchonkError> {
    let io = |p: &Path, e| TailchonkError::Io(p.to_path_buf(), e);
    let mut store = MemStorage::new();
    for sub in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let sub = sub.map_err(|e| io(dir, e))?;
        let kind = sub.file_type().map_err(|e| io(&sub.path(), e))?;
        let sub_name_len = sub.file_name().len();
        let sub = sub.path();
        if kind.is_symlink() && sub_name_len == 2 {
            return Err(TailchonkError::Symlink(sub));
        }
        if !kind.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).map_err(|e| io(&sub, e))? {
            let f = f.map_err(|e| io(&sub, e))?;
            let kind = f.file_type().map_err(|e| io(&f.path(), e))?;
            let path = f.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Ok(hash) = name.parse::<AumHash>() else {
                continue;
            };
            if kind.is_symlink() {
                return Err(TailchonkError::Symlink(path));
            }
            if !kind.is_file() {
                continue;
            }
            let (bytes, meta) = read_capped(&path, MAX_FILE)?;
            let entry =
                FsEntry::from_cbor(&bytes).map_err(|e| TailchonkError::Decode(path.clone(), e))?;
            drop(bytes);
            let Some(aum) = entry.aum else { continue };
            if entry.purged_unix > 0 {
                continue;
            }
            let stored = StoredAum::new(aum);
            if stored.hash() != hash {
                return Err(TailchonkError::HashMismatch(path));
            }
            let time = if entry.created_unix > 0 {
                entry.created_unix as u64
            } else {
                meta.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs())
            };
            store.load_persisted(stored, time);
        }
    }
    let laa_path = dir.join("last_active_ancestor");
    match std::fs::symlink_metadata(&laa_path) {
        Ok(m) if m.file_type().is_symlink() => return Err(TailchonkError::Symlink(laa_path)),
        Ok(_) => {
            let (b, _) = read_capped(&laa_path, 32).map_err(|e| match e {
                TailchonkError::TooLarge(_, n) => TailchonkError::BadAncestor(n as usize),
                e => e,
            })?;
            let h = AumHash::from_slice(&b).map_err(|_| TailchonkError::BadAncestor(b.len()))?;
            store.load_last_active_ancestor(Some(h));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&laa_path, e)),
    }
    Ok(store)
}
