//! Netmap glue: map-response JSON (parsed with the wire types) to machine
//! events, and those events driving a real machine against the control
//! responder.

use bytes::Bytes;
use tka::builder::Signer;
use tka::control::ControlResponder;
use tka::machine::{Action, Config, Event, Mode, Peer, Persisted, Time, TkaMachine, Verdict};
use tka::netmap::{self, PeerChange, TkaInfoStream};
use tka::wire::{FromWire, MapResponseTka, NodeTka, TkaInfo};
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State};

const HEAD: &str = "RBJYEA2635APAZONOFSS4MGR5P3EOKUE2Y3I5JAMCUSRXJPHMWXA";

fn info(json: &str) -> Option<TkaInfo> {
    MapResponseTka::from_json(json.as_bytes()).unwrap().tka_info
}

fn state(ev: Option<Event>) -> Option<(bool, Option<String>)> {
    ev.map(|e| match e {
        Event::ControlState { enabled, head } => (enabled, head.map(|h| h.to_string())),
        other => panic!("not a control state: {other:?}"),
    })
}

#[test]
fn a_missing_tka_info_is_off_first_and_unchanged_later() {
    let mut s = TkaInfoStream::new();
    assert_eq!(
        state(s.next(info(r#"{"Peers":[]}"#).as_ref())),
        Some((false, None))
    );
    assert_eq!(state(s.next(info(r#"{"TKAInfo":null}"#).as_ref())), None);
    let on = info(&format!(r#"{{"TKAInfo":{{"Head":"{HEAD}"}}}}"#));
    assert_eq!(state(s.next(on.as_ref())), Some((true, Some(HEAD.into()))));
    assert_eq!(state(s.next(None)), None, "later: unchanged");
    let off = info(r#"{"TKAInfo":{"Disabled":true}}"#);
    assert_eq!(state(s.next(off.as_ref())), Some((false, None)));
    // An unparseable head turns the lock off for that netmap, as in Go.
    let bad = info(r#"{"TKAInfo":{"Head":"garbage"}}"#);
    assert_eq!(state(s.next(bad.as_ref())), Some((false, None)));
    // An empty head with the lock on: enabled, no head yet.
    let empty = info(r#"{"TKAInfo":{}}"#);
    assert_eq!(state(s.next(empty.as_ref())), Some((true, None)));
    // A new stream starts over.
    let mut s = TkaInfoStream::new();
    assert_eq!(state(s.next(None)), Some((false, None)));
    // The pure form.
    assert_eq!(state(netmap::control_state(false, None)), None);
}

#[test]
fn nodes_become_peers_and_patches_change_key_and_signature() {
    let key = NodeKey([3; 32]);
    let json = format!(
        r#"{{"ID":7,"Key":"{key}","KeySignature":"AQID","UnsignedPeerAPIOnly":true,"Name":"x"}}"#
    );
    let node = NodeTka::from_json(json.as_bytes()).unwrap();
    let p = netmap::peer(&node);
    assert_eq!(
        p,
        Peer {
            node_id: 7,
            node_key: key,
            signature: Bytes::from_static(&[1, 2, 3]),
            unsigned_peer_api_only: true,
        }
    );
    match netmap::self_signature(&node) {
        Event::SelfSignature(b) => assert_eq!(&b[..], &[1, 2, 3]),
        other => panic!("{other:?}"),
    }
    // A patch naming nothing Tailnet Lock looks at, another peer, or an
    // unknown peer: nothing.
    let none = PeerChange {
        node_id: 7,
        ..Default::default()
    };
    assert!(netmap::apply_patch(Some(&p), &none).is_none());
    let other = PeerChange {
        node_id: 8,
        key_signature: Some(Bytes::new()),
        ..Default::default()
    };
    assert!(netmap::apply_patch(Some(&p), &other).is_none());
    assert!(netmap::apply_patch(None, &other).is_none());
    // The same signature again: nothing changed.
    let same = PeerChange {
        node_id: 7,
        key_signature: Some(Bytes::from_static(&[1, 2, 3])),
        ..Default::default()
    };
    assert!(netmap::apply_patch(Some(&p), &same).is_none());
    // An empty signature clears it; a new key replaces it.
    let clear = PeerChange {
        node_id: 7,
        key: Some(NodeKey([4; 32])),
        key_signature: Some(Bytes::new()),
    };
    match netmap::apply_patch(Some(&p), &clear) {
        Some(Event::PeerUpserted(q)) => {
            assert!(q.signature.is_empty());
            assert_eq!(q.node_key, NodeKey([4; 32]));
            assert!(q.unsigned_peer_api_only);
        }
        other => panic!("{other:?}"),
    }
}

/// A node fed full netmaps and a signature patch through the glue, against
/// the control responder.
#[test]
fn netmaps_through_the_glue_drive_the_machine() {
    let admin = NlPrivate::from_seed(&[42; 32]);
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![9; 32])]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 1,
            state_id2: 2,
        }),
        ..Default::default()
    };
    g.signatures = Some(admin.sign_aum(&g.sig_hash()));
    let mut cs = MemStorage::new();
    Authority::bootstrap(&mut cs, g.clone(), 0).unwrap();
    let mut control = ControlResponder::enabled(cs, g).unwrap();
    let head = control.authority().unwrap().head();

    let me = NodeKey([9; 32]);
    let signed = |k: &NodeKey| {
        data_encoding::BASE64.encode(
            &NodeKeySignature::sign_direct(&admin, k, None)
                .unwrap()
                .to_cbor(),
        )
    };
    let (k1, k2) = (NodeKey([1; 32]), NodeKey([2; 32]));
    let map = format!(
        r#"{{"TKAInfo":{{"Head":"{head}"}},
            "Node":{{"ID":100,"Key":"{me}","KeySignature":"{}"}},
            "Peers":[{{"ID":2,"Key":"{k2}"}},{{"ID":1,"Key":"{k1}","KeySignature":"{}"}}]}}"#,
        signed(&me),
        signed(&k1)
    );
    #[derive(serde::Deserialize)]
    struct Map {
        #[serde(rename = "Node")]
        node: serde_json::Value,
        #[serde(rename = "Peers")]
        peers: Vec<serde_json::Value>,
    }
    let m: Map = serde_json::from_str(&map).unwrap();
    let self_node = NodeTka::from_json(m.node.to_string().as_bytes()).unwrap();
    let peers: Vec<NodeTka> = m
        .peers
        .iter()
        .map(|p| NodeTka::from_json(p.to_string().as_bytes()).unwrap())
        .collect();
    let tka = MapResponseTka::from_json(map.as_bytes()).unwrap().tka_info;

    let mut stream = TkaInfoStream::new();
    let events = netmap::netmap_events(&mut stream, tka.as_ref(), Some(&self_node), &peers);
    assert!(matches!(
        events[0],
        Event::ControlState { enabled: true, .. }
    ));
    assert!(matches!(events[1], Event::SelfSignature(_)));
    assert!(matches!(&events[2], Event::PeersReplaced(l) if l[0].node_id == 1));

    let mut now = Time::from_unix_secs(1_800_000_000);
    let mut node = TkaMachine::new(Config::new(me, Mode::Enforce), Persisted::default(), now);
    let mut run = |node: &mut TkaMachine, now: &mut Time| {
        while let Some(a) = node.poll_action() {
            if let Action::SendRequest { id, path, body } = a {
                let resp = control.handle(path, &body, *now).unwrap();
                *now = now.plus_ms(10);
                node.handle_event(
                    *now,
                    Event::Response {
                        id,
                        body: Bytes::from(resp),
                    },
                );
            }
        }
    };
    for ev in events {
        node.handle_event(now, ev);
        run(&mut node, &mut now);
    }
    assert_eq!(node.authority().unwrap().head(), head);
    assert!(matches!(node.verdicts()[&1], Verdict::Authorized(_)));
    assert!(!node.verdicts()[&2].admits());
    assert!(node.health().is_empty(), "{:?}", node.health());

    // A later response without TKAInfo says nothing about the lock; a
    // KeySignature patch signs peer 2.
    assert!(stream.next(None).is_none());
    let patch = PeerChange {
        node_id: 2,
        key: None,
        key_signature: Some(Bytes::from(
            data_encoding::BASE64
                .decode(signed(&k2).as_bytes())
                .unwrap(),
        )),
    };
    let ev = netmap::apply_patch(node.peer(2), &patch).expect("a change");
    node.handle_event(now, ev);
    run(&mut node, &mut now);
    assert!(matches!(node.verdicts()[&2], Verdict::Authorized(_)));
}
