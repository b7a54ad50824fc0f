//! The control-side responder: bootstrap, sync-offer and sync-send, typed
//! and through the JSON handler.

use tka::builder::Signer;
use tka::control::{ControlError, ControlResponder};
use tka::wire::{self, FromWire, Path, Rpc, ToWire, WireError};
use tka::{
    Aum, AumHash, AumKind, AumVerifyError, Authority, AuthorityError, MemStorage, NlPrivate,
    NodeKey, State, Storage, SyncError, Time,
};

const SECRET: &[u8] = b"the tailnet's disablement secret";
const NOW: u64 = 1_800_000_000;
const NODE: NodeKey = NodeKey([7; 32]);

fn admin() -> NlPrivate {
    NlPrivate::from_seed(&[0xa1; 32])
}

fn second() -> NlPrivate {
    NlPrivate::from_seed(&[0xa2; 32])
}

fn stranger() -> NlPrivate {
    NlPrivate::from_seed(&[0xee; 32])
}

fn signed(mut aum: Aum, by: &[&NlPrivate]) -> Aum {
    let sh = aum.sig_hash();
    aum.signatures = Some(by.iter().flat_map(|k| k.sign_aum(&sh)).collect());
    aum
}

fn genesis_state(secret: &[u8], id: u64) -> State {
    State {
        last_aum_hash: None,
        disablement_values: Some(vec![Some(
            tka::kdf::disablement_kdf(secret).unwrap().to_vec(),
        )]),
        keys: Some(vec![admin().to_key(1), second().to_key(1)]),
        state_id1: id,
        state_id2: 2,
    }
}

fn noop(parent: AumHash, by: &[&NlPrivate]) -> Aum {
    signed(
        Aum {
            message_kind: AumKind::NO_OP,
            prev_aum_hash: Some(parent.0.to_vec()),
            ..Default::default()
        },
        by,
    )
}

/// A genesis and `n` AUMs after it (a checkpoint every 50), signed by the
/// admin key.
fn chain(state: &State, n: usize) -> Vec<Aum> {
    let mut out = vec![signed(
        Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(state.clone()),
            ..Default::default()
        },
        &[&admin()],
    )];
    for i in 1..=n {
        let parent = out[i - 1].hash();
        let aum = if i % 50 == 0 {
            signed(
                Aum {
                    message_kind: AumKind::CHECKPOINT,
                    prev_aum_hash: Some(parent.0.to_vec()),
                    state: Some(state.clone()),
                    ..Default::default()
                },
                &[&admin()],
            )
        } else {
            noop(parent, &[&admin()])
        };
        out.push(aum);
    }
    out
}

/// Control holding `aums[..=upto]`.
fn control_at(aums: &[Aum], upto: usize) -> ControlResponder<MemStorage> {
    let mut s = MemStorage::new();
    let mut a = Authority::bootstrap(&mut s, aums[0].clone(), NOW).unwrap();
    if upto > 0 {
        a.inform(&mut s, &aums[1..=upto], NOW).unwrap();
    }
    ControlResponder::enabled(s, aums[0].clone()).unwrap()
}

fn hashes(aums: &[Aum]) -> Vec<AumHash> {
    aums.iter().map(Aum::hash).collect()
}

fn decode_all(bytes: &[Vec<u8>]) -> Vec<Aum> {
    bytes.iter().map(|b| Aum::from_cbor(b).unwrap()).collect()
}

fn offer_req(head: AumHash, ancestors: Vec<AumHash>) -> wire::SyncOfferRequest {
    wire::SyncOfferRequest {
        version: 130,
        node_key: NODE,
        head,
        ancestors: Some(ancestors),
    }
}

fn send_req(head: AumHash, aums: &[Aum]) -> wire::SyncSendRequest {
    wire::SyncSendRequest {
        version: 130,
        node_key: NODE,
        head,
        missing_aums: Some(aums.iter().map(Aum::to_cbor).collect()),
        interactive: false,
    }
}

