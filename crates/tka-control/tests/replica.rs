//! Two service instances (two connection pools, two snapshot caches) on one
//! Postgres database, serving concurrent sync/send, sign, init and disable
//! for the same tailnet: no accepted AUM is lost, the head never goes back
//! to a state without an accepted AUM, every node converges, and a disabled
//! lock stays disabled. Needs TKA_TEST_POSTGRES_URL.

mod common;

use common::*;
use sqlx::Row;
use std::collections::HashSet;
use std::sync::Arc;
use tka::wire;
use tka::{Aum, AumHash, Authority, MemStorage, NodeKeySignature, SyncOffer};
use tka_control::{Caller, Service, ServiceError, SqlStore, TailnetId};

type Svc = Arc<Service<SqlStore>>;

const TAILNET: &str = "replicated";

fn caller(i: u8) -> Caller {
    Caller {
        tailnet: TailnetId::from(TAILNET),
        node: node_key(i),
    }
}

/// Node `i` sends `missing` (AUM bytes) through sync/send, claiming `head`.
async fn send(
    s: &Svc,
    i: u8,
    head: AumHash,
    missing: Vec<Vec<u8>>,
    interactive: bool,
) -> Result<wire::SyncSendResponse, ServiceError> {
    s.sync_send(
        &caller(i),
        &wire::SyncSendRequest {
            version: 145,
            node_key: node_key(i),
            head,
            missing_aums: Some(missing),
            interactive,
        },
    )
    .await
}

/// Go's sync against a service (typed API, no HTTP).
async fn sync(
    s: &Svc,
    i: u8,
    storage: &mut MemStorage,
    a: &mut Authority,
) -> Result<(), ServiceError> {
    let offer = a.sync_offer(storage).unwrap();
    let resp = s
        .sync_offer(
            &caller(i),
            &wire::SyncOfferRequest {
                version: 145,
                node_key: node_key(i),
                head: offer.head,
                ancestors: Some(offer.ancestors),
            },
        )
        .await?;
    if resp.head == a.head() {
        return Ok(());
    }
    let control = SyncOffer {
        head: resp.head,
        ancestors: resp.ancestors.unwrap_or_default(),
    };
    let to_send: Vec<Vec<u8>> = a
        .missing_aums(storage, &control)
        .unwrap()
        .unwrap_or_default()
        .iter()
        .map(|x| x.aum().to_cbor())
        .collect();
    let got: Vec<Aum> = resp
        .missing_aums
        .unwrap_or_default()
        .iter()
        .map(|b| Aum::from_cbor(b).unwrap())
        .collect();
    if !got.is_empty() {
        a.inform(storage, &got, 1).unwrap();
    }
    send(s, i, a.head(), to_send, false).await?;
    Ok(())
}

