//! A small notation for AUM chains in tests.
//!
//! One line per AUM: `NAME <- PARENT KIND [ARG] by SIGNER[,SIGNER...]`, or
//! for the genesis `NAME checkpoint KEY[:VOTES],... by SIGNER`. Keys are
//! named by short words; each name maps to a deterministic Ed25519 key.
//!
//! ```text
//! G  checkpoint k1,k2:2   by k1        G -> A -> B
//! A  <- G  add k3         by k1             \-> C
//! B  <- A  noop           by k1
//! C  <- A  remove k3      by k2
//! ```
//!
//! Kinds: `add KEY[:VOTES]`, `remove KEY`, `noop`, `votes KEY N`,
//! `checkpoint KEY[:VOTES],...` (on a parent: same state IDs).
#![allow(dead_code)]

use std::collections::HashMap;
use tka::builder::Signer;
use tka::{Aum, AumHash, AumKind, Key, NlPrivate, State};

/// The deterministic key for a name.
pub fn key(name: &str) -> NlPrivate {
    let mut seed = [0u8; 32];
    for (i, b) in name.bytes().enumerate() {
        seed[i % 32] ^= b;
    }
    seed[31] = 0x5a;
    NlPrivate::from_seed(&seed)
}

/// A parsed chain: AUMs by name, in the order written.
pub struct Chain {
    pub names: Vec<String>,
    pub aums: HashMap<String, Aum>,
}

fn parse_keys(list: &str) -> Vec<Key> {
    list.split(',')
        .map(|k| {
            let (name, votes) = k.split_once(':').unwrap_or((k, "1"));
            key(name).to_key(votes.parse().unwrap())
        })
        .collect()
}

/// The state a notation checkpoint carries.
pub fn checkpoint_state(list: &str) -> State {
    State {
        last_aum_hash: None,
        disablement_values: Some(vec![Some(vec![0xd1; 32])]),
        keys: Some(parse_keys(list)),
        state_id1: 1,
        state_id2: 2,
    }
}

impl Chain {
    /// Parses the notation; the AUMs are signed as written.
    pub fn parse(text: &str) -> Chain {
        let mut c = Chain {
            names: Vec::new(),
            aums: HashMap::new(),
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap().trim();
            if line.is_empty() {
                continue;
            }
            let (body, signers) = line.rsplit_once(" by ").expect("a line needs `by`");
            let mut words = body.split_whitespace();
            let name = words.next().unwrap().to_owned();
            let mut next = words.next().unwrap();
            let parent = if next == "<-" {
                let p = words.next().unwrap();
                next = words.next().unwrap();
                Some(c.hash(p))
            } else {
                None
            };
            let args: Vec<&str> = words.collect();
            let mut aum = Aum {
                prev_aum_hash: parent.map(|h| h.0.to_vec()),
                ..Default::default()
            };
            match next {
                "checkpoint" => {
                    aum.message_kind = AumKind::CHECKPOINT;
                    aum.state = Some(checkpoint_state(args[0]));
                }
                "add" => {
                    aum.message_kind = AumKind::ADD_KEY;
                    aum.key = Some(parse_keys(args[0]).remove(0));
                }
                "remove" => {
                    aum.message_kind = AumKind::REMOVE_KEY;
                    aum.key_id = Some(key(args[0]).public().0.to_vec());
                }
                "votes" => {
                    aum.message_kind = AumKind::UPDATE_KEY;
                    aum.key_id = Some(key(args[0]).public().0.to_vec());
                    aum.votes = Some(args[1].parse().unwrap());
                }
                "noop" => aum.message_kind = AumKind::NO_OP,
                k => panic!("unknown kind {k}"),
            }
            let sig_hash = aum.sig_hash();
            let sigs = signers
                .split(',')
                .flat_map(|s| key(s.trim()).sign_aum(&sig_hash))
                .collect();
            aum.signatures = Some(sigs);
            c.names.push(name.clone());
            c.aums.insert(name, aum);
        }
        c
    }

    /// Adds `name`: a copy of `of` whose signature list is `of`'s
    /// signatures picked by index, so repeated, reordered or dropped. Anyone
    /// holding `of` can make it: no private key is needed, the SigHash is
    /// the same and the hash differs.
    pub fn variant(&mut self, of: &str, name: &str, picks: &[usize]) -> AumHash {
        let mut aum = self.aums[of].clone();
        let sigs = aum.signatures.take().unwrap_or_default();
        aum.signatures = Some(picks.iter().map(|i| sigs[*i].clone()).collect());
        let h = aum.hash();
        self.names.push(name.to_owned());
        self.aums.insert(name.to_owned(), aum);
        h
    }

    /// The hash of a named AUM.
    pub fn hash(&self, name: &str) -> AumHash {
        self.aums[name].hash()
    }

    /// The named AUMs, in the order given.
    pub fn get(&self, names: &[&str]) -> Vec<Aum> {
        names.iter().map(|n| self.aums[*n].clone()).collect()
    }

    /// The name of an AUM by hash.
    pub fn name_of(&self, h: AumHash) -> String {
        self.names
            .iter()
            .find(|n| self.hash(n) == h)
            .cloned()
            .unwrap_or_else(|| h.to_string())
    }
}
