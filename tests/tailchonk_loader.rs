//! The tailchonk loader on directories someone has tampered with: links are
//! never followed and every unreadable AUM file is reported by name.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use tka::tailchonk::{load_dir, TailchonkError, MAX_FILE};
use tka::Storage;

/// A fresh copy of Go's `fork` store in a temporary directory.
struct Store(PathBuf);

impl Store {
    fn new(tag: &str) -> Store {
        let dst =
            std::env::temp_dir().join(format!("tka-tailchonk-loader-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dst);
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/tailchonk/fork");
        copy_dir(&src, &dst);
        Store(dst)
    }

    /// The path of one stored AUM file (the first in name order).
    fn some_aum_file(&self) -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
            .collect();
        files.sort();
        files.remove(0)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
fn an_intact_copy_loads() {
    let s = Store::new("intact");
    let store = load_dir(&s.0).expect("Go's store loads");
    assert!(!store.all_aums().unwrap().is_empty());
}

#[test]
fn a_linked_aum_file_is_refused_not_followed() {
    let s = Store::new("link-file");
    let victim = s.some_aum_file();
    // The real file moves out of the store; a link points at it.
    let outside = s.0.with_extension("outside");
    std::fs::rename(&victim, &outside).unwrap();
    symlink(&outside, &victim).unwrap();
    let err = load_dir(&s.0).unwrap_err();
    std::fs::remove_file(&outside).unwrap();
    match err {
        TailchonkError::Symlink(p) => assert_eq!(p, victim),
        e => panic!("expected a symlink error, got {e}"),
    }
}

#[test]
fn a_linked_hash_directory_is_refused_not_followed() {
    let s = Store::new("link-dir");
    let outside = s.0.with_extension("outside-dir");
    std::fs::create_dir_all(&outside).unwrap();
    let link = s.0.join("ZZ");
    symlink(&outside, &link).unwrap();
    let err = load_dir(&s.0).unwrap_err();
    std::fs::remove_dir_all(&outside).unwrap();
    match err {
        TailchonkError::Symlink(p) => assert_eq!(p, link),
        e => panic!("expected a symlink error, got {e}"),
    }
}

#[test]
fn a_linked_last_active_ancestor_is_refused() {
    let s = Store::new("link-laa");
    let laa = s.0.join("last_active_ancestor");
    let outside = s.0.with_extension("laa");
    std::fs::write(&outside, [0u8; 32]).unwrap();
    let _ = std::fs::remove_file(&laa);
    symlink(&outside, &laa).unwrap();
    let err = load_dir(&s.0).unwrap_err();
    std::fs::remove_file(&outside).unwrap();
    assert!(matches!(err, TailchonkError::Symlink(p) if p == laa));
}

#[test]
fn links_with_other_names_are_ignored() {
    let s = Store::new("link-other");
    symlink("/nonexistent", s.0.join("notes.txt")).unwrap();
    load_dir(&s.0).expect("names Go's store never uses are ignored");
}

#[test]
fn an_undecodable_file_is_named() {
    let s = Store::new("garbage");
    let victim = s.some_aum_file();
    std::fs::write(&victim, [0xa1, 0x02]).unwrap();
    match load_dir(&s.0).unwrap_err() {
        TailchonkError::Decode(p, _) => assert_eq!(p, victim),
        e => panic!("expected a decode error, got {e}"),
    }
    let text = format!("{}", load_dir(&s.0).unwrap_err());
    assert!(text.contains(&*victim.to_string_lossy()), "{text}");
}

#[test]
fn an_oversized_file_is_refused_without_reading_it() {
    let s = Store::new("huge");
    let victim = s.some_aum_file();
    // Sparse: takes no disk space, and would take 4 GiB to read.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap();
    f.set_len(4 << 30).unwrap();
    match load_dir(&s.0).unwrap_err() {
        TailchonkError::TooLarge(p, n) => {
            assert_eq!(p, victim);
            assert!(n > MAX_FILE);
        }
        e => panic!("expected a size error, got {e}"),
    }
}

#[test]
fn a_file_renamed_to_another_hash_is_refused() {
    let s = Store::new("renamed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .collect();
    files.sort();
    std::fs::copy(&files[0], &files[1]).unwrap();
    assert!(matches!(
        load_dir(&s.0).unwrap_err(),
        TailchonkError::HashMismatch(p) if p == files[1]
    ));
}