async fn stored_hashes(s: &Svc) -> HashSet<AumHash> {
    sqlx::query("SELECT hash FROM tka_aums WHERE tailnet = $1")
        .bind(TAILNET)
        .fetch_all(s.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| AumHash::from_slice(&r.get::<Vec<u8>, _>(0)).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_lose_nothing() {
    let db = TestDb::postgres().await;
    let one: Svc = Arc::new(Service::new(db.store().await));
    let two: Svc = Arc::new(Service::new(db.store().await));
    let replicas = [one.clone(), two.clone()];
    let t = TailnetId::from(TAILNET);
    const WRITERS: u8 = 4;
    const SIGNED: u8 = 6;
    for i in 1..=(WRITERS + SIGNED) {
        one.register_key(&t, &node_key(i)).await.unwrap();
    }

    // Two admins race to init with different genesis AUMs on different
    // replicas: exactly one authority results.
    let admin = nl(100);
    let rival = nl(101);
    let g = genesis(&admin, (1, 1));
    let g_rival = genesis(&rival, (2, 2));
    let init = |s: Svc, who: u8, key: tka::NlPrivate, g: Aum| async move {
        let begin = s
            .init_begin(
                &caller(who),
                &wire::InitBeginRequest {
                    version: 145,
                    node_key: node_key(who),
                    genesis_aum: Some(g.to_cbor()),
                },
            )
            .await?;
        let sigs = begin
            .need_signatures
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n.node_id,
                    NodeKeySignature::sign_direct(&key, &n.node_public, None)
                        .unwrap()
                        .to_cbor(),
                )
            })
            .collect();
        s.init_finish(
            &caller(who),
            &wire::InitFinishRequest {
                version: 145,
                node_key: node_key(who),
                signatures: Some(sigs),
                support_disablement: vec![],
            },
        )
        .await
    };
    let (r1, r2) = tokio::join!(
        init(one.clone(), 1, admin.clone(), g.clone()),
        init(two.clone(), 2, rival.clone(), g_rival.clone())
    );
    let head0 = one
        .tka_info(&t)
        .await
        .unwrap()
        .unwrap()
        .head_hash()
        .unwrap()
        .unwrap();
    assert_eq!(
        two.tka_info(&t)
            .await
            .unwrap()
            .unwrap()
            .head_hash()
            .unwrap(),
        Some(head0)
    );
    // Both may have finished one after the other only if the second began
    // after the first finished; then the second is refused as "already
    // enabled". Either way one authority is on.
    assert!(r1.is_ok() || r2.is_ok());
    let (winner, key) = if head0 == g.hash() {
        (g.clone(), admin.clone())
    } else {
        (g_rival.clone(), rival.clone())
    };
    assert_eq!(head0, winner.hash());

    // Writers on alternating replicas: sync, build an update, send it.
    let mut tasks = Vec::new();
    for w in 1..=WRITERS {
        let replicas = replicas.clone();
        let winner = winner.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut storage = MemStorage::new();
            let mut a = Authority::bootstrap(&mut storage, winner, 1).unwrap();
            let mut accepted = Vec::new();
            for round in 0..8u64 {
                let s = &replicas[(round as usize + w as usize) % 2];
                sync(s, w, &mut storage, &mut a).await.unwrap();
                let aums = {
                    let mut b = a.builder(Some(&key));
                    b.set_key_vote(&key.public().0, 1 + (round + w as u64) % 5 + 1)
                        .unwrap();
                    b.finalize(&storage).unwrap()
                };
                send(
                    s,
                    w,
                    a.head(),
                    aums.iter().map(Aum::to_cbor).collect(),
                    true,
                )
                .await
                .unwrap();
                accepted.extend(aums.iter().map(Aum::hash));
            }
            accepted
        }));
    }
    // Signers on both replicas at the same time.
    let mut sign_tasks = Vec::new();
    for i in (WRITERS + 1)..=(WRITERS + SIGNED) {
        let s = replicas[i as usize % 2].clone();
        let key = key.clone();
        sign_tasks.push(tokio::spawn(async move {
            let sig = NodeKeySignature::sign_direct(&key, &node_key(i), None)
                .unwrap()
                .to_cbor();
            s.sign(&caller(1), &submit_signature(node_key(1), sig.clone()))
                .await
                .unwrap();
            (i, sig)
        }));
    }
    let mut accepted = HashSet::new();
    for task in tasks {
        accepted.extend(task.await.unwrap());
    }
    let mut signed = Vec::new();
    for task in sign_tasks {
        signed.push(task.await.unwrap());
    }

    // Every accepted AUM is stored; both replicas agree with the stored head.
    let stored = stored_hashes(&one).await;
    assert!(
        accepted.is_subset(&stored),
        "{} accepted AUMs missing",
        accepted.difference(&stored).count()
    );
    assert_eq!(
        stored.len(),
        accepted.len() + 1,
        "genesis plus the accepted AUMs"
    );
    let h1 = one
        .tka_info(&t)
        .await
        .unwrap()
        .unwrap()
        .head_hash()
        .unwrap()
        .unwrap();
    let h2 = two
        .tka_info(&t)
        .await
        .unwrap()
        .unwrap()
        .head_hash()
        .unwrap()
        .unwrap();
    assert_eq!(h1, h2);
    // The stored chain, rebuilt from scratch, has that head and contains
    // every accepted AUM.
    let fresh: Svc = Arc::new(Service::new(db.store().await));
    let snap = fresh.snapshot(&t).await.unwrap();
    let chain = snap.chain().unwrap();
    assert_eq!(chain.authority().head(), h1);
    assert_eq!(chain.len(), stored.len());
    // Every signature accepted is on its node.
    let nodes = two.nodes(&t).await.unwrap();
    for (i, sig) in &signed {
        let n = nodes.iter().find(|n| n.key == node_key(*i)).unwrap();
        assert_eq!(n.key_signature.as_ref(), Some(sig));
    }
    // Every node converges, whichever replica it talks to.
    for i in 1..=WRITERS + SIGNED {
        let mut storage = MemStorage::new();
        let mut a = Authority::bootstrap(&mut storage, winner.clone(), 1).unwrap();
        sync(&replicas[i as usize % 2], i, &mut storage, &mut a)
            .await
            .unwrap();
        assert_eq!(a.head(), h1, "node {i}");
    }

    // Disable on one replica while writers keep sending on both: once the
    // disable is accepted the lock stays off, nothing is stored after it.
    let mut tasks = Vec::new();
    for w in 1..=WRITERS {
        let replicas = replicas.clone();
        let winner = winner.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut storage = MemStorage::new();
            let mut a = Authority::bootstrap(&mut storage, winner, 1).unwrap();
            let mut refused_after_disable = 0;
            for round in 0..6u64 {
                let s = &replicas[(round as usize + w as usize) % 2];
                if let Err(e) = sync(s, w, &mut storage, &mut a).await {
                    assert!(matches!(e, ServiceError::NotEnabled), "{e}");
                    refused_after_disable += 1;
                    continue;
                }
                let aums = {
                    let mut b = a.builder(Some(&key));
                    b.set_key_vote(&key.public().0, 2 + (round % 3)).unwrap();
                    b.finalize(&storage).unwrap()
                };
                let r = send(
                    s,
                    w,
                    a.head(),
                    aums.iter().map(Aum::to_cbor).collect(),
                    true,
                )
                .await;
                match r {
                    Ok(_) => {}
                    Err(ServiceError::NotEnabled) => refused_after_disable += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            refused_after_disable
        }));
    }
    let disabler = two.clone();
    let disable = tokio::spawn(async move {
        tokio::task::yield_now().await;
        disabler
            .disable(
                &caller(3),
                &wire::DisableRequest {
                    version: 145,
                    node_key: node_key(3),
                    head: h1,
                    disablement_secret: Some(SECRET.to_vec()),
                },
            )
            .await
            .unwrap();
    });
    disable.await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    for s in &replicas {
        let info = s.tka_info(&t).await.unwrap().unwrap();
        assert!(info.disabled);
        let e = send(s, 1, h1, vec![winner.to_cbor()], false)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::NotEnabled));
    }
    assert!(
        stored_hashes(&one).await.is_empty(),
        "no AUM stored after the disable"
    );
    assert!(two
        .nodes(&t)
        .await
        .unwrap()
        .iter()
        .all(|n| n.key_signature.is_none()));
    // The disabled authority's genesis cannot be replayed into init.
    let e = one
        .init_begin(
            &caller(1),
            &wire::InitBeginRequest {
                version: 145,
                node_key: node_key(1),
                genesis_aum: Some(winner.to_cbor()),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::StateIdDisallowed(..)));

    one.store().close().await;
    two.store().close().await;
    fresh.store().close().await;
    db.drop_schema().await;
}
