//! Go `encoding/json` compatibility: base64 for byte fields, the decoding
//! machinery that reproduces Go's object semantics, and encoding helpers.

use super::*;

// ---------------------------------------------------------------------------
// Base64 as Go's encoding/json reads and writes []byte
// ---------------------------------------------------------------------------

/// Standard alphabet, padded, non-zero trailing bits allowed (Go's
/// `base64.StdEncoding` is not `Strict`).
pub(super) static B64_DECODE: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
    let mut spec = data_encoding::BASE64.specification();
    spec.check_trailing_bits = false;
    spec.encoding().expect("valid base64 specification")
});

/// Decodes Go's base64 for `[]byte`: `\r` and `\n` are skipped anywhere;
/// the rest must be whole padded 4-character groups with padding only at
/// the very end.
pub(super) fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    if let Some(first_pad) = clean.iter().position(|&b| b == b'=') {
        // At most two padding characters, and nothing after them.
        if first_pad + 2 < clean.len() || clean[first_pad..].iter().any(|&b| b != b'=') {
            return None;
        }
    }
    B64_DECODE.decode(&clean).ok()
}

pub(super) fn encode_b64(b: &[u8]) -> String {
    data_encoding::BASE64.encode(b)
}

pub(super) fn parse_opt_hash(s: &str, field: &'static str) -> Result<Option<AumHash>, WireError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|error| WireError::BadHash { field, error })
}

pub(super) fn parse_hash(s: &str, field: &'static str) -> Result<AumHash, WireError> {
    s.parse()
        .map_err(|error| WireError::BadHash { field, error })
}

// ---------------------------------------------------------------------------
// Decoding machinery: Go's encoding/json object semantics
// ---------------------------------------------------------------------------

/// What one parse carries through serde: where the first semantic error
/// (bad hash, key, base64, node ID, budget) is kept while serde unwinds with
/// a generic error, and the allocation budget every kept value is charged
/// to.
pub(super) struct Ctx {
    err: Option<WireError>,
    budget: DecodeBudget,
}

impl Ctx {
    pub(super) fn new(budget: DecodeBudget) -> Self {
        Ctx { err: None, budget }
    }

    /// Charges `bytes` about to be allocated for the parsed message.
    pub(super) fn charge<E: de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        match self.budget.charge(bytes) {
            Ok(()) => Ok(()),
            Err(limit) => Err(fail(self, WireError::OverBudget { limit })),
        }
    }

    /// Pushes `item` onto `v`, charging the vector's growth first. While a
    /// vector grows its old and new buffers are both live, so the new
    /// capacity is charged in full before growing and the old one released
    /// after.
    pub(super) fn push<T, E: de::Error>(&mut self, v: &mut Vec<T>, item: T) -> Result<(), E> {
        if v.len() == v.capacity() {
            let old = v.capacity();
            let new = old.saturating_mul(2).max(4);
            let size = std::mem::size_of::<T>();
            self.charge(new.saturating_mul(size))?;
            v.reserve_exact(new - old);
            self.budget.release(old * size);
        }
        v.push(item);
        Ok(())
    }
}

pub(super) fn fail<E: de::Error>(cx: &mut Ctx, e: WireError) -> E {
    let msg = e.to_string();
    cx.err = Some(e);
    E::custom(msg)
}

/// A Go struct as `encoding/json` decodes it.
pub(super) trait GoStruct: Default {
    /// Go's field names, in order; indexes are what [`GoStruct::set`] gets.
    const FIELDS: &'static [&'static str];
    /// Bitmask of hash fields that must end up holding a non-null value.
    const REQUIRED: u64 = 0;

    /// Decodes the value of field `i` from `map` into `self`. Returns
    /// whether a non-null value was stored.
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        cx: &mut Ctx,
    ) -> Result<bool, A::Error>;
}

/// Whether JSON key `key` selects Go field `name`: Go folds both with
/// simple Unicode case folding, which for an ASCII name means ASCII case
/// plus U+017F (long s) for `s` and U+212A (Kelvin sign) for `k`.
pub(super) fn go_name_eq(key: &str, name: &str) -> bool {
    let mut want = name.bytes();
    for c in key.chars() {
        let folded = match c {
            '\u{017F}' => b'S',
            '\u{212A}' => b'K',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        match want.next() {
            Some(b) if b.to_ascii_uppercase() == folded => {}
            _ => return false,
        }
    }
    want.next().is_none()
}

/// Seed matching an object key against a field list.
pub(super) struct FieldName(pub(super) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| go_name_eq(v, name)))
    }
}

