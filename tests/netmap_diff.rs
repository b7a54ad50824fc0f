//! A full netmap that differs a little from the last one is applied peer by
//! peer (the difference found by node ID, in any order); a large one
//! rebuilds the set. Either way the outcome must be the one a machine that
//! sees only the new netmap reaches: the same verdicts, and the same last
//! `PeerVerdict` emitted for every peer. Exercised over random netmap
//! sequences with valid, forged, missing and peer-API-only signatures,
//! rotation chains (obsolete keys, competing chains) and repeated node IDs.

use bytes::Bytes;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tka::machine::{Action, Event, Peer, PeerVerdict, Time, TkaMachine};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

#[path = "../benches/common/mod.rs"]
mod common;

fn trusted() -> NlPrivate {
    NlPrivate::from_seed(&[3; 32])
}

fn nk(i: u8) -> NodeKey {
    NodeKey([i; 32])
}

/// The peer variants a node ID can take: `variant` picks the key and the
/// kind of signature.
fn peer(id: i64, variant: u8) -> Peer {
    let k = trusted();
    let wrap = NlPrivate::from_seed(&[9; 32]);
    let key = nk(variant % 4 + 1);
    let signature = match variant % 8 {
        // Direct, trusted signer.
        0 | 1 => NodeKeySignature::sign_direct(&k, &key, Some(wrap.public().0))
            .unwrap()
            .to_cbor(),
        // Direct, untrusted signer.
        2 => NodeKeySignature::sign_direct(&NlPrivate::from_seed(&[4; 32]), &key, None)
            .unwrap()
            .to_cbor(),
        // No signature.
        3 => Vec::new(),
        // Rotation chains sharing the wrapping key: key 1 -> key, and
        // key 1 -> key 2 -> key (longer), so they compete and obsolete
        // earlier keys.
        4 | 5 => {
            let direct = NodeKeySignature::sign_direct(&k, &nk(1), Some(wrap.public().0)).unwrap();
            NodeKeySignature::sign_rotation(&wrap, &key.to_binary(), direct).to_cbor()
        }
        6 => {
            let direct = NodeKeySignature::sign_direct(&k, &nk(1), Some(wrap.public().0)).unwrap();
            let mid = NodeKeySignature::sign_rotation(&wrap, &nk(2).to_binary(), direct);
            NodeKeySignature::sign_rotation(&wrap, &key.to_binary(), mid).to_cbor()
        }
        // Garbage bytes.
        _ => vec![0xa1, 0x01, 0x02],
    };
    Peer {
        node_id: id,
        node_key: key,
        signature: Bytes::from(signature),
        unsigned_peer_api_only: variant >= 16,
    }
}

fn drain(m: &mut TkaMachine, last: &mut BTreeMap<i64, PeerVerdict>) {
    while let Some(a) = m.poll_action() {
        if let Action::PeerVerdict(pv) = a {
            last.insert(pv.node_id, pv);
        }
    }
}

/// A netmap: (node ID, variant) pairs, in the order given.
fn netmap() -> impl Strategy<Value = Vec<(i64, u8)>> {
    proptest::collection::vec((0i64..24, 0u8..20), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_netmap_applied_as_a_difference_ends_like_a_fresh_one(
        first in netmap(),
        // Later netmaps: the previous one with a few edits, shuffled.
        edits in proptest::collection::vec(
            (proptest::collection::vec((0i64..24, 0u8..20), 0..3), 0usize..3, any::<u64>()),
            1..6,
        ),
    ) {
        let k = trusted();
        let mut m = common::machine_with_authority(&k);
        let mut shown = BTreeMap::new();
        drain(&mut m, &mut shown);
        let mut current = first;
        let mut step = 0i64;
        loop {
            let list: Vec<Peer> = current.iter().map(|(id, v)| peer(*id, *v)).collect();
            m.handle_event(Time(10 + step as u64), Event::PeersReplaced(list.clone()));
            drain(&mut m, &mut shown);

            let mut fresh = common::machine_with_authority(&k);
            let mut fresh_shown = BTreeMap::new();
            drain(&mut fresh, &mut fresh_shown);
            fresh.handle_event(Time(10 + step as u64), Event::PeersReplaced(list));
            drain(&mut fresh, &mut fresh_shown);

            prop_assert_eq!(m.verdicts(), fresh.verdicts());
            // The last verdict emitted for each present peer is the same.
            shown.retain(|id, _| m.verdicts().contains_key(id));
            prop_assert_eq!(&shown, &fresh_shown);

            let Some((add, drop_n, seed)) = edits.get(step as usize) else { break };
            step += 1;
            let mut next = current.clone();
            for _ in 0..*drop_n {
                if !next.is_empty() {
                    next.remove((*seed as usize) % next.len());
                }
            }
            next.extend(add.iter().copied());
            // A fixed shuffle from the seed.
            let mut s = *seed | 1;
            for i in (1..next.len()).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                next.swap(i, (s % (i as u64 + 1)) as usize);
            }
            current = next;
        }
    }
}

#[test]
fn an_unchanged_netmap_in_another_order_emits_nothing() {
    let k = trusted();
    let mut m = common::machine_with_authority(&k);
    let mut shown = BTreeMap::new();
    drain(&mut m, &mut shown);
    let list: Vec<Peer> = (0..40).map(|i| peer(i, (i % 20) as u8)).collect();
    m.handle_event(Time(1), Event::PeersReplaced(list.clone()));
    drain(&mut m, &mut shown);
    assert_eq!(shown.len(), 40);
    let before = m.verdicts().clone();
    let mut reordered = list;
    reordered.reverse();
    m.handle_event(Time(2), Event::PeersReplaced(reordered));
    assert!(
        std::iter::from_fn(|| m.poll_action()).all(|a| !matches!(a, Action::PeerVerdict(_))),
        "no verdict changed"
    );
    assert_eq!(m.verdicts(), &before);
}
