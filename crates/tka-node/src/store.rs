//! [`DirStore`]: Go's on-disk AUM store (`tka.FS`, "tailchonk"), read and
//! written, plus the node's own settings beside it.
//!
//! # Layout
//!
//! ```text
//! <dir>/<first 2 chars of hash>/<52-char base32 hash>   one AUM: CBOR {2: AUM, 3: CreatedUnix, 4: PurgedUnix}
//! <dir>/last_active_ancestor                            the raw 32-byte hash
//! <dir>/tka-node.json                                   this crate: mode and locally disabled state IDs
//! <dir>/tka-node.journal                                this crate: a save in progress (only after a crash)
//! ```
//!
//! The AUM files and `last_active_ancestor` are exactly Go's: a directory
//! Go wrote opens here, and for the same AUMs and times this store writes
//! the same bytes. Go skips top-level files and names that are not hashes,
//! so it reads a directory this store wrote, ignoring the two extra files.
//! Purge is Go's soft delete (the file stays, with `PurgedUnix` set);
//! re-committing an AUM keeps its first `CreatedUnix`, as Go does.
//!
//! # Durability
//!
//! Every file is replaced atomically (temporary file, fsync, rename, fsync
//! of the directory). A save that touches more than one file is first
//! written as a journal (itself atomic) and then applied; opening a
//! directory with a journal finishes it. So a crash at any point leaves
//! the state before or after the interrupted save, never a mix. Leftover
//! temporary files are skipped, as Go skips them.
//!
//! A save that fails is either kept and retried before the next one (and
//! by [`DirStore::retry_failed`]), so what is in memory reaches the disk or
//! the failure stays visible ([`DirStore::failing`]); or dropped with
//! [`DirStore::reload`], which makes memory what the disk holds again
//! (what the driver does: it then tells the machine what is stored).
//!
//! # Reading
//!
//! Opening reads every file once and indexes AUMs by parent, so opening
//! and every [`Storage`] read afterwards cost no directory scans (Go scans
//! the whole directory for each child lookup). Every read is bounded: an
//! AUM file larger than 1 MiB, a misplaced AUM file or one whose AUM does
//! not hash to its name makes the directory refuse to open, as Go refuses
//! to read it.

use crate::fs::{write_atomic, Fs, RealFs};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use tka::machine::{Mode, Persisted, StorageDelta};
use tka::storage::StorageError;
use tka::tailchonk::FsEntry;
use tka::{AumHash, Storage, StoredAum, VerifiedAum};

/// File name of Go's last-active-ancestor hint.
pub const LAST_ACTIVE_ANCESTOR: &str = "last_active_ancestor";
/// File name of this crate's settings (mode, locally disabled state IDs).
pub const SETTINGS: &str = "tka-node.json";
/// File name of a multi-file save in progress.
pub const JOURNAL: &str = "tka-node.journal";

/// Largest AUM file read (Go's AUMs are a few hundred bytes).
const MAX_AUM_FILE: u64 = 1 << 20;
/// Largest settings file read.
const MAX_SETTINGS_FILE: u64 = 1 << 20;
/// Largest journal read.
const MAX_JOURNAL_FILE: u64 = 256 << 20;

/// Why the store could not be opened or saved.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system operation failed.
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An AUM file did not decode.
    Decode {
        /// The file.
        path: PathBuf,
        /// The error.
        source: tka::cbor::DecodeError,
    },
    /// An AUM file's AUM does not hash to the file's name.
    HashMismatch(PathBuf),
    /// An AUM file is in another prefix directory than its name says, or is
    /// not a regular file.
    Misplaced(PathBuf),
    /// A file is larger than this store reads.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// `last_active_ancestor` is not 32 bytes.
    BadAncestor(usize),
    /// The settings file or the journal is not what this crate writes.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { what, path, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
            StoreError::Decode { path, source } => write!(f, "{}: {source}", path.display()),
            StoreError::HashMismatch(p) => {
                write!(f, "{}: AUM does not match its file name", p.display())
            }
            StoreError::Misplaced(p) => {
                write!(
                    f,
                    "{}: not a regular file in its hash's directory",
                    p.display()
                )
            }
            StoreError::TooLarge { path, len } => {
                write!(
                    f,
                    "{}: {len} bytes is more than this store reads",
                    path.display()
                )
            }
            StoreError::BadAncestor(n) => {
                write!(f, "last_active_ancestor has {n} bytes, want 32")
            }
            StoreError::Corrupt { path, why } => write!(f, "{}: {why}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// One change to the store. A [`DirStore::save`] applies a list of them as
/// one atomic step.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Change {
    /// A machine's storage delta (commits, purges, hint).
    Delta(StorageDelta),
    /// Delete every AUM and the hint (the lock was disabled). The settings
    /// stay.
    RemoveAll,
    /// The locally disabled state IDs, replacing the list.
    DisallowedStateIds(Vec<(u64, u64)>),
    /// The node's mode.
    Mode(Mode),
}

