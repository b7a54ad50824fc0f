//! Measures the heap allocated while opening a 1,000-AUM chain from memory.
//! (A counting global allocator; `unsafe` is confined to this example — the
//! library forbids it.)
//!
//! Run with `cargo run --release --example alloc_open`.

#[path = "../benches/common/mod.rs"]
mod common;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use tka::builder::Signer;
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate};

struct Counting;
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(l.size(), Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let k = NlPrivate::from_seed(&[3; 32]);
    let g = common::genesis(&k);
    let mut parent = g.hash();
    let mut aums = Vec::new();
    for _ in 0..999 {
        let mut a = Aum {
            message_kind: AumKind::NO_OP,
            prev_aum_hash: Some(parent.0.to_vec()),
            ..Default::default()
        };
        a.signatures = Some(k.sign_aum(&a.sig_hash()));
        parent = a.hash();
        aums.push(a);
    }
    let mut s = MemStorage::new();
    let mut a = Authority::bootstrap(&mut s, g, 0).unwrap();
    a.inform(&mut s, &aums, 0).unwrap();

    let (b0, c0) = (
        ALLOCATED.load(Ordering::Relaxed),
        CALLS.load(Ordering::Relaxed),
    );
    let opened = Authority::open(&s).unwrap();
    let (b1, c1) = (
        ALLOCATED.load(Ordering::Relaxed),
        CALLS.load(Ordering::Relaxed),
    );
    assert_eq!(opened.head(), a.head());
    println!(
        "Open of a 1,000-AUM chain allocated {} bytes in {} allocations",
        b1 - b0,
        c1 - c0
    );
}
