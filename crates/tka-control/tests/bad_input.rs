//! Bad input gets a 4xx with a reason and changes nothing; tailnets are
//! isolated by the caller identity the embedder supplies, never by the
//! body. Real HTTP on 127.0.0.1, real SQLite file.

mod common;

use axum::http::request::Parts;
use common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use tka::wire::{self, Path, Rpc};
use tka::{AumHash, NodeKey, NodeKeySignature};
use tka_control::http::{router, Identify, Rejection};
use tka_control::standalone::request_node_key;
use tka_control::{Caller, Service, SqlStore, TailnetId};

/// Identifies callers by the `x-tailnet` and `x-node` headers (as an
/// embedder would from its Noise session).
#[derive(Clone)]
struct Headers;

impl Identify for Headers {
    async fn identify(&self, _: Path, parts: &Parts, _: &[u8]) -> Result<Caller, Rejection> {
        let get = |h: &str| {
            parts
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (Some(t), Some(n)) = (get("x-tailnet"), get("x-node")) else {
            return Err(Rejection {
                status: 401,
                message: "unauthenticated".into(),
            });
        };
        Ok(Caller {
            tailnet: TailnetId(t),
            node: n.parse().map_err(|_| Rejection {
                status: 401,
                message: "bad node".into(),
            })?,
        })
    }
}

struct Server {
    base: String,
    service: Arc<Service<SqlStore>>,
    c: reqwest::Client,
    _db: TestDb,
}

impl Server {
    async fn start() -> Server {
        let db = TestDb::sqlite().await;
        let service = Arc::new(Service::new(db.store().await));
        let app = router(service.clone(), Headers);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            base: format!("http://{addr}"),
            service,
            c: reqwest::Client::new(),
            _db: db,
        }
    }

