//! The CBOR layer: Go's exact decoding acceptance and CTAP2 canonical encoding.
//!
//! Go decodes TKA structures with `fxamacker/cbor` under strict options (no
//! tags, no indefinite lengths, no duplicate map keys, depth 16, at most 4096
//! array items and 1024 map pairs) but is otherwise lenient (non-minimal
//! heads, any key order, unknown keys, `null`/`undefined` as the zero value,
//! arrays of small integers as byte strings). Decoding here happens in two
//! passes over the input:
//!
//! 1. [`check_well_formed`] walks the whole item once, enforcing every
//!    structural limit *before* anything is allocated, and rejects trailing
//!    bytes. It recurses at most [`MAX_DEPTH`](crate::limits::CBOR_MAX_DEPTH)
//!    levels.
//! 2. Type-directed readers (`Reader`) then decode into the TKA structs,
//!    relying on the first pass for structure and applying Go's type rules.
//!    Every allocation they make is charged first to a
//!    [`DecodeBudget`] (`4 * n + 256 KiB` for an `n`-byte input, or a budget
//!    shared with the message the input came in); one over it refuses the
//!    input with [`DecodeError::OverBudget`] before allocating.
//!
//! The AUM and key decoders also refuse a structure whose canonical
//! encoding (which hashes cover, and which writes a `null`-repeated `Meta`
//! value once per entry) would exceed
//! [`max_encoding_len`](crate::limits::max_encoding_len) of the input
//! (8 bytes per input byte + 1 KiB, at most 1 MiB), counted without
//! writing it. Both refusals go beyond Go's decoder; see SPEC.md §5.3.
//!
//! AUMs first try a one-pass reader that accepts only their exact canonical
//! encoding (the common case: Go and this crate write canonical bytes), so
//! the hash can be taken of the input as received; any other input comes
//! here. See [`Aum::from_cbor_hashed`](crate::Aum::from_cbor_hashed).
//!
//! Encoding uses `minicbor`'s encoder, which always writes the shortest
//! heads; the callers write map keys in canonical order.

use crate::key::Meta;
use crate::limits::{
    DecodeBudget, CBOR_MAX_ARRAY_ELEMENTS, CBOR_MAX_DEPTH, CBOR_MAX_MAP_PAIRS, MAX_AUM_BYTES,
};
use minicbor::data::Type;
use minicbor::Decoder;
use std::fmt;
use std::sync::Arc;

