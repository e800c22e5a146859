//! One zlib-stream connection: frames separated by `FE FE`, fed to one inflater, each message to the envelope parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    syncord::fuzzing::zlib_stream(data);
});
