//! Shutdown from every state (issue 3, behaviour 9): during the websocket handshake, while
//! waiting for a Hello that never comes on the resume URL, during a backoff wait, during the
//! op 9 wait, and inside a long callback (as soon as it returns). `run` returns within about
//! a second and every thread the shard started is gone.
//!
//! The tests here run one at a time (a lock) so that counting the shard's threads by name
//! sees only the shard under test.

mod resilience;
mod threads;

use crossbeam_channel::{bounded, unbounded};
use resilience::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, RecordKind};
use syncord::{Event, Intents, Shard, ShardState, ShardThread};
use threads::{assert_client_threads_gone, serial};

/// "Within about a second".
const PROMPT: Duration = Duration::from_secs(1);

/// Shuts the shard down and returns how long `run` took to return.
fn shutdown_timed(thread: ShardThread) -> Duration {
    let handle = thread.handle().clone();
    let asked = Instant::now();
    let result = thread.shutdown();
    let took = asked.elapsed();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(handle.state(), ShardState::Stopped);
    took
}

#[test]
fn shutdown_during_the_websocket_handshake() {
    let _serial = serial();
    // A server that accepts TCP and never answers the upgrade request.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, accepted_rx) = bounded(1);
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = accepted_tx.send(stream);
        }
    });
    let config = syncord::Config::builder("token", Intents::non_privileged())
        .gateway_url(format!("ws://127.0.0.1:{port}"))
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let _stream = accepted_rx
        .recv_timeout(TIMEOUT)
        .expect("the shard connects");
    events.wait("Connecting", |e| matches!(e, Event::Connecting { .. }));
    assert_eq!(thread.handle().state(), ShardState::Connecting);

    let took = shutdown_timed(thread);
    assert!(took <= PROMPT, "run returned {took:?} after shutdown");
    assert_client_threads_gone(Duration::from_secs(2));
    events.drain_until_closed(TIMEOUT);
    assert_eq!(
        events.count(|e| matches!(e, Event::Connected)),
        0,
        "the handshake never completed"
    );
}

#[test]
fn shutdown_while_waiting_for_a_hello_that_never_comes_on_the_resume_url() {
    let _serial = serial();
    let sim = sim();
    let (thread, mut events) = spawn(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    events.wait_dispatch("READY");
    sim.fault_next(ConnectionFault::NoHello, 1);
    assert!(sim.reconnect());
    let silent = wait_connection(&sim, 2);
    assert_eq!(silent.path, "/resume");
    events.wait("Connected", |e| matches!(e, Event::Connected));
    assert_eq!(thread.handle().state(), ShardState::Connecting);

    let took = shutdown_timed(thread);
    assert!(took <= PROMPT, "run returned {took:?} after shutdown");
    assert_client_threads_gone(Duration::from_secs(2));
    assert_eq!(wait_client_close(&sim, silent.id).0, Some(1000));
    assert_eq!(connections(&sim).len(), 2);
}

#[test]
fn shutdown_during_a_backoff_wait() {
    let _serial = serial();
    let sim = sim();
    let (thread, mut events) = spawn_into_a_slow_backoff(&sim);
    events.wait(
        "Reconnecting",
        |e| matches!(e, Event::Reconnecting { delay, .. } if *delay >= Duration::from_secs(15)),
    );
    assert_eq!(
        thread.handle().state(),
        ShardState::Reconnecting { attempt: 1 }
    );
    let before = sim.connections();

    let took = shutdown_timed(thread);
    assert!(took <= PROMPT, "run returned {took:?} after shutdown");
    assert_client_threads_gone(Duration::from_secs(2));
    assert_eq!(sim.connections(), before, "no attempt after shutdown");
}

#[test]
fn shutdown_during_the_op9_wait() {
    let _serial = serial();
    let sim = sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .invalid_session_delay(Duration::from_secs(30)..=Duration::from_secs(30))
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    events.wait_dispatch("READY");
    assert!(sim.invalidate_session(true));
    let waiting = events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    assert!(
        matches!(waiting, Event::Reconnecting { delay, .. } if delay == Duration::from_secs(30)),
        "{waiting:?}"
    );
    assert_eq!(
        thread.handle().state(),
        ShardState::Reconnecting { attempt: 1 }
    );

    let took = shutdown_timed(thread);
    assert!(took <= PROMPT, "run returned {took:?} after shutdown");
    assert_client_threads_gone(Duration::from_secs(2));
    assert_eq!(connections(&sim).len(), 1, "no attempt after shutdown");
}

#[test]
fn shutdown_inside_a_long_callback_returns_as_soon_as_the_callback_does() {
    let _serial = serial();
    let sim = sim();
    let shard = Shard::with_config(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    let handle = shard.handle();
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let (tx, rx) = unbounded();
    let (done_tx, done_rx) = bounded(1);
    let runner = std::thread::spawn(move || {
        let result = shard.run(move |event| {
            let block = message_number(&event) == Some(0);
            let _ = tx.send(event);
            if block {
                let _ = gate_rx.recv_timeout(Duration::from_secs(60));
            }
        });
        let _ = done_tx.send((result, Instant::now()));
    });
    let mut events = Events::new(rx);
    events.wait_dispatch("READY");
    push_messages(&sim, 0, 3);
    events.wait("the callback that blocks", |e| message_number(e) == Some(0));

    let asked = Instant::now();
    handle.shutdown();
    assert!(
        asked.elapsed() < Duration::from_millis(200),
        "shutdown() itself does not wait"
    );
    // The callback is still running: `run` must not have returned under it.
    assert!(
        done_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "run returned while the callback was still running"
    );
    let released = Instant::now();
    gate_tx.send(()).unwrap();
    let (result, returned_at) = done_rx
        .recv_timeout(TIMEOUT)
        .expect("run returns once the callback returns");
    runner.join().unwrap();
    assert!(result.is_ok(), "{result:?}");
    let took = returned_at.duration_since(released);
    assert!(
        took <= PROMPT,
        "run returned {took:?} after the callback returned"
    );
    assert_eq!(handle.state(), ShardState::Stopped);
    assert_client_threads_gone(Duration::from_secs(2));
    let conn = wait_connection(&sim, 1);
    assert_eq!(wait_client_close(&sim, conn.id).0, Some(1000));
    assert!(!sim
        .records()
        .iter()
        .any(|r| matches!(r.kind, RecordKind::Connected { .. }) && r.connection != conn.id));
}
