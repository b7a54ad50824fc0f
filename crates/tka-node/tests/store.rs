//! `DirStore` against the directories Go wrote (`vectors/tailchonk`): they
//! open here, and the same AUMs and times written here give the same bytes.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tka::compact::CompactionOptions;
use tka::machine::{Mode, StorageDelta};
use tka::tailchonk::FsEntry;
use tka::{Aum, AumHash, Authority, Storage};
use tka_node::store::{Change, DirStore, StoreError};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(vectors().join("tailchonk.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every file of a directory, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if e.file_type().unwrap().is_dir() {
            for (k, v) in files(&e.path()) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn hash(hex: &str) -> AumHash {
    AumHash::from_hex(hex).unwrap()
}

#[test]
fn go_written_directories_open() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&vectors().join(case["dir"].as_str().unwrap()), tmp.path());
        let store = DirStore::open(tmp.path()).unwrap();
        let live: BTreeSet<AumHash> = store.all_aums().unwrap().into_iter().collect();
        let want: BTreeSet<AumHash> = case["live_aums"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        assert_eq!(live, want, "{name}: live AUMs");
        assert_eq!(
            store.last_active_ancestor().unwrap(),
            Some(hash(case["last_active_ancestor"].as_str().unwrap())),
            "{name}"
        );
        for f in case["files"].as_array().unwrap() {
            let Some(h) = f["aum_hash"].as_str() else {
                continue;
            };
            let t = store.commit_time(&hash(h)).unwrap();
            if f["purged_unix"].as_i64().unwrap() > 0 {
                assert_eq!(t, None, "{name}: purged {h}");
                assert!(store.aum(&hash(h)).unwrap().is_none());
            } else {
                assert_eq!(t, Some(f["created_unix"].as_u64().unwrap()), "{name}: {h}");
            }
        }
        let a = Authority::open(&store).unwrap();
        assert_eq!(
            a.head(),
            hash(case["open"]["head"].as_str().unwrap()),
            "{name}"
        );
        // Nothing was written by opening.
        assert_eq!(
            files(tmp.path()),
            files(&vectors().join(case["dir"].as_str().unwrap()))
        );
        assert_eq!(store.mode(), None);
    }
}

/// The AUMs of a Go directory, parents first.
fn chain_of(dir: &Path) -> Vec<Aum> {
    let mut by_parent: BTreeMap<Option<AumHash>, Vec<Aum>> = BTreeMap::new();
    for (path, bytes) in files(dir) {
        if path == "last_active_ancestor" {
            continue;
        }
        let aum = FsEntry::from_cbor(&bytes).unwrap().aum.unwrap();
        by_parent.entry(aum.parent()).or_default().push(aum);
    }
    let mut out = Vec::new();
    let mut next = vec![None];
    while let Some(p) = next.pop() {
        for a in by_parent.remove(&p).unwrap_or_default() {
            next.push(Some(a.hash()));
            out.push(a);
        }
    }
    assert!(by_parent.is_empty());
    out
}

#[test]
fn writes_the_bytes_go_writes() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let go_dir = vectors().join(case["dir"].as_str().unwrap());
        let f0 = &case["files"][0];
        let created = f0["created_unix"].as_u64().unwrap();
        let purged = case["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["purged_unix"].as_u64())
            .find(|t| *t > 0);
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DirStore::open(tmp.path()).unwrap();
        let chain = chain_of(&go_dir);
        let mut a = Authority::bootstrap(&mut store, chain[0].clone(), created).unwrap();
        a.inform(&mut store, &chain[1..], created).unwrap();
        if let Some(purged) = purged {
            let opts = CompactionOptions {
                min_chain: 5,
                min_age_secs: 1,
            };
            store.set_now(purged);
            a.compact(&mut store, purged, opts).unwrap();
        }
        assert_eq!(
            a.head(),
            hash(case["open"]["head"].as_str().unwrap()),
            "{name}"
        );
        let ours = files(tmp.path());
        let go = files(&go_dir);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            go.keys().collect::<Vec<_>>(),
            "{name}: file names"
        );
        for (path, bytes) in &go {
            assert_eq!(&ours[path], bytes, "{name}: {path}");
        }
    }
}

#[test]
fn leftovers_of_a_crash_are_skipped() {
    let case = &cases()[0];
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&vectors().join(case["dir"].as_str().unwrap()), tmp.path());
    let before = Authority::open(&DirStore::open(tmp.path()).unwrap())
        .unwrap()
        .head();
    let some = case["files"][0]["path"].as_str().unwrap().to_string();
    let (prefix, file) = some.split_once('/').unwrap();
    // A torn temporary file, an OS file, a stray top-level file.
    std::fs::write(
        tmp.path().join(prefix).join(format!(".{file}.tmp")),
        b"\xa2\x02",
    )
    .unwrap();
    std::fs::write(tmp.path().join(prefix).join(".DS_Store"), b"junk").unwrap();
    std::fs::write(tmp.path().join(".last_active_ancestor.tmp"), b"12").unwrap();
    std::fs::create_dir(tmp.path().join("ZZ")).unwrap();
    std::fs::write(tmp.path().join("ZZ").join("notes.txt"), b"junk").unwrap();
    let store = DirStore::open(tmp.path()).unwrap();
    assert_eq!(Authority::open(&store).unwrap().head(), before);
}

