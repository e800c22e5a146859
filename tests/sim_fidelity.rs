//! The simulator behaves like Discord where two independent clients (twilight-gateway and
//! @discordjs/ws) found it did not (issue 16), checked frame by frame with a raw tungstenite
//! client, and with our own `Shard` where that is natural.

mod raw_client;

use raw_client::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, RecordKind, SimConfig, Simulator};
use syncord::{Event, Intents};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

/// A simulator without an identify window: these rows are about one session's protocol,
/// and the raw clients here identify again at once (spacing: tests/sim_limits.rs).
fn sim_config() -> SimConfig {
    SimConfig::default().identify_window(Duration::ZERO)
}

fn sim() -> Simulator {
    Simulator::start(sim_config()).expect("simulator starts")
}

fn seq_of(payload: &Value) -> Option<u64> {
    payload["s"].as_u64()
}

/// Waits for the record of connection `conn` that `pred` picks.
fn wait_record(
    sim: &Simulator,
    conn: u64,
    what: &str,
    pred: impl Fn(&RecordKind) -> bool,
) -> RecordKind {
    sim.wait_for(TIMEOUT, |r| r.connection == conn && pred(&r.kind))
        .unwrap_or_else(|| panic!("no {what} on connection {conn}: {:#?}", sim.records()))
        .kind
}

/// Runs our `Shard` against `sim` on its own thread, forwarding its events.
fn spawn_shard(sim: &Simulator) -> (syncord::ShardThread, crossbeam_channel::Receiver<Event>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let thread = syncord::Shard::with_config(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    )
    .spawn(move |event| {
        let _ = tx.send(event);
    })
    .expect("the shard thread starts");
    (thread, rx)
}

/// The number of the newest websocket connection.
fn last_connection(sim: &Simulator) -> u64 {
    sim.records()
        .iter()
        .rev()
        .find(|r| matches!(r.kind, RecordKind::Connected { .. }))
        .map(|r| r.connection)
        .expect("a websocket connection")
}

// ---- 1. After op 9 the connection is no longer authenticated -------------------------

