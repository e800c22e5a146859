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
//! (`none`, `zlib` or `zstd`), `BENCH_EVENTS` (N). `BENCH_HTTP_URL` is not used: the shard
//! connects to `BENCH_WS_URL` directly (`gateway_url`, no discovery). `BENCH_MODE` (run.sh
//! leaves it empty for this peer; set it in a wrapper script) picks what is measured:
//!
//! - empty or `raw` (the default): `Shard::run` with one closure. What counts: every
//!   dispatch the shard hands to the closure after READY and before the `BENCH_DONE`
//!   marker, i.e. after the transport inflate and the envelope parse (`op`, `s`, `t` read,
//!   `d` kept as raw JSON text: syncord's default parse).
//! - `typed`: the [`Dispatcher`] with one typed `MessageCreate` handler that reads the
//!   author, the channel and the content. What counts: every handler call, i.e. each
//!   MESSAGE_CREATE parsed into the model.
//! - `rare`: the [`Dispatcher`] with one handler for an event that never comes
//!   (GUILD_BAN_ADD), so every MESSAGE_CREATE goes unhandled (counted for the session, not
//!   scanned past its envelope). What counts: the dispatches received between READY and the
//!   marker, from the marker's sequence number (READY is `s` 1, the marker `s` N+2).
//!
//! - `parse`: no throughput figure. Collects the first 2000 MESSAGE_CREATE of the replay,
//!   disconnects, then times on this one thread (its CPU time), interleaved, median of 51
//!   rounds of one pass each, the per-message cost of what the typed path does with `d`: the envelope skim, the
//!   `MessageCreate` parse, a lean model (author, channel, content), serde skipping the
//!   whole object (`IgnoredAny`), and the model with every [`Lazy`](syncord::model::Lazy)
//!   field parsed too (what a bot that reads everything pays). Prints one
//!   `parse <what> ns_per_message=<median> min=<n>` line each; `BENCH_PARSE_ONLY=<what>`
//!   runs that one step for 5 s instead (for `perf`).
//!
//! Clock: READY received (the `Event::Ready` callback, or `on_ready`) -> the marker
//! received (its callback), wall time.
//!
//! Prints exactly `syncord events=<n> seconds=<t> events_per_s=<r>` on stdout and exits 0;
//! exits 3 without that line when `BENCH_COMPRESS` names a compression this build lacks,
//! and 1 on any other failure (details on stderr).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use syncord::dispatch::Dispatcher;
use syncord::model::MessageCreate;
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
        .build()
        .unwrap_or_else(|e| {
            eprintln!("bench_replay: {e}");
            std::process::exit(1)
        });
    let shard = Shard::with_config(config);
    let mode = std::env::var("BENCH_MODE").unwrap_or_default();
    let (done, count) = match mode.as_str() {
        "" | "raw" => raw(shard),
        "typed" => dispatched(shard, true),
        "rare" => dispatched(shard, false),
        "parse" => {
            parse::run(shard);
            return;
        }
        other => {
            eprintln!("bench_replay: BENCH_MODE {other:?} is not one of raw, typed, rare");
            std::process::exit(1)
        }
    };
    if !done {
        std::process::exit(1);
    }
    if count != expected {
        eprintln!("bench_replay: counted {count} dispatches, expected {expected}");
    }
}

/// When READY came: wall time, and the CPU time the process (all its threads) had used.
#[derive(Clone, Copy)]
struct Clock {
    wall: Instant,
    cpu: Duration,
}

impl Clock {
    fn now() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }
}

/// User + system CPU time of this process so far (every thread).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Prints the result line (stdout) and the CPU it took (stderr: not part of the contract).
fn report(count: u64, started: Option<Clock>) {
    let seconds = started.map_or(0.0, |s| s.wall.elapsed().as_secs_f64());
    let rate = (count as f64 / seconds).round() as u64;
    println!("syncord events={count} seconds={seconds:.3} events_per_s={rate}");
    let _ = std::io::stdout().flush();
    if let Some(started) = started {
        let cpu = cpu_time().saturating_sub(started.cpu);
        let per_event = cpu.as_nanos() as f64 / count.max(1) as f64;
        eprintln!(
            "bench_replay: cpu_seconds={:.3} cpu_ns_per_event={per_event:.0} (all threads, READY to the marker)",
            cpu.as_secs_f64()
        );
    }
}

