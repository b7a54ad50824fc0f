//! `NodeKeySignature::from_cbor` on arbitrary bytes, its round trip and
//! accessors, and `node_key_authorized` against a fixed set of trusted keys
//! (see `tka::fuzzing::check_nks`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tka::fuzzing::check_nks(data);
});
