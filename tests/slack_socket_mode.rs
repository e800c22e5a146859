//! The Socket Mode client against the Slack simulator, over real loopback sockets: acks on
//! receipt, nothing lost or twice, make-before-break refreshes, the disconnect reasons,
//! liveness, responding handlers, fatal errors and backoff.

#![cfg(all(feature = "slack", feature = "sim"))]

mod resilience;

use crossbeam_channel::{unbounded, Receiver};
use std::time::{Duration, Instant};
use syncord::sim::slack::{payload, ConnId, SlackRecordKind, SlackSim, SlackSimConfig};
use syncord::slack::{
    Envelope, RespondError, SlackConfig, SlackConfigBuilder, SlackEvent, SlackThread, SocketMode,
};
use syncord::Backoff;

const TIMEOUT: Duration = Duration::from_secs(10);

fn config(sim: &SlackSim) -> SlackConfigBuilder {
    SlackConfig::builder(sim.app_token())
        .api_base(sim.api_base())
        .backoff(Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            reset_after: Duration::ZERO,
        })
        .too_many_websockets_wait(Duration::from_millis(300))
}

fn spawn(client: SocketMode) -> (SlackThread, Receiver<SlackEvent>) {
    let (tx, rx) = unbounded();
    let thread = client
        .spawn(move |event| {
            let _ = tx.send(event);
        })
        .expect("the client thread starts");
    (thread, rx)
}

fn start(sim: &SlackSim) -> (SlackThread, Receiver<SlackEvent>) {
    spawn(SocketMode::new(
        config(sim).build().expect("a valid config"),
    ))
}

/// The next event that `pick` accepts (others are skipped); panics after the timeout.
fn wait_for<T>(events: &Receiver<SlackEvent>, pick: impl FnMut(SlackEvent) -> Option<T>) -> T {
    resilience::pick_within(events, TIMEOUT, pick)
}

fn hello(events: &Receiver<SlackEvent>) -> u32 {
    wait_for(events, |e| match e {
        SlackEvent::Hello {
            num_connections, ..
        } => Some(num_connections),
        _ => None,
    })
}

fn envelope(events: &Receiver<SlackEvent>) -> Envelope {
    wait_for(events, |e| match e {
        SlackEvent::Envelope(envelope) => Some(envelope),
        _ => None,
    })
}

fn text_of(envelope: &Envelope) -> String {
    let value: serde_json::Value = envelope.parse().expect("the payload is JSON");
    value["event"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The one open connection, once the simulator has seen any replaced one end.
fn only_connection(sim: &SlackSim) -> ConnId {
    sim.wait_for_exactly(1, TIMEOUT);
    let open = sim.open_connections();
    assert_eq!(open.len(), 1, "{:?}", sim.connections());
    open[0]
}

#[test]
fn envelopes_are_acknowledged_on_receipt_even_while_the_handler_is_blocked() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (gate_tx, gate) = unbounded::<()>();
    let (tx, events) = unbounded();
    let client = SocketMode::new(config(&sim).build().unwrap());
    let thread = client
        .spawn(move |event| {
            let blocks = matches!(event, SlackEvent::Envelope(_));
            let _ = tx.send(event);
            if blocks {
                // The handler is stuck on the first envelope until the test lets it go.
                let _ = gate.recv_timeout(TIMEOUT);
            }
        })
        .unwrap();
    hello(&events);
    let pushed: Vec<_> = (0..5)
        .map(|i| sim.push_events_api(&payload::message_event("C1", "U1", &format!("m{i}"))))
        .collect();
    // All five are acknowledged while the handler still holds the first.
    assert!(sim.wait_for_acks(5, TIMEOUT), "{:?}", sim.acks());
    let acked: Vec<String> = sim.acks().into_iter().map(|a| a.envelope_id).collect();
    let expected: Vec<String> = pushed.iter().map(|p| p.envelope_id.clone()).collect();
    assert_eq!(acked, expected, "one ack per envelope, in arrival order");
    assert!(sim.acks().iter().all(|a| a.payload.is_none()));
    for _ in 0..5 {
        gate_tx.send(()).unwrap();
    }
    let texts: Vec<String> = (0..5).map(|_| text_of(&envelope(&events))).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);
    thread.shutdown().unwrap();
}

