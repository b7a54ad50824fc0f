//! The sans-IO machine driven against the control-side responder.

use bytes::Bytes;
use std::collections::BTreeSet;
use tka::builder::Signer;
use tka::control::ControlResponder;
use tka::machine::{
    Action, Config, Event, HealthIssue, Mode, Peer, Persisted, RejectReason, StorageDelta, Time,
    TkaMachine, Verdict,
};
use tka::{
    Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State, StoredAum,
};

const SECRET: &[u8] = b"correct horse battery staple";

struct World {
    control: ControlResponder<MemStorage>,
    admin: NlPrivate,
    node: TkaMachine,
    now: Time,
    /// Everything the node asked to persist, applied to a model store.
    persisted: MemStorage,
    disallowed: Vec<(u64, u64)>,
    log: Vec<Action>,
}

fn genesis(admin: &NlPrivate) -> Aum {
    let mut g = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(
                tka::kdf::disablement_kdf(SECRET).unwrap().to_vec(),
            )]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 77,
            state_id2: 88,
        }),
        ..Default::default()
    };
    g.signatures = Some(admin.sign_aum(&g.sig_hash()));
    g
}

impl World {
    fn new(mode: Mode) -> World {
        let admin = NlPrivate::from_seed(&[42; 32]);
        let g = genesis(&admin);
        let mut cs = MemStorage::new();
        Authority::bootstrap(&mut cs, g.clone(), 0).unwrap();
        let control = ControlResponder::enabled(cs, g).unwrap();
        let cfg = Config::new(NodeKey([9; 32]), mode);
        let now = Time::from_unix_secs(1_800_000_000);
        World {
            control,
            admin,
            node: TkaMachine::new(cfg, Persisted::default(), now),
            now,
            persisted: MemStorage::new(),
            disallowed: Vec::new(),
            log: Vec::new(),
        }
    }

    fn control_state(&self) -> Event {
        let info = self.control.tka_info();
        Event::ControlState {
            enabled: info.as_ref().is_some_and(|i| i.enabled()),
            head: info.and_then(|i| i.head_hash().unwrap()),
        }
    }

    /// Drains the node's actions, answering its requests from control.
    fn run(&mut self) {
        for _ in 0..100 {
            let mut progressed = false;
            while let Some(a) = self.node.poll_action() {
                progressed = true;
                self.log.push(a.clone());
                match a {
                    Action::SendRequest { id, path, body } => {
                        let ev = match self.control.handle(path, &body, self.now) {
                            Ok(resp) => Event::Response {
                                id,
                                body: Bytes::from(resp),
                            },
                            Err(e) => Event::RequestFailed {
                                id,
                                reason: e.to_string(),
                            },
                        };
                        self.now = self.now.plus_ms(10);
                        self.node.handle_event(self.now, ev);
                    }
                    Action::Persist(d) => apply(&mut self.persisted, &d),
                    Action::RemoveAllState => self.persisted = MemStorage::new(),
                    Action::PersistDisallowedStateIds(ids) => self.disallowed = ids,
                    _ => {}
                }
            }
            if !progressed {
                return;
            }
        }
        panic!("the machine did not go quiet");
    }

    /// Answers the node's pending bootstrap request with `secret` as the
    /// disablement secret (what a lying or mistaken control sends).
    fn answer_bootstrap_with_secret(&mut self, secret: &[u8]) {
        let id = loop {
            match self.node.poll_action() {
                Some(Action::SendRequest { id, .. }) => break id,
                Some(_) => continue,
                None => panic!("expected a bootstrap request"),
            }
        };
        let bad = tka::wire::BootstrapResponse {
            genesis_aum: vec![],
            disablement_secret: secret.to_vec(),
        };
        use tka::wire::ToWire;
        self.node.handle_event(
            self.now,
            Event::Response {
                id,
                body: Bytes::from(bad.to_json()),
            },
        );
        self.run();
    }

    fn tell(&mut self, ev: Event) {
        self.now = self.now.plus_ms(1000);
        self.node.handle_event(self.now, ev);
        self.run();
    }

    fn sync(&mut self) {
        let ev = self.control_state();
        self.tell(ev);
    }

    fn count<F: Fn(&Action) -> bool>(&self, f: F) -> usize {
        self.log.iter().filter(|a| f(a)).count()
    }
}

fn apply(store: &mut MemStorage, d: &StorageDelta) {
    d.apply_to(store, 0).unwrap();
}

fn peer(id: i64, signer: Option<&NlPrivate>) -> Peer {
    let nk = NodeKey([id as u8; 32]);
    Peer {
        node_id: id,
        node_key: nk,
        signature: signer
            .map(|s| {
                Bytes::from(
                    NodeKeySignature::sign_direct(s, &nk, None)
                        .unwrap()
                        .to_cbor(),
                )
            })
            .unwrap_or_default(),
        unsigned_peer_api_only: false,
    }
}

#[test]
fn enabling_bootstraps_syncs_and_filters_peers() {
    let mut w = World::new(Mode::Enforce);
    let admin = w.admin.clone();
    w.tell(Event::PeersReplaced(vec![
        peer(1, Some(&admin)),
        peer(2, None),
    ]));
    // No authority yet: fail-open.
    assert_eq!(w.node.verdicts()[&2], Verdict::Unfiltered);
    w.sync();
    let head = w.control.authority().unwrap().head();
    assert_eq!(w.node.authority().unwrap().head(), head);
    assert!(matches!(w.node.verdicts()[&1], Verdict::Authorized(_)));
    assert_eq!(
        w.node.verdicts()[&2],
        Verdict::Rejected(RejectReason::MissingSignature)
    );
    assert!(w.node.health().is_empty(), "{:?}", w.node.health());
    // The genesis was persisted.
    assert_eq!(w.persisted.len(), 1);
    // Quiet afterwards: no pending timer, nothing more to do.
    assert_eq!(w.node.poll_timeout(), None);
    let before = w.log.len();
    w.sync();
    assert_eq!(
        w.log.len(),
        before,
        "an unchanged control state does nothing"
    );
}

