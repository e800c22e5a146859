//! Reconnect backoff end to end (issue 3, behaviour 4): exponential growth with jitter, the
//! cap, the reset after a healthy connection, a `Reconnecting` event before every wait, and
//! shutdown interrupting a wait.

mod resilience;

use resilience::*;
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, RecordKind, Simulator};
use syncord::{Backoff, Event, Intents, ShardState};

/// `(attempt, delay)` of every Reconnecting event so far.
fn reconnects(events: &Events) -> Vec<(u32, Duration)> {
    events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::Reconnecting { attempt, delay } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect()
}

/// When each websocket attempt reached the simulator: refused attempts record
/// `Disconnected` without `Connected`, accepted ones record `Connected`.
fn attempt_times(sim: &Simulator) -> Vec<Instant> {
    let records = sim.records();
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .filter(|r| r.connection != 0)
        .filter(|r| {
            matches!(
                r.kind,
                RecordKind::Connected { .. } | RecordKind::Disconnected
            )
        })
        .filter(|r| seen.insert(r.connection))
        .map(|r| r.at)
        .collect()
}

#[test]
fn refused_connections_back_off_with_growing_jittered_delays_up_to_the_cap() {
    let sim = sim();
    let backoff = Backoff {
        base: Duration::from_millis(40),
        max: Duration::from_millis(200),
        reset_after: Duration::from_secs(60),
    };
    sim.fault_next(ConnectionFault::Refuse, 6);
    let config = sim
        .client_config(Intents::GUILDS)
        .backoff(backoff.clone())
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    events.wait_dispatch("READY");
    thread.shutdown().unwrap();
    events.drain_until_closed(TIMEOUT);

    let waits = reconnects(&events);
    assert_eq!(
        waits.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6],
        "one Reconnecting per refused attempt, numbered: {waits:?}"
    );
    let ceilings = [40u64, 80, 160, 200, 200, 200].map(Duration::from_millis);
    for ((attempt, delay), ceiling) in waits.iter().zip(ceilings) {
        assert!(
            *delay >= ceiling / 2 && *delay <= ceiling,
            "attempt {attempt}: delay {delay:?} outside [{:?}, {ceiling:?}]",
            ceiling / 2
        );
        assert_eq!(backoff.ceiling(*attempt), ceiling);
    }
    // Growth: every delay before the cap is above the previous ceiling's range start and
    // the capped ones never exceed the cap.
    assert!(waits[2].1 > waits[0].1, "delays grow: {waits:?}");
    assert!(waits.iter().all(|(_, d)| *d <= backoff.max));

    // The waits really happened: each attempt reached the simulator at least `delay` after
    // the previous one was refused.
    let times = attempt_times(&sim);
    assert_eq!(times.len(), 7, "six refused attempts and one that worked");
    for (n, (attempt, delay)) in waits.iter().enumerate() {
        let gap = times[n + 1].duration_since(times[n]);
        assert!(
            gap >= *delay,
            "attempt {attempt} came {gap:?} after the previous one, before its {delay:?} backoff"
        );
    }
    // Every wait was announced before the attempt it delays.
    let order: Vec<&str> = events
        .seen()
        .iter()
        .filter(|e| matches!(e, Event::Reconnecting { .. } | Event::Connecting { .. }))
        .map(Event::name)
        .collect();
    let mut expected = vec!["connecting"];
    for _ in 0..6 {
        expected.extend(["reconnecting", "connecting"]);
    }
    assert_eq!(order, expected);
}

#[test]
fn the_attempt_counter_resets_after_a_connection_stays_healthy_for_reset_after() {
    let sim = sim();
    let backoff = Backoff {
        base: Duration::from_millis(200),
        max: Duration::from_secs(2),
        reset_after: Duration::from_millis(300),
    };
    sim.fault_next(ConnectionFault::Refuse, 2);
    let config = sim
        .client_config(Intents::GUILDS)
        .backoff(backoff)
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    events.wait_dispatch("READY");
    assert_eq!(
        reconnects(&events).iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2]
    );
    // Healthy for longer than reset_after: this pause is the scenario.
    std::thread::sleep(Duration::from_millis(450));
    let before = reconnects(&events).len();
    sim.fault_next(ConnectionFault::Refuse, 1);
    assert!(sim.close(4000));
    events.wait_dispatch("RESUMED");
    let after = reconnects(&events)[before..].to_vec();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        after[0],
        (1, Duration::ZERO),
        "counter reset; the first retry after a healthy connection goes at once"
    );
    assert_eq!(after[1].0, 2, "then the backoff starts again from the base");
    assert!(
        after[1].1 >= Duration::from_millis(200) && after[1].1 <= Duration::from_millis(400),
        "{after:?}"
    );
    thread.shutdown().unwrap();
}

#[test]
fn without_a_healthy_period_the_attempt_counter_keeps_growing() {
    let sim = sim();
    let backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_secs(1),
        reset_after: Duration::from_secs(60),
    };
    sim.fault_next(ConnectionFault::Refuse, 2);
    let config = sim
        .client_config(Intents::GUILDS)
        .backoff(backoff)
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    events.wait_dispatch("READY");
    assert!(sim.close(4000));
    events.wait_dispatch("RESUMED");
    let waits = reconnects(&events);
    assert_eq!(waits.len(), 3, "{waits:?}");
    let (attempt, delay) = waits[2];
    assert_eq!(
        attempt, 3,
        "a short-lived connection does not reset the counter"
    );
    assert!(
        delay >= Duration::from_millis(40) && delay <= Duration::from_millis(80),
        "{delay:?}"
    );
    thread.shutdown().unwrap();
}

#[test]
fn shutdown_interrupts_a_pending_30_second_backoff() {
    let sim = sim();
    let (thread, mut events) = spawn_into_a_slow_backoff(&sim);
    let reconnecting = events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    assert!(
        matches!(reconnecting, Event::Reconnecting { attempt: 1, delay } if delay >= Duration::from_secs(15)),
        "{reconnecting:?}"
    );
    let handle = thread.handle().clone();
    assert_eq!(handle.state(), ShardState::Reconnecting { attempt: 1 });
    let connections_before = sim.connections();

    let asked = Instant::now();
    let result = thread.shutdown();
    let took = asked.elapsed();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        took <= Duration::from_secs(1),
        "run returned {took:?} after shutdown, during a 30 s backoff"
    );
    assert_eq!(handle.state(), ShardState::Stopped);
    assert_eq!(
        sim.connections(),
        connections_before,
        "no attempt after shutdown"
    );
}