/// The node's settings file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Settings {
    /// `"observe"` or `"enforce"`; absent until chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default)]
    disallowed_state_ids: Vec<(u64, u64)>,
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Observe => "observe",
        Mode::Enforce => "enforce",
    }
}

fn parse_mode(s: &str) -> Option<Mode> {
    match s {
        "observe" => Some(Mode::Observe),
        "enforce" => Some(Mode::Enforce),
        _ => None,
    }
}

/// A multi-file save, written before it is applied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Journal {
    remove_all: bool,
    /// (path relative to the store, file bytes as hex)
    writes: Vec<(String, String)>,
}

/// One AUM file's contents, as indexed.
#[derive(Clone, Debug)]
struct Entry {
    aum: Option<StoredAum>,
    created: i64,
    purged: i64,
    /// The file's modification time, Go's commit time when `created` is 0.
    mtime: u64,
}

impl Entry {
    fn live(&self) -> Option<&StoredAum> {
        if self.purged > 0 {
            None
        } else {
            self.aum.as_ref()
        }
    }

    fn to_file(&self) -> Vec<u8> {
        FsEntry {
            aum: self.aum.as_ref().map(|a| a.aum().clone()),
            created_unix: self.created,
            purged_unix: self.purged,
        }
        .to_cbor()
    }
}

/// The in-memory index of a store directory.
#[derive(Clone, Debug, Default)]
struct Index {
    entries: HashMap<AumHash, Entry>,
    /// Live AUMs by parent.
    children: HashMap<AumHash, Vec<AumHash>>,
    laa: Option<AumHash>,
    settings: Settings,
}

impl Index {
    fn link(&mut self, h: AumHash) {
        if let Some(p) = self
            .entries
            .get(&h)
            .and_then(Entry::live)
            .and_then(StoredAum::parent)
        {
            let kids = self.children.entry(p).or_default();
            if !kids.contains(&h) {
                kids.push(h);
            }
        }
    }

    fn unlink(&mut self, h: AumHash) {
        if let Some(p) = self
            .entries
            .get(&h)
            .and_then(Entry::live)
            .and_then(StoredAum::parent)
        {
            if let Some(kids) = self.children.get_mut(&p) {
                kids.retain(|k| *k != h);
                if kids.is_empty() {
                    self.children.remove(&p);
                }
            }
        }
    }
}

/// The relative path of an AUM's file: `XX/<hash>`.
fn aum_path(h: &AumHash) -> String {
    let s = h.to_string();
    format!("{}/{}", &s[..2], s)
}

/// Go's tailchonk directory as a [`Storage`], with the node's mode and
/// locally disabled state IDs beside it. See the [module docs](self).
pub struct DirStore {
    dir: PathBuf,
    fs: Arc<dyn Fs>,
    index: Index,
    /// The latest time (Unix seconds) a save was given; purges through the
    /// [`Storage`] trait, which passes no time, record it.
    now: u64,
    /// Saves that failed, oldest first, retried before the next save.
    failed: Vec<(Vec<Change>, u64)>,
    last_error: Option<String>,
    /// [`DirStore::reload`] found a journal it could not finish on disk:
    /// the index includes it; finish it before the next write.
    journal_unfinished: bool,
}

impl fmt::Debug for DirStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirStore")
            .field("dir", &self.dir)
            .field("entries", &self.index.entries.len())
            .field("failing", &self.last_error)
            .finish()
    }
}

impl DirStore {
    /// Opens (creating it if missing) the store in `dir`, finishing a save a
    /// crash interrupted.
    pub fn open(dir: impl AsRef<Path>) -> Result<DirStore, StoreError> {
        Self::open_with(dir, Arc::new(RealFs))
    }

