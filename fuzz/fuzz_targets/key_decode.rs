//! `Key::from_cbor` on arbitrary bytes and its round trip
//! (see `tka::fuzzing::check_key`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tka::fuzzing::check_key(data);
});
