//! `tka`: operate and inspect Tailnet Lock. The verbs and flags of
//! `tailscale lock` (init, status, add, remove, sign, disable,
//! disablement-kdf, log, local-disable, revoke-keys) work on a node state
//! directory (`--state`, see [`node`]) and a control server (`--control`);
//! `inspect`, `verify` and `demo` need no setup.
//!
//! The verbs that talk to control ([`online`]) sync the node's store with
//! control before and after a change, as a running node would; `sync` does
//! only that, and `replay` checks a node's recording ([`replay`]).
//!
//! Errors are one line on stderr and a non-zero exit status.
#![forbid(unsafe_code)]

mod demo;
mod input;
mod inspect;
mod json;
mod node;
mod offline;
mod online;
mod replay;
mod text;

use clap::{ArgAction, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Operate and inspect Tailnet Lock (the verbs of `tailscale lock`).
#[derive(Parser)]
#[command(name = "tka", version, about)]
pub struct Cli {
    /// The node state directory (tailnet-lock.key, node.key, tka/).
    #[arg(long, global = true, env = "TKA_STATE")]
    state: Option<PathBuf>,
    /// Read the AUM store from this tailchonk directory instead (for
    /// directories Go wrote); read-only verbs only.
    #[arg(long, global = true)]
    chonk: Option<PathBuf>,
    /// The control server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "TKA_CONTROL")]
    control: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Initialize Tailnet Lock for the whole tailnet.
    Init {
        /// Number of disablement secrets to generate.
        #[arg(long = "gen-disablements", default_value_t = 1)]
        gen_disablements: usize,
        /// Also generate a disablement secret and send it to control's
        /// support staff.
        #[arg(long = "gen-disablement-for-support")]
        support: bool,
        /// Do not only print the plan: do it.
        #[arg(long)]
        confirm: bool,
        /// Trusted keys (tlpub:HEX[?VOTES]) and optional disablement:HEX /
        /// disablement-secret:HEX values.
        args: Vec<String>,
    },
    /// Print the state of Tailnet Lock on this node.
    Status {
        /// Output tslockjsonv1 JSON (`--json` or `--json=1`).
        #[arg(long, num_args = 0..=1, default_missing_value = "1", require_equals = true)]
        json: Option<String>,
    },
    /// Add trusted signing keys.
    Add {
        /// Keys: tlpub:HEX[?VOTES].
        keys: Vec<String>,
    },
    /// Remove trusted signing keys.
    Remove {
        /// Re-sign the nodes the removed keys signed (default true).
        #[arg(long = "re-sign", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
        resign: bool,
        /// Keys: tlpub:HEX.
        keys: Vec<String>,
    },
    /// Sign a node key (`sign <nodekey> [<rotation-key>]`) or wrap a
    /// pre-auth key (`sign <tskey-auth-…>`); `file:PATH` reads an argument
    /// from a file.
    Sign {
        /// The node key or auth key, and the optional rotation key.
        args: Vec<String>,
    },
    /// Disable Tailnet Lock for the whole tailnet with a disablement
    /// secret.
    Disable {
        /// disablement-secret:HEX
        secret: Vec<String>,
    },
    /// Compute the disablement value of a secret.
    DisablementKdf {
        /// The secret, as hex.
        secret: String,
    },
    /// List the changes applied to Tailnet Lock, newest first.
    Log {
        /// At most this many updates.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output tslockjsonv1 JSON (`--json` or `--json=1`).
        #[arg(long, num_args = 0..=1, default_missing_value = "1", require_equals = true)]
        json: Option<String>,
    },
    /// Disable Tailnet Lock on this node only.
    LocalDisable,
    /// Retroactively revoke compromised keys (several steps; see `--help`).
    RevokeKeys {
        /// Add this node's signature to the recovery AUM given.
        #[arg(long)]
        cosign: bool,
        /// Submit the recovery AUM given.
        #[arg(long)]
        finish: bool,
        /// The AUM to fork from (64 hex digits or base32); advanced.
        #[arg(long = "fork-from")]
        fork_from: Option<String>,
        /// Keys to revoke (tlpub:HEX), or with --cosign/--finish the
        /// recovery AUM as hex.
        args: Vec<String>,
    },
    /// Decode an AUM, a node-key signature, a tailchonk file or a whole
    /// tailchonk directory.
    Inspect {
        /// Hex or base64 text, `@file`, or a directory.
        input: String,
        /// What to decode the bytes as.
        #[arg(long = "as", value_enum, default_value_t = inspect::As::Auto)]
        as_: inspect::As,
    },
    /// Check a node key's signature against the store's authority.
    Verify {
        /// nodekey:HEX
        node_key: String,
        /// The signature: hex, base64 or @file.
        signature: String,
    },
    /// Create a node state directory with fresh keys.
    Keygen,
    /// Sync the node's store with control, as a running node does on each
    /// netmap, and say what changed.
    Sync,
    /// Replay a node's recording (JSON lines) into a fresh state machine
    /// and report whether it did what the recording says.
    Replay {
        /// The recording file.
        recording: String,
    },
    /// Run a whole Tailnet Lock lifecycle on this machine: control on
    /// 127.0.0.1 and three nodes over HTTP, checked step by step.
    Demo {
        /// Run in this directory (empty or absent) and keep it.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// No colour (also off when NO_COLOR is set or stdout is not a
        /// terminal).
        #[arg(long = "no-color")]
        no_color: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tka: {e}");
            ExitCode::FAILURE
        }
    }
}