#[test]
fn hello_comes_first_and_carries_the_connection_count() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (thread, events) = start(&sim);
    let first = wait_for(&events, |e| match e {
        SlackEvent::Connecting { attempt } => Some(attempt),
        _ => None,
    });
    assert_eq!(first, 0);
    assert!(matches!(
        events.recv_timeout(TIMEOUT).unwrap(),
        SlackEvent::Connected
    ));
    assert!(matches!(
        events.recv_timeout(TIMEOUT).unwrap(),
        SlackEvent::Hello {
            num_connections: 1,
            host: Some(_),
            ..
        }
    ));
    assert_eq!(sim.open_requests(), 1);
    thread.shutdown().unwrap();
}

#[test]
fn duplicates_are_dropped_but_acknowledged() {
    let sim = SlackSim::start(SlackSimConfig::default().duplicate_delay(Duration::from_millis(50)))
        .unwrap();
    let (thread, events) = start(&sim);
    hello(&events);
    sim.duplicate_next(1);
    let first = sim.push_events_api(&payload::message_event("C1", "U1", "once"));
    // The copy (same envelope id, retry_attempt 0) is acknowledged too...
    assert!(sim.wait_for_acks(2, TIMEOUT), "{:?}", sim.acks());
    assert!(sim
        .acks()
        .iter()
        .all(|a| a.envelope_id == first.envelope_id));
    // ...but delivered once: the next envelope is the one pushed after it.
    sim.push_events_api(&payload::message_event("C1", "U1", "after"));
    assert_eq!(text_of(&envelope(&events)), "once");
    assert_eq!(text_of(&envelope(&events)), "after");
    thread.shutdown().unwrap();
}

#[test]
fn an_envelope_lost_with_its_connection_comes_back_as_a_retry_and_is_delivered() {
    let sim = SlackSim::start(
        SlackSimConfig::default()
            .ack_deadline(Duration::from_millis(200))
            .retry_schedule(vec![Duration::from_millis(20); 3]),
    )
    .unwrap();
    let (thread, events) = start(&sim);
    hello(&events);
    let conn = only_connection(&sim);
    let lost = sim
        .drop_mid_frame(conn)
        .expect("half an envelope went out, then TCP dropped");
    // The client reconnects; Slack retries the unacknowledged event on the new connection.
    let retried = envelope(&events);
    assert_eq!(retried.event_id(), Some(lost.event_id.as_str()));
    assert!(retried.retry_attempt() >= 1);
    assert_eq!(retried.retry_reason(), Some("timeout"));
    assert!(sim
        .wait_for_record(TIMEOUT, |r| matches!(
            &r.kind,
            SlackRecordKind::Ack { envelope_id, .. } if *envelope_id == retried.envelope_id()
        ))
        .is_some());
    thread.shutdown().unwrap();
}

/// A refresh (`refresh_requested` or `warning`): the new connection says hello before the
/// old one closes, and every envelope of both arrives once.
fn refresh_is_make_before_break(reason: &str) {
    let sim = SlackSim::start(
        SlackSimConfig::default()
            .refresh_close_after(Duration::from_secs(30))
            .warning_close_after(Duration::from_secs(30)),
    )
    .unwrap();
    let (thread, events) = start(&sim);
    hello(&events);
    let old = only_connection(&sim);
    for i in 0..3 {
        sim.push_events_api_to(old, &payload::message_event("C", "U", &format!("old{i}")));
    }
    assert!(sim.disconnect(old, reason));
    let mut seen = Vec::new();
    let mut order = Vec::new();
    wait_for(&events, |e| {
        match e {
            SlackEvent::Envelope(envelope) => seen.push(text_of(&envelope)),
            SlackEvent::Disconnect { reason } => order.push(format!("disconnect {reason}")),
            SlackEvent::Hello { .. } => order.push("hello".to_owned()),
            SlackEvent::Disconnected { reason, .. } => {
                order.push(format!("disconnected {reason}"));
                return Some(());
            }
            _ => {}
        }
        None
    });
    assert_eq!(
        order,
        [
            format!("disconnect {reason}"),
            "hello".to_owned(),
            "disconnected replaced by a new connection".to_owned()
        ]
    );
    // The old connection was closed by the client (close 1000), not by Slack.
    assert!(sim
        .wait_for_record(TIMEOUT, |r| r.conn == Some(old)
            && matches!(r.kind, SlackRecordKind::ClosedByClient { code: Some(1000) }))
        .is_some());
    let new = only_connection(&sim);
    assert_ne!(new, old);
    for i in 0..3 {
        sim.push_events_api(&payload::message_event("C", "U", &format!("new{i}")));
    }
    while seen.len() < 6 {
        seen.push(text_of(&envelope(&events)));
    }
    assert_eq!(seen, ["old0", "old1", "old2", "new0", "new1", "new2"]);
    assert_eq!(sim.open_requests(), 2, "one fresh URL per connection");
    thread.shutdown().unwrap();
}

