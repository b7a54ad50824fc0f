//! A hostile control plane tries to roll a node back with signature
//! variants (SPEC §5.2), through the sans-IO machine and the sync/offer
//! response.
//!
//! The chain is `G -> A = AddKey(k) by k1,k2,k3 -> R = RemoveKey(k) by k1`.
//! Control holds A and R but no private key. From A it makes variants: the
//! signatures reordered so the hash sorts below A's (Go's fork choice would
//! then follow the variant and trust `k` again), one signature dropped, and
//! one signature repeated. It claims a variant as its head and sends the
//! variants in the offer response, before or after the original, in one
//! batch or in separate syncs. The node must end at R with `k` untrusted,
//! refuse a peer signed by `k`, and keep both after a restart from what it
//! persisted.

use bytes::Bytes;
use tka::builder::Signer;
use tka::control::ControlResponder;
use tka::machine::{
    Action, Config, Event, Mode, Peer, Persisted, StorageDelta, Time, TkaMachine, Verdict,
};
use tka::wire::{Path, SyncOfferResponse, SyncSendResponse, ToWire};
use tka::{Aum, AumHash, AumKind, Authority, MemStorage, NlPrivate, NodeKey, NodeKeySignature};
use tka::{State, Storage};

fn k(i: u8) -> NlPrivate {
    NlPrivate::from_seed(&[0x40 + i; 32])
}

/// The honest chain and control's variants of A.
struct Chain {
    g: Aum,
    a: Aum,
    r: Aum,
    /// A's signatures reordered; its hash sorts below A's.
    reordered: Aum,
    /// A with its last signature dropped.
    dropped: Aum,
    /// A with its first signature repeated at the end.
    repeated: Aum,
}

fn signed(mut aum: Aum, by: &[&NlPrivate]) -> Aum {
    let sh = aum.sig_hash();
    aum.signatures = Some(by.iter().flat_map(|s| s.sign_aum(&sh)).collect());
    aum
}

fn with_sigs(of: &Aum, picks: &[usize]) -> Aum {
    let sigs = of.signatures();
    let mut v = of.clone();
    v.signatures = Some(picks.iter().map(|i| sigs[*i].clone()).collect());
    v
}