/// Control's head and number of stored AUMs: what must not move when a
/// request is refused.
fn snapshot(c: &ControlResponder<MemStorage>) -> (Option<AumHash>, usize) {
    (c.authority().map(Authority::head), c.storage().len())
}

#[test]
fn bootstrap_gives_the_genesis_while_enabled_and_the_secret_once_disabled() {
    let state = genesis_state(SECRET, 1);
    let aums = chain(&state, 3);
    let mut control = control_at(&aums, 3);
    let req = wire::BootstrapRequest {
        version: 130,
        node_key: NODE,
        head: None,
    };

    let resp = control.bootstrap(&req);
    assert_eq!(resp.genesis_aum, aums[0].to_cbor());
    assert!(resp.disablement_secret.is_empty());
    let info = control.tka_info().unwrap();
    assert!(info.enabled() && !info.disabled);
    assert_eq!(info.head_hash().unwrap(), Some(aums[3].hash()));
    // Through the handler: the same, and no DisablementSecret field.
    let body = control
        .handle(Path::Bootstrap, &req.body(), Time::from_unix_secs(NOW))
        .unwrap();
    assert_eq!(
        wire::parse_response::<wire::BootstrapRequest>(&body).unwrap(),
        resp
    );
    assert!(!String::from_utf8(body)
        .unwrap()
        .contains("DisablementSecret"));

    // A wrong secret changes nothing.
    let before = snapshot(&control);
    assert!(!control.disable(b"not the secret"));
    assert!(!control.disable(b""));
    assert_eq!(snapshot(&control), before);
    assert_eq!(control.bootstrap(&req).genesis_aum, aums[0].to_cbor());
    assert!(control.tka_info().unwrap().enabled());

    // The right one turns the lock off and wipes control's chain.
    assert!(control.disable(SECRET));
    assert!(control.authority().is_none());
    assert!(control.storage().is_empty());
    let resp = control.bootstrap(&req);
    assert!(resp.genesis_aum.is_empty());
    assert_eq!(resp.disablement_secret, SECRET);
    let info = control.tka_info().unwrap();
    assert!(!info.enabled() && info.disabled);
    let body = control
        .handle(Path::Bootstrap, &req.body(), Time::from_unix_secs(NOW))
        .unwrap();
    assert_eq!(
        wire::parse_response::<wire::BootstrapRequest>(&body).unwrap(),
        resp
    );
    assert!(!String::from_utf8(body).unwrap().contains("GenesisAUM"));

    // Nothing to sync any more, and nothing to disable.
    assert!(matches!(
        control.handle(
            Path::SyncOffer,
            &offer_req(aums[3].hash(), vec![aums[0].hash()]).body(),
            Time::from_unix_secs(NOW)
        ),
        Err(ControlError::NotEnabled)
    ));
    assert!(matches!(
        control.handle(
            Path::SyncSend,
            &send_req(aums[3].hash(), &[]).body(),
            Time::from_unix_secs(NOW)
        ),
        Err(ControlError::NotEnabled)
    ));
    assert!(!control.disable(SECRET));
}

/// What a Go client concludes from control's `TKAInfo` once it is put in a
/// map response: the lock is on iff a `TKAInfo` is present and not
/// `Disabled` (Go's `TKAEnabled: lastTKAInfo != nil && !Disabled`).
fn go_client_sees_lock_on(info: Option<wire::TkaInfo>) -> bool {
    let body = match info {
        Some(i) => format!(
            r#"{{"TKAInfo":{}}}"#,
            String::from_utf8(i.to_json()).unwrap()
        ),
        None => "{}".to_owned(),
    };
    let resp = wire::MapResponseTka::from_json(body.as_bytes()).unwrap();
    resp.tka_info.is_some_and(|i| !i.disabled)
}

