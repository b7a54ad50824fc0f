//! `Aum::from_cbor` on arbitrary bytes (peak allocation within the decoding
//! bound); on success the canonical round trip, hash and validation
//! properties of `tka::fuzzing::check_aum` must hold, and on every input the
//! canonical fast path must agree with Go's decoder and take only exact
//! canonical encodings (`check_canonical_path`, called by `check_aum`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(
        tka_fuzz::decode_bound(data.len()),
        "Aum::from_cbor",
        data,
        |d| tka::Aum::from_cbor(d).is_ok(),
    );
    let _ = tka::fuzzing::check_aum(data);
});
