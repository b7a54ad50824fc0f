//! The canonical fast path for AUMs: one pass that accepts only an input
//! that already is the canonical (CTAP2) encoding of the AUM it decodes to,
//! so the AUM's hash is BLAKE2s of the input as received.
//!
//! Go and this crate both send canonical bytes, so this is the common case.
//! For it, the general decoder ([`crate::cbor`]) costs three walks (the
//! structural check, the typed reader, and counting the re-encoding for the
//! size cap) and hashing re-encodes the AUM; this path reads each byte once.
//!
//! The path accepts exactly what [`Aum`]'s encoder writes: shortest heads,
//! integer field keys in ascending order, optional fields present exactly
//! when the encoder writes them (so no empty key ID, metadata map or
//! signature list, no `null` for an omitted field, no zero state ID), byte
//! and text strings as themselves (no arrays of integers, no `undefined`),
//! `Meta` keys in CTAP2 order, and no trailing bytes. Anything else returns
//! `None`, and the caller decodes with the general path, which then gives
//! Go's verdict (accept, or the error). It charges the [`DecodeBudget`]
//! exactly what the general path charges for the same input, and gives up
//! where that would go over the budget or over the structural limits, so
//! the two paths never disagree about acceptance.
//!
//! The claim "accepted here ⇒ the general decoder gives the same AUM and
//! charges the same budget, and re-encoding it gives the input byte for
//! byte" is asserted by `tka::fuzzing::check_canonical_path`, which runs on
//! every AUM in the vectors (`tests/vectors/decode.rs` and `aum.rs`: taken
//! exactly for Go's inputs marked canonical), on random and mutated AUMs
//! (`tests/prop_codec.rs`) and on every input of the `aum_decode` fuzz
//! target.

use crate::aum::{Aum, AumKind, Signature};
use crate::cbor::{ARC_HEADER, META_ENTRY_COST};
use crate::hash::AumHash;
use crate::key::{Key, KeyKind, Meta};
use crate::limits::{DecodeBudget, CBOR_MAX_ARRAY_ELEMENTS, CBOR_MAX_MAP_PAIRS, MAX_AUM_BYTES};
use crate::state::State;
use std::sync::Arc;

/// The `null` simple value.
const NULL: u8 = 0xf6;
/// Major types.
const UINT: u8 = 0;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;

/// Decodes `input` as a canonical AUM, charging `budget`; `None` when the
/// input is not canonical, or when the general decoder might refuse it
/// (then `budget` is unchanged). When it returns an AUM, the AUM's hash is
/// BLAKE2s of `input`.
pub(crate) fn decode_aum(input: &[u8], budget: &mut DecodeBudget) -> Option<Aum> {
    // The general decoder refuses an AUM whose canonical encoding (here the
    // input itself) is over 1 MiB.
    if input.len() > MAX_AUM_BYTES {
        return None;
    }
    let mut c = Canon {
        input,
        pos: 0,
        budget: budget.clone(),
    };
    let aum = c.aum()?;
    if c.pos != input.len() {
        return None;
    }
    *budget = c.budget;
    Some(aum)
}

/// A reader that accepts only shortest-form heads.
struct Canon<'b> {
    input: &'b [u8],
    pos: usize,
    budget: DecodeBudget,
}

impl<'b> Canon<'b> {
    fn charge(&mut self, bytes: usize) -> Option<()> {
        self.budget.charge(bytes).ok()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Consumes `byte` if it is next (a one-byte head: a small field key,
    /// a small map header, `null`).
    fn take(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `byte`, which must be next.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.take(byte).then_some(())
    }

    /// The next head of major type `major`, with its argument in shortest
    /// form; `None` for another type or a longer form than needed.
    fn head(&mut self, major: u8) -> Option<u64> {
        let b = self.peek()?;
        if b >> 5 != major {
            return None;
        }
        let (len, min) = match b & 0x1f {
            n @ 0..=23 => {
                self.pos += 1;
                return Some(u64::from(n));
            }
            24 => (1, 24),
            25 => (2, 1 << 8),
            26 => (4, 1 << 16),
            27 => (8, 1 << 32),
            _ => return None,
        };
        let arg = self.input.get(self.pos + 1..self.pos + 1 + len)?;
        let v = arg.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if v < min {
            return None;
        }
        self.pos += 1 + len;
        Some(v)
    }

    fn uint(&mut self, max: u64) -> Option<u64> {
        self.head(UINT).filter(|v| *v <= max)
    }

    /// A definite-length string of major type `major`, borrowed.
    fn string(&mut self, major: u8) -> Option<&'b [u8]> {
        let n = usize::try_from(self.head(major)?).ok()?;
        let end = self.pos.checked_add(n)?;
        let s = self.input.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// A byte string, copied and charged as the general decoder does.
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let b = self.string(BYTES)?;
        self.charge(b.len())?;
        Some(b.to_vec())
    }

    /// `null` or a byte string.
    fn opt_bytes(&mut self) -> Option<Option<Vec<u8>>> {
        if self.take(NULL) {
            return Some(None);
        }
        self.bytes().map(Some)
    }

    fn text(&mut self) -> Option<&'b str> {
        std::str::from_utf8(self.string(TEXT)?).ok()
    }

