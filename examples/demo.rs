//! The main job: a Rust node enforcing Tailnet Lock against a control plane,
//! end to end, with no IO — the control plane is this crate's own responder
//! and the "network" is a function call.
//!
//! Run with `cargo run --release --example demo`.

use bytes::Bytes;
use tka::builder::Signer;
use tka::control::ControlResponder;
use tka::machine::{Action, Config, Event, Mode, Peer, Persisted, Time, TkaMachine};
use tka::sig::SigKind;
use tka::wire::ToWire;
use tka::{Aum, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature, State};

const SECRET: &[u8] = b"disablement secret kept offline";

struct Demo {
    control: ControlResponder<MemStorage>,
    node: TkaMachine,
    now: Time,
}

impl Demo {
    /// Feeds one event, answers the node's requests from control, prints
    /// what the node did.
    fn step(&mut self, what: &str, ev: Event) {
        println!("\n== {what}");
        self.now = self.now.plus_ms(1000);
        self.node.handle_event(self.now, ev);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(a) = self.node.poll_action() {
            match a {
                Action::SendRequest { id, path, body } => {
                    println!("   -> GET {path} ({} bytes)", body.len());
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
                    self.now = self.now.plus_ms(20);
                    self.node.handle_event(self.now, ev);
                }
                other => print_action(&other),
            }
        }
    }

    fn control_state(&self) -> Event {
        let info = self.control.tka_info();
        Event::ControlState {
            enabled: info.as_ref().is_some_and(|i| i.enabled()),
            head: info.and_then(|i| i.head_hash().ok().flatten()),
        }
    }
}

/// Prints one action other than a request.
fn print_action(a: &Action) {
    match a {
        Action::Persist(d) => println!(
            "   persist: {} AUM(s) stored, {} purged, ancestor hint {}",
            d.committed.len(),
            d.purged.len(),
            if d.last_active_ancestor.is_some() {
                "updated"
            } else {
                "unchanged"
            }
        ),
        Action::RemoveAllState => println!("   persist: remove all TKA state"),
        Action::AuthorityInstalled { head, keys, source } => {
            println!(
                "   authority installed at {head} ({} key(s), {source})",
                keys.len()
            )
        }
        Action::AuthorityChanged { head, keys } => {
            println!("   authority moved to {head} ({} key(s))", keys.len())
        }
        Action::AuthorityRemoved => println!("   authority removed: lock is off"),
        Action::PeerVerdict(v) => {
            let what = &v.verdict;
            let admitted = if v.admitted { "admit" } else { "drop " };
            println!("   peer {:>2} {admitted} {what}", v.node_id);
        }
        Action::HealthChanged(h) => println!("   health: {h:?}"),
        Action::Log { message, .. } => println!("   log: {message}"),
        Action::PersistDisallowedStateIds(ids) => println!("   persist: disallowed {ids:?}"),
        Action::SendRequest { path, .. } => println!("   -> GET {path}"),
    }
}

fn signed_peer(id: i64, signer: &NlPrivate) -> Peer {
    let nk = NodeKey([id as u8; 32]);
    Peer {
        node_id: id,
        node_key: nk,
        signature: Bytes::from(
            NodeKeySignature::sign_direct(signer, &nk, None)
                .expect("wrapping key")
                .to_cbor(),
        ),
        unsigned_peer_api_only: false,
    }
}

