//! Crash test: the saves of a real run (bootstrap, sync, compaction, mode
//! change, local disable) are replayed into a `DirStore` whose file system
//! fails at the k-th write, fsync, rename, mkdir or remove, for every k.
//! Reopening the directory must give the state before or after the
//! interrupted save, never a mix and never an unreadable store.

use std::collections::BTreeSet;
use std::path::Path as FsPath;
use std::sync::Arc;
use tka::compact::CompactionOptions;
use tka::control::ControlResponder;
use tka::machine::{Action, Config, Event, Mode, Persisted, Time, TkaMachine};
use tka::{Aum, AumHash, AumKind, Authority, MemStorage, NlPrivate, NodeKey, State, Storage};
use tka_node::fs::{FaultyFs, RealFs};
use tka_node::store::{Change, DirStore};

type Step = (Vec<Change>, u64);

/// Runs a machine against an in-memory control and returns every save it
/// asked for, in order.
fn scenario() -> Vec<Step> {
    let t0 = 1_800_000_000u64;
    let admin = NlPrivate::from_seed(&[1; 32]);
    let mut genesis = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            disablement_values: Some(vec![Some(
                tka::kdf::disablement_kdf(b"s").unwrap().to_vec(),
            )]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 5,
            state_id2: 6,
            ..State::default()
        }),
        ..Aum::default()
    };
    genesis.signatures = Some(tka::builder::Signer::sign_aum(&admin, &genesis.sig_hash()));
    let genesis = Aum::from_cbor(&genesis.to_cbor()).unwrap();
    let mut storage = MemStorage::new();
    Authority::bootstrap(&mut storage, genesis.clone(), t0).unwrap();
    let mut control = ControlResponder::enabled(storage, genesis).unwrap();

    let mut config = Config::new(NodeKey([9; 32]), Mode::Observe);
    config.compaction = CompactionOptions {
        min_chain: 2,
        min_age_secs: 1,
    };
    let mut steps: Vec<Step> = vec![(vec![Change::Mode(Mode::Observe)], t0)];
    let mut m = TkaMachine::new(config, Persisted::default(), Time::from_unix_secs(t0));
    let mut now = t0;
    let run = |m: &mut TkaMachine,
               control: &mut ControlResponder<MemStorage>,
               now: u64,
               steps: &mut Vec<Step>| {
        loop {
            let mut changes = Vec::new();
            let mut sends = Vec::new();
            while let Some(a) = m.poll_action() {
                match a {
                    Action::Persist(d) => changes.push(Change::Delta(d)),
                    Action::RemoveAllState => changes.push(Change::RemoveAll),
                    Action::PersistDisallowedStateIds(ids) => {
                        changes.push(Change::DisallowedStateIds(ids))
                    }
                    Action::SendRequest { id, path, body } => sends.push((id, path, body)),
                    _ => {}
                }
            }
            if !changes.is_empty() {
                steps.push((changes, now));
            }
            if sends.is_empty() {
                return;
            }
            for (id, path, body) in sends {
                let body = control
                    .handle(path, &body, Time::from_unix_secs(now))
                    .unwrap();
                m.handle_event(
                    Time::from_unix_secs(now),
                    Event::Response {
                        id,
                        body: body.into(),
                    },
                );
            }
        }
    };
    let control_state = |c: &ControlResponder<MemStorage>| Event::ControlState {
        enabled: c.authority().is_some(),
        head: c.authority().map(Authority::head),
    };

    // Bootstrap.
    m.handle_event(Time::from_unix_secs(now), control_state(&control));
    run(&mut m, &mut control, now, &mut steps);

    // Control adds 52 updates (the builder puts a checkpoint after 50);
    // the node syncs them, and compaction after the sync purges what lies
    // before the checkpoint once it is old enough.
    for round in 0..2u64 {
        now += 100;
        {
            let (storage, authority) = control.parts_mut();
            let authority = authority.unwrap();
            let mut b = authority.builder(Some(&admin));
            for i in 0..26u64 {
                b.set_key_vote(&admin.public().0, 1 + (round * 26 + i) % 3)
                    .unwrap();
            }
            let updates = b.finalize(storage).unwrap();
            authority.inform(storage, &updates, now).unwrap();
        }
        m.handle_event(Time::from_unix_secs(now), control_state(&control));
        run(&mut m, &mut control, now, &mut steps);
    }
    // More updates after the checkpoint than compaction keeps (2): this
    // sync's compaction purges what lies before the checkpoint.
    now += 100;
    {
        let (storage, authority) = control.parts_mut();
        let authority = authority.unwrap();
        let mut b = authority.builder(Some(&admin));
        for v in 1..=4 {
            b.set_key_vote(&admin.public().0, v).unwrap();
        }
        let updates = b.finalize(storage).unwrap();
        authority.inform(storage, &updates, now).unwrap();
    }
    m.handle_event(Time::from_unix_secs(now), control_state(&control));
    run(&mut m, &mut control, now, &mut steps);
    assert_eq!(
        m.authority().map(Authority::head),
        control.authority().map(Authority::head)
    );

    now += 10;
    steps.push((vec![Change::Mode(Mode::Enforce)], now));
    m.handle_event(Time::from_unix_secs(now), Event::LocalDisable);
    run(&mut m, &mut control, now, &mut steps);
    steps
}

