//! Every thread a shard starts is joined: the shard's own thread and three per live
//! connection (reader, heartbeat, writer), and none left after shutdown (DESIGN.md §2).
//!
//! This binary holds a single test so that no other shard runs in the process while it
//! counts threads.

mod resilience;
mod threads;

use resilience::{gateway_config, spawn_forwarding, wait_event};
use std::time::{Duration, Instant};
use syncord::sim::{SimConfig, Simulator};
use syncord::Event;
use threads::{assert_client_threads_gone, client_threads};

const TIMEOUT: Duration = Duration::from_secs(10);

fn count(threads: &[String], prefix: &str) -> usize {
    threads.iter().filter(|t| t.starts_with(prefix)).count()
}

/// Exactly one shard runner and one reader, one heartbeat and one writer thread: four in all.
///
/// A thread names itself when it first runs, so a thread spawned a moment ago may still
/// carry its parent's name on a loaded machine: the names are read again (for up to two
/// seconds) until they settle. There is no event to wait on for the kernel's view.
fn assert_one_connection(when: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut threads = client_threads();
    while !is_one_connection(&threads) && Instant::now() < deadline {
        std::thread::yield_now();
        threads = client_threads();
    }
    check_one_connection(&threads, when);
}

fn is_one_connection(threads: &[String]) -> bool {
    ["syncord-sh-", "syncord-rd-", "syncord-hb-", "syncord-wr-"]
        .iter()
        .all(|prefix| count(threads, prefix) == 1)
        && threads.len() == 4
}

fn check_one_connection(threads: &[String], when: &str) {
    assert_eq!(count(threads, "syncord-sh-"), 1, "{when}: {threads:?}");
    assert_eq!(count(threads, "syncord-rd-"), 1, "{when}: {threads:?}");
    assert_eq!(count(threads, "syncord-hb-"), 1, "{when}: {threads:?}");
    assert_eq!(count(threads, "syncord-wr-"), 1, "{when}: {threads:?}");
    assert_eq!(threads.len(), 4, "{when}: unexpected threads {threads:?}");
}

#[test]
fn no_syncord_thread_outlives_shutdown_and_reconnects_replace_connection_threads() {
    assert_eq!(client_threads(), Vec::<String>::new(), "clean start");
    let sim = Simulator::start(SimConfig::default().heartbeat_interval(Duration::from_millis(100)))
        .unwrap();
    let config = gateway_config(&sim);
    let (thread, events) = spawn_forwarding(config);

    wait_event(
        &events,
        TIMEOUT,
        "the READY dispatch",
        |e| matches!(e, Event::Dispatch(d) if d.event_type() == "READY"),
    );
    assert_one_connection("after READY");

    // A resumable close: the shard reconnects and resumes; the old connection's threads must
    // be gone by the time the new connection is up.
    assert!(sim.close(4000));
    wait_event(&events, TIMEOUT, "Resumed", |e| {
        matches!(e, Event::Resumed { .. })
    });
    assert_one_connection("after a resume");

    let last = sim.push("TEST_EVENT", "{}").unwrap();
    wait_event(
        &events,
        TIMEOUT,
        "the pushed TEST_EVENT",
        |e| matches!(e, Event::Dispatch(d) if d.seq() == last),
    );
    // Let a few heartbeats happen so the writer is mid-schedule at shutdown.
    let beats = sim.received(1).len();
    sim.wait_for_nth(TIMEOUT, beats + 2, |r| r.op() == Some(1))
        .expect("heartbeats continue");

    thread.shutdown().expect("run returns Ok");
    assert_client_threads_gone(Duration::from_secs(2));
}