/// Why bytes were refused as a TKA structure.
///
/// The variants follow the reasons Go's decoder gives; the texts differ.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input was empty.
    Empty,
    /// The input ended inside an item.
    UnexpectedEof,
    /// A tag (major type 6) appeared; Go forbids them.
    TagForbidden,
    /// An indefinite-length string, array or map appeared; Go forbids them.
    IndefiniteLength,
    /// Containers nested deeper than 16 levels.
    DepthExceeded,
    /// An array declared more than 4096 elements.
    TooManyArrayElements(u64),
    /// A map declared more than 1024 pairs.
    TooManyMapPairs(u64),
    /// A text string was not valid UTF-8.
    InvalidUtf8,
    /// Bytes followed the item.
    TrailingBytes {
        /// Offset of the first extra byte.
        index: usize,
        /// How many extra bytes there were.
        count: usize,
    },
    /// The same key appeared twice in one map.
    DuplicateKey(String),
    /// A value had a CBOR type the target field cannot hold.
    TypeMismatch {
        /// The Go field or type being decoded.
        target: &'static str,
        /// The CBOR type found.
        found: &'static str,
    },
    /// An integer did not fit its target field.
    Overflow {
        /// The Go field or type being decoded.
        target: &'static str,
        /// The value found.
        value: u64,
    },
    /// A map key of a type that cannot name a struct field.
    InvalidMapKey(&'static str),
    /// Bytes that are not well-formed CBOR (reserved additional information,
    /// a stray break, a malformed simple value).
    Malformed(&'static str),
    /// Decoding would allocate more than the input's budget
    /// ([`DecodeBudget`]: `4 * n + 256 KiB` for an `n`-byte input). Only
    /// inputs of many tiny elements (thousands of `null` signatures, keys or
    /// metadata entries of a few bytes each) get here; Go accepts them (not
    /// a Go check: see SPEC.md).
    OverBudget {
        /// The budget, in bytes.
        limit: usize,
    },
    /// The structure's canonical encoding, which its hash covers, would be
    /// longer than [`max_encoding_len`](crate::limits::max_encoding_len) of
    /// the input (8 bytes per input byte + 1 KiB, at most
    /// [`MAX_AUM_BYTES`]): metadata values repeated with `null` are written
    /// out once per entry (not a Go check: see SPEC.md).
    EncodingTooLarge {
        /// Length of the canonical encoding, in bytes.
        len: usize,
        /// The longest accepted for this input.
        limit: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("cbor: empty input"),
            DecodeError::UnexpectedEof => f.write_str("cbor: unexpected end of input"),
            DecodeError::TagForbidden => f.write_str("cbor: tags are not allowed"),
            DecodeError::IndefiniteLength => {
                f.write_str("cbor: indefinite-length items are not allowed")
            }
            DecodeError::DepthExceeded => write!(f, "cbor: nesting deeper than {CBOR_MAX_DEPTH}"),
            DecodeError::TooManyArrayElements(n) => write!(
                f,
                "cbor: array of {n} elements exceeds {CBOR_MAX_ARRAY_ELEMENTS}"
            ),
            DecodeError::TooManyMapPairs(n) => {
                write!(f, "cbor: map of {n} pairs exceeds {CBOR_MAX_MAP_PAIRS}")
            }
            DecodeError::InvalidUtf8 => f.write_str("cbor: invalid UTF-8 in text string"),
            DecodeError::TrailingBytes { index, count } => {
                write!(f, "cbor: {count} bytes of extra data at offset {index}")
            }
            DecodeError::DuplicateKey(k) => write!(f, "cbor: duplicate map key {k}"),
            DecodeError::TypeMismatch { target, found } => {
                write!(f, "cbor: cannot decode {found} into {target}")
            }
            DecodeError::Overflow { target, value } => {
                write!(f, "cbor: {value} overflows {target}")
            }
            DecodeError::InvalidMapKey(t) => {
                write!(f, "cbor: a {t} cannot be a struct map key")
            }
            DecodeError::Malformed(why) => write!(f, "cbor: malformed: {why}"),
            DecodeError::OverBudget { limit } => write!(
                f,
                "cbor: decoding would allocate more than {limit} bytes (4 bytes per input byte + 256 KiB)"
            ),
            DecodeError::EncodingTooLarge { len, limit } => write!(
                f,
                "cbor: canonical encoding of {len} bytes exceeds {limit} (8 per input byte + 1 KiB, at most {MAX_AUM_BYTES})"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

fn from_minicbor(e: minicbor::decode::Error) -> DecodeError {
    if e.is_end_of_input() {
        DecodeError::UnexpectedEof
    } else {
        DecodeError::Malformed("invalid item head")
    }
}

/// Checks that `input` starts with one well-formed item within Go's limits
/// and returns its length; bytes after it are not examined (Go's streaming
/// decoder, used for on-disk files, ignores them).
pub fn check_well_formed_prefix(input: &[u8]) -> Result<usize, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut d = Decoder::new(input);
    wf_item(&mut d, 0)?;
    Ok(d.position())
}

/// Checks that `input` holds exactly one well-formed item within Go's limits.
///
/// Nothing is allocated; recursion is bounded by the depth limit.
pub fn check_well_formed(input: &[u8]) -> Result<(), DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut d = Decoder::new(input);
    wf_item(&mut d, 0)?;
    let pos = d.position();
    if pos != input.len() {
        return Err(DecodeError::TrailingBytes {
            index: pos,
            count: input.len() - pos,
        });
    }
    Ok(())
}

/// Advances over one item at container depth `depth` (0 for the top level).
fn wf_item(d: &mut Decoder<'_>, depth: usize) -> Result<(), DecodeError> {
    let ty = d.datatype().map_err(from_minicbor)?;
    match ty {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
            d.u64().map_err(from_minicbor)?;
        }
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
            d.int().map_err(from_minicbor)?;
        }
        Type::Bytes => {
            d.bytes().map_err(from_minicbor)?;
        }
        Type::String => {
            // Structure only: like Go's well-formedness check, this does not
            // look inside text. UTF-8 is checked where text is decoded into a
            // string (a struct map key, a `Meta` key or value); text inside a
            // skipped (unknown) field is never checked, as in Go.
            text_bytes(d)?;
        }
        Type::Array => {
            let n = d.array().map_err(from_minicbor)?.unwrap_or(0);
            if n > CBOR_MAX_ARRAY_ELEMENTS {
                return Err(DecodeError::TooManyArrayElements(n));
            }
            if depth + 1 > CBOR_MAX_DEPTH {
                return Err(DecodeError::DepthExceeded);
            }
            for _ in 0..n {
                wf_item(d, depth + 1)?;
            }
        }
        Type::Map => {
            let n = d.map().map_err(from_minicbor)?.unwrap_or(0);
            if n > CBOR_MAX_MAP_PAIRS {
                return Err(DecodeError::TooManyMapPairs(n));
            }
            if depth + 1 > CBOR_MAX_DEPTH {
                return Err(DecodeError::DepthExceeded);
            }
            for _ in 0..n {
                wf_item(d, depth + 1)?;
                wf_item(d, depth + 1)?;
            }
        }
        Type::BytesIndef | Type::StringIndef | Type::ArrayIndef | Type::MapIndef => {
            return Err(DecodeError::IndefiniteLength)
        }
        Type::Tag => return Err(DecodeError::TagForbidden),
        Type::Simple => {
            let head = d.input()[d.position()];
            let v = d.simple().map_err(from_minicbor)?;
            if head == 0xf8 && v < 32 {
                return Err(DecodeError::Malformed("two-byte simple value below 32"));
            }
        }
        Type::Bool | Type::Null | Type::Undefined => skip_bytes(d, 1)?,
        Type::F16 => skip_bytes(d, 3)?,
        Type::F32 => skip_bytes(d, 5)?,
        Type::F64 => skip_bytes(d, 9)?,
        Type::Break => return Err(DecodeError::Malformed("unexpected break")),
        Type::Unknown(_) => return Err(DecodeError::Malformed("reserved additional information")),
    }
    Ok(())
}

