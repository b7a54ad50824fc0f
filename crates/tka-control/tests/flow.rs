//! A Go-shaped client flow against the standalone router over real HTTP on
//! 127.0.0.1, on SQLite and on Postgres: init (begin, sign every node,
//! finish), sign a new node, add and remove a key with re-signing through
//! affected-sigs, sync a node from far behind, disable.

mod common;

use common::*;
use std::net::SocketAddr;
use tka::wire;
use tka::{AumHash, NodeKeySignature};
use tka_control::standalone::{self, TAILNET};
use tka_control::{PeerView, TailnetId, UnsignedPolicy};

async fn flow(db: TestDb) {
    let store = db.store().await;
    let h = standalone::serve(store, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", h.addr());
    let c = reqwest::Client::new();
    let service = h.service().clone();
    let tailnet = TailnetId::from(TAILNET);
    let admin = nl(100);

    // Three nodes talk to control (and so are registered); the lock is off.
    let mut nodes: Vec<TestNode> = (1..=3).map(TestNode::new).collect();
    for n in &mut nodes {
        let r = n.bootstrap(&c, &base).await;
        assert_eq!(r, wire::BootstrapResponse::default());
    }
    assert_eq!(service.tka_info(&tailnet).await.unwrap(), None);

    // lock init: begin lists every node, finish carries their signatures.
    let g = genesis(&admin, (11, 12));
    let begin = rpc(
        &c,
        &base,
        &wire::InitBeginRequest {
            version: 145,
            node_key: nodes[0].key,
            genesis_aum: Some(g.to_cbor()),
        },
    )
    .await
    .unwrap();
    let need = begin.need_signatures.unwrap();
    assert_eq!(
        need.iter().map(|s| s.node_public).collect::<Vec<_>>(),
        nodes.iter().map(|n| n.key).collect::<Vec<_>>()
    );
    // Still off until finish.
    assert_eq!(service.tka_info(&tailnet).await.unwrap(), None);
    let sigs = need
        .iter()
        .map(|s| {
            let sig = NodeKeySignature::sign_direct(&admin, &s.node_public, None).unwrap();
            (s.node_id, sig.to_cbor())
        })
        .collect();
    rpc(
        &c,
        &base,
        &wire::InitFinishRequest {
            version: 145,
            node_key: nodes[0].key,
            signatures: Some(sigs),
            support_disablement: Vec::new(),
        },
    )
    .await
    .unwrap();
    let info = service.tka_info(&tailnet).await.unwrap().unwrap();
    assert!(info.enabled());
    assert_eq!(info.head_hash().unwrap(), Some(g.hash()));
    for n in &mut nodes {
        n.bootstrap(&c, &base).await;
        assert_eq!(n.head(), Some(g.hash()));
    }
    let views = service
        .peer_views(&tailnet, UnsignedPolicy::Hide)
        .await
        .unwrap();
    assert!(views
        .iter()
        .all(|(_, v)| matches!(v, PeerView::Send { .. })));

    // A new node joins unsigned; `lock sign` signs it.
    let mut newcomer = TestNode::new(4);
    newcomer.bootstrap(&c, &base).await;
    let view = |views: &[(tka_control::NodeRecord, PeerView)], k| {
        views.iter().find(|(n, _)| n.key == k).unwrap().1.clone()
    };
    let views = service
        .peer_views(&tailnet, UnsignedPolicy::PeerApiOnly)
        .await
        .unwrap();
    assert_eq!(view(&views, newcomer.key), PeerView::PeerApiOnly);
    let sig = NodeKeySignature::sign_direct(&admin, &newcomer.key, None)
        .unwrap()
        .to_cbor();
    rpc(&c, &base, &submit_signature(nodes[0].key, sig.clone()))
        .await
        .unwrap();
    let views = service
        .peer_views(&tailnet, UnsignedPolicy::Hide)
        .await
        .unwrap();
    assert_eq!(
        view(&views, newcomer.key),
        PeerView::Send { key_signature: sig }
    );

    // lock add: a second key, which then signs a fifth node.
    let second = nl(101);
    nodes[0]
        .modify(&c, &base, &admin, |b| b.add_key(second.to_key(1)).unwrap())
        .await
        .unwrap();
    nodes[0].sync(&c, &base).await.unwrap();
    let mut fifth = TestNode::new(5);
    fifth.bootstrap(&c, &base).await;
    let by_second = NodeKeySignature::sign_direct(&second, &fifth.key, None)
        .unwrap()
        .to_cbor();
    rpc(
        &c,
        &base,
        &submit_signature(nodes[0].key, by_second.clone()),
    )
    .await
    .unwrap();

    // lock remove --re-sign: affected-sigs, re-sign with the admin key,
    // then remove the key.
    let affected = rpc(
        &c,
        &base,
        &wire::SignaturesUsingKeyRequest {
            version: 145,
            node_key: nodes[0].key,
            key_id: Some(second.public().0.to_vec()),
        },
    )
    .await
    .unwrap()
    .signatures
    .unwrap();
    assert_eq!(affected, vec![by_second.clone()]);
    for s in &affected {
        let old = NodeKeySignature::from_cbor(s).unwrap();
        let nk = tka::NodeKey::from_binary(old.pubkey.as_deref().unwrap()).unwrap();
        let resigned = NodeKeySignature::sign_direct(&admin, &nk, None)
            .unwrap()
            .to_cbor();
        rpc(&c, &base, &submit_signature(nodes[0].key, resigned))
            .await
            .unwrap();
    }
    let second_id = second.public().0.to_vec();
    nodes[0]
        .modify(&c, &base, &admin, |b| b.remove_key(&second_id).unwrap())
        .await
        .unwrap();
    let views = service
        .peer_views(&tailnet, UnsignedPolicy::Hide)
        .await
        .unwrap();
    assert!(
        views
            .iter()
            .all(|(_, v)| matches!(v, PeerView::Send { .. })),
        "every node still signed after the removal"
    );
    // The removed key's signature is now refused.
    let late = NodeKeySignature::sign_direct(&second, &fifth.key, None)
        .unwrap()
        .to_cbor();
    let e = rpc(&c, &base, &submit_signature(nodes[0].key, late))
        .await
        .unwrap_err();
    assert_eq!(e.status, 400, "{}", e.body);

    // Many more updates (past several checkpoints); node 3 has not synced
    // since init and catches up from far behind.
    nodes[0].sync(&c, &base).await.unwrap();
    for round in 0..6 {
        nodes[0]
            .modify(&c, &base, &admin, |b| {
                for v in 0..20u64 {
                    b.set_key_vote(&admin.public().0, 1 + (round * 20 + v) % 7)
                        .unwrap();
                }
            })
            .await
            .unwrap();
        nodes[0].sync(&c, &base).await.unwrap();
    }
    let head = service
        .tka_info(&tailnet)
        .await
        .unwrap()
        .unwrap()
        .head_hash()
        .unwrap();
    assert_eq!(nodes[0].head(), head);
    assert_eq!(nodes[2].head(), Some(g.hash()));
    nodes[2].sync(&c, &base).await.unwrap();
    assert_eq!(nodes[2].head(), head);
    assert!(nodes[2].storage.len() > 120);

    // A wrong secret changes nothing; the right one disables, and bootstrap
    // then hands the secret out.
    let disable = |secret: &[u8], head: AumHash| wire::DisableRequest {
        version: 145,
        node_key: nodes[1].key,
        head,
        disablement_secret: Some(secret.to_vec()),
    };
    let e = rpc(&c, &base, &disable(b"wrong", head.unwrap()))
        .await
        .unwrap_err();
    assert_eq!(
        (e.status, e.body.trim()),
        (400, "incorrect disablement secret")
    );
    assert!(service.tka_info(&tailnet).await.unwrap().unwrap().enabled());
    rpc(&c, &base, &disable(SECRET, head.unwrap()))
        .await
        .unwrap();
    let info = service.tka_info(&tailnet).await.unwrap().unwrap();
    assert!(info.disabled && !info.enabled());
    let b = nodes[1].bootstrap(&c, &base).await;
    assert_eq!(b.disablement_secret, SECRET);
    assert!(nodes[1]
        .authority
        .as_ref()
        .unwrap()
        .valid_disablement(&b.disablement_secret));
    // Nothing to sync once disabled; the old genesis cannot come back.
    let e = nodes[0].sync(&c, &base).await.unwrap_err();
    assert_eq!(e.status, 400);
    let e = rpc(
        &c,
        &base,
        &wire::InitBeginRequest {
            version: 145,
            node_key: nodes[0].key,
            genesis_aum: Some(g.to_cbor()),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.body.contains("disabled authority"), "{}", e.body);

    h.shutdown().await.unwrap();
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_flow_sqlite() {
    flow(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_flow_postgres() {
    flow(TestDb::postgres().await).await;
}