#[test]
fn observe_mode_admits_everyone_but_reports_what_enforce_would_do() {
    let mut w = World::new(Mode::Observe);
    w.sync();
    w.tell(Event::PeersReplaced(vec![
        peer(1, None),
        peer(2, Some(&NlPrivate::from_seed(&[5; 32]))),
    ]));
    let c = w.node.counters();
    assert_eq!((c.unsigned, c.unauthorized, c.would_reject), (1, 1, 2));
    let admitted =
        w.count(|a| matches!(a, Action::PeerVerdict(v) if v.admitted && !v.verdict.admits()));
    assert_eq!(admitted, 2);
    // Switching to enforce re-emits both verdicts, now refused.
    let mark = w.log.len();
    w.node.set_mode(w.now, Mode::Enforce);
    w.run();
    let refused = w.log[mark..]
        .iter()
        .filter(|a| matches!(a, Action::PeerVerdict(v) if !v.admitted))
        .count();
    assert_eq!(refused, 2);
}

#[test]
fn new_keys_from_control_reach_the_node_and_peers_are_reevaluated() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let newkey = NlPrivate::from_seed(&[7; 32]);
    w.tell(Event::PeersReplaced(vec![peer(3, Some(&newkey))]));
    assert!(!w.node.verdicts()[&3].admits());
    // An administrator adds the key at control.
    let admin = w.admin.clone();
    let (storage, authority) = w.control.parts_mut();
    let a = authority.unwrap();
    let mut b = a.builder(Some(&admin));
    b.add_key(newkey.to_key(1)).unwrap();
    let updates = b.finalize(storage).unwrap();
    a.inform(storage, &updates, 0).unwrap();
    w.sync();
    assert_eq!(
        w.node.authority().unwrap().head(),
        w.control.authority().unwrap().head()
    );
    assert!(w.node.verdicts()[&3].admits());
    assert!(w.count(|a| matches!(a, Action::AuthorityChanged { .. })) >= 1);
}

#[test]
fn disablement_needs_a_valid_secret() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    // A lying control says "disabled" but hands out a wrong secret.
    let info_disabled = Event::ControlState {
        enabled: false,
        head: None,
    };
    w.now = w.now.plus_ms(1000);
    w.node.handle_event(w.now, info_disabled);
    w.answer_bootstrap_with_secret(b"wrong");
    assert!(w.node.authority().is_some(), "the lock stays on");
    assert!(w.node.health().contains(&HealthIssue::DisablementRejected));
    let retry = w.node.poll_timeout().expect("a backed-off retry");
    assert!(retry > w.now, "no hot loop");

    // Control really disables it: the secret verifies, state is wiped.
    assert!(w.control.disable(SECRET));
    w.sync();
    assert!(w.node.authority().is_none());
    assert!(w.count(|a| matches!(a, Action::RemoveAllState)) == 1);
    assert!(w.node.health().is_empty());
}

#[test]
fn local_disable_refuses_to_bootstrap_the_same_state_again() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    w.tell(Event::LocalDisable);
    assert!(w.node.authority().is_none());
    assert_eq!(w.disallowed, vec![(77, 88)]);
    // Control still says enabled; the node must not take it back.
    w.tell(Event::ControlState {
        enabled: true,
        head: Some(tka::AumHash([1; 32])),
    });
    assert!(w.node.authority().is_none());
    let h: BTreeSet<_> = w.node.health().clone();
    assert!(h.contains(&HealthIssue::StateIdDisallowed) && h.contains(&HealthIssue::NoAuthority));
}

#[test]
fn failures_back_off_and_stop() {
    let mut w = World::new(Mode::Enforce);
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    let mut failures = 0;
    for _ in 0..50 {
        let mut sent = None;
        while let Some(a) = w.node.poll_action() {
            if let Action::SendRequest { id, .. } = a {
                sent = Some(id);
            }
        }
        match sent {
            Some(id) => {
                failures += 1;
                w.node.handle_event(
                    w.now,
                    Event::RequestFailed {
                        id,
                        reason: "offline".into(),
                    },
                );
            }
            None => match w.node.poll_timeout() {
                Some(t) => {
                    assert!(t > w.now, "no hot loop");
                    w.now = t;
                    w.node.handle_timeout(w.now);
                }
                None => break,
            },
        }
    }
    assert_eq!(failures, 8, "bounded attempts");
    assert!(w.node.health().contains(&HealthIssue::BootstrapFailing));
    assert_eq!(w.node.poll_timeout(), None);
}

#[test]
fn restart_from_persisted_state_keeps_the_authority() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let head = w.node.authority().unwrap().head();
    let restarted = TkaMachine::new(
        Config::new(NodeKey([9; 32]), Mode::Enforce),
        Persisted::from_storage(&w.persisted, &[]).unwrap(),
        w.now,
    );
    assert_eq!(restarted.authority().unwrap().head(), head);
}

#[test]
fn locked_out_self_raises_health() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    w.tell(Event::SelfSignature(Bytes::new()));
    assert!(w.node.health().contains(&HealthIssue::LockedOut));
    let admin = w.admin.clone();
    let sig = NodeKeySignature::sign_direct(&admin, &NodeKey([9; 32]), None)
        .unwrap()
        .to_cbor();
    w.tell(Event::SelfSignature(Bytes::from(sig)));
    assert!(!w.node.health().contains(&HealthIssue::LockedOut));
}

#[test]
fn rotated_away_keys_are_rejected() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let rot = NlPrivate::from_seed(&[33; 32]);
    let old = NodeKey([50; 32]);
    let new = NodeKey([51; 32]);
    let direct = NodeKeySignature::sign_direct(&admin, &old, Some(rot.public().0)).unwrap();
    let rotated = tka::sig::resign(&rot, &new, &direct.to_cbor()).unwrap();
    w.tell(Event::PeersReplaced(vec![
        Peer {
            node_id: 50,
            node_key: old,
            signature: Bytes::from(direct.to_cbor()),
            unsigned_peer_api_only: false,
        },
        Peer {
            node_id: 51,
            node_key: new,
            signature: Bytes::from(rotated),
            unsigned_peer_api_only: false,
        },
    ]));
    assert_eq!(
        w.node.verdicts()[&50],
        Verdict::Rejected(RejectReason::RotatedAway)
    );
    assert!(w.node.verdicts()[&51].admits());
}