#[test]
fn resume_on_the_same_socket_after_op9_true_replays_what_was_held_back() {
    let sim = sim();
    let (mut ws, session_id) = identified(&sim);
    let s = sim.push("MESSAGE_CREATE", r#"{"n":0}"#).expect("a session");
    assert_eq!(seq_of(&read_dispatch(&mut ws, "MESSAGE_CREATE")), Some(s));

    assert!(sim.invalidate_session(true));
    let op9 = read_json(&mut ws);
    assert_eq!(
        (op9["op"].clone(), op9["d"].clone()),
        (json!(9), json!(true))
    );
    // Pushed while the session has no authenticated connection: held for the resume, not
    // streamed on this socket.
    let held = [
        sim.push("MESSAGE_CREATE", r#"{"n":1}"#)
            .expect("the session is kept"),
        sim.push("MESSAGE_CREATE", r#"{"n":2}"#)
            .expect("the session is kept"),
    ];

    // What @discordjs/ws does: Resume on the same socket.
    send(&mut ws, &resume_payload(&sim, &session_id, s));
    let replay: Vec<Value> = (0..3).map(|_| read_json(&mut ws)).collect();
    let seqs: Vec<_> = replay.iter().map(seq_of).collect();
    assert_eq!(
        seqs,
        [Some(held[0]), Some(held[1]), Some(held[1] + 1)],
        "each held event exactly once, then RESUMED: {replay:?}"
    );
    assert_eq!(replay[2]["t"], json!("RESUMED"));
    assert!(
        !sim.records()
            .iter()
            .any(|r| matches!(r.kind, RecordKind::ClosedByServer { .. })),
        "no 4005: {:#?}",
        sim.records()
    );
    assert_eq!(sim.wait_for_session(TIMEOUT), Some(session_id));
}

#[test]
fn identify_on_the_same_socket_after_op9_false_starts_a_new_session() {
    let sim = sim();
    let (mut ws, old_session) = identified(&sim);
    assert!(sim.invalidate_session(false));
    let op9 = read_json(&mut ws);
    assert_eq!(
        (op9["op"].clone(), op9["d"].clone()),
        (json!(9), json!(false))
    );

    send(&mut ws, &identify_payload(&sim, 1));
    let ready = read_dispatch(&mut ws, "READY");
    assert_eq!(seq_of(&ready), Some(1), "a new session starts at s = 1");
    let new_session = ready["d"]["session_id"].as_str().expect("session_id");
    assert_ne!(new_session, old_session);
}

#[test]
fn identify_on_the_same_socket_after_op9_true_is_accepted() {
    let sim = sim();
    let (mut ws, _) = identified(&sim);
    assert!(sim.invalidate_session(true));
    assert_eq!(read_json(&mut ws)["op"], json!(9));
    send(&mut ws, &identify_payload(&sim, 1));
    assert_eq!(seq_of(&read_dispatch(&mut ws, "READY")), Some(1));
}

#[test]
fn commands_after_op9_are_not_authenticated() {
    let sim = sim();
    let (mut ws, _) = identified(&sim);
    assert!(sim.invalidate_session(true));
    assert_eq!(read_json(&mut ws)["op"], json!(9));
    send(
        &mut ws,
        &json!({"op": 3, "d": {"since": null, "activities": [], "status": "online", "afk": false}}),
    );
    let (_, frame) = read_until_close(&mut ws);
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(4003));
}

// ---- 2. The client's echo of a server close keeps the session --------------------------

fn echo_of_server_close_keeps_the_session(code: u16) {
    let sim = sim();
    let (mut ws, session_id) = identified(&sim);
    let conn = last_connection(&sim);
    assert!(sim.close(code));
    let (_, frame) = read_until_close(&mut ws);
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(code));
    // tungstenite echoes the frame with the same code, as RFC 6455 §5.5.1 asks.
    finish_close(&mut ws);
    assert_eq!(
        wait_record(&sim, conn, "close echo", |k| matches!(
            k,
            RecordKind::CloseEchoed { .. }
        )),
        RecordKind::CloseEchoed { code: Some(code) }
    );
    assert!(
        !sim.records()
            .iter()
            .any(|r| matches!(r.kind, RecordKind::ClosedByClient { .. })),
        "an echo is not a close the client started"
    );
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(
        answer["t"],
        json!("RESUMED"),
        "the session survived: {answer}"
    );
}

#[test]
fn echo_of_a_server_1000_close_keeps_the_session() {
    echo_of_server_close_keeps_the_session(1000);
}

#[test]
fn echo_of_a_server_1001_close_keeps_the_session() {
    echo_of_server_close_keeps_the_session(1001);
}

#[test]
fn shard_resumes_after_a_server_1000_close() {
    let sim = sim();
    let (thread, events) = spawn_shard(&sim);
    let session = sim.wait_for_session(TIMEOUT).expect("a session");
    assert!(sim.close(1000));
    loop {
        match events.recv_timeout(TIMEOUT) {
            Ok(Event::Dispatch(d)) if d.event_type() == "RESUMED" => break,
            Ok(_) => continue,
            Err(e) => panic!("no RESUMED: {e}; records: {:#?}", sim.records()),
        }
    }
    assert_eq!(
        sim.received(2).len(),
        1,
        "one Identify: the session was kept"
    );
    assert_eq!(sim.wait_for_session(TIMEOUT), Some(session));
    thread.shutdown().expect("the shard stops cleanly");
}

// ---- 3. A close the client starts gets the closing handshake ---------------------------

/// Identifies, closes with `code` from the client and checks the simulator answers the
/// close frame; returns the simulator and the session id.
fn client_close_is_answered(code: u16) -> (Simulator, String) {
    let sim = sim();
    let (mut ws, session_id) = identified(&sim);
    ws.close(Some(close_frame(code)))
        .expect("the close is sent");
    let answer = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => continue,
            Err(e) => panic!("no close frame in answer (a 1006 for the client): {e}"),
        }
    };
    assert_eq!(
        answer.map(|f| u16::from(f.code)),
        Some(code),
        "the code is echoed"
    );
    finish_close(&mut ws);
    let recorded = sim
        .wait_for(TIMEOUT, |r| {
            matches!(r.kind, RecordKind::ClosedByClient { .. })
        })
        .expect("the close was recorded");
    assert_eq!(
        recorded.kind,
        RecordKind::ClosedByClient { code: Some(code) }
    );
    (sim, session_id)
}