    /// [`DirStore::open`] writing through `fs` (for fault injection).
    pub fn open_with(dir: impl AsRef<Path>, fs: Arc<dyn Fs>) -> Result<DirStore, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            fs.create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        }
        let mut store = DirStore {
            dir,
            fs,
            index: Index::default(),
            now: 0,
            failed: Vec::new(),
            last_error: None,
            journal_unfinished: false,
        };
        let journal_path = store.dir.join(JOURNAL);
        if let Some(bytes) = read_bounded(&journal_path, MAX_JOURNAL_FILE)? {
            let journal = parse_journal(&journal_path, &bytes)?;
            store.index = load(&store.dir)?;
            store.execute(&journal)?;
            store
                .fs
                .remove_file(&journal_path)
                .map_err(io_err("removing", &journal_path))?;
            store
                .fs
                .sync_dir(&store.dir)
                .map_err(io_err("syncing", &store.dir))?;
        }
        store.index = load(&store.dir)?;
        store.now = store
            .index
            .entries
            .values()
            .map(|e| e.created.max(e.purged).max(0) as u64)
            .max()
            .unwrap_or(0);
        Ok(store)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mode chosen for this node, or `None` if none was chosen yet.
    pub fn mode(&self) -> Option<Mode> {
        self.index.settings.mode.as_deref().and_then(parse_mode)
    }

    /// The locally disabled state IDs.
    pub fn disallowed_state_ids(&self) -> &[(u64, u64)] {
        &self.index.settings.disallowed_state_ids
    }

    /// Number of live AUMs.
    pub fn len(&self) -> usize {
        self.index
            .entries
            .values()
            .filter(|e| e.live().is_some())
            .count()
    }

    /// Whether no live AUM is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest time (Unix seconds) recorded in the store: a clock must
    /// not start a machine earlier than this.
    pub fn latest_time(&self) -> u64 {
        self.now
    }

    /// Advances the store's clock to `now` (Unix seconds; it never goes
    /// back): the time that [`Storage`] calls which pass none
    /// (`purge_aums`, `set_last_active_ancestor`, `remove_all`) record.
    pub fn set_now(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// What a machine started over this store begins with.
    pub fn persisted(&self) -> Persisted {
        // Reads from the index cannot fail.
        Persisted::from_storage(self, self.disallowed_state_ids()).unwrap_or_default()
    }

    /// Why the last save failed, while failed saves are still pending.
    pub fn failing(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Applies `changes` as one atomic step, recording `now` (Unix seconds)
    /// as the time of commits and purges. Saves that failed earlier are
    /// retried first. On error the changes stay in memory (reads see them)
    /// and are retried by the next save or [`DirStore::retry_failed`].
    pub fn save(&mut self, changes: Vec<Change>, now: u64) -> Result<(), StoreError> {
        self.failed.push((changes, now));
        self.retry_failed()
    }

    /// Drops the saves that failed and reads the directory again, so the
    /// store holds exactly what the disk holds: a save whose journal is in
    /// place counts as done (it is finished now, or before the next write
    /// if the disk still refuses writes), any other failed save as not
    /// done. On error (the directory cannot be read) nothing changes.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        let mut index = load(&self.dir)?;
        let journal_path = self.dir.join(JOURNAL);
        let journal = match read_bounded(&journal_path, MAX_JOURNAL_FILE)? {
            Some(bytes) => Some(parse_journal(&journal_path, &bytes)?),
            None => None,
        };
        if let Some(j) = &journal {
            overlay(&mut index, j, &journal_path, self.now)?;
        }
        self.index = index;
        self.failed.clear();
        self.last_error = None;
        self.journal_unfinished = journal.is_some();
        if self.journal_unfinished {
            // Finishing it now is an optimisation: a failure here leaves
            // the journal for the next write (or the next open) to finish.
            if let Ok(fresh) = DirStore::open_with(&self.dir, self.fs.clone()) {
                self.index = fresh.index;
                self.journal_unfinished = false;
            }
        }
        Ok(())
    }

    /// Retries saves that failed; `Ok` when none is left.
    pub fn retry_failed(&mut self) -> Result<(), StoreError> {
        if self.failed.is_empty() {
            return Ok(());
        }
        let result = self.flush_failed();
        self.last_error = result.as_ref().err().map(ToString::to_string);
        result
    }

    fn flush_failed(&mut self) -> Result<(), StoreError> {
        if self.last_error.is_some() || self.journal_unfinished {
            // Memory is ahead of the disk: start again from what the disk
            // holds (finishing a journal), then redo every pending save.
            let fresh = DirStore::open_with(&self.dir, self.fs.clone())?;
            self.index = fresh.index;
            self.journal_unfinished = false;
        }
        let pending = std::mem::take(&mut self.failed);
        let mut journal = Journal::default();
        let mut written: HashMap<String, usize> = HashMap::new();
        for (changes, now) in &pending {
            self.now = self.now.max(*now);
            for c in changes {
                self.plan(c, *now as i64, &mut journal, &mut written);
            }
        }
        let result = self.commit(&journal);
        if result.is_err() {
            self.failed = pending;
        }
        result
    }

    /// Applies one change to the index and records the files to write.
    fn plan(
        &mut self,
        change: &Change,
        now: i64,
        j: &mut Journal,
        written: &mut HashMap<String, usize>,
    ) {
        let mut put = |j: &mut Journal, path: String, bytes: Vec<u8>| {
            let hex = data_encoding::HEXLOWER.encode(&bytes);
            match written.get(&path) {
                Some(&i) => j.writes[i].1 = hex,
                None => {
                    written.insert(path.clone(), j.writes.len());
                    j.writes.push((path, hex));
                }
            }
        };
        match change {
            Change::Delta(d) => {
                for a in &d.committed {
                    let h = a.hash();
                    self.index.unlink(h);
                    let entry = match self.index.entries.get(&h) {
                        Some(e) => Entry {
                            aum: Some(a.stored().clone()),
                            purged: 0,
                            ..e.clone()
                        },
                        None => Entry {
                            aum: Some(a.stored().clone()),
                            created: now,
                            purged: 0,
                            mtime: now.max(0) as u64,
                        },
                    };
                    put(j, aum_path(&h), entry.to_file());
                    self.index.entries.insert(h, entry);
                    self.index.link(h);
                }
                for h in &d.purged {
                    let Some(e) = self.index.entries.get(h) else {
                        continue;
                    };
                    if e.live().is_none() {
                        continue;
                    }
                    self.index.unlink(*h);
                    let e = self.index.entries.get_mut(h).expect("present");
                    e.purged = now;
                    put(j, aum_path(h), e.to_file());
                }
                if let Some(h) = d.last_active_ancestor {
                    self.index.laa = Some(h);
                    put(j, LAST_ACTIVE_ANCESTOR.into(), h.as_bytes().to_vec());
                }
            }
            Change::RemoveAll => {
                self.index.entries.clear();
                self.index.children.clear();
                self.index.laa = None;
                j.remove_all = true;
                j.writes.retain(|(p, _)| p == SETTINGS);
                written.clear();
                if !j.writes.is_empty() {
                    written.insert(SETTINGS.into(), 0);
                }
            }
            Change::DisallowedStateIds(ids) => {
                self.index.settings.disallowed_state_ids = ids.clone();
                let bytes = serde_json::to_vec(&self.index.settings).expect("serializable");
                put(j, SETTINGS.into(), bytes);
            }
            Change::Mode(m) => {
                self.index.settings.mode = Some(mode_name(*m).into());
                let bytes = serde_json::to_vec(&self.index.settings).expect("serializable");
                put(j, SETTINGS.into(), bytes);
            }
        }
    }

    /// Writes a planned step: directly if it is one file, else through the
    /// journal.
    fn commit(&mut self, j: &Journal) -> Result<(), StoreError> {
        let steps = j.writes.len() + usize::from(j.remove_all);
        if steps == 0 {
            return Ok(());
        }
        if steps == 1 {
            return self.execute(j);
        }
        let bytes = serde_json::to_vec(j).expect("serializable");
        write_atomic(&*self.fs, &self.dir, JOURNAL, &bytes)
            .map_err(io_err("writing", &self.dir.join(JOURNAL)))?;
        self.execute(j)?;
        let path = self.dir.join(JOURNAL);
        self.fs
            .remove_file(&path)
            .map_err(io_err("removing", &path))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(io_err("syncing", &self.dir))
    }

    /// Performs a journal's operations (idempotent: a crash during them is
    /// finished by doing them again).
    fn execute(&self, j: &Journal) -> Result<(), StoreError> {
        let fs = &*self.fs;
        if j.remove_all {
            let entries = std::fs::read_dir(&self.dir).map_err(io_err("reading", &self.dir))?;
            for e in entries {
                let e = e.map_err(io_err("reading", &self.dir))?;
                let path = e.path();
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir {
                    fs.remove_dir_all(&path)
                        .map_err(io_err("removing", &path))?;
                } else if e.file_name() == LAST_ACTIVE_ANCESTOR {
                    fs.remove_file(&path).map_err(io_err("removing", &path))?;
                }
            }
            fs.sync_dir(&self.dir)
                .map_err(io_err("syncing", &self.dir))?;
        }
        for (rel, hex) in &j.writes {
            let bytes = data_encoding::HEXLOWER
                .decode(hex.as_bytes())
                .map_err(|e| StoreError::Corrupt {
                    path: self.dir.join(JOURNAL),
                    why: format!("write of {rel}: {e}"),
                })?;
            let (dir, name) = match rel.split_once('/') {
                Some((prefix, name)) => (self.dir.join(prefix), name),
                None => (self.dir.clone(), rel.as_str()),
            };
            if !dir.is_dir() {
                fs.create_dir_all(&dir).map_err(io_err("creating", &dir))?;
                fs.sync_dir(&self.dir)
                    .map_err(io_err("syncing", &self.dir))?;
            }
            write_atomic(fs, &dir, name, &bytes).map_err(io_err("writing", &dir.join(name)))?;
        }
        Ok(())
    }
}

