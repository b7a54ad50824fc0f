//! Every control-plane JSON parser, requests (control's side) and responses
//! (the node's side): the first byte picks the type, the rest is the body.
//! The parse stays within the decoding bound; an accepted message
//! round-trips (see `tka::fuzzing::check_wire`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(
        tka_fuzz::decode_bound(data.len()),
        "wire parse",
        data,
        |d| tka::fuzzing::parse_wire(d),
    );
    let _ = tka::fuzzing::check_wire(data);
});