#[test]
fn client_close_4000_is_answered_and_keeps_the_session() {
    let (sim, session_id) = client_close_is_answered(4000);
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(answer["t"], json!("RESUMED"), "{answer}");
}

#[test]
fn client_close_1000_is_answered_and_ends_the_session() {
    let (sim, session_id) = client_close_is_answered(1000);
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(
        (answer["op"].clone(), answer["d"].clone()),
        (json!(9), json!(false))
    );
}

// ---- 4. RefuseResume on any resume path, without blocking later faults -----------------

#[test]
fn refuse_resume_fires_on_a_resume_path_with_a_trailing_slash() {
    let sim = sim();
    sim.fault_next(ConnectionFault::RefuseResume, 1);
    // twilight-gateway's resume URL: `<resume_gateway_url>/?v=10…`.
    assert!(
        connect_path(&sim, "/resume/").is_err(),
        "the resume connection is refused"
    );
    let mut ws = connect_path(&sim, "/resume/").expect("the fault fired once");
    read_hello(&mut ws);
}

#[test]
fn refuse_resume_does_not_hold_up_the_faults_behind_it() {
    let sim = sim();
    sim.fault_next(ConnectionFault::RefuseResume, 1);
    sim.fault_next(ConnectionFault::Refuse, 1);
    assert!(
        connect_path(&sim, "/").is_err(),
        "the identify URL gets the Refuse queued after RefuseResume"
    );
    let mut ws = connect_path(&sim, "/").expect("no fault left for the identify URL");
    read_hello(&mut ws);
    assert!(
        connect_path(&sim, "/resume").is_err(),
        "RefuseResume still waits"
    );
    let mut ws = connect_path(&sim, "/resume").expect("no fault left");
    read_hello(&mut ws);
}

// ---- Session rules: heartbeat timeout, resume window, op 7, sessions ended by a close ------

#[test]
fn no_heartbeat_within_interval_and_grace_closes_with_4009_and_keeps_the_session() {
    let interval = Duration::from_millis(100);
    let grace = Duration::from_millis(150);
    let sim = Simulator::start(
        sim_config()
            .heartbeat_interval(interval)
            .heartbeat_grace(grace),
    )
    .expect("simulator starts");
    let mut ws = connect(&sim);
    let hello_at = Instant::now();
    read_hello(&mut ws);
    send(&mut ws, &identify_payload(&sim, 1));
    let ready = read_dispatch(&mut ws, "READY");
    let session_id = ready["d"]["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned();
    let (_, frame) = read_until_close(&mut ws);
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(4009));
    assert!(
        hello_at.elapsed() >= interval + grace,
        "closed after {:?}, before interval + grace",
        hello_at.elapsed()
    );
    finish_close(&mut ws);
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(
        answer["t"],
        json!("RESUMED"),
        "4009 keeps the session: {answer}"
    );
}