#[test]
fn a_control_that_never_enabled_sends_no_tka_info() {
    // Regression: tka_info() used to return `{"Head":"","Disabled":false}`
    // for a tailnet that never enabled the lock, which Go's client reads as
    // "lock on".
    let control = ControlResponder::disabled(MemStorage::new());
    assert_eq!(control.tka_info(), None);
    assert!(!go_client_sees_lock_on(control.tka_info()));
    let resp = control.bootstrap(&wire::BootstrapRequest::default());
    assert!(resp.genesis_aum.is_empty() && resp.disablement_secret.is_empty());

    // Enabled: on, with the head; disabled: off, and says so.
    let aums = chain(&genesis_state(SECRET, 1), 2);
    let mut control = control_at(&aums, 2);
    assert!(go_client_sees_lock_on(control.tka_info()));
    assert!(control.disable(SECRET));
    let info = control.tka_info().unwrap();
    assert!(info.disabled && info.head.is_empty());
    assert!(!go_client_sees_lock_on(Some(info)));
}

#[test]
fn sync_offer_answers_with_controls_offer_and_what_the_node_lacks() {
    let aums = chain(&genesis_state(SECRET, 1), 120);
    let control = control_at(&aums, 120);
    let before = snapshot(&control);
    let ours = {
        let a = control.authority().unwrap();
        a.sync_offer(control.storage()).unwrap()
    };
    assert_eq!(
        ours.ancestors,
        vec![aums[100].hash(), aums[50].hash(), aums[0].hash()]
    );

    // A node at 60 gets 61..=120.
    let resp = control
        .sync_offer(&offer_req(
            aums[60].hash(),
            vec![aums[50].hash(), aums[0].hash()],
        ))
        .unwrap();
    assert_eq!(resp.head, aums[120].hash());
    assert_eq!(resp.ancestors.as_ref(), Some(&ours.ancestors));
    let sent = decode_all(resp.missing_aums.as_deref().unwrap());
    assert_eq!(hashes(&sent), hashes(&aums[61..]));

    // A node that knows only the genesis gets everything after it.
    let resp = control
        .sync_offer(&offer_req(aums[0].hash(), vec![aums[0].hash()]))
        .unwrap();
    assert_eq!(
        hashes(&decode_all(resp.missing_aums.as_deref().unwrap())),
        hashes(&aums[1..])
    );

    // Up to date, or ahead of control: nothing to send.
    for req in [
        offer_req(aums[120].hash(), vec![aums[0].hash()]),
        offer_req(
            AumHash::of(b"beyond"),
            vec![aums[120].hash(), aums[0].hash()],
        ),
    ] {
        let resp = control.sync_offer(&req).unwrap();
        assert_eq!(resp.head, aums[120].hash());
        assert_eq!(resp.missing_aums, Some(vec![]));
    }

    // Unrelated chain: no intersection, reported as such.
    let other = chain(&genesis_state(b"other", 9), 5);
    assert!(matches!(
        control.sync_offer(&offer_req(other[5].hash(), vec![other[0].hash()])),
        Err(ControlError::Sync(SyncError::NoIntersection))
    ));
    // No ancestors and an unknown head: the same.
    assert!(matches!(
        control.sync_offer(&wire::SyncOfferRequest {
            ancestors: None,
            ..offer_req(other[5].hash(), vec![])
        }),
        Err(ControlError::Sync(SyncError::NoIntersection))
    ));
    // An absurdly long offer is refused before any walking.
    let huge = vec![aums[0].hash(); tka::limits::MAX_SYNC_OFFER_ANCESTORS + 1];
    assert!(matches!(
        control.sync_offer(&offer_req(other[5].hash(), huge)),
        Err(ControlError::Sync(SyncError::TooManyAncestors(_)))
    ));

    // Answering offers never changes control.
    assert_eq!(snapshot(&control), before);
}