/// Seed decoding a JSON object into an existing struct (Go decodes into the
/// value in place, so a repeated object merges). `null` leaves it alone.
/// Yields the bitmask of fields given non-null values.
pub(super) struct Merge<'a, T> {
    target: &'a mut T,
    cx: &'a mut Ctx,
}

impl<'de, T: GoStruct> DeserializeSeed<'de> for Merge<'_, T> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: GoStruct> Visitor<'de> for Merge<'_, T> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut seen = 0u64;
        while let Some(field) = map.next_key_seed(FieldName(T::FIELDS))? {
            match field {
                Some(i) => {
                    if self.target.set(i, &mut map, self.cx)? {
                        seen |= 1 << i;
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(seen)
    }
}

/// Decodes a whole struct from `d`, then checks its required hash fields.
pub(super) fn decode_struct<'de, T: GoStruct, D: Deserializer<'de>>(
    d: D,
    cx: &mut Ctx,
) -> Result<T, D::Error> {
    let mut out = T::default();
    let seen = Merge {
        target: &mut out,
        cx: &mut *cx,
    }
    .deserialize(d)?;
    let missing = T::REQUIRED & !seen;
    if missing != 0 {
        let field = T::FIELDS[missing.trailing_zeros() as usize];
        // Go's string stays "", which its client then fails to parse.
        let error = HashParseError::Encoding;
        return Err(fail(cx, WireError::BadHash { field, error }));
    }
    Ok(out)
}

pub(super) fn from_json_impl<T: GoStruct>(
    bytes: &[u8],
    cap: usize,
    budget: &mut DecodeBudget,
) -> Result<T, WireError> {
    if bytes.len() > cap {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            cap,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut cx = Ctx::new(budget.clone());
    let result = decode_struct::<T, _>(&mut de, &mut cx).and_then(|v| de.end().map(|()| v));
    *budget = cx.budget;
    match (result, cx.err) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(WireError::Json(e)),
        (Ok(v), None) => Ok(v),
    }
}

// Field setters. Each reads one value; `null` behaves as in Go.

pub(super) fn set_int<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut i64,
) -> Result<bool, A::Error> {
    Ok(match map.next_value::<Option<i64>>()? {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    })
}

pub(super) fn set_bool<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut bool,
) -> Result<bool, A::Error> {
    Ok(match map.next_value::<Option<bool>>()? {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    })
}

pub(super) fn set_string<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut String,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    Ok(match map.next_value::<Option<String>>()? {
        Some(v) => {
            cx.charge(v.len())?;
            *slot = v;
            true
        }
        None => false,
    })
}

pub(super) fn set_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut NodeKey,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    let Some(s) = map.next_value::<Option<String>>()? else {
        return Ok(false);
    };
    *slot = s
        .parse()
        .map_err(|error| fail(cx, WireError::BadKey { field, error }))?;
    Ok(true)
}

/// A hash Go's client requires (no `""`).
pub(super) fn set_hash<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut AumHash,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    let Some(s) = map.next_value::<Option<String>>()? else {
        return Ok(false);
    };
    *slot = parse_hash(&s, field).map_err(|e| fail(cx, e))?;
    Ok(true)
}

/// A hash where `""` means none.
pub(super) fn set_opt_hash<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<AumHash>,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    let Some(s) = map.next_value::<Option<String>>()? else {
        return Ok(false);
    };
    *slot = parse_opt_hash(&s, field).map_err(|e| fail(cx, e))?;
    Ok(true)
}

pub(super) fn set_hash_list<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Vec<AumHash>>,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    *slot = map.next_value_seed(HashList { field, cx })?;
    Ok(slot.is_some())
}

/// Seed for a list of hashes: `null` is nil; each element is parsed as it
/// is read (a `null` element is Go's empty string, which is not a hash), so
/// the list is never held as text.
struct HashList<'a> {
    field: &'static str,
    cx: &'a mut Ctx,
}