#[test]
fn unchanged_netmap_emits_nothing_and_a_changed_signature_is_rechecked() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let list = vec![peer(1, Some(&admin)), peer(2, Some(&admin))];
    w.tell(Event::PeersReplaced(list.clone()));
    let mark = w.log.len();
    w.tell(Event::PeersReplaced(list.clone()));
    assert_eq!(w.log.len(), mark, "nothing new for an unchanged netmap");
    // The same peers in another order are still the same set.
    let mut reversed = list.clone();
    reversed.reverse();
    w.tell(Event::PeersReplaced(reversed));
    assert_eq!(w.log.len(), mark);
    // Peer 2's signature is replaced by garbage: re-checked and refused.
    let mut changed = list;
    changed[1].signature = Bytes::from_static(&[0xa0]);
    w.tell(Event::PeersReplaced(changed));
    assert!(!w.node.verdicts()[&2].admits());
    assert!(w.node.verdicts()[&1].admits());
}

/// Regression (found by the simulation, seed 0xe6321365f2e3a167): control's
/// head moved while a sync was in flight and the answer described the older
/// head. The machine used to mark itself settled for the newer state and
/// never synced to it; it must sync again.
#[test]
fn control_state_changing_during_a_sync_starts_another() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let add = |w: &mut World, seed: u8| {
        let (storage, authority) = w.control.parts_mut();
        let a = authority.unwrap();
        let mut b = a.builder(Some(&admin));
        b.add_key(NlPrivate::from_seed(&[seed; 32]).to_key(1))
            .unwrap();
        let updates = b.finalize(storage).unwrap();
        a.inform(storage, &updates, 0).unwrap();
    };
    add(&mut w, 60);
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    let (id, path, body) = loop {
        match w.node.poll_action() {
            Some(Action::SendRequest { id, path, body }) => break (id, path, body),
            Some(_) => continue,
            None => panic!("expected a sync offer"),
        }
    };
    // Control answers now (at its first new head)...
    let answer = w.control.handle(path, &body, Time(0)).unwrap();
    // ...but before the answer arrives its head moves again.
    add(&mut w, 61);
    w.now = w.now.plus_ms(100);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    assert!(w.node.poll_action().is_none(), "one request at a time");
    w.node.handle_event(
        w.now,
        Event::Response {
            id,
            body: Bytes::from(answer),
        },
    );
    w.run();
    assert_eq!(
        w.node.authority().unwrap().head(),
        w.control.authority().unwrap().head(),
        "the node caught up with control's newer head"
    );
    assert_eq!(w.node.poll_timeout(), None);
}

/// Regression (found by the simulation, seed 0x3ed445e0a2aec3b1): failure
/// warnings outlived the failure. A node whose sync/send failed, and whose
/// retry then found it already at control's head, kept `SyncFailing`; a
/// node whose bootstrap failed kept `BootstrapFailing` after control turned
/// the lock off.
#[test]
fn failure_warnings_clear_once_settled() {
    let mut w = World::new(Mode::Enforce);
    // Bootstrap fails; then control turns the lock off.
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    let id = loop {
        match w.node.poll_action() {
            Some(Action::SendRequest { id, .. }) => break id,
            Some(_) => continue,
            None => panic!("expected a bootstrap request"),
        }
    };
    w.node.handle_event(
        w.now,
        Event::RequestFailed {
            id,
            reason: "offline".into(),
        },
    );
    w.run();
    assert!(w.node.health().contains(&HealthIssue::BootstrapFailing));
    w.tell(Event::ControlState {
        enabled: false,
        head: None,
    });
    assert!(w.node.health().is_empty(), "{:?}", w.node.health());

    // Enabled and synced; a new head arrives but sync/send fails.
    w.sync();
    let admin = w.admin.clone();
    let (storage, authority) = w.control.parts_mut();
    let a = authority.unwrap();
    let mut b = a.builder(Some(&admin));
    b.add_key(NlPrivate::from_seed(&[62; 32]).to_key(1))
        .unwrap();
    let updates = b.finalize(storage).unwrap();
    a.inform(storage, &updates, 0).unwrap();
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    for expected in [tka::wire::Path::SyncOffer, tka::wire::Path::SyncSend] {
        let (id, path, body) = loop {
            match w.node.poll_action() {
                Some(Action::SendRequest { id, path, body }) => break (id, path, body),
                Some(_) => continue,
                None => panic!("expected {expected}"),
            }
        };
        assert_eq!(path, expected);
        let ev = if path == tka::wire::Path::SyncOffer {
            let answer = w.control.handle(path, &body, Time(0)).unwrap();
            Event::Response {
                id,
                body: Bytes::from(answer),
            }
        } else {
            Event::RequestFailed {
                id,
                reason: "HTTP 502".into(),
            }
        };
        w.node.handle_event(w.now, ev);
    }
    w.run();
    assert!(w.node.health().contains(&HealthIssue::SyncFailing));
    let retry = w.node.poll_timeout().unwrap();
    w.now = retry;
    w.node.handle_timeout(retry);
    w.run();
    assert_eq!(
        w.node.authority().unwrap().head(),
        w.control.authority().unwrap().head()
    );
    assert!(w.node.health().is_empty(), "{:?}", w.node.health());
    assert_eq!(w.node.poll_timeout(), None);
}

