//! Authority Update Messages (AUMs): the signed log entries that change the
//! set of trusted keys.

use crate::cbor::{
    check_encoded_len, check_well_formed, encode_to_hash, encode_to_vec, encoded_len,
    put_opt_bytes, put_string_map, DecodeError, Encoder, Reader,
};
use crate::error::ValidationError;
use crate::hash::AumHash;
use crate::key::{Key, Meta};
use crate::limits::{DecodeBudget, KEY_ID_LEN, SIGNATURE_LEN};
use crate::state::State;
use std::fmt;

/// What holding one decoded AUM in a list costs beyond what decoding it
/// allocates: see [`Aum::from_cbor_within`].
pub(crate) const HELD: usize =
    std::mem::size_of::<Aum>() + 16 + 3 * std::mem::size_of::<crate::storage::StoredAum>();

/// The kind of an AUM (Go's `AUMKind`). The type is open: every `u8` is
/// legal on the wire, kinds other than 1–5 are accepted and act as no-ops.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AumKind(pub u8);

impl AumKind {
    /// Kind 0: no meaning; accepted as a no-op, as Go does.
    pub const INVALID: AumKind = AumKind(0);
    /// Adds a key.
    pub const ADD_KEY: AumKind = AumKind(1);
    /// Removes a key.
    pub const REMOVE_KEY: AumKind = AumKind(2);
    /// Changes nothing but the head.
    pub const NO_OP: AumKind = AumKind(3);
    /// Changes a key's votes or metadata.
    pub const UPDATE_KEY: AumKind = AumKind(4);
    /// Replaces the whole state.
    pub const CHECKPOINT: AumKind = AumKind(5);
}

impl fmt::Display for AumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("invalid"),
            1 => f.write_str("add-key"),
            2 => f.write_str("remove-key"),
            3 => f.write_str("no-op"),
            4 => f.write_str("update-key"),
            5 => f.write_str("checkpoint"),
            n => write!(f, "AUM?<{n}>"),
        }
    }
}

impl fmt::Debug for AumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One signature on an AUM (Go's `tkatype.Signature`). Both fields are
/// written as `null` when nil.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Signature {
    /// The ID of the signing key (32 bytes when valid).
    pub key_id: Option<Vec<u8>>,
    /// The Ed25519 signature over the AUM's [`Aum::sig_hash`] (64 bytes).
    pub signature: Option<Vec<u8>>,
}

impl Signature {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.map(2)?;
        e.u8(1)?;
        put_opt_bytes(e, self.key_id.as_deref())?;
        e.u8(2)?;
        put_opt_bytes(e, self.signature.as_deref())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut s = Signature::default();
        r.struct_map("tkatype.Signature", 0b110, |r, f| {
            if f == 1 {
                s.key_id = r.bytes("tkatype.Signature.KeyID")?;
            } else {
                s.signature = r.bytes("tkatype.Signature.Signature")?;
            }
            Ok(())
        })?;
        Ok(s)
    }
}

/// An Authority Update Message (Go's `tka.AUM`), as decoded: nothing here is
/// verified. Hashes and signatures always cover the canonical encoding
/// ([`Aum::to_cbor`]); [`Aum::from_cbor_hashed`] hashes the bytes as
/// received only when they are exactly that encoding.
///
/// `Option` fields keep Go's nil-versus-empty distinctions: they matter for
/// validation and, for `prev_aum_hash`, for the encoding.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Aum {
    /// What the AUM does.
    pub message_kind: AumKind,
    /// The parent's hash; `None` (nil) for a genesis AUM.
    pub prev_aum_hash: Option<Vec<u8>>,
    /// The key added (AddKey).
    pub key: Option<Key>,
    /// The key removed or updated (RemoveKey, UpdateKey).
    pub key_id: Option<Vec<u8>>,
    /// The new state (Checkpoint).
    pub state: Option<State>,
    /// New votes (UpdateKey); `Some(0)` and `None` differ.
    pub votes: Option<u64>,
    /// New metadata (UpdateKey).
    pub meta: Option<Meta>,
    /// Signatures over [`Aum::sig_hash`].
    pub signatures: Option<Vec<Signature>>,
}

impl Aum {
    /// Decodes an AUM with Go's exact acceptance rules, except that it
    /// refuses an AUM whose decoding would allocate more than
    /// `4 * input.len() + 256 KiB` ([`DecodeError::OverBudget`]) or whose
    /// canonical encoding would exceed `8 * input.len() + 1 KiB` or 1 MiB
    /// ([`DecodeError::EncodingTooLarge`], see
    /// [`max_encoding_len`](crate::limits::max_encoding_len)); see SPEC.md.
    pub fn from_cbor(input: &[u8]) -> Result<Self, DecodeError> {
        Self::from_cbor_within(input, &mut DecodeBudget::for_input(input.len()))
    }

