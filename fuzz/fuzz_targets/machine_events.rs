//! A hostile control plane drives `TkaMachine` through an arbitrary event
//! sequence; after every step the node's safety properties are checked (see
//! `tka::fuzzing::check_machine`), and the whole run stays within
//! `tka_fuzz::run_bound`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(tka_fuzz::run_bound(data.len()), "machine run", data, |d| {
        tka::fuzzing::check_machine(d)
    });
});