/// Regression: a node whose persisted AUMs could not be opened bootstraps
/// into fresh storage, but the embedder was only told to persist the new
/// genesis, next to the unreadable AUMs it still held. The durable store
/// then no longer matched the installed authority (here it reopened at the
/// stale AUM instead of the genesis). The machine must first tell the
/// embedder to remove the old state, and the storage warning must clear.
#[test]
fn bootstrap_over_unreadable_storage_replaces_it() {
    let mut w = World::new(Mode::Enforce);
    let admin = w.admin.clone();
    // An AUM whose parent (the genesis) is missing from the store.
    let g = w.control.authority().unwrap().head();
    let mut orphan = Aum {
        message_kind: AumKind::NO_OP,
        prev_aum_hash: Some(g.0.to_vec()),
        ..Default::default()
    };
    orphan.signatures = Some(admin.sign_aum(&orphan.sig_hash()));
    w.persisted
        .load_persisted(StoredAum::new(orphan.clone()), 0);
    let mut node = TkaMachine::new(
        Config::new(NodeKey([9; 32]), Mode::Enforce),
        Persisted {
            aums: vec![(StoredAum::new(orphan), 0)],
            last_active_ancestor: None,
            disallowed_state_ids: vec![],
        },
        w.now,
    );
    assert!(node.authority().is_none());
    assert!(node.health().contains(&HealthIssue::StorageUnreadable));
    std::mem::swap(&mut w.node, &mut node);
    w.sync();
    let a = w.node.authority().expect("bootstrapped");
    let reopened = Authority::open(&w.persisted).unwrap();
    assert_eq!(reopened.head(), a.head(), "durable store matches");
    assert_eq!(w.persisted.len(), 1);
    assert!(
        !w.node.health().contains(&HealthIssue::StorageUnreadable),
        "{:?}",
        w.node.health()
    );
}

/// Regression (found by the simulation, seed 0x54caf79ebf7bb0e4): giving
/// up on a sync whose offer had already brought the node to control's head
/// (only sync/send kept failing) left `SyncFailing` raised for good, since
/// a node that gave up never looked again until control's state changed.
#[test]
fn giving_up_while_in_agreement_clears_the_warning() {
    let mut w = World::new(Mode::Enforce);
    let mut cfg = Config::new(NodeKey([9; 32]), Mode::Enforce);
    cfg.max_attempts = 1;
    w.node = TkaMachine::new(cfg, Persisted::default(), w.now);
    w.sync();
    let admin = w.admin.clone();
    let (storage, authority) = w.control.parts_mut();
    let a = authority.unwrap();
    let mut b = a.builder(Some(&admin));
    b.add_key(NlPrivate::from_seed(&[63; 32]).to_key(1))
        .unwrap();
    let updates = b.finalize(storage).unwrap();
    a.inform(storage, &updates, 0).unwrap();
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    for _ in 0..2 {
        let (id, path, body) = loop {
            match w.node.poll_action() {
                Some(Action::SendRequest { id, path, body }) => break (id, path, body),
                Some(_) => continue,
                None => panic!("expected a request"),
            }
        };
        let ev = if path == tka::wire::Path::SyncOffer {
            Event::Response {
                id,
                body: Bytes::from(w.control.handle(path, &body, Time(0)).unwrap()),
            }
        } else {
            Event::RequestFailed {
                id,
                reason: "HTTP 502".into(),
            }
        };
        w.node.handle_event(w.now, ev);
    }
    w.run();
    assert_eq!(
        w.node.authority().unwrap().head(),
        w.control.authority().unwrap().head()
    );
    assert!(w.node.health().is_empty(), "{:?}", w.node.health());
    assert_eq!(w.node.poll_timeout(), None);
}

/// Regression (found by the simulation, seed 0xefb8ea804257643d): a node
/// that refused a disablement (wrong secret) and was then locally disabled
/// agreed with control (lock off on both sides) but kept warning
/// `DisablementRejected`, "leaving TKA enabled", although it was off.
#[test]
fn local_disable_after_a_rejected_disablement_clears_the_warning() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    w.now = w.now.plus_ms(1000);
    w.node.handle_event(
        w.now,
        Event::ControlState {
            enabled: false,
            head: None,
        },
    );
    w.answer_bootstrap_with_secret(b"not the secret");
    assert!(w.node.health().contains(&HealthIssue::DisablementRejected));
    w.tell(Event::LocalDisable);
    assert!(w.node.authority().is_none());
    assert!(w.node.health().is_empty(), "{:?}", w.node.health());
    assert_eq!(w.node.poll_timeout(), None);
}

/// Regression (found by the simulation, seed 0x271ba7480f72af0f): a
/// local-disable while a request was in flight left the node fail-open
/// without the `NoAuthority` warning until the request finished, because
/// fail-open was only re-evaluated when no request was in flight.
#[test]
fn fail_open_is_reported_while_a_request_is_in_flight() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let (storage, authority) = w.control.parts_mut();
    let a = authority.unwrap();
    let mut b = a.builder(Some(&admin));
    b.add_key(NlPrivate::from_seed(&[64; 32]).to_key(1))
        .unwrap();
    let updates = b.finalize(storage).unwrap();
    a.inform(storage, &updates, 0).unwrap();
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    while w.node.poll_action().is_some() {}
    assert!(w.node.poll_timeout().is_some(), "a sync offer is in flight");
    w.node.handle_event(w.now, Event::LocalDisable);
    while w.node.poll_action().is_some() {}
    assert!(w.node.authority().is_none());
    assert!(
        w.node.health().contains(&HealthIssue::NoAuthority),
        "{:?}",
        w.node.health()
    );
}

/// The verdicts emitted by the last input, by node ID.
fn verdicts_since(w: &World, mark: usize) -> Vec<i64> {
    w.log[mark..]
        .iter()
        .filter_map(|a| match a {
            Action::PeerVerdict(v) => Some(v.node_id),
            _ => None,
        })
        .collect()
}

/// A Direct signature by `admin` over `key` with `rot` as its wrapping key,
/// then rotated by `rot` once to each of `chain` in turn.
fn rotation_peer(id: i64, admin: &NlPrivate, rot: &NlPrivate, keys: &[NodeKey]) -> Peer {
    let mut sig = NodeKeySignature::sign_direct(admin, &keys[0], Some(rot.public().0))
        .unwrap()
        .to_cbor();
    for k in &keys[1..] {
        sig = tka::sig::resign(rot, k, &sig).unwrap();
    }
    Peer {
        node_id: id,
        node_key: *keys.last().unwrap(),
        signature: Bytes::from(sig),
        unsigned_peer_api_only: false,
    }
}

