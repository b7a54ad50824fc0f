//! What the `tka` binary tests share. Each test file uses some of it.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the `tka` binary with `args`, ignoring any `TKA_STATE` /
/// `TKA_CONTROL` of the environment running the tests, without colour.
pub fn tka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tka"))
        .args(args)
        .env_remove("TKA_STATE")
        .env_remove("TKA_CONTROL")
        .env("NO_COLOR", "1")
        .output()
        .expect("run tka")
}

/// Asserts a successful run and returns its standard output.
pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "tka failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Asserts a failed run whose standard error is exactly one line starting
/// `tka: `, and returns that line.
pub fn error_line(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "tka succeeded: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let e = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(e.starts_with("tka: "), "{e}");
    e
}
