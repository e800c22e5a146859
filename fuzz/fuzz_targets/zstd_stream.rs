//! One zstd-stream connection: frames separated by `FE FE`, fed to one decoder, each message to the envelope parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    syncord::fuzzing::zstd_stream(data);
});