#[test]
fn a_single_upsert_emits_verdicts_only_for_the_affected_peers() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let rot = NlPrivate::from_seed(&[33; 32]);
    let (k60, k61) = (NodeKey([160; 32]), NodeKey([161; 32]));
    let mut list: Vec<Peer> = (1..=50).map(|i| peer(i, Some(&admin))).collect();
    list.push(rotation_peer(60, &admin, &rot, &[k60]));
    w.tell(Event::PeersReplaced(list));
    assert_eq!(w.node.counters().authorized, 51);

    // A new peer: its verdict only.
    let mark = w.log.len();
    w.tell(Event::PeerUpserted(peer(51, None)));
    assert_eq!(verdicts_since(&w, mark), vec![51]);

    // A changed signature: that peer only.
    let mark = w.log.len();
    let mut garbled = peer(7, Some(&admin));
    garbled.signature = Bytes::from_static(&[0xa0]);
    w.tell(Event::PeerUpserted(garbled));
    assert_eq!(verdicts_since(&w, mark), vec![7]);

    // An unchanged upsert and a removal: nothing.
    let mark = w.log.len();
    w.tell(Event::PeerUpserted(peer(8, Some(&admin))));
    w.tell(Event::PeerRemoved(9));
    assert_eq!(verdicts_since(&w, mark), Vec::<i64>::new());
    assert!(!w.node.verdicts().contains_key(&9));

    // A rotation of peer 60's key: the new peer and the one it obsoletes.
    let mark = w.log.len();
    w.tell(Event::PeerUpserted(rotation_peer(
        61,
        &admin,
        &rot,
        &[k60, k61],
    )));
    let mut got = verdicts_since(&w, mark);
    got.sort();
    assert_eq!(got, vec![60, 61]);
    assert_eq!(
        w.node.verdicts()[&60],
        Verdict::Rejected(RejectReason::RotatedAway)
    );
    // Removing the rotation re-admits peer 60, and nobody else changes.
    let mark = w.log.len();
    w.tell(Event::PeerRemoved(61));
    assert_eq!(verdicts_since(&w, mark), vec![60]);
    assert!(matches!(w.node.verdicts()[&60], Verdict::Authorized(_)));
}

/// A tiny deterministic generator for the consistency test.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Verdicts maintained one delta at a time equal those of a full netmap
/// of the same peers, across random upserts and removals of plain,
/// unsigned, peer-API-only and rotated peers (including ties and chains
/// that obsolete each other).
#[test]
fn incremental_verdicts_equal_a_full_reevaluation() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let rots: Vec<NlPrivate> = (0..3)
        .map(|i| NlPrivate::from_seed(&[100 + i; 32]))
        .collect();
    let keys: Vec<NodeKey> = (0..8).map(|i| NodeKey([200 + i; 32])).collect();
    let mut rng = Lcg(7);
    let mut current: std::collections::BTreeMap<i64, Peer> = Default::default();
    let stored = Persisted::from_storage(&w.persisted, &[]).unwrap();
    let (mut rotated_away, mut authorized_rotations) = (0, 0);
    for step in 0..400 {
        let id = rng.next(12) as i64;
        let ev = match rng.next(6) {
            0 => Event::PeerRemoved(id),
            1 => Event::PeerUpserted(peer(id, None)),
            2 => {
                let mut p = peer(id, Some(&admin));
                p.unsigned_peer_api_only = rng.next(2) == 0;
                p.node_key = keys[rng.next(8) as usize];
                p.signature = Bytes::new();
                Event::PeerUpserted(p)
            }
            _ => {
                let rot = &rots[rng.next(3) as usize];
                let len = 1 + rng.next(3) as usize;
                let chain: Vec<NodeKey> = (0..len).map(|_| keys[rng.next(8) as usize]).collect();
                Event::PeerUpserted(rotation_peer(id, &admin, rot, &chain))
            }
        };
        match &ev {
            Event::PeerRemoved(id) => {
                current.remove(id);
            }
            Event::PeerUpserted(p) => {
                current.insert(p.node_id, p.clone());
            }
            _ => unreachable!(),
        }
        w.tell(ev);
        let mut fresh = TkaMachine::new(
            Config::new(NodeKey([9; 32]), Mode::Enforce),
            stored.clone(),
            w.now,
        );
        fresh.handle_event(
            w.now,
            Event::PeersReplaced(current.values().cloned().collect()),
        );
        assert_eq!(w.node.verdicts(), fresh.verdicts(), "step {step}");
        let c = w.node.counters();
        rotated_away += c.rotated_away;
        authorized_rotations += w
            .node
            .verdicts()
            .values()
            .filter(|v| matches!(v, Verdict::Authorized(a) if a.rotation().is_some()))
            .count();
    }
    // The walk did exercise obsolescence both ways.
    assert!(
        rotated_away > 100 && authorized_rotations > 100,
        "{rotated_away} {authorized_rotations}"
    );
}

/// Adds `key` at control (signed by the admin) without telling the node.
fn add_key_at_control(w: &mut World, key: &NlPrivate) {
    let admin = w.admin.clone();
    let (storage, authority) = w.control.parts_mut();
    let a = authority.unwrap();
    let mut b = a.builder(Some(&admin));
    b.add_key(key.to_key(1)).unwrap();
    let updates = b.finalize(storage).unwrap();
    a.inform(storage, &updates, 0).unwrap();
}

/// Tells the node control's state and returns the request it sends, with
/// every other action logged.
fn tell_and_hold(w: &mut World) -> Sent {
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    take_request(w).expect("a sync request")
}

/// A request the node sent: its ID, path and body.
type Sent = (tka::machine::RequestId, tka::wire::Path, Bytes);

