//! `lock init`: create the genesis, have control list the nodes to sign,
//! sign them all, finish.

use super::{
    parse, usable_wrapping_key, AdminError, Flow, Identity, Request, Step, CAPABILITY_VERSION,
};
use crate::authority::Authority;
use crate::kdf::disablement_kdf;
use crate::key::{Key, NodeKey};
use crate::sig::NodeKeySignature;
use crate::state::State;
use crate::storage::MemStorage;
use crate::wire::{self, NodeId};
use crate::Aum;
use std::collections::BTreeMap;

/// The randomness `init` needs, supplied by the caller (the core has no
/// RNG): fill every field from a cryptographic random source.
#[derive(Clone, Debug, Default)]
pub struct InitRandom {
    /// 16 bytes for the two state IDs (little-endian, as Go does).
    pub state_ids: [u8; 16],
    /// One 32-byte disablement secret per secret to generate (Go's
    /// `--gen-disablements N`).
    pub secrets: Vec<[u8; 32]>,
    /// A secret to hand to control's support staff
    /// (`--gen-disablement-for-support`), if wanted.
    pub support: Option<[u8; 32]>,
}

/// What `init` did.
#[derive(Clone, Debug)]
pub struct InitOutcome {
    /// The genesis AUM control accepted.
    pub genesis: Aum,
    /// The generated disablement secrets (show them once; they are not
    /// kept anywhere).
    pub secrets: Vec<[u8; 32]>,
    /// Whether a support secret was sent to control.
    pub support_sent: bool,
    /// The nodes signed, as control listed them.
    pub signed: Vec<(NodeId, NodeKey)>,
    /// Nodes whose rotation key from control was unusable (wrong length or
    /// a small-order point) and were signed without one.
    pub rotation_key_dropped: Vec<NodeId>,
}

enum Phase {
    Begin,
    Finish,
    Done,
}

/// The `lock init` flow (Go's `TailnetLockInit`). Builds the genesis
/// checkpoint, sends it with `init/begin`, signs every node control lists
/// (a Direct signature keeping the node's rotation key) and sends them
/// with `init/finish`. The node's own store is not touched: the node
/// bootstraps from control afterwards like every other node.
pub struct Init {
    id: Identity,
    genesis: Aum,
    secrets: Vec<[u8; 32]>,
    support: Option<[u8; 32]>,
    signed: Vec<(NodeId, NodeKey)>,
    dropped: Vec<NodeId>,
    phase: Phase,
}

impl Init {
    /// Prepares `init` with the initial `keys` and extra disablement
    /// `values` (already KDF'd, Go's `disablement:` arguments; raw
    /// `disablement-secret:` arguments go through [`disablement_kdf`]
    /// first). `already_enabled` is whether the node has an authority.
    ///
    /// Refuses unless this node's key is among `keys`, and unless at least
    /// one disablement value results. Runs the Argon2i KDF once per
    /// generated secret.
    pub fn new(
        id: Identity,
        already_enabled: bool,
        keys: Vec<Key>,
        values: Vec<Vec<u8>>,
        random: InitRandom,
        now: u64,
    ) -> Result<Self, AdminError> {
        if already_enabled {
            return Err(AdminError::AlreadyEnabled);
        }
        let ours = id.key.public().0;
        if !keys.iter().any(|k| k.id().is_ok_and(|k| k == ours)) {
            return Err(AdminError::SelfKeyNotInitial);
        }
        let mut values = values;
        for s in random.secrets.iter().chain(random.support.iter()) {
            let v = disablement_kdf(s).map_err(AdminError::Kdf)?;
            values.push(v.to_vec());
        }
        if values.is_empty() {
            return Err(AdminError::NoDisablement);
        }
        let (lo, hi) = random.state_ids.split_at(8);
        let state = State {
            keys: Some(keys),
            disablement_values: Some(values.into_iter().map(Some).collect()),
            state_id1: u64::from_le_bytes(lo.try_into().expect("8 bytes")),
            state_id2: u64::from_le_bytes(hi.try_into().expect("8 bytes")),
            ..State::default()
        };
        // Go builds the genesis through Create on a throwaway store, which
        // also checks it verifies as a genesis.
        let (_, genesis) = Authority::create(&mut MemStorage::new(), state, &id.key, now)?;
        Ok(Init {
            id,
            genesis,
            secrets: random.secrets,
            support: random.support,
            signed: Vec::new(),
            dropped: Vec::new(),
            phase: Phase::Begin,
        })
    }

    /// The genesis AUM this init proposes.
    pub fn genesis(&self) -> &Aum {
        &self.genesis
    }
}

impl Flow for Init {
    type Output = InitOutcome;

    fn start(&mut self) -> Result<Step<InitOutcome>, AdminError> {
        Ok(Step::Send(Request::of(&wire::InitBeginRequest {
            version: CAPABILITY_VERSION,
            node_key: self.id.node_key,
            genesis_aum: Some(self.genesis.to_cbor()),
        })))
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<InitOutcome>, AdminError> {
        match self.phase {
            Phase::Begin => {
                let resp = parse::<wire::InitBeginRequest>(body)?;
                let mut sigs = BTreeMap::new();
                for info in resp.need_signatures.unwrap_or_default() {
                    let wrapping = usable_wrapping_key(info.rotation_pubkey.as_deref());
                    if wrapping.is_none()
                        && info.rotation_pubkey.as_ref().is_some_and(|k| !k.is_empty())
                    {
                        self.dropped.push(info.node_id);
                    }
                    let nks =
                        NodeKeySignature::sign_direct(&self.id.key, &info.node_public, wrapping)?;
                    sigs.insert(info.node_id, nks.to_cbor());
                    self.signed.push((info.node_id, info.node_public));
                }
                self.phase = Phase::Finish;
                Ok(Step::Send(Request::of(&wire::InitFinishRequest {
                    version: CAPABILITY_VERSION,
                    node_key: self.id.node_key,
                    signatures: Some(sigs),
                    support_disablement: self.support.map(|s| s.to_vec()).unwrap_or_default(),
                })))
            }
            Phase::Finish => {
                parse::<wire::InitFinishRequest>(body)?;
                self.phase = Phase::Done;
                Ok(Step::Done(InitOutcome {
                    genesis: self.genesis.clone(),
                    secrets: self.secrets.clone(),
                    support_sent: self.support.is_some(),
                    signed: std::mem::take(&mut self.signed),
                    rotation_key_dropped: std::mem::take(&mut self.dropped),
                }))
            }
            Phase::Done => Err(AdminError::Finished),
        }
    }
}
