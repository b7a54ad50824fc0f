//! What the fuzz targets share: a global allocator that tracks the peak
//! number of live bytes, and the memory bounds checked with it.
//!
//! Every target measures the peak of its decoding step against the crate's
//! bound — decoding `n` bytes allocates at most `4 * n + 256 KiB`
//! (`tka::limits::DecodeBudget::for_input`, the same budget the decoders
//! enforce) — and the
//! stateful targets measure a whole run against [`run_bound`]. A run over
//! the bound panics, which libFuzzer reports as a crash with the input.
//!
//! Two environment variables change that, for long campaigns that should
//! go on past a known finding:
//!
//! * `TKA_FUZZ_DECODE_FACTOR` replaces the factor 4 of the decoding bound;
//! * `TKA_FUZZ_MEM_RECORD=<dir>` records a run over the bound instead of
//!   panicking: its input is written to `<dir>/mem-<peak>-<len>-<hash>`
//!   whenever it beats the worst excess (peak minus bound) or the worst
//!   ratio (peak per input byte) recorded so far by this process, and the
//!   run goes on.
#![forbid(unsafe_code)]

use peak_alloc::PeakAlloc;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// Slack of the decoding bound: the crate's (256 KiB).
pub const DECODE_SLACK: usize = tka::limits::DECODE_SLACK;

/// Constant part of [`run_bound`]: the world's setup and the disablement
/// KDF (Argon2i with 16 MiB of memory) fit well within it.
pub const RUN_SLACK: usize = 40 << 20;

fn factor() -> usize {
    static F: OnceLock<usize> = OnceLock::new();
    *F.get_or_init(|| {
        std::env::var("TKA_FUZZ_DECODE_FACTOR")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(tka::limits::DECODE_FACTOR)
    })
}

fn record_dir() -> Option<&'static str> {
    static D: OnceLock<Option<String>> = OnceLock::new();
    D.get_or_init(|| std::env::var("TKA_FUZZ_MEM_RECORD").ok())
        .as_deref()
}

/// The decoding bound for an `n`-byte input: `4 * n + 256 KiB`.
pub fn decode_bound(n: usize) -> usize {
    factor().saturating_mul(n).saturating_add(DECODE_SLACK)
}

/// The bound for one whole run of a stateful target over `n` input bytes
/// (up to 256 events, each of which may carry a body from the input):
/// `16 * n + 40 MiB`. The known amplification (a 1 MiB body decoding to
/// about 1 GiB) exceeds it by far.
pub fn run_bound(n: usize) -> usize {
    16usize.saturating_mul(n).saturating_add(RUN_SLACK)
}

/// Runs `f` on `input`, then checks that the peak of live heap bytes during
/// it exceeded what was live before by at most `bound`: panics if not (or
/// records the input, see the crate docs).
pub fn within<T>(bound: usize, what: &str, input: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let base = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let out = f(input);
    let used = PEAK.peak_usage().saturating_sub(base);
    if used > bound {
        let msg = format!(
            "{what}: peak allocation {used} bytes for {} input bytes exceeds the bound of {bound} bytes",
            input.len()
        );
        match record_dir() {
            Some(dir) => record(dir, &msg, used, bound, input),
            None => panic!("{msg}"),
        }
    }
    out
}

fn record(dir: &str, msg: &str, used: usize, bound: usize, input: &[u8]) {
    static EXCESS: AtomicUsize = AtomicUsize::new(0);
    static RATIO: AtomicUsize = AtomicUsize::new(0);
    let excess = used - bound;
    let ratio = used / input.len().max(1);
    let worse_excess = EXCESS.fetch_max(excess, Ordering::Relaxed) < excess;
    let worse_ratio = RATIO.fetch_max(ratio, Ordering::Relaxed) < ratio;
    if worse_excess || worse_ratio {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        input.hash(&mut h);
        let path = format!("{dir}/mem-{used}-{}-{:016x}", input.len(), h.finish());
        eprintln!("MEMORY BOUND: {msg}; input written to {path}");
        if let Err(e) = std::fs::write(&path, input) {
            eprintln!("MEMORY BOUND: cannot write {path}: {e}");
        }
    }
}
