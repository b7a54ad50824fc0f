//! The fixed world the stateful fuzz targets play in: four signing keys, two
//! genesis checkpoints with known disablement secrets, a pool of AUMs the
//! fuzzer builds on top of them, and a byte cursor that turns fuzz input
//! into choices.
//!
//! Building signed AUMs from a few input bytes lets the fuzzer reach
//! verification, fork choice and storage, which random bytes never would:
//! a hostile control plane can replay, reorder, re-sign (with keys it
//! holds), drop or corrupt any of them.

use crate::aum::{Aum, AumKind, Signature};
use crate::builder::Signer;
use crate::hash::AumHash;
use crate::key::{Key, KeyKind, NlPrivate, NodeKey};
use crate::sig::NodeKeySignature;
use crate::state::State;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Reads choices from fuzz input; past the end every read gives zeros (or
/// nothing), so every input is a complete program.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    pub(crate) fn bit(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A choice in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// Up to `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// 32 bytes, zero-padded.
    pub(crate) fn array32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        let b = self.take(32);
        out[..b.len()].copy_from_slice(b);
        out
    }

    /// A length-prefixed byte string: one byte below 0xfe is the length;
    /// 0xfe is followed by a 16-bit and 0xff by a 24-bit little-endian
    /// length (so a single input can carry a body of up to its own size).
    pub(crate) fn blob(&mut self) -> &'a [u8] {
        let n = match self.u8() {
            0xfe => usize::from(u16::from_le_bytes([self.u8(), self.u8()])),
            0xff => {
                usize::from(self.u8()) | usize::from(self.u8()) << 8 | usize::from(self.u8()) << 16
            }
            n => usize::from(n),
        };
        self.take(n)
    }
}

/// Number of world signing keys.
pub(crate) const KEYS: usize = 4;
/// Most AUMs in the pool (two genesis AUMs included).
pub(crate) const MAX_POOL: usize = 48;

/// Disablement secrets: genesis A holds the first two, genesis B the third.
pub(crate) const SECRETS: [&[u8]; 3] = [b"fuzz-disable-a1", b"fuzz-disable-a2", b"fuzz-disable-b"];

/// Keys, secrets and genesis AUMs, computed once (the disablement KDF is
/// deliberately slow).
pub(crate) struct World {
    pub(crate) keys: Vec<NlPrivate>,
    pub(crate) disablement: Vec<[u8; 32]>,
    pub(crate) genesis: [Aum; 2],
}

pub(crate) static WORLD: LazyLock<World> = LazyLock::new(|| {
    let keys: Vec<NlPrivate> = (0..KEYS)
        .map(|i| NlPrivate::from_seed(&[i as u8 + 1; 32]))
        .collect();
    let disablement: Vec<[u8; 32]> = SECRETS
        .iter()
        .map(|s| crate::kdf::disablement_kdf(s).expect("fixed secret"))
        .collect();
    let genesis_a = signed(
        Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(State {
                disablement_values: Some(vec![
                    Some(disablement[0].to_vec()),
                    Some(disablement[1].to_vec()),
                ]),
                keys: Some(vec![keys[0].to_key(2), keys[1].to_key(1)]),
                state_id1: 1,
                state_id2: 2,
                ..State::default()
            }),
            ..Aum::default()
        },
        &[&keys[0]],
    );
    let genesis_b = signed(
        Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(State {
                disablement_values: Some(vec![Some(disablement[2].to_vec())]),
                keys: Some(vec![keys[2].to_key(1)]),
                state_id1: 3,
                state_id2: 4,
                ..State::default()
            }),
            ..Aum::default()
        },
        &[&keys[2]],
    );
    World {
        keys,
        disablement,
        genesis: [genesis_a, genesis_b],
    }
});

fn signed(mut aum: Aum, by: &[&NlPrivate]) -> Aum {
    let h = aum.sig_hash();
    let mut sigs = Vec::new();
    for k in by {
        sigs.extend(k.sign_aum(&h));
    }
    aum.signatures = Some(sigs);
    aum
}

/// One AUM the fuzzer built, with its canonical encoding and hash.
#[derive(Clone)]
pub(crate) struct PoolAum {
    pub(crate) aum: Aum,
    pub(crate) cbor: Vec<u8>,
    pub(crate) hash: AumHash,
    /// Index of the parent in the pool (`None` for a genesis).
    pub(crate) parent: Option<usize>,
}

impl PoolAum {
    fn new(aum: Aum, parent: Option<usize>) -> Self {
        let cbor = aum.to_cbor();
        PoolAum {
            hash: AumHash::of(&cbor),
            aum,
            cbor,
            parent,
        }
    }
}

