//! sync/offer throughput and latency from 200 concurrent simulated nodes on
//! a 1,000-AUM chain, one service instance over loopback HTTP, and the heap
//! one tailnet's snapshot holds. (A counting global allocator; `unsafe` is
//! confined to this example — the library forbids it.)
//!
//! ```text
//! cargo run --release -p tka-control --example bench_sync_offer -- sqlite
//! TKA_TEST_POSTGRES_URL=postgres://tka:tka@127.0.0.1:5432/tka_test \
//!   cargo run --release -p tka-control --example bench_sync_offer -- postgres
//! ```
//!
//! Half the nodes are up to date; the others are 1 to 50 AUMs behind, so
//! their answers carry the AUMs they lack. Options after the backend:
//! seconds to run (default 10), number of nodes (default 200).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tka::wire::{self, Rpc};
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, State};
use tka_control::standalone::{self, TAILNET};
use tka_control::{Caller, Service, SqlStore, TailnetId};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CHAIN: usize = 1000;

fn chain(admin: &NlPrivate) -> Vec<Aum> {
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            disablement_values: Some(vec![Some(vec![1; 32])]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 1,
            state_id2: 2,
            ..State::default()
        }),
        ..Default::default()
    };
    use tka::builder::Signer;
    g.signatures = Some(admin.sign_aum(&g.sig_hash()));
    let mut out = vec![g];
    for i in 1..CHAIN {
        let mut a = if i % 50 == 0 {
            let mut st = out[0].state.clone().unwrap();
            st.last_aum_hash = None;
            Aum {
                message_kind: AumKind::CHECKPOINT,
                state: Some(st),
                ..Default::default()
            }
        } else {
            Aum {
                message_kind: AumKind::NO_OP,
                ..Default::default()
            }
        };
        a.prev_aum_hash = Some(out[i - 1].hash().0.to_vec());
        a.signatures = Some(admin.sign_aum(&a.sig_hash()));
        out.push(a);
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map(String::as_str).unwrap_or("sqlite");
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let n_nodes: u8 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let (store, schema) = match backend {
        "postgres" => {
            let base = std::env::var("TKA_TEST_POSTGRES_URL")
                .map_err(|_| "set TKA_TEST_POSTGRES_URL for the postgres run")?;
            sqlx::any::install_default_drivers();
            let schema = format!("tka_bench_{}", std::process::id());
            let pool = sqlx::AnyPool::connect(&base).await?;
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&pool)
                .await?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            (SqlStore::postgres(&url).await?, Some((pool, schema)))
        }
        _ => (SqlStore::sqlite(dir.path().join("bench.db")).await?, None),
    };

    // Set up: nodes registered, lock on, a 1,000-AUM chain.
    let admin = NlPrivate::from_seed(&[9; 32]);
    let aums = chain(&admin);
    let tailnet = TailnetId::from(TAILNET);
    let setup = Service::new(store.clone());
    for i in 0..n_nodes {
        setup.register_key(&tailnet, &NodeKey([i + 1; 32])).await?;
    }
    let caller = Caller {
        tailnet: tailnet.clone(),
        node: NodeKey([1; 32]),
    };
    setup
        .init_begin(
            &caller,
            &wire::InitBeginRequest {
                version: 145,
                node_key: caller.node,
                genesis_aum: Some(aums[0].to_cbor()),
            },
        )
        .await?;
    setup
        .init_finish(
            &caller,
            &wire::InitFinishRequest {
                version: 145,
                node_key: caller.node,
                signatures: None,
                support_disablement: vec![],
            },
        )
        .await?;
    for batch in aums[1..].chunks(100) {
        setup
            .sync_send(
                &caller,
                &wire::SyncSendRequest {
                    version: 145,
                    node_key: caller.node,
                    head: batch.last().unwrap().hash(),
                    missing_aums: Some(batch.iter().map(Aum::to_cbor).collect()),
                    interactive: true,
                },
            )
            .await?;
    }

    // Memory one tailnet's snapshot holds: load it into a fresh service.
    let fresh = Service::new(store.clone());
    let before = LIVE.load(Ordering::Relaxed);
    let snap = fresh.snapshot(&tailnet).await?;
    let held = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(snap.chain().map(|c| c.len()), Some(CHAIN));
    drop(snap);
    drop(fresh);

    // Each node's offer: half at the head, half 1..=50 AUMs behind.
    let mut bodies = Vec::new();
    for i in 0..n_nodes {
        let behind = if i % 2 == 0 {
            0
        } else {
            1 + (i as usize * 7) % 50
        };
        let mut s = MemStorage::new();
        let mut a = Authority::bootstrap(&mut s, aums[0].clone(), 0)?;
        a.inform(&mut s, &aums[1..CHAIN - behind], 0)?;
        let offer = a.sync_offer(&s)?;
        let req = wire::SyncOfferRequest {
            version: 145,
            node_key: NodeKey([i + 1; 32]),
            head: offer.head,
            ancestors: Some(offer.ancestors),
        };
        bodies.push(req.body());
    }

    let h = standalone::serve(store.clone(), "127.0.0.1:0".parse()?).await?;
    let url = format!("http://{}{}", h.addr(), wire::Path::SyncOffer.as_str());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n_nodes as usize)
        .build()?;
    // Warm up (registers the nodes with the standalone identity, fills the
    // snapshot).
    for b in &bodies {
        let r = client.get(&url).body(b.clone()).send().await?;
        assert_eq!(r.status(), 200);
        r.bytes().await?;
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for b in bodies {
        let client = client.clone();
        let url = url.clone();
        let b = Arc::new(b);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut bytes = 0usize;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let r = client
                    .get(&url)
                    .body(b.as_ref().clone())
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status(), 200);
                bytes += r.bytes().await.expect("body").len();
                lat.push(t0.elapsed());
            }
            (lat, bytes)
        }));
    }
    let mut lat = Vec::new();
    let mut bytes = 0;
    for t in tasks {
        let (l, b) = t.await?;
        lat.extend(l);
        bytes += b;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "backend={backend} nodes={n_nodes} chain={CHAIN} duration={elapsed:.1}s requests={} \
         rps={:.0} p50={:.2?} p99={:.2?} mean_response={}B",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        bytes / lat.len().max(1)
    );
    println!(
        "memory held per tailnet (snapshot of a {CHAIN}-AUM chain): {} KiB",
        held / 1024
    );
    h.shutdown().await?;
    store.close().await;
    if let Some((pool, schema)) = schema {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await?;
    }
    Ok(())
}
