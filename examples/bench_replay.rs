//! `bench_replay`: syncord's runner for the bench-peers replay server
//! (`shared/bench-peers/README.md`, "Adding a runner"), issue 6 item 7.
//!
//! ```text
//! cargo build --release --example bench_replay
//! SYNCORD_RUNNER=$PWD/target/release/examples/bench_replay \
//!     ./run.sh -n 200000 -k 3 -p "syncord twilight twilight-raw" -c "none zlib zstd"
//! ```
//!
//! Environment (set by run.sh): `BENCH_WS_URL` (`ws://127.0.0.1:<port>`), `BENCH_COMPRESS`
//! (`none`, `zlib` or `zstd`), `BENCH_EVENTS` (N). `BENCH_HTTP_URL` and `BENCH_MODE` are
//! not used: the shard connects to `BENCH_WS_URL` directly (`gateway_url`, no discovery).
//!
//! What counts: every dispatch the shard hands to the closure after READY and before the
//! `BENCH_DONE` marker, i.e. after the transport inflate and the envelope parse (`op`, `s`,
//! `t` read, `d` kept as raw JSON text: syncord's default and only parse). Clock: READY
//! received (the `Event::Ready` callback) -> the marker received (its callback), wall time.
//!
//! Prints exactly `syncord events=<n> seconds=<t> events_per_s=<r>` on stdout and exits 0;
//! exits 3 without that line when `BENCH_COMPRESS` names a compression this build lacks,
//! and 1 on any other failure (details on stderr).

use std::io::Write;
use std::time::{Duration, Instant};
use syncord::{Backoff, Compression, Config, Event, Intents, Shard};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("bench_replay: {name} is not set");
        std::process::exit(1)
    })
}

fn main() {
    let url = env("BENCH_WS_URL");
    let expected: u64 = env("BENCH_EVENTS").parse().unwrap_or_else(|_| {
        eprintln!("bench_replay: BENCH_EVENTS is not a number");
        std::process::exit(1)
    });
    let compression = match env("BENCH_COMPRESS").as_str() {
        "none" => Compression::None,
        "zlib" => Compression::ZlibStream,
        // Only with the (default) cargo feature `zstd`.
        #[cfg(feature = "zstd")]
        "zstd" => Compression::ZstdStream,
        other => {
            eprintln!("bench_replay: compression {other:?} is not supported");
            std::process::exit(3)
        }
    };
    let config = Config::builder("bench-token", Intents::GUILD_MESSAGES)
        .gateway_url(url)
        .compression(compression)
        // The replay server serves one stream per connection: a reconnect cannot finish the
        // run, so fail fast instead of retrying.
        .backoff(Backoff {
            base: Duration::from_secs(60),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(3600),
        })
        .build();
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let mut started: Option<Instant> = None;
    let mut count = 0u64;
    let mut done = false;
    let result = shard.run(|event| match event {
        Event::Ready(_) => started = Some(Instant::now()),
        Event::Dispatch(d) if started.is_some() && !done => match d.event_type() {
            "READY" => {}
            "BENCH_DONE" => {
                let seconds = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
                let rate = (count as f64 / seconds).round() as u64;
                println!("syncord events={count} seconds={seconds:.3} events_per_s={rate}");
                let _ = std::io::stdout().flush();
                done = true;
                handle.shutdown();
            }
            _ => count += 1,
        },
        Event::Disconnected { reason, .. } if !done => {
            eprintln!("bench_replay: disconnected after {count} events: {reason}");
            handle.shutdown();
        }
        Event::Error { message } => eprintln!("bench_replay: {message}"),
        _ => {}
    });
    if let Err(e) = result {
        eprintln!("bench_replay: {e}");
    }
    if !done {
        std::process::exit(1);
    }
    if count != expected {
        eprintln!("bench_replay: counted {count} dispatches, expected {expected}");
    }
}
