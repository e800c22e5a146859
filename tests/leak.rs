//! No thread or file-descriptor leak over hundreds of reconnects (issue 3, behaviour 9):
//! 300 cycles of "the gateway closes with 4000, the shard resumes", comparing this
//! process's threads (/proc/self/task) and open fds (/proc/self/fd) before and after.
//!
//! A single test in its own binary, so nothing else runs in this process meanwhile.

mod resilience;

use crossbeam_channel::unbounded;
use resilience::*;
use std::time::{Duration, Instant};
use syncord::{Backoff, Event, Intents, Shard};

const CYCLES: u32 = 300;

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// (threads, open fds) of this process.
fn counts() -> (usize, usize) {
    (count("/proc/self/task"), count("/proc/self/fd"))
}

/// Counts once they stopped changing for a while (threads of closed connections take a
/// moment to exit), or after a timeout.
fn settled() -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = counts();
    let mut stable = 0;
    while stable < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let now = counts();
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
    }
    last
}

#[test]
fn three_hundred_reconnects_leak_no_thread_and_no_fd() {
    let sim = sim_with_interval(Duration::from_millis(500));
    let config = sim
        .client_config(Intents::GUILDS)
        .backoff(Backoff {
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
            reset_after: Duration::ZERO,
        })
        .build()
        .expect("valid config");
    let (tx, rx) = unbounded();
    let thread = Shard::with_config(config)
        .spawn(move |event| {
            if let Event::Resumed { .. } | Event::Ready(_) = event {
                let _ = tx.send(event);
            }
        })
        .unwrap();
    rx.recv_timeout(TIMEOUT).expect("READY");
    let cycle = |n: u32| {
        sim.wait_for_session(TIMEOUT)
            .unwrap_or_else(|| panic!("cycle {n}: no live session"));
        assert!(sim.close(4000), "cycle {n}: close sent");
        match rx.recv_timeout(TIMEOUT) {
            Ok(Event::Resumed { .. }) => {}
            other => panic!("cycle {n}: expected a resume, got {other:?}"),
        }
    };
    // Warm up: whatever is created once (log, TLS, thread-locals…) exists before counting.
    for n in 0..5 {
        cycle(n);
    }
    let before = settled();

    let started = Instant::now();
    for n in 0..CYCLES {
        cycle(n);
    }
    let took = started.elapsed();

    // Wait (bounded) for the last connections' threads to finish, then compare.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = counts();
    while (after.0 > before.0 || after.1 > before.1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        after = counts();
    }
    println!(
        "leak: {CYCLES} reconnects in {took:.1?}; threads {} -> {}, fds {} -> {}",
        before.0, after.0, before.1, after.1
    );
    assert_eq!(
        connections(&sim).len(),
        CYCLES as usize + 6,
        "one connection per cycle"
    );
    assert_eq!(sim.received(2).len(), 1, "every cycle resumed");
    assert!(
        after.0 <= before.0,
        "threads leaked: {} before, {} after {CYCLES} reconnects",
        before.0,
        after.0
    );
    assert!(
        after.1 <= before.1,
        "file descriptors leaked: {} before, {} after {CYCLES} reconnects",
        before.1,
        after.1
    );
    thread.shutdown().unwrap();
}
