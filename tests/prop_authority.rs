//! Property: over random forked DAGs of valid AUMs, the head and state never
//! depend on the order in which AUMs are informed (or on batching, or on
//! reopening from storage), and they match a plain reference computation of
//! Go's fork-choice rules plus this crate's rule that sets signature
//! variants aside (SPEC §5.2). The generator sometimes adds variants of
//! earlier AUMs (signatures reordered or dropped), the way a relay that
//! holds an AUM but no private key can.

use proptest::prelude::*;
use std::collections::HashMap;
use tka::builder::Signer;
use tka::{Aum, AumHash, AumKind, Authority, Key, MemStorage, NlPrivate, State, Storage};

/// A tiny deterministic generator driven by the proptest seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn pool() -> Vec<NlPrivate> {
    (0..6u8)
        .map(|i| NlPrivate::from_seed(&[i + 1; 32]))
        .collect()
}

struct Node {
    aum: Aum,
    hash: AumHash,
    state: State,
}

/// A random tree of valid AUMs rooted at a genesis checkpoint.
fn random_dag(seed: u64, n: usize) -> Vec<Node> {
    let mut rng = Rng(seed | 1);
    let keys = pool();
    let votes: Vec<u64> = (0..keys.len()).map(|_| 1 + rng.below(3) as u64).collect();
    let genesis_state = State {
        last_aum_hash: None,
        disablement_values: Some(vec![Some(vec![7; 32])]),
        keys: Some((0..3).map(|i| keys[i].to_key(votes[i])).collect()),
        state_id1: 11,
        state_id2: 12,
    };
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(genesis_state),
        ..Default::default()
    };
    g.signatures = Some(keys[0].sign_aum(&g.sig_hash()));
    let gh = g.hash();
    let mut st = g.state.clone().unwrap();
    st.last_aum_hash = Some(gh);
    let mut nodes = vec![Node {
        aum: g,
        hash: gh,
        state: st,
    }];
    let mut seen = std::collections::HashSet::new();
    seen.insert(gh);
    for _ in 0..n {
        let p = rng.below(nodes.len());
        let parent_state = nodes[p].state.clone();
        let trusted: Vec<usize> = (0..keys.len())
            .filter(|&i| parent_state.key(&keys[i].public().0).is_some())
            .collect();
        let untrusted: Vec<usize> = (0..keys.len()).filter(|i| !trusted.contains(i)).collect();
        let mut aum = Aum {
            prev_aum_hash: Some(nodes[p].hash.0.to_vec()),
            ..Default::default()
        };
        match rng.below(4) {
            0 if !untrusted.is_empty() => {
                let k = untrusted[rng.below(untrusted.len())];
                aum.message_kind = AumKind::ADD_KEY;
                aum.key = Some(keys[k].to_key(votes[k]));
            }
            1 if trusted.len() > 1 => {
                let k = trusted[rng.below(trusted.len())];
                aum.message_kind = AumKind::REMOVE_KEY;
                aum.key_id = Some(keys[k].public().0.to_vec());
            }
            2 => {
                let k = trusted[rng.below(trusted.len())];
                aum.message_kind = AumKind::UPDATE_KEY;
                aum.key_id = Some(keys[k].public().0.to_vec());
                aum.votes = Some(1 + rng.below(4) as u64);
            }
            _ => aum.message_kind = AumKind::NO_OP,
        }
        // A variant of an earlier AUM now and then: its signatures
        // reordered or some dropped. Same SigHash, same effect, new hash.
        if nodes.len() > 1 && rng.below(3) == 0 {
            let o = 1 + rng.below(nodes.len() - 1);
            let mut v = nodes[o].aum.clone();
            let mut sigs = v.signatures.take().unwrap();
            for i in (1..sigs.len()).rev() {
                sigs.swap(i, rng.below(i + 1));
            }
            sigs.truncate(1 + rng.below(sigs.len()));
            v.signatures = Some(sigs);
            let h = v.hash();
            if seen.insert(h) {
                let parent = v.parent().unwrap();
                let mut state = nodes
                    .iter()
                    .find(|n| n.hash == parent)
                    .unwrap()
                    .state
                    .clone();
                state
                    .apply(&v, h)
                    .expect("a variant applies like its original");
                nodes.push(Node {
                    aum: v,
                    hash: h,
                    state,
                });
            }
            continue;
        }
        // One to three distinct trusted signers, in random order.
        let mut signers = trusted.clone();
        for i in (1..signers.len()).rev() {
            signers.swap(i, rng.below(i + 1));
        }
        signers.truncate(1 + rng.below(signers.len().min(3)));
        let sh = aum.sig_hash();
        let mut sigs = Vec::new();
        for k in signers {
            sigs.extend(keys[k].sign_aum(&sh));
        }
        aum.signatures = Some(sigs);
        let h = aum.hash();
        if !seen.insert(h) {
            continue;
        }
        let mut state = parent_state;
        state.apply(&aum, h).expect("generated AUMs apply");
        nodes.push(Node {
            aum,
            hash: h,
            state,
        });
    }
    nodes
}