/// What a reopened directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    aums: BTreeSet<AumHash>,
    laa: Option<AumHash>,
    head: Option<AumHash>,
    mode: Option<Mode>,
    disallowed: Vec<(u64, u64)>,
}

fn snapshot(dir: &FsPath) -> Snapshot {
    snapshot_of(&DirStore::open(dir).expect("the store must always reopen"))
}

fn snapshot_of(store: &DirStore) -> Snapshot {
    let aums: BTreeSet<AumHash> = store.all_aums().unwrap().into_iter().collect();
    let head = if aums.is_empty() {
        None
    } else {
        Some(
            Authority::open(store)
                .expect("stored AUMs must open")
                .head(),
        )
    };
    Snapshot {
        laa: store.last_active_ancestor().unwrap(),
        head,
        mode: store.mode(),
        disallowed: store.disallowed_state_ids().to_vec(),
        aums,
    }
}

fn tempdir() -> tempfile::TempDir {
    // tmpfs when there is one: thousands of fsyncs stay cheap.
    match std::fs::metadata("/dev/shm") {
        Ok(m) if m.is_dir() => tempfile::tempdir_in("/dev/shm").unwrap(),
        _ => tempfile::tempdir().unwrap(),
    }
}

#[test]
fn every_interrupted_save_leaves_before_or_after() {
    let steps = scenario();
    let kinds: Vec<bool> = steps
        .iter()
        .map(|(c, _)| c.iter().any(|c| matches!(c, Change::RemoveAll)))
        .collect();
    assert!(kinds.iter().any(|k| *k), "the run disables");
    let purges = steps.iter().any(|(c, _)| {
        c.iter()
            .any(|c| matches!(c, Change::Delta(d) if !d.purged.is_empty()))
    });
    assert!(purges, "the run compacts");

    // The state after each step, and the number of file-system operations.
    let dir = tempdir();
    let fs = FaultyFs::new(u64::MAX);
    let mut store = DirStore::open_with(dir.path(), Arc::new(fs.clone())).unwrap();
    let mut states = vec![snapshot(dir.path())];
    for (changes, now) in &steps {
        store.save(changes.clone(), *now).unwrap();
        states.push(snapshot(dir.path()));
    }
    let total = fs.operations();
    assert!(states.last().unwrap().aums.is_empty());
    assert!(states.iter().any(|s| s.aums.len() > 50));

    let (mut before, mut after) = (0, 0);
    for k in 1..=total {
        let dir = tempdir();
        let fs = FaultyFs::new(k);
        let mut store = DirStore::open_with(dir.path(), Arc::new(fs.clone())).unwrap();
        let mut failed_at = None;
        for (i, (changes, now)) in steps.iter().enumerate() {
            if store.save(changes.clone(), *now).is_err() {
                assert!(store.failing().is_some());
                failed_at = Some(i);
                break;
            }
        }
        let i = failed_at.unwrap_or_else(|| panic!("operation {k} of {total} never ran"));
        // Dropping the failed save (the disk still failing) leaves in memory
        // exactly what reopening the directory gives.
        store.reload().unwrap();
        let reloaded = snapshot_of(&store);
        drop(store);
        let got = snapshot(dir.path());
        assert_eq!(reloaded, got, "reload after a crash at operation {k}");
        assert!(
            got == states[i] || got == states[i + 1],
            "crash at operation {k} during save {i}: {got:?}"
        );
        if got == states[i] {
            before += 1;
        } else {
            after += 1;
        }
    }
    // Both outcomes occur: a crash before a save's journal (or its one
    // file) is in place loses the save; after it, reopening finishes it.
    assert!(before > 0 && after > 0, "{before} {after}");
}

#[test]
fn a_failed_save_is_retried_until_the_disk_matches() {
    let steps = scenario();
    let final_dir = tempdir();
    let mut reference = DirStore::open_with(final_dir.path(), Arc::new(RealFs)).unwrap();
    for (changes, now) in &steps[..4] {
        reference.save(changes.clone(), *now).unwrap();
    }
    let want = snapshot(final_dir.path());

    let dir = tempdir();
    let fs = FaultyFs::new(20);
    let mut store = DirStore::open_with(dir.path(), Arc::new(fs.clone())).unwrap();
    let mut errors = 0;
    for (changes, now) in &steps[..4] {
        if store.save(changes.clone(), *now).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
    // Memory already holds every change; the disk does not.
    assert_eq!(
        store
            .all_aums()
            .unwrap()
            .into_iter()
            .collect::<BTreeSet<_>>(),
        want.aums
    );
    assert!(store.failing().is_some());
    assert_ne!(snapshot(dir.path()), want);
    fs.heal();
    store.retry_failed().unwrap();
    assert!(store.failing().is_none());
    assert_eq!(snapshot(dir.path()), want);
}