fn json_version(v: &Option<String>) -> Result<bool, String> {
    match v.as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(format!(
            "unrecognised JSON schema version: {other} (only 1 exists)"
        )),
    }
}

fn run(cli: Cli) -> Result<String, String> {
    let ctx = offline::Ctx::new(cli.state.clone(), cli.chonk.clone());
    // An empty --control / TKA_CONTROL means none.
    let control = cli.control.as_deref().filter(|c| !c.trim().is_empty());
    match cli.command.unwrap_or(Command::Status { json: None }) {
        Command::Inspect { input, as_ } => inspect::inspect(&input, as_),
        Command::DisablementKdf { secret } => offline::disablement_kdf(&secret),
        Command::Status { json } => {
            let json = json_version(&json)?;
            let self_sig = online::status_sync(&ctx, control)?;
            offline::status(&ctx, json, self_sig)
        }
        Command::Log { limit, json } => {
            let json = json_version(&json)?;
            online::presync(&ctx, control)?;
            offline::log(&ctx, limit, json)
        }
        Command::Verify {
            node_key,
            signature,
        } => {
            online::presync(&ctx, control)?;
            let storage = ctx.load()?;
            inspect::verify(&storage, &node_key, &signature)
        }
        Command::Keygen => offline::keygen(&ctx),
        Command::Demo { keep, no_color } => demo::run(demo::Options {
            keep,
            color: !no_color && offline::stdout_is_terminal(),
        }),
        Command::RevokeKeys {
            cosign: false,
            finish: false,
            fork_from,
            args,
        } => {
            online::presync(&ctx, control)?;
            offline::revoke_keys_start(&ctx, fork_from.as_deref(), &args)
        }
        Command::RevokeKeys {
            cosign: true,
            finish: false,
            args,
            ..
        } => {
            online::presync(&ctx, control)?;
            offline::revoke_keys_cosign(&ctx, &args)
        }
        Command::RevokeKeys {
            finish: true,
            cosign,
            args,
            ..
        } => online::revoke_keys_finish(&ctx, control, cosign, &args),
        Command::Init {
            gen_disablements,
            support,
            confirm,
            args,
        } => online::init(&ctx, control, gen_disablements, support, confirm, &args),
        Command::Add { keys } => online::add(&ctx, control, &keys),
        Command::Remove { resign, keys } => online::remove(&ctx, control, resign, &keys),
        Command::Sign { args } => online::sign(&ctx, control, &args),
        Command::Disable { secret } => online::disable(&ctx, control, &secret),
        Command::LocalDisable => online::local_disable(&ctx, control),
        Command::Sync => online::sync(&ctx, control),
        Command::Replay { recording } => replay::run(&recording),
    }
}
