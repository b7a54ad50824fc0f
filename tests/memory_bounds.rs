//! Peak memory while decoding hostile input: for every entry point that
//! takes untrusted bytes, the worst input we know how to build (at most
//! 1 MiB) must not make the crate allocate more than 4·n + 256 KiB
//! (`tka::limits::DecodeBudget::for_input`), where n is the input's length.
//! Inputs that would need more are refused by the decoders' budget, and
//! these tests check both the refusal and the peak on the way to it.
//!
//! A counting global allocator records the peak of live heap bytes. Tests
//! take one lock for their whole run, so no other test allocates while one
//! measures.
#![allow(unsafe_code)]

use bytes::Bytes;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use tka::builder::Signer;
use tka::control::ControlResponder;
use tka::limits::{DecodeBudget, MAX_AUM_BYTES};
use tka::machine::{Action, Config, Event, Persisted, Time, TkaMachine};
use tka::wire::{self, FromWire, Path, ToWire};
use tka::{
    Aum, AumKind, Authority, DecodeError, Key, MemStorage, NlPrivate, NodeKey, NodeKeySignature,
    State,
};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the new block before the old one is freed: a moving realloc
        // holds both for a moment.
        grew(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            LIVE.fetch_sub(new_size, Ordering::SeqCst);
        } else {
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn exclusive() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` and returns the most heap it held at once beyond what was live
/// before (its result, while alive, included).
fn peak_of<T>(f: impl FnOnce() -> T) -> usize {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    let peak = PEAK.load(Ordering::SeqCst) - base;
    drop(out);
    peak
}

const MIB: usize = 1 << 20;

/// Asserts `peak <= 4 * n + 256 KiB`, the crate's bound for `n` bytes.
fn within_bound(what: &str, n: usize, peak: usize) {
    let bound = tka::limits::DecodeBudget::for_input(n).limit();
    println!(
        "{what}: input {n} bytes, peak {peak} bytes ({:.2} per byte), bound {bound}",
        peak as f64 / n as f64
    );
    assert!(n <= MIB, "{what}: input {n} is over 1 MiB");
    assert!(
        peak <= bound,
        "{what}: decoding {n} bytes peaked at {peak} bytes (bound {bound})"
    );
}

// ---------------------------------------------------------------------------
// CBOR building
// ---------------------------------------------------------------------------

fn head(major: u8, n: usize) -> Vec<u8> {
    let m = major << 5;
    let n = n as u64;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        0x100..=0xffff => [&[m | 25][..], &(n as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[m | 26][..], &(n as u32).to_be_bytes()].concat(),
        _ => [&[m | 27][..], &n.to_be_bytes()].concat(),
    }
}

fn cbytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len()), b.to_vec()].concat()
}

fn ctext(s: &str) -> Vec<u8> {
    [head(3, s.len()), s.as_bytes().to_vec()].concat()
}

const NULL: u8 = 0xf6;

/// A metadata map of `entries` entries whose first value is `value_len`
/// bytes long and whose other values are `null` (repeating it).
fn meta_bomb(value_len: usize, entries: usize) -> Vec<u8> {
    let mut m = head(5, entries);
    for i in 0..entries {
        m.extend(ctext(&format!("k{i:04}")));
        if i == 0 {
            m.extend(ctext(&"x".repeat(value_len)));
        } else {
            m.push(NULL);
        }
    }
    m
}

/// An UpdateKey AUM carrying `meta`.
fn update_key_aum(meta: &[u8]) -> Vec<u8> {
    let mut a = head(5, 4);
    a.extend([0x01, 0x04, 0x02]);
    a.extend(cbytes(&[1; 32]));
    a.push(0x04);
    a.extend(cbytes(&[2; 32]));
    a.push(0x07);
    a.extend(meta);
    a
}

/// The largest metadata null bomb of 1024 entries that fits an AUM into
/// `budget` bytes.
fn aum_meta_bomb(budget: usize) -> Vec<u8> {
    aum_meta_bomb_of(budget, 1024)
}

/// The largest metadata null bomb of `entries` entries that fits an AUM
/// into `budget` bytes. Fewer entries keep hashing cheap where a test
/// hashes the AUM (the canonical encoding repeats the value per entry); the
/// decoded size does not depend on the count, since values are shared.
fn aum_meta_bomb_of(budget: usize, entries: usize) -> Vec<u8> {
    let overhead = update_key_aum(&meta_bomb(0, entries)).len();
    let value_len = budget - overhead - 8;
    let a = update_key_aum(&meta_bomb(value_len, entries));
    assert!(a.len() <= budget);
    a
}

// ---------------------------------------------------------------------------
// Single structures
// ---------------------------------------------------------------------------

fn too_large<T: std::fmt::Debug>(r: &Result<T, DecodeError>) -> bool {
    matches!(r, Err(DecodeError::EncodingTooLarge { .. }))
}

fn over_budget<T: std::fmt::Debug>(r: &Result<T, DecodeError>) -> bool {
    matches!(r, Err(DecodeError::OverBudget { .. }))
}

/// The longest metadata value that a bomb of `entries` entries can repeat
/// with the AUM's canonical encoding still within `MAX_AUM_BYTES` (with at
/// most 8 entries this is also within 8 bytes per input byte, the other
/// part of `tka::limits::max_encoding_len`).
fn value_len_at_cap(entries: usize) -> usize {
    let base = update_key_aum(&meta_bomb(0, entries)).len();
    // Each entry writes the value once, with a head of up to 5 bytes, and
    // a null is 1 byte in the input but key + value in the encoding.
    (MAX_AUM_BYTES - base - 5 * entries) / entries
}

#[test]
fn aum_metadata_null_bomb() {
    let _g = exclusive();
    // Every kind: UpdateKey (the original report), NoOp (hashing it used
    // to cost 53 s in a fuzz build), AddKey and unknown kinds all carry
    // the Meta field.
    for kind in [4u8, 3, 1, 0, 23] {
        let mut input = aum_meta_bomb(MIB);
        input[2] = kind;
        let mut r = None;
        let peak = peak_of(|| r = Some(Aum::from_cbor(&input)));
        let r = r.unwrap();
        assert!(too_large(&r), "kind {kind}: {r:?}");
        within_bound(
            &format!("AUM kind {kind} meta null bomb, refused"),
            input.len(),
            peak,
        );
    }
    // The largest bomb whose canonical encoding fits the cap decodes: 8
    // entries of 128 KiB; with 1024 entries, no value fits.
    let input = update_key_aum(&meta_bomb(value_len_at_cap(1024), 1024));
    assert!(too_large(&Aum::from_cbor(&input)));
    let entries = 8;
    let input = update_key_aum(&meta_bomb(value_len_at_cap(entries), entries));
    let mut a = None;
    let peak = peak_of(|| a = Some(Aum::from_cbor(&input).expect("within the cap")));
    within_bound("AUM meta null bomb at the cap", input.len(), peak);
    assert!(a.unwrap().to_cbor().len() <= MAX_AUM_BYTES);
}

#[test]
fn key_metadata_null_bomb() {
    let _g = exclusive();
    let mut input = head(5, 4);
    input.extend([0x01, 0x01, 0x02, 0x01, 0x03]);
    input.extend(cbytes(&[3; 32]));
    input.push(0x0c);
    let overhead = input.len() + meta_bomb(0, 1024).len() + 8;
    input.extend(meta_bomb(MIB - overhead, 1024));
    let mut r = None;
    let peak = peak_of(|| r = Some(Key::from_cbor(&input)));
    assert!(too_large(&r.unwrap()));
    within_bound("Key meta null bomb, refused", input.len(), peak);
}

/// A checkpoint whose state lists `keys` keys, each with its own small
/// metadata bomb, and every other array at its limit.
fn checkpoint(keys: usize, value_len: usize, nulls: usize) -> Vec<u8> {
    let mut state = head(5, 5);
    state.push(0x01);
    state.extend(cbytes(&[4; 32]));
    state.push(0x02);
    state.extend(head(4, 4096));
    state.extend(std::iter::repeat_n(0x40, 4096));
    state.push(0x03);
    state.extend(head(4, keys));
    for i in 0..keys {
        let mut k = head(5, 4);
        k.extend([0x01, 0x01, 0x02, 0x01, 0x03]);
        k.extend(cbytes(&(i as u32).to_be_bytes()));
        k.push(0x0c);
        k.extend(meta_bomb(value_len, nulls));
        state.extend(k);
    }
    state.extend([0x04, 0x01, 0x05, 0x02]);
    let mut a = head(5, 3);
    a.extend([0x01, 0x05, 0x05]);
    a.extend(state);
    a.extend([0x17]);
    a.extend(head(4, 4096));
    a.extend(std::iter::repeat_n(NULL, 4096));
    a
}

#[test]
fn checkpoint_state_with_many_keys() {
    let _g = exclusive();
    // Bombs in the keys' metadata: refused by the encoding cap.
    for (keys, value_len, nulls) in [(8, 120_000, 1000), (64, 14_000, 64)] {
        let input = checkpoint(keys, value_len, nulls);
        let mut r = None;
        let peak = peak_of(|| r = Some(Aum::from_cbor(&input)));
        assert!(too_large(&r.unwrap()));
        within_bound(
            &format!("checkpoint {keys} keys, {value_len}-byte values x {nulls}, refused"),
            input.len(),
            peak,
        );
    }
    // 4096 keys of a few bytes, 4096 disablement values, 4096 signatures:
    // slots of 72, 24 and 48 bytes for 3-4 input bytes each. Refused by the
    // budget before the slots are allocated.
    let input = checkpoint(4096, 0, 0);
    let mut r = None;
    let peak = peak_of(|| r = Some(Aum::from_cbor(&input)));
    assert!(over_budget(&r.unwrap()));
    within_bound("checkpoint 4096 small keys, refused", input.len(), peak);
    // 512 keys (the most a valid state has), each with 64 tiny metadata
    // entries, as many as the budget allows.
    let mut state = head(5, 3);
    state.extend([0x02, 0x81]);
    state.extend(cbytes(&[4; 32]));
    state.extend([0x03]);
    state.extend(head(4, 512));
    for i in 0..512u32 {
        state.extend(head(5, 4));
        state.extend([0x01, 0x01, 0x02, 0x01, 0x03]);
        state.extend(cbytes(&i.to_be_bytes()));
        state.push(0x0c);
        state.extend(head(5, 64));
        for j in 0..64u8 {
            state.extend(ctext(&format!("{j:02}")));
            state.push(0x60);
        }
    }
    state.extend([0x04, 0x01]);
    let mut input = head(5, 2);
    input.extend([0x01, 0x05, 0x05]);
    input.extend(state);
    let mut r = None;
    let peak = peak_of(|| r = Some(Aum::from_cbor(&input)));
    println!(
        "512 keys x 64 tiny entries: {:?}",
        r.as_ref().unwrap().as_ref().err()
    );
    within_bound(
        "checkpoint 512 keys x 64 tiny metadata entries",
        input.len(),
        peak,
    );
}

#[test]
fn go_limit_vectors_decode_within_the_bound() {
    let _g = exclusive();
    // The shapes of Go's own limit tests (public vectors
    // public_aum0_sigs_4096_elements and public_aum2_meta_1024_pairs),
    // which Go accepts and so must this crate: 4096 one-byte signatures,
    // and 1024 metadata entries of six bytes each.
    let mut sigs = head(5, 2);
    sigs.extend([0x01, 0x03, 0x17]);
    sigs.extend(head(4, 4096));
    sigs.extend(std::iter::repeat_n(0xa0, 4096));
    let peak = peak_of(|| Aum::from_cbor(&sigs).expect("Go accepts this AUM"));
    within_bound("AUM with 4096 empty-map signatures", sigs.len(), peak);
    let mut sigs = head(5, 2);
    sigs.extend([0x01, 0x03, 0x17]);
    sigs.extend(head(4, 4096));
    sigs.extend(std::iter::repeat_n(NULL, 4096));
    let peak = peak_of(|| Aum::from_cbor(&sigs).expect("Go accepts this AUM"));
    within_bound("AUM with 4096 null signatures", sigs.len(), peak);
    let mut meta = head(5, 1024);
    for i in 0..1024 {
        meta.extend(ctext(&format!("{i:04x}")));
        meta.push(0x60);
    }
    let input = update_key_aum(&meta);
    let peak = peak_of(|| Aum::from_cbor(&input).expect("Go accepts this AUM"));
    within_bound("AUM with 1024 six-byte metadata entries", input.len(), peak);
    // Tiny metadata entries (two-byte keys, empty values: four bytes each),
    // and a key full of them.
    let tiny_meta = {
        let mut m = head(5, 1000);
        for i in 0..1000 {
            m.extend(ctext(&format!("{i:03}")));
            m.push(0x60);
        }
        m
    };
    let mut key = head(5, 2);
    key.extend([0x03, 0x40, 0x0c]);
    key.extend(&tiny_meta);
    let peak = peak_of(|| Key::from_cbor(&key).expect("Go accepts this key"));
    within_bound("key with 1000 tiny metadata entries", key.len(), peak);
}

#[test]
fn unknown_keys_at_every_level() {
    let _g = exclusive();
    // 1024 unknown text keys in the AUM, its key and the key's nothing else.
    let unknown = |n: usize, known: &[u8]| {
        let mut m = head(5, n + usize::from(!known.is_empty()));
        m.extend(known);
        for i in 0..n {
            m.extend(ctext(&format!("u{i}")));
            m.push(NULL);
        }
        m
    };
    let key = unknown(1023, &[]);
    let input = unknown(1023, &[&[0x03][..], &key].concat());
    let peak = peak_of(|| Aum::from_cbor(&input).expect("Go accepts this AUM"));
    within_bound("AUM and key with 1023 unknown keys each", input.len(), peak);
}

#[test]
fn unknown_keys_in_nested_maps() {
    let _g = exclusive();
    // Rotation signatures nested 16 deep, each map holding 1022 unknown
    // integer keys: every level's keys are live while the inner levels
    // decode. Go accepts this.
    let unknown = |m: &mut Vec<u8>| {
        for k in 24..24 + 1022u32 {
            m.extend(head(0, k as usize));
            m.push(NULL);
        }
    };
    let mut sig = head(5, 1023);
    sig.extend([0x01, 0x01]);
    unknown(&mut sig);
    for _ in 0..15 {
        // The unknown keys first, so they are live while the inner
        // levels decode.
        let mut s = head(5, 1024);
        s.extend([0x01, 0x02]);
        unknown(&mut s);
        s.push(0x05);
        s.extend(sig);
        sig = s;
    }
    let peak = peak_of(|| NodeKeySignature::from_cbor(&sig).expect("Go accepts this"));
    within_bound("NKS 16 deep, 1022 unknown keys each", sig.len(), peak);
    // A checkpoint of 256 keys with 1020 unknown keys each.
    let mut state = head(5, 2);
    state.extend([0x03]);
    state.extend(head(4, 256));
    for i in 0..256u32 {
        let mut k = head(5, 1023);
        k.extend([0x03]);
        k.extend(cbytes(&i.to_be_bytes()));
        for u in 24..24 + 1022u32 {
            k.extend(head(0, u as usize));
            k.push(NULL);
        }
        state.extend(k);
    }
    state.extend([0x04, 0x01]);
    let mut input = head(5, 2);
    input.extend([0x01, 0x05, 0x05]);
    input.extend(state);
    let peak = peak_of(|| Aum::from_cbor(&input).expect("Go accepts this"));
    within_bound(
        "checkpoint of 256 keys, 1022 unknown keys each",
        input.len(),
        peak,
    );
}

#[test]
fn node_key_signature_nested_to_the_depth_limit() {
    let _g = exclusive();
    // Rotation signatures nested 15 deep, each with a large public key.
    let mut sig = {
        let mut s = head(5, 2);
        s.extend([0x01, 0x01, 0x02]);
        s.extend(cbytes(&[5; 60_000]));
        s
    };
    for _ in 0..14 {
        let mut s = head(5, 3);
        s.extend([0x01, 0x03, 0x02]);
        s.extend(cbytes(&[6; 60_000]));
        s.push(0x05);
        s.extend(sig);
        sig = s;
    }
    let peak = peak_of(|| NodeKeySignature::from_cbor(&sig).expect("Go accepts this"));
    within_bound("NKS nested 15 deep", sig.len(), peak);
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

fn fs_entry(aum: &[u8]) -> Vec<u8> {
    let mut f = head(5, 2);
    f.push(0x02);
    f.extend(aum);
    f.extend([0x03, 0x01]);
    f
}

#[test]
fn tailchonk_file_with_a_metadata_bomb() {
    let _g = exclusive();
    let input = fs_entry(&aum_meta_bomb(MIB - 16));
    let mut r = None;
    let peak = peak_of(|| r = Some(tka::tailchonk::FsEntry::from_cbor(&input)));
    assert!(too_large(&r.unwrap()));
    within_bound("tailchonk file, meta bomb refused", input.len(), peak);
    // A checkpoint at every array limit inside a file.
    let input = fs_entry(&checkpoint(4096, 0, 0));
    let mut r = None;
    let peak = peak_of(|| r = Some(tka::tailchonk::FsEntry::from_cbor(&input)));
    assert!(over_budget(&r.unwrap()));
    within_bound("tailchonk file, 4096 small keys refused", input.len(), peak);
}

#[test]
fn tailchonk_directory_with_a_metadata_bomb() {
    let _g = exclusive();
    let dir = std::env::temp_dir().join(format!("tka-memory-bounds-{}", std::process::id()));
    // The largest file that loads: one metadata value of almost 1 MiB (the
    // loader hashes the AUM, which reads the canonical encoding once).
    let input = fs_entry(&aum_meta_bomb_of(MIB - 16, 1));
    let _ = std::fs::remove_dir_all(&dir);
    let aum = tka::tailchonk::FsEntry::from_cbor(&input)
        .unwrap()
        .aum
        .unwrap();
    let name = aum.hash().to_string();
    std::fs::create_dir_all(dir.join(&name[..2])).unwrap();
    std::fs::write(dir.join(&name[..2]).join(&name), &input).unwrap();
    drop(aum);
    let peak = peak_of(|| tka::tailchonk::load_dir(&dir).expect("loads"));
    within_bound("tailchonk directory, 1 MiB file", input.len(), peak);
    // A bomb of 16 entries: refused, the file named, before any hashing.
    let input = fs_entry(&aum_meta_bomb_of(MIB - 16, 16));
    std::fs::write(dir.join(&name[..2]).join(&name), &input).unwrap();
    let mut r = None;
    let peak = peak_of(|| r = Some(tka::tailchonk::load_dir(&dir)));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        matches!(
            r.unwrap(),
            Err(tka::tailchonk::TailchonkError::Decode(
                _,
                DecodeError::EncodingTooLarge { .. }
            ))
        ),
        "the bomb is refused"
    );
    within_bound("tailchonk directory, bomb refused", input.len(), peak);
}

// ---------------------------------------------------------------------------
// Wire bodies, the control responder and the node's machine
// ---------------------------------------------------------------------------

/// Standard base64 with padding.
fn b64(b: &[u8]) -> String {
    data_encoding::BASE64.encode(b)
}

/// As many metadata-bomb AUMs of about `each` bytes as fit a JSON list
/// within `budget` bytes of base64.
fn bomb_list(budget: usize, each: usize) -> Vec<String> {
    let one = b64(&aum_meta_bomb_of(each, 1024));
    let count = budget / (one.len() + 3);
    (0..count)
        .map(|i| {
            // Distinct AUMs: vary the parent hash.
            let mut a = aum_meta_bomb_of(each, 1024);
            a[6] = i as u8;
            a[7] = (i >> 8) as u8;
            b64(&a)
        })
        .collect()
}

const HEAD: &str = "LK2QW5BNFSHQNRC5AVK7VN3OHVTHQE7BLSFN5TRIRAJZVR5OQLFQ";

#[test]
fn sync_offer_response_with_many_bombs() {
    let _g = exclusive();
    let list = bomb_list(MIB - 4096, 64 * 1024);
    let body = format!(
        r#"{{"Head":"{HEAD}","Ancestors":[],"MissingAUMs":["{}"]}}"#,
        list.join(r#"",""#)
    );
    let decode_all = |body: &[u8]| {
        let mut budget = DecodeBudget::for_input(body.len());
        let r = wire::parse_response_within::<wire::SyncOfferRequest>(body, &mut budget).unwrap();
        let aums: Result<Vec<Aum>, DecodeError> = r
            .missing_aums
            .iter()
            .flatten()
            .map(|b| Aum::from_cbor_within(b, &mut budget))
            .collect();
        (r, aums)
    };
    let mut out = None;
    let peak = peak_of(|| out = Some(decode_all(body.as_bytes())));
    assert!(too_large(&out.take().unwrap().1));
    within_bound("sync/offer response of bombs, refused", body.len(), peak);
    // Bombs just within the encoding cap: each decodes, and a list of
    // them too.
    let one = update_key_aum(&meta_bomb(value_len_at_cap(8), 8));
    assert!(Aum::from_cbor(&one).is_ok());
    let count = (MIB - 4096) / (b64(&one).len() + 3);
    let list = vec![b64(&one); count];
    let body = format!(
        r#"{{"Head":"{HEAD}","Ancestors":[],"MissingAUMs":["{}"]}}"#,
        list.join(r#"",""#)
    );
    drop(list);
    let peak = peak_of(|| out = Some(decode_all(body.as_bytes())));
    assert_eq!(out.unwrap().1.unwrap().len(), count);
    within_bound("sync/offer response of bombs at the cap", body.len(), peak);
}

fn genesis(admin: &NlPrivate) -> Aum {
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![7; 32])]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 1,
            state_id2: 2,
        }),
        ..Default::default()
    };
    g.signatures = Some(admin.sign_aum(&g.sig_hash()));
    g
}

fn responder() -> ControlResponder<MemStorage> {
    let admin = NlPrivate::from_seed(&[42; 32]);
    let g = genesis(&admin);
    let mut store = MemStorage::new();
    Authority::bootstrap(&mut store, g.clone(), 0).unwrap();
    ControlResponder::enabled(store, g).unwrap()
}

#[test]
fn control_responder_sync_send_with_many_bombs() {
    let _g = exclusive();
    let mut control = responder();
    let head = control.authority().unwrap().head().to_string();
    let list = bomb_list(MIB - 4096, 64 * 1024);
    let body = format!(
        r#"{{"Version":1,"NodeKey":"nodekey:{}","Head":"{head}","MissingAUMs":["{}"]}}"#,
        "00".repeat(32),
        list.join(r#"",""#)
    );
    let peak = peak_of(|| {
        let r = control.handle(Path::SyncSend, body.as_bytes(), tka::Time(0));
        assert!(r.is_err(), "unsigned AUMs are refused");
        r
    });
    within_bound(
        "ControlResponder::handle sync/send of bombs",
        body.len(),
        peak,
    );
}

/// A bootstrapped node whose sync offer control has just answered honestly
/// (after control's head moved): the node, the request's ID, the honest
/// answer and the time.
fn machine_awaiting_offer_response() -> (
    TkaMachine,
    tka::machine::RequestId,
    wire::SyncOfferResponse,
    Time,
) {
    let mut control = responder();
    let mut now = Time::from_unix_secs(1_800_000_000);
    let mut node = TkaMachine::new(
        Config::new(NodeKey([9; 32]), tka::machine::Mode::Enforce),
        Persisted::default(),
        now,
    );
    let state = |c: &ControlResponder<MemStorage>| {
        let info = c.tka_info().unwrap();
        Event::ControlState {
            enabled: info.enabled(),
            head: info.head_hash().unwrap(),
        }
    };
    // Bootstrap the node and let it settle.
    node.handle_event(now, state(&control));
    while let Some(a) = node.poll_action() {
        if let Action::SendRequest { id, path, body } = a {
            let resp = control.handle(path, &body, tka::Time(0)).unwrap();
            now = now.plus_ms(10);
            node.handle_event(
                now,
                Event::Response {
                    id,
                    body: Bytes::from(resp),
                },
            );
        }
    }
    assert!(node.authority().is_some(), "bootstrapped");
    // Control's head moves; the node offers.
    let admin = NlPrivate::from_seed(&[42; 32]);
    {
        let (storage, authority) = control.parts_mut();
        let a = authority.unwrap();
        let mut b = a.builder(Some(&admin));
        b.add_key(NlPrivate::from_seed(&[60; 32]).to_key(1))
            .unwrap();
        let updates = b.finalize(storage).unwrap();
        a.inform(storage, &updates, 0).unwrap();
    }
    now = now.plus_ms(1000);
    node.handle_event(now, state(&control));
    let (id, path, req) = loop {
        match node.poll_action() {
            Some(Action::SendRequest { id, path, body }) => break (id, path, body),
            Some(_) => continue,
            None => panic!("expected a sync offer"),
        }
    };
    assert_eq!(path, Path::SyncOffer);
    let honest = control.handle(path, &req, tka::Time(0)).unwrap();
    let resp = wire::SyncOfferResponse::from_json(&honest).unwrap();
    (node, id, resp, now.plus_ms(10))
}

/// Peak while `node` handles `body` as the answer to `id`.
fn machine_peak(
    mut node: TkaMachine,
    id: tka::machine::RequestId,
    body: Bytes,
    now: Time,
) -> usize {
    peak_of(|| {
        node.handle_event(now, Event::Response { id, body });
        let actions: Vec<Action> = std::iter::from_fn(|| node.poll_action()).collect();
        actions
    })
}

#[test]
fn machine_sync_offer_response_with_many_bombs() {
    let _g = exclusive();
    let (node, id, mut resp, now) = machine_awaiting_offer_response();
    let list = bomb_list(MIB - 8192, 64 * 1024);
    resp.missing_aums = Some(
        list.iter()
            .map(|s| data_encoding::BASE64.decode(s.as_bytes()).unwrap())
            .collect(),
    );
    let body = Bytes::from(resp.to_json());
    drop(resp);
    drop(list);
    let n = body.len();
    within_bound(
        "TkaMachine sync/offer response",
        n,
        machine_peak(node, id, body, now),
    );
}

// ---------------------------------------------------------------------------
// Bodies of many tiny elements
// ---------------------------------------------------------------------------

/// Small AUMs that pass every check before signatures are verified: no
/// parent, one well-formed (wrong) signature; 110 bytes.
fn small_signed(i: usize) -> Vec<u8> {
    let mut a = head(5, 2);
    a.push(0x02);
    a.extend(cbytes(&[(i >> 8) as u8, i as u8]));
    a.extend([0x17, 0x81, 0xa2, 0x01]);
    a.extend(cbytes(&[8; 32]));
    a.push(0x02);
    a.extend(cbytes(&[9; 64]));
    a
}

/// A statically valid checkpoint AUM (one signature) whose 512 keys have
/// one-byte public keys: 9 input bytes per 72-byte key slot.
fn tiny_key_checkpoint(i: usize) -> Vec<u8> {
    let mut state = head(5, 4);
    state.extend([0x02, 0x81]);
    state.extend(cbytes(&[4; 32]));
    state.extend([0x03]);
    state.extend(head(4, 512));
    for k in 0..512u16 {
        state.extend(head(5, 3));
        state.extend([0x01, 0x01, 0x02, 0x01, 0x03]);
        state.extend(cbytes(&k.to_be_bytes()));
    }
    state.extend([0x04, 0x01, 0x05]);
    state.extend(head(0, i + 1));
    let mut a = head(5, 3);
    a.extend([0x01, 0x05, 0x05]);
    a.extend(state);
    a.extend([0x17, 0x81, 0xa2, 0x01]);
    a.extend(cbytes(&[8; 32]));
    a.push(0x02);
    a.extend(cbytes(&[9; 64]));
    a
}

/// As many AUMs made by `make` as fit a JSON list of about 1 MiB.
fn aum_list(make: impl Fn(usize) -> Vec<u8>) -> Vec<Vec<u8>> {
    let each = b64(&make(0)).len() + 3;
    (0..(MIB - 4096) / each).map(make).collect()
}

fn sync_send_body(head: &str, aums: &[Vec<u8>]) -> String {
    let list: Vec<String> = aums.iter().map(|a| format!("\"{}\"", b64(a))).collect();
    format!(
        r#"{{"Version":1,"NodeKey":"nodekey:{}","Head":"{head}","MissingAUMs":[{}]}}"#,
        "00".repeat(32),
        list.join(",")
    )
}

#[test]
fn sync_bodies_of_tiny_elements() {
    let _g = exclusive();

    // Node side, parse only: empty and null AUMs.
    for item in [r#""""#, "null"] {
        let items = (MIB - 100) / (item.len() + 1);
        let list = vec![item; items].join(",");
        let body = format!(r#"{{"Head":"{HEAD}","Ancestors":[],"MissingAUMs":[{list}]}}"#);
        let mut r = None;
        let peak = peak_of(|| {
            r = Some(wire::parse_response::<wire::SyncOfferRequest>(
                body.as_bytes(),
            ))
        });
        assert!(matches!(
            r.unwrap(),
            Err(wire::WireError::OverBudget { .. })
        ));
        within_bound(
            &format!("sync/offer response of {item} AUMs"),
            body.len(),
            peak,
        );
    }

    // Control side: ControlResponder::handle.
    let mut control = responder();
    let control_head = control.authority().unwrap().head().to_string();
    let cases: [(&str, Vec<Vec<u8>>); 3] = [
        ("empty-map", vec![vec![0xa0]; (MIB - 200) / 7]),
        ("small signed", aum_list(small_signed)),
        ("512-tiny-key checkpoint", aum_list(tiny_key_checkpoint)),
    ];
    for (what, aums) in &cases {
        let body = sync_send_body(&control_head, aums);
        let peak = peak_of(|| {
            let r = control.handle(Path::SyncSend, body.as_bytes(), tka::Time(0));
            assert!(r.is_err(), "{what}: refused");
            r
        });
        within_bound(&format!("sync/send of {what} AUMs"), body.len(), peak);
    }

    // Node side: the machine handling control's sync/offer response.
    for (what, aums) in cases {
        let (node, id, mut resp, now) = machine_awaiting_offer_response();
        resp.missing_aums = Some(aums);
        let body = Bytes::from(resp.to_json());
        drop(resp);
        let n = body.len();
        within_bound(
            &format!("TkaMachine sync/offer response of {what} AUMs"),
            n,
            machine_peak(node, id, body, now),
        );
    }
}

/// Every other wire parser on its worst body: bodies of a few long values,
/// and lists and maps of tiny elements.
#[test]
fn wire_bodies_of_every_message() {
    let _g = exclusive();
    // One long byte field, base64 with a line break after every character
    // (Go skips them; decoding copies the text without them first).
    let long: String = b64(&vec![7u8; 260_000])
        .chars()
        .flat_map(|c| [c, '\\', 'n'])
        .collect();
    let body = format!(r#"{{"GenesisAUM":"{long}","DisablementSecret":"AAAA"}}"#);
    let peak = peak_of(|| wire::parse_response::<wire::BootstrapRequest>(body.as_bytes()).unwrap());
    within_bound("bootstrap response, one long field", body.len(), peak);

    let body = format!(
        r#"{{"ID":1,"Key":"nodekey:{}","KeySignature":"{long}"}}"#,
        "00".repeat(32)
    );
    let peak = peak_of(|| wire::NodeTka::from_json(body.as_bytes()).unwrap());
    within_bound("netmap node, one long signature", body.len(), peak);

    // As many ancestors as fit, in a response (node side) and a request
    // (control side).
    let count = (MIB - 200) / (HEAD.len() + 3);
    let list = vec![format!(r#""{HEAD}""#); count].join(",");
    let body = format!(r#"{{"Head":"{HEAD}","Ancestors":[{list}]}}"#);
    let peak = peak_of(|| wire::parse_response::<wire::SyncOfferRequest>(body.as_bytes()).unwrap());
    within_bound("sync/offer response, ancestors", body.len(), peak);
    let body = format!(r#"{{"Version":1,"Head":"{HEAD}","Ancestors":[{list}]}}"#);
    let peak = peak_of(|| wire::SyncOfferRequest::from_json(body.as_bytes()).unwrap());
    within_bound("sync/offer request, ancestors", body.len(), peak);
    // Null ancestors are refused at the first.
    let list = vec!["null"; (MIB - 200) / 5].join(",");
    let body = format!(r#"{{"Head":"{HEAD}","Ancestors":[{list}]}}"#);
    let peak = peak_of(|| wire::SyncOfferRequest::from_json(body.as_bytes()).unwrap_err());
    within_bound("sync/offer request, null ancestors", body.len(), peak);

    // Unknown fields: deep nesting and a long escaped string are skipped.
    let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
    let escaped = r"\u0041".repeat((MIB - 2000) / 6);
    let body = format!(r#"{{"Peers":{deep},"Junk":"{escaped}","TKAInfo":{{"Head":"{HEAD}"}}}}"#);
    let peak = peak_of(|| wire::MapResponseTka::from_json(body.as_bytes()).unwrap());
    within_bound("map response with unknown fields", body.len(), peak);

    // A map of tiny entries (control side), and the same map repeated.
    let mut entries = String::new();
    for i in 0.. {
        let e = format!(r#""{i}":"","#);
        if entries.len() + e.len() > MIB / 2 - 200 {
            break;
        }
        entries.push_str(&e);
    }
    entries.pop();
    for copies in [1, 2] {
        let field = format!(r#""Signatures":{{{entries}}}"#);
        let fields = vec![field; copies].join(",");
        let body = format!(
            r#"{{"Version":1,"NodeKey":"nodekey:{}",{fields}}}"#,
            "00".repeat(32),
        );
        let mut r = None;
        let peak = peak_of(|| r = Some(wire::InitFinishRequest::from_json(body.as_bytes())));
        // Alone, the entries are over the budget; repeated, the second copy
        // replaces the first's values, adding no entries, and the body's
        // budget is twice as large.
        let r = r.unwrap();
        println!(
            "x{copies}: {:?}",
            r.as_ref().map(|m| m.signatures.as_ref().map(|s| s.len()))
        );
        if copies == 1 {
            assert!(matches!(r, Err(wire::WireError::OverBudget { .. })));
        }
        within_bound(
            &format!("init/finish request, map of tiny entries x{copies}"),
            body.len(),
            peak,
        );
    }

    // One node ID repeated: Go keeps the last value, and so does the
    // parser, charging the entry once.
    let entries = vec![r#""7":"AAAA""#; (MIB - 200) / 11].join(",");
    let body = format!(r#"{{"Signatures":{{{entries}}}}}"#);
    let mut r = None;
    let peak = peak_of(|| r = Some(wire::InitFinishRequest::from_json(body.as_bytes())));
    let sigs = r.unwrap().unwrap().signatures.unwrap();
    assert_eq!(sigs.len(), 1);
    within_bound(
        "init/finish request, one node ID repeated",
        body.len(),
        peak,
    );

    // Lists of tiny elements (node side).
    for item in ["{}", "null"] {
        let list = vec![item; (MIB - 100) / (item.len() + 1)].join(",");
        let body = format!(r#"{{"NeedSignatures":[{list}]}}"#);
        let mut r = None;
        let peak = peak_of(|| r = Some(wire::InitBeginResponse::from_json(body.as_bytes())));
        assert!(matches!(
            r.unwrap(),
            Err(wire::WireError::OverBudget { .. })
        ));
        within_bound(
            &format!("init/begin response, list of {item}"),
            body.len(),
            peak,
        );
    }
    for item in [r#""""#, "null"] {
        let list = vec![item; (MIB - 100) / (item.len() + 1)].join(",");
        let body = format!(r#"{{"Signatures":[{list}]}}"#);
        let mut r = None;
        let peak =
            peak_of(|| r = Some(wire::SignaturesUsingKeyResponse::from_json(body.as_bytes())));
        assert!(matches!(
            r.unwrap(),
            Err(wire::WireError::OverBudget { .. })
        ));
        within_bound(
            &format!("signatures-using-key response, list of {item}"),
            body.len(),
            peak,
        );
    }
}

/// A metadata bomb that carries a signature is refused while it is
/// decoded, before anything hashes it (hashing would read the value once
/// per entry: 1 GiB here).
#[test]
fn signed_metadata_bombs_are_refused_before_hashing() {
    let _g = exclusive();
    for kind in [4u8, 3] {
        let mut bomb = aum_meta_bomb(MIB - 200);
        bomb[2] = kind;
        // Add a well-formed (but wrong) signature: {23: [{1: kid, 2: sig}]}.
        bomb[0] += 1;
        bomb.extend([0x17, 0x81, 0xa2, 0x01]);
        bomb.extend(cbytes(&[8; 32]));
        bomb.push(0x02);
        bomb.extend(cbytes(&[9; 64]));
        let mut control = responder();
        let control_head = control.authority().unwrap().head().to_string();
        let body = sync_send_body(&control_head, &[bomb]);
        let err = control
            .handle(Path::SyncSend, body.as_bytes(), tka::Time(0))
            .unwrap_err();
        assert!(
            matches!(
                err,
                tka::control::ControlError::BadAum(0, DecodeError::EncodingTooLarge { .. })
            ),
            "{err}"
        );
    }
}
