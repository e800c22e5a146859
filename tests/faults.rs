//! Connection faults end to end (issue 3, behaviours 3 and 11): zombie connections, TCP
//! drops with and without a partial frame, a missing or late Hello, op 7 before Hello.
//! Each must end in exactly one reconnect that resumes (or identifies, without a session).

mod resilience;

use resilience::*;
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, RecordKind, Simulator};
use syncord::{Event, Intents};

/// Starts a shard, waits for its session and for `count` messages; returns the shard, its
/// events, the session id and the last seq delivered.
fn started(
    sim: &Simulator,
    config: syncord::Config,
    count: u64,
) -> (syncord::ShardThread, Events, String, u64) {
    let (thread, mut events, session) = spawn_session(sim, config);
    events.wait_dispatch("READY");
    let mut last = 1;
    if count > 0 {
        let seqs = push_messages_and_wait(sim, &mut events, 0, count, "the pushed messages");
        last = *seqs.last().unwrap();
    }
    (thread, events, session, last)
}

/// Asserts the `n`th connection resumed `session` from `seq` on the resume URL.
fn assert_resumed_on(sim: &Simulator, n: usize, session: &str, seq: u64) {
    let conn = wait_connection(sim, n);
    assert_eq!(
        conn.path, "/resume",
        "connection #{n} goes to the resume URL"
    );
    let resume = sim
        .wait_for(TIMEOUT, |r| r.connection == conn.id && r.op() == Some(6))
        .expect("a Resume on the new connection");
    assert_eq!(resume_fields(&resume), (session.to_owned(), seq));
    assert!(received_on(sim, conn.id, 2).is_empty(), "no Identify");
}