    /// Sends `body` to `path` as `node` of `tailnet`.
    async fn send(
        &self,
        tailnet: &str,
        node: NodeKey,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, HttpError> {
        let res = self
            .c
            .get(format!("{}{path}", self.base))
            .header("x-tailnet", tailnet)
            .header("x-node", node.to_string())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap().to_vec();
        if status == 200 {
            Ok(bytes)
        } else {
            Err(HttpError {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        }
    }

    async fn rpc<R: wire::Rpc>(
        &self,
        tailnet: &str,
        node: NodeKey,
        req: &R,
    ) -> Result<R::Response, HttpError> {
        let b = self
            .send(tailnet, node, R::PATH.as_str(), req.body())
            .await?;
        Ok(wire::parse_response::<R>(&b).unwrap())
    }

    /// Everything stored: tailnet rows, AUMs, node signatures.
    async fn fingerprint(&self) -> String {
        let pool = self.service.store().pool();
        let mut out = String::new();
        for (sql, cols) in [
            (
                "SELECT id, version, status, head FROM tka_tailnets ORDER BY id",
                4,
            ),
            (
                "SELECT tailnet, seq, hash FROM tka_aums ORDER BY tailnet, seq",
                3,
            ),
            (
                "SELECT tailnet, node_id, key_signature FROM tka_nodes ORDER BY tailnet, node_id",
                3,
            ),
        ] {
            for r in sqlx::query(sql).fetch_all(pool).await.unwrap() {
                use sqlx::Row;
                for i in 0..cols {
                    let v: String = r
                        .try_get::<Option<Vec<u8>>, _>(i)
                        .map(|b| format!("{b:?}"))
                        .or_else(|_| r.try_get::<String, _>(i))
                        .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap();
                    out.push_str(&v);
                    out.push('|');
                }
                out.push('\n');
            }
        }
        out
    }
}

const T: &str = "tailnet-a";

/// Lock on in tailnet A with nodes 1 and 2 signed; node 3 registered
/// unsigned.
async fn locked_server() -> (Server, tka::Aum, Vec<u8>) {
    let s = Server::start().await;
    let t = TailnetId::from(T);
    for i in 1..=3u8 {
        s.service.register_key(&t, &node_key(i)).await.unwrap();
    }
    let admin = nl(100);
    let g = genesis(&admin, (1, 2));
    let begin = s
        .rpc(
            T,
            node_key(1),
            &wire::InitBeginRequest {
                version: 145,
                node_key: node_key(1),
                genesis_aum: Some(g.to_cbor()),
            },
        )
        .await
        .unwrap();
    let sigs: BTreeMap<i64, Vec<u8>> = begin
        .need_signatures
        .unwrap()
        .iter()
        .filter(|s| s.node_public != node_key(3))
        .map(|s| {
            (
                s.node_id,
                NodeKeySignature::sign_direct(&admin, &s.node_public, None)
                    .unwrap()
                    .to_cbor(),
            )
        })
        .collect();
    let finish = wire::InitFinishRequest {
        version: 145,
        node_key: node_key(1),
        signatures: Some(sigs),
        support_disablement: Vec::new(),
    };
    s.rpc(T, node_key(1), &finish).await.unwrap();
    (s, g, finish.body())
}

fn sync_send(aums: Vec<Vec<u8>>, head: AumHash) -> wire::SyncSendRequest {
    wire::SyncSendRequest {
        version: 145,
        node_key: node_key(1),
        head,
        missing_aums: Some(aums),
        interactive: true,
    }
}

fn sign_req(sig: Vec<u8>) -> wire::SubmitSignatureRequest {
    submit_signature(node_key(1), sig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing() {
    let (s, g, finish_body) = locked_server().await;
    let admin = nl(100);
    let mut node = TestNode::new(1);
    node.storage = tka::MemStorage::new();
    node.authority = Some(tka::Authority::bootstrap(&mut node.storage, g.clone(), 1).unwrap());
    let a = node.authority.as_ref().unwrap();

    // A valid update, kept for the replay check below.
    let mut b = a.builder(Some(&admin));
    b.add_key(nl(101).to_key(1)).unwrap();
    let good = b.finalize(&node.storage).unwrap();
    // The same update signed by a key the authority does not trust.
    let stranger = nl(55);
    let mut b = a.builder(Some(&stranger));
    b.add_key(nl(102).to_key(1)).unwrap();
    let untrusted = b.finalize(&node.storage).unwrap();
    // A valid update with one signature byte flipped.
    let mut tampered = good[0].clone();
    if let Some(sigs) = tampered.signatures.as_mut() {
        if let Some(b) = sigs[0].signature.as_mut() {
            b[7] ^= 1;
        }
    }
    // A Direct signature with the all-zero (small-order) wrapping key, as
    // Go's `lock sign` writes, and a Rotation forged over it for node 3.
    let mut zero_wrap = NodeKeySignature {
        sig_kind: tka::SigKind::DIRECT,
        pubkey: Some(node_key(2).to_binary().to_vec()),
        key_id: Some(admin.public().0.to_vec()),
        wrapping_pubkey: Some(vec![0; 32]),
        ..Default::default()
    };
    zero_wrap.signature = Some(admin.sign(&zero_wrap.sig_hash()).to_vec());
    let mut forged = NodeKeySignature {
        sig_kind: tka::SigKind::ROTATION,
        pubkey: Some(node_key(3).to_binary().to_vec()),
        nested: Some(Box::new(zero_wrap)),
        ..Default::default()
    };
    let mut identity_sig = vec![0u8; 64];
    identity_sig[0] = 1; // R = the identity point, S = 0
    forged.signature = Some(identity_sig);

    let before = s.fingerprint().await;
    let head = g.hash();
    let n1 = node_key(1);
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "malformed JSON",
            "/machine/tka/sync/send",
            b"{not json".to_vec(),
            "Decode",
        ),
        (
            "wrong JSON type",
            "/machine/tka/sync/offer",
            br#"{"Head":5}"#.to_vec(),
            "Decode",
        ),
        (
            "missing head",
            "/machine/tka/sync/send",
            br#"{"NodeKey":null}"#.to_vec(),
            "Head",
        ),
        (
            "AUM that does not decode",
            "/machine/tka/sync/send",
            sync_send(vec![vec![1, 2, 3]], head).body(),
            "missingAUM[0]",
        ),
        (
            "AUM by an untrusted key",
            "/machine/tka/sync/send",
            sync_send(untrusted.iter().map(|a| a.to_cbor()).collect(), head).body(),
            "inform failed",
        ),
        (
            "AUM with a bad signature",
            "/machine/tka/sync/send",
            sync_send(vec![tampered.to_cbor()], head).body(),
            "inform failed",
        ),
        (
            "signature by an untrusted key",
            "/machine/tka/sign",
            sign_req(
                NodeKeySignature::sign_direct(&stranger, &node_key(3), None)
                    .unwrap()
                    .to_cbor(),
            )
            .body(),
            "does not verify",
        ),
        (
            "rotation forged under a small-order wrapping key",
            "/machine/tka/sign",
            sign_req(forged.to_cbor()).body(),
            "does not verify",
        ),
        (
            "signature for a node of no tailnet of the caller",
            "/machine/tka/sign",
            sign_req(
                NodeKeySignature::sign_direct(&admin, &node_key(77), None)
                    .unwrap()
                    .to_cbor(),
            )
            .body(),
            "not in this tailnet",
        ),
        (
            "signature that does not decode",
            "/machine/tka/sign",
            sign_req(vec![0xff]).body(),
            "malformed",
        ),
        (
            "disable with a wrong secret",
            "/machine/tka/disable",
            wire::DisableRequest {
                version: 145,
                node_key: n1,
                head,
                disablement_secret: Some(b"guess".to_vec()),
            }
            .body(),
            "incorrect disablement secret",
        ),
        (
            "disable without a secret",
            "/machine/tka/disable",
            wire::DisableRequest {
                version: 145,
                node_key: n1,
                head,
                disablement_secret: None,
            }
            .body(),
            "missing disablement secret",
        ),
        (
            "init on a locked tailnet",
            "/machine/tka/init/begin",
            wire::InitBeginRequest {
                version: 145,
                node_key: n1,
                genesis_aum: Some(genesis(&admin, (5, 6)).to_cbor()),
            }
            .body(),
            "already enabled",
        ),
        (
            "replayed init/finish",
            "/machine/tka/init/finish",
            finish_body.clone(),
            "already enabled",
        ),
        (
            "body NodeKey that is not the caller's",
            "/machine/tka/sync/offer",
            wire::SyncOfferRequest {
                version: 145,
                node_key: node_key(2),
                head,
                ancestors: None,
            }
            .body(),
            "not the caller's node key",
        ),
    ];
    for (what, path, body, reason) in cases {
        let e = s.send(T, n1, path, body).await.expect_err(what);
        assert_eq!(e.status, 400, "{what}: {}", e.body);
        assert!(
            e.body.contains(reason),
            "{what}: {:?} lacks {reason:?}",
            e.body
        );
        assert_eq!(s.fingerprint().await, before, "{what} changed the store");
    }

    // Over the size cap; no identity; wrong method.
    let e = s
        .send(
            T,
            n1,
            "/machine/tka/sync/send",
            vec![b' '; wire::REQUEST_CAP + 1],
        )
        .await
        .unwrap_err();
    assert_eq!(e.status, 413);
    let r =
        s.c.get(format!("{}/machine/tka/bootstrap", s.base))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r =
        s.c.post(format!("{}/machine/tka/bootstrap", s.base))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(s.fingerprint().await, before);

    // The good update is accepted; replaying it changes nothing more.
    let req = sync_send(good.iter().map(|a| a.to_cbor()).collect(), head);
    s.rpc(T, n1, &req).await.unwrap();
    let after = s.fingerprint().await;
    assert_ne!(after, before);
    let resp = s.rpc(T, n1, &req).await.unwrap();
    assert_eq!(Some(resp.head), good.last().map(|a| a.hash()));
    assert_eq!(s.fingerprint().await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailnets_are_isolated_and_init_verifies_signatures() {
    let (s, g, _) = locked_server().await;
    let b = "tailnet-b";
    let tb = TailnetId::from(b);
    // Node 9 is in tailnet B only.
    s.service.register_key(&tb, &node_key(9)).await.unwrap();
    let before_a = s.service.tka_info(&TailnetId::from(T)).await.unwrap();

    // Tailnet B's view: lock off, whatever tailnet A does.
    let r = s
        .rpc(
            b,
            node_key(9),
            &wire::BootstrapRequest {
                version: 145,
                node_key: node_key(9),
                head: Some(g.hash()),
            },
        )
        .await
        .unwrap();
    assert_eq!(r, wire::BootstrapResponse::default());
    let e = s
        .rpc(
            b,
            node_key(9),
            &wire::SyncOfferRequest {
                version: 145,
                node_key: node_key(9),
                head: g.hash(),
                ancestors: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.status, e.body.trim()),
        (400, "tailnet lock is not enabled")
    );

    // Init in B: a signature not by the genesis key is refused, B stays off.
    let admin_b = nl(120);
    let gb = genesis(&admin_b, (7, 8));
    let begin = s
        .rpc(
            b,
            node_key(9),
            &wire::InitBeginRequest {
                version: 145,
                node_key: node_key(9),
                genesis_aum: Some(gb.to_cbor()),
            },
        )
        .await
        .unwrap();
    let need = begin.need_signatures.unwrap();
    assert_eq!(need.len(), 1, "only tailnet B's node");
    let wrong: BTreeMap<i64, Vec<u8>> = need
        .iter()
        .map(|s| {
            (
                s.node_id,
                NodeKeySignature::sign_direct(&nl(100), &s.node_public, None)
                    .unwrap()
                    .to_cbor(),
            )
        })
        .collect();
    let finish = |sigs| wire::InitFinishRequest {
        version: 145,
        node_key: node_key(9),
        signatures: Some(sigs),
        support_disablement: Vec::new(),
    };
    let e = s.rpc(b, node_key(9), &finish(wrong)).await.unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.body.contains("does not verify"), "{}", e.body);
    assert_eq!(s.service.tka_info(&tb).await.unwrap(), None);
    // Another node cannot finish what node 9 began.
    s.service.register_key(&tb, &node_key(10)).await.unwrap();
    let right: BTreeMap<i64, Vec<u8>> = need
        .iter()
        .map(|s| {
            (
                s.node_id,
                NodeKeySignature::sign_direct(&admin_b, &s.node_public, None)
                    .unwrap()
                    .to_cbor(),
            )
        })
        .collect();
    let mut other = finish(right.clone());
    other.node_key = node_key(10);
    let e = s.rpc(b, node_key(10), &other).await.unwrap_err();
    assert!(e.body.contains("another node"), "{}", e.body);
    s.rpc(b, node_key(9), &finish(right)).await.unwrap();
    assert_eq!(
        s.service
            .tka_info(&tb)
            .await
            .unwrap()
            .unwrap()
            .head_hash()
            .unwrap(),
        Some(gb.hash())
    );
    assert_eq!(
        s.service.tka_info(&TailnetId::from(T)).await.unwrap(),
        before_a
    );

    // A caller of tailnet B signing tailnet A's node 3 is refused (node 3 is
    // not in B), even with a signature A's authority would accept.
    let sig = NodeKeySignature::sign_direct(&nl(100), &node_key(3), None)
        .unwrap()
        .to_cbor();
    let mut req = sign_req(sig);
    req.node_key = node_key(9);
    let e = s.rpc(b, node_key(9), &req).await.unwrap_err();
    assert_eq!(e.status, 400);
    let a_nodes = s.service.nodes(&TailnetId::from(T)).await.unwrap();
    assert!(a_nodes
        .iter()
        .find(|n| n.key == node_key(3))
        .unwrap()
        .key_signature
        .is_none());
}

#[test]
fn standalone_identity_reads_the_body_node_key() {
    let req = wire::SyncOfferRequest {
        version: 145,
        node_key: node_key(4),
        head: AumHash([1; 32]),
        ancestors: None,
    };
    assert_eq!(
        request_node_key(Path::SyncOffer, &req.body()).unwrap(),
        node_key(4)
    );
    assert!(request_node_key(Path::SyncOffer, b"[").is_err());
}