#[test]
fn sync_send_refuses_aums_that_do_not_verify() {
    let aums = chain(&genesis_state(SECRET, 1), 10);
    let mut control = control_at(&aums, 10);
    let before = snapshot(&control);
    let head = aums[10].hash();
    let next = noop(head, &[&admin()]);
    let after_next = noop(next.hash(), &[&second()]);

    let mut bad_sig = next.clone();
    bad_sig.signatures.as_mut().unwrap()[0]
        .signature
        .as_mut()
        .unwrap()[5] ^= 1;
    let by_stranger = noop(head, &[&stranger()]);
    let cosigned_by_stranger = noop(head, &[&admin(), &stranger()]);
    let mut bad_second = after_next.clone();
    bad_second.signatures.as_mut().unwrap()[0]
        .signature
        .as_mut()
        .unwrap()[40] ^= 0x80;
    let unsigned = Aum {
        signatures: None,
        ..next.clone()
    };
    let orphan = noop(AumHash::of(b"nowhere"), &[&admin()]);
    let other_chain = chain(&genesis_state(b"other", 9), 1);

    let refusals: Vec<(&str, Vec<Aum>)> = vec![
        ("bad signature", vec![bad_sig]),
        ("unknown signer", vec![by_stranger]),
        ("one unknown cosigner", vec![cosigned_by_stranger]),
        ("valid then bad", vec![next.clone(), bad_second]),
        ("unsigned", vec![unsigned]),
        ("unknown parent", vec![orphan]),
        ("another chain", vec![other_chain[1].clone()]),
    ];
    for (what, batch) in &refusals {
        let r = control.sync_send(&send_req(head, batch), Time::from_unix_secs(NOW));
        match (*what, &r) {
            (
                "bad signature",
                Err(ControlError::Inform(AuthorityError::UpdateInvalid {
                    index: 0,
                    error: AumVerifyError::BadSignature(0),
                })),
            )
            | (
                "unknown signer",
                Err(ControlError::Inform(AuthorityError::UpdateInvalid {
                    index: 0,
                    error: AumVerifyError::UnknownSigner(0),
                })),
            )
            | (
                "one unknown cosigner",
                Err(ControlError::Inform(AuthorityError::UpdateInvalid {
                    index: 0,
                    error: AumVerifyError::UnknownSigner(1),
                })),
            )
            | (
                "valid then bad",
                Err(ControlError::Inform(AuthorityError::UpdateInvalid {
                    index: 1,
                    error: AumVerifyError::BadSignature(0),
                })),
            )
            | (
                "unsigned",
                Err(ControlError::Inform(AuthorityError::UpdateInvalid {
                    index: 0,
                    error: AumVerifyError::Unsigned,
                })),
            )
            | ("unknown parent", Err(ControlError::Inform(_)))
            | ("another chain", Err(ControlError::Inform(_))) => {}
            _ => panic!("{what}: {r:?}"),
        }
        // Nothing stored, head unchanged: all or nothing.
        assert_eq!(snapshot(&control), before, "{what}");
        assert!(control.storage().aum(&next.hash()).unwrap().is_none());
        // The same through the JSON handler.
        assert!(
            matches!(
                control.handle(
                    Path::SyncSend,
                    &send_req(head, batch).body(),
                    Time::from_unix_secs(NOW)
                ),
                Err(ControlError::Inform(_))
            ),
            "{what}"
        );
        assert_eq!(snapshot(&control), before, "{what}");
    }

    // Bytes that are not an AUM.
    let junk = wire::SyncSendRequest {
        missing_aums: Some(vec![next.to_cbor(), vec![0xff, 0x00]]),
        ..send_req(head, &[])
    };
    assert!(matches!(
        control.sync_send(&junk, Time::from_unix_secs(NOW)),
        Err(ControlError::BadAum(1, _))
    ));
    assert_eq!(snapshot(&control), before);

    // Nothing to send: control just answers its head.
    let resp = control
        .sync_send(&send_req(head, &[]), Time::from_unix_secs(NOW))
        .unwrap();
    assert_eq!(resp.head, head);
    let none = wire::SyncSendRequest {
        missing_aums: None,
        ..send_req(head, &[])
    };
    assert_eq!(
        control
            .sync_send(&none, Time::from_unix_secs(NOW))
            .unwrap()
            .head,
        head
    );
    assert_eq!(snapshot(&control), before);

    // Valid AUMs (by either trusted key) are stored and move the head.
    let resp = control
        .sync_send(
            &send_req(after_next.hash(), &[next.clone(), after_next.clone()]),
            Time::from_unix_secs(NOW),
        )
        .unwrap();
    assert_eq!(resp.head, after_next.hash());
    assert_eq!(control.authority().unwrap().head(), after_next.hash());
    assert_eq!(control.storage().len(), before.1 + 2);
    // Sending them again is harmless.
    let resp = control
        .sync_send(
            &send_req(after_next.hash(), &[next, after_next.clone()]),
            Time::from_unix_secs(NOW),
        )
        .unwrap();
    assert_eq!(resp.head, after_next.hash());
    assert_eq!(control.storage().len(), before.1 + 2);
}