#[test]
fn a_zombie_connection_is_detected_within_two_heartbeat_intervals_and_resumed() {
    let interval = Duration::from_millis(250);
    let sim = sim_with_interval(interval);
    let (thread, mut events, session, seq) = started(
        &sim,
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
        2,
    );
    let first = wait_connection(&sim, 1);
    // A few heartbeats are answered first.
    wait_received(&sim, 1, 2);

    let acks_off_at = Instant::now();
    sim.set_acks(false);
    let (code, closed_at) = wait_client_close(&sim, first.id);
    sim.set_acks(true);
    assert!(closed_at > acks_off_at, "closed while ACKs still flowed");
    assert!(
        !matches!(code, Some(1000 | 1001)),
        "a zombie is closed with a code that keeps the session: {code:?}"
    );
    let last_acked = sim
        .received(1)
        .into_iter()
        .rev()
        .find(|r| r.connection == first.id && r.at < acks_off_at)
        .expect("a heartbeat before the ACKs stopped");
    let detected_after = closed_at.duration_since(last_acked.at);
    assert!(
        detected_after <= 2 * interval + Duration::from_millis(200),
        "zombie detected {detected_after:?} after the last ACK; the limit is two intervals ({:?})",
        2 * interval
    );
    let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
    match &disconnected {
        Event::Disconnected { code: None, reason } => {
            assert!(reason.contains("zombie"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    events.wait_dispatch("RESUMED");
    assert_resumed_on(&sim, 2, &session, seq);
    // Exactly one reconnect for one zombie.
    let more = events.wait_within(
        Duration::from_millis(3 * interval.as_millis() as u64),
        |e| matches!(e, Event::Connecting { .. }),
    );
    assert!(more.is_none(), "a second reconnect: {:#?}", events.seen());
    assert_eq!(connections(&sim).len(), 2);
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

#[test]
fn any_frame_not_only_an_ack_keeps_a_connection_alive() {
    let interval = Duration::from_millis(200);
    let sim = sim_with_interval(interval);
    let (thread, mut events, _, _) = started(
        &sim,
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
        0,
    );
    let first = wait_connection(&sim, 1);
    wait_received(&sim, 1, 1);
    sim.set_acks(false);
    // Dispatches keep arriving (as they would ahead of an ACK stuck behind a flood of
    // GUILD_CREATEs): for ten intervals the connection must not be declared dead.
    let flood_until = Instant::now() + 10 * interval;
    let mut n = 0;
    while Instant::now() < flood_until {
        push_messages(&sim, n, 1);
        n += 1;
        std::thread::sleep(interval / 5); // the scenario's pacing, not synchronisation
    }
    let beats_without_ack = received_on(&sim, first.id, 1).len();
    assert!(
        beats_without_ack >= 5,
        "heartbeats went on: {beats_without_ack}"
    );
    assert!(
        !sim.records()
            .iter()
            .any(|r| matches!(r.kind, RecordKind::ClosedByClient { .. })),
        "the client gave up on a connection that kept delivering: {:#?}",
        events.seen()
    );
    assert_eq!(events.count(|e| matches!(e, Event::Disconnected { .. })), 0);
    // Once everything goes quiet the connection is a zombie.
    let (_, closed_at) = wait_client_close(&sim, first.id);
    let last_push = flood_until;
    assert!(
        closed_at.duration_since(last_push) <= 2 * interval + Duration::from_millis(400),
        "zombie detected {:?} after the last frame",
        closed_at.duration_since(last_push)
    );
    sim.set_acks(true);
    events.wait_dispatch("RESUMED");
    thread.shutdown().unwrap();
    events.drain();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

/// Starts a session with three messages, ends its TCP connection without a close frame
/// with `drop` and checks the shard resumes it: a Disconnected without a code, a Resume
/// with the last seq on the resume URL, live messages after it, every seq exactly once.
/// Returns the simulator and the shard's events, after the shutdown.
fn resumes_after_a_tcp_drop(drop: impl FnOnce(&Simulator) -> bool) -> (Simulator, Events) {
    let sim = sim();
    let (thread, mut events, session, seq) = started(
        &sim,
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
        3,
    );
    assert!(drop(&sim));
    let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
    assert!(
        matches!(disconnected, Event::Disconnected { code: None, .. }),
        "{disconnected:?}"
    );
    events.wait_dispatch("RESUMED");
    assert_resumed_on(&sim, 2, &session, seq);
    push_messages_and_wait(&sim, &mut events, 3, 2, "messages after the resume");
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
    (sim, events)
}

#[test]
fn a_tcp_drop_without_a_close_frame_resumes() {
    let (sim, _) = resumes_after_a_tcp_drop(Simulator::drop_connection);
    assert_eq!(sim.received(2).len(), 1);
}

#[test]
fn a_tcp_drop_in_the_middle_of_a_frame_resumes() {
    let (_, events) = resumes_after_a_tcp_drop(Simulator::drop_mid_frame);
    // The partial frame was not delivered as anything.
    assert_eq!(events.count(|e| matches!(e, Event::SequenceGap { .. })), 0);
}

#[test]
fn no_hello_times_out_and_the_next_connection_identifies() {
    let sim = sim();
    let hello_timeout = Duration::from_millis(400);
    sim.fault_next(ConnectionFault::NoHello, 1);
    let config = sim
        .client_config(Intents::non_privileged())
        .hello_timeout(hello_timeout)
        .backoff(quick_backoff())
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
    match &disconnected {
        Event::Disconnected { reason, .. } => assert!(reason.contains("Hello"), "{reason}"),
        _ => unreachable!(),
    }
    events.wait_dispatch("READY");
    let first = wait_connection(&sim, 1);
    let (code, closed_at) = wait_client_close(&sim, first.id);
    assert!(!matches!(code, Some(1000 | 1001)), "{code:?}");
    let waited = closed_at.duration_since(first.at);
    assert!(
        waited >= hello_timeout,
        "gave up after {waited:?}, before the Hello timeout"
    );
    assert!(
        waited <= hello_timeout + Duration::from_millis(800),
        "gave up only {waited:?} after connecting"
    );
    assert!(
        sim.records()
            .iter()
            .filter(|r| r.connection == first.id)
            .all(|r| r.op().is_none()),
        "nothing may be sent before Hello"
    );
    let second = wait_connection(&sim, 2);
    assert_eq!(second.path, "/");
    assert_eq!(received_on(&sim, second.id, 2).len(), 1);
    thread.shutdown().unwrap();
}

#[test]
fn no_hello_on_the_resume_url_times_out_and_the_next_attempt_resumes() {
    let sim = sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .hello_timeout(Duration::from_millis(400))
        .backoff(quick_backoff())
        .build()
        .expect("valid config");
    let (thread, mut events, session, seq) = started(&sim, config, 2);
    sim.fault_next(ConnectionFault::NoHello, 1);
    assert!(sim.reconnect());
    events.wait_dispatch("RESUMED");
    let silent = wait_connection(&sim, 2);
    assert_eq!(silent.path, "/resume");
    assert!(received_on(&sim, silent.id, 6).is_empty());
    let (code, _) = wait_client_close(&sim, silent.id);
    assert!(!matches!(code, Some(1000 | 1001)), "{code:?}");
    assert_resumed_on(&sim, 3, &session, seq);
    assert_eq!(sim.received(2).len(), 1);
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

#[test]
fn a_hello_delayed_within_the_timeout_is_accepted() {
    let sim = sim();
    let delay = Duration::from_millis(500);
    sim.fault_next(ConnectionFault::DelayHello(delay), 1);
    let config = sim
        .client_config(Intents::non_privileged())
        .hello_timeout(Duration::from_secs(5))
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    events.wait_dispatch("READY");
    let first = wait_connection(&sim, 1);
    let identify = wait_received(&sim, 2, 1);
    assert_eq!(identify.connection, first.id);
    assert!(identify.at.duration_since(first.at) >= delay);
    assert_eq!(connections(&sim).len(), 1, "no reconnect");
    assert_eq!(events.count(|e| matches!(e, Event::Disconnected { .. })), 0);
    thread.shutdown().unwrap();
}

#[test]
fn op7_before_hello_reconnects_at_once() {
    let sim = sim();
    sim.fault_next(ConnectionFault::NoHello, 1);
    let (thread, mut events) = spawn(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    let first = wait_connection(&sim, 1);
    events.wait("Connected", |e| matches!(e, Event::Connected));
    assert!(
        sim.reconnect(),
        "op 7 sent on the connection that has no Hello yet"
    );
    let reconnecting = events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    assert!(
        matches!(reconnecting, Event::Reconnecting { delay, .. } if delay.is_zero()),
        "{reconnecting:?}"
    );
    events.wait_dispatch("READY");
    let second = wait_connection(&sim, 2);
    // Without a session, the reconnect identifies on the gateway URL.
    assert_eq!(second.path, "/");
    assert_eq!(received_on(&sim, second.id, 2).len(), 1);
    assert!(received_on(&sim, first.id, 2).is_empty());
    assert!(
        second.at.duration_since(first.at) < Duration::from_secs(5),
        "reconnected on op 7, not after the 20 s Hello timeout"
    );
    thread.shutdown().unwrap();
}

/// A gateway that says Hello and then never answers Identify or Resume: each accepted
/// connection reports `(connection number, opcode)` of what the client sent.
fn gateway_that_never_answers() -> (String, crossbeam_channel::Receiver<(usize, u64, Instant)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                let Ok(mut ws) = tungstenite::accept(stream) else {
                    return;
                };
                let hello = r#"{"op":10,"d":{"heartbeat_interval":30000},"s":null,"t":null}"#;
                if ws.send(tungstenite::Message::text(hello)).is_err() {
                    return;
                }
                while let Ok(message) = ws.read() {
                    if let tungstenite::Message::Text(text) = message {
                        let value: serde_json::Value =
                            serde_json::from_str(&text).unwrap_or_default();
                        let op = value["op"].as_u64().unwrap_or(u64::MAX);
                        if tx.send((n + 1, op, Instant::now())).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, rx)
}

/// The next Identify (2) or Resume (6) the never-answering gateway received.
fn next_session_payload(
    rx: &crossbeam_channel::Receiver<(usize, u64, Instant)>,
) -> (usize, u64, Instant) {
    loop {
        let got = rx.recv_timeout(TIMEOUT).expect("a payload");
        if got.1 == 2 || got.1 == 6 {
            return got;
        }
    }
}

#[test]
fn no_ready_after_identify_times_out_and_identifies_again() {
    let (url, received) = gateway_that_never_answers();
    let ready_timeout = Duration::from_millis(400);
    let config = syncord::Config::builder("token", Intents::non_privileged())
        .gateway_url(url)
        .compression(syncord::Compression::None)
        .ready_timeout(ready_timeout)
        .backoff(quick_backoff())
        // A test server: no 5 s identify window to wait for.
        .identify_queue(std::sync::Arc::new(
            syncord::cluster::LocalQueue::new(1).window(Duration::ZERO),
        ))
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let (first_conn, op, identified_at) = next_session_payload(&received);
    assert_eq!((first_conn, op), (1, 2));
    let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
    match &disconnected {
        Event::Disconnected { reason, .. } => assert!(reason.contains("READY"), "{reason}"),
        _ => unreachable!(),
    }
    let (second_conn, op, again_at) = next_session_payload(&received);
    assert_eq!(
        (second_conn, op),
        (2, 2),
        "a new connection identifies again"
    );
    let waited = again_at.duration_since(identified_at);
    assert!(waited >= ready_timeout, "gave up after {waited:?}");
    assert!(
        waited <= ready_timeout + Duration::from_millis(800),
        "gave up only after {waited:?}"
    );
    thread.shutdown().unwrap();
}

#[test]
fn no_resumed_after_resume_times_out_and_resumes_again() {
    let (url, received) = gateway_that_never_answers();
    let ready_timeout = Duration::from_millis(400);
    let config = syncord::Config::builder("token", Intents::non_privileged())
        .gateway_url(url.clone())
        .compression(syncord::Compression::None)
        .ready_timeout(ready_timeout)
        .backoff(quick_backoff())
        .session(syncord::Session {
            id: "kept".into(),
            seq: 9,
            resume_url: url,
        })
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let (first_conn, op, resumed_at) = next_session_payload(&received);
    assert_eq!((first_conn, op), (1, 6));
    let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
    match &disconnected {
        Event::Disconnected { reason, .. } => assert!(reason.contains("RESUMED"), "{reason}"),
        _ => unreachable!(),
    }
    let (second_conn, op, again_at) = next_session_payload(&received);
    assert_eq!(
        (second_conn, op),
        (2, 6),
        "a dead resume is retried as a resume"
    );
    assert!(again_at.duration_since(resumed_at) >= ready_timeout);
    thread.shutdown().unwrap();
}