/// Drains the node's actions into the log; returns the last request sent.
fn take_request(w: &mut World) -> Option<Sent> {
    let mut sent = None;
    while let Some(a) = w.node.poll_action() {
        if let Action::SendRequest { id, path, body } = &a {
            sent = Some((*id, *path, body.clone()));
        }
        w.log.push(a);
    }
    sent
}

/// Feeds control's answer to `sent` to the node, and nothing more.
fn deliver(w: &mut World, (id, path, body): Sent) {
    let resp = w.control.handle(path, &body, w.now).unwrap();
    w.now = w.now.plus_ms(10);
    w.node.handle_event(
        w.now,
        Event::Response {
            id,
            body: Bytes::from(resp),
        },
    );
}

/// Feeds control's answer to `sent`, then runs the exchange to its end.
fn answer(w: &mut World, sent: Sent) {
    deliver(w, sent);
    w.run();
}

#[test]
fn a_peer_signed_by_a_key_being_synced_is_pending_not_dropped() {
    for mode in [Mode::Enforce, Mode::Observe] {
        let mut w = World::new(mode);
        w.sync();
        let newkey = NlPrivate::from_seed(&[7; 32]);
        let admin = w.admin.clone();
        w.tell(Event::PeersReplaced(vec![peer(1, Some(&admin))]));
        add_key_at_control(&mut w, &newkey);
        // Control's head moved; the sync is in flight when the peer signed
        // by the new key arrives.
        let req = tell_and_hold(&mut w);
        assert!(w.node.exchange_in_flight() && w.node.holding_for_sync());
        let mark = w.log.len();
        w.tell(Event::PeerUpserted(peer(3, Some(&newkey))));
        assert_eq!(w.node.verdicts()[&3], Verdict::Pending, "{mode:?}");
        let c = w.node.counters();
        assert_eq!((c.pending, c.would_reject, c.authorized), (1, 0, 1));
        let emitted: Vec<_> = w.log[mark..]
            .iter()
            .filter_map(|a| match a {
                Action::PeerVerdict(v) => Some(v.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted[0].admitted, mode == Mode::Observe);
        assert!(!w.log[mark..]
            .iter()
            .any(|a| matches!(a, Action::Log { message, .. } if message.contains("drop"))));
        // The sync settles: the key is trusted and the peer authorized,
        // never dropped on the way.
        answer(&mut w, req);
        assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
        assert!(!w.node.holding_for_sync());
        assert!(
            !w.log.iter().any(|a| matches!(a,
            Action::PeerVerdict(v) if v.node_id == 3 && matches!(v.verdict, Verdict::Rejected(_))))
        );
    }
}

#[test]
fn a_peer_authorized_before_keeps_its_verdict_while_the_sync_is_pending() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let admin = w.admin.clone();
    let newkey = NlPrivate::from_seed(&[7; 32]);
    w.tell(Event::PeersReplaced(vec![peer(3, Some(&admin))]));
    add_key_at_control(&mut w, &newkey);
    let req = tell_and_hold(&mut w);
    // The peer is re-signed by the key control just added.
    let mark = w.log.len();
    w.tell(Event::PeerUpserted(peer(3, Some(&newkey))));
    assert_eq!(verdicts_since(&w, mark), Vec::<i64>::new());
    assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
    answer(&mut w, req);
    assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
}

#[test]
fn the_wait_is_bounded_by_the_request_timeout() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let newkey = NlPrivate::from_seed(&[7; 32]);
    add_key_at_control(&mut w, &newkey);
    let _unanswered = tell_and_hold(&mut w);
    w.tell(Event::PeerUpserted(peer(3, Some(&newkey))));
    assert_eq!(w.node.verdicts()[&3], Verdict::Pending);
    // Control never answers: at the deadline the peer is decided with the
    // keys the node has.
    let deadline = w.node.poll_timeout().unwrap();
    w.now = deadline;
    w.node.handle_timeout(w.now);
    let mut retry = None;
    while let Some(a) = w.node.poll_action() {
        w.log.push(a);
    }
    assert!(matches!(
        w.node.verdicts()[&3],
        Verdict::Rejected(RejectReason::InvalidSignature(_))
    ));
    assert!(w.node.health().contains(&HealthIssue::SyncFailing));
    // The retry does not hold the peer again.
    w.now = w.node.poll_timeout().unwrap();
    w.node.handle_timeout(w.now);
    while let Some(a) = w.node.poll_action() {
        if let Action::SendRequest { id, path, body } = &a {
            retry = Some((*id, *path, body.clone()));
        }
        w.log.push(a);
    }
    assert!(w.node.exchange_in_flight() && !w.node.holding_for_sync());
    assert!(!w.node.verdicts()[&3].admits());
    answer(&mut w, retry.expect("a retry"));
    assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
}

/// Runs the node like `World::run`, but the store refuses every `Persist`
/// while `fail` is set: the embedder reports it with what the store holds.
fn run_with_failing_store(w: &mut World, fail: bool) -> usize {
    let mut failures = 0;
    for _ in 0..100 {
        let Some(a) = w.node.poll_action() else {
            return failures;
        };
        w.log.push(a.clone());
        match a {
            Action::SendRequest { id, path, body } => {
                let resp = w.control.handle(path, &body, w.now).unwrap();
                w.now = w.now.plus_ms(10);
                w.node.handle_event(
                    w.now,
                    Event::Response {
                        id,
                        body: Bytes::from(resp),
                    },
                );
            }
            Action::Persist(_) if fail => {
                failures += 1;
                // Stop carrying out this batch's store actions, report.
                while let Some(rest) = w.node.poll_action() {
                    w.log.push(rest);
                }
                let stored = Persisted::from_storage(&w.persisted, &w.disallowed).unwrap();
                w.node.handle_event(
                    w.now,
                    Event::PersistFailed {
                        reason: "disk full".into(),
                        stored,
                    },
                );
            }
            Action::Persist(d) => apply(&mut w.persisted, &d),
            Action::RemoveAllState => w.persisted = MemStorage::new(),
            Action::PersistDisallowedStateIds(ids) => w.disallowed = ids,
            _ => {}
        }
    }
    panic!("the machine did not go quiet");
}

