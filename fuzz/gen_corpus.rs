//! Writes the seed corpora under `fuzz/corpus/<target>/` from realistic payloads.
//!
//! Run from `fuzz/`: `cargo run --example gen_corpus` (idempotent: it rewrites the same
//! files). The compressed seeds are real streams, compressed the way Discord's servers do it
//! (one context per connection, a flush after every message: syncord's own encoders,
//! `syncord::sim::deflate`), with the `FE FE` frame marker
//! of `syncord::fuzzing` between websocket frames.

#[path = "payloads.rs"]
mod payloads;

use std::fs;
use std::path::{Path, PathBuf};
use syncord::sim::deflate::{self, ZlibStreamEncoder, ZstdStreamEncoder};

const MARKER: [u8; 2] = [0xFE, 0xFE];

/// One zlib-stream connection's compressor (syncord's own): a sync flush after each message.
fn zlib_frames(messages: &[String]) -> Vec<Vec<u8>> {
    let mut encoder = ZlibStreamEncoder::new();
    messages
        .iter()
        .map(|message| {
            let out = encoder.encode(message.as_bytes()).to_vec();
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            out
        })
        .collect()
}

/// One zstd-stream connection's compressor (syncord's own): `ZSTD_e_flush` after each message.
fn zstd_frames(messages: &[String]) -> Vec<Vec<u8>> {
    let mut encoder = ZstdStreamEncoder::new().expect("zstd encoder");
    messages
        .iter()
        .map(|message| encoder.encode(message.as_bytes()).to_vec())
        .collect()
}

/// Payload compression: one standalone zlib stream.
fn payload_zlib(message: &str) -> Vec<u8> {
    deflate::payload_zlib(message.as_bytes())
}

/// Joins frames with the marker; a frame that itself contains the marker would be split
/// differently by the target, so it is reported.
fn join(name: &str, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        if frame.windows(2).any(|w| w == MARKER) {
            eprintln!("warning: {name}: frame {i} contains FE FE");
        }
        if i > 0 {
            out.extend_from_slice(&MARKER);
        }
        out.extend_from_slice(frame);
    }
    out
}

/// Splits frame `index` in two, the way a large message arrives in several websocket frames.
fn split(frames: &[Vec<u8>], index: usize) -> Vec<Vec<u8>> {
    let mut out = frames.to_vec();
    let frame = out.remove(index);
    let (a, b) = frame.split_at(frame.len() / 2);
    out.insert(index, b.to_vec());
    out.insert(index, a.to_vec());
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("mkdir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let singles = payloads::gateway_payloads();
    let sessions = payloads::session_sequences();

    // envelope: each payload kind, plus a few shapes the client must survive.
    let dir = root.join("envelope");
    for (name, json) in &singles {
        write(&dir, name, json.as_bytes());
    }
    let hostile = [
        ("op_out_of_range", r#"{"op":256,"d":null}"#.to_owned()),
        (
            "seq_huge",
            r#"{"op":0,"s":18446744073709551616,"t":"MESSAGE_CREATE","d":{}}"#.to_owned(),
        ),
        (
            "dispatch_without_t",
            r#"{"op":0,"s":3,"d":{"id":"1"}}"#.to_owned(),
        ),
        (
            "hello_wrong_shape",
            r#"{"op":10,"d":{"heartbeat_interval":"41250"}}"#.to_owned(),
        ),
        (
            "ready_without_session",
            r#"{"op":0,"s":1,"t":"READY","d":{"v":10,"guilds":[{}]}}"#.to_owned(),
        ),
        (
            "nested",
            format!(
                r#"{{"op":0,"s":1,"t":"X","d":{}1{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
        ),
    ];
    for (name, json) in &hostile {
        write(&dir, name, json.as_bytes());
    }

    // payload: each kind as one standalone zlib stream.
    let dir = root.join("payload");
    for (name, json) in &singles {
        write(&dir, name, &payload_zlib(json));
    }

    // zlib_stream / zstd_stream: whole sessions, one frame per message, and one with a
    // message split across two frames.
    for (target, encode) in [
        ("zlib_stream", zlib_frames as fn(&[String]) -> Vec<Vec<u8>>),
        ("zstd_stream", zstd_frames),
    ] {
        let dir = root.join(target);
        for (name, messages) in &sessions {
            let frames = encode(messages);
            write(&dir, name, &join(name, &frames));
        }
        let (_, messages) = &sessions[1];
        let frames = encode(messages);
        write(&dir, "split_message", &join("split", &split(&frames, 1)));
        let single = encode(&[payloads::hello()]);
        write(&dir, "hello_only", &join("hello_only", &single));
    }

    let dir = root.join("discovery");
    for (name, response) in payloads::discovery_responses() {
        write(&dir, name, &response);
    }
    println!("seeds written under {}", root.display());
}