#[test]
fn tampered_files_are_refused() {
    let case = &cases()[0];
    let go_dir = vectors().join(case["dir"].as_str().unwrap());
    let paths: Vec<String> = case["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["aum_hash"].is_string())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();

    // One AUM's file holding another AUM.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&go_dir, tmp.path());
    std::fs::copy(tmp.path().join(&paths[0]), tmp.path().join(&paths[1])).unwrap();
    assert!(matches!(
        DirStore::open(tmp.path()),
        Err(StoreError::HashMismatch(_))
    ));

    // An AUM file in the wrong prefix directory.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&go_dir, tmp.path());
    let file = paths[0].split_once('/').unwrap().1;
    std::fs::create_dir(tmp.path().join("AA")).unwrap();
    std::fs::rename(tmp.path().join(&paths[0]), tmp.path().join("AA").join(file)).unwrap();
    assert!(matches!(
        DirStore::open(tmp.path()),
        Err(StoreError::Misplaced(_))
    ));

    // Oversized and undecodable files, a short hint.
    for (path, bytes) in [
        (paths[0].clone(), vec![0u8; (1 << 20) + 1]),
        (paths[0].clone(), b"\xa1\x02\x1f".to_vec()),
        ("last_active_ancestor".to_string(), vec![1; 31]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&go_dir, tmp.path());
        std::fs::write(tmp.path().join(&path), bytes).unwrap();
        let err = DirStore::open(tmp.path()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::TooLarge { .. }
                    | StoreError::Decode { .. }
                    | StoreError::BadAncestor(31)
            ),
            "{path}: {err}"
        );
    }
}

#[test]
fn purge_is_soft_and_recommit_keeps_the_creation_time() {
    let case = &cases()[0];
    let go_dir = vectors().join(case["dir"].as_str().unwrap());
    let chain = chain_of(&go_dir);
    let tmp = tempfile::tempdir().unwrap();
    let mut store = DirStore::open(tmp.path()).unwrap();
    let mut a = Authority::bootstrap(&mut store, chain[0].clone(), 1000).unwrap();
    a.inform(&mut store, &chain[1..], 1000).unwrap();
    let victim = chain.last().unwrap().hash();
    let path = tmp
        .path()
        .join(&victim.to_string()[..2])
        .join(victim.to_string());

    store
        .save(
            vec![Change::Delta(StorageDelta {
                purged: vec![victim],
                ..StorageDelta::default()
            })],
            2000,
        )
        .unwrap();
    let on_disk = FsEntry::from_cbor(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!((on_disk.created_unix, on_disk.purged_unix), (1000, 2000));
    assert!(on_disk.aum.is_some());
    let reopened = DirStore::open(tmp.path()).unwrap();
    assert!(reopened.aum(&victim).unwrap().is_none());
    assert!(!reopened.all_aums().unwrap().contains(&victim));

    // Informing it again brings it back with its first creation time, as Go.
    let mut store = reopened;
    let mut a = Authority::open(&store).unwrap();
    a.inform(&mut store, &chain[chain.len() - 1..], 3000)
        .unwrap();
    let on_disk = FsEntry::from_cbor(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!((on_disk.created_unix, on_disk.purged_unix), (1000, 0));
    assert_eq!(store.commit_time(&victim).unwrap(), Some(1000));
}

#[test]
fn settings_live_beside_the_aums_and_survive_remove_all() {
    let case = &cases()[0];
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&vectors().join(case["dir"].as_str().unwrap()), tmp.path());
    let mut store = DirStore::open(tmp.path()).unwrap();
    assert_eq!(store.mode(), None);
    store
        .save(
            vec![
                Change::Mode(Mode::Observe),
                Change::DisallowedStateIds(vec![(9, 10)]),
                Change::RemoveAll,
            ],
            5000,
        )
        .unwrap();
    let store = DirStore::open(tmp.path()).unwrap();
    assert_eq!(store.mode(), Some(Mode::Observe));
    assert_eq!(store.disallowed_state_ids(), &[(9, 10)]);
    assert!(store.is_empty());
    assert_eq!(store.last_active_ancestor().unwrap(), None);
    let names: Vec<String> = files(tmp.path()).into_keys().collect();
    assert_eq!(names, vec!["tka-node.json".to_string()]);
}
