//! The `GET /gateway/bot` answer: ureq's HTTP response parser, then discovery's reading of it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    syncord::fuzzing::discovery(data);
});