#[test]
fn refresh_requested_replaces_the_connection_make_before_break() {
    refresh_is_make_before_break("refresh_requested");
}

#[test]
fn warning_replaces_the_connection_make_before_break() {
    refresh_is_make_before_break("warning");
}

#[test]
fn too_many_websockets_closes_first_then_waits() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (thread, events) = start(&sim);
    hello(&events);
    let conn = only_connection(&sim);
    sim.disconnect(conn, "too_many_websockets");
    let delay = wait_for(&events, |e| match e {
        SlackEvent::Reconnecting { delay, .. } => Some(delay),
        _ => None,
    });
    assert!(delay >= Duration::from_millis(300), "{delay:?}");
    // Closed before anything else was opened.
    assert_eq!(sim.open_requests(), 1);
    hello(&events);
    assert_eq!(sim.open_requests(), 2);
    let records = sim.records();
    let closed = records
        .iter()
        .position(|r| {
            r.conn == Some(conn)
                && matches!(
                    r.kind,
                    SlackRecordKind::ClosedByClient { .. }
                        | SlackRecordKind::ClosedByServer { .. }
                        | SlackRecordKind::TcpClosed
                )
        })
        .expect("the connection closed");
    let reopened = records
        .iter()
        .rposition(|r| matches!(&r.kind, SlackRecordKind::Http { path, .. } if path.contains("apps.connections.open")))
        .expect("a second open");
    assert!(closed < reopened, "closed first, then opened: {records:?}");
    thread.shutdown().unwrap();
}

#[test]
fn link_disabled_stops_the_client_with_advice() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (thread, events) = start(&sim);
    hello(&events);
    sim.set_socket_mode_enabled(false);
    let error = thread.join().expect_err("the client stops");
    let text = error.to_string();
    assert!(
        text.contains("link_disabled") && text.contains("Socket Mode"),
        "{text}"
    );
    assert!(error.is_fatal());
}

#[test]
fn a_refused_token_stops_at_once_and_says_what_to_fix() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let client = SocketMode::new(
        SlackConfig::builder("xoxb-a-bot-token")
            .api_base(sim.api_base())
            .build()
            .unwrap(),
    );
    let (thread, _events) = spawn(client);
    let text = thread.join().expect_err("refused").to_string();
    assert!(
        text.contains("not_allowed_token_type") && text.contains("xapp-"),
        "{text}"
    );
    assert!(!text.contains("xoxb-a-bot-token"), "{text}");
    assert_eq!(sim.open_requests(), 1, "not retried");
}

#[test]
fn a_rate_limited_open_waits_at_least_retry_after() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    sim.rate_limit_next_open(Duration::from_secs(1));
    let (thread, events) = start(&sim);
    let delay = wait_for(&events, |e| match e {
        SlackEvent::Reconnecting { delay, .. } => Some(delay),
        _ => None,
    });
    assert!(delay >= Duration::from_secs(1), "{delay:?}");
    hello(&events);
    assert_eq!(sim.open_requests(), 2);
    thread.shutdown().unwrap();
}