/// `Shard::run` with one closure; returns whether the marker came, and the count.
fn raw(shard: Shard) -> (bool, u64) {
    let handle = shard.handle();
    let mut started: Option<Clock> = None;
    let mut count = 0u64;
    let mut done = false;
    let result = shard.run(|event| match event {
        Event::Ready(_) => started = Some(Clock::now()),
        Event::Dispatch(d) if started.is_some() && !done => match d.event_type() {
            "READY" => {}
            "BENCH_DONE" => {
                report(count, started);
                done = true;
                handle.shutdown();
            }
            _ => count += 1,
        },
        Event::Disconnected { reason, .. } if !done => {
            eprintln!("bench_replay: disconnected after {count} events: {reason}");
            handle.shutdown();
        }
        Event::Error { message, .. } => eprintln!("bench_replay: {message}"),
        _ => {}
    });
    if let Err(e) = result {
        eprintln!("bench_replay: {e}");
    }
    (done, count)
}

/// The dispatcher: a typed MESSAGE_CREATE handler (`typed`), or only a handler for an event
/// that never comes (`rare`).
fn dispatched(shard: Shard, typed: bool) -> (bool, u64) {
    let dispatcher = Dispatcher::new();
    let started: Arc<Mutex<Option<Clock>>> = Arc::default();
    let count = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    {
        let started = started.clone();
        dispatcher.on_ready(move |_, _| {
            *started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Clock::now())
        });
    }
    if typed {
        let count = count.clone();
        dispatcher.on::<MessageCreate>(move |_, message| {
            // What a bot reads: who, where, what.
            std::hint::black_box((
                message.author.id,
                &*message.author.username,
                message.channel_id,
                &*message.content,
            ));
            count.fetch_add(1, Ordering::Relaxed);
        });
    } else {
        dispatcher.on_raw("GUILD_BAN_ADD", |_, d| {
            eprintln!("bench_replay: unexpected {}", d.event_type())
        });
    }
    {
        let (started, count, done) = (started.clone(), count.clone(), done.clone());
        dispatcher.on_raw("BENCH_DONE", move |ctx, _| {
            if !typed {
                // READY is s=1, the N dispatches s=2..=N+1, the marker s=N+2.
                count.store(ctx.seq().unwrap_or(2).saturating_sub(2), Ordering::Relaxed);
            }
            let started = *started.lock().unwrap_or_else(|e| e.into_inner());
            report(count.load(Ordering::Relaxed), started);
            done.store(true, Ordering::Release);
            ctx.handle().shutdown();
        });
    }
    {
        let (count, done) = (count.clone(), done.clone());
        dispatcher.on_disconnected(move |ctx, _, reason| {
            if !done.load(Ordering::Acquire) {
                eprintln!(
                    "bench_replay: disconnected after {} events: {reason}",
                    count.load(Ordering::Relaxed)
                );
                ctx.handle().shutdown();
            }
        });
    }
    dispatcher.on_error(|_, _, message| eprintln!("bench_replay: {message}"));
    if let Err(e) = dispatcher.run(shard) {
        eprintln!("bench_replay: {e}");
    }
    (done.load(Ordering::Acquire), count.load(Ordering::Relaxed))
}

/// `BENCH_MODE=parse`: the cost of each step of the typed path on real replay payloads.
mod parse {
    use serde::de::IgnoredAny;
    use std::borrow::Cow;
    use std::time::{Duration, Instant};
    use syncord::model::{MessageCreate, Snowflake};
    use syncord::{Dispatch, Event, Shard};

    const MESSAGES: usize = 2000;

    /// One step of the typed path on one message; `true` when it succeeded.
    type Step = dyn Fn(&Dispatch) -> bool;
    const ROUNDS: usize = 51;