/// Consumes a definite-length text string and returns its bytes, which may
/// not be valid UTF-8.
fn text_bytes<'b>(d: &mut Decoder<'b>) -> Result<&'b [u8], DecodeError> {
    let input: &'b [u8] = d.input();
    let p = d.position();
    let head = *input.get(p).ok_or(DecodeError::UnexpectedEof)?;
    let (extra, short) = match head & 0x1f {
        n @ 0..=23 => (0, u64::from(n)),
        24 => (1, 0),
        25 => (2, 0),
        26 => (4, 0),
        27 => (8, 0),
        31 => return Err(DecodeError::IndefiniteLength),
        _ => return Err(DecodeError::Malformed("reserved additional information")),
    };
    let arg = input
        .get(p + 1..p + 1 + extra)
        .ok_or(DecodeError::UnexpectedEof)?;
    let len = arg.iter().fold(short, |acc, &b| (acc << 8) | u64::from(b));
    let start = p + 1 + extra;
    let avail = (input.len() - start) as u64;
    if len > avail {
        return Err(DecodeError::UnexpectedEof);
    }
    let end = start + len as usize;
    d.set_position(end);
    Ok(&input[start..end])
}

/// Consumes a definite-length text string that must be valid UTF-8.
fn text<'b>(d: &mut Decoder<'b>) -> Result<&'b str, DecodeError> {
    std::str::from_utf8(text_bytes(d)?).map_err(|_| DecodeError::InvalidUtf8)
}

fn skip_bytes(d: &mut Decoder<'_>, n: usize) -> Result<(), DecodeError> {
    let p = d.position();
    if d.input().len() - p < n {
        return Err(DecodeError::UnexpectedEof);
    }
    d.set_position(p + n);
    Ok(())
}

/// The CBOR type of the next item, named as Go's errors name it.
fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => "positive integer",
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => "negative integer",
        Type::Bytes | Type::BytesIndef => "byte string",
        Type::String | Type::StringIndef => "UTF-8 text string",
        Type::Array | Type::ArrayIndef => "array",
        Type::Map | Type::MapIndef => "map",
        Type::Tag => "tag",
        _ => "primitives",
    }
}

/// A map key of a struct map that names no field, kept only to detect
/// duplicates. Go compares such keys as `int64` or `string` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UnknownKey<'b> {
    /// An integer key as Go's decoder sees it: an unsigned key is
    /// reinterpreted as `int64` (so 2^64-1 is -1), a negative key is
    /// `-1 - n`.
    Int(i64),
    /// A text key (already checked to be UTF-8).
    Text(&'b str),
}

/// A struct map key: a field number, or a key that names no field.
enum StructKey<'b> {
    /// A key naming field `n` (integer `n`, or the text of `n` in decimal).
    Field(u64),
    /// Any other key.
    Unknown(UnknownKey<'b>),
}

/// What one entry of a decoded [`Meta`] map costs beyond its key's and
/// value's bytes: a share of the B-tree's nodes (a node holds up to 11
/// entries of 40 bytes and is at least half full) and the value's `Arc`
/// header are charged as 112 bytes, an upper bound of what was measured.
pub(crate) const META_ENTRY_COST: usize = 112;

/// The header of an `Arc<str>` allocation (the two reference counts).
pub(crate) const ARC_HEADER: usize = 16;

/// Type-directed reader over input already accepted by [`check_well_formed`].
///
/// Every method consumes exactly one item. Because the structure was checked
/// first, lengths here are known to fit in the input. Every allocation the
/// reader (or a decoder driving it) makes is first charged to its
/// [`DecodeBudget`]; a charge over the budget fails with
/// [`DecodeError::OverBudget`] before the allocation happens.
pub(crate) struct Reader<'b> {
    d: Decoder<'b>,
    budget: DecodeBudget,
}

impl<'b> Reader<'b> {
    /// A reader at the start of `input`, which must be well-formed, with
    /// the budget of an input of its length (`4 * n + 256 KiB`).
    pub(crate) fn new(input: &'b [u8]) -> Self {
        Self::with_budget(input, DecodeBudget::for_input(input.len()))
    }

    /// A reader at the start of `input` charging `budget`.
    pub(crate) fn with_budget(input: &'b [u8], budget: DecodeBudget) -> Self {
        Reader {
            d: Decoder::new(input),
            budget,
        }
    }

    /// The length of the whole input.
    pub(crate) fn input_len(&self) -> usize {
        self.d.input().len()
    }

    /// The budget left, for the next decode sharing it.
    pub(crate) fn into_budget(self) -> DecodeBudget {
        self.budget
    }