#[test]
fn transient_open_errors_are_retried_with_backoff() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    sim.fail_next_open("internal_error");
    let (thread, events) = start(&sim);
    let message = wait_for(&events, |e| match e {
        SlackEvent::Error { message, .. } => Some(message),
        _ => None,
    });
    assert!(message.contains("internal_error"), "{message}");
    let attempt = wait_for(&events, |e| match e {
        SlackEvent::Connecting { attempt } => Some(attempt),
        _ => None,
    });
    assert_eq!(attempt, 1);
    hello(&events);
    thread.shutdown().unwrap();
}

#[test]
fn a_silent_connection_is_detected_and_replaced() {
    let sim =
        SlackSim::start(SlackSimConfig::default().ping_interval(Duration::from_secs(60))).unwrap();
    let client = SocketMode::new(
        config(&sim)
            .ping_interval(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    let (thread, events) = spawn(client);
    hello(&events);
    let conn = only_connection(&sim);
    let went_silent = Instant::now();
    sim.go_silent(conn);
    let reason = wait_for(&events, |e| match e {
        SlackEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    });
    assert!(reason.contains("zombie"), "{reason}");
    // Three silent intervals, not one: a tolerant deadline.
    assert!(
        went_silent.elapsed() >= Duration::from_millis(200),
        "{reason}"
    );
    hello(&events);
    assert_ne!(only_connection(&sim), conn);
    thread.shutdown().unwrap();
}

#[test]
fn client_pings_are_answered_and_measured_and_slacks_pings_get_pongs() {
    let sim = SlackSim::start(SlackSimConfig::default().ping_interval(Duration::from_millis(50)))
        .unwrap();
    let client = SocketMode::new(
        config(&sim)
            .ping_interval(Duration::from_millis(50))
            .build()
            .unwrap(),
    );
    let (thread, events) = spawn(client);
    hello(&events);
    let deadline = Instant::now() + TIMEOUT;
    while thread.handle().latency().acks_received() < 2 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let latency = thread.handle().latency();
    assert!(latency.acks_received() >= 2, "{latency:?}");
    assert!(latency.recent().is_some());
    assert!(sim
        .wait_for_record(TIMEOUT, |r| matches!(r.kind, SlackRecordKind::Ping { .. }))
        .is_some());
    // The simulator's own pings ("Ping from <host>") come back as pongs echoing them.
    let pong = sim
        .wait_for_record(TIMEOUT, |r| matches!(r.kind, SlackRecordKind::Pong { .. }))
        .expect("a pong to the simulator's ping");
    let SlackRecordKind::Pong { payload } = pong.kind else {
        unreachable!()
    };
    assert!(String::from_utf8_lossy(&payload).starts_with("Ping from"));
    thread.shutdown().unwrap();
}

fn responding_client(sim: &SlackSim, deadline: Duration) -> SocketMode {
    let mut client = SocketMode::new(config(sim).response_deadline(deadline).build().unwrap());
    client.hold_acks_for(|envelope| envelope.kind() == "slash_commands");
    client
}

#[test]
fn a_responding_handler_answers_in_the_acknowledgement() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (thread, events) = spawn(responding_client(&sim, Duration::from_secs(2)));
    hello(&events);
    let id = sim.push_envelope(
        "slash_commands",
        &payload::slash_command("/ping", "now"),
        true,
    );
    let held = envelope(&events);
    assert_eq!(held.envelope_id(), id);
    assert!(sim.acks().is_empty(), "held for the handler");
    thread
        .handle()
        .respond(&id, r#"{"text":"pong"}"#)
        .expect("in time");
    assert!(sim.wait_for_acks(1, TIMEOUT));
    let ack = &sim.acks()[0];
    assert_eq!(ack.envelope_id, id);
    assert_eq!(ack.payload, Some(serde_json::json!({"text": "pong"})));
    assert_eq!(
        thread.handle().respond(&id, r#"{"text":"again"}"#),
        Err(RespondError::AlreadyAcknowledged)
    );
    // Events are not held: acknowledged on receipt.
    sim.push_events_api(&payload::message_event("C", "U", "x"));
    assert!(sim.wait_for_acks(2, TIMEOUT));
    thread.shutdown().unwrap();
}

#[test]
fn without_a_response_the_plain_acknowledgement_goes_at_the_deadline() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let deadline = Duration::from_millis(200);
    let (thread, events) = spawn(responding_client(&sim, deadline));
    hello(&events);
    let pushed = Instant::now();
    let id = sim.push_envelope("slash_commands", &payload::slash_command("/slow", ""), true);
    envelope(&events);
    assert!(sim.wait_for_acks(1, TIMEOUT));
    let ack = &sim.acks()[0];
    assert!(
        ack.at.duration_since(pushed) >= deadline,
        "not before the deadline"
    );
    assert_eq!(
        (ack.envelope_id.as_str(), &ack.payload),
        (id.as_str(), &None)
    );
    assert_eq!(
        thread.handle().respond(&id, r#"{"text":"late"}"#),
        Err(RespondError::AlreadyAcknowledged)
    );
    thread.shutdown().unwrap();
}

#[test]
fn an_oversized_response_is_refused_before_sending() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (thread, events) = spawn(responding_client(&sim, Duration::from_millis(300)));
    hello(&events);
    let id = sim.push_envelope("slash_commands", &payload::slash_command("/big", ""), true);
    envelope(&events);
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(21 * 1024));
    assert!(matches!(
        thread.handle().respond(&id, &big),
        Err(RespondError::TooLarge(n)) if n > 20 * 1024
    ));
    assert!(matches!(
        thread.handle().respond(&id, "[1]"),
        Err(RespondError::NotJson(_))
    ));
    // The plain acknowledgement still goes, and the connection stays up (no 1009).
    assert!(sim.wait_for_acks(1, TIMEOUT));
    assert_eq!(sim.acks()[0].payload, None);
    assert!(!sim
        .records()
        .iter()
        .any(|r| matches!(r.kind, SlackRecordKind::OversizedFrame { .. })));
    assert_eq!(sim.open_connections().len(), 1);
    thread.shutdown().unwrap();
}

#[test]
fn shutdown_closes_with_1000_and_returns_promptly() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let (thread, events) = start(&sim);
    hello(&events);
    let conn = only_connection(&sim);
    let asked = Instant::now();
    thread.shutdown().unwrap();
    // Slack leaves TCP open after the closing handshake: the client does not wait for it.
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    assert!(sim
        .wait_for_record(TIMEOUT, |r| r.conn == Some(conn)
            && matches!(r.kind, SlackRecordKind::ClosedByClient { code: Some(1000) }))
        .is_some());
}

