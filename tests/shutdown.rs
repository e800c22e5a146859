//! Shutdown: `ShardHandle::shutdown` from any thread makes `run` close with 1000 and return
//! `Ok` promptly (DESIGN.md §2). Thread cleanup is checked in `thread_leak.rs`.

mod resilience;

use crossbeam_channel::unbounded;
use resilience::{gateway_config, spawn_forwarding, wait_event};
use std::thread;
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, RecordKind, SimConfig, Simulator};
use syncord::{Backoff, Event, Intents, Shard, ShardHandle, ShardState};

const TIMEOUT: Duration = Duration::from_secs(10);
const PROMPT: Duration = Duration::from_secs(2);

/// A shard run on the test thread and shut down by a helper thread once its session is up.
struct Outcome {
    /// What `run` returned.
    result: syncord::Result<()>,
    /// When `run` returned.
    returned_at: Instant,
    /// When the helper called `shutdown()`.
    called_at: Instant,
    /// How long the `shutdown()` call itself took.
    call_took: Duration,
    sim: Simulator,
    handle: ShardHandle,
}

fn run_then_shutdown_from_another_thread() -> Outcome {
    let sim = Simulator::start(SimConfig::default().heartbeat_interval(Duration::from_millis(100)))
        .unwrap();
    let shard = Shard::with_config(gateway_config(&sim));
    let handle = shard.handle();
    let helper = {
        let handle = handle.clone();
        thread::spawn(move || {
            // Shut down even if no session came, so the test fails rather than hangs.
            let _ = sim.wait_for_session(TIMEOUT);
            let called_at = Instant::now();
            handle.shutdown();
            (sim, called_at, called_at.elapsed())
        })
    };
    let result = shard.run(|_| {});
    let returned_at = Instant::now();
    let (sim, called_at, call_took) = helper.join().unwrap();
    Outcome {
        result,
        returned_at,
        called_at,
        call_took,
        sim,
        handle,
    }
}

#[test]
fn run_returns_ok_within_two_seconds_of_shutdown_from_another_thread() {
    let outcome = run_then_shutdown_from_another_thread();
    outcome.result.expect("run returns Ok after shutdown");
    let took = outcome
        .returned_at
        .saturating_duration_since(outcome.called_at);
    assert!(took < PROMPT, "run returned {took:?} after shutdown()");
}

#[test]
fn shutdown_call_itself_returns_at_once() {
    let outcome = run_then_shutdown_from_another_thread();
    outcome.result.unwrap();
    assert!(
        outcome.call_took < Duration::from_millis(200),
        "shutdown() blocked for {:?}",
        outcome.call_took
    );
}

#[test]
fn shutdown_closes_the_connection_with_code_1000() {
    let outcome = run_then_shutdown_from_another_thread();
    outcome.result.unwrap();
    let sim = outcome.sim;
    let closed = sim.wait_for(TIMEOUT, |r| {
        matches!(r.kind, RecordKind::ClosedByClient { .. })
    });
    assert!(closed.is_some(), "the client sent no close frame");
    let closes: Vec<RecordKind> = sim
        .records()
        .into_iter()
        .filter(|r| matches!(r.kind, RecordKind::ClosedByClient { .. }))
        .map(|r| r.kind)
        .collect();
    assert_eq!(closes, [RecordKind::ClosedByClient { code: Some(1000) }]);
}

#[test]
fn state_is_stopped_after_shutdown() {
    let outcome = run_then_shutdown_from_another_thread();
    outcome.result.unwrap();
    assert_eq!(outcome.handle.state(), ShardState::Stopped);
}

#[test]
fn shutdown_inside_the_handler_stops_run_with_ok() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let shard = Shard::with_config(gateway_config(&sim));
    let handle = shard.handle();
    let mut after_shutdown = Vec::new();
    let mut stopped_on = None;
    let result = shard.run(|event| {
        if stopped_on.is_some() {
            after_shutdown.push(event.name());
        } else if let Event::Dispatch(d) = &event {
            // No assertions in here: a panic in the handler is caught and reported.
            stopped_on = Some(d.event_type().to_owned());
            handle.shutdown();
        }
    });
    result.expect("run returns Ok");
    assert_eq!(stopped_on.as_deref(), Some("READY"));
    assert!(
        sim.wait_for(TIMEOUT, |r| r.kind
            == RecordKind::ClosedByClient { code: Some(1000) })
            .is_some(),
        "closed with 1000"
    );
    assert!(
        !after_shutdown.contains(&"connecting"),
        "no reconnect after shutdown: {after_shutdown:?}"
    );
}

#[test]
fn shutdown_during_reconnect_backoff_returns_promptly() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    // Every dial fails, so the shard sits in backoff between attempts.
    sim.fault_next(ConnectionFault::Refuse, 1000);
    let config = sim
        .client_config(Intents::GUILDS)
        .gateway_url(sim.gateway_url())
        .backoff(Backoff {
            base: Duration::from_secs(10),
            ..Backoff::default()
        })
        .build()
        .expect("valid config");
    let (thread, events) = spawn_forwarding(config);
    let handle = thread.handle().clone();
    let delay = match wait_event(&events, TIMEOUT, "a scheduled reconnect", |e| {
        matches!(e, Event::Reconnecting { .. })
    }) {
        Event::Reconnecting { delay, .. } => delay,
        _ => unreachable!(),
    };
    assert!(
        delay > PROMPT,
        "backoff of {delay:?} is too short for this test"
    );
    let called_at = Instant::now();
    handle.shutdown();
    let (done_tx, done) = unbounded();
    thread::spawn(move || {
        let _ = done_tx.send(thread.join());
    });
    let result = done
        .recv_timeout(TIMEOUT)
        .expect("the shard thread finishes");
    let took = called_at.elapsed();
    result.expect("run returns Ok");
    assert!(took < PROMPT, "run returned {took:?} after shutdown()");
}
