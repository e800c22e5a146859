//! Inputs the fuzz targets under `fuzz/` found, or that are worth keeping as hostile
//! examples, replayed through the same `syncord::fuzzing` entry points: every file in
//! `tests/fuzz_regressions/<target>/` goes through the function of that name and must
//! return normally. Add a minimised crash (`cargo fuzz tmin`) to the folder of its target.
//!
//! The files there so far are hand-made hostile inputs, not fuzz finds (the 10-minute runs of
//! every target found no crash): 10,000-deep nesting, numbers out of range, decompression
//! bombs, a 2 GiB zstd window, a zlib preset dictionary, data after the end of a stream,
//! chunk sizes and Content-Lengths past `usize`.
//!
//! Needs the `fuzzing` feature (`cargo test --all-features`, or `--features fuzzing`).
#![cfg(feature = "fuzzing")]

use std::path::{Path, PathBuf};
use syncord::fuzzing;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions")
}

/// The inputs kept for `target`, sorted by name (none if the folder does not exist).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root().join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("readable regression input");
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let inputs = inputs(target);
    for (path, bytes) in &inputs {
        eprintln!("{target}: {}", path.display());
        run(bytes);
    }
    inputs.len()
}

#[test]
fn envelope_regressions() {
    replay("envelope", fuzzing::envelope);
}

#[test]
fn zlib_stream_regressions() {
    replay("zlib_stream", fuzzing::zlib_stream);
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_stream_regressions() {
    replay("zstd_stream", fuzzing::zstd_stream);
}

#[test]
fn payload_regressions() {
    replay("payload", fuzzing::payload);
}

#[test]
fn discovery_regressions() {
    replay("discovery", fuzzing::discovery);
}

/// Every folder is a target this file knows: a misnamed folder would be skipped silently.
#[test]
fn every_folder_is_a_known_target() {
    let known = [
        "envelope",
        "zlib_stream",
        "zstd_stream",
        "payload",
        "discovery",
    ];
    let Ok(entries) = std::fs::read_dir(root()) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                known.contains(&name.as_str()),
                "tests/fuzz_regressions/{name} is not a fuzz target"
            );
        }
    }
}