#[test]
fn sync_send_accepts_a_heavier_fork() {
    // A node's fork signed by both keys outweighs control's own AUM there.
    let aums = chain(&genesis_state(SECRET, 1), 5);
    let mut control = control_at(&aums, 5);
    let fork = noop(aums[4].hash(), &[&admin(), &second()]);
    let resp = control
        .sync_send(
            &send_req(fork.hash(), std::slice::from_ref(&fork)),
            Time::from_unix_secs(NOW),
        )
        .unwrap();
    assert_eq!(resp.head, fork.hash());
    assert_eq!(control.authority().unwrap().head(), fork.hash());
    // Control still stores its own, losing, AUM.
    assert!(control.storage().aum(&aums[5].hash()).unwrap().is_some());
}

#[test]
fn handle_round_trips_through_the_wire_types() {
    let aums = chain(&genesis_state(SECRET, 1), 60);
    // Two identical controls: one answers typed calls, one JSON bodies.
    let mut typed = control_at(&aums, 60);
    let mut json = control_at(&aums, 60);

    let offer = offer_req(aums[20].hash(), vec![aums[0].hash()]);
    let body = offer.body();
    assert_eq!(wire::SyncOfferRequest::from_json(&body).unwrap(), offer);
    let want = typed.sync_offer(&offer).unwrap();
    let got = json
        .handle(Path::SyncOffer, &body, Time::from_unix_secs(NOW))
        .unwrap();
    assert_eq!(got, want.to_json());
    let parsed = wire::parse_response::<wire::SyncOfferRequest>(&got).unwrap();
    assert_eq!(parsed, want);
    assert_eq!(
        decode_all(parsed.missing_aums.as_deref().unwrap()),
        aums[21..]
    );

    let boot = wire::BootstrapRequest {
        version: 130,
        node_key: NODE,
        head: Some(aums[20].hash()),
    };
    let got = json
        .handle(Path::Bootstrap, &boot.body(), Time::from_unix_secs(NOW))
        .unwrap();
    assert_eq!(got, typed.bootstrap(&boot).to_json());

    let next = noop(aums[60].hash(), &[&second()]);
    let send = send_req(next.hash(), std::slice::from_ref(&next));
    let body = send.body();
    assert_eq!(wire::SyncSendRequest::from_json(&body).unwrap(), send);
    let want = typed.sync_send(&send, Time::from_unix_secs(NOW)).unwrap();
    let got = json
        .handle(Path::SyncSend, &body, Time::from_unix_secs(NOW))
        .unwrap();
    assert_eq!(got, want.to_json());
    assert_eq!(
        wire::parse_response::<wire::SyncSendRequest>(&got)
            .unwrap()
            .head,
        next.hash()
    );
    assert_eq!(json.authority().unwrap().head(), next.hash());
    assert_eq!(
        json.storage().all_aums().unwrap().len(),
        typed.storage().all_aums().unwrap().len()
    );

    // Paths the responder does not serve.
    for p in [
        Path::InitBegin,
        Path::InitFinish,
        Path::Disable,
        Path::Sign,
        Path::AffectedSigs,
    ] {
        assert!(
            matches!(json.handle(p, b"{}", Time::from_unix_secs(NOW)), Err(ControlError::UnknownPath(q)) if q == p),
            "{p}"
        );
    }
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let aums = chain(&genesis_state(SECRET, 1), 3);
    let mut control = control_at(&aums, 3);
    let before = snapshot(&control);
    let head = aums[3].hash().to_string();
    let huge = vec![b' '; wire::REQUEST_CAP + 1];

    let cases: Vec<(Path, Vec<u8>, &str)> = vec![
        (Path::SyncOffer, b"not json".to_vec(), "json"),
        (Path::SyncOffer, b"[]".to_vec(), "json"),
        (Path::SyncOffer, b"{}".to_vec(), "hash"),
        (Path::SyncOffer, br#"{"Head":""}"#.to_vec(), "hash"),
        (Path::SyncOffer, br#"{"Head":"AAAA"}"#.to_vec(), "hash"),
        (
            Path::SyncOffer,
            format!(r#"{{"Head":"{head}","Ancestors":["nope"]}}"#).into_bytes(),
            "hash",
        ),
        (
            Path::SyncOffer,
            format!(r#"{{"Head":"{head}","Ancestors":[null]}}"#).into_bytes(),
            "hash",
        ),
        (
            Path::SyncOffer,
            format!(r#"{{"Head":"{head}","NodeKey":"nodekey:zz"}}"#).into_bytes(),
            "key",
        ),
        (
            Path::SyncOffer,
            format!(r#"{{"Head":"{head}"}} trailing"#).into_bytes(),
            "json",
        ),
        (Path::SyncOffer, huge.clone(), "large"),
        (Path::SyncSend, b"{".to_vec(), "json"),
        (Path::SyncSend, br#"{"MissingAUMs":[]}"#.to_vec(), "hash"),
        (
            Path::SyncSend,
            format!(r#"{{"Head":"{head}","MissingAUMs":["%%%"]}}"#).into_bytes(),
            "base64",
        ),
        (
            Path::SyncSend,
            format!(r#"{{"Head":"{head}","MissingAUMs":"AAAA"}}"#).into_bytes(),
            "json",
        ),
        (
            Path::SyncSend,
            format!(r#"{{"Head":"{head}","Interactive":"yes"}}"#).into_bytes(),
            "json",
        ),
        (Path::SyncSend, huge.clone(), "large"),
        (Path::Bootstrap, b"nope".to_vec(), "json"),
        (Path::Bootstrap, br#"{"Head":"zz"}"#.to_vec(), "hash"),
        (Path::Bootstrap, huge, "large"),
    ];
    for (path, body, kind) in &cases {
        let r = control.handle(*path, body, Time::from_unix_secs(NOW));
        let ok = matches!(
            (&r, *kind),
            (Err(ControlError::BadRequest(WireError::Json(_))), "json")
                | (
                    Err(ControlError::BadRequest(WireError::BadHash { .. })),
                    "hash"
                )
                | (
                    Err(ControlError::BadRequest(WireError::BadKey { .. })),
                    "key"
                )
                | (
                    Err(ControlError::BadRequest(WireError::BadBase64 { .. })),
                    "base64"
                )
                | (
                    Err(ControlError::BadRequest(WireError::TooLarge { .. })),
                    "large"
                )
        );
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]);
        assert!(ok, "{path} {shown:?}: expected {kind}, got {r:?}");
        assert_eq!(snapshot(&control), before, "{path} {shown:?}");
    }

    // Well-formed base64 that is not an AUM is not a bad request but a bad
    // AUM, and changes nothing either.
    let body = format!(r#"{{"Head":"{head}","MissingAUMs":["AAE="]}}"#);
    assert!(matches!(
        control.handle(Path::SyncSend, body.as_bytes(), Time::from_unix_secs(NOW)),
        Err(ControlError::BadAum(0, _))
    ));
    assert_eq!(snapshot(&control), before);
}
