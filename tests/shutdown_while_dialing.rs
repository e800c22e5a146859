//! Shutdown while the TCP connect itself hangs (a listener whose accept queue is full drops
//! SYNs, so the connect neither succeeds nor fails): `run` still returns at once.

mod resilience;

use resilience::{hanging_listener, spawn_forwarding, wait_event};
use std::time::{Duration, Instant};
use syncord::{Config, Event, Intents};

#[test]
fn shutdown_interrupts_a_hanging_connect() {
    let (_listener, fillers, addr) = hanging_listener();

    let config = Config::builder("token", Intents::GUILDS)
        .gateway_url(format!("ws://{addr}"))
        .dial_timeout(Duration::from_secs(60))
        .build()
        .expect("valid config");
    let (shard, events) = spawn_forwarding(config);
    wait_event(&events, Duration::from_secs(10), "Connecting", |e| {
        matches!(e, Event::Connecting { .. })
    });
    // Let the connect get under way, then stop.
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err());
    let started = Instant::now();
    shard.shutdown().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    drop(fillers);
}
