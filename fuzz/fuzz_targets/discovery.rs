//! The `GET /gateway/bot` answer: the HTTP response parser, then the JSON body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    syncord::fuzzing::discovery(data);
});
