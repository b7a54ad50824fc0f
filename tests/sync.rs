//! Sync offers and MissingAUMs on chains built and signed here.

use tka::limits::MAX_SYNC_OFFER_ANCESTORS;
use tka::sync::compute_intersection;
use tka::{
    Aum, AumHash, AumKind, Authority, Intersection, MemStorage, NlPrivate, Signature, State,
    Storage, SyncError, SyncOffer,
};

/// Two trusted keys with one vote each; AUMs are signed by one of them.
struct Net {
    a: NlPrivate,
    b: NlPrivate,
    genesis_state: State,
}

impl Net {
    fn new(seed: u8) -> Self {
        let a = NlPrivate::from_seed(&[seed; 32]);
        let b = NlPrivate::from_seed(&[seed.wrapping_add(100); 32]);
        let genesis_state = State {
            last_aum_hash: None,
            disablement_values: Some(vec![Some(vec![seed; 32])]),
            keys: Some(vec![a.to_key(1), b.to_key(1)]),
            state_id1: u64::from(seed),
            state_id2: 2,
        };
        Net {
            a,
            b,
            genesis_state,
        }
    }

    /// A fresh storage and authority holding only the genesis checkpoint.
    fn create(&self) -> (MemStorage, Authority, Aum) {
        let mut s = MemStorage::new();
        let (auth, g) = Authority::create(&mut s, self.genesis_state.clone(), &self.a, 0).unwrap();
        (s, auth, g)
    }

    fn sign(&self, mut aum: Aum, by_b: bool) -> Aum {
        let k = if by_b { &self.b } else { &self.a };
        aum.signatures = Some(vec![Signature {
            key_id: Some(k.public().0.to_vec()),
            signature: Some(k.sign(&aum.sig_hash()).to_vec()),
        }]);
        aum
    }

    fn noop(&self, parent: AumHash, by_b: bool) -> Aum {
        self.sign(
            Aum {
                message_kind: AumKind::NO_OP,
                prev_aum_hash: Some(parent.0.to_vec()),
                ..Default::default()
            },
            by_b,
        )
    }

    fn checkpoint(&self, parent: AumHash) -> Aum {
        self.sign(
            Aum {
                message_kind: AumKind::CHECKPOINT,
                prev_aum_hash: Some(parent.0.to_vec()),
                state: Some(self.genesis_state.clone()),
                ..Default::default()
            },
            false,
        )
    }

    /// `n` AUMs after `parent`; the i-th (1-based) is a checkpoint when
    /// `every` divides i.
    fn extend(&self, parent: AumHash, n: usize, every: usize, by_b: bool) -> Vec<Aum> {
        let mut out: Vec<Aum> = Vec::with_capacity(n);
        let mut p = parent;
        for i in 1..=n {
            let aum = if every > 0 && i % every == 0 {
                self.checkpoint(p)
            } else {
                self.noop(p, by_b)
            };
            p = aum.hash();
            out.push(aum);
        }
        out
    }
}

fn hashes(aums: &[Aum]) -> Vec<AumHash> {
    aums.iter().map(Aum::hash).collect()
}

/// A genesis plus `n` AUMs (checkpoint every `every`): the storage, the
/// authority at the head, and every hash with the genesis at index 0.
fn linear(net: &Net, n: usize, every: usize) -> (MemStorage, Authority, Vec<AumHash>) {
    let (mut s, mut auth, g) = net.create();
    let rest = net.extend(g.hash(), n, every, false);
    if !rest.is_empty() {
        auth.inform(&mut s, &rest, 0).unwrap();
    }
    let mut all = vec![g.hash()];
    all.extend(hashes(&rest));
    assert_eq!(auth.head(), *all.last().unwrap());
    (s, auth, all)
}

#[test]
fn offer_lists_checkpoints_newest_first_then_oldest() {
    let net = Net::new(1);
    let (s, auth, h) = linear(&net, 120, 50);
    let offer = auth.sync_offer(&s).unwrap();
    assert_eq!(offer.head, h[120]);
    assert_eq!(offer.ancestors, vec![h[100], h[50], h[0]]);

    // A checkpoint head is listed itself.
    let (s, auth, h) = linear(&net, 100, 50);
    let offer = auth.sync_offer(&s).unwrap();
    assert_eq!(offer.ancestors, vec![h[100], h[50], h[0]]);

    // No checkpoints: only the oldest ancestor.
    let (s, auth, h) = linear(&net, 30, 0);
    assert_eq!(auth.sync_offer(&s).unwrap().ancestors, vec![h[0]]);

    // Head is the oldest ancestor.
    let (s, auth, g) = net.create();
    let offer = auth.sync_offer(&s).unwrap();
    assert_eq!(offer.head, g.hash());
    assert_eq!(offer.ancestors, vec![g.hash()]);
}

#[test]
fn offer_walks_at_most_1000_aums() {
    let net = Net::new(2);
    let (s, auth, h) = linear(&net, 1500, 100);
    let offer = auth.sync_offer(&s).unwrap();
    // The walk reads the head (1500) back to 501; checkpoint 500 is beyond it.
    let mut want: Vec<AumHash> = (6..=15).rev().map(|i| h[i * 100]).collect();
    want.push(h[0]);
    assert_eq!(offer.ancestors, want);
}

