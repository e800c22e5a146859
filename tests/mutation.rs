//! Mutation property test (the stable-toolchain stand-in for the cargo-fuzz targets under
//! `fuzz/`): real payloads, and real zlib-stream / zstd-stream / payload-compressed streams
//! made from them, are mutated a few hundred thousand times and fed through every
//! `syncord::fuzzing` entry point. None may panic, hang or overflow the stack.
//!
//! Deterministic: `fastrand` seeded by `MUTATION_SEED` (default below), each case seeded
//! from (seed, case index), so one case can be replayed alone with `MUTATION_ONLY=<case>`.
//! `MUTATION_CASES` sets the number of cases. A case that panics has its input written to
//! `target/mutation-failures/` (to be minimised and kept under `tests/fuzz_regressions/`).
//!
//! Needs the `fuzzing` and `sim` features (`cargo test --all-features`, or
//! `--features fuzzing,sim`).
#![cfg(all(feature = "fuzzing", feature = "sim"))]

#[path = "../fuzz/payloads.rs"]
mod payloads;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use syncord::fuzzing;
use syncord::sim::deflate::{payload_zlib, ZlibStreamEncoder};

const DEFAULT_SEED: u64 = 0x5EED_D15C_04D0_2026;
const DEFAULT_CASES: u64 = 200_000;
/// A case that takes longer than this is a hang.
const HANG: Duration = Duration::from_secs(30);
const MARKER: [u8; 2] = [0xFE, 0xFE];

// ---------------------------------------------------------------------------------------
// PRNG

/// `fastrand`'s generator with the few draws the mutators need.
struct Rng(fastrand::Rng);

impl Rng {
    /// Seeded from (seed, case), so one case can be replayed alone.
    fn new(seed: u64, case: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(
            seed ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
    }

    fn byte(&mut self) -> u8 {
        self.0.u8(..)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n)
    }

    /// True with probability `1/n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A position in `0..=len`.
    fn position(&mut self, len: usize) -> usize {
        self.below(len + 1)
    }

    /// A range `a..b` of `data`, biased towards short ones.
    fn range(&mut self, len: usize) -> (usize, usize) {
        if len == 0 {
            return (0, 0);
        }
        let a = self.below(len);
        let max = len - a;
        let n = if self.one_in(4) {
            1 + self.below(max)
        } else {
            1 + self.below(max.min(16))
        };
        (a, a + n)
    }
}

// ---------------------------------------------------------------------------------------
// Mutators

const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, b'"', b'\\', b'{', b'}', b'[', b']', b':', b',', b'0',
    b'-', b'e', b'\r', b'\n', 0xc3, 0xed,
];

const HUGE_NUMBERS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "99999999999999999999999999999999999999999999",
    "4294967296",
    "256",
    "-1",
    "-0",
    "-9223372036854775809",
    "1e309",
    "-1e309",
    "1.7976931348623157e308",
    "1e-400",
    "0.0000000000000000000000000000000001",
    "1E+2",
    "00",
    "0x10",
    "NaN",
    "Infinity",
    "ffffffffffffffff",
    "7fffffffffffffff0",
];

const NESTING_DEPTHS: &[usize] = &[2, 64, 127, 128, 129, 300, 1000, 10_000];

const INVALID_UTF8: &[&[u8]] = &[
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xff",
    b"\xe2\x82",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"\\u00",
    b"\\x41",
];

/// `data[range] = bytes`, with memcpy only (`Vec::splice` is byte-by-byte in a debug build).
fn replace(data: &mut Vec<u8>, range: std::ops::Range<usize>, bytes: &[u8]) {
    let tail = data.split_off(range.end);
    data.truncate(range.start);
    data.extend_from_slice(bytes);
    data.extend_from_slice(&tail);
}

