//! `tka demo`: a whole Tailnet Lock lifecycle on this machine, for real.
//!
//! The control service (`tka_control::standalone`, SQLite in a work
//! directory) listens on 127.0.0.1; three nodes (alice, bob, carol), each
//! an on-disk `tka_node::DirStore` driven by the tokio driver, talk to it
//! over HTTP; the operator's commands are the core's `tka::admin` flows run
//! over HTTP with `tka_node::admin::run`. The steps are in [`story`]; every
//! expectation is checked, so the demo doubles as a smoke test: the first
//! one that fails ends it with a non-zero exit status.

mod out;
mod story;
mod tailnet;

use std::path::PathBuf;
use std::time::Instant;

/// How to run the demo.
pub struct Options {
    /// Run in this directory and keep it (it must be empty or absent);
    /// otherwise a temporary directory is used and removed.
    pub keep: Option<PathBuf>,
    /// Colour the output.
    pub color: bool,
}

/// Runs the demo, printing as it goes.
pub fn run(opts: Options) -> Result<String, String> {
    let (dir, tmp) = match &opts.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
            let empty = std::fs::read_dir(d)
                .map_err(|e| format!("reading {}: {e}", d.display()))?
                .next()
                .is_none();
            if !empty {
                return Err(format!("{} is not empty", d.display()));
            }
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("tka-demo-")
                .tempdir()
                .map_err(|e| format!("creating a temporary directory: {e}"))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    let mut out = out::Out::new(opts.color);
    out.title("Tailnet Lock, live: a control server and three nodes on 127.0.0.1, all over HTTP");
    let started = Instant::now();
    let result = runtime.block_on(story::run(&dir, &mut out));
    drop(runtime);
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            println!();
            let kept = match tmp {
                Some(_) => "work directory removed; --keep DIR keeps one".to_string(),
                None => format!("work directory kept: {}", dir.display()),
            };
            println!(
                "{} checks passed in {secs:.1} s ({kept})",
                out.good(format!("All {}", out.checks()))
            );
            Ok(String::new())
        }
        Err(e) => {
            let kept = tmp.map_or(dir, |t| t.keep());
            Err(format!(
                "demo failed after {} checks: {e} (work directory kept: {})",
                out.checks(),
                kept.display()
            ))
        }
    }
}