#[test]
fn legacy_offer_positions() {
    let net = Net::new(3);
    let (s, auth, h) = linear(&net, 300, 50);
    let offer = auth.legacy_sync_offer(&s).unwrap();
    assert_eq!(offer.head, h[300]);
    assert_eq!(offer.ancestors, vec![h[296], h[284], h[236], h[44], h[0]]);

    // Beyond the 400-step walk nothing more is listed.
    let (s, auth, h) = linear(&net, 700, 0);
    let offer = auth.legacy_sync_offer(&s).unwrap();
    assert_eq!(offer.ancestors, vec![h[696], h[684], h[636], h[444], h[0]]);

    // Short chains stop at the oldest ancestor.
    let (s, auth, h) = linear(&net, 10, 0);
    let offer = auth.legacy_sync_offer(&s).unwrap();
    assert_eq!(offer.ancestors, vec![h[6], h[0]]);

    // Oldest exactly 4 back: Go lists it twice.
    let (s, auth, h) = linear(&net, 4, 0);
    let offer = auth.legacy_sync_offer(&s).unwrap();
    assert_eq!(offer.ancestors, vec![h[0], h[0]]);

    let (s, auth, h) = linear(&net, 3, 0);
    assert_eq!(auth.legacy_sync_offer(&s).unwrap().ancestors, vec![h[0]]);
}

#[test]
fn head_intersection_sends_what_follows_the_remote_head() {
    let net = Net::new(4);
    let (ls, local, h) = linear(&net, 40, 10);
    let (rs, remote, rh) = linear(&net, 25, 10);
    assert_eq!(&h[..26], &rh[..]);
    let remote_offer = remote.sync_offer(&rs).unwrap();
    assert_eq!(
        compute_intersection(&ls, local.head(), &remote_offer).unwrap(),
        Intersection::Head(h[25])
    );
    let sent = local.missing_aums(&ls, &remote_offer).unwrap().unwrap();
    let sent: Vec<AumHash> = sent.iter().map(|a| a.hash()).collect();
    assert_eq!(sent, h[26..].to_vec());

    // The other way: the remote does not store our head (40), nor our
    // checkpoint 30; checkpoint 20 is the newest listed AUM it holds, and
    // fork choice from there reaches its head.
    let local_offer = local.sync_offer(&ls).unwrap();
    assert_eq!(
        compute_intersection(&rs, remote.head(), &local_offer).unwrap(),
        Intersection::Tail(h[20])
    );
    // Nothing after 20 that the remote has is new to us, but Go sends its
    // chain from the intersection: 21..=25.
    let back = remote.missing_aums(&rs, &local_offer).unwrap().unwrap();
    let back: Vec<AumHash> = back.iter().map(|a| a.hash()).collect();
    assert_eq!(back, h[21..26].to_vec());
}

#[test]
fn tail_intersection_on_a_fork() {
    let net = Net::new(5);
    let (mut ls, mut local, g) = net.create();
    let common = net.extend(g.hash(), 5, 0, false);
    local.inform(&mut ls, &common, 0).unwrap();
    let mut rs = ls.clone();
    let mut remote = local.clone();
    let fork = common.last().unwrap().hash();
    let mine = net.extend(fork, 3, 0, false);
    let theirs = net.extend(fork, 4, 0, true);
    local.inform(&mut ls, &mine, 0).unwrap();
    remote.inform(&mut rs, &theirs, 0).unwrap();

    let remote_offer = remote.sync_offer(&rs).unwrap();
    assert_eq!(remote_offer.ancestors, vec![g.hash()]);
    assert_eq!(
        compute_intersection(&ls, local.head(), &remote_offer).unwrap(),
        Intersection::Tail(g.hash())
    );
    let to_remote = local.missing_aums(&ls, &remote_offer).unwrap().unwrap();
    let mut want = hashes(&common);
    want.extend(hashes(&mine));
    assert_eq!(to_remote.iter().map(|a| a.hash()).collect::<Vec<_>>(), want);
    let to_local = remote
        .missing_aums(&rs, &local.sync_offer(&ls).unwrap())
        .unwrap()
        .unwrap();

    // Complete the exchange: both converge on one head by fork choice.
    let to_remote: Vec<Aum> = to_remote.iter().map(|a| a.aum().clone()).collect();
    let to_local: Vec<Aum> = to_local.iter().map(|a| a.aum().clone()).collect();
    remote.inform(&mut rs, &to_remote, 0).unwrap();
    local.inform(&mut ls, &to_local, 0).unwrap();
    assert_eq!(local.head(), remote.head());
    assert_eq!(
        local.sync_offer(&ls).unwrap(),
        remote.sync_offer(&rs).unwrap()
    );
    assert_eq!(
        local
            .missing_aums(&ls, &remote.sync_offer(&rs).unwrap())
            .unwrap(),
        None
    );
}