/// AUMs control can send: the two genesis AUMs first, then whatever the
/// input built.
pub(crate) struct Pool {
    pub(crate) aums: Vec<PoolAum>,
}

impl Pool {
    pub(crate) fn new() -> Self {
        let w = &*WORLD;
        Pool {
            aums: w
                .genesis
                .iter()
                .map(|g| PoolAum::new(g.clone(), None))
                .collect(),
        }
    }

    pub(crate) fn pick(&self, c: &mut Cursor<'_>) -> usize {
        c.below(self.aums.len())
    }

    /// A hash: usually a pool AUM's, sometimes 32 bytes from the input.
    pub(crate) fn hash(&self, c: &mut Cursor<'_>) -> AumHash {
        let sel = c.u8();
        if sel == 0xff {
            AumHash(c.array32())
        } else {
            self.aums[usize::from(sel) % self.aums.len()].hash
        }
    }

    /// Pool indices from the root down to `i`.
    pub(crate) fn chain_to(&self, mut i: usize) -> Vec<usize> {
        let mut out = vec![i];
        while let Some(p) = self.aums[i].parent {
            out.push(p);
            i = p;
        }
        out.reverse();
        out
    }

    /// A list of AUM encodings: the chain to a pool AUM (optionally
    /// without its root, optionally reversed), or up to seven picks.
    pub(crate) fn aum_list(&self, c: &mut Cursor<'_>) -> Vec<Vec<u8>> {
        let mode = c.u8();
        let idx: Vec<usize> = match mode % 4 {
            0 | 1 => {
                let mut v = self.chain_to(self.pick(c));
                if mode & 4 != 0 && v.len() > 1 {
                    v.remove(0);
                }
                if mode & 8 != 0 {
                    v.reverse();
                }
                v
            }
            2 => (0..c.below(8)).map(|_| self.pick(c)).collect(),
            _ => Vec::new(),
        };
        let mut out: Vec<Vec<u8>> = idx.iter().map(|&i| self.aums[i].cbor.clone()).collect();
        if mode & 16 != 0 {
            // Raw bytes among the AUMs: garbage, or a hand-made variant.
            out.push(c.blob().to_vec());
        }
        out
    }

    /// Builds a new AUM on a pool parent and adds it (when there is room).
    pub(crate) fn build(&mut self, c: &mut Cursor<'_>) {
        let w = &*WORLD;
        let parent = self.pick(c);
        let kind = c.u8();
        let key_sel = c.below(KEYS + 1);
        let key = if key_sel == KEYS {
            Key {
                kind: KeyKind::ED25519,
                votes: u64::from(c.u8()),
                public: Some(c.take(32).to_vec()),
                meta: None,
            }
        } else {
            w.keys[key_sel].to_key(1 + u64::from(c.u8() % 3))
        };
        let key_id = key.public.clone();
        let mut aum = Aum {
            prev_aum_hash: Some(self.aums[parent].hash.0.to_vec()),
            ..Aum::default()
        };
        match kind % 6 {
            0 => {
                aum.message_kind = AumKind::ADD_KEY;
                aum.key = Some(key);
            }
            1 => {
                aum.message_kind = AumKind::REMOVE_KEY;
                aum.key_id = key_id;
            }
            2 => {
                aum.message_kind = AumKind::UPDATE_KEY;
                aum.key_id = key_id;
                aum.votes = Some(u64::from(c.u8() % 4));
                if c.bit() {
                    let mut m = BTreeMap::new();
                    m.insert("k".to_string(), std::sync::Arc::<str>::from("v"));
                    aum.meta = Some(m);
                }
            }
            3 => {
                let b = c.u8();
                let which = usize::from(b & 1);
                let mut keys: Vec<Key> = (0..KEYS)
                    .filter(|i| b & (2 << i) != 0)
                    .map(|i| w.keys[i].to_key(1))
                    .collect();
                if keys.is_empty() {
                    keys.push(w.keys[which * 2].to_key(1));
                }
                let dv = if which == 0 {
                    vec![Some(w.disablement[0].to_vec())]
                } else {
                    vec![Some(w.disablement[2].to_vec())]
                };
                aum.message_kind = AumKind::CHECKPOINT;
                aum.state = Some(State {
                    disablement_values: Some(dv),
                    keys: Some(keys),
                    state_id1: if which == 0 { 1 } else { 3 },
                    state_id2: if which == 0 { 2 } else { 4 },
                    ..State::default()
                });
            }
            4 => aum.message_kind = AumKind::NO_OP,
            _ => {
                // An unknown kind, or no parent at all.
                aum.message_kind = AumKind(kind / 6);
                if c.bit() {
                    aum.prev_aum_hash = None;
                }
            }
        }
        let signers = c.u8();
        let flags = c.u8();
        let h = aum.sig_hash();
        let mut sigs: Vec<Signature> = Vec::new();
        for (i, k) in w.keys.iter().enumerate() {
            if signers & (1 << i) != 0 {
                sigs.extend(k.sign_aum(&h));
            }
        }
        if flags & 1 != 0 && !sigs.is_empty() {
            // The same signature twice: a rollback variant.
            sigs.push(sigs[0].clone());
        }
        if flags & 2 != 0 {
            sigs.reverse();
        }
        if flags & 4 != 0 {
            if let Some(s) = sigs.first_mut().and_then(|s| s.signature.as_mut()) {
                s[0] ^= 1;
            }
        }
        if flags & 8 != 0 {
            // A valid signature filed under another key's ID.
            if let Some(s) = sigs.first_mut() {
                s.key_id = Some(w.keys[usize::from(flags >> 4) % KEYS].public().0.to_vec());
            }
        }
        if flags & 16 != 0 && sigs.len() > 1 {
            // A variant with a signature dropped.
            sigs.pop();
        }
        aum.signatures = (!sigs.is_empty()).then_some(sigs);
        self.push(aum, Some(parent));
    }