impl<'de> DeserializeSeed<'de> for HashList<'_> {
    type Value = Option<Vec<AumHash>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for HashList<'_> {
    type Value = Option<Vec<AumHash>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of hash strings, or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<Option<String>>()? {
            let h =
                parse_hash(s.as_deref().unwrap_or(""), self.field).map_err(|e| fail(self.cx, e))?;
            self.cx.push(&mut out, h)?;
        }
        Ok(Some(out))
    }
}

/// Decodes `s` as a byte field, charging the decoded bytes first.
pub(super) fn b64_or_fail<E: de::Error>(
    s: &str,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<Vec<u8>, E> {
    // At most three bytes per four characters.
    cx.charge(s.len() / 4 * 3)?;
    decode_b64(s).ok_or_else(|| fail(cx, WireError::BadBase64 { field }))
}

/// A non-`omitempty` byte field: `null` is nil.
pub(super) fn set_opt_bytes<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Vec<u8>>,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    *slot = match map.next_value::<Option<String>>()? {
        None => None,
        Some(s) => Some(b64_or_fail(&s, field, cx)?),
    };
    Ok(slot.is_some())
}

/// An `omitempty` byte field: nil and empty are both empty.
pub(super) fn set_bytes<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<u8>,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    *slot = match map.next_value::<Option<String>>()? {
        None => Vec::new(),
        Some(s) => b64_or_fail(&s, field, cx)?,
    };
    Ok(true)
}

pub(super) fn set_bytes_list<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Vec<Vec<u8>>>,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    *slot = map.next_value_seed(BytesList { field, cx })?;
    Ok(slot.is_some())
}

/// Seed for a list of byte strings: `null` is nil, an element `null` is
/// empty. Each element is decoded from base64 as it is read, so the list
/// is never held as text as well as bytes.
struct BytesList<'a> {
    field: &'static str,
    cx: &'a mut Ctx,
}

impl<'de> DeserializeSeed<'de> for BytesList<'_> {
    type Value = Option<Vec<Vec<u8>>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BytesList<'_> {
    type Value = Option<Vec<Vec<u8>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of base64 strings, or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(BytesItem {
            field: self.field,
            cx: &mut *self.cx,
        })? {
            self.cx.push(&mut out, item)?;
        }
        Ok(Some(out))
    }
}

/// Seed for one element of a [`BytesList`].
struct BytesItem<'a> {
    field: &'static str,
    cx: &'a mut Ctx,
}

impl<'de> DeserializeSeed<'de> for BytesItem<'_> {
    type Value = Vec<u8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BytesItem<'_> {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        b64_or_fail(s, self.field, self.cx)
    }
}

/// What one entry of a node-ID-keyed map costs beyond its bytes: a share
/// of a B-tree node of 32-byte entries (at least half full).
const SIG_MAP_ENTRY_COST: usize = 80;

/// A `map[NodeID][]byte`: `null` is nil; an object adds to any existing map
/// (Go does not clear a map it decodes into). Entries are decoded as they
/// are read.
pub(super) fn set_sig_map<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<BTreeMap<NodeId, Vec<u8>>>,
    field: &'static str,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    map.next_value_seed(SigMapSeed { slot, field, cx })?;
    Ok(slot.is_some())
}

/// Seed for [`set_sig_map`].
struct SigMapSeed<'a> {
    slot: &'a mut Option<BTreeMap<NodeId, Vec<u8>>>,
    field: &'static str,
    cx: &'a mut Ctx,
}

impl<'de> DeserializeSeed<'de> for SigMapSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SigMapSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.slot = None;
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.slot.get_or_insert_with(BTreeMap::new);
        while let Some(k) = map.next_key::<String>()? {
            let id: NodeId = match k.parse() {
                Ok(id) => id,
                Err(_) => {
                    let e = WireError::BadNodeId {
                        field: self.field,
                        key: k,
                    };
                    return Err(fail(self.cx, e));
                }
            };
            let bytes = match map.next_value::<Option<String>>()? {
                None => Vec::new(),
                Some(s) => b64_or_fail(&s, self.field, self.cx)?,
            };
            // A repeated ID replaces its value (the later wins, as in Go):
            // no new entry, and the old bytes are freed.
            if !out.contains_key(&id) {
                self.cx.charge(SIG_MAP_ENTRY_COST)?;
            }
            if let Some(old) = out.insert(id, bytes) {
                self.cx.budget.release(old.len());
            }
        }
        Ok(())
    }
}