/// Reads a whole file of at most `max` bytes; `None` if it does not exist.
fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("reading", path)(e)),
    };
    let len = f.metadata().map_err(io_err("reading", path))?.len();
    if len > max {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            len,
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(io_err("reading", path))?;
    if buf.len() as u64 > max {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            len: buf.len() as u64,
        });
    }
    Ok(Some(buf))
}

fn parse_journal(path: &Path, bytes: &[u8]) -> Result<Journal, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        why,
    };
    let j: Journal = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    for (rel, _) in &j.writes {
        let ok = match rel.split_once('/') {
            None => rel == LAST_ACTIVE_ANCESTOR || rel == SETTINGS,
            Some((prefix, name)) => {
                name.parse::<AumHash>().is_ok() && name.get(..2) == Some(prefix)
            }
        };
        if !ok {
            return Err(corrupt(format!("write to unexpected path {rel:?}")));
        }
    }
    Ok(j)
}

/// Reads a store directory into an index.
fn load(dir: &Path) -> Result<Index, StoreError> {
    let mut index = Index::default();
    for sub in std::fs::read_dir(dir).map_err(io_err("reading", dir))? {
        let sub = sub.map_err(io_err("reading", dir))?;
        if !sub.file_type().map_err(io_err("reading", dir))?.is_dir() {
            continue;
        }
        let sub_path = sub.path();
        for f in std::fs::read_dir(&sub_path).map_err(io_err("reading", &sub_path))? {
            let f = f.map_err(io_err("reading", &sub_path))?;
            let path = f.path();
            // Names that are not AUM hashes (temporary files, files the OS
            // adds) are skipped, as Go skips them.
            let Some(hash) = f
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<AumHash>().ok())
            else {
                continue;
            };
            let expected = dir.join(aum_path(&hash));
            let meta = std::fs::metadata(&path).map_err(io_err("reading", &path))?;
            if path != expected || !meta.is_file() {
                return Err(StoreError::Misplaced(path));
            }
            let bytes = read_bounded(&path, MAX_AUM_FILE)?.unwrap_or_default();
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            index
                .entries
                .insert(hash, decode_entry(&path, &bytes, hash, mtime)?);
        }
    }
    let hashes: Vec<AumHash> = index.entries.keys().copied().collect();
    for h in hashes {
        index.link(h);
    }
    let laa_path = dir.join(LAST_ACTIVE_ANCESTOR);
    if let Some(b) = read_bounded(&laa_path, 64)? {
        let h = AumHash::from_slice(&b).map_err(|_| StoreError::BadAncestor(b.len()))?;
        index.laa = Some(h);
    }
    let settings_path = dir.join(SETTINGS);
    if let Some(b) = read_bounded(&settings_path, MAX_SETTINGS_FILE)? {
        index.settings = parse_settings(&settings_path, &b)?;
    }
    Ok(index)
}

