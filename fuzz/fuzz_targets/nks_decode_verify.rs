//! `NodeKeySignature::from_cbor` on arbitrary bytes (peak allocation within
//! the decoding bound), its round trip and accessors, and
//! `node_key_authorized` against a fixed set of trusted keys (see
//! `tka::fuzzing::check_nks`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(
        tka_fuzz::decode_bound(data.len()),
        "NodeKeySignature::from_cbor",
        data,
        |d| tka::NodeKeySignature::from_cbor(d).is_ok(),
    );
    let _ = tka::fuzzing::check_nks(data);
});