fn main() {
    let admin = NlPrivate::from_seed(&[1; 32]);
    println!("Tailnet Lock demo: one Rust node, one control plane.");
    println!("admin key {}", admin.public());

    // `tailscale lock init`: a genesis checkpoint trusting the admin key.
    let mut genesis = Aum {
        message_kind: AumKind::CHECKPOINT,
        state: Some(State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(
                tka::kdf::disablement_kdf(SECRET).expect("kdf").to_vec(),
            )]),
            keys: Some(vec![admin.to_key(1)]),
            state_id1: 0x1234,
            state_id2: 0x5678,
        }),
        ..Default::default()
    };
    genesis.signatures = Some(admin.sign_aum(&genesis.sig_hash()));
    let mut control_store = MemStorage::new();
    Authority::bootstrap(&mut control_store, genesis.clone(), 0).expect("genesis");
    let control = ControlResponder::enabled(control_store, genesis).expect("control");

    let start = Time::from_unix_secs(1_800_000_000);
    let mut d = Demo {
        control,
        node: TkaMachine::new(
            Config::new(NodeKey([0xaa; 32]), Mode::Enforce),
            Persisted::default(),
            start,
        ),
        now: start,
    };

    let attacker = NlPrivate::from_seed(&[66; 32]);
    let mut peers = vec![
        signed_peer(2, &admin),
        Peer {
            node_id: 3,
            node_key: NodeKey([3; 32]),
            signature: Bytes::new(),
            unsigned_peer_api_only: false,
        },
        // A compromised control plane injects a node signed by its own key.
        signed_peer(4, &attacker),
    ];
    // And a forged rotation over a Direct signature whose wrapping key is
    // 32 zero bytes (what `tailscale lock sign` without a rotation key
    // stores): Go accepts such forgeries; this crate refuses small-order
    // verification keys.
    // (This crate refuses to sign with a small-order wrapping key, so the
    // Go-made signature is built by hand.)
    let mut honest = NodeKeySignature {
        sig_kind: SigKind::DIRECT,
        pubkey: Some(NodeKey([5; 32]).to_binary().to_vec()),
        key_id: Some(admin.public().0.to_vec()),
        wrapping_pubkey: Some(vec![0; 32]),
        ..Default::default()
    };
    honest.signature = Some(admin.sign(&honest.sig_hash()).to_vec());
    let forged = NodeKeySignature {
        sig_kind: SigKind::ROTATION,
        pubkey: Some(NodeKey([6; 32]).to_binary().to_vec()),
        nested: Some(Box::new(honest)),
        signature: Some(vec![1; 64]),
        ..Default::default()
    };
    peers.push(Peer {
        node_id: 6,
        node_key: NodeKey([6; 32]),
        signature: Bytes::from(forged.to_cbor()),
        unsigned_peer_api_only: false,
    });

    d.step(
        "netmap arrives before the lock is known: fail-open",
        Event::PeersReplaced(peers.clone()),
    );
    let ev = d.control_state();
    d.step("control reports the lock enabled: bootstrap + sync", ev);

    // The admin adds a second signing key at control.
    let second = NlPrivate::from_seed(&[2; 32]);
    {
        let (storage, authority) = d.control.parts_mut();
        let a = authority.expect("enabled");
        let mut b = a.builder(Some(&admin));
        b.add_key(second.to_key(2)).expect("add key");
        let updates = b.finalize(storage).expect("finalize");
        a.inform(storage, &updates, 1_800_000_000).expect("inform");
    }
    peers.push(signed_peer(7, &second));
    d.step(
        "a peer signed by a key the node does not know yet",
        Event::PeersReplaced(peers.clone()),
    );
    let ev = d.control_state();
    d.step(
        "control's head moved: sync, then re-evaluate every peer",
        ev,
    );

    // A lying control plane claims the lock is off with a wrong secret.
    println!("\n== a lying control plane says the lock is disabled");
    d.now = d.now.plus_ms(1000);
    d.node.handle_event(
        d.now,
        Event::ControlState {
            enabled: false,
            head: None,
        },
    );
    while let Some(a) = d.node.poll_action() {
        if let Action::SendRequest { id, path, .. } = &a {
            let (id, path) = (*id, *path);
            println!("   -> GET {path}, control answers with a wrong secret");
            let lie = tka::wire::BootstrapResponse {
                genesis_aum: vec![],
                disablement_secret: b"guess".to_vec(),
            };
            d.node.handle_event(
                d.now,
                Event::Response {
                    id,
                    body: Bytes::from(lie.to_json()),
                },
            );
        } else {
            print_action(&a);
        }
    }
    d.drain();
    println!(
        "   lock still on: {} (retry at {:?})",
        d.node.authority().is_some(),
        d.node.poll_timeout()
    );

    assert!(d.control.disable(SECRET));
    d.now = d.node.poll_timeout().unwrap_or(d.now);
    println!("\n== control disables the lock with the real secret");
    d.node.handle_timeout(d.now);
    d.drain();

    let c = d.node.counters();
    println!(
        "\nfinal: authority {}, peers unfiltered {}, health {:?}",
        if d.node.authority().is_some() {
            "on"
        } else {
            "off"
        },
        c.unfiltered,
        d.node.health()
    );
}