/// Byte-level mutations: everything except the JSON-aware ones.
fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, pool: &[Vec<u8>]) {
    match rng.below(9) {
        // Bit flips.
        0 => {
            for _ in 0..1 + rng.below(4) {
                if !data.is_empty() {
                    let i = rng.below(data.len());
                    data[i] ^= 1 << rng.below(8);
                }
            }
        }
        // Overwrite a byte with an interesting or random value.
        1 => {
            if !data.is_empty() {
                let i = rng.below(data.len());
                data[i] = if rng.one_in(2) {
                    *rng.pick(INTERESTING_BYTES)
                } else {
                    rng.byte()
                };
            }
        }
        // Insert bytes.
        2 => {
            let at = rng.position(data.len());
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    if rng.one_in(2) {
                        *rng.pick(INTERESTING_BYTES)
                    } else {
                        rng.byte()
                    }
                })
                .collect();
            replace(data, at..at, &bytes);
        }
        // Delete a range.
        3 => {
            let (a, b) = rng.range(data.len());
            data.drain(a..b);
        }
        // Truncate.
        4 => {
            let n = rng.position(data.len());
            data.truncate(n);
        }
        // Splice with another input: a prefix of this one, a suffix of that one.
        5 => {
            let other = rng.pick(pool);
            let cut = rng.position(data.len());
            let from = rng.position(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        // Duplicate a range, possibly several times, somewhere.
        6 => {
            let (a, b) = rng.range(data.len());
            let chunk = data[a..b].to_vec();
            let at = rng.position(data.len());
            let times = if rng.one_in(4) { 1 + rng.below(32) } else { 1 };
            replace(data, at..at, &chunk.repeat(times));
        }
        // Swap two ranges' bytes (shuffle).
        7 => {
            if data.len() >= 2 {
                for _ in 0..1 + rng.below(4) {
                    let (i, j) = (rng.below(data.len()), rng.below(data.len()));
                    data.swap(i, j);
                }
            }
        }
        // Insert invalid UTF-8 or a broken escape.
        _ => {
            let at = rng.position(data.len());
            let bytes = *rng.pick(INVALID_UTF8);
            replace(data, at..at, bytes);
        }
    }
}

/// JSON-aware mutations (huge numbers, deep nesting, type confusion), then byte-level ones.
fn mutate_text(rng: &mut Rng, data: &mut Vec<u8>, pool: &[Vec<u8>]) {
    match rng.below(12) {
        // Replace a run of digits (or hex digits) with a huge or odd number.
        0 | 1 => {
            if data.is_empty() {
                return;
            }
            let start = rng.below(data.len());
            let Some(offset) = data[start..].iter().position(u8::is_ascii_digit) else {
                return;
            };
            let a = start + offset;
            let b = a + data[a..]
                .iter()
                .position(|c| !c.is_ascii_hexdigit() && *c != b'.')
                .unwrap_or(data.len() - a);
            let number: Vec<u8> = if rng.one_in(16) {
                let mut long = b"1".to_vec();
                long.extend_from_slice(&b"0".repeat(rng.below(2000)));
                long
            } else {
                rng.pick(HUGE_NUMBERS).as_bytes().to_vec()
            };
            replace(data, a..b, &number);
        }
        // Deep nesting, balanced or not, at a value position if one is found.
        2 | 3 => {
            let depth = *rng.pick(NESTING_DEPTHS);
            let (open, close): (&[u8], &[u8]) = match rng.below(3) {
                0 => (b"[", b"]"),
                1 => (b"{\"a\":", b"}"),
                _ => (b"[{\"d\":", b"}]"),
            };
            let mut nest = open.repeat(depth);
            if rng.one_in(3) {
                nest.extend_from_slice(b"1");
                nest.extend_from_slice(&close.repeat(depth));
            }
            let start = rng.position(data.len());
            let at = data[start..]
                .iter()
                .position(|&c| c == b':')
                .map_or(start, |i| start + i + 1);
            replace(data, at..at, &nest);
        }
        // Type confusion: replace a string, number or literal value with another type.
        4 => {
            if data.is_empty() {
                return;
            }
            let start = rng.below(data.len());
            let Some(i) = data[start..].iter().position(|&c| c == b':') else {
                return;
            };
            let a = start + i + 1;
            // The value runs to the next ',' or '}' at this level (roughly).
            let b = a + data[a..]
                .iter()
                .position(|&c| c == b',' || c == b'}')
                .unwrap_or(data.len() - a);
            const REPLACEMENTS: &[&[u8]] = &[
                b"null",
                b"true",
                b"\"x\"",
                b"[]",
                b"{}",
                b"-1",
                b"1.5",
                b"[1,2,3]",
                b"\"\"",
                b"{\"op\":0}",
            ];
            let replacement = *rng.pick(REPLACEMENTS);
            replace(data, a..b, replacement);
        }
        // Duplicate a key-value pair (duplicate fields).
        5 => {
            if let Some(i) = data.iter().position(|&c| c == b'{') {
                let end = data[i..]
                    .iter()
                    .position(|&c| c == b',')
                    .map_or(data.len(), |j| i + j + 1);
                let pair = data[i + 1..end].to_vec();
                let mut pair = pair;
                if !pair.ends_with(b",") {
                    pair.push(b',');
                }
                replace(data, i + 1..i + 1, &pair);
            }
        }
        _ => mutate_bytes(rng, data, pool),
    }
}

