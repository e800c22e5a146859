//! Resume time (issue 6, item 5): the simulator closes the connection with 4000 (resumable)
//! -> `Event::Resumed` reaches the callback; median over N cycles. The backoff counter is
//! reset after every healthy connection (`reset_after: 0`), so every cycle reconnects at
//! once, as the first retry after a working connection does.
//!
//! The simulator's records split each cycle: close -> the new connection's websocket
//! upgrade (reader notices the close, caller reconnects, TCP + HTTP upgrade), -> Resume
//! received (Hello, then the writer sends Resume), -> RESUMED delivered.
//!
//!     cargo bench --bench resume -- [CYCLES=200] [none] [zlib] [zstd]

mod common;

use common::{percentile, Args};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use syncord::sim::{RecordKind, SimConfig, Simulator};
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
            .build();
        let (tx, rx) = mpsc::channel::<(&'static str, Instant)>();
        let shard = Shard::with_config(config);
        let handle = shard.handle();
        let caller = std::thread::Builder::new()
            .name("bench-caller".into())
            .spawn(move || {
                shard
                    .run(|event| {
                        let at = Instant::now();
                        match event {
                            Event::Ready(_) => {
                                let _ = tx.send(("ready", at));
                            }
                            Event::Resumed { .. } => {
                                let _ = tx.send(("resumed", at));
                            }
                            Event::InvalidSession { .. } => {
                                let _ = tx.send(("invalid", at));
                            }
                            _ => {}
                        }
                    })
                    .expect("shard run")
            })
            .expect("spawn caller");
        let (what, _) = rx.recv_timeout(Duration::from_secs(30)).expect("READY");
        assert_eq!(what, "ready");
        sim.wait_for_session(Duration::from_secs(10))
            .expect("a live session");
        let mut cycles_seen = Vec::with_capacity(cycles);
        for _ in 0..cycles {
            let closed = Instant::now();
            assert!(sim.close(4000), "a live connection to close");
            let (what, at) = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("RESUMED within 10 s");
            assert_eq!(what, "resumed", "the session resumed");
            cycles_seen.push((closed, at));
            // The simulator marks the session live when it sends RESUMED; wait for that
            // before closing again.
            sim.wait_for_session(Duration::from_secs(10))
                .expect("a live session");
        }
        handle.shutdown();
        caller.join().expect("caller");

        // Split each cycle with the simulator's records.
        let records = sim.records();
        let mut total = Vec::new();
        let mut to_upgrade = Vec::new();
        let mut to_resume = Vec::new();
        let mut to_delivered = Vec::new();
        for &(closed, delivered) in &cycles_seen {
            total.push(ns(delivered - closed));
            let connected = records
                .iter()
                .find(|r| r.at >= closed && matches!(r.kind, RecordKind::Connected { .. }));
            let resume = records.iter().find(|r| r.at >= closed && r.op() == Some(6));
            if let (Some(c), Some(r)) = (connected, resume) {
                if r.at <= delivered {
                    to_upgrade.push(ns(c.at - closed));
                    to_resume.push(ns(r.at.saturating_duration_since(c.at)));
                    to_delivered.push(ns(delivered - r.at));
                }
            }
        }
        for v in [
            &mut total,
            &mut to_upgrade,
            &mut to_resume,
            &mut to_delivered,
        ] {
            v.sort_unstable();
        }
        rows.push((mode, total, to_upgrade, to_resume, to_delivered));
    }

    println!("\nresume: close 4000 -> Event::Resumed in the callback, {cycles} cycles (ms)");
    let ms = |v: u64| format!("{:.3}", v as f64 / 1e6);
    println!(
        "{:<6} {:>9} {:>9} {:>9} {:>9} | median parts: {:>9} {:>9} {:>9}",
        "mode", "median", "p90", "p99", "max", "upgrade", "Resume", "RESUMED"
    );
    for (mode, total, a, b, c) in &rows {
        println!(
            "{:<6} {:>9} {:>9} {:>9} {:>9} | {:>22} {:>9} {:>9}",
            mode.name(),
            ms(percentile(total, 50.0)),
            ms(percentile(total, 90.0)),
            ms(percentile(total, 99.0)),
            ms(total.last().copied().unwrap_or(0)),
            ms(percentile(a, 50.0)),
            ms(percentile(b, 50.0)),
            ms(percentile(c, 50.0))
        );
    }
    println!();
    for (mode, total, a, b, c) in &rows {
        let m = mode.name();
        common::figure(
            &format!("resume_{m}_median_ms"),
            ms(percentile(total, 50.0)),
        );
        common::figure(&format!("resume_{m}_p99_ms"), ms(percentile(total, 99.0)));
        common::figure(
            &format!("resume_{m}_close_to_upgrade_median_ms"),
            ms(percentile(a, 50.0)),
        );
        common::figure(
            &format!("resume_{m}_upgrade_to_resume_median_ms"),
            ms(percentile(b, 50.0)),
        );
        common::figure(
            &format!("resume_{m}_resume_to_resumed_median_ms"),
            ms(percentile(c, 50.0)),
        );
    }
}
