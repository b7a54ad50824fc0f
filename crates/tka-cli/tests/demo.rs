//! `tka demo` runs the whole lifecycle (control on 127.0.0.1 with SQLite,
//! three nodes with on-disk stores, all over HTTP), checks each step
//! itself, and says what happened.

use std::process::Command;

fn demo(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_tka"))
        .arg("demo")
        .args(args)
        .output()
        .expect("run tka demo");
    (
        o.status.success(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn demo_runs_the_lifecycle_and_reports_each_refusal() {
    let keep = tempfile::tempdir().unwrap();
    let dir = keep.path().join("work");
    let (ok, out, err) = demo(&["--no-color", "--keep", dir.to_str().unwrap()]);
    assert!(ok, "tka demo failed: {err}\n{out}");
    for line in [
        "ok alice, bob, carol bootstrapped from control",
        "ok mallory would be refused by alice, bob, carol: failed signature check: key: key not found (observe mode admits it anyway)",
        "ok mallory refused by alice, bob, carol: failed signature check: key: key not found",
        "ok copycat refused by alice, bob, carol: failed signature check: signature does not authorize nodeKey",
        "ok eve refused by alice, bob, carol: missing signature",
        "ok dave admitted by alice, bob, carol: signature verified",
        "(read from disk)",
        "ok no new bootstrap",
        "ok trudy admitted by alice, bob, carol: signature verified",
        "the recovery won fork choice",
        "ok trusted keys now: alice's and bob's",
        "ok trudy refused by alice, bob, carol: failed signature check: key: key not found",
        "ok a wrong secret is refused on alice's node before anything is sent: incorrect disablement secret",
        "dropped the lock: no head, every peer admitted unfiltered",
        "the lock is off on every node",
        "checks passed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains('\x1b'), "colour with --no-color:\n{out}");
    // --keep kept the work directory: control's database and each node's
    // store (emptied by the disablement).
    assert!(dir.join("control.sqlite").is_file());
    for n in ["alice", "bob", "carol"] {
        assert!(dir.join(n).is_dir(), "{n}'s store is gone");
    }
}

#[test]
fn demo_refuses_a_work_directory_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), b"x").unwrap();
    let (ok, _, err) = demo(&["--keep", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("is not empty"), "{err}");
}