fn mutated(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>], text: bool) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if text {
            mutate_text(rng, &mut data, pool);
        } else {
            mutate_bytes(rng, &mut data, pool);
        }
    }
    data
}

// ---------------------------------------------------------------------------------------
// Compressors, as Discord's servers do it (one context per connection, a flush per message)

fn zlib_frames(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut encoder = ZlibStreamEncoder::new();
    messages
        .iter()
        .map(|m| encoder.encode(m).to_vec())
        .collect()
}

#[cfg(feature = "zstd")]
fn zstd_frames(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut encoder = syncord::sim::deflate::ZstdStreamEncoder::new().unwrap();
    messages
        .iter()
        .map(|m| encoder.encode(m).to_vec())
        .collect()
}

/// Frame-level mutations of one connection's frames: split, merge, drop, repeat, reorder.
fn mutate_frames(rng: &mut Rng, frames: &mut Vec<Vec<u8>>) {
    if frames.is_empty() {
        return;
    }
    let i = rng.below(frames.len());
    match rng.below(6) {
        0 => {
            let frame = frames.remove(i);
            let cut = rng.position(frame.len());
            frames.insert(i, frame[cut..].to_vec());
            frames.insert(i, frame[..cut].to_vec());
        }
        1 if i + 1 < frames.len() => {
            let next = frames.remove(i + 1);
            frames[i].extend_from_slice(&next);
        }
        2 if frames.len() > 1 => {
            frames.remove(i);
        }
        3 => {
            let copy = frames[i].clone();
            frames.insert(rng.position(frames.len()), copy);
        }
        4 => {
            let j = rng.below(frames.len());
            frames.swap(i, j);
        }
        _ => frames.insert(i, Vec::new()),
    }
}

fn join(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.join(&MARKER[..])
}

// ---------------------------------------------------------------------------------------
// The inputs

/// Everything a case draws from, built once (deterministically from the seed).
struct Inputs {
    /// Gateway payload texts (the envelope target's seeds).
    texts: Vec<Vec<u8>>,
    /// Discovery HTTP responses.
    responses: Vec<Vec<u8>>,
    /// One connection's messages each, the compressed targets' sources.
    sessions: Vec<Vec<Vec<u8>>>,
    /// zlib-stream connections: frames, from clean and from mutated messages.
    zlib: Vec<Vec<Vec<u8>>>,
    /// zstd-stream connections, likewise.
    zstd: Vec<Vec<Vec<u8>>>,
    /// Standalone zlib streams (payload compression), clean and of mutated payloads.
    payloads: Vec<Vec<u8>>,
    /// All of the above flattened, for splicing.
    splice_pool: Vec<Vec<u8>>,
}

