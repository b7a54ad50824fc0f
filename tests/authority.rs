//! Authority behaviour: fork choice, Inform, the builder, compaction and
//! retroactive revocation, written with the chain notation of `chaintest`.

mod chaintest;

use chaintest::{key, Chain};
use tka::builder::cosign;
use tka::compact::CompactionOptions;
use tka::{Authority, AuthorityError, MemStorage, Storage};

fn boot(c: &Chain, genesis: &str) -> (Authority, MemStorage) {
    let mut s = MemStorage::new();
    let a = Authority::bootstrap(&mut s, c.aums[genesis].clone(), 0).expect("bootstrap");
    (a, s)
}

#[test]
fn heavier_branch_wins_over_longer_one() {
    // G -> A -> B -> C        (k1: 1 vote each)
    //  \-> X                  (k2: 3 votes)
    let c = Chain::parse(
        "
        G checkpoint k1,k2:3 by k1
        A <- G noop by k1
        B <- A noop by k1
        C <- B noop by k1
        X <- G noop by k2
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["A", "B", "C"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "C");
    a.inform(&mut s, &c.get(&["X"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "X");
    // Reopening from storage agrees.
    assert_eq!(c.name_of(Authority::open(&s).unwrap().head()), "X");
}

#[test]
fn on_equal_weight_remove_key_wins_then_lowest_hash() {
    let c = Chain::parse(
        "
        G checkpoint k1,k2,k3 by k1
        N <- G noop by k1
        R <- G remove k3 by k2
        M <- G noop by k2
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["N", "M"]), 0).unwrap();
    let lowest = if c.hash("N") < c.hash("M") { "N" } else { "M" };
    assert_eq!(c.name_of(a.head()), lowest);
    a.inform(&mut s, &c.get(&["R"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "R");
}

#[test]
fn weight_counts_each_trusted_signer_once_in_the_parent_state() {
    // X is signed twice by k1 and once by an untrusted key: weight 1.
    // Y is signed by k2 (2 votes): weight 2, so Y wins.
    let c = Chain::parse(
        "
        G checkpoint k1,k2:2 by k1
        X <- G noop by k1,k1
        Y <- G noop by k2
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["X"]), 0).unwrap();
    a.inform(&mut s, &c.get(&["Y"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "Y");
}

#[test]
fn inform_is_all_or_nothing() {
    let c = Chain::parse(
        "
        G checkpoint k1 by k1
        A <- G noop by k1
        B <- A noop by stranger
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    let before = s.len();
    let err = a.inform(&mut s, &c.get(&["A", "B"]), 0).unwrap_err();
    assert!(
        matches!(err, AuthorityError::UpdateInvalid { index: 1, .. }),
        "{err}"
    );
    assert_eq!(s.len(), before, "nothing was stored");
    assert_eq!(c.name_of(a.head()), "G");
    assert_eq!(a.inform(&mut s, &[], 0), Err(AuthorityError::EmptyInform));
}

#[test]
fn an_aum_whose_parent_is_unknown_is_refused() {
    let c = Chain::parse(
        "
        G checkpoint k1 by k1
        A <- G noop by k1
        B <- A noop by k1
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    let err = a.inform(&mut s, &c.get(&["B"]), 0).unwrap_err();
    assert!(
        matches!(err, AuthorityError::UpdateState { index: 0, .. }),
        "{err}"
    );
}

#[test]
fn removed_key_can_no_longer_sign() {
    let c = Chain::parse(
        "
        G checkpoint k1,k2 by k1
        A <- G remove k2 by k1
        B <- A noop by k2
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["A"]), 0).unwrap();
    assert!(!a.key_trusted(&key("k2").public().0));
    assert!(a.inform(&mut s, &c.get(&["B"]), 0).is_err());
}

#[test]
fn builder_adds_updates_and_checkpoints_every_50() {
    let c = Chain::parse("G checkpoint k1 by k1");
    let (mut a, mut s) = boot(&c, "G");
    let signer = key("k1");
    // 60 vote changes in batches of 10: a checkpoint appears once 50 AUMs
    // have passed without one.
    let mut checkpoints = 0;
    for round in 0..6 {
        let mut b = a.builder(Some(&signer));
        for i in 0..10u64 {
            b.set_key_vote(&signer.public().0, 1 + (round * 10 + i) % 7)
                .unwrap();
        }
        let out = b.finalize(&s).unwrap();
        checkpoints += out
            .iter()
            .filter(|x| x.message_kind == tka::AumKind::CHECKPOINT)
            .count();
        a.inform(&mut s, &out, 0).unwrap();
    }
    assert_eq!(checkpoints, 1);
    assert_eq!(a.keys()[0].votes, 1 + 59 % 7);
}

#[test]
fn builder_refuses_the_513th_key_and_removing_the_last_key() {
    let c = Chain::parse("G checkpoint k1 by k1");
    let (a, s) = boot(&c, "G");
    let signer = key("k1");
    let mut b = a.builder(Some(&signer));
    let err = b.remove_key(&signer.public().0).unwrap_err();
    assert_eq!(err, AuthorityError::Builder("cannot remove the last key"));
    for i in 0..511u32 {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        seed[31] = 0xaa;
        b.add_key(tka::NlPrivate::from_seed(&seed).to_key(1))
            .unwrap();
    }
    let extra = tka::NlPrivate::from_seed(&[0xee; 32]).to_key(1);
    assert_eq!(
        b.add_key(extra),
        Err(AuthorityError::Builder("maximum number of keys reached"))
    );
    let out = b.finalize(&s).unwrap();
    assert!(out.len() >= 511);
}

#[test]
fn compaction_purges_old_history_and_the_chain_still_opens() {
    let c = Chain::parse("G checkpoint k1 by k1");
    let (mut a, mut s) = boot(&c, "G");
    let signer = key("k1");
    let day = 86_400;
    for round in 0..4u64 {
        let mut b = a.builder(Some(&signer));
        for i in 0..30u64 {
            b.set_key_vote(&signer.public().0, 1 + (i % 5)).unwrap();
        }
        let out = b.finalize(&s).unwrap();
        a.inform(&mut s, &out, round * day).unwrap();
    }
    let total = s.len();
    let head = a.head();
    // 30 days later everything is old: only the last 24 AUMs and back to a
    // checkpoint stay.
    a.compact(&mut s, 30 * day, CompactionOptions::default())
        .unwrap();
    assert!(s.len() < total, "{} of {total} left", s.len());
    assert!(s.len() >= 24);
    assert_eq!(a.head(), head);
    let oldest = a.oldest_ancestor().hash();
    assert_eq!(s.last_active_ancestor().unwrap(), Some(oldest));
    let reopened = Authority::open(&s).unwrap();
    assert_eq!(reopened.head(), head);
    assert_eq!(reopened.state(), a.state());
    // The genesis is gone for good.
    assert!(s.aum(&c.hash("G")).unwrap().is_none());
}

#[test]
fn compaction_keeps_young_aums() {
    let c = Chain::parse("G checkpoint k1 by k1");
    let (mut a, mut s) = boot(&c, "G");
    let signer = key("k1");
    let mut b = a.builder(Some(&signer));
    for i in 0..60u64 {
        b.set_key_vote(&signer.public().0, 1 + i % 3).unwrap();
    }
    let out = b.finalize(&s).unwrap();
    a.inform(&mut s, &out, 1000).unwrap();
    let total = s.len();
    a.compact(&mut s, 2000, CompactionOptions::default())
        .unwrap();
    assert_eq!(s.len(), total, "nothing older than 14 days");
}

#[test]
fn retroactive_revocation_outweighs_the_compromised_branch() {
    // k3 is compromised: after it was added it signed an AddKey of an
    // attacker key and a long tail of updates. The revocation forks before
    // k3 signed anything and is cosigned by k1 and k2.
    let c = Chain::parse(
        "
        G  checkpoint k1,k2   by k1
        A  <- G  add k3       by k1
        B  <- A  noop         by k1
        X1 <- B  add evil:5   by k3
        X2 <- X1 noop         by evil
        X3 <- X2 noop         by k3,evil
        ",
    );
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["A", "B", "X1", "X2", "X3"]), 0)
        .unwrap();
    assert_eq!(c.name_of(a.head()), "X3");

    let k3 = key("k3").public().0;
    let evil = key("evil").public().0;
    let mut rev = a
        .make_retroactive_revocation(&s, &[&k3, &evil], &key("k1").public().0, None)
        .unwrap();
    // The fork point is the newest AUM whose state trusts neither key: G.
    assert_eq!(rev.parent(), Some(c.hash("G")));
    cosign(&mut rev, &key("k1")).unwrap();
    assert!(cosign(&mut rev, &key("k1")).is_err(), "no double signing");
    cosign(&mut rev, &key("k2")).unwrap();

    a.inform(&mut s, &[rev.clone()], 0).unwrap();
    assert_eq!(a.head(), rev.hash());
    assert!(!a.key_trusted(&k3) && !a.key_trusted(&evil));

    // The compromised keys cannot come back: at the fork point they were
    // never trusted, so nothing they sign on top of G verifies, and their
    // old branch (weight 1 at G) loses to the revocation (weight 2).
    let attack = Chain::parse(
        "
        G  checkpoint k1,k2   by k1
        Y  <- G noop          by k3,evil
        ",
    );
    assert!(a.inform(&mut s, &attack.get(&["Y"]), 0).is_err());
    assert_eq!(Authority::open(&s).unwrap().head(), rev.hash());
}
