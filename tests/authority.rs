//! Authority behaviour: fork choice, Inform, the builder, compaction and
//! retroactive revocation, written with the chain notation of `chaintest`.

mod chaintest;

use chaintest::{key, Chain};
use tka::builder::{cosign, Signer};
use tka::compact::CompactionOptions;
use tka::{AumVerifyError, Authority, AuthorityError, MemStorage, Storage, StoredAum};

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
    // X is signed twice by k1: weight 1. Y is signed by k2 (2 votes):
    // weight 2, so Y wins. Inform refuses X (duplicate signer), so X can
    // only be in storage read without checks, where fork choice still
    // counts k1 once.
    let c = Chain::parse(
        "
        G checkpoint k1,k2:2 by k1
        X <- G noop by k1,k1
        Y <- G noop by k2
        ",
    );
    let s = persisted(&c, &["G", "X", "Y"]);
    assert_eq!(c.name_of(Authority::open(&s).unwrap().head()), "Y");
}

/// A storage holding exactly these AUMs, unchecked, as if reloaded.
fn persisted(c: &Chain, names: &[&str]) -> MemStorage {
    let aums = c.get(names).into_iter().map(StoredAum::new);
    MemStorage::from_persisted(aums, Some(c.hash(names[0])), 0)
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

// --- Signature variants (SPEC §5.2): a divergence from Go. ---

fn duplicate_signer(e: &AumVerifyError) -> Option<(usize, Vec<u8>)> {
    match e {
        AumVerifyError::DuplicateSigner { index, key_id } => Some((*index, key_id.clone())),
        _ => None,
    }
}

#[test]
fn an_aum_naming_a_signer_twice_is_refused_by_inform_and_bootstrap() {
    let c = Chain::parse(
        "
        G  checkpoint k1,k2 by k1
        A  <- G noop        by k2,k1,k2
        D  checkpoint k1,k2 by k1,k1
        ",
    );
    let k1 = key("k1").public().0.to_vec();
    let k2 = key("k2").public().0.to_vec();
    let (mut a, mut s) = boot(&c, "G");
    let err = a.inform(&mut s, &c.get(&["A"]), 0).unwrap_err();
    match &err {
        AuthorityError::UpdateInvalid { index: 0, error } => {
            assert_eq!(duplicate_signer(error), Some((2, k2.clone())), "{err}");
        }
        _ => panic!("{err}"),
    }
    assert!(s.aum(&c.hash("A")).unwrap().is_none(), "nothing stored");
    // The same signatures once each are fine.
    let mut c = c;
    c.variant("A", "A1", &[0, 1]);
    a.inform(&mut s, &c.get(&["A1"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "A1");

    let err = Authority::bootstrap(&mut MemStorage::new(), c.aums["D"].clone(), 0).unwrap_err();
    match &err {
        AuthorityError::InvalidBootstrap(error) => {
            assert_eq!(duplicate_signer(error), Some((1, k1.clone())), "{err}");
        }
        _ => panic!("{err}"),
    }
    let state = c.aums["D"].state.clone().unwrap();
    let e = tka::authority::verify_aum(&c.aums["D"], &state, true).unwrap_err();
    assert_eq!(duplicate_signer(&e), Some((1, k1)));
    // Create signs once, so it always passes this rule.
    let (created, _) = Authority::create(&mut MemStorage::new(), state, &key("k1"), 0).unwrap();
    assert!(created.key_trusted(&k2));
}

/// `G -> A = AddKey(k4) by k1,k2,k3 -> R = RemoveKey(k4)`, plus `V`: a
/// reordered or shortened copy of A's signatures whose hash is lower than
/// A's, so Go's fork choice (equal weight for a reorder, then the lower
/// hash) would roll the head back to V and trust k4 again.
fn rollback_setup(picks: &[&[usize]]) -> Chain {
    let mut c = Chain::parse(
        "
        G checkpoint k1,k2,k3 by k1
        A <- G add k4         by k1,k2,k3
        R <- A remove k4      by k1
        ",
    );
    let a = c.hash("A");
    for p in picks {
        if c.variant("A", "V", p) < a {
            return c;
        }
    }
    panic!("no candidate variant hashes below A; change the key names");
}

const REORDERS: &[&[usize]] = &[&[0, 2, 1], &[1, 0, 2], &[1, 2, 0], &[2, 0, 1], &[2, 1, 0]];

fn assert_kept_removal(c: &Chain, a: &Authority, s: &MemStorage) {
    assert_eq!(c.name_of(a.head()), "R");
    assert!(!a.key_trusted(&key("k4").public().0));
    let reopened = Authority::open(s).unwrap();
    assert_eq!(c.name_of(reopened.head()), "R");
    assert_eq!(reopened.state(), a.state());
}

#[test]
fn a_reordered_variant_sent_after_the_original_does_not_roll_back() {
    let c = rollback_setup(REORDERS);
    // Go's rule alone would pick V: same weight, not a RemoveKey, lower hash.
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["A", "R"]), 0).unwrap();
    a.inform(&mut s, &c.get(&["V"]), 0).unwrap();
    assert!(
        s.aum(&c.hash("V")).unwrap().is_some(),
        "V is valid and kept"
    );
    assert_kept_removal(&c, &a, &s);
}

#[test]
fn a_reordered_variant_sent_before_the_original_gives_way_to_it() {
    let c = rollback_setup(REORDERS);
    for batches in [
        vec![vec!["V"], vec!["A", "R"]],
        vec![vec!["V"], vec!["A"], vec!["R"]],
        vec![vec!["V", "A", "R"]],
        vec![vec!["A", "V", "R"]],
    ] {
        let (mut a, mut s) = boot(&c, "G");
        for b in &batches {
            a.inform(&mut s, &c.get(b), 0).unwrap();
        }
        assert_kept_removal(&c, &a, &s);
    }
    // With only V and A held, neither has a child: the variant and the
    // original carry the same state, and the lower hash (V) is the head.
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["V", "A"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "V");
    assert!(a.key_trusted(&key("k4").public().0));
}

#[test]
fn a_dropped_signature_variant_does_not_roll_back() {
    // Every signer has at least one vote, so dropping a signature always
    // costs weight and Go keeps A too; the rule agrees.
    let c = rollback_setup(&[&[0], &[1], &[2], &[0, 1], &[1, 0], &[0, 2], &[1, 2]]);
    for batches in [
        vec![vec!["A", "R"], vec!["V"]],
        vec![vec!["V"], vec!["A", "R"]],
    ] {
        let (mut a, mut s) = boot(&c, "G");
        for b in &batches {
            a.inform(&mut s, &c.get(b), 0).unwrap();
        }
        assert_kept_removal(&c, &a, &s);
    }
}

#[test]
fn many_variants_at_once_do_not_roll_back() {
    let mut c = rollback_setup(REORDERS);
    let mut names = vec!["A".to_owned(), "R".to_owned()];
    let all: &[&[usize]] = &[
        &[0],
        &[1],
        &[2],
        &[0, 1],
        &[1, 0],
        &[0, 2],
        &[2, 0],
        &[1, 2],
        &[2, 1],
        &[0, 2, 1],
        &[1, 0, 2],
        &[1, 2, 0],
        &[2, 0, 1],
        &[2, 1, 0],
    ];
    for (i, p) in all.iter().enumerate() {
        let n = format!("V{i}");
        c.variant("A", &n, p);
        names.push(n);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Every order of arrival, one batch or one AUM at a time.
    for rot in 0..refs.len() {
        let mut order = refs.clone();
        order.rotate_left(rot);
        // A batch must list R after A (its parent), or R has no state yet.
        order.retain(|n| *n != "R");
        order.push("R");
        let (mut a, mut s) = boot(&c, "G");
        a.inform(&mut s, &c.get(&order), 0).unwrap();
        assert_kept_removal(&c, &a, &s);
        let (mut a, mut s) = boot(&c, "G");
        for n in &order {
            a.inform(&mut s, &c.get(&[n]), 0).unwrap();
        }
        assert_kept_removal(&c, &a, &s);
    }
}

#[test]
fn same_content_from_unrelated_signers_is_an_honest_fork_resolved_as_in_go() {
    // X and Y are the same NoOp signed by different admins (same SigHash,
    // equal weight). Go takes the lower hash even when the other has a
    // longer branch; so does this crate. Likewise for overlapping but not
    // nested signer sets.
    for (sx, sy) in [("k1", "k2"), ("k1,k2", "k2,k3")] {
        let c = Chain::parse(&format!(
            "
            G  checkpoint k1,k2,k3 by k1
            X  <- G noop  by {sx}
            Y  <- G noop  by {sy}
            X2 <- X noop  by k1
            Y2 <- Y noop  by k2
            "
        ));
        let lower = if c.hash("X") < c.hash("Y") { "X" } else { "Y" };
        let higher = if lower == "X" { "Y" } else { "X" };
        let (mut a, mut s) = boot(&c, "G");
        a.inform(&mut s, &c.get(&[higher, &format!("{higher}2"), lower]), 0)
            .unwrap();
        assert_eq!(c.name_of(a.head()), lower, "signers {sx} / {sy}");
        assert_eq!(c.name_of(Authority::open(&s).unwrap().head()), lower);
    }
}

#[test]
fn a_cosigned_copy_with_more_weight_still_wins_as_in_go() {
    // Y adds k2's signature to X, which needed k2's private key: not a
    // variant a relay can make. X has a child, but Y is never set aside by
    // X (Y's signers are not a subset of X's), so Go's weight rule picks Y.
    let mut c = Chain::parse(
        "
        G  checkpoint k1,k2 by k1
        Y  <- G noop  by k1,k2
        ",
    );
    let x = c.variant("Y", "X", &[0]);
    let mut x2 = tka::Aum {
        message_kind: tka::AumKind::NO_OP,
        prev_aum_hash: Some(x.0.to_vec()),
        ..Default::default()
    };
    x2.signatures = Some(key("k1").sign_aum(&x2.sig_hash()));
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &[c.aums["X"].clone(), x2.clone()], 0)
        .unwrap();
    assert_eq!(a.head(), x2.hash());
    a.inform(&mut s, &c.get(&["Y"]), 0).unwrap();
    assert_eq!(c.name_of(a.head()), "Y");
    assert_eq!(c.name_of(Authority::open(&s).unwrap().head()), "Y");
}

/// Every ordered selection of `0..n` with at least one element.
fn ordered_selections(n: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut stack: Vec<Vec<usize>> = vec![vec![]];
    while let Some(p) = stack.pop() {
        if !p.is_empty() {
            out.push(p.clone());
        }
        for i in 0..n {
            if !p.contains(&i) {
                let mut q = p.clone();
                q.push(i);
                stack.push(q);
            }
        }
    }
    out
}

#[test]
fn variants_of_one_update_are_bounded() {
    // A has 3 signatures: 15 ordered selections of distinct signatures,
    // the original among them, so 14 variants can be stored, however they
    // are sent. Every list with a repeat is refused.
    let mut c = rollback_setup(REORDERS);
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["A", "R"]), 0).unwrap();
    let base = s.len();
    let all = ordered_selections(3);
    assert_eq!(all.len(), 15);
    for round in 0..2 {
        for (i, p) in all.iter().enumerate() {
            let n = format!("S{i}");
            c.variant("A", &n, p);
            a.inform(&mut s, &c.get(&[&n]), 0).unwrap();
        }
        assert_eq!(s.len(), base + 14, "round {round}");
    }
    for (i, p) in all.iter().enumerate() {
        for extra in 0..3 {
            let mut q = p.clone();
            q.insert(i % (q.len() + 1), extra);
            if q.len() == 4 || p.contains(&extra) {
                let n = format!("D{i}-{extra}");
                c.variant("A", &n, &q);
                let err = a.inform(&mut s, &c.get(&[&n]), 0).unwrap_err();
                assert!(
                    matches!(
                        &err,
                        AuthorityError::UpdateInvalid { error, .. } if duplicate_signer(error).is_some()
                    ),
                    "{err}"
                );
            }
        }
    }
    assert_eq!(s.len(), base + 14);
    assert_kept_removal(&c, &a, &s);
}

