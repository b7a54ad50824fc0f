//! `Key::from_cbor` on arbitrary bytes (peak allocation within the decoding
//! bound) and its round trip (see `tka::fuzzing::check_key`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(
        tka_fuzz::decode_bound(data.len()),
        "Key::from_cbor",
        data,
        |d| tka::Key::from_cbor(d).is_ok(),
    );
    let _ = tka::fuzzing::check_key(data);
});