/// 15 beats at 100 ms span three times interval + grace: each heartbeat restarts the clock.
#[test]
fn shard_that_heartbeats_is_not_timed_out() {
    let sim = Simulator::start(
        sim_config()
            .heartbeat_interval(Duration::from_millis(100))
            .heartbeat_grace(Duration::from_millis(400)),
    )
    .expect("simulator starts");
    let (thread, _events) = spawn_shard(&sim);
    sim.wait_for_session(TIMEOUT).expect("a session");
    sim.wait_for_nth(TIMEOUT, 15, |r| r.op() == Some(1))
        .expect("15 heartbeats");
    assert!(
        !sim.records()
            .iter()
            .any(|r| r.kind == RecordKind::ClosedByServer { code: 4009 }),
        "{:#?}",
        sim.records()
    );
    thread.shutdown().expect("the shard stops cleanly");
}

#[test]
fn heartbeat_timeout_with_end_session_on_close_destroys_the_session() {
    let sim = Simulator::start(
        sim_config()
            .heartbeat_interval(Duration::from_millis(100))
            .heartbeat_grace(Duration::from_millis(100))
            .end_session_on_close(true),
    )
    .expect("simulator starts");
    let (mut ws, session_id) = identified(&sim);
    let (_, frame) = read_until_close(&mut ws);
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(4009));
    finish_close(&mut ws);
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(
        (answer["op"].clone(), answer["d"].clone()),
        (json!(9), json!(false))
    );
}

fn resume_after_drop(window: Duration) -> Value {
    let sim = Simulator::start(sim_config().resume_window(window)).expect("simulator starts");
    let (ws, session_id) = identified(&sim);
    let conn = last_connection(&sim);
    drop(ws);
    wait_record(&sim, conn, "disconnect", |k| *k == RecordKind::Disconnected);
    resume_on_new_socket(&sim, &session_id, 1).1
}

#[test]
fn resume_within_the_resume_window_succeeds() {
    let answer = resume_after_drop(Duration::from_secs(60));
    assert_eq!(answer["t"], json!("RESUMED"), "{answer}");
}

#[test]
fn resume_after_the_resume_window_gets_op9_false() {
    let answer = resume_after_drop(Duration::ZERO);
    assert_eq!(
        (answer["op"].clone(), answer["d"].clone()),
        (json!(9), json!(false)),
        "the session expired"
    );
}

#[test]
fn live_sessions_do_not_expire() {
    let sim =
        Simulator::start(sim_config().resume_window(Duration::ZERO)).expect("simulator starts");
    let (mut ws, session_id) = identified(&sim);
    // A second connection resumes while the first is still open: the session never went
    // without a connection, so the zero window does not apply.
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(answer["t"], json!("RESUMED"), "{answer}");
    ws.close(None).expect("closed");
}

#[test]
fn socket_is_closed_after_op7_if_the_client_stays() {
    let delay = Duration::from_millis(200);
    let sim =
        Simulator::start(sim_config().reconnect_close_delay(delay)).expect("simulator starts");
    let (mut ws, session_id) = identified(&sim);
    let sent_at = Instant::now();
    assert!(sim.reconnect());
    assert_eq!(read_json(&mut ws)["op"], json!(7));
    let (_, frame) = read_until_close(&mut ws);
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(4000));
    assert!(
        sent_at.elapsed() >= delay,
        "closed after {:?}",
        sent_at.elapsed()
    );
    finish_close(&mut ws);
    let (_, answer) = resume_on_new_socket(&sim, &session_id, 1);
    assert_eq!(answer["t"], json!("RESUMED"), "{answer}");
}

#[test]
fn shard_reconnects_on_op7_before_the_simulator_closes() {
    let sim = Simulator::start(sim_config().reconnect_close_delay(Duration::from_secs(5)))
        .expect("simulator starts");
    let (thread, _events) = spawn_shard(&sim);
    sim.wait_for_session(TIMEOUT).expect("a session");
    assert!(sim.reconnect());
    sim.wait_for(TIMEOUT, |r| {
        r.json().is_some_and(|j| j.contains("\"op\":6"))
    })
    .expect("the shard resumes");
    sim.wait_for(TIMEOUT, |r| {
        matches!(
            r.kind,
            RecordKind::ClosedByClient { .. } | RecordKind::Disconnected
        )
    })
    .expect("the shard closed the old connection itself");
    assert!(
        !sim.records()
            .iter()
            .any(|r| r.kind == RecordKind::ClosedByServer { code: 4000 }),
        "{:#?}",
        sim.records()
    );
    thread.shutdown().expect("the shard stops cleanly");
}

