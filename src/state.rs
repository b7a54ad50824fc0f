//! The authority state: trusted keys, disablement values and state IDs.

use crate::cbor::{put_opt_bytes, DecodeError, EncodeResult, Encoder, Reader};
use crate::error::ValidationError;
use crate::hash::AumHash;
use crate::key::Key;
use crate::limits::{DISABLEMENT_VALUE_LEN, MAX_DISABLEMENT_VALUES, MAX_KEYS};

/// The state of an authority (Go's `tka.State`), also the payload of a
/// checkpoint AUM.
///
/// The `Option`s keep Go's nil-versus-empty distinctions, which encode
/// differently (`null` versus an empty array). `keys` keeps Go's slice order,
/// which is significant: it is serialised in that order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct State {
    /// Hash of the last AUM applied; must be `None` inside a checkpoint.
    pub last_aum_hash: Option<AumHash>,
    /// Argon2i outputs of the disablement secrets (`None` is Go's nil; an
    /// element `None` is a nil byte slice).
    pub disablement_values: Option<Vec<Option<Vec<u8>>>>,
    /// The trusted keys, in order.
    pub keys: Option<Vec<Key>>,
    /// First half of the random ID fixed at `lock init`.
    pub state_id1: u64,
    /// Second half of the random ID fixed at `lock init`.
    pub state_id2: u64,
}

impl State {
    /// The trusted keys as a slice (empty when nil).
    pub fn keys(&self) -> &[Key] {
        self.keys.as_deref().unwrap_or(&[])
    }

    /// The key whose ID is `id`, if any.
    pub fn key(&self, id: &[u8]) -> Option<&Key> {
        self.keys()
            .iter()
            .find(|k| k.id().is_ok_and(|kid| kid == id))
    }

    /// The disablement values as byte slices (nil elements as empty).
    pub fn disablement_values(&self) -> impl Iterator<Item = &[u8]> {
        self.disablement_values
            .iter()
            .flatten()
            .map(|v| v.as_deref().unwrap_or(&[]))
    }

