//! A save that fails reaches the machine as `PersistFailed`: the machine
//! stays with what is stored, reports the failure as its health issue, and
//! the retry converges once the disk works again; memory and disk agree
//! throughout. Control is the real service over HTTP on 127.0.0.1; the
//! store writes through a `FaultyFs`.

mod common;

use common::{wait, Control, Operator};
use std::collections::BTreeSet;
use std::sync::Arc;
use tka::machine::{HealthIssue, Mode};
use tka::{AumHash, Authority, NlPrivate, NodeKey, Storage};
use tka_node::fs::FaultyFs;
use tka_node::{ChangeError, DirStore, Node, NodeHandle};

/// The live AUMs and the head a directory holds, read afresh.
fn on_disk(dir: &std::path::Path) -> (BTreeSet<AumHash>, Option<AumHash>) {
    let store = DirStore::open(dir).unwrap();
    let aums: BTreeSet<AumHash> = store.all_aums().unwrap().into_iter().collect();
    let head = (!aums.is_empty()).then(|| Authority::open(&store).unwrap().head());
    (aums, head)
}

async fn persist_issue(node: &NodeHandle, what: &str) {
    let h = wait(&mut node.health(), what, |h| {
        h.issues.contains(&HealthIssue::PersistFailed)
    })
    .await;
    let why = h.persist_error.expect("the reason is shown");
    assert!(why.contains("injected failure"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_save_is_reported_and_retried_until_it_lands() {
    let tmp = tempfile::tempdir().unwrap();
    let control = Control::spawn(tmp.path()).await;
    let admin = NlPrivate::from_seed(&[1; 32]);
    let (op_key, node_key) = (NodeKey([1; 32]), NodeKey([2; 32]));
    control.register(&op_key).await;
    control.register(&node_key).await;
    let mut op = Operator::new(op_key, admin.clone());
    op.init(&control, vec![admin.to_key(1)]).await;
    let genesis_head = control.head().await;
    assert!(genesis_head.is_some());

    // The mode is saved at start; every write after that fails.
    let dir = tmp.path().join("node");
    let fs = FaultyFs::new(u64::MAX);
    let store = DirStore::open_with(&dir, Arc::new(fs.clone())).unwrap();
    let node = Node::new(node_key)
        .configure(|c| c.retry_initial_ms = 50)
        .mode(Mode::Enforce)
        .start(store, control.transport())
        .unwrap();
    fs.fail_from_now();

    // The bootstrap's save fails: the machine does not keep the authority
    // it could not store, and says why.
    node.netmap(control.netmap(&node_key).await).await.unwrap();
    persist_issue(&node, "bootstrap save failed").await;
    assert_eq!(*node.head().borrow(), None);
    assert_eq!(on_disk(&dir), (BTreeSet::new(), None));
    assert!(node.stats().borrow().persist_failures >= 1);

    // The disk works again: the machine's retry bootstraps and saves, and
    // health is clean.
    fs.heal();
    wait(&mut node.head(), "bootstrap after healing", |h| {
        *h == genesis_head
    })
    .await;
    wait(&mut node.health(), "health ok", |h| h.is_ok()).await;
    assert_eq!(on_disk(&dir).1, genesis_head);

    // A mode change whose save fails is not made.
    fs.fail_from_now();
    let err = node.set_mode(Mode::Observe).await.unwrap_err();
    assert!(matches!(err, ChangeError::NotSaved(_)), "{err}");
    assert_eq!(node.current_mode(), Mode::Enforce);

    // A local disable whose save fails is not made either: the authority
    // that is still stored stays, and the failure is the machine's issue.
    let err = node.local_disable().await.unwrap_err();
    assert!(matches!(err, ChangeError::NotSaved(_)), "{err}");
    persist_issue(&node, "local disable save failed").await;
    assert_eq!(*node.head().borrow(), genesis_head);
    assert_eq!(on_disk(&dir).1, genesis_head);

    // With the disk healed, the next netmap finds the node agreeing with
    // control and nothing left to save: health is clean again.
    fs.heal();
    node.netmap(control.netmap(&node_key).await).await.unwrap();
    wait(&mut node.health(), "health ok again", |h| h.is_ok()).await;

    // What the driver's store holds is what a fresh open of the directory
    // holds, and what the machine reports.
    let store = node.shutdown().await.unwrap();
    let in_memory: BTreeSet<AumHash> = store.all_aums().unwrap().into_iter().collect();
    drop(store);
    let (aums, head) = on_disk(&dir);
    assert_eq!(in_memory, aums);
    assert_eq!(head, genesis_head);
    let reopened = DirStore::open(&dir).unwrap();
    assert_eq!(reopened.mode(), Some(Mode::Enforce));
    assert!(reopened.disallowed_state_ids().is_empty());
}