impl Inputs {
    fn build(seed: u64) -> Inputs {
        let mut rng = Rng::new(seed, u64::MAX);
        let texts: Vec<Vec<u8>> = payloads::gateway_payloads()
            .into_iter()
            .map(|(_, json)| json.into_bytes())
            .collect();
        let responses: Vec<Vec<u8>> = payloads::discovery_responses()
            .into_iter()
            .map(|(_, raw)| raw)
            .collect();
        let sessions: Vec<Vec<Vec<u8>>> = payloads::session_sequences()
            .into_iter()
            .map(|(_, messages)| messages.into_iter().map(String::into_bytes).collect())
            .collect();

        // Connections whose messages are (partly) hostile but whose compression is valid.
        let mut variants = sessions.clone();
        for _ in 0..24 {
            let mut session = rng.pick(&sessions).clone();
            for message in &mut session {
                if rng.one_in(3) {
                    *message = mutated(&mut rng, message, &texts, true);
                }
            }
            variants.push(session);
        }
        let zlib = variants.iter().map(|s| zlib_frames(s)).collect();
        #[cfg(feature = "zstd")]
        let zstd = variants.iter().map(|s| zstd_frames(s)).collect();
        #[cfg(not(feature = "zstd"))]
        let zstd = Vec::new();
        let mut payloads: Vec<Vec<u8>> = texts.iter().map(|t| payload_zlib(t)).collect();
        for _ in 0..64 {
            let source = rng.pick(&texts).clone();
            let text = mutated(&mut rng, &source, &texts, true);
            payloads.push(payload_zlib(&text));
        }
        let mut inputs = Inputs {
            texts,
            responses,
            sessions,
            zlib,
            zstd,
            payloads,
            splice_pool: Vec::new(),
        };
        let mut pool = inputs.texts.clone();
        pool.extend(inputs.responses.iter().cloned());
        pool.extend(inputs.payloads.iter().cloned());
        pool.extend(inputs.zlib.iter().flatten().cloned());
        pool.extend(inputs.zstd.iter().flatten().cloned());
        inputs.splice_pool = pool;
        inputs
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Target {
    Envelope,
    ZlibStream,
    ZstdStream,
    Payload,
    Discovery,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Envelope => "envelope",
            Target::ZlibStream => "zlib_stream",
            Target::ZstdStream => "zstd_stream",
            Target::Payload => "payload",
            Target::Discovery => "discovery",
        }
    }

    fn run(self, data: &[u8]) {
        match self {
            Target::Envelope => fuzzing::envelope(data),
            Target::ZlibStream => fuzzing::zlib_stream(data),
            #[cfg(feature = "zstd")]
            Target::ZstdStream => fuzzing::zstd_stream(data),
            #[cfg(not(feature = "zstd"))]
            Target::ZstdStream => {}
            Target::Payload => fuzzing::payload(data),
            Target::Discovery => fuzzing::discovery(data),
        }
    }
}

/// A compressed connection: pick one, maybe mutate its frames, join, maybe mutate bytes.
fn stream_case(rng: &mut Rng, streams: &[Vec<Vec<u8>>], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut frames = rng.pick(streams).clone();
    if rng.one_in(3) {
        for _ in 0..1 + rng.below(3) {
            mutate_frames(rng, &mut frames);
        }
    }
    let mut data = join(&frames);
    // A quarter stay byte-exact: valid compression, (possibly) hostile content.
    if !rng.one_in(4) {
        data = mutated(rng, &data, pool, false);
    }
    data
}

