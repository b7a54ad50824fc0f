//! `tailchonk::FsEntry::from_cbor` (one file of Go's on-disk AUM store) on
//! arbitrary bytes, within the decoding bound; an accepted entry
//! round-trips (see `tka::fuzzing::check_tailchonk`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(
        tka_fuzz::decode_bound(data.len()),
        "FsEntry::from_cbor",
        data,
        |d| tka::tailchonk::FsEntry::from_cbor(d).is_ok(),
    );
    let _ = tka::fuzzing::check_tailchonk(data);
});