/// One AUM file's contents (read from `path`, named `hash`).
fn decode_entry(path: &Path, bytes: &[u8], hash: AumHash, mtime: u64) -> Result<Entry, StoreError> {
    let entry = FsEntry::from_cbor(bytes).map_err(|source| StoreError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let aum = entry.aum.map(StoredAum::new);
    if aum.as_ref().is_some_and(|a| a.hash() != hash) {
        return Err(StoreError::HashMismatch(path.to_path_buf()));
    }
    Ok(Entry {
        aum,
        created: entry.created_unix,
        purged: entry.purged_unix,
        mtime,
    })
}

fn parse_settings(path: &Path, bytes: &[u8]) -> Result<Settings, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        why,
    };
    let s: Settings = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if let Some(m) = &s.mode {
        if parse_mode(m).is_none() {
            return Err(corrupt(format!("unknown mode {m:?}")));
        }
    }
    Ok(s)
}

/// Applies a journal to an index in memory only (what the disk holds once
/// the journal is finished), reading each write as [`load`] reads a file.
fn overlay(index: &mut Index, j: &Journal, journal: &Path, now: u64) -> Result<(), StoreError> {
    if j.remove_all {
        index.entries.clear();
        index.children.clear();
        index.laa = None;
    }
    for (rel, hex) in &j.writes {
        let bytes = data_encoding::HEXLOWER
            .decode(hex.as_bytes())
            .map_err(|e| StoreError::Corrupt {
                path: journal.to_path_buf(),
                why: format!("write of {rel}: {e}"),
            })?;
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if let Ok(hash) = name.parse::<AumHash>() {
            let entry = decode_entry(journal, &bytes, hash, now)?;
            index.unlink(hash);
            index.entries.insert(hash, entry);
            index.link(hash);
        } else if rel == LAST_ACTIVE_ANCESTOR {
            let h =
                AumHash::from_slice(&bytes).map_err(|_| StoreError::BadAncestor(bytes.len()))?;
            index.laa = Some(h);
        } else {
            index.settings = parse_settings(journal, &bytes)?;
        }
    }
    Ok(())
}