#[test]
fn the_dispatcher_routes_typed_events_and_its_responders_answer_in_the_acknowledgement() {
    use syncord::slack::model::{MessageEvent, SlashCommand};
    use syncord::slack::SlackDispatcher;
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let dispatcher = SlackDispatcher::new();
    let (tx, texts) = unbounded();
    dispatcher.on::<MessageEvent>(move |ctx, message| {
        let _ = tx.send((message.text.to_string(), ctx.event_id().map(str::to_owned)));
    });
    dispatcher.respond::<SlashCommand>(|_ctx, command| {
        Some(serde_json::json!({ "text": format!("echo {}", command.text) }))
    });
    let handle = {
        let mut client = SocketMode::new(config(&sim).build().unwrap());
        let handle = client.handle();
        let d = dispatcher.clone();
        let thread = std::thread::spawn(move || d.run(&mut client));
        (handle, thread)
    };
    assert!(sim.wait_for_connections(1, TIMEOUT));
    let pushed = sim.push_events_api(&payload::message_event("C", "U", "line one\n\"two\" 🎉"));
    let (text, event_id) = texts.recv_timeout(TIMEOUT).expect("the typed handler ran");
    assert_eq!(text, "line one\n\"two\" 🎉");
    assert_eq!(event_id.as_deref(), Some(pushed.event_id.as_str()));
    let id = sim.push_envelope(
        "slash_commands",
        &payload::slash_command("/echo", "hi"),
        true,
    );
    assert!(sim.wait_for_acks(2, TIMEOUT));
    let ack = sim
        .acks()
        .into_iter()
        .find(|a| a.envelope_id == id)
        .expect("the command was acknowledged");
    assert_eq!(ack.payload, Some(serde_json::json!({"text": "echo hi"})));
    handle.0.shutdown();
    handle.1.join().unwrap().unwrap();
}
