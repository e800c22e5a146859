//! The chaos test (issue 3, behaviour 6, "nothing lost"): 20,000 dispatches pushed by one
//! thread while a seeded random schedule injects op 7, op 9 (resumable), closes with
//! resumable codes, TCP drops, drops in the middle of a frame and silent phases (no ACKs
//! until the client declares the connection a zombie and reconnects) every few hundred
//! events. The handler must see every sequence number the simulator assigned — READY's,
//! every MESSAGE_CREATE's and every RESUMED's — exactly once and in order.
//!
//! `CHAOS_SEED` overrides the seed; `CHAOS_EVENTS` the number of dispatches.

mod resilience;

use crossbeam_channel::{bounded, unbounded};
use resilience::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Backoff, Event, Intents, Shard};

const DEFAULT_SEED: u64 = 0x5EED_C4A0_5EED_C4A0;
const DEFAULT_EVENTS: u64 = 20_000;
/// At most this many pushed events may be waiting for the handler (flow control), so that
/// faults land while events stream, not after they were all buffered.
const WINDOW: usize = 500;
/// Resumable close codes (PROTOCOL.md §3).
const RESUMABLE_CLOSES: [u16; 6] = [4000, 4001, 4002, 4005, 4008, 1001];

/// A seeded schedule: fastrand's generator, so a seed replays the same faults.
struct Schedule(fastrand::Rng);

impl Schedule {
    fn new(seed: u64) -> Schedule {
        Schedule(fastrand::Rng::with_seed(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fault {
    Reconnect,
    InvalidSession,
    Close(u16),
    Drop,
    DropMidFrame,
    Silence,
}

/// How far the pusher got, and whether it must pause (during silent phases).
#[derive(Default)]
struct Pusher {
    state: Mutex<(u64, bool)>,
    changed: Condvar,
}

impl Pusher {
    fn set_paused(&self, paused: bool) {
        self.state.lock().unwrap().1 = paused;
        self.changed.notify_all();
    }
    fn wait_pushed(&self, at_least: u64, timeout: Duration) -> u64 {
        let guard = self.state.lock().unwrap();
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |(pushed, _)| *pushed < at_least)
            .unwrap();
        guard.0
    }
}

/// Where the dispatch came from, for the accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Message(u64),
    Other(String),
}

#[test]
fn chaos_every_sequence_number_exactly_once_and_in_order() {
    let seed = env_u64("CHAOS_SEED").unwrap_or(DEFAULT_SEED);
    let total = env_u64("CHAOS_EVENTS").unwrap_or(DEFAULT_EVENTS);
    let interval = Duration::from_millis(50);
    let sim = Simulator::start(
        SimConfig::default()
            .heartbeat_interval(interval)
            // 50 ms heartbeats would hit Discord's 120 sends per minute within six seconds.
            .rate_limit(1_000_000, Duration::from_secs(60)),
    )
    .unwrap();
    let config = sim
        .client_config(Intents::non_privileged())
        .rate_limit(1_000_000, Duration::from_secs(60))
        .invalid_session_delay(Duration::from_millis(2)..=Duration::from_millis(5))
        .backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(200),
            reset_after: Duration::ZERO,
        })
        .build()
        .expect("valid config");