fn storage_err(e: StoreError) -> StorageError {
    StorageError::new(e)
}

impl Storage for DirStore {
    fn aum(&self, hash: &AumHash) -> Result<Option<StoredAum>, StorageError> {
        Ok(self.index.entries.get(hash).and_then(Entry::live).cloned())
    }

    fn child_aums(&self, parent: &AumHash) -> Result<Vec<StoredAum>, StorageError> {
        Ok(self
            .index
            .children
            .get(parent)
            .into_iter()
            .flatten()
            .filter_map(|h| self.index.entries.get(h).and_then(Entry::live).cloned())
            .collect())
    }

    fn heads(&self) -> Result<Vec<StoredAum>, StorageError> {
        Ok(self
            .index
            .entries
            .iter()
            .filter(|(h, _)| !self.index.children.contains_key(h))
            .filter_map(|(_, e)| e.live().cloned())
            .collect())
    }

    fn commit_verified_aums(&mut self, aums: &[VerifiedAum], now: u64) -> Result<(), StorageError> {
        let delta = StorageDelta {
            committed: aums.to_vec(),
            ..StorageDelta::default()
        };
        self.save(vec![Change::Delta(delta)], now)
            .map_err(storage_err)
    }

    fn last_active_ancestor(&self) -> Result<Option<AumHash>, StorageError> {
        Ok(self.index.laa)
    }

    fn set_last_active_ancestor(&mut self, hash: AumHash) -> Result<(), StorageError> {
        let delta = StorageDelta {
            last_active_ancestor: Some(hash),
            ..StorageDelta::default()
        };
        self.save(vec![Change::Delta(delta)], self.now)
            .map_err(storage_err)
    }

    fn all_aums(&self) -> Result<Vec<AumHash>, StorageError> {
        Ok(self
            .index
            .entries
            .iter()
            .filter(|(_, e)| e.live().is_some())
            .map(|(h, _)| *h)
            .collect())
    }

    fn commit_time(&self, hash: &AumHash) -> Result<Option<u64>, StorageError> {
        Ok(self.index.entries.get(hash).and_then(|e| {
            e.live()?;
            Some(if e.created > 0 {
                e.created as u64
            } else {
                e.mtime
            })
        }))
    }

    /// Purges (Go's soft delete) at the latest time given to the store;
    /// hashes not stored are skipped.
    fn purge_aums(&mut self, hashes: &[AumHash]) -> Result<(), StorageError> {
        let delta = StorageDelta {
            purged: hashes.to_vec(),
            ..StorageDelta::default()
        };
        self.save(vec![Change::Delta(delta)], self.now)
            .map_err(storage_err)
    }

    fn remove_all(&mut self) -> Result<(), StorageError> {
        self.save(vec![Change::RemoveAll], self.now)
            .map_err(storage_err)
    }
}