    /// Charges `bytes` about to be allocated.
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.budget
            .charge(bytes)
            .map_err(|limit| DecodeError::OverBudget { limit })
    }

    /// An empty vector with room for `n` elements, charged first.
    pub(crate) fn vec_with_capacity<T>(&mut self, n: u64) -> Result<Vec<T>, DecodeError> {
        // n <= 4096, checked by the structural pass.
        let n = n as usize;
        self.charge(n.saturating_mul(std::mem::size_of::<T>()))?;
        Ok(Vec::with_capacity(n))
    }

    fn ty(&self) -> Result<Type, DecodeError> {
        self.d.datatype().map_err(from_minicbor)
    }

    fn mismatch(&self, target: &'static str) -> DecodeError {
        let found = self.ty().map(type_name).unwrap_or("item");
        DecodeError::TypeMismatch { target, found }
    }

    /// Skips one item (already known to be well-formed).
    pub(crate) fn skip(&mut self) -> Result<(), DecodeError> {
        wf_item(&mut self.d, 0)
    }

    /// Consumes `null` or `undefined` if it is next, reporting whether it did.
    pub(crate) fn take_nil(&mut self) -> Result<bool, DecodeError> {
        match self.ty()? {
            Type::Null | Type::Undefined => {
                skip_bytes(&mut self.d, 1)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// An unsigned integer of at most `max`; `null`/`undefined` give 0 and
    /// simple values other than booleans give their number, as in Go.
    pub(crate) fn uint(&mut self, target: &'static str, max: u64) -> Result<u64, DecodeError> {
        let v = match self.ty()? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => self.d.u64().map_err(from_minicbor)?,
            Type::Null | Type::Undefined => {
                skip_bytes(&mut self.d, 1)?;
                0
            }
            Type::Simple => u64::from(self.d.simple().map_err(from_minicbor)?),
            _ => return Err(self.mismatch(target)),
        };
        if v > max {
            return Err(DecodeError::Overflow { target, value: v });
        }
        Ok(v)
    }

    /// A Go `int64`; `null`/`undefined` give 0.
    pub(crate) fn int64(&mut self, target: &'static str) -> Result<i64, DecodeError> {
        match self.ty()? {
            Type::Null | Type::Undefined => {
                skip_bytes(&mut self.d, 1)?;
                Ok(0)
            }
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
                let v = self.d.u64().map_err(from_minicbor)?;
                i64::try_from(v).map_err(|_| DecodeError::Overflow { target, value: v })
            }
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
                let i = i128::from(self.d.int().map_err(from_minicbor)?);
                i64::try_from(i).map_err(|_| DecodeError::Overflow {
                    target,
                    value: u64::try_from(-1 - i).unwrap_or(u64::MAX),
                })
            }
            _ => Err(self.mismatch(target)),
        }
    }

    /// A byte slice; `None` for `null`/`undefined`. An array of small
    /// unsigned integers is accepted as bytes, as Go does.
    pub(crate) fn bytes(&mut self, target: &'static str) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.ty()? {
            Type::Null | Type::Undefined => {
                skip_bytes(&mut self.d, 1)?;
                Ok(None)
            }
            Type::Bytes => {
                let b = self.d.bytes().map_err(from_minicbor)?;
                self.charge(b.len())?;
                Ok(Some(b.to_vec()))
            }
            Type::Array => {
                let n = self.d.array().map_err(from_minicbor)?.unwrap_or(0);
                let mut out = self.vec_with_capacity(n)?;
                for _ in 0..n {
                    out.push(self.uint(target, u64::from(u8::MAX))? as u8);
                }
                Ok(Some(out))
            }
            _ => Err(self.mismatch(target)),
        }
    }

    /// A Go `[32]byte` (behind a pointer, so `None` for `null`/`undefined`):
    /// a byte string is zero-padded or truncated to 32 bytes; an array fills
    /// the first 32 bytes from its first 32 elements (each an unsigned
    /// integer up to 255) and its further elements are skipped unchecked, as
    /// Go's decoder skips them.
    pub(crate) fn bytes32(
        &mut self,
        target: &'static str,
    ) -> Result<Option<[u8; 32]>, DecodeError> {
        let mut out = [0u8; 32];
        match self.ty()? {
            Type::Null | Type::Undefined => {
                skip_bytes(&mut self.d, 1)?;
                return Ok(None);
            }
            Type::Bytes => {
                let b = self.d.bytes().map_err(from_minicbor)?;
                let n = b.len().min(32);
                out[..n].copy_from_slice(&b[..n]);
            }
            Type::Array => {
                let n = self.d.array().map_err(from_minicbor)?.unwrap_or(0);
                for i in 0..n {
                    if let Some(slot) = out.get_mut(i as usize) {
                        *slot = self.uint(target, u64::from(u8::MAX))? as u8;
                    } else {
                        self.skip()?;
                    }
                }
            }
            _ => return Err(self.mismatch(target)),
        }
        Ok(Some(out))
    }

    /// A Go `string`: text only; `null`/`undefined` give the empty string.
    pub(crate) fn string(&mut self, target: &'static str) -> Result<&'b str, DecodeError> {
        match self.ty()? {
            Type::Null | Type::Undefined => {
                skip_bytes(&mut self.d, 1)?;
                Ok("")
            }
            Type::String => text(&mut self.d),
            _ => Err(self.mismatch(target)),
        }
    }

    /// A Go `map[string]string`; `None` for `null`/`undefined`.
    ///
    /// Values are shared: Go's decoder leaves its key and value variables
    /// untouched on `null`/`undefined`, so a nil key or value repeats the
    /// previous entry's (the empty string for the first). Go's entries then
    /// share one string; here they share one [`Arc<str>`], so a map of 1024
    /// entries repeating one long value costs one copy of it, not 1024.
    pub(crate) fn string_map(&mut self, target: &'static str) -> Result<Option<Meta>, DecodeError> {
        if self.take_nil()? {
            return Ok(None);
        }
        let n = match self.ty()? {
            Type::Map => self.d.map().map_err(from_minicbor)?.unwrap_or(0),
            _ => return Err(self.mismatch(target)),
        };
        let mut out = Meta::new();
        let mut k: &'b str = "";
        self.charge(ARC_HEADER)?;
        let mut v: Arc<str> = Arc::from("");
        for _ in 0..n {
            if !self.take_nil()? {
                k = self.string(target)?;
            }
            if !self.take_nil()? {
                let s = self.string(target)?;
                self.charge(ARC_HEADER + s.len())?;
                v = Arc::from(s);
            }
            // A repeated key is a duplicate; so keys, unlike values, never
            // hold more bytes than the input.
            if out.contains_key(k) {
                return Err(DecodeError::DuplicateKey(format!("{k:?}")));
            }
            self.charge(META_ENTRY_COST + k.len())?;
            out.insert(k.to_owned(), Arc::clone(&v));
        }
        Ok(Some(out))
    }

    /// The length of an array; `None` for `null`/`undefined`.
    pub(crate) fn array_len(&mut self, target: &'static str) -> Result<Option<u64>, DecodeError> {
        if self.take_nil()? {
            return Ok(None);
        }
        match self.ty()? {
            Type::Array => Ok(Some(self.d.array().map_err(from_minicbor)?.unwrap_or(0))),
            _ => Err(self.mismatch(target)),
        }
    }

    /// Reads a struct map whose fields are keyed by small integers, calling
    /// `field(reader, n)` for each key naming a field in `known` (a bit mask:
    /// bit `n` set means field `n` exists). Unknown keys are skipped;
    /// duplicates of any key are refused. Returns `false` for
    /// `null`/`undefined` (the zero value) and `true` for a map.
    pub(crate) fn struct_map(
        &mut self,
        target: &'static str,
        known: u64,
        mut field: impl FnMut(&mut Self, u64) -> Result<(), DecodeError>,
    ) -> Result<bool, DecodeError> {
        if self.take_nil()? {
            return Ok(false);
        }
        let n = match self.ty()? {
            Type::Map => self.d.map().map_err(from_minicbor)?.unwrap_or(0),
            _ => return Err(self.mismatch(target)),
        };
        let mut seen: u64 = 0;
        // Unknown keys are collected and checked for duplicates once the map
        // is read: a map may hold 1024 unknown keys and an input thousands of
        // such maps, so a scan per key would be quadratic, while sorting is
        // not. Text keys borrow from the input; a key costs 24 bytes, and the
        // map's remaining pairs are reserved (and charged) at the first.
        let mut unknown: Vec<UnknownKey<'b>> = Vec::new();
        let mut reserved = 0;
        // Go reports a field's type error after finishing the map, but any
        // error rejects the input, so the first one is returned at once
        // (a duplicate unknown key once the map is read).
        for i in 0..n {
            match self.struct_key(known)? {
                StructKey::Field(f) => {
                    if seen & (1 << f) != 0 {
                        return Err(DecodeError::DuplicateKey(f.to_string()));
                    }
                    seen |= 1 << f;
                    field(self, f)?;
                }
                StructKey::Unknown(other) => {
                    if unknown.capacity() == 0 {
                        // n - i <= 1024, checked by the structural pass.
                        let rest = (n - i) as usize;
                        reserved = rest * std::mem::size_of::<UnknownKey<'b>>();
                        self.charge(reserved)?;
                        unknown.reserve_exact(rest);
                    }
                    unknown.push(other);
                    self.skip()?;
                }
            }
        }
        unknown.sort_unstable();
        let duplicate = unknown.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
        // The list is freed on return.
        self.budget.release(reserved);
        if let Some(k) = duplicate {
            return Err(DecodeError::DuplicateKey(format!("{k:?}")));
        }
        Ok(true)
    }

    /// Reads a struct map key the way Go's decoder matches it against the
    /// fields in `known` (see [`Reader::struct_map`]).
    fn struct_key(&mut self, known: u64) -> Result<StructKey<'b>, DecodeError> {
        let is_field = |n: u64| n < 64 && known & (1 << n) != 0;
        match self.ty()? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
                let n = self.d.u64().map_err(from_minicbor)?;
                if is_field(n) {
                    Ok(StructKey::Field(n))
                } else {
                    // Go converts the key to int64 without a range check:
                    // 2^63 and above wrap to negative numbers.
                    Ok(StructKey::Unknown(UnknownKey::Int(n as i64)))
                }
            }
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
                let i = i128::from(self.d.int().map_err(from_minicbor)?);
                // Go refuses a negative key below -2^63 (it does not fit
                // int64), and never matches a negative key to a field.
                let i = i64::try_from(i).map_err(|_| DecodeError::Overflow {
                    target: "struct map key (int64)",
                    value: u64::try_from(-1 - i).unwrap_or(u64::MAX),
                })?;
                Ok(StructKey::Unknown(UnknownKey::Int(i)))
            }
            Type::String => {
                let s = text(&mut self.d)?;
                // A text key equal to a field's name (its number in
                // decimal) names that field; any other text is unknown,
                // and unlike an integer key ("99" and 99 are different).
                match s.parse::<u64>() {
                    Ok(n) if is_field(n) && n.to_string() == s => Ok(StructKey::Field(n)),
                    _ => Ok(StructKey::Unknown(UnknownKey::Text(s))),
                }
            }
            other => Err(DecodeError::InvalidMapKey(type_name(other))),
        }
    }
}