    // The handler: record every dispatch, hand back one credit per message, count the
    // lifecycle events.
    let seen: Arc<Mutex<Vec<(u64, Seen)>>> = Arc::default();
    let reconnects = Arc::new(AtomicU32::new(0));
    let zombies = Arc::new(AtomicU32::new(0));
    let gaps = Arc::new(AtomicU32::new(0));
    let replayed = Arc::new(AtomicU64::new(0));
    let (credits_tx, credits_rx) = bounded::<()>(WINDOW);
    let (end_tx, end_rx) = unbounded::<u64>();
    let (errors_tx, errors_rx) = unbounded::<String>();
    let (resumed_tx, resumed_rx) = unbounded::<u64>();
    let shard = Shard::with_config(config);
    let thread = {
        let (seen, reconnects, zombies, gaps, replayed) = (
            seen.clone(),
            reconnects.clone(),
            zombies.clone(),
            gaps.clone(),
            replayed.clone(),
        );
        shard
            .spawn(move |event| match event {
                Event::Dispatch(d) => {
                    let what = if d.event_type() == "MESSAGE_CREATE" {
                        let _ = credits_rx.try_recv();
                        match d
                            .data::<serde_json::Value>()
                            .ok()
                            .and_then(|v| v["n"].as_u64())
                        {
                            Some(n) => Seen::Message(n),
                            None => Seen::Other("MESSAGE_CREATE without n".into()),
                        }
                    } else {
                        Seen::Other(d.event_type().to_owned())
                    };
                    if what == Seen::Other("CHAOS_END".into()) {
                        let _ = end_tx.send(d.seq());
                    }
                    if what == Seen::Other("RESUMED".into()) {
                        let _ = resumed_tx.send(d.seq());
                    }
                    seen.lock().unwrap().push((d.seq(), what));
                }
                Event::Reconnecting { .. } => {
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
                Event::Disconnected { reason, .. } if reason.contains("zombie") => {
                    zombies.fetch_add(1, Ordering::Relaxed);
                }
                Event::Resumed { replayed: n } => {
                    replayed.fetch_add(n, Ordering::Relaxed);
                }
                Event::SequenceGap { .. } => {
                    gaps.fetch_add(1, Ordering::Relaxed);
                }
                Event::Error { message, .. } => {
                    let _ = errors_tx.send(message);
                }
                _ => {}
            })
            .unwrap()
    };
    sim.wait_for_session(TIMEOUT).expect("a session starts");

    let started = Instant::now();
    let pusher = Pusher::default();
    let mut injected: Vec<Fault> = Vec::new();
    std::thread::scope(|scope| {
        let push_thread = scope.spawn(|| {
            for n in 0..total {
                {
                    let guard = pusher.state.lock().unwrap();
                    let _guard = pusher
                        .changed
                        .wait_timeout_while(guard, TIMEOUT, |(_, paused)| *paused)
                        .unwrap();
                }
                credits_tx
                    .send_timeout((), TIMEOUT)
                    .unwrap_or_else(|_| panic!("the handler stopped taking events at {n}"));
                sim.push("MESSAGE_CREATE", &format!(r#"{{"n":{n}}}"#))
                    .expect("the session still exists");
                pusher.state.lock().unwrap().0 = n + 1;
                pusher.changed.notify_all();
            }
        });

        let mut rng = Schedule::new(seed);
        let mut next_at = 100 + rng.below(400);
        while next_at < total {
            let pushed = pusher.wait_pushed(next_at, TIMEOUT);
            assert!(
                pushed >= next_at,
                "pushing stalled at {pushed} (waiting for {next_at}); injected {injected:?}"
            );
            // Faults hit live connections, as on Discord: after the previous fault, wait
            // until the handler has seen the RESUMED that ended it.
            if !injected.is_empty() {
                resumed_rx
                    .recv_timeout(TIMEOUT)
                    .unwrap_or_else(|_| panic!("no RESUMED after {:?}", injected.last()));
                while resumed_rx.try_recv().is_ok() {}
            }
            sim.wait_for_session(TIMEOUT)
                .unwrap_or_else(|| panic!("no live session after {injected:?}"));
            let fault = match rng.below(6) {
                0 => Fault::Reconnect,
                1 => Fault::InvalidSession,
                2 => Fault::Close(RESUMABLE_CLOSES[rng.below(6) as usize]),
                3 => Fault::Drop,
                4 => Fault::DropMidFrame,
                _ => Fault::Silence,
            };
            inject(&sim, &pusher, fault);
            injected.push(fault);
            next_at += 100 + rng.below(400);
        }
        push_thread.join().unwrap();
    });

    // The storm is over: once the last fault's resume has completed, mark the end.
    if !injected.is_empty() {
        resumed_rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no RESUMED after {:?}", injected.last()));
    }
    sim.wait_for_session(TIMEOUT)
        .expect("a live session at the end");
    let end = sim
        .push("CHAOS_END", "{}")
        .expect("the session still exists");
    let delivered_end = end_rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("the end marker (s={end}) never arrived"));
    assert_eq!(delivered_end, end);
    thread.shutdown().unwrap();
    let elapsed = started.elapsed();

    let seen = seen.lock().unwrap().clone();
    let distinct: HashSet<u64> = seen.iter().map(|(s, _)| *s).collect();
    let lost = (1..=end).filter(|s| !distinct.contains(s)).count();
    let duplicated = seen.len() - distinct.len();
    let reconnects = reconnects.load(Ordering::Relaxed);
    println!("chaos: events={end} lost={lost} duplicated={duplicated} reconnects={reconnects}");
    let kinds: HashSet<String> = injected.iter().map(|f| format!("{f:?}")).collect();
    println!(
        "chaos: seed={seed:#x} messages={total} faults={} zombies={} replayed={} \
         sequence_gaps={} connections={} elapsed={elapsed:.1?}; fault kinds: {kinds:?}",
        injected.len(),
        zombies.load(Ordering::Relaxed),
        replayed.load(Ordering::Relaxed),
        gaps.load(Ordering::Relaxed),
        connections(&sim).len(),
    );
    let errors: Vec<String> = errors_rx.try_iter().collect();

    assert_eq!(lost, 0, "lost events");
    assert_eq!(duplicated, 0, "duplicated events");
    let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    assert_consecutive_from_one(&seqs);
    let messages: Vec<u64> = seen
        .iter()
        .filter_map(|(_, what)| match what {
            Seen::Message(n) => Some(*n),
            Seen::Other(_) => None,
        })
        .collect();
    assert_eq!(messages.len() as u64, total);
    assert!(
        messages.iter().copied().eq(0..total),
        "messages out of order"
    );
    let others: Vec<&str> = seen
        .iter()
        .filter_map(|(_, what)| match what {
            Seen::Other(t) => Some(t.as_str()),
            Seen::Message(_) => None,
        })
        .collect();
    assert_eq!(others.first(), Some(&"READY"));
    assert_eq!(
        others.iter().filter(|t| **t == "READY").count(),
        1,
        "one session"
    );
    assert!(
        others[1..others.len() - 1].iter().all(|t| *t == "RESUMED"),
        "only RESUMED between READY and the end marker: {others:?}"
    );
    assert_eq!(gaps.load(Ordering::Relaxed), 0, "sequence gaps reported");
    assert!(errors.is_empty(), "errors reported: {errors:?}");
    assert_eq!(sim.received(2).len(), 1, "never re-identified");
    // Every fault cost at least one reconnect, and each reconnect resumed.
    assert!(
        reconnects as usize >= injected.len(),
        "{reconnects} reconnects for {} faults",
        injected.len()
    );
    assert_eq!(
        others.len() - 2,
        sim.received(6).len(),
        "every Resume got RESUMED"
    );
    if total >= DEFAULT_EVENTS {
        assert!(injected.len() >= 40, "few faults: {injected:?}");
        for kind in [
            "Reconnect",
            "InvalidSession",
            "Close",
            "Drop",
            "DropMidFrame",
            "Silence",
        ] {
            assert!(
                injected.iter().any(|f| format!("{f:?}").starts_with(kind)),
                "the schedule never injected {kind}"
            );
        }
        assert!(
            zombies.load(Ordering::Relaxed) > 0,
            "no zombie was detected"
        );
    }
}

/// Injects one fault into the live connection; a silent phase lasts until the client has
/// given up on the connection and opened a new one.
fn inject(sim: &Simulator, pusher: &Pusher, fault: Fault) {
    match fault {
        Fault::Reconnect => assert!(sim.reconnect()),
        Fault::InvalidSession => assert!(sim.invalidate_session(true)),
        Fault::Close(code) => assert!(sim.close(code)),
        Fault::Drop => assert!(sim.drop_connection()),
        Fault::DropMidFrame => assert!(sim.drop_mid_frame()),
        Fault::Silence => {
            let current = connections(sim).last().expect("a connection").id;
            pusher.set_paused(true);
            sim.set_acks(false);
            let reconnected = sim.wait_for(TIMEOUT, |r| {
                r.connection > current && matches!(r.kind, RecordKind::Connected { .. })
            });
            sim.set_acks(true);
            pusher.set_paused(false);
            assert!(
                reconnected.is_some(),
                "the client never gave up on the silent connection {current}"
            );
        }
    }
}