fn chain() -> Chain {
    let (k1, k2, k3) = (k(1), k(2), k(3));
    let g = signed(
        Aum {
            message_kind: AumKind::CHECKPOINT,
            state: Some(State {
                last_aum_hash: None,
                disablement_values: Some(vec![Some(vec![0xd1; 32])]),
                keys: Some(vec![k1.to_key(1), k2.to_key(1), k3.to_key(1)]),
                state_id1: 5,
                state_id2: 6,
            }),
            ..Default::default()
        },
        &[&k1],
    );
    let a = signed(
        Aum {
            message_kind: AumKind::ADD_KEY,
            prev_aum_hash: Some(g.hash().0.to_vec()),
            key: Some(k(9).to_key(1)),
            ..Default::default()
        },
        &[&k1, &k2, &k3],
    );
    let r = signed(
        Aum {
            message_kind: AumKind::REMOVE_KEY,
            prev_aum_hash: Some(a.hash().0.to_vec()),
            key_id: Some(k(9).public().0.to_vec()),
            ..Default::default()
        },
        &[&k1],
    );
    let reordered = [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        .iter()
        .map(|p| with_sigs(&a, p))
        .find(|v| v.hash() < a.hash())
        .expect("a reorder whose hash sorts below A's");
    Chain {
        dropped: with_sigs(&a, &[0, 1]),
        repeated: with_sigs(&a, &[0, 1, 2, 0]),
        reordered,
        g,
        a,
        r,
    }
}

/// A node whose control plane answers sync offers from a script.
struct Net {
    honest: ControlResponder<MemStorage>,
    node: TkaMachine,
    now: Time,
    persisted: MemStorage,
    /// What control claims as its head and sends as missing AUMs.
    script: (AumHash, Vec<Aum>),
    ancestors: Vec<AumHash>,
    offers_answered: usize,
}

const PEER_OF_K: i64 = 5;
const PEER_OF_K1: i64 = 6;

fn peers() -> Vec<Peer> {
    [(PEER_OF_K, k(9)), (PEER_OF_K1, k(1))]
        .into_iter()
        .map(|(id, signer)| {
            let nk = NodeKey([id as u8; 32]);
            Peer {
                node_id: id,
                node_key: nk,
                signature: Bytes::from(
                    NodeKeySignature::sign_direct(&signer, &nk, None)
                        .unwrap()
                        .to_cbor(),
                ),
                unsigned_peer_api_only: false,
            }
        })
        .collect()
}

fn config() -> Config {
    Config::new(NodeKey([9; 32]), Mode::Enforce)
}

impl Net {
    fn new(c: &Chain) -> Net {
        let mut cs = MemStorage::new();
        Authority::bootstrap(&mut cs, c.g.clone(), 0).unwrap();
        let now = Time::from_unix_secs(1_800_000_000);
        let mut n = Net {
            honest: ControlResponder::enabled(cs, c.g.clone()).unwrap(),
            node: TkaMachine::new(config(), Persisted::default(), now),
            now,
            persisted: MemStorage::new(),
            script: (c.g.hash(), vec![]),
            ancestors: vec![c.g.hash()],
            offers_answered: 0,
        };
        n.node.handle_event(now, Event::PeersReplaced(peers()));
        n
    }

    /// Control claims `head` and answers the node's offer with `aums`. The
    /// node retries (with backoff) while its head differs from the claim;
    /// every retry gets the same answer, until the machine gives up.
    fn sync(&mut self, head: &Aum, aums: &[&Aum]) {
        self.script = (head.hash(), aums.iter().map(|a| (*a).clone()).collect());
        let answered = self.offers_answered;
        self.now = self.now.plus_ms(1000);
        self.node.handle_event(
            self.now,
            Event::ControlState {
                enabled: true,
                head: Some(head.hash()),
            },
        );
        for _ in 0..20 {
            self.run();
            match self.node.poll_timeout() {
                Some(t) => {
                    self.now = t;
                    self.node.handle_timeout(t);
                }
                None => break,
            }
        }
        assert!(
            self.offers_answered > answered,
            "the node asked for an offer"
        );
    }

    fn run(&mut self) {
        while let Some(a) = self.node.poll_action() {
            match a {
                Action::SendRequest { id, path, body } => {
                    let resp = match path {
                        Path::SyncOffer => {
                            self.offers_answered += 1;
                            SyncOfferResponse {
                                head: self.script.0,
                                ancestors: Some(self.ancestors.clone()),
                                missing_aums: Some(
                                    self.script.1.iter().map(Aum::to_cbor).collect(),
                                ),
                            }
                            .to_json()
                        }
                        Path::SyncSend => SyncSendResponse {
                            head: self.script.0,
                        }
                        .to_json(),
                        p => self.honest.handle(p, &body, self.now).unwrap(),
                    };
                    self.now = self.now.plus_ms(10);
                    self.node.handle_event(
                        self.now,
                        Event::Response {
                            id,
                            body: Bytes::from(resp),
                        },
                    );
                }
                Action::Persist(d) => apply(&mut self.persisted, &d),
                Action::RemoveAllState => self.persisted = MemStorage::new(),
                _ => {}
            }
        }
    }

    fn head(&self) -> AumHash {
        self.node.authority().unwrap().head()
    }

    /// A machine restarted over what this node persisted.
    fn restart(&self) -> TkaMachine {
        let mut m = TkaMachine::new(
            config(),
            Persisted::from_storage(&self.persisted, &[]).unwrap(),
            self.now,
        );
        m.handle_event(self.now, Event::PeersReplaced(peers()));
        m
    }
}

fn apply(store: &mut MemStorage, d: &StorageDelta) {
    d.apply_to(store, 0).unwrap();
}

/// The node is at R: `k` untrusted, its peer refused, k1's peer admitted;
/// and a restart from the persisted store agrees.
fn assert_removal_kept(n: &Net, c: &Chain, held: &[&Aum]) {
    let kid = k(9).public().0;
    assert_eq!(n.head(), c.r.hash());
    assert!(!n.node.authority().unwrap().key_trusted(&kid));
    assert!(matches!(
        n.node.verdicts()[&PEER_OF_K],
        Verdict::Rejected(_)
    ));
    assert!(n.node.verdicts()[&PEER_OF_K1].admits());
    for v in held {
        assert!(
            n.persisted.aum(&v.hash()).unwrap().is_some(),
            "the variant is valid and persisted"
        );
    }
    assert!(n.persisted.aum(&c.repeated.hash()).unwrap().is_none());
    let restarted = n.restart();
    let a = restarted.authority().expect("reopens");
    assert_eq!(a.head(), c.r.hash());
    assert!(!a.key_trusted(&kid));
    assert!(matches!(
        restarted.verdicts()[&PEER_OF_K],
        Verdict::Rejected(_)
    ));
    assert!(restarted.verdicts()[&PEER_OF_K1].admits());
    assert_eq!(Authority::open(&n.persisted).unwrap().head(), c.r.hash());
}

#[test]
fn the_variants_would_win_under_gos_rules() {
    // The premise of the attack: equal weight, neither is a RemoveKey, so
    // Go takes the lower hash: the reordered variant.
    let c = chain();
    assert!(c.reordered.hash() < c.a.hash());
    assert_eq!(c.reordered.sig_hash(), c.a.sig_hash());
    let state = c.g.state.as_ref().unwrap();
    assert_eq!(c.reordered.weight(state), c.a.weight(state));
}

#[test]
fn variants_sent_after_the_original_in_separate_syncs() {
    let c = chain();
    let mut n = Net::new(&c);
    n.sync(&c.r, &[&c.a, &c.r]);
    assert_eq!(n.head(), c.r.hash());
    assert!(matches!(
        n.node.verdicts()[&PEER_OF_K],
        Verdict::Rejected(_)
    ));
    n.sync(&c.reordered, &[&c.reordered]);
    n.sync(&c.dropped, &[&c.dropped]);
    n.sync(&c.repeated, &[&c.repeated]);
    assert_removal_kept(&n, &c, &[&c.reordered, &c.dropped]);
}

#[test]
fn variants_sent_after_the_original_in_one_batch() {
    let c = chain();
    let mut n = Net::new(&c);
    n.sync(&c.r, &[&c.a, &c.r]);
    n.sync(&c.reordered, &[&c.reordered, &c.dropped]);
    assert_removal_kept(&n, &c, &[&c.reordered, &c.dropped]);
    // A batch holding a repeated signer is refused whole.
    n.sync(&c.repeated, &[&c.dropped, &c.repeated]);
    assert_removal_kept(&n, &c, &[&c.reordered, &c.dropped]);
}

#[test]
fn variants_sent_before_the_original_in_separate_syncs() {
    let c = chain();
    let mut n = Net::new(&c);
    // Before the original arrives, the reordered variant is the update
    // itself as far as the node can tell: same content, same signers.
    n.sync(&c.reordered, &[&c.reordered]);
    assert_eq!(n.head(), c.reordered.hash());
    assert!(n.node.verdicts()[&PEER_OF_K].admits());
    n.sync(&c.dropped, &[&c.dropped]);
    assert_eq!(n.head(), c.reordered.hash(), "the dropped one weighs less");
    n.sync(&c.repeated, &[&c.repeated]);
    assert_eq!(n.head(), c.reordered.hash());
    // The original alone does not displace the variant: neither has a
    // child yet, and the variant's hash is lower (same state either way).
    n.sync(&c.a, &[&c.a]);
    assert_eq!(n.head(), c.reordered.hash());
    // Its child does: now the original has the deeper subtree.
    n.sync(&c.r, &[&c.r]);
    assert_removal_kept(&n, &c, &[&c.reordered, &c.dropped]);
}

#[test]
fn variants_and_the_original_in_one_batch_in_any_order() {
    let c = chain();
    for batch in [
        vec![&c.reordered, &c.dropped, &c.a, &c.r],
        vec![&c.a, &c.reordered, &c.r, &c.dropped],
        vec![&c.dropped, &c.a, &c.r, &c.reordered],
    ] {
        let mut n = Net::new(&c);
        n.sync(&c.reordered, &batch);
        assert_removal_kept(&n, &c, &[&c.reordered, &c.dropped]);
    }
}

#[test]
fn a_restart_between_the_variant_and_the_original_changes_nothing() {
    let c = chain();
    let mut n = Net::new(&c);
    n.sync(&c.reordered, &[&c.reordered]);
    n.node = n.restart();
    assert_eq!(n.head(), c.reordered.hash());
    n.sync(&c.r, &[&c.a, &c.r]);
    assert_removal_kept(&n, &c, &[&c.reordered]);
}