    /// [`Aum::from_cbor`] charging a shared `budget`, for AUMs listed in a
    /// larger message: the budget of the whole message then bounds them
    /// all. Besides what decoding allocates, each AUM is charged as it will
    /// be held while the list is checked: its own struct, the header of the
    /// `Arc` a [`StoredAum`](crate::StoredAum) keeps it in, and three
    /// `StoredAum` slots (a growing vector holds up to twice its length,
    /// and its old buffer while it moves).
    pub fn from_cbor_within(input: &[u8], budget: &mut DecodeBudget) -> Result<Self, DecodeError> {
        match crate::canonical::decode_aum(input, budget) {
            Some(a) => Ok(a),
            None => Self::decode_general(input, budget),
        }
    }

    /// [`Aum::from_cbor`] together with the AUM's hash ([`Aum::hash`]).
    ///
    /// When the input already is the canonical encoding (as Go and this
    /// crate write it) the hash is BLAKE2s of the input as received, found
    /// in one pass; otherwise the AUM is decoded by Go's rules and its
    /// canonical re-encoding hashed. The result is the same either way.
    pub fn from_cbor_hashed(input: &[u8]) -> Result<(Self, AumHash), DecodeError> {
        Self::from_cbor_hashed_within(input, &mut DecodeBudget::for_input(input.len()))
    }

    /// [`Aum::from_cbor_hashed`] charging a shared `budget`, as
    /// [`Aum::from_cbor_within`] does.
    pub fn from_cbor_hashed_within(
        input: &[u8],
        budget: &mut DecodeBudget,
    ) -> Result<(Self, AumHash), DecodeError> {
        if let Some(a) = crate::canonical::decode_aum(input, budget) {
            return Ok((a, AumHash(crate::hash::blake2s256(input))));
        }
        let a = Self::decode_general(input, budget)?;
        let h = a.hash();
        Ok((a, h))
    }

    /// Decodes with Go's rules (any encoding Go accepts), for input the
    /// canonical fast path did not take.
    pub(crate) fn decode_general(
        input: &[u8],
        budget: &mut DecodeBudget,
    ) -> Result<Self, DecodeError> {
        check_well_formed(input)?;
        let mut r = Reader::with_budget(input, budget.clone());
        let out = r.charge(HELD).and_then(|()| Self::decode(&mut r));
        *budget = r.into_budget();
        out
    }

