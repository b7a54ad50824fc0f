//! A 100,000-peer netmap through `TkaMachine`: the first netmap (every
//! signature verified), the same netmap again in the same and in another
//! order (and in another order with signature buffers of its own), one
//! peer changed and then twenty more; wall time of each and the heap the
//! machine holds per peer.
//! (A counting global allocator; `unsafe` is confined to this example — the
//! library forbids it.)
//!
//! Run with `cargo run --release --example netmap_100k` (optional argument:
//! the number of peers, default 100000). Uses only the machine's public API.

use bytes::Bytes;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tka::machine::{Event, Peer, Time, TkaMachine};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

#[path = "../benches/common/mod.rs"]
mod common;
use common::machine_with_authority;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a new peak window at the current live size.
fn reset_peak() -> usize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn machine(k: &NlPrivate) -> TkaMachine {
    machine_with_authority(k)
}

fn drain(m: &mut TkaMachine) {
    while m.poll_action().is_some() {}
}

fn peer(k: &NlPrivate, id: u32, generation: u8) -> Peer {
    let mut nk = [generation; 32];
    nk[..4].copy_from_slice(&id.to_le_bytes());
    let nk = NodeKey(nk);
    Peer {
        node_id: i64::from(id),
        node_key: nk,
        signature: Bytes::from(
            NodeKeySignature::sign_direct(k, &nk, None)
                .unwrap()
                .to_cbor(),
        ),
        unsigned_peer_api_only: false,
    }
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let k = NlPrivate::from_seed(&[3; 32]);
    eprintln!("signing {n} peers...");
    let peers: Vec<Peer> = (0..n).map(|i| peer(&k, i, 0)).collect();
    // The same peers in another order (a fixed shuffle: reversed halves
    // interleaved), without RNG.
    let mut reordered: Vec<Peer> = Vec::with_capacity(peers.len());
    let (a, b) = peers.split_at(peers.len() / 2);
    for (x, y) in b.iter().rev().zip(a.iter()) {
        reordered.push(x.clone());
        reordered.push(y.clone());
    }
    reordered.extend(b.iter().rev().skip(a.len()).cloned());
    assert_eq!(reordered.len(), peers.len());

    let mut m = machine(&k);
    drain(&mut m);

    // First netmap: the peers vector is moved into the machine.
    let input = peers.clone();
    let base = reset_peak();
    let t = Instant::now();
    m.handle_event(Time(1), Event::PeersReplaced(input));
    drain(&mut m);
    let first = t.elapsed();
    let first_peak = PEAK.load(Ordering::Relaxed);
    let c = m.counters();
    assert_eq!(c.authorized, n as usize, "{c:?}");

    // Same netmap, same order.
    let same = peers.clone();
    let t = Instant::now();
    m.handle_event(Time(2), Event::PeersReplaced(same));
    drain(&mut m);
    let same_order = t.elapsed();
    assert_eq!(m.counters().authorized, n as usize);

    // Same netmap, another order.
    let again = reordered.clone();
    let t = Instant::now();
    m.handle_event(Time(2), Event::PeersReplaced(again));
    drain(&mut m);
    let second = t.elapsed();
    assert_eq!(m.counters().authorized, n as usize);

    // The same netmap in another order, every signature in a buffer of its
    // own as in a netmap parsed from JSON (above, the lists are clones that
    // share their buffers with the machine's copy).
    let fresh: Vec<Peer> = reordered
        .iter()
        .map(|p| Peer {
            signature: Bytes::copy_from_slice(&p.signature),
            ..p.clone()
        })
        .collect();
    let t = Instant::now();
    m.handle_event(Time(2), Event::PeersReplaced(fresh));
    drain(&mut m);
    let fresh_other = t.elapsed();
    assert_eq!(m.counters().authorized, n as usize);

    // One peer changed: a new node key and signature for node 7.
    let changed = peer(&k, 7, 1);
    let t = Instant::now();
    m.handle_event(Time(3), Event::PeerUpserted(changed));
    drain(&mut m);
    let one = t.elapsed();
    assert_eq!(m.counters().authorized, n as usize);

    // Twenty more single changes. The first single check after the batched
    // first netmap builds the trusted key's table of multiples, the second
    // the process's basepoint table (`tka::ed25519::PreparedKey`): one-time
    // costs. The median is what a change costs from then on.
    let mut later: Vec<f64> = (0..20)
        .map(|j| {
            let changed = peer(&k, (8 + j) % n.max(1), 1);
            let t = Instant::now();
            m.handle_event(Time(4), Event::PeerUpserted(changed));
            drain(&mut m);
            t.elapsed().as_secs_f64()
        })
        .collect();
    later.sort_by(f64::total_cmp);
    let later = later[later.len() / 2];
    assert_eq!(m.counters().authorized, n as usize);

    // Live heap held for the peers: drop our inputs and compare with a
    // machine holding none.
    drop(peers);
    drop(reordered);
    let with_peers = live();
    drop(m);
    let without = {
        let before = live();
        let mut empty = machine(&k);
        drain(&mut empty);
        let after = live();
        drop(empty);
        after - before
    };
    let after_drop = live();
    let held = with_peers
        .saturating_sub(after_drop)
        .saturating_sub(without);

    let per = |b: usize| b as f64 / f64::from(n);
    println!("netmap of {n} peers (Direct signatures, one trusted key):");
    println!(
        "  first netmap (all verified):      {:10.1} ms",
        first.as_secs_f64() * 1e3
    );
    println!(
        "  same netmap, same order:          {:10.3} ms  ({:.3}% of first)",
        same_order.as_secs_f64() * 1e3,
        100.0 * same_order.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "  same netmap, other order:         {:10.3} ms  ({:.3}% of first)",
        second.as_secs_f64() * 1e3,
        100.0 * second.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "  other order, fresh sig buffers:   {:10.3} ms  ({:.3}% of first)",
        fresh_other.as_secs_f64() * 1e3,
        100.0 * fresh_other.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "  one peer changed (PeerUpserted):  {:10.3} ms",
        one.as_secs_f64() * 1e3
    );
    println!(
        "  20 more changed, median:          {:10.3} ms",
        later * 1e3
    );
    println!(
        "  heap held by the machine:         {:10.1} MiB = {:.0} bytes per peer",
        held as f64 / (1 << 20) as f64,
        per(held)
    );
    println!(
        "  inline sizes: Peer {} bytes, Verdict {} bytes, NodeKeySignature {} bytes",
        std::mem::size_of::<Peer>(),
        std::mem::size_of::<tka::machine::Verdict>(),
        std::mem::size_of::<NodeKeySignature>()
    );
    println!(
        "  peak heap during first netmap:    {:10.1} MiB = {:.0} bytes per peer (above the heap before it, which holds the input Vec<Peer>)",
        (first_peak - base) as f64 / (1 << 20) as f64,
        per(first_peak - base)
    );
}