fn resume_after_scripted_close(code: u16, end_session_on_close: bool) -> Value {
    let sim = Simulator::start(sim_config().end_session_on_close(end_session_on_close))
        .expect("simulator starts");
    let (mut ws, session_id) = identified(&sim);
    assert!(sim.close(code));
    read_until_close(&mut ws);
    finish_close(&mut ws);
    resume_on_new_socket(&sim, &session_id, 1).1
}

#[test]
fn end_session_on_close_drops_the_session_on_4007_and_4009() {
    for code in [4007, 4009] {
        let answer = resume_after_scripted_close(code, true);
        assert_eq!(
            (answer["op"].clone(), answer["d"].clone()),
            (json!(9), json!(false)),
            "after {code}"
        );
    }
}

#[test]
fn end_session_on_close_keeps_the_session_on_resumable_codes() {
    for code in [4000, 4001, 4008] {
        let answer = resume_after_scripted_close(code, true);
        assert_eq!(answer["t"], json!("RESUMED"), "after {code}: {answer}");
    }
}

#[test]
fn without_end_session_on_close_4009_stays_resumable() {
    let answer = resume_after_scripted_close(4009, false);
    assert_eq!(answer["t"], json!("RESUMED"), "{answer}");
}

#[test]
fn shard_identifies_after_4009_when_the_session_is_dropped() {
    let sim = Simulator::start(sim_config().end_session_on_close(true)).expect("simulator starts");
    let (thread, _events) = spawn_shard(&sim);
    let first = sim.wait_for_session(TIMEOUT).expect("a session");
    assert!(sim.close(4009));
    sim.wait_for_nth(TIMEOUT, 2, |r| r.op() == Some(2))
        .expect("a new Identify");
    let second = sim.wait_for_session(TIMEOUT).expect("a new session");
    assert_ne!(first, second);
    assert!(sim.received(6).is_empty(), "no Resume after 4009");
    thread.shutdown().expect("the shard stops cleanly");
}

// ---- issue 10 §4: User-Agent required, as stock Spacebar does ----------------------------

fn sim_requiring_user_agent() -> Simulator {
    Simulator::start(sim_config().require_user_agent(true)).expect("simulator starts")
}

#[test]
fn upgrade_without_user_agent_is_closed_with_4002_when_required() {
    let sim = sim_requiring_user_agent();
    let mut ws = connect(&sim);
    let (payloads, frame) = read_until_close(&mut ws);
    assert!(payloads.is_empty(), "no Hello: {payloads:?}");
    let frame = frame.expect("a close frame");
    assert_eq!(
        (u16::from(frame.code), frame.reason.as_str()),
        (4002, "User-Agent header is required")
    );
    assert_eq!(sim.user_agents(), [(last_connection(&sim), None)]);
}

#[test]
fn upgrade_with_user_agent_gets_hello_when_required() {
    let sim = sim_requiring_user_agent();
    let agent = "DiscordBot (https://example.invalid, 0.1)";
    let mut request = format!("{}/?v=10&encoding=json", sim.gateway_url())
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("User-Agent", agent.parse().expect("a header value"));
    let mut ws = open_request(request).expect("the websocket opens");
    read_hello(&mut ws);
    assert_eq!(
        sim.user_agents(),
        [(last_connection(&sim), Some(agent.to_owned()))]
    );
}

#[test]
fn upgrade_without_user_agent_gets_hello_by_default() {
    let sim = sim();
    let mut ws = connect(&sim);
    read_hello(&mut ws);
    assert_eq!(sim.user_agents(), [(last_connection(&sim), None)]);
}