/// Seed for a list of structs: `null` is nil, an element `null` is a zero
/// struct.
pub(super) struct StructList<'a, T> {
    cx: &'a mut Ctx,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: GoStruct> DeserializeSeed<'de> for StructList<'_, T> {
    type Value = Option<Vec<T>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: GoStruct> Visitor<'de> for StructList<'_, T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::new();
        loop {
            let mut item = T::default();
            let seed = Merge {
                target: &mut item,
                cx: &mut *self.cx,
            };
            match seq.next_element_seed(seed)? {
                Some(_) => self.cx.push(&mut out, item)?,
                None => return Ok(Some(out)),
            }
        }
    }
}

pub(super) fn set_struct_list<'de, A: MapAccess<'de>, T: GoStruct>(
    map: &mut A,
    slot: &mut Option<Vec<T>>,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    *slot = map.next_value_seed(StructList {
        cx,
        _t: std::marker::PhantomData,
    })?;
    Ok(slot.is_some())
}

/// Seed for a pointer to a struct: `null` is nil, an object is decoded into
/// the existing value if there is one.
pub(super) struct StructPtr<'a, T> {
    target: &'a mut Option<T>,
    cx: &'a mut Ctx,
}

impl<'de, T: GoStruct> DeserializeSeed<'de> for StructPtr<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: GoStruct> Visitor<'de> for StructPtr<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.target = None;
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if self.target.is_none() {
            self.cx.charge(std::mem::size_of::<T>())?;
        }
        let target = self.target.get_or_insert_with(T::default);
        Merge {
            target,
            cx: self.cx,
        }
        .visit_map(map)
        .map(|_| ())
    }
}

pub(super) fn set_struct_ptr<'de, A: MapAccess<'de>, T: GoStruct>(
    map: &mut A,
    slot: &mut Option<T>,
    cx: &mut Ctx,
) -> Result<bool, A::Error> {
    map.next_value_seed(StructPtr { target: slot, cx })?;
    Ok(slot.is_some())
}

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

/// Bytes as a base64 string.
pub(super) struct B64<'a>(pub(super) &'a [u8]);

impl Serialize for B64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_b64(self.0))
    }
}

/// Bytes or `null`.
pub(super) fn opt_b64(b: &Option<Vec<u8>>) -> Option<B64<'_>> {
    b.as_deref().map(B64)
}

/// A value written with its `Display` text.
pub(super) struct Text<'a, T>(pub(super) &'a T);

impl<T: fmt::Display> Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// A list whose elements are written through a wrapper.
pub(super) struct Seq<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<T, W: Serialize> Serialize for Seq<'_, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

pub(super) fn opt_b64_list(v: &Option<Vec<Vec<u8>>>) -> Option<Seq<'_, Vec<u8>, B64<'_>>> {
    v.as_deref().map(|v| Seq(v, |b| B64(b)))
}

pub(super) fn opt_hash_list(
    v: &Option<Vec<AumHash>>,
) -> Option<Seq<'_, AumHash, Text<'_, AumHash>>> {
    v.as_deref().map(|v| Seq(v, Text))
}

/// A node-ID-keyed map, keys in byte order of their decimal text (Go sorts
/// map keys as strings).
pub(super) struct SigMap<'a>(pub(super) &'a BTreeMap<NodeId, Vec<u8>>);

impl Serialize for SigMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(String, &Vec<u8>)> =
            self.0.iter().map(|(k, v)| (k.to_string(), v)).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in &entries {
            m.serialize_entry(k, &B64(v))?;
        }
        m.end()
    }
}

/// `""` for no hash, else its text.
pub(super) struct OptHashText<'a>(pub(super) &'a Option<AumHash>);

impl Serialize for OptHashText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(h) => s.collect_str(h),
            None => s.serialize_str(""),
        }
    }
}

// ---------------------------------------------------------------------------
// Per-type glue
// ---------------------------------------------------------------------------
