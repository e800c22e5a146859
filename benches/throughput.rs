//! Throughput and the floor (issue 6, items 1–2).
//!
//! One shard receives N dispatches (a realistic mix: ~85 % MESSAGE_CREATE of ~1 KB, some
//! TYPING_START and PRESENCE_UPDATE, a 1000-member GUILD_CREATE every 20,000 events) from a
//! server on loopback that pre-built and pre-compressed the whole stream (one zlib / zstd
//! context for the connection) before the clock starts and writes it as fast as the socket
//! takes it. The callback touches `t`, `s` and the raw `d`. Clock: READY -> the Nth
//! dispatch in the callback.
//!
//! The floor: the same payload bytes inflated (one context, reused buffer) and
//! envelope-parsed in a tight loop on one thread, no sockets, no threads. Two floors: with
//! `syncord::fuzzing::readers::Envelope::parse` (serde_json, validates `d`), and with
//! `syncord::fuzzing::readers::skim` (serde fallback), the top-level read the reader thread does.
//!
//!     cargo bench --bench throughput -- [EVENTS] [RUNS] [none] [zlib] [zstd] [--messages-only]

mod common;

use common::{Args, BenchServer, Mode, Pace, Parse, Prebuilt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::{Config, Event, Intents, Shard};

const USAGE: &str = "throughput [EVENTS=200000] [RUNS=3] [none] [zlib] [zstd] [--messages-only]";

struct ClientRun {
    elapsed: Duration,
    checksum: u64,
    /// CPU seconds of the reader thread and of the caller (handler) thread over the run.
    reader_cpu: Duration,
    caller_cpu: Duration,
}

fn client_run(stream: &Arc<Prebuilt>, mode: Mode, n: usize) -> ClientRun {
    let server = BenchServer::start(stream.clone(), Pace::Flood);
    let config = Config::builder("bench-token", Intents::GUILD_MESSAGES)
        .gateway_url(server.url())
        .compression(mode.compression())
        .build()
        .expect("valid config");
    let caller = std::thread::Builder::new()
        .name("bench-caller".into())
        .spawn(move || {
            let shard = Shard::with_config(config);
            let handle = shard.handle();
            let mut start = None;
            let mut end = None;
            let mut count = 0usize;
            let mut sum = 0u64;
            let mut cpu_start = (Duration::ZERO, Duration::ZERO);
            let mut cpu_end = (Duration::ZERO, Duration::ZERO);
            shard
                .run(|event| match event {
                    Event::Ready(_) => {
                        cpu_start = (
                            common::thread_cpu("syncord-reader"),
                            common::thread_cpu("bench-caller"),
                        );
                        start = Some(Instant::now());
                    }
                    Event::Dispatch(d) => {
                        if d.seq() < 2 {
                            return; // READY
                        }
                        let data = d.data_json().as_bytes();
                        sum = sum
                            .wrapping_add(d.seq())
                            .wrapping_add(d.event_type().len() as u64)
                            .wrapping_add(u64::from(data[0]) + u64::from(data[data.len() - 1]));
                        count += 1;
                        if count == n {
                            end = Some(Instant::now());
                            cpu_end = (
                                common::thread_cpu("syncord-reader"),
                                common::thread_cpu("bench-caller"),
                            );
                            handle.shutdown();
                        }
                    }
                    Event::Disconnected { reason, .. } if count < n => {
                        eprintln!("disconnected after {count} events: {reason}");
                        handle.shutdown();
                    }
                    Event::Error { message, .. } => eprintln!("error event: {message}"),
                    _ => {}
                })
                .expect("shard run");
            assert_eq!(count, n, "the shard received every dispatch");
            ClientRun {
                elapsed: end.unwrap() - start.unwrap(),
                checksum: sum,
                reader_cpu: cpu_end.0.saturating_sub(cpu_start.0),
                caller_cpu: cpu_end.1.saturating_sub(cpu_start.1),
            }
        })
        .expect("spawn caller");
    let run = caller.join().expect("caller thread");
    server.join();
    run
}

struct Row {
    mode: Mode,
    events_per_s: f64,
    json_mb_per_s: f64,
    wire_mb_per_s: f64,
    floor_events_per_s: f64,
    skim_floor_events_per_s: f64,
    reader_cpu_pct: f64,
    caller_cpu_pct: f64,
    runs: Vec<f64>,
    floor_runs: Vec<f64>,
    skim_floor_runs: Vec<f64>,
}

fn main() {
    let args = Args::parse(USAGE);
    let n = args.number(0, 200_000) as usize;
    let runs = args.number(1, 3).max(1) as usize;
    let guilds = !args.flag("--messages-only");
    eprintln!("machine: {}", common::machine());
    let t = Instant::now();
    let dispatches = common::mixed_stream(n, 2, guilds);
    eprintln!(
        "generated {n} dispatches ({:.1} MB JSON) in {:.1?}",
        dispatches.iter().map(String::len).sum::<usize>() as f64 / 1e6,
        t.elapsed()
    );
    let mut rows = Vec::new();
    for &mode in &args.modes {
        let t = Instant::now();
        let stream = Arc::new(Prebuilt::build(mode, &dispatches, "ws://127.0.0.1:1"));
        let json = stream.json_bytes as f64;
        let wire = stream.dispatch_wire_bytes() as f64;
        eprintln!(
            "{}: pre-encoded {:.1} MB on the wire in {:.1?}",
            mode.name(),
            wire / 1e6,
            t.elapsed()
        );
        let (mut rates, mut floors, mut reader, mut caller) = (vec![], vec![], vec![], vec![]);
        let mut skim_floors = vec![];
        let mut checksum = None;
        for run in 0..runs {
            let (floor_time, floor_sum) = common::floor(&stream, Parse::Serde);
            floors.push(n as f64 / floor_time.as_secs_f64());
            let (skim_time, skim_sum) = common::floor(&stream, Parse::Skim);
            skim_floors.push(n as f64 / skim_time.as_secs_f64());
            assert_eq!(floor_sum, skim_sum, "both floors read the same values");
            let result = client_run(&stream, mode, n);
            let secs = result.elapsed.as_secs_f64();
            rates.push(n as f64 / secs);
            reader.push(result.reader_cpu.as_secs_f64() / secs * 100.0);
            caller.push(result.caller_cpu.as_secs_f64() / secs * 100.0);
            eprintln!(
                "  run {}: syncord {:>9.0} events/s ({secs:.3} s; reader {:.0} % CPU, caller {:.0} %), floor {:>9.0} (serde) {:>9.0} (skim) events/s",
                run + 1,
                n as f64 / secs,
                reader[run],
                caller[run],
                floors[run],
                skim_floors[run]
            );
            if *checksum.get_or_insert(result.checksum) != result.checksum {
                panic!("checksum differs between runs");
            }
        }
        let runs_seen = rates.clone();
        let floor_runs = floors.clone();
        let skim_floor_runs = skim_floors.clone();
        let rate = common::median_f64(&mut rates);
        rows.push(Row {
            mode,
            events_per_s: rate,
            json_mb_per_s: rate * json / n as f64 / 1e6,
            wire_mb_per_s: rate * wire / n as f64 / 1e6,
            floor_events_per_s: common::median_f64(&mut floors),
            skim_floor_events_per_s: common::median_f64(&mut skim_floors),
            reader_cpu_pct: common::median_f64(&mut reader),
            caller_cpu_pct: common::median_f64(&mut caller),
            runs: runs_seen,
            floor_runs,
            skim_floor_runs,
        });
    }

    println!(
        "\nthroughput: {n} dispatches ({}), median of {runs}",
        if guilds {
            "mixed"
        } else {
            "MESSAGE_CREATE/TYPING/PRESENCE only"
        }
    );
    println!(
        "{:<6} {:>10} {:>9} {:>9} {:>11} {:>7} {:>11} {:>7} {:>8} {:>8}",
        "mode",
        "events/s",
        "JSON MB/s",
        "wire MB/s",
        "serde floor",
        "÷",
        "skim floor",
        "÷",
        "reader %",
        "caller %"
    );
    for r in &rows {
        println!(
            "{:<6} {:>10.0} {:>9.1} {:>9.1} {:>11.0} {:>7.2} {:>11.0} {:>7.2} {:>8.0} {:>8.0}",
            r.mode.name(),
            r.events_per_s,
            r.json_mb_per_s,
            r.wire_mb_per_s,
            r.floor_events_per_s,
            r.events_per_s / r.floor_events_per_s,
            r.skim_floor_events_per_s,
            r.events_per_s / r.skim_floor_events_per_s,
            r.reader_cpu_pct,
            r.caller_cpu_pct
        );
    }
    println!();
    for r in &rows {
        let m = r.mode.name();
        common::figure(
            &format!("throughput_{m}_events_per_s"),
            format!("{:.0}", r.events_per_s),
        );
        common::figure(
            &format!("throughput_{m}_json_mb_per_s"),
            format!("{:.1}", r.json_mb_per_s),
        );
        common::figure(
            &format!("throughput_{m}_wire_mb_per_s"),
            format!("{:.1}", r.wire_mb_per_s),
        );
        common::figure(
            &format!("floor_{m}_events_per_s"),
            format!("{:.0}", r.floor_events_per_s),
        );
        common::figure(
            &format!("throughput_{m}_over_floor"),
            format!("{:.2}", r.events_per_s / r.floor_events_per_s),
        );
        common::figure(
            &format!("skim_floor_{m}_events_per_s"),
            format!("{:.0}", r.skim_floor_events_per_s),
        );
        common::figure(
            &format!("throughput_{m}_over_skim_floor"),
            format!("{:.2}", r.events_per_s / r.skim_floor_events_per_s),
        );
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        common::figure(&format!("throughput_{m}_runs"), list(&r.runs));
        common::figure(&format!("floor_{m}_runs"), list(&r.floor_runs));
        common::figure(&format!("skim_floor_{m}_runs"), list(&r.skim_floor_runs));
    }
}