/// A sink for canonical encodings: a byte vector or a running hash.
pub(crate) type Encoder<W> = minicbor::Encoder<W>;

/// The error type of an encoding step into an infallible sink.
pub(crate) type EncodeResult = Result<(), minicbor::encode::Error<std::convert::Infallible>>;

/// Initial capacity of an encoding buffer, in bytes.
const INITIAL_ENCODE_CAPACITY: usize = 256;

/// Runs `f` against an encoder writing into a fresh vector.
///
/// Both sinks used by this crate (vectors and [`HashSink`]) are infallible and
/// no user `Encode` impls run, so the encoder cannot fail; the result is
/// discarded on that basis.
pub(crate) fn encode_to_vec(f: impl FnOnce(&mut Encoder<Vec<u8>>) -> EncodeResult) -> Vec<u8> {
    // Room for a typical signed AUM or node-key signature, so encoding one
    // does not reallocate as it grows; larger values grow as usual.
    let mut e = Encoder::new(Vec::with_capacity(INITIAL_ENCODE_CAPACITY));
    let _ = f(&mut e);
    e.into_writer()
}

/// Runs `f` against an encoder feeding BLAKE2s-256, returning the digest.
pub(crate) fn encode_to_hash(f: impl FnOnce(&mut Encoder<HashSink>) -> EncodeResult) -> [u8; 32] {
    let mut e = Encoder::new(HashSink(blake2::Blake2s256::default()));
    let _ = f(&mut e);
    blake2::Digest::finalize(e.into_writer().0).into()
}

