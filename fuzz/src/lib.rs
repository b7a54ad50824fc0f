//! What the fuzz targets share: a global allocator that tracks the peak
//! number of live bytes, and the memory bounds checked with it.
//!
//! Every target measures the peak of its decoding step against the crate's
//! bound — decoding `n` bytes allocates at most `4 * n + 64 KiB` — and the
//! stateful targets measure a whole run against [`run_bound`]. A run over
//! the bound panics, which libFuzzer reports as a crash with the input. Set
//! `TKA_FUZZ_DECODE_FACTOR` to relax the factor (say, to keep fuzzing past
//! a known finding).
#![forbid(unsafe_code)]

use peak_alloc::PeakAlloc;
use std::sync::OnceLock;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// Slack of the decoding bound: 64 KiB.
pub const DECODE_SLACK: usize = 64 << 10;

/// Constant part of [`run_bound`]: the world's setup and the disablement
/// KDF (Argon2i with 16 MiB of memory) fit well within it.
pub const RUN_SLACK: usize = 40 << 20;

fn factor() -> usize {
    static F: OnceLock<usize> = OnceLock::new();
    *F.get_or_init(|| {
        std::env::var("TKA_FUZZ_DECODE_FACTOR")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4)
    })
}

/// The decoding bound for an `n`-byte input: `4 * n + 64 KiB`.
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

/// Runs `f`, then panics if the peak of live heap bytes during it exceeded
/// what was live before by more than `bound`.
pub fn within<T>(bound: usize, what: &str, f: impl FnOnce() -> T) -> T {
    let base = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let out = f();
    let used = PEAK.peak_usage().saturating_sub(base);
    assert!(
        used <= bound,
        "{what}: peak allocation {used} bytes exceeds the bound of {bound} bytes"
    );
    out
}
