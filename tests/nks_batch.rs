//! Batch node-key checks give exactly the single-check verdicts.
use tka::sig::{node_key_authorized, node_keys_authorized, resign};
use tka::{NlPrivate, NodeKey, NodeKeySignature};

fn nk(i: u8) -> NodeKey {
    NodeKey([i; 32])
}

#[test]
fn batch_verdicts_equal_single_verdicts() {
    let trusted = NlPrivate::from_seed(&[1; 32]);
    let stranger = NlPrivate::from_seed(&[2; 32]);
    let rot = NlPrivate::from_seed(&[3; 32]);
    let keys = vec![trusted.to_key(1)];
    let mut peers: Vec<(NodeKey, Vec<u8>)> = Vec::new();
    for i in 0..20u8 {
        peers.push((
            nk(i),
            NodeKeySignature::sign_direct(&trusted, &nk(i), None)
                .unwrap()
                .to_cbor(),
        ));
    }
    // A signature for another node key, one by an untrusted key, garbage,
    // a corrupted signature, and an honest rotation.
    peers.push((
        nk(50),
        NodeKeySignature::sign_direct(&trusted, &nk(51), None)
            .unwrap()
            .to_cbor(),
    ));
    peers.push((
        nk(52),
        NodeKeySignature::sign_direct(&stranger, &nk(52), None)
            .unwrap()
            .to_cbor(),
    ));
    peers.push((nk(53), vec![0xa1, 0x01]));
    let mut bad = NodeKeySignature::sign_direct(&trusted, &nk(54), None).unwrap();
    bad.signature.as_mut().unwrap()[5] ^= 1;
    peers.push((nk(54), bad.to_cbor()));
    let d = NodeKeySignature::sign_direct(&trusted, &nk(55), Some(rot.public().0)).unwrap();
    peers.push((nk(56), resign(&rot, &nk(56), &d.to_cbor()).unwrap()));

    let refs: Vec<(NodeKey, &[u8])> = peers.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    let batch = node_keys_authorized(&keys, &refs);
    assert_eq!(batch.len(), refs.len());
    for ((n, s), got) in refs.iter().zip(&batch) {
        let single = node_key_authorized(&keys, n, s);
        assert_eq!(got, &single, "verdict for {n}");
    }
    assert_eq!(batch.iter().filter(|r| r.is_ok()).count(), 21);
}
