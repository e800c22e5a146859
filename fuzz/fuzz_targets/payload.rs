//! Payload compression: one standalone zlib stream, then the envelope parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    syncord::fuzzing::payload(data);
});