    /// An array header of at most Go's element limit.
    fn array(&mut self) -> Option<u64> {
        self.head(ARRAY).filter(|n| *n <= CBOR_MAX_ARRAY_ELEMENTS)
    }

    /// An empty vector with room for `n` elements, charged as the general
    /// decoder charges it.
    fn vec<T>(&mut self, n: u64) -> Option<Vec<T>> {
        let n = n as usize; // <= 4096
        self.charge(n * std::mem::size_of::<T>())?;
        Some(Vec::with_capacity(n))
    }

    /// A non-empty `map[string]string` with keys in CTAP2 order (the
    /// encoder omits an empty one).
    fn meta(&mut self) -> Option<Meta> {
        let n = self
            .head(MAP)
            .filter(|n| (1..=CBOR_MAX_MAP_PAIRS).contains(n))?;
        self.charge(ARC_HEADER)?;
        let mut out = Meta::new();
        let mut prev: Option<&str> = None;
        for _ in 0..n {
            let k = self.text()?;
            let v = self.text()?;
            // Strictly ascending (shorter first, then bytewise), so no
            // duplicates either.
            if prev.is_some_and(|p| (p.len(), p.as_bytes()) >= (k.len(), k.as_bytes())) {
                return None;
            }
            prev = Some(k);
            self.charge(ARC_HEADER + v.len())?;
            self.charge(META_ENTRY_COST + k.len())?;
            out.insert(k.to_owned(), Arc::from(v));
        }
        Some(out)
    }

    fn key(&mut self) -> Option<Key> {
        let n = self.head(MAP).filter(|n| (3..=4).contains(n))?;
        let mut k = Key::default();
        self.expect(1)?;
        k.kind = KeyKind(self.uint(u8::MAX.into())? as u8);
        self.expect(2)?;
        k.votes = self.uint(u64::MAX)?;
        self.expect(3)?;
        k.public = self.opt_bytes()?;
        if n == 4 {
            self.expect(12)?;
            k.meta = Some(self.meta()?);
        }
        Some(k)
    }

    fn state(&mut self) -> Option<State> {
        let n = self.head(MAP).filter(|n| (3..=5).contains(n))?;
        let mut s = State::default();
        self.expect(1)?;
        if !self.take(NULL) {
            // The encoder writes the fixed 32 bytes; the general decoder
            // pads or truncates other lengths, which do not round-trip.
            let h: [u8; 32] = self.string(BYTES)?.try_into().ok()?;
            s.last_aum_hash = Some(AumHash(h));
        }
        self.expect(2)?;
        if !self.take(NULL) {
            let len = self.array()?;
            let mut v = self.vec::<Option<Vec<u8>>>(len)?;
            for _ in 0..len {
                v.push(self.opt_bytes()?);
            }
            s.disablement_values = Some(v);
        }
        self.expect(3)?;
        if !self.take(NULL) {
            let len = self.array()?;
            let mut v = self.vec::<Key>(len)?;
            for _ in 0..len {
                v.push(self.key()?);
            }
            s.keys = Some(v);
        }
        let mut left = n - 3;
        if left > 0 && self.take(4) {
            s.state_id1 = self.uint(u64::MAX).filter(|v| *v != 0)?;
            left -= 1;
        }
        if left > 0 && self.take(5) {
            s.state_id2 = self.uint(u64::MAX).filter(|v| *v != 0)?;
            left -= 1;
        }
        (left == 0).then_some(s)
    }

    fn signature(&mut self) -> Option<Signature> {
        // Always both fields, `null` when nil.
        self.expect(0xa2)?;
        self.expect(1)?;
        let key_id = self.opt_bytes()?;
        self.expect(2)?;
        let signature = self.opt_bytes()?;
        Some(Signature { key_id, signature })
    }

    fn aum(&mut self) -> Option<Aum> {
        // What `Aum::from_cbor_within` charges before decoding.
        self.charge(crate::aum::HELD)?;
        let n = self.head(MAP).filter(|n| (2..=8).contains(n))?;
        let mut a = Aum::default();
        self.expect(1)?;
        a.message_kind = AumKind(self.uint(u8::MAX.into())? as u8);
        self.expect(2)?;
        a.prev_aum_hash = self.opt_bytes()?;
        // The optional fields, in key order, each at most once.
        let mut left = n - 2;
        if left > 0 && self.take(3) {
            a.key = Some(self.key()?);
            left -= 1;
        }
        if left > 0 && self.take(4) {
            a.key_id = Some(self.bytes().filter(|b| !b.is_empty())?);
            left -= 1;
        }
        if left > 0 && self.take(5) {
            a.state = Some(self.state()?);
            left -= 1;
        }
        if left > 0 && self.take(6) {
            a.votes = Some(self.uint(u64::MAX)?);
            left -= 1;
        }
        if left > 0 && self.take(7) {
            a.meta = Some(self.meta()?);
            left -= 1;
        }
        if left > 0 && self.take(23) {
            let len = self.array().filter(|n| *n > 0)?;
            let mut v = self.vec::<Signature>(len)?;
            for _ in 0..len {
                v.push(self.signature()?);
            }
            a.signatures = Some(v);
            left -= 1;
        }
        (left == 0).then_some(a)
    }
}