#[test]
fn a_failed_save_reloads_what_is_stored_and_is_retried() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let stored_head = w.node.authority().unwrap().head();
    let newkey = NlPrivate::from_seed(&[7; 32]);
    add_key_at_control(&mut w, &newkey);
    let control_head = w.control.authority().unwrap().head();
    w.tell(Event::PeersReplaced(vec![peer(3, Some(&newkey))]));

    // The sync brings the new key, but the store cannot save it.
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    assert_eq!(run_with_failing_store(&mut w, true), 1);
    // Memory went back to what is stored: the old head, the new key not
    // trusted, the peer refused; the failure is reported and retried.
    assert_eq!(w.node.authority().unwrap().head(), stored_head);
    assert_eq!(
        Authority::open(&w.persisted).unwrap().head(),
        w.node.authority().unwrap().head()
    );
    assert!(!w.node.verdicts()[&3].admits());
    assert!(w.node.health().contains(&HealthIssue::PersistFailed));
    assert!(w.log.iter().any(|a| matches!(a,
        Action::AuthorityChanged { head, .. } if *head == stored_head)));
    let c = w.node.counters();
    // Bootstrap, the sync after it, the sync whose save failed.
    assert_eq!((c.sync_failures, c.sync_attempts), (1, 3));
    let retry = w.node.poll_timeout().expect("a retry is scheduled");
    assert!(retry > w.now);

    // The retry's save succeeds: the node reaches control's head and the
    // warning clears once the next input confirms the save went through.
    w.now = retry;
    w.node.handle_timeout(w.now);
    assert_eq!(run_with_failing_store(&mut w, false), 0);
    assert_eq!(w.node.authority().unwrap().head(), control_head);
    w.tell(Event::PeerUpserted(peer(4, None)));
    assert!(!w.node.health().contains(&HealthIssue::PersistFailed));
    assert_eq!(
        Authority::open(&w.persisted).unwrap().head(),
        control_head,
        "memory and disk agree"
    );
    assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
    let c = w.node.counters();
    assert!(c.last_successful_sync.is_some());
    assert_eq!(c.sync_failures, 1);
}

#[test]
fn a_failed_first_save_leaves_the_node_without_an_authority() {
    let mut w = World::new(Mode::Enforce);
    w.now = w.now.plus_ms(1000);
    let ev = w.control_state();
    w.node.handle_event(w.now, ev);
    run_with_failing_store(&mut w, true);
    // The genesis could not be stored: the node does not pretend it has it.
    assert!(w.node.authority().is_none());
    assert!(w.log.iter().any(|a| matches!(a, Action::AuthorityRemoved)));
    let h = w.node.health();
    assert!(h.contains(&HealthIssue::PersistFailed) && h.contains(&HealthIssue::NoAuthority));
    // A restart from the store agrees.
    let restarted = TkaMachine::new(
        Config::new(NodeKey([9; 32]), Mode::Enforce),
        Persisted::from_storage(&w.persisted, &[]).unwrap(),
        w.now,
    );
    assert!(restarted.authority().is_none());
}

#[test]
fn status_is_displayable_and_serializable() {
    let mut w = World::new(Mode::Observe);
    w.sync();
    let admin = w.admin.clone();
    w.tell(Event::PeersReplaced(vec![
        peer(1, Some(&admin)),
        peer(2, None),
    ]));
    assert!(w.log.iter().any(|a| matches!(
        a,
        Action::AuthorityInstalled {
            source: tka::machine::AuthoritySource::Bootstrapped,
            ..
        }
    )));
    let v = &w.node.verdicts()[&2];
    assert_eq!(v.to_string(), "rejected: missing signature");
    assert_eq!(v.kind(), "missing_signature");
    assert_eq!(RejectReason::RotatedAway.to_string(), "key rotation");
    assert_eq!(Mode::Observe.to_string(), "observe");
    assert!(HealthIssue::LockedOut
        .to_string()
        .contains("not signed by a trusted key"));
    let status = serde_json::to_value(w.node.status()).unwrap();
    assert_eq!(status["mode"], "observe");
    assert_eq!(
        status["head"],
        w.control.authority().unwrap().head().to_string()
    );
    assert_eq!(status["counters"]["authorized"], 1);
    assert_eq!(status["counters"]["would_reject"], 1);
    assert_eq!(status["counters"]["sync_attempts"], 2);
    assert_eq!(status["counters"]["sync_failures"], 0);
    assert!(status["counters"]["last_successful_sync"].is_u64());
    assert!(status["keys"][0].as_str().unwrap().starts_with("tlpub:"));
    assert_eq!(status["health"], serde_json::json!([]));
    let pv = w
        .log
        .iter()
        .find_map(|a| match a {
            Action::PeerVerdict(v) if v.node_id == 2 => Some(v.clone()),
            _ => None,
        })
        .unwrap();
    let j = serde_json::to_value(&pv).unwrap();
    assert_eq!(j["verdict"]["kind"], "missing_signature");
    assert_eq!(j["admitted"], true);
    assert!(pv.to_string().starts_with("peer 2 ("));
}

