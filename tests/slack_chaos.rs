//! Chaos for Socket Mode: 10,000 events pushed while the simulator refreshes, warns, drops
//! TCP (mid-frame too), duplicates deliveries and goes silent. Every event must reach the
//! handler exactly once: Slack's retries bring back what a dead connection lost, the dedupe
//! removes the copies. Prints `slack chaos: events=N lost=0 duplicated=0 reconnects=R`.

#![cfg(all(feature = "slack", feature = "sim"))]

use crossbeam_channel::unbounded;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use syncord::sim::slack::{payload, SlackSim, SlackSimConfig};
use syncord::slack::{SlackConfig, SlackEvent, SocketMode};
use syncord::Backoff;

const EVENTS: usize = 10_000;

#[test]
fn every_event_arrives_once_through_refreshes_drops_duplicates_and_silence() {
    let sim = SlackSim::start(
        SlackSimConfig::default()
            .ack_deadline(Duration::from_millis(300))
            .retry_schedule(vec![Duration::from_millis(20); 3])
            .duplicate_delay(Duration::from_millis(5))
            .refresh_close_after(Duration::from_secs(2))
            .warning_close_after(Duration::from_secs(2))
            // A retry routed to a ghost is lost by Slack itself; this test is about ours.
            .route_to_ghosts(false)
            // Ghosts count toward Slack's 10 connections: with one TCP-ending fault per
            // burst, Slack's 60 s would reach `too_many_websockets` within the test (the
            // client's reaction to that has its own test).
            .ghost_ttl(Duration::from_millis(200)),
    )
    .unwrap();
    let config = SlackConfig::builder(sim.app_token())
        .api_base(sim.api_base())
        .ping_interval(Duration::from_millis(50))
        .too_many_websockets_wait(Duration::from_millis(200))
        .backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            reset_after: Duration::ZERO,
        })
        .build()
        .unwrap();
    let (tx, events) = unbounded();
    let client = SocketMode::new(config)
        .spawn(move |event| {
            let _ = tx.send(event);
        })
        .unwrap();
    assert!(sim.wait_for_connections(1, Duration::from_secs(10)));
    let mut rng = fastrand::Rng::with_seed(0x51ac_c4a0);
    let mut pushed = Vec::with_capacity(EVENTS);
    // Faults that end a connection (the client must replace it).
    let mut endings = 0;
    for i in 0..EVENTS {
        if i % 400 == 399 {
            let open = sim.open_connections();
            if let Some(&conn) = open.get(rng.usize(..open.len().max(1))) {
                let ended = match rng.u8(..6) {
                    0 => sim.disconnect(conn, "refresh_requested"),
                    1 => sim.disconnect(conn, "warning"),
                    2 => sim.drop_tcp(conn),
                    3 => match sim.drop_mid_frame(conn) {
                        Some(lost) => {
                            pushed.push(lost.event_id);
                            true
                        }
                        None => false,
                    },
                    4 => {
                        sim.duplicate_next(5);
                        false
                    }
                    _ => sim.go_silent(conn),
                };
                endings += usize::from(ended);
            }
            // The next burst goes out once a connection is up again.
            if !sim.wait_for_connections(1, Duration::from_secs(10)) {
                panic!("no connection came back: {:?}", sim.connections());
            }
        }
        let text = format!("event {i}");
        pushed.push(
            sim.push_events_api(&payload::message_event("C", "U", &text))
                .event_id,
        );
    }
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < pushed.len() && Instant::now() < deadline {
        match events.recv_timeout(Duration::from_millis(500)) {
            Ok(SlackEvent::Envelope(envelope)) => {
                let id = envelope.event_id().unwrap_or_default().to_owned();
                *seen.entry(id).or_default() += 1;
            }
            Ok(SlackEvent::Connected) => reconnects += 1,
            Ok(_) | Err(_) => {}
        }
    }
    client.shutdown().unwrap();
    for event in events.try_iter() {
        if let SlackEvent::Envelope(envelope) = event {
            *seen
                .entry(envelope.event_id().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
    let lost = pushed.iter().filter(|id| !seen.contains_key(*id)).count();
    let duplicated: u32 = seen.values().map(|n| n - 1).sum();
    println!(
        "slack chaos: events={} lost={lost} duplicated={duplicated} reconnects={reconnects}",
        pushed.len()
    );
    assert_eq!((lost, duplicated), (0, 0));
    // Each connection-ending fault was followed by a new connection (silence takes three
    // ping intervals to notice, so a silent one may be replaced after the next fault).
    assert!(endings >= 10, "faults that end a connection: {endings}");
    assert!(
        reconnects * 2 >= endings,
        "reconnects={reconnects} endings={endings}"
    );
}
