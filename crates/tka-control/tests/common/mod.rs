//! Test helpers: databases (a real SQLite file, a fresh Postgres schema), a
//! Go-shaped HTTP client, and a node-side authority that syncs like Go's
//! client.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use tka::builder::Signer;
use tka::wire::{self, parse_response, Rpc};
use tka::{Aum, Authority, MemStorage, NlPrivate, NodeKey, State, SyncOffer};
use tka_control::SqlStore;

/// A database for one test, dropped (schema removed) at the end.
pub struct TestDb {
    pub kind: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.db");
        TestDb {
            kind: "sqlite",
            url: path.to_string_lossy().into_owned(),
            _dir: Some(dir),
            schema: None,
        }
    }

    /// A fresh schema in the database named by TKA_TEST_POSTGRES_URL; the
    /// variable is required (the test fails without it).
    pub async fn postgres() -> TestDb {
        let base = std::env::var("TKA_TEST_POSTGRES_URL").expect(
            "TKA_TEST_POSTGRES_URL is not set: Postgres tests need a server \
             (.ci/run starts one and sets it, e.g. postgres://tka:tka@127.0.0.1:5432/tka_test)",
        );
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let schema = format!(
            "tka_test_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        TestDb {
            kind: "postgres",
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            _dir: None,
            schema: Some((base, schema)),
        }
    }

    pub async fn store(&self) -> SqlStore {
        match self.kind {
            "sqlite" => SqlStore::sqlite(&self.url).await.unwrap(),
            _ => SqlStore::postgres(&self.url).await.unwrap(),
        }
    }

    pub async fn drop_schema(&self) {
        if let Some((base, schema)) = &self.schema {
            let pool = sqlx::AnyPool::connect(base).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// An HTTP failure: status and body.
#[derive(Debug)]
pub struct HttpError {
    pub status: u16,
    pub body: String,
}

/// Sends `req` as Go's client does: GET with the JSON body.
pub async fn rpc<R: Rpc>(
    client: &reqwest::Client,
    base: &str,
    req: &R,
) -> Result<R::Response, HttpError> {
    let res = raw(client, base, R::PATH.as_str(), req.body()).await?;
    Ok(parse_response::<R>(&res).expect("response parses"))
}

/// Sends raw bytes to `path`; 200 gives the body.
pub async fn raw(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, HttpError> {
    let res = client
        .get(format!("{base}{path}"))
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.expect("body read").to_vec();
    if status == 200 {
        Ok(bytes)
    } else {
        Err(HttpError {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

pub fn node_key(i: u8) -> NodeKey {
    NodeKey([i; 32])
}

pub fn nl(i: u8) -> NlPrivate {
    NlPrivate::from_seed(&[i; 32])
}

pub const SECRET: &[u8] = b"the disablement secret";

/// A genesis trusting `admin`, with a disablement value for [`SECRET`].
pub fn genesis(admin: &NlPrivate, ids: (u64, u64)) -> Aum {
    let state = State {
        disablement_values: Some(vec![Some(
            tka::kdf::disablement_kdf(SECRET).unwrap().to_vec(),
        )]),
        keys: Some(vec![admin.to_key(1)]),
        state_id1: ids.0,
        state_id2: ids.1,
        ..State::default()
    };
    let mut storage = MemStorage::new();
    Authority::create(&mut storage, state, admin, 1).unwrap().1
}

/// A node: its key and, once bootstrapped, its authority.
pub struct TestNode {
    pub key: NodeKey,
    pub storage: MemStorage,
    pub authority: Option<Authority>,
}

impl TestNode {
    pub fn new(i: u8) -> TestNode {
        TestNode {
            key: node_key(i),
            storage: MemStorage::new(),
            authority: None,
        }
    }

    pub fn head(&self) -> Option<tka::AumHash> {
        self.authority.as_ref().map(|a| a.head())
    }

    /// Bootstrap as Go's client does when the netmap says enabled.
    pub async fn bootstrap(&mut self, c: &reqwest::Client, base: &str) -> wire::BootstrapResponse {
        let resp = rpc(
            c,
            base,
            &wire::BootstrapRequest {
                version: 145,
                node_key: self.key,
                head: self.head(),
            },
        )
        .await
        .expect("bootstrap");
        if self.authority.is_none() && !resp.genesis_aum.is_empty() {
            let g = Aum::from_cbor(&resp.genesis_aum).unwrap();
            self.authority = Some(Authority::bootstrap(&mut self.storage, g, 1).unwrap());
        }
        resp
    }

    /// Go's `tkaSyncLocked`: offer, apply control's AUMs, send ours.
    pub async fn sync(&mut self, c: &reqwest::Client, base: &str) -> Result<(), HttpError> {
        let a = self.authority.as_mut().expect("bootstrapped");
        let offer = a.sync_offer(&self.storage).unwrap();
        let resp = rpc(
            c,
            base,
            &wire::SyncOfferRequest {
                version: 145,
                node_key: self.key,
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
            .missing_aums(&self.storage, &control)
            .unwrap()
            .unwrap_or_default()
            .iter()
            .map(|s| s.aum().to_cbor())
            .collect();
        let got: Vec<Aum> = resp
            .missing_aums
            .unwrap_or_default()
            .iter()
            .map(|b| Aum::from_cbor(b).unwrap())
            .collect();
        if !got.is_empty() {
            a.inform(&mut self.storage, &got, 1).unwrap();
        }
        let sent = rpc(
            c,
            base,
            &wire::SyncSendRequest {
                version: 145,
                node_key: self.key,
                head: a.head(),
                missing_aums: Some(to_send),
                interactive: false,
            },
        )
        .await?;
        assert_eq!(sent.head, a.head(), "consensus after sync");
        Ok(())
    }

    /// Go's `TailnetLockModify`: build updates with `signer`, send them
    /// interactively; control's head must be the last one.
    pub async fn modify(
        &mut self,
        c: &reqwest::Client,
        base: &str,
        signer: &dyn Signer,
        build: impl FnOnce(&mut tka::builder::UpdateBuilder<'_>),
    ) -> Result<Vec<Aum>, HttpError> {
        let a = self.authority.as_ref().expect("bootstrapped");
        let mut b = a.builder(Some(signer));
        build(&mut b);
        let aums = b.finalize(&self.storage).unwrap();
        let resp = rpc(
            c,
            base,
            &wire::SyncSendRequest {
                version: 145,
                node_key: self.key,
                head: a.head(),
                missing_aums: Some(aums.iter().map(Aum::to_cbor).collect()),
                interactive: true,
            },
        )
        .await?;
        assert_eq!(
            Some(resp.head),
            aums.last().map(Aum::hash),
            "control took the updates"
        );
        Ok(aums)
    }
}

/// A sign request from `caller` submitting the node-key signature `sig`.
pub fn submit_signature(caller: NodeKey, sig: Vec<u8>) -> wire::SubmitSignatureRequest {
    wire::SubmitSignatureRequest {
        version: 145,
        node_key: caller,
        signature: Some(sig),
    }
}