    /// Re-signs a pool AUM's content as a variant: the same update with the
    /// signature list changed (the attack of issue 8, item 2).
    pub(crate) fn variant(&mut self, c: &mut Cursor<'_>) {
        let i = self.pick(c);
        let mut aum = self.aums[i].aum.clone();
        let parent = self.aums[i].parent;
        let mut sigs = aum.signatures.take().unwrap_or_default();
        match c.u8() % 4 {
            0 => {
                if let Some(s) = sigs.first().cloned() {
                    sigs.push(s);
                }
            }
            1 => sigs.reverse(),
            2 => {
                sigs.pop();
            }
            _ => {
                let k = &WORLD.keys[c.below(KEYS)];
                sigs.extend(k.sign_aum(&aum.sig_hash()));
            }
        }
        aum.signatures = (!sigs.is_empty()).then_some(sigs);
        self.push(aum, parent);
    }

    fn push(&mut self, aum: Aum, parent: Option<usize>) {
        if self.aums.len() < MAX_POOL {
            self.aums.push(PoolAum::new(aum, parent));
        }
    }
}

/// A node key: one of sixteen fixed ones, or 32 input bytes.
pub(crate) fn node_key(c: &mut Cursor<'_>) -> NodeKey {
    let sel = c.u8();
    if sel & 0x80 != 0 {
        NodeKey(c.array32())
    } else {
        NodeKey([sel % 16; 32])
    }
}

/// A node-key signature for `nk`: none, Direct by a world key (over `nk`
/// or another node key, with or without a wrapping key), a Rotation, a
/// Credential, or raw input bytes.
pub(crate) fn node_signature(c: &mut Cursor<'_>, nk: &NodeKey) -> Vec<u8> {
    let w = &*WORLD;
    let kind = c.u8();
    let signer = &w.keys[c.below(KEYS)];
    let wrapper = &w.keys[c.below(KEYS)];
    match kind % 7 {
        0 => Vec::new(),
        1 => NodeKeySignature::sign_direct(signer, nk, None)
            .map(|s| s.to_cbor())
            .unwrap_or_default(),
        2 => {
            let other = node_key(c);
            NodeKeySignature::sign_direct(signer, &other, Some(wrapper.public().0))
                .map(|s| s.to_cbor())
                .unwrap_or_default()
        }
        3 => {
            // Direct over an earlier key, rotated (by the wrapping key) to nk.
            let earlier = node_key(c);
            let Ok(inner) =
                NodeKeySignature::sign_direct(signer, &earlier, Some(wrapper.public().0))
            else {
                return Vec::new();
            };
            let rot_signer = if c.bit() { wrapper } else { signer };
            NodeKeySignature::sign_rotation(rot_signer, &nk.to_binary(), inner).to_cbor()
        }
        4 => NodeKeySignature::sign_credential(signer, wrapper.public().0)
            .map(|s| s.to_cbor())
            .unwrap_or_default(),
        5 => {
            // A valid signature with one byte flipped.
            let mut b = NodeKeySignature::sign_direct(signer, nk, None)
                .map(|s| s.to_cbor())
                .unwrap_or_default();
            let at = c.below(b.len().max(1));
            if let Some(x) = b.get_mut(at) {
                *x ^= 1 << (kind >> 5);
            }
            b
        }
        _ => c.blob().to_vec(),
    }
}
