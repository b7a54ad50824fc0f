//! `Aum::from_cbor` on arbitrary bytes; on success the canonical round trip,
//! hash and validation properties of `tka::fuzzing::check_aum` must hold.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tka::fuzzing::check_aum(data);
});