fn signer_ids(n: &Node) -> Vec<Vec<u8>> {
    let mut ids: Vec<Vec<u8>> = n
        .aum
        .signatures()
        .iter()
        .map(|s| s.key_id.clone().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The longest path below `h` among `nodes` (0 for a leaf).
fn height(children: &HashMap<AumHash, Vec<&Node>>, h: AumHash) -> usize {
    children.get(&h).map_or(0, |kids| {
        kids.iter()
            .map(|k| 1 + height(children, k.hash))
            .max()
            .unwrap_or(0)
    })
}

/// The fork-choice rules, computed directly: from the genesis, repeatedly
/// take the child with the most votes from distinct signers trusted at the
/// parent, preferring RemoveKey on a tie, then the lowest hash (Go's
/// rules). With `set_aside`, first drop each child X for which a sibling Y
/// with the same SigHash was signed by every key that signed X and ranks
/// before X (taller subtree, then more weight, then lower hash).
fn reference_head(nodes: &[Node], set_aside: bool) -> (AumHash, State) {
    let mut children: HashMap<AumHash, Vec<&Node>> = HashMap::new();
    for n in &nodes[1..] {
        children.entry(n.aum.parent().unwrap()).or_default().push(n);
    }
    let mut cur = &nodes[0];
    while let Some(kids) = children.get(&cur.hash) {
        let weight = |n: &Node| -> u64 {
            signer_ids(n)
                .iter()
                .filter_map(|id| cur.state.key(id).map(|k: &Key| k.votes))
                .sum()
        };
        let rank = |n: &Node| {
            (
                std::cmp::Reverse(height(&children, n.hash)),
                std::cmp::Reverse(weight(n)),
                n.hash,
            )
        };
        let dominated = |x: &Node| {
            kids.iter().any(|y| {
                y.hash != x.hash
                    && y.aum.sig_hash() == x.aum.sig_hash()
                    && signer_ids(x).iter().all(|id| signer_ids(y).contains(id))
                    && rank(y) < rank(x)
            })
        };
        let best = kids
            .iter()
            .copied()
            .filter(|x| !set_aside || !dominated(x))
            .max_by_key(|n| {
                (
                    weight(n),
                    n.aum.message_kind == AumKind::REMOVE_KEY,
                    std::cmp::Reverse(n.hash),
                )
            })
            .unwrap();
        cur = best;
    }
    (cur.hash, cur.state.clone())
}

#[test]
fn the_generator_makes_dags_where_the_variant_rule_changes_the_head() {
    // Without this, the property below could pass with a generator that
    // never reaches the rule.
    let differ = (0..200u64)
        .filter(|&seed| {
            let nodes = random_dag(seed, 20);
            reference_head(&nodes, true) != reference_head(&nodes, false)
        })
        .count();
    assert!(differ >= 5, "only {differ} of 200 DAGs exercise the rule");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn head_is_order_independent_and_matches_reference(
        seed in any::<u64>(),
        n in 1usize..28,
        order_seed in any::<u64>(),
    ) {
        let nodes = random_dag(seed, n);
        let (want_head, want_state) = reference_head(&nodes, true);

        // A random topological order, informed in random batches.
        let mut rng = Rng(order_seed | 1);
        let mut emitted = std::collections::HashSet::new();
        emitted.insert(nodes[0].hash);
        let mut pending: Vec<usize> = (1..nodes.len()).collect();
        let mut order = Vec::new();
        while !pending.is_empty() {
            let ready: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|&i| emitted.contains(&nodes[i].aum.parent().unwrap()))
                .collect();
            let pick = ready[rng.below(ready.len())];
            emitted.insert(nodes[pick].hash);
            pending.retain(|&i| i != pick);
            order.push(pick);
        }
        let mut storage = MemStorage::new();
        let mut a = Authority::bootstrap(&mut storage, nodes[0].aum.clone(), 0).unwrap();
        let mut i = 0;
        while i < order.len() {
            let take = 1 + rng.below(4);
            let batch: Vec<Aum> = order[i..(i + take).min(order.len())]
                .iter()
                .map(|&j| nodes[j].aum.clone())
                .collect();
            a.inform(&mut storage, &batch, 0).unwrap();
            i += take;
        }
        prop_assert_eq!(a.head(), want_head);
        prop_assert_eq!(a.state(), &want_state);
        let reopened = Authority::open(&storage).unwrap();
        prop_assert_eq!(reopened.head(), want_head);
        prop_assert_eq!(reopened.state(), &want_state);

        // Informing everything again changes nothing.
        let all: Vec<Aum> = order.iter().map(|&j| nodes[j].aum.clone()).collect();
        if !all.is_empty() {
            a.inform(&mut storage, &all, 0).unwrap();
            prop_assert_eq!(a.head(), want_head);
        }

        // A copy of any AUM with one of its signatures repeated is refused
        // (duplicate signer), and nothing moves.
        if nodes.len() < 2 {
            return Ok(());
        }
        let mut dup = nodes[1 + rng.below(nodes.len() - 1)].aum.clone();
        let sigs = dup.signatures.as_mut().unwrap();
        let again = sigs[rng.below(sigs.len())].clone();
        sigs.insert(rng.below(sigs.len() + 1), again);
        let err = a.inform(&mut storage, &[dup.clone()], 0).unwrap_err();
        prop_assert!(
            matches!(
                err,
                tka::AuthorityError::UpdateInvalid {
                    error: tka::AumVerifyError::DuplicateSigner { .. },
                    ..
                }
            ),
            "{}",
            err
        );
        prop_assert!(storage.aum(&dup.hash()).unwrap().is_none());
        prop_assert_eq!(a.head(), want_head);
    }
}
