//! The few file-system operations the store performs, behind a trait so a
//! test can make any one of them fail ([`FaultyFs`]) and check that the
//! store on disk stays readable.
//!
//! Reads are not part of the trait: the store reads with `std::fs` and
//! bounds every read; only what changes the disk goes through [`Fs`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The mutating file-system operations of the store.
pub trait Fs: Send + Sync + 'static {
    /// Creates `path` (truncating it) and writes `bytes`, without syncing.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Flushes `path`'s contents to stable storage (`fsync`).
    fn sync_file(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Flushes directory `dir` (so a rename in it is durable).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl Fs for RealFs {
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        f.write_all(bytes)
    }

    fn sync_file(&self, path: &Path) -> io::Result<()> {
        OpenOptions::new().write(true).open(path)?.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // Directories can be opened read-only and synced on Unix; other
        // platforms make renames durable themselves.
        if cfg!(unix) {
            File::open(dir)?.sync_all()
        } else {
            Ok(())
        }
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(dir)
    }
}

/// A [`RealFs`] that fails: the `fail_at`-th mutating operation (counting
/// from 1) and every one after it return an error and do nothing, except a
/// failing write, which first writes half of its bytes (a torn file). This
/// models a crash at that point; tests reopen the directory with
/// [`RealFs`] afterwards.
#[derive(Clone, Debug)]
pub struct FaultyFs {
    fail_at: Arc<AtomicU64>,
    count: Arc<AtomicU64>,
}

impl FaultyFs {
    /// Fails from the `fail_at`-th operation on (`u64::MAX`: never).
    pub fn new(fail_at: u64) -> Self {
        FaultyFs {
            fail_at: Arc::new(AtomicU64::new(fail_at)),
            count: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Stops failing (clones share this switch).
    pub fn heal(&self) {
        self.fail_at.store(u64::MAX, Ordering::SeqCst);
    }

    /// Fails from the next operation on (until [`FaultyFs::heal`]).
    pub fn fail_from_now(&self) {
        let next = self.count.load(Ordering::SeqCst) + 1;
        self.fail_at.store(next, Ordering::SeqCst);
    }

    /// How many mutating operations were attempted so far.
    pub fn operations(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn check(&self, what: &str, path: &Path) -> io::Result<()> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.fail_at.load(Ordering::SeqCst) {
            Err(io::Error::other(format!(
                "injected failure at operation {n} ({what} {})",
                path.display()
            )))
        } else {
            Ok(())
        }
    }
}

impl Fs for FaultyFs {
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        if let Err(e) = self.check("write", path) {
            RealFs.write_file(path, &bytes[..bytes.len() / 2])?;
            return Err(e);
        }
        RealFs.write_file(path, bytes)
    }
    fn sync_file(&self, path: &Path) -> io::Result<()> {
        self.check("fsync", path)?;
        RealFs.sync_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check("rename", to)?;
        RealFs.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check("fsync dir", dir)?;
        RealFs.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.check("mkdir", dir)?;
        RealFs.create_dir_all(dir)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check("remove", path)?;
        RealFs.remove_file(path)
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.check("remove dir", dir)?;
        RealFs.remove_dir_all(dir)
    }
}

/// Writes `bytes` to `dir/name` atomically: a temporary file in the same
/// directory (its name is never a valid AUM hash, so readers skip it),
/// fsync, rename over the target, fsync of the directory.
pub(crate) fn write_atomic(fs: &dyn Fs, dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    fs.write_file(&tmp, bytes)?;
    fs.sync_file(&tmp)?;
    fs.rename(&tmp, &dir.join(name))?;
    fs.sync_dir(dir)
}