    /// Only what the typed bench handler reads.
    #[derive(serde::Deserialize)]
    struct Lean<'a> {
        #[allow(dead_code)]
        channel_id: Snowflake,
        #[serde(borrow)]
        #[allow(dead_code)]
        author: LeanUser<'a>,
        #[serde(borrow)]
        #[allow(dead_code)]
        content: Cow<'a, str>,
    }

    #[derive(serde::Deserialize)]
    struct LeanUser<'a> {
        #[allow(dead_code)]
        id: Snowflake,
        #[serde(borrow)]
        #[allow(dead_code)]
        username: Cow<'a, str>,
    }

    fn collect(shard: Shard) -> Vec<Dispatch> {
        let handle = shard.handle();
        let mut got = Vec::with_capacity(MESSAGES);
        let _ = shard.run(|event| {
            if let Event::Dispatch(d) = event {
                if d.event_type() == "MESSAGE_CREATE" && got.len() < MESSAGES {
                    got.push(d);
                    if got.len() == MESSAGES {
                        handle.shutdown();
                    }
                }
            }
        });
        got
    }

    /// This thread's CPU time: on a shared machine, the time it was descheduled is not
    /// counted.
    fn thread_cpu() -> Duration {
        // SAFETY: clock_gettime only writes the struct it is given.
        let mut t: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        Duration::new(
            t.tv_sec.max(0) as u64,
            t.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    }

    /// CPU nanoseconds per message of `f` over all of `messages`.
    fn time(messages: &[Dispatch], f: &Step) -> f64 {
        let started = thread_cpu();
        let mut ok = 0usize;
        for d in messages {
            ok += usize::from(std::hint::black_box(f(d)));
        }
        assert_eq!(ok, messages.len(), "every message parses");
        (thread_cpu() - started).as_nanos() as f64 / messages.len() as f64
    }

    pub fn run(shard: Shard) {
        let messages = collect(shard);
        if messages.len() < MESSAGES {
            eprintln!("bench_replay: only {} MESSAGE_CREATE came", messages.len());
            std::process::exit(1);
        }
        let bytes: usize = messages.iter().map(|d| d.data_json().len()).sum();
        println!(
            "parse messages={} mean_d_bytes={}",
            messages.len(),
            bytes / messages.len()
        );
        let steps: Vec<(&str, Box<Step>)> = vec![
            (
                "skim",
                Box::new(|d| syncord::fuzzing::readers::skim(d.payload_json()).is_some()),
            ),
            (
                "message_create",
                Box::new(|d| {
                    d.data::<MessageCreate>()
                        .map(|m| std::hint::black_box(m.author.id) != Snowflake(0))
                        .unwrap_or(false)
                }),
            ),
            ("lean", Box::new(|d| d.data::<Lean>().is_ok())),
            ("ignored_any", Box::new(|d| d.data::<IgnoredAny>().is_ok())),
            (
                "message_create_then_every_lazy_field",
                Box::new(|d| {
                    d.data::<MessageCreate>().is_ok_and(|m| {
                        m.member.is_none_or(|m| m.get().is_ok())
                            && m.mentions.get().is_ok()
                            && m.attachments.get().is_ok()
                            && m.embeds.get().is_ok()
                            && m.components.get().is_ok()
                    })
                }),
            ),
        ];
        if let Ok(only) = std::env::var("BENCH_PARSE_ONLY") {
            // One step for 5 s, for a profiler to look at.
            let (_, f) = steps
                .iter()
                .find(|(name, _)| *name == only)
                .unwrap_or_else(|| {
                    eprintln!("bench_replay: no parse step {only:?}");
                    std::process::exit(1)
                });
            let started = Instant::now();
            while started.elapsed().as_secs() < 5 {
                time(&messages, f.as_ref());
            }
            return;
        }
        let mut figures: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
        for _ in 0..ROUNDS {
            for (i, (_, f)) in steps.iter().enumerate() {
                figures[i].push(time(&messages, f.as_ref()));
            }
        }
        for ((name, _), mut runs) in steps.iter().zip(figures) {
            runs.sort_by(f64::total_cmp);
            println!(
                "parse {name} ns_per_message={:.0} min={:.0} max={:.0}",
                runs[ROUNDS / 2],
                runs[0],
                runs[ROUNDS - 1],
            );
        }
    }
}