/// Random save failures while control's head keeps moving: after every
/// input what the node trusts is what its store reopens to, and once saves
/// work again the node catches up with control.
#[test]
fn memory_and_disk_never_drift_under_random_save_failures() {
    let mut w = World::new(Mode::Enforce);
    let mut rng = Lcg(11);
    let mut failed = 0;
    for step in 0..40 {
        if step % 4 == 1 {
            let k = NlPrivate::from_seed(&[step as u8; 32]);
            add_key_at_control(&mut w, &k);
        }
        w.now = w.now.plus_ms(1000);
        let ev = w.control_state();
        w.node.handle_event(w.now, ev);
        // Each step's saves fail with probability 1/2.
        failed += run_with_failing_store(&mut w, rng.next(2) == 0);
        let stored = if w.persisted.is_empty() {
            None
        } else {
            Some(Authority::open(&w.persisted).unwrap().head())
        };
        assert_eq!(
            w.node.authority().map(|a| a.head()),
            stored,
            "step {step}: memory and disk differ"
        );
        assert_eq!(
            w.node.health().contains(&HealthIssue::PersistFailed),
            w.log.iter().rev().find_map(|a| match a {
                Action::HealthChanged(h) => Some(h.contains(&HealthIssue::PersistFailed)),
                _ => None,
            }) == Some(true),
        );
        if let Some(t) = w.node.poll_timeout() {
            w.now = t;
            w.node.handle_timeout(w.now);
            failed += run_with_failing_store(&mut w, rng.next(2) == 0);
        }
    }
    assert!(failed > 5, "{failed}");
    // Saves work again: the node reaches control's head and stays there.
    for _ in 0..10 {
        match w.node.poll_timeout() {
            Some(t) => {
                w.now = t;
                w.node.handle_timeout(w.now);
            }
            None => {
                w.now = w.now.plus_ms(1000);
                let ev = w.control_state();
                w.node.handle_event(w.now, ev);
            }
        }
        run_with_failing_store(&mut w, false);
    }
    let head = w.control.authority().unwrap().head();
    assert_eq!(w.node.authority().unwrap().head(), head);
    assert_eq!(Authority::open(&w.persisted).unwrap().head(), head);
}

/// A restarted node (control's state not known yet) is asked to disable
/// the lock locally and the save fails: it stays with what is stored,
/// reports the failure, and the retry timer, once fired, is consumed
/// instead of coming back in the past forever (sim seed
/// 0x29fbc6cf19addf8b).
#[test]
fn a_failed_local_disable_save_keeps_the_stored_authority_and_its_timer_moves_on() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let head = w.node.authority().unwrap().head();
    let cfg = Config::new(NodeKey([9; 32]), Mode::Enforce);
    let stored = || Persisted::from_storage(&w.persisted, &[]).unwrap();
    let mut node = TkaMachine::new(cfg, stored(), w.now);
    node.handle_event(w.now, Event::LocalDisable);
    assert!(node.authority().is_none());
    while node.poll_action().is_some() {}
    node.handle_event(
        w.now,
        Event::PersistFailed {
            reason: "disk full".into(),
            stored: stored(),
        },
    );
    while node.poll_action().is_some() {}
    assert_eq!(node.authority().map(|a| a.head()), Some(head));
    assert!(node.health().contains(&HealthIssue::PersistFailed));
    let at = node.poll_timeout().expect("a retry is armed");
    assert!(at > w.now);
    node.handle_timeout(at);
    while node.poll_action().is_some() {}
    assert!(
        node.poll_timeout().is_none_or(|t| t > at),
        "a fired timer is consumed"
    );
    assert_eq!(node.authority().map(|a| a.head()), Some(head));
}

/// Removes `key` at control (signed by the admin) without telling the node.
fn remove_key_at_control(w: &mut World, key: &NlPrivate) {
    let admin = w.admin.clone();
    let (storage, authority) = w.control.parts_mut();
    let a = authority.unwrap();
    let mut b = a.builder(Some(&admin));
    b.remove_key(&key.public().0).unwrap();
    let updates = b.finalize(storage).unwrap();
    a.inform(storage, &updates, 0).unwrap();
}

/// Fuzz finding `machine_events/enforce-admits-key-not-found`, and the hole
/// it pointed at. A peer authorized before keeps that verdict while a sync
/// that may trust its new signer is in flight (the finding: same node key,
/// re-signed by a key the node does not trust yet), but only while the
/// keys that authorized it are still the node's keys. Here control
/// announces a head the exchange never reaches; the offer's answer removes
/// the key that signed the peer, and sync/send is still in flight: the
/// peer is dropped at once, not kept on a verdict given under keys the
/// node no longer trusts.
#[test]
fn a_kept_verdict_does_not_outlive_the_removal_of_its_signer() {
    let mut w = World::new(Mode::Enforce);
    w.sync();
    let signer = NlPrivate::from_seed(&[7; 32]);
    let later = NlPrivate::from_seed(&[8; 32]);
    add_key_at_control(&mut w, &signer);
    w.sync();
    w.tell(Event::PeersReplaced(vec![peer(3, Some(&signer))]));
    assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
    remove_key_at_control(&mut w, &signer);
    // Control announces a head past the removal that its offer answer will
    // not reach.
    w.now = w.now.plus_ms(1000);
    w.node.handle_event(
        w.now,
        Event::ControlState {
            enabled: true,
            head: Some(tka::AumHash([0x33; 32])),
        },
    );
    let offer = take_request(&mut w);
    // While the offer is out, the peer is re-signed by a key the node does
    // not trust: it keeps the verdict its earlier signature earned under the
    // node's current keys (the finding's case).
    let mut resigned = peer(3, Some(&later));
    w.tell(Event::PeerUpserted(resigned.clone()));
    assert!(w.node.holding_for_sync());
    assert!(matches!(w.node.verdicts()[&3], Verdict::Authorized(_)));
    // The offer's answer removes the key behind that verdict; sync/send is
    // left unanswered.
    deliver(&mut w, offer.expect("a sync offer"));
    let mark = w.log.len();
    let send = take_request(&mut w);
    assert_eq!(
        w.node.authority().unwrap().head(),
        w.control.authority().unwrap().head()
    );
    assert!(send.is_some() && w.node.holding_for_sync());
    assert!(!w.node.verdicts()[&3].admits(), "{:?}", w.node.verdicts());
    assert!(w.log[mark..]
        .iter()
        .any(|a| matches!(a, Action::PeerVerdict(v) if v.node_id == 3 && !v.admitted)));
    // The same with the peer's original signature, by the removed key.
    resigned = peer(3, Some(&signer));
    w.tell(Event::PeerUpserted(resigned));
    assert!(!w.node.verdicts()[&3].admits());
}
