//! One text frame: the envelope, then the typed payloads the client decodes (Hello, READY, GUILD_MEMBERS_CHUNK).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    syncord::fuzzing::envelope(data);
});