    /// Go's `staticValidateCheckpoint`: no parent hash; 1..=32 distinct
    /// 32-byte disablement values; 1..=512 valid keys with distinct IDs.
    pub fn validate_checkpoint(&self) -> Result<(), ValidationError> {
        if self.last_aum_hash.is_some() {
            return Err(ValidationError::CheckpointHasParent);
        }
        let dv: Vec<&[u8]> = self.disablement_values().collect();
        if dv.is_empty() {
            return Err(ValidationError::NoDisablementValues);
        }
        if dv.len() > MAX_DISABLEMENT_VALUES {
            return Err(ValidationError::TooManyDisablementValues(dv.len()));
        }
        for (i, v) in dv.iter().enumerate() {
            if v.len() != DISABLEMENT_VALUE_LEN {
                return Err(ValidationError::DisablementLength {
                    index: i,
                    len: v.len(),
                });
            }
            if let Some(j) = dv[i + 1..].iter().position(|w| w == v) {
                return Err(ValidationError::DuplicateDisablement {
                    first: i,
                    second: i + 1 + j,
                });
            }
        }
        let keys = self.keys();
        if keys.is_empty() {
            return Err(ValidationError::NoKeys);
        }
        if keys.len() > MAX_KEYS {
            return Err(ValidationError::TooManyKeys(keys.len()));
        }
        for (i, k) in keys.iter().enumerate() {
            k.static_validate()
                .map_err(|e| ValidationError::CheckpointKey {
                    index: i,
                    error: Box::new(e),
                })?;
            // Validation passed, so the kind is known and the ID exists.
            let id = k.id().unwrap_or(&[]);
            if let Some(j) = keys[i + 1..]
                .iter()
                .position(|o| o.id().is_ok_and(|oid| oid == id))
            {
                return Err(ValidationError::DuplicateKey {
                    first: i,
                    second: i + 1 + j,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        let n = 3 + u64::from(self.state_id1 != 0) + u64::from(self.state_id2 != 0);
        e.map(n)?;
        e.u8(1)?;
        put_opt_bytes(e, self.last_aum_hash.as_ref().map(|h| &h.0[..]))?;
        e.u8(2)?;
        match &self.disablement_values {
            None => {
                e.null()?;
            }
            Some(vs) => {
                e.array(vs.len() as u64)?;
                for v in vs {
                    put_opt_bytes(e, v.as_deref())?;
                }
            }
        }
        e.u8(3)?;
        match &self.keys {
            None => {
                e.null()?;
            }
            Some(ks) => {
                e.array(ks.len() as u64)?;
                for k in ks {
                    k.encode(e)?;
                }
            }
        }
        if self.state_id1 != 0 {
            e.u8(4)?.u64(self.state_id1)?;
        }
        if self.state_id2 != 0 {
            e.u8(5)?.u64(self.state_id2)?;
        }
        Ok(())
    }

    /// The state's canonical CBOR encoding on its own.
    pub fn to_cbor(&self) -> Vec<u8> {
        crate::cbor::encode_to_vec(|e| -> EncodeResult { self.encode(e) })
    }

    /// Decodes a state map; returns `None` for `null`.
    pub(crate) fn decode_opt(r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        let mut s = State::default();
        let present = r.struct_map("tka.State", 0b11_1110, |r, f| {
            match f {
                1 => {
                    // Go decodes into a fixed [32]byte: shorter input is
                    // zero-padded, longer input truncated.
                    s.last_aum_hash = r.bytes32("tka.State.LastAUMHash")?.map(AumHash)
                }
                2 => {
                    s.disablement_values = match r.array_len("tka.State.DisablementValues")? {
                        None => None,
                        Some(n) => {
                            let mut v = r.vec_with_capacity::<Option<Vec<u8>>>(n)?;
                            for _ in 0..n {
                                v.push(r.bytes("tka.State.DisablementValues")?);
                            }
                            Some(v)
                        }
                    }
                }
                3 => {
                    s.keys = match r.array_len("tka.State.Keys")? {
                        None => None,
                        Some(n) => {
                            let mut v = r.vec_with_capacity::<Key>(n)?;
                            for _ in 0..n {
                                v.push(Key::decode(r)?);
                            }
                            Some(v)
                        }
                    }
                }
                4 => s.state_id1 = r.uint("tka.State.StateID1", u64::MAX)?,
                _ => s.state_id2 = r.uint("tka.State.StateID2", u64::MAX)?,
            }
            Ok(())
        })?;
        Ok(present.then_some(s))
    }
}

/// Why an AUM could not be applied to a state (Go's `applyVerifiedAUM`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyError {
    /// The AUM's parent is not the state's last AUM.
    ParentMismatch,
    /// A checkpoint without a state.
    MissingCheckpointState,
    /// A checkpoint that changes the state IDs.
    StateIdMismatch,
    /// An AddKey without a key.
    MissingKey,
    /// The key's kind has no ID.
    KeyId(crate::key::KeyIdError),
    /// AddKey of a key already trusted.
    KeyExists,
    /// UpdateKey or RemoveKey of a key not trusted.
    NoSuchKey,
    /// UpdateKey produced an invalid key.
    UpdatedKeyInvalid(ValidationError),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::ParentMismatch => f.write_str("parent AUMHash mismatch"),
            ApplyError::MissingCheckpointState => f.write_str("missing checkpoint state"),
            ApplyError::StateIdMismatch => {
                f.write_str("checkpointed state has an incorrect stateID")
            }
            ApplyError::MissingKey => f.write_str("no key to add provided"),
            ApplyError::KeyId(e) => write!(f, "{e}"),
            ApplyError::KeyExists => f.write_str("key already exists"),
            ApplyError::NoSuchKey => f.write_str("key not found"),
            ApplyError::UpdatedKeyInvalid(e) => write!(f, "updated key fails validation: {e}"),
        }
    }
}

impl std::error::Error for ApplyError {}

impl State {
    fn key_index(&self, id: &[u8]) -> Result<Option<usize>, ApplyError> {
        for (i, k) in self.keys().iter().enumerate() {
            if k.id().map_err(ApplyError::KeyId)? == id {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Applies an AUM whose hash is `hash` (Go's `applyVerifiedAUM`). The
    /// caller has verified it. On error the state is unchanged.
    pub fn apply(&mut self, aum: &crate::aum::Aum, hash: AumHash) -> Result<(), ApplyError> {
        use crate::aum::AumKind;
        if let Some(last) = &self.last_aum_hash {
            if aum.prev_aum_hash.as_deref() != Some(&last.0[..]) {
                return Err(ApplyError::ParentMismatch);
            }
        }
        match aum.message_kind {
            AumKind::CHECKPOINT => {
                let st = aum
                    .state
                    .as_ref()
                    .ok_or(ApplyError::MissingCheckpointState)?;
                if st.state_id1 != self.state_id1 || st.state_id2 != self.state_id2 {
                    return Err(ApplyError::StateIdMismatch);
                }
                *self = st.clone();
            }
            AumKind::ADD_KEY => {
                let key = aum.key.as_ref().ok_or(ApplyError::MissingKey)?;
                let id = key.id().map_err(ApplyError::KeyId)?;
                if self.key(id).is_some() {
                    return Err(ApplyError::KeyExists);
                }
                self.keys.get_or_insert_with(Vec::new).push(key.clone());
            }
            AumKind::UPDATE_KEY => {
                let id = aum.key_id.as_deref().unwrap_or(&[]);
                let mut k = self.key(id).ok_or(ApplyError::NoSuchKey)?.clone();
                if let Some(v) = aum.votes {
                    k.votes = v;
                }
                if let Some(m) = &aum.meta {
                    k.meta = Some(m.clone());
                }
                k.static_validate().map_err(ApplyError::UpdatedKeyInvalid)?;
                // Go replaces every key with that ID, failing on a key whose
                // kind has no ID; check first so failure changes nothing.
                for other in self.keys() {
                    other.id().map_err(ApplyError::KeyId)?;
                }
                for slot in self.keys.iter_mut().flatten() {
                    if slot.id().is_ok_and(|sid| sid == id) {
                        *slot = k.clone();
                    }
                }
            }
            AumKind::REMOVE_KEY => {
                let id = aum.key_id.as_deref().unwrap_or(&[]);
                let idx = self.key_index(id)?.ok_or(ApplyError::NoSuchKey)?;
                if let Some(keys) = self.keys.as_mut() {
                    keys.remove(idx);
                }
            }
            // NoOp and unknown kinds only move the head.
            _ => {}
        }
        self.last_aum_hash = Some(hash);
        Ok(())
    }
}
