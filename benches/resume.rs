//! Resume time (issue 6, item 5): the simulator closes the connection with 4000 (resumable)
//! -> `Event::Resumed` reaches the callback; median over N cycles. The backoff counter is
//! reset after every healthy connection (`reset_after: 0`), so every cycle reconnects at
//! once, as the first retry after a working connection does.
//!
//! Each cycle is split with the callback's lifecycle events and the simulator's records:
//! close -> `Disconnected` (the reader saw the close, the old connection's threads are
//! joined) -> `Connecting` (backoff decided, dial starts) -> `Connected` (TCP + websocket
//! handshake done) -> the simulator has the Resume (threads started, Hello read, Resume
//! written) -> `Resumed` delivered.
//!
//!     cargo bench --bench resume -- [CYCLES=200] [none] [zlib] [zstd]

mod common;

use common::{percentile, Args};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Backoff, Event, Intents, Shard};

const USAGE: &str = "resume [CYCLES=200] [none] [zlib] [zstd]";

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

fn main() {
    let args = Args::parse(USAGE);
    let cycles = args.number(0, 200).max(1) as usize;
    // The client's default (zstd-stream) unless modes are given.
    let modes = if std::env::args().any(|a| common::Mode::parse(&a).is_some()) {
        args.modes.clone()
    } else {
        vec![common::Mode::Zstd]
    };
    eprintln!("machine: {}", common::machine());
    let mut rows = Vec::new();
    for mode in modes {
        let sim = Simulator::start(SimConfig::default()).expect("simulator");
        let config = sim
            .client_config(Intents::GUILD_MESSAGES)
            .gateway_url(sim.gateway_url())
            .compression(mode.compression())
            .backoff(Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(120),
                reset_after: Duration::ZERO,
            })
            .build()
            .expect("valid config");
        let (tx, rx) = mpsc::channel::<(&'static str, Instant)>();
        let shard = Shard::with_config(config);
        let handle = shard.handle();
        let caller = std::thread::Builder::new()
            .name("bench-caller".into())
            .spawn(move || {
                shard
                    .run(|event| {
                        let at = Instant::now();
                        let name = match event {
                            Event::Ready(_) => "ready",
                            Event::Resumed { .. } => "resumed",
                            Event::InvalidSession { .. } => "invalid",
                            Event::Disconnected { .. } => "disconnected",
                            Event::Connecting { .. } => "connecting",
                            Event::Connected => "connected",
                            _ => return,
                        };
                        let _ = tx.send((name, at));
                    })
                    .expect("shard run")
            })
            .expect("spawn caller");
        let wait_for = |want: &str| -> Instant {
            loop {
                let (what, at) = rx
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| panic!("{want} within 10 s"));
                assert_ne!(what, "invalid", "the session stayed resumable");
                if what == want {
                    return at;
                }
            }
        };
        wait_for("ready");
        sim.wait_for_session(Duration::from_secs(10))
            .expect("a live session");
        // Per cycle: close, Disconnected, Connecting, Connected, Resumed.
        let mut cycles_seen = Vec::with_capacity(cycles);
        for _ in 0..cycles {
            let closed = Instant::now();
            assert!(sim.close(4000), "a live connection to close");
            let disconnected = wait_for("disconnected");
            let connecting = wait_for("connecting");
            let connected = wait_for("connected");
            let resumed = wait_for("resumed");
            cycles_seen.push([closed, disconnected, connecting, connected, resumed]);
            // The simulator marks the session live when it sends RESUMED; wait for that
            // before closing again.
            sim.wait_for_session(Duration::from_secs(10))
                .expect("a live session");
        }
        handle.shutdown();
        caller.join().expect("caller");

        // The simulator's receipt of each Resume, between Connected and Resumed.
        let records = sim.records();
        let resumes: Vec<Instant> = records
            .iter()
            .filter(|r| r.op() == Some(6))
            .map(|r| r.at)
            .collect();
        let mut parts: Vec<Vec<u64>> = vec![Vec::new(); 6];
        for [closed, disconnected, connecting, connected, resumed] in &cycles_seen {
            parts[0].push(ns(*resumed - *closed));
            parts[1].push(ns(*disconnected - *closed));
            parts[2].push(ns(*connecting - *disconnected));
            parts[3].push(ns(*connected - *connecting));
            if let Some(resume) = resumes
                .iter()
                .find(|at| **at >= *connected && **at <= *resumed)
            {
                parts[4].push(ns(*resume - *connected));
                parts[5].push(ns(*resumed - *resume));
            }
        }
        for v in &mut parts {
            v.sort_unstable();
        }
        rows.push((mode, parts));
    }

    println!("\nresume: close 4000 -> Event::Resumed in the callback, {cycles} cycles (ms)");
    let ms = |v: u64| format!("{:.3}", v as f64 / 1e6);
    println!(
        "{:<6} {:>8} {:>8} {:>8} {:>8} | medians: {:>8} {:>8} {:>8} {:>8} {:>8}",
        "mode", "median", "p90", "p99", "max", "→disc", "→dial", "dial", "→Resume", "→RESUMED"
    );
    for (mode, parts) in &rows {
        let total = &parts[0];
        println!(
            "{:<6} {:>8} {:>8} {:>8} {:>8} | {:>17} {:>8} {:>8} {:>8} {:>8}",
            mode.name(),
            ms(percentile(total, 50.0)),
            ms(percentile(total, 90.0)),
            ms(percentile(total, 99.0)),
            ms(total.last().copied().unwrap_or(0)),
            ms(percentile(&parts[1], 50.0)),
            ms(percentile(&parts[2], 50.0)),
            ms(percentile(&parts[3], 50.0)),
            ms(percentile(&parts[4], 50.0)),
            ms(percentile(&parts[5], 50.0)),
        );
    }
    println!(
        "(→disc: close -> Disconnected; →dial: -> Connecting; dial: -> Connected; \
         →Resume: -> the simulator has the Resume; →RESUMED: -> Resumed in the callback)\n"
    );
    let names = [
        "median",
        "close_to_disconnected_median",
        "disconnected_to_connecting_median",
        "dial_median",
        "connected_to_resume_median",
        "resume_to_resumed_median",
    ];
    for (mode, parts) in &rows {
        let m = mode.name();
        for (name, part) in names.iter().zip(parts) {
            common::figure(&format!("resume_{m}_{name}_ms"), ms(percentile(part, 50.0)));
        }
        common::figure(
            &format!("resume_{m}_p99_ms"),
            ms(percentile(&parts[0], 99.0)),
        );
    }
}
