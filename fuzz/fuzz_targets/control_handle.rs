//! A hostile node drives `ControlResponder::handle` with arbitrary paths and
//! bodies (see `tka::fuzzing::check_control`); the whole run stays within
//! `tka_fuzz::run_bound`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tka_fuzz::within(tka_fuzz::run_bound(data.len()), "control run", data, |d| {
        tka::fuzzing::check_control(d)
    });
});