/// The length of the encoding `f` writes, counted without buffering it
/// (a string is counted once per write, whatever its length, so this costs
/// time in the number of items, not bytes).
pub(crate) fn encoded_len(f: impl FnOnce(&mut Encoder<CountSink>) -> EncodeResult) -> usize {
    let mut e = Encoder::new(CountSink(0));
    let _ = f(&mut e);
    e.into_writer().0
}

/// Refuses a decoded structure whose canonical encoding (counted by
/// [`encoded_len`]) would be longer than
/// [`max_encoding_len`](crate::limits::max_encoding_len) of its
/// `input_len`-byte input.
pub(crate) fn check_encoded_len(len: usize, input_len: usize) -> Result<(), DecodeError> {
    let limit = crate::limits::max_encoding_len(input_len);
    if len > limit {
        return Err(DecodeError::EncodingTooLarge { len, limit });
    }
    Ok(())
}

/// A [`minicbor::encode::Write`] sink that counts bytes and keeps none.
pub(crate) struct CountSink(usize);

impl minicbor::encode::Write for CountSink {
    type Error = std::convert::Infallible;
    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(())
    }
}

/// Writes `bytes`, or `null` for `None`.
pub(crate) fn put_opt_bytes<W: minicbor::encode::Write>(
    e: &mut Encoder<W>,
    b: Option<&[u8]>,
) -> Result<(), minicbor::encode::Error<W::Error>> {
    match b {
        Some(b) => e.bytes(b)?,
        None => e.null()?,
    };
    Ok(())
}

/// Writes a `map[string]string` with keys in CTAP2 order (shorter first,
/// then bytewise), which is the bytewise order of their encodings.
pub(crate) fn put_string_map<W: minicbor::encode::Write>(
    e: &mut Encoder<W>,
    m: &Meta,
) -> Result<(), minicbor::encode::Error<W::Error>> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by(|a, b| {
        a.len()
            .cmp(&b.len())
            .then_with(|| a.as_bytes().cmp(b.as_bytes()))
    });
    e.map(keys.len() as u64)?;
    for k in keys {
        e.str(k)?.str(&m[k])?;
    }
    Ok(())
}

/// A [`minicbor::encode::Write`] sink that feeds a BLAKE2s-256 hash, so a
/// canonical encoding can be hashed without being buffered.
pub(crate) struct HashSink(pub(crate) blake2::Blake2s256);