#[test]
fn no_intersection_is_its_own_error() {
    let (ls, local, _) = linear(&Net::new(6), 5, 0);
    let (rs, remote, _) = linear(&Net::new(7), 5, 0);
    let ro = remote.sync_offer(&rs).unwrap();
    assert_eq!(local.missing_aums(&ls, &ro), Err(SyncError::NoIntersection));
    assert_eq!(
        compute_intersection(&ls, local.head(), &ro),
        Err(SyncError::NoIntersection)
    );
    // An empty ancestor list with an unknown head finds nothing either.
    let bare = SyncOffer {
        head: AumHash::of(b"elsewhere"),
        ancestors: vec![],
    };
    assert_eq!(
        local.missing_aums(&ls, &bare),
        Err(SyncError::NoIntersection)
    );
}

#[test]
fn up_to_date_versus_nothing_to_send() {
    let net = Net::new(8);
    let (ls, local, h) = linear(&net, 12, 0);
    // Same head: up to date, whatever the ancestors say.
    let same = SyncOffer {
        head: local.head(),
        ancestors: vec![AumHash::of(b"junk")],
    };
    assert_eq!(local.missing_aums(&ls, &same).unwrap(), None);
    assert_eq!(
        compute_intersection(&ls, local.head(), &same).unwrap(),
        Intersection::UpToDate
    );

    // The remote is ahead and lists our head as an ancestor: the
    // intersection is our head, so there is nothing to send.
    let ahead = SyncOffer {
        head: AumHash::of(b"beyond"),
        ancestors: vec![h[12], h[0]],
    };
    assert_eq!(local.missing_aums(&ls, &ahead).unwrap(), Some(vec![]));

    // A genesis-only side is in the same position for any remote that
    // descends from its genesis.
    let (gs, gauth, g) = net.create();
    let remote_offer = local.sync_offer(&ls).unwrap();
    assert_eq!(remote_offer.ancestors, vec![g.hash()]);
    assert_eq!(
        gauth.missing_aums(&gs, &remote_offer).unwrap(),
        Some(vec![])
    );
}

#[test]
fn unknown_ancestors_are_skipped_and_huge_offers_refused() {
    let net = Net::new(9);
    let (ls, local, h) = linear(&net, 8, 0);
    let offer = SyncOffer {
        head: AumHash::of(b"x"),
        ancestors: vec![AumHash::of(b"y"), AumHash::of(b"y"), h[3], h[0]],
    };
    assert_eq!(
        compute_intersection(&ls, local.head(), &offer).unwrap(),
        Intersection::Tail(h[3])
    );
    let sent = local.missing_aums(&ls, &offer).unwrap().unwrap();
    assert_eq!(
        sent.iter().map(|a| a.hash()).collect::<Vec<_>>(),
        h[4..].to_vec()
    );

    let huge = SyncOffer {
        head: local.head(),
        ancestors: vec![h[0]; MAX_SYNC_OFFER_ANCESTORS + 1],
    };
    assert!(matches!(
        local.missing_aums(&ls, &huge),
        Err(SyncError::TooManyAncestors(_))
    ));
}

#[test]
fn remote_head_on_a_losing_branch_we_store() {
    // We store the remote's head, but on a branch our head does not descend
    // from: no head intersection, so the tail case decides.
    let net = Net::new(10);
    let (mut ls, mut local, g) = net.create();
    let a = net.extend(g.hash(), 2, 0, false);
    let b = net.extend(g.hash(), 2, 0, true);
    local.inform(&mut ls, &a, 0).unwrap();
    local.inform(&mut ls, &b, 0).unwrap();
    let (winner, loser) = if local.head() == a[1].hash() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert_eq!(local.head(), winner[1].hash());
    let offer = SyncOffer {
        head: loser[1].hash(),
        ancestors: vec![g.hash()],
    };
    assert!(ls.aum(&offer.head).unwrap().is_some());
    assert_eq!(
        compute_intersection(&ls, local.head(), &offer).unwrap(),
        Intersection::Tail(g.hash())
    );
    let sent = local.missing_aums(&ls, &offer).unwrap().unwrap();
    assert_eq!(
        sent.iter().map(|x| x.hash()).collect::<Vec<_>>(),
        hashes(winner)
    );
    // Listing the losing branch's first AUM: fork choice from there ends at
    // the loser's head, not ours, so it is not an intersection.
    let offer = SyncOffer {
        head: loser[1].hash(),
        ancestors: vec![loser[0].hash()],
    };
    assert_eq!(
        compute_intersection(&ls, local.head(), &offer),
        Err(SyncError::NoIntersection)
    );
}

#[test]
fn wire_form_round_trips_real_offers() {
    let net = Net::new(11);
    let (s, auth, _) = linear(&net, 120, 50);
    let offer = auth.sync_offer(&s).unwrap();
    let (head, ancestors) = offer.to_wire();
    assert_eq!(head.len(), 52);
    assert!(ancestors.iter().all(|a| a.len() == 52));
    assert_eq!(SyncOffer::from_wire(&head, &ancestors).unwrap(), offer);
}