    /// Decodes an AUM map (or `null`, the zero AUM) from well-formed input,
    /// refusing one whose canonical encoding would exceed the cap for the
    /// reader's input.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let a = Self::decode_fields(r)?;
        check_encoded_len(encoded_len(|e| a.encode(e, true)), r.input_len())?;
        Ok(a)
    }

    fn decode_fields(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut a = Aum::default();
        let known = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);
        r.struct_map("tka.AUM", known | (1 << 23), |r, f| {
            match f {
                1 => a.message_kind = AumKind(r.uint("tka.AUM.MessageKind", 255)? as u8),
                2 => a.prev_aum_hash = r.bytes("tka.AUM.PrevAUMHash")?,
                3 => {
                    a.key = if r.take_nil()? {
                        None
                    } else {
                        Some(Key::decode(r)?)
                    }
                }
                4 => a.key_id = r.bytes("tka.AUM.KeyID")?,
                5 => a.state = State::decode_opt(r)?,
                6 => {
                    a.votes = if r.take_nil()? {
                        None
                    } else {
                        Some(r.uint("tka.AUM.Votes", u64::MAX)?)
                    }
                }
                7 => a.meta = r.string_map("tka.AUM.Meta")?,
                _ => {
                    a.signatures = match r.array_len("tka.AUM.Signatures")? {
                        None => None,
                        Some(n) => {
                            let mut v = r.vec_with_capacity::<Signature>(n)?;
                            for _ in 0..n {
                                v.push(Signature::decode(r)?);
                            }
                            Some(v)
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(a)
    }

    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
        with_signatures: bool,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        let key_id = self.key_id.as_deref().filter(|k| !k.is_empty());
        let meta = self.meta.as_ref().filter(|m| !m.is_empty());
        let sigs = self
            .signatures
            .as_deref()
            .filter(|s| with_signatures && !s.is_empty());
        let n = 2
            + u64::from(self.key.is_some())
            + u64::from(key_id.is_some())
            + u64::from(self.state.is_some())
            + u64::from(self.votes.is_some())
            + u64::from(meta.is_some())
            + u64::from(sigs.is_some());
        e.map(n)?;
        e.u8(1)?.u8(self.message_kind.0)?;
        e.u8(2)?;
        put_opt_bytes(e, self.prev_aum_hash.as_deref())?;
        if let Some(k) = &self.key {
            e.u8(3)?;
            k.encode(e)?;
        }
        if let Some(k) = key_id {
            e.u8(4)?.bytes(k)?;
        }
        if let Some(s) = &self.state {
            e.u8(5)?;
            s.encode(e)?;
        }
        if let Some(v) = self.votes {
            e.u8(6)?.u64(v)?;
        }
        if let Some(m) = meta {
            e.u8(7)?;
            put_string_map(e, m)?;
        }
        if let Some(sigs) = sigs {
            e.u8(23)?.array(sigs.len() as u64)?;
            for s in sigs {
                s.encode(e)?;
            }
        }
        Ok(())
    }

    /// Writes the canonical encoding into an encoder (for nesting).
    pub(crate) fn encode_to<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        self.encode(e, true)
    }

    /// The canonical (CTAP2) CBOR encoding, byte-identical to Go's `Serialize`.
    pub fn to_cbor(&self) -> Vec<u8> {
        encode_to_vec(|e| self.encode(e, true))
    }

    /// BLAKE2s-256 of the canonical encoding (Go's `Hash`).
    pub fn hash(&self) -> AumHash {
        AumHash(encode_to_hash(|e| self.encode(e, true)))
    }

    /// BLAKE2s-256 of the canonical encoding without signatures: the message
    /// every signature on this AUM signs (Go's `SigHash`).
    pub fn sig_hash(&self) -> [u8; 32] {
        encode_to_hash(|e| self.encode(e, false))
    }

    /// The parent hash, if present. Like Go's `Parent`, a parent of another
    /// length than 32 is truncated or zero-padded here; such an AUM can never
    /// match a real parent.
    pub fn parent(&self) -> Option<AumHash> {
        let p = self.prev_aum_hash.as_deref().filter(|p| !p.is_empty())?;
        let mut h = [0u8; 32];
        let n = p.len().min(32);
        h[..n].copy_from_slice(&p[..n]);
        Some(AumHash(h))
    }

    /// The signatures as a slice (empty when nil).
    pub fn signatures(&self) -> &[Signature] {
        self.signatures.as_deref().unwrap_or(&[])
    }

    /// Go's `AUM.StaticValidate`: field shapes by kind, key and checkpoint
    /// validity, signature lengths. Neither the parent hash's length nor
    /// the number of signatures is checked here.
    pub fn static_validate(&self) -> Result<(), ValidationError> {
        if let Some(k) = &self.key {
            k.static_validate()?;
        }
        if self.prev_aum_hash.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(ValidationError::EmptyParent);
        }
        for (i, s) in self.signatures().iter().enumerate() {
            let kid = s.key_id.as_deref().map_or(0, <[u8]>::len);
            let sig = s.signature.as_deref().map_or(0, <[u8]>::len);
            if kid != KEY_ID_LEN || sig != SIGNATURE_LEN {
                return Err(ValidationError::MalformedSignature(i));
            }
        }
        if let Some(s) = &self.state {
            s.validate_checkpoint()?;
        }
        let kind = self.message_kind;
        let bad = |problem| Err(ValidationError::KindFields { kind, problem });
        let key_id_len = self.key_id.as_deref().map_or(0, <[u8]>::len);
        match kind {
            AumKind::ADD_KEY => {
                if self.key.is_none() {
                    return bad("must contain a key");
                }
                if self.key_id.is_some()
                    || self.state.is_some()
                    || self.votes.is_some()
                    || self.meta.is_some()
                {
                    return bad("may only specify a Key");
                }
            }
            AumKind::REMOVE_KEY => {
                if key_id_len == 0 {
                    return bad("must specify a key ID");
                }
                if self.key.is_some()
                    || self.state.is_some()
                    || self.votes.is_some()
                    || self.meta.is_some()
                {
                    return bad("may only specify a KeyID");
                }
            }
            AumKind::UPDATE_KEY => {
                if key_id_len == 0 {
                    return bad("must specify a key ID");
                }
                if self.meta.is_none() && self.votes.is_none() {
                    return bad("must contain an update to votes or key metadata");
                }
                if self.key.is_some() || self.state.is_some() {
                    return bad("may only specify KeyID, Votes, and Meta");
                }
            }
            AumKind::CHECKPOINT => {
                if self.state.is_none() {
                    return bad("must specify the state");
                }
                if self.key_id.is_some()
                    || self.key.is_some()
                    || self.votes.is_some()
                    || self.meta.is_some()
                {
                    return bad("may only specify State");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Go's `Weight`: the sum of the votes of the distinct keys in `state`
    /// that signed this AUM. Unknown signers add nothing; a key that signed
    /// twice counts once.
    pub fn weight(&self, state: &State) -> u64 {
        let mut seen: Vec<&[u8]> = Vec::new();
        let mut total: u64 = 0;
        for s in self.signatures() {
            let Some(kid) = s.key_id.as_deref() else {
                continue;
            };
            if seen.contains(&kid) {
                continue;
            }
            seen.push(kid);
            if let Some(k) = state.key(kid) {
                total = total.saturating_add(k.votes);
            }
        }
        total
    }
}
