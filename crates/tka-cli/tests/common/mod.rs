//! What the `tka` binary tests share.

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