impl minicbor::encode::Write for HashSink {
    type Error = std::convert::Infallible;
    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        blake2::Digest::update(&mut self.0, buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_declared_lengths_are_refused_without_allocating() {
        // Byte string claiming 2^64-1 bytes.
        let mut b = vec![0x5b];
        b.extend_from_slice(&[0xff; 8]);
        assert_eq!(check_well_formed(&b), Err(DecodeError::UnexpectedEof));
        // Array claiming 2^64-1 items.
        let mut a = vec![0x9b];
        a.extend_from_slice(&[0xff; 8]);
        assert!(matches!(
            check_well_formed(&a),
            Err(DecodeError::TooManyArrayElements(_))
        ));
        // Map claiming 2^64-1 pairs.
        let mut m = vec![0xbb];
        m.extend_from_slice(&[0xff; 8]);
        assert!(matches!(
            check_well_formed(&m),
            Err(DecodeError::TooManyMapPairs(_))
        ));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = vec![0x81; 100_000];
        assert_eq!(check_well_formed(&deep), Err(DecodeError::DepthExceeded));
        let mut ok = vec![0x81; 15];
        ok.push(0x80);
        assert_eq!(check_well_formed(&ok), Ok(()));
        let mut bad = vec![0x81; 16];
        bad.push(0x80);
        assert_eq!(check_well_formed(&bad), Err(DecodeError::DepthExceeded));
    }

    #[test]
    fn tags_and_indefinite_items_are_refused() {
        assert_eq!(
            check_well_formed(&[0xc1, 0xc1, 0xc1, 0x00]),
            Err(DecodeError::TagForbidden)
        );
        assert_eq!(
            check_well_formed(&[0xbf, 0xff]),
            Err(DecodeError::IndefiniteLength)
        );
        assert_eq!(
            check_well_formed(&[0x01, 0x00]),
            Err(DecodeError::TrailingBytes { index: 1, count: 1 })
        );
        assert_eq!(check_well_formed(&[]), Err(DecodeError::Empty));
    }

    /// Decodes `input` as each structure that shares this layer: AUM, Key,
    /// NKS and a tailchonk file.
    fn verdicts(input: &[u8]) -> [bool; 4] {
        [
            crate::Aum::from_cbor(input).is_ok(),
            crate::Key::from_cbor(input).is_ok(),
            crate::NodeKeySignature::from_cbor(input).is_ok(),
            crate::tailchonk::FsEntry::from_cbor(input).is_ok(),
        ]
    }

    #[test]
    fn negative_map_key_below_int64_is_refused() {
        // {-2^63 - 1: 0} and {-2^64: []}: do not fit Go's int64.
        assert_eq!(verdicts(&hex("a13b800000000000000000")), [false; 4]);
        assert_eq!(verdicts(&hex("a13bffffffffffffffff80")), [false; 4]);
        // {-2^63: 0}, the smallest int64, is an unknown key like any other.
        assert_eq!(verdicts(&hex("a13b7fffffffffffffff00")), [true; 4]);
    }

    #[test]
    fn unsigned_map_key_wraps_to_int64_for_duplicates() {
        // 2^64-1 wraps to -1, which is also the key 0x20.
        assert_eq!(verdicts(&hex("a21bffffffffffffffff002000")), [false; 4]);
        // 2^63 wraps to -2^63 = -1 - (2^63 - 1).
        assert_eq!(
            verdicts(&hex("a21b80000000000000000f3b7fffffffffffffff0f")),
            [false; 4]
        );
        // Order does not matter, and distinct values stay distinct.
        assert_eq!(verdicts(&hex("a2210a1bfffffffffffffffe0a")), [false; 4]);
        assert_eq!(verdicts(&hex("a2210a1bffffffffffffffff0a")), [true; 4]);
        // A text key is never the same key as an integer.
        assert_eq!(verdicts(&hex("a21863006239390a")), [true; 4]);
    }

    #[test]
    fn invalid_utf8_is_checked_only_where_text_is_decoded() {
        // Inside an unknown field's value, at any depth: accepted.
        assert_eq!(verdicts(&hex("a1006180")), [true; 4]);
        assert_eq!(verdicts(&hex("a11863a1629fff8162c328")), [true; 4]);
        // As a struct map key: refused.
        assert_eq!(verdicts(&hex("a1618000")), [false; 4]);
        // In a known text field (metadata key or value): refused.
        let mut bad_value = hex("a401010201035820");
        bad_value.extend_from_slice(&[7; 32]);
        bad_value.extend_from_slice(&hex("0ca1616b62ff61"));
        assert!(crate::Key::from_cbor(&bad_value).is_err());
        let good_value: Vec<u8> = [&bad_value[..bad_value.len() - 3], &hex("62c3a9")[..]].concat();
        assert!(crate::Key::from_cbor(&good_value).is_ok());
        // Structure is still checked inside skipped text: a truncated one
        // is refused.
        assert_eq!(verdicts(&hex("a10062ff")), [false; 4]);
    }

    #[test]
    fn tailchonk_children_are_type_checked_as_go_does() {
        use crate::tailchonk::FsEntry;
        // {1: [h'aabb', null, [1, 2]], 2: null}: byte strings, nil and
        // arrays of small integers fill a [32]byte.
        assert!(FsEntry::from_cbor(&hex("a2018342aabbf682010202f6")).is_ok());
        assert!(FsEntry::from_cbor(&hex("a201f602f6")).is_ok());
        // A text child, or a children value that is not a list: refused.
        assert!(FsEntry::from_cbor(&hex("a20181616102f6")).is_err());
        assert!(FsEntry::from_cbor(&hex("a201410202f6")).is_err());
        // A child given as an array: only its first 32 elements are
        // checked; later ones are skipped unchecked, as Go skips them.
        // {1: [[1, 1, ... (32 times), "\xff"]], 2: null}
        let arr = hex(&format!("a201819821{}61ff02f6", "01".repeat(32)));
        assert!(FsEntry::from_cbor(&arr).is_ok());
        let arr = hex(&format!("a201819820{}616102f6", "01".repeat(31)));
        assert!(
            FsEntry::from_cbor(&arr).is_err(),
            "text within the first 32"
        );
        // The same rule for a checkpoint's LastAUMHash: {5: {1: [...]}}.
        let state = hex(&format!("a105a1019821{}61ff", "01".repeat(32)));
        let a = crate::Aum::from_cbor(&state).unwrap();
        assert_eq!(
            a.state.unwrap().last_aum_hash,
            Some(crate::AumHash([1; 32]))
        );
        let state = hex(&format!("a105a1019820{}6161", "01".repeat(31)));
        assert!(crate::Aum::from_cbor(&state).is_err());
        // A child array holding a value over 255: refused.
        assert!(FsEntry::from_cbor(&hex("a201818119010002f6")).is_err());
    }

    #[test]
    fn null_meta_values_share_one_allocation() {
        // {12: {"a": "xyz", "b": null, "c": null}} as a key's metadata.
        let k = crate::Key::from_cbor(&hex("a10ca361616378797a6162f66163f6")).unwrap();
        let meta = k.meta.unwrap();
        let values: Vec<&Arc<str>> = meta.values().collect();
        assert_eq!(values.len(), 3);
        assert!(values.iter().all(|v| &***v == "xyz"));
        assert!(Arc::ptr_eq(values[0], values[1]) && Arc::ptr_eq(values[1], values[2]));
        // A null key repeats the previous key: {"a": "b", null: null} is a
        // duplicate...
        assert!(matches!(
            crate::Key::from_cbor(&hex("a10ca261616162f6f6")),
            Err(DecodeError::DuplicateKey(_))
        ));
        // ...but a null first key is "": {null: "b", "a": null}.
        let k = crate::Key::from_cbor(&hex("a10ca2f661626161f6")).unwrap();
        let meta = k.meta.unwrap();
        assert_eq!(meta.get("").map(|v| &**v), Some("b"));
        assert_eq!(meta.get("a").map(|v| &**v), Some("b"));
    }

    #[test]
    fn allocations_over_the_budget_are_refused() {
        // {1: 5, 5: {2: [h'' x 4096], 3: [{} x 4096]}, 23: [null x 4096]}:
        // 12 KiB decoding to 4096 slots of 24, 72 and 48 bytes (576 KiB),
        // over 4 * n + 256 KiB.
        let mut a = hex("a3010505a202990fa0");
        a.truncate(a.len() - 3);
        a.extend(hex("991000"));
        a.extend([0x40; 4096]);
        a.extend(hex("03991000"));
        a.extend([0xa0; 4096]);
        a.extend(hex("17991000"));
        a.extend([0xf6; 4096]);
        assert_eq!(check_well_formed(&a), Ok(()));
        let limit = DecodeBudget::for_input(a.len()).limit();
        assert_eq!(
            crate::Aum::from_cbor(&a),
            Err(DecodeError::OverBudget { limit })
        );
        // The same AUM decodes with room for it, and a shared budget keeps
        // what it used.
        let mut roomy = DecodeBudget::with_limit(1 << 20);
        assert!(crate::Aum::from_cbor_within(&a, &mut roomy).is_ok());
        assert!(roomy.used() > 4096 * (24 + 72 + 48));
        let mut rest = DecodeBudget::with_limit(1 << 20);
        rest.charge((1 << 20) - 1000).unwrap();
        assert!(matches!(
            crate::Aum::from_cbor_within(&a, &mut rest),
            Err(DecodeError::OverBudget { .. })
        ));
    }

    /// `{12: {"000": <value>, "001": null, ...}}`: a key whose metadata
    /// repeats one value over `entries` entries.
    fn repeating_meta_key(value_len: usize, entries: u16) -> Vec<u8> {
        let mut k = hex("a10cb9");
        k.extend(entries.to_be_bytes());
        for i in 0..entries {
            k.push(0x63);
            k.extend(format!("{i:03}").as_bytes());
            if i == 0 {
                k.push(0x79);
                k.extend((value_len as u16).to_be_bytes());
                k.extend(std::iter::repeat_n(b'v', value_len));
            } else {
                k.push(0xf6);
            }
        }
        k
    }

    #[test]
    fn canonical_encodings_over_the_cap_are_refused() {
        use crate::limits::max_encoding_len;
        // 1,000 entries repeating a 1,100-byte value: about 6 KiB in, over
        // 1 MiB re-encoded.
        let k = repeating_meta_key(1100, 1000);
        let r = crate::Key::from_cbor(&k);
        assert!(
            matches!(r, Err(DecodeError::EncodingTooLarge { len, limit })
                if len > MAX_AUM_BYTES && limit == max_encoding_len(k.len())),
            "{r:?}"
        );
        // As an UpdateKey's Meta: {1: 4, 7: ...}.
        let mut a = hex("a2010407");
        a.extend(&k[2..]);
        assert!(matches!(
            crate::Aum::from_cbor(&a),
            Err(DecodeError::EncodingTooLarge { .. })
        ));
        // The cap is 8 bytes per input byte + 1 KiB: a 100-byte value
        // repeated 20 times fits, 40 times does not.
        for (entries, fits) in [(20, true), (40, false)] {
            let k = repeating_meta_key(100, entries);
            let r = crate::Key::from_cbor(&k);
            assert_eq!(r.is_ok(), fits, "{entries}: {r:?}");
            if let Ok(k2) = r {
                assert!(k2.to_cbor().len() <= max_encoding_len(k.len()));
            }
        }
        // A key Go writes re-encodes to its own bytes.
        let honest = crate::Key::ed25519([5; 32], 1).to_cbor();
        assert_eq!(crate::Key::from_cbor(&honest).unwrap().to_cbor(), honest);
    }

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(s.as_bytes()).unwrap()
    }
}