/// Builds case `case`: which target, and its input.
fn make_case(seed: u64, case: u64, inputs: &Inputs) -> (Target, Vec<u8>) {
    let mut rng = Rng::new(seed, case);
    let pool = &inputs.splice_pool;
    match rng.below(100) {
        0..=34 => {
            let text = rng.pick(&inputs.texts);
            (
                Target::Envelope,
                mutated(&mut rng, text, &inputs.texts, true),
            )
        }
        35..=39 => {
            // A message of a session, mutated, not compressed (the uncompressed path).
            let session = rng.pick(&inputs.sessions);
            let text = rng.pick(session);
            (Target::Envelope, mutated(&mut rng, text, pool, true))
        }
        40..=56 => (
            Target::ZlibStream,
            stream_case(&mut rng, &inputs.zlib, pool),
        ),
        57..=73 if !inputs.zstd.is_empty() => (
            Target::ZstdStream,
            stream_case(&mut rng, &inputs.zstd, pool),
        ),
        57..=73 => (
            Target::ZlibStream,
            stream_case(&mut rng, &inputs.zlib, pool),
        ),
        74..=87 => {
            let stream = rng.pick(&inputs.payloads);
            let data = if rng.one_in(5) {
                stream.clone()
            } else {
                mutated(&mut rng, stream, pool, false)
            };
            (Target::Payload, data)
        }
        _ => {
            let response = rng.pick(&inputs.responses);
            (
                Target::Discovery,
                mutated(&mut rng, response, &inputs.responses, true),
            )
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

fn failure_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mutation-failures")
}

/// Runs one case; on a panic, saves the input and returns a description.
fn run_case(seed: u64, case: u64, inputs: &Inputs) -> Result<Target, String> {
    let (target, data) = make_case(seed, case, inputs);
    match catch_unwind(AssertUnwindSafe(|| target.run(&data))) {
        Ok(()) => Ok(target),
        Err(_) => {
            let dir = failure_dir().join(target.name());
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("seed-{seed:x}-case-{case}"));
            let _ = std::fs::write(&path, &data);
            Err(format!(
                "{} panicked on case {case} (MUTATION_SEED={seed:#x} MUTATION_ONLY={case}); input saved to {}",
                target.name(),
                path.display()
            ))
        }
    }
}

#[test]
fn mutated_payloads_never_panic() {
    let seed = env_u64("MUTATION_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_u64("MUTATION_CASES").unwrap_or(DEFAULT_CASES);
    let started = Instant::now();
    let inputs = Inputs::build(seed);

    if let Some(only) = env_u64("MUTATION_ONLY") {
        let (target, data) = make_case(seed, only, &inputs);
        eprintln!(
            "mutation: case {only} is {} ({} bytes)",
            target.name(),
            data.len()
        );
        let dir = failure_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("case-{only}")), &data);
        target.run(&data);
        return;
    }

    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4) as u64;
    let failures = Mutex::new(Vec::new());
    let per_target = Mutex::new(std::collections::BTreeMap::<Target, u64>::new());
    // Per worker: the case it is on and when it started it (millis since `started`).
    let current: Vec<(AtomicU64, AtomicU64)> = (0..workers)
        .map(|_| (AtomicU64::new(u64::MAX), AtomicU64::new(0)))
        .collect();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for worker in 0..workers {
            let (inputs, failures, per_target, current) =
                (&inputs, &failures, &per_target, &current);
            let handle = std::thread::Builder::new()
                .name(format!("mutation-{worker}"))
                // The client's reader thread runs with the default stack; so do we.
                .spawn_scoped(scope, move || {
                    let mut counts = std::collections::BTreeMap::new();
                    let mut case = worker;
                    while case < cases {
                        current[worker as usize]
                            .1
                            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                        current[worker as usize].0.store(case, Ordering::Relaxed);
                        match run_case(seed, case, inputs) {
                            Ok(target) => *counts.entry(target).or_insert(0u64) += 1,
                            Err(failure) => failures.lock().unwrap().push(failure),
                        }
                        case += workers;
                    }
                    current[worker as usize]
                        .0
                        .store(u64::MAX, Ordering::Relaxed);
                    let mut totals = per_target.lock().unwrap();
                    for (target, n) in counts {
                        *totals.entry(target).or_insert(0) += n;
                    }
                })
                .unwrap();
            handles.push(handle);
        }
        // Watchdog: a case running for longer than HANG is a hang.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let now = started.elapsed().as_millis() as u64;
                for (case, since) in &current {
                    let case = case.load(Ordering::Relaxed);
                    if case != u64::MAX
                        && now.saturating_sub(since.load(Ordering::Relaxed))
                            > HANG.as_millis() as u64
                    {
                        let (target, data) = make_case(seed, case, &inputs);
                        let dir = failure_dir().join(target.name());
                        let _ = std::fs::create_dir_all(&dir);
                        let path = dir.join(format!("seed-{seed:x}-case-{case}-hang"));
                        let _ = std::fs::write(&path, &data);
                        eprintln!(
                            "mutation: {} hangs on case {case} (MUTATION_SEED={seed:#x} MUTATION_ONLY={case}); input saved to {}",
                            target.name(),
                            path.display()
                        );
                        std::process::exit(101);
                    }
                }
            }
        });
        for handle in handles {
            if let Err(panic) = handle.join() {
                done.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(panic);
            }
        }
        done.store(true, Ordering::Relaxed);
    });

    let seconds = started.elapsed().as_secs_f64();
    let totals = per_target.into_inner().unwrap();
    let breakdown: Vec<String> = totals
        .iter()
        .map(|(target, n)| format!("{}={n}", target.name()))
        .collect();
    // Straight to stderr: shown even when libtest captures the test's output.
    let _ = writeln!(
        std::io::stderr(),
        "mutation: cases={cases} seconds={seconds:.2} seed={seed:#x} ({})",
        breakdown.join(" ")
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The unmutated inputs are what they claim to be: valid JSON, and compressed streams that
/// inflate (with flate2 / zstd directly) back to their messages. Otherwise the mutation test
/// would be feeding garbage to the first error check only.
#[test]
fn clean_inputs_are_valid() {
    let inputs = Inputs::build(DEFAULT_SEED);
    for text in inputs.texts.iter().chain(inputs.sessions.iter().flatten()) {
        serde_json::from_slice::<serde_json::Value>(text).expect("seed payload is JSON");
    }
    for response in &inputs.responses {
        assert!(response.starts_with(b"HTTP/1.1 "));
    }
    for (session, frames) in inputs.sessions.iter().zip(&inputs.zlib) {
        let mut decompress = flate2::Decompress::new(true);
        for (message, frame) in session.iter().zip(frames) {
            assert!(frame.ends_with(&[0, 0, 0xff, 0xff]));
            let mut out = Vec::with_capacity(message.len() + 64);
            decompress
                .decompress_vec(frame, &mut out, flate2::FlushDecompress::Sync)
                .unwrap();
            assert_eq!(&out, message);
        }
    }
    #[cfg(feature = "zstd")]
    for (session, frames) in inputs.sessions.iter().zip(&inputs.zstd) {
        use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};
        let mut decoder = Decoder::new().unwrap();
        for (message, frame) in session.iter().zip(frames) {
            let mut out = vec![0u8; message.len() + 64];
            let mut input = InBuffer::around(frame);
            let mut output = OutBuffer::around(&mut out[..]);
            decoder.run(&mut input, &mut output).unwrap();
            let written = output.pos();
            assert_eq!(input.pos(), frame.len());
            assert_eq!(&out[..written], &message[..]);
        }
    }
    for (text, stream) in inputs.texts.iter().zip(&inputs.payloads) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&stream[..]), &mut out)
            .unwrap();
        assert_eq!(&out, text);
    }
}