#[test]
fn compaction_purges_variants_with_the_history_they_hang_from() {
    // Variants are side branches: kept while young (14 days) or while
    // their parent is retained, then purged like any losing branch.
    let mut c = rollback_setup(REORDERS);
    c.variant("A", "V2", &[0, 1]);
    let (mut a, mut s) = boot(&c, "G");
    a.inform(&mut s, &c.get(&["A", "R", "V", "V2"]), 0).unwrap();
    let day = 86_400;
    a.compact(&mut s, 30 * day, CompactionOptions::default())
        .unwrap();
    assert!(
        s.aum(&c.hash("V")).unwrap().is_some(),
        "G is still retained"
    );
    // Two rounds of updates a day later (the first ends with a
    // checkpoint); compaction a month on moves the oldest ancestor to that
    // checkpoint and drops the old fork point with its variants.
    let signer = key("k1");
    for round in 0..2 {
        let mut b = a.builder(Some(&signer));
        for i in 0..(60 - 30 * round) {
            b.set_key_vote(&signer.public().0, 1 + i % 3).unwrap();
        }
        let out = b.finalize(&s).unwrap();
        a.inform(&mut s, &out, day).unwrap();
    }
    let head = a.head();
    a.compact(&mut s, 40 * day, CompactionOptions::default())
        .unwrap();
    for n in ["V", "V2", "A", "G"] {
        assert!(s.aum(&c.hash(n)).unwrap().is_none(), "{n} purged");
    }
    assert_eq!(a.head(), head);
    assert_eq!(Authority::open(&s).unwrap().head(), head);
    assert!(!a.key_trusted(&key("k4").public().0));
}
