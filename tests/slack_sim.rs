//! The Slack simulator (`syncord::sim::slack`) behaves as SLACK.md describes Slack, checked
//! with a plain tungstenite client and ureq over loopback.

use serde_json::{json, Value};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use syncord::sim::slack::{payload, ConnId, SlackRecordKind, SlackSim, SlackSimConfig};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const TIMEOUT: Duration = Duration::from_secs(10);

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn sim(config: SlackSimConfig) -> SlackSim {
    SlackSim::start(config).expect("the simulator starts")
}

/// `POST apps.connections.open` with `Authorization`; returns (status, body, Retry-After).
fn open_with(
    sim: &SlackSim,
    authorization: Option<&str>,
    body: &str,
) -> (u16, Value, Option<String>) {
    let mut request = ureq::post(&format!("{}/apps.connections.open", sim.api_base()))
        .set("Content-Type", "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        request = request.set("Authorization", value);
    }
    let response = match request.send_string(body) {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("apps.connections.open failed: {e}"),
    };
    let status = response.status();
    let retry_after = response.header("Retry-After").map(str::to_owned);
    let body: Value = response.into_json().expect("a JSON body");
    (status, body, retry_after)
}

fn open_url(sim: &SlackSim) -> String {
    let (status, body, _) = open_with(sim, Some(&format!("Bearer {}", sim.app_token())), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    body["url"].as_str().expect("a url").to_owned()
}

fn connect_url(url: &str) -> Ws {
    let (ws, _) = tungstenite::connect(url).expect("the upgrade succeeds");
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    }
    ws
}

/// Opens a Socket Mode connection and reads its `hello`.
fn connect(sim: &SlackSim) -> (Ws, Value) {
    let mut ws = connect_url(&open_url(sim));
    let hello = read_json(&mut ws);
    (ws, hello)
}

fn set_read_timeout(ws: &Ws, timeout: Duration) {
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(timeout)).unwrap();
    }
}

/// The next text message, skipping pings and pongs (the simulator's pings would otherwise
/// keep a missing message waited for forever).
fn read_json(ws: &mut Ws) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "no text message within {TIMEOUT:?}"
        );
        match ws.read().expect("a message") {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Reads until the server's close frame; returns its code.
fn read_close(ws: &mut Ws) -> Option<u16> {
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

fn newest_conn(sim: &SlackSim) -> ConnId {
    sim.connections().last().expect("a connection").id
}

fn ack(ws: &mut Ws, envelope_id: &str) {
    ws.send(Message::text(
        json!({ "envelope_id": envelope_id }).to_string(),
    ))
    .unwrap();
}

fn message() -> String {
    payload::message_event("C0SIM", "U0SIMUSER", "hello")
}

// ---- discovery ------------------------------------------------------------------------

#[test]
fn apps_connections_open_answers_a_single_use_ticket_url() {
    let sim = sim(SlackSimConfig::default());
    let url = open_url(&sim);
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    assert!(
        url.contains("/link/?ticket=") && url.contains("&app_id=A0SIM"),
        "{url}"
    );
    let (_ws, hello) = {
        let mut ws = connect_url(&url);
        let hello = read_json(&mut ws);
        (ws, hello)
    };
    assert_eq!(hello["type"], "hello");
    match tungstenite::connect(url.as_str()) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a used ticket must be refused, got {:?}", other.map(|_| ())),
    }
    assert_eq!(sim.open_requests(), 1);
}

#[test]
fn apps_connections_open_answers_slacks_token_errors() {
    let sim = sim(SlackSimConfig::default());
    let error = |auth: Option<&str>, body: &str| {
        let (status, body, _) = open_with(&sim, auth, body);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ok"], false, "{body}");
        body["error"].as_str().unwrap().to_owned()
    };
    assert_eq!(error(None, ""), "not_authed");
    assert_eq!(error(Some("Bearer xapp-1-wrong"), ""), "invalid_auth");
    assert_eq!(
        error(Some("Bearer xoxb-123-456"), ""),
        "not_allowed_token_type"
    );
    assert_eq!(
        error(Some("Bearer xoxp-123-456"), ""),
        "not_allowed_token_type"
    );
    // The right token, but as a form field instead of the header.
    let form = format!("token={}", sim.app_token());
    assert_eq!(error(None, &form), "invalid_auth");
    // Not POST.
    let response = ureq::get(&format!("{}/apps.connections.open", sim.api_base()))
        .set("Authorization", &format!("Bearer {}", sim.app_token()))
        .call()
        .unwrap();
    let body: Value = response.into_json().unwrap();
    assert_eq!(body["error"], "insecure_request");
    assert_eq!(sim.open_requests(), 6);
}

#[test]
fn scripted_open_failures_and_429_apply_once_each() {
    let sim = sim(SlackSimConfig::default());
    let auth = format!("Bearer {}", sim.app_token());
    sim.rate_limit_next_open(Duration::from_millis(1500));
    sim.fail_next_open("account_inactive");
    let (status, body, retry_after) = open_with(&sim, Some(&auth), "");
    assert_eq!(status, 429);
    assert_eq!(body, json!({"ok": false, "error": "ratelimited"}));
    assert_eq!(
        retry_after.as_deref(),
        Some("2"),
        "whole seconds, rounded up"
    );
    let (status, body, _) = open_with(&sim, Some(&auth), "");
    assert_eq!(
        (status, body["error"].as_str()),
        (200, Some("account_inactive"))
    );
    let (_, body, _) = open_with(&sim, Some(&auth), "");
    assert_eq!(body["ok"], true);
}

// ---- hello, acks ------------------------------------------------------------------------

#[test]
fn hello_is_the_first_frame_and_counts_the_connections() {
    let sim = sim(SlackSimConfig::default().approximate_connection_time(1234));
    let (_first, hello) = connect(&sim);
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["debug_info"]["approximate_connection_time"], 1234);
    assert!(hello["debug_info"]["host"]
        .as_str()
        .unwrap()
        .starts_with("applink-"));
    let started = hello["debug_info"]["started"].as_str().unwrap();
    assert_eq!(started.len(), "2020-10-11 12:12:12.120".len(), "{started}");
    assert_eq!(hello["connection_info"]["app_id"], "A0SIM");
    let (_second, hello) = connect(&sim);
    assert_eq!(hello["num_connections"], 2);
    let mut debug = connect_url(&(open_url(&sim) + "&debug_reconnects=true"));
    assert_eq!(
        read_json(&mut debug)["debug_info"]["approximate_connection_time"],
        360
    );
    assert!(sim.wait_for_connections(3, TIMEOUT));
}

#[test]
fn an_envelope_pushed_as_soon_as_hello_is_read_is_never_lost() {
    // Tests push the moment their client has read `hello`; the simulator must already
    // count the connection as ready then (it once marked it a moment after the write,
    // and an unlucky push was recorded as lost and never retried).
    let sim = sim(SlackSimConfig::default()
        .max_connections(usize::MAX)
        .route_to_ghosts(false));
    for round in 0..1000 {
        let (mut ws, _) = connect(&sim);
        let envelope_id = sim.push_envelope("interactive", &payload::block_actions("a", "v"), true);
        let delivery = sim
            .deliveries()
            .into_iter()
            .find(|d| d.envelope_id == envelope_id)
            .expect("the push is recorded");
        assert!(!delivery.lost, "round {round}: {delivery:?}");
        assert_eq!(read_json(&mut ws)["envelope_id"], envelope_id.as_str());
        if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.shutdown(Shutdown::Both).unwrap();
        }
    }
}

#[test]
fn events_api_envelopes_carry_the_event_callback_and_acks_are_recorded() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, _) = connect(&sim);
    let pushed = sim.push_events_api(&message());
    let envelope = read_json(&mut ws);
    assert_eq!(envelope["type"], "events_api");
    assert_eq!(envelope["envelope_id"], pushed.envelope_id.as_str());
    assert_eq!(envelope["accepts_response_payload"], false);
    assert_eq!(envelope["retry_attempt"], 0);
    assert_eq!(envelope["retry_reason"], "");
    let outer = &envelope["payload"];
    assert_eq!(outer["type"], "event_callback");
    assert_eq!(outer["event_id"], pushed.event_id.as_str());
    assert_eq!(outer["team_id"], "T0SIM");
    assert_eq!(outer["api_app_id"], "A0SIM");
    assert!(outer["event_time"].is_u64());
    assert_eq!(outer["authorizations"][0]["is_bot"], true);
    assert_eq!(outer["event"]["text"], "hello");

    let slash = sim.push_envelope("slash_commands", &payload::slash_command("/sim", "x"), true);
    let envelope = read_json(&mut ws);
    assert_eq!(envelope["type"], "slash_commands");
    assert_eq!(envelope["accepts_response_payload"], true);
    assert!(envelope.get("retry_attempt").is_none());

    ack(&mut ws, &pushed.envelope_id);
    let response = json!({"envelope_id": slash, "payload": {"text": "done"}}).to_string();
    ws.send(Message::text(response.clone())).unwrap();
    assert!(sim.wait_for_acks(2, TIMEOUT));
    let acks = sim.acks();
    assert_eq!(acks[0].envelope_id, pushed.envelope_id);
    assert_eq!(acks[0].payload, None);
    assert_eq!(acks[1].payload, Some(json!({"text": "done"})));
    assert_eq!(acks[1].frame_len, response.len());
    assert_eq!(acks[1].conn, newest_conn(&sim));
}

#[test]
fn an_ack_of_20_kib_is_closed_with_1009() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, _) = connect(&sim);
    let envelope_id = sim.push_envelope("interactive", &payload::block_actions("a", "v"), true);
    read_json(&mut ws);
    let big = json!({"envelope_id": envelope_id, "payload": {"text": "a".repeat(20 * 1024)}});
    ws.send(Message::text(big.to_string())).unwrap();
    assert_eq!(read_close(&mut ws), Some(1009));
    assert!(sim.acks().is_empty());
    assert!(sim.records().iter().any(
        |r| matches!(r.kind, SlackRecordKind::OversizedFrame { frame_len } if frame_len >= 20480)
    ));
}

#[test]
fn a_fragmented_ack_is_dropped_silently() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, _) = connect(&sim);
    let envelope_id = sim.push_envelope("interactive", &payload::block_actions("a", "v"), true);
    read_json(&mut ws);
    let text = json!({ "envelope_id": envelope_id }).to_string();
    let (first, second) = text.as_bytes().split_at(5);
    ws.write(Message::Frame(Frame::message(
        first.to_vec(),
        OpCode::Data(Data::Text),
        false,
    )))
    .unwrap();
    ws.write(Message::Frame(Frame::message(
        second.to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .unwrap();
    ws.flush().unwrap();
    let dropped = sim.wait_for_record(TIMEOUT, |r| {
        matches!(r.kind, SlackRecordKind::FragmentedDropped { .. })
    });
    assert!(matches!(
        dropped.map(|r| r.kind),
        Some(SlackRecordKind::FragmentedDropped { frames: 2, .. })
    ));
    assert!(sim.acks().is_empty());
    // The connection stays open: a whole ack still counts.
    ack(&mut ws, &envelope_id);
    assert!(sim.wait_for_acks(1, TIMEOUT));
}

// ---- retries and duplicates ----------------------------------------------------------

fn fast_retries() -> SlackSimConfig {
    SlackSimConfig::default()
        .ack_deadline(Duration::from_millis(150))
        .retry_schedule(vec![
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(200),
        ])
}

#[test]
fn an_unacked_event_is_retried_three_times_on_the_schedule_then_given_up() {
    let sim = sim(fast_retries());
    let (mut ws, _) = connect(&sim);
    let pushed = sim.push_events_api(&message());
    let mut seen = Vec::new();
    for _ in 0..4 {
        let envelope = read_json(&mut ws);
        seen.push((Instant::now(), envelope));
    }
    for (attempt, (_, envelope)) in seen.iter().enumerate() {
        assert_eq!(envelope["retry_attempt"], attempt as u64, "{envelope}");
        let reason = if attempt == 0 { "" } else { "timeout" };
        assert_eq!(envelope["retry_reason"], reason);
        assert_eq!(envelope["payload"]["event_id"], pushed.event_id.as_str());
    }
    let ids: std::collections::HashSet<_> = seen
        .iter()
        .map(|(_, e)| e["envelope_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "a new envelope id per retry by default");
    // Gaps: deadline + 0, deadline + 100 ms, deadline + 200 ms.
    for (i, min) in [150, 250, 350].into_iter().enumerate() {
        let gap = seen[i + 1].0 - seen[i].0;
        assert!(gap >= Duration::from_millis(min - 20), "gap {i}: {gap:?}");
    }
    let exhausted = sim.wait_for_record(TIMEOUT, |r| {
        matches!(&r.kind, SlackRecordKind::RetriesExhausted { event_id } if *event_id == pushed.event_id)
    });
    assert!(exhausted.is_some());
    assert_eq!(sim.deliveries().len(), 4);
}

#[test]
fn an_acked_event_is_not_retried_and_retries_can_keep_the_envelope_id() {
    let sim = sim(fast_retries().keep_envelope_id_on_retry(true));
    let (mut ws, _) = connect(&sim);
    let pushed = sim.push_events_api(&message());
    let first = read_json(&mut ws);
    let retry = read_json(&mut ws);
    assert_eq!(retry["retry_attempt"], 1);
    assert_eq!(retry["envelope_id"], first["envelope_id"]);
    ack(&mut ws, &pushed.envelope_id);
    assert!(sim.wait_for_acks(1, TIMEOUT));
    // A later event still comes through, and nothing of the first one comes again.
    let second = sim.push_events_api(&message());
    let next = read_json(&mut ws);
    assert_eq!(next["payload"]["event_id"], second.event_id.as_str());
    ack(&mut ws, &second.envelope_id);
    let interactive = sim.push_envelope("interactive", "{}", true);
    assert_eq!(read_json(&mut ws)["envelope_id"], interactive.as_str());
    assert_eq!(sim.deliveries().len(), 4);
}

#[test]
fn a_retry_waits_for_a_connection_when_none_is_open() {
    let sim = sim(fast_retries());
    let pushed = sim.push_events_api(&message());
    assert!(sim.deliveries()[0].lost);
    assert!(sim.wait_for_deliveries(1, TIMEOUT, |_| true));
    // Well past the first retry's time.
    let lost = sim.wait_for_record(Duration::from_millis(400), |r| {
        matches!(r.kind, SlackRecordKind::RetriesExhausted { .. })
    });
    assert!(lost.is_none(), "the retry must wait for a connection");
    let (mut ws, _) = connect(&sim);
    let retry = read_json(&mut ws);
    assert_eq!(retry["retry_attempt"], 1);
    assert_eq!(retry["payload"]["event_id"], pushed.event_id.as_str());
}

#[test]
fn interactive_envelopes_are_never_retried() {
    let sim = sim(fast_retries());
    let (mut ws, _) = connect(&sim);
    let first = sim.push_envelope("interactive", &payload::view_submission("cb", "{}"), true);
    assert_eq!(read_json(&mut ws)["envelope_id"], first.as_str());
    let marker = sim.push_events_api(&message());
    // The events_api one and its retry arrive; the interactive one never again.
    for _ in 0..2 {
        let envelope = read_json(&mut ws);
        assert_eq!(envelope["payload"]["event_id"], marker.event_id.as_str());
    }
}

#[test]
fn duplicates_repeat_the_envelope_id_with_retry_attempt_zero() {
    let sim = sim(SlackSimConfig::default().duplicate_delay(Duration::from_millis(50)));
    let (mut ws, _) = connect(&sim);
    sim.duplicate_next(1);
    let pushed = sim.push_events_api(&message());
    let first = read_json(&mut ws);
    ack(&mut ws, &pushed.envelope_id);
    let copy = read_json(&mut ws);
    assert_eq!(copy, first);
    assert_eq!(copy["retry_attempt"], 0);
    assert!(sim.redeliver(&pushed.envelope_id));
    assert_eq!(
        read_json(&mut ws)["envelope_id"],
        pushed.envelope_id.as_str()
    );
    assert!(!sim.redeliver("never-sent"));
    let duplicates = sim.deliveries().iter().filter(|d| d.duplicate).count();
    assert_eq!(duplicates, 2);
}

#[test]
fn deliveries_rotate_over_the_open_connections() {
    let sim = sim(SlackSimConfig::default());
    let (mut a, _) = connect(&sim);
    let (mut b, _) = connect(&sim);
    let first = sim.push_events_api(&message());
    let second = sim.push_events_api(&message());
    let on_a = read_json(&mut a)["payload"]["event_id"].clone();
    let on_b = read_json(&mut b)["payload"]["event_id"].clone();
    let mut got = [on_a, on_b].map(|v| v.as_str().unwrap().to_owned());
    got.sort();
    let mut want = [first.event_id, second.event_id];
    want.sort();
    assert_eq!(got, want);
}

// ---- connection limit, ghosts ----------------------------------------------------------

#[test]
fn the_eleventh_connection_gets_too_many_websockets_with_a_ghost_counted() {
    let sim = sim(SlackSimConfig::default().ghost_ttl(Duration::from_secs(60)));
    let mut live = Vec::new();
    for _ in 0..9 {
        live.push(connect(&sim).0);
    }
    // The tenth dies without a closing handshake: a ghost, still counted.
    let (ghost, _) = connect(&sim);
    let ghost_id = newest_conn(&sim);
    if let MaybeTlsStream::Plain(tcp) = ghost.get_ref() {
        tcp.shutdown(Shutdown::Both).unwrap();
    }
    drop(ghost);
    assert!(sim
        .wait_for_record(TIMEOUT, |r| r.conn == Some(ghost_id)
            && r.kind == SlackRecordKind::BecameGhost)
        .is_some());
    assert!(sim
        .connections()
        .iter()
        .any(|c| c.id == ghost_id && c.ghost && !c.open));
    let mut eleventh = connect_url(&open_url(&sim));
    let first = read_json(&mut eleventh);
    assert_eq!(first["type"], "disconnect", "no hello first: {first}");
    assert_eq!(first["reason"], "too_many_websockets");
    assert_eq!(read_close(&mut eleventh), Some(1000));
    // The nine live ones are untouched.
    assert_eq!(sim.open_connections().len(), 9);
}

#[test]
fn payloads_routed_to_a_ghost_are_lost_and_retried_elsewhere() {
    let sim = sim(fast_retries());
    let (ghost, _) = connect(&sim);
    let ghost_id = newest_conn(&sim);
    drop(ghost);
    assert!(sim
        .wait_for_record(TIMEOUT, |r| r.kind == SlackRecordKind::BecameGhost)
        .is_some());
    let (mut ws, hello) = connect(&sim);
    assert_eq!(hello["num_connections"], 2, "the ghost is counted");
    let pushed = sim.push_events_api_to(ghost_id, &message());
    // Retries rotate over the live connection and the ghost (Slack routes to ghosts too),
    // so the first retry may be lost again; one reaches the live connection.
    let retry = read_json(&mut ws);
    assert!(retry["retry_attempt"].as_u64().unwrap() >= 1, "{retry}");
    assert_eq!(retry["payload"]["event_id"], pushed.event_id.as_str());
    let deliveries = sim.deliveries();
    assert!(deliveries[0].lost && deliveries[0].conn == Some(ghost_id));
    assert!(deliveries
        .iter()
        .filter(|d| d.conn == Some(ghost_id))
        .all(|d| d.lost));
}

#[test]
fn a_tcp_cut_mid_frame_loses_the_envelope_until_its_retry() {
    let sim = sim(fast_retries());
    let (mut cut, _) = connect(&sim);
    let cut_id = newest_conn(&sim);
    let pushed = sim.drop_mid_frame(cut_id).expect("the connection exists");
    assert!(
        cut.read().is_err(),
        "half a frame, then the end of the stream"
    );
    let (mut ws, _) = connect(&sim);
    let retry = read_json(&mut ws);
    assert_eq!(retry["payload"]["event_id"], pushed.event_id.as_str());
    // The cut connection is a ghost now: a retry routed there is lost too.
    assert!(retry["retry_attempt"].as_u64().unwrap() >= 1, "{retry}");
}

// ---- disconnect and close ----------------------------------------------------------------

#[test]
fn warning_is_followed_by_a_close_after_the_configured_delay() {
    let delay = Duration::from_millis(300);
    let sim = sim(SlackSimConfig::default().warning_close_after(delay));
    let (mut ws, _) = connect(&sim);
    assert!(sim.disconnect(newest_conn(&sim), "warning"));
    let message = read_json(&mut ws);
    let sent = Instant::now();
    assert_eq!(message["type"], "disconnect");
    assert_eq!(message["reason"], "warning");
    assert!(message["debug_info"]["host"].is_string());
    assert_eq!(read_close(&mut ws), Some(1000));
    let waited = sent.elapsed();
    assert!(waited >= delay - Duration::from_millis(20), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn refresh_requested_is_not_followed_by_a_close_when_the_client_closed_first() {
    let sim = sim(SlackSimConfig::default().refresh_close_after(Duration::from_millis(200)));
    let (mut ws, _) = connect(&sim);
    let id = newest_conn(&sim);
    assert!(sim.disconnect(id, "refresh_requested"));
    assert_eq!(read_json(&mut ws)["reason"], "refresh_requested");
    ws.close(None).unwrap();
    // The server's answer to our close, not a close of its own.
    assert!(matches!(ws.read(), Ok(Message::Close(_))));
    assert!(sim
        .wait_for_record(TIMEOUT, |r| r.conn == Some(id)
            && matches!(r.kind, SlackRecordKind::ClosedByClient { .. }))
        .is_some());
    let _ = sim.wait_for_record(Duration::from_millis(400), |r| {
        matches!(r.kind, SlackRecordKind::ClosedByServer { .. })
    });
    assert!(!sim
        .records()
        .iter()
        .any(|r| matches!(r.kind, SlackRecordKind::ClosedByServer { .. })));
}

#[test]
fn a_client_close_is_answered_but_tcp_stays_open() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, _) = connect(&sim);
    let id = newest_conn(&sim);
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: 1000.into(),
        reason: "".into(),
    }))
    .unwrap();
    match ws.read() {
        Ok(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the close answer, got {other:?}"),
    }
    // The server did not close TCP: a raw read times out instead of seeing the end.
    let MaybeTlsStream::Plain(tcp) = ws.get_mut() else {
        unreachable!()
    };
    tcp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(tcp, &mut byte);
    assert!(
        matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "{read:?}"
    );
    assert!(!sim
        .connections()
        .iter()
        .any(|c| c.id == id && (c.open || c.ghost)));
}

#[test]
fn disabling_socket_mode_disconnects_with_link_disabled_and_fails_opens() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, _) = connect(&sim);
    sim.set_socket_mode_enabled(false);
    let message = read_json(&mut ws);
    assert_eq!(message["reason"], "link_disabled");
    assert_eq!(read_close(&mut ws), Some(1000));
    let (_, body, _) = open_with(&sim, Some(&format!("Bearer {}", sim.app_token())), "");
    assert_eq!(
        body["error"],
        syncord::sim::slack::SOCKET_MODE_DISABLED_ERROR
    );
}

// ---- liveness ------------------------------------------------------------------------------

#[test]
fn the_server_pings_and_answers_pings_until_told_not_to() {
    let sim = sim(SlackSimConfig::default().ping_interval(Duration::from_millis(100)));
    let (mut ws, hello) = connect(&sim);
    let host = hello["debug_info"]["host"].as_str().unwrap().to_owned();
    loop {
        if let Message::Ping(payload) = ws.read().unwrap() {
            assert_eq!(payload.as_ref(), format!("Ping from {host}").as_bytes());
            break;
        }
    }
    sim.set_send_pings(false);
    ws.send(Message::Ping(b"client".to_vec().into())).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Pong(payload) if payload.as_ref() == b"client" => break,
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("{other:?}"),
        }
    }
    sim.set_answer_pings(false);
    let pings_before = sim
        .records()
        .iter()
        .filter(|r| matches!(r.kind, SlackRecordKind::Ping { .. }))
        .count();
    ws.send(Message::Ping(b"unanswered".to_vec().into()))
        .unwrap();
    assert!(wait_for_pings(&sim, pings_before + 1));
    let marker = sim.push_envelope("interactive", "{}", true);
    loop {
        match ws.read().unwrap() {
            Message::Pong(payload) => {
                assert_ne!(payload.as_ref(), b"unanswered", "pongs are off");
            }
            Message::Text(text) => {
                assert!(text.contains(&marker));
                break;
            }
            _ => {}
        }
    }
}

/// Waits until the simulator has recorded `n` client pings.
fn wait_for_pings(sim: &SlackSim, n: usize) -> bool {
    let mut seen = 0;
    sim.wait_for_record(TIMEOUT, |r| {
        if matches!(r.kind, SlackRecordKind::Ping { .. }) {
            seen += 1;
        }
        seen >= n
    })
    .is_some()
}

#[test]
fn a_silent_connection_sends_nothing_and_takes_no_deliveries() {
    let sim = sim(SlackSimConfig::default().ping_interval(Duration::from_millis(50)));
    let (mut quiet, _) = connect(&sim);
    let quiet_id = newest_conn(&sim);
    assert!(sim.go_silent(quiet_id));
    let (mut other, _) = connect(&sim);
    let pushed = sim.push_events_api(&message());
    assert_eq!(
        read_json(&mut other)["envelope_id"],
        pushed.envelope_id.as_str()
    );
    quiet
        .send(Message::Ping(b"anyone".to_vec().into()))
        .unwrap();
    set_read_timeout(&quiet, Duration::from_millis(400));
    match quiet.read() {
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("a silent connection sent {other:?}"),
    }
    assert!(sim
        .connections()
        .iter()
        .any(|c| c.id == quiet_id && c.silent && c.open));
}

// ---- RTM ---------------------------------------------------------------------------------

fn rtm_connect(sim: &SlackSim) -> (Ws, Value) {
    let response = ureq::post(&format!("{}/rtm.connect", sim.api_base()))
        .send_form(&[("token", sim.bot_token())])
        .unwrap();
    let body: Value = response.into_json().unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["team"]["id"], "T0SIM");
    assert!(body["self"]["id"].is_string());
    let mut ws = connect_url(body["url"].as_str().unwrap());
    let hello = read_json(&mut ws);
    (ws, hello)
}

#[test]
fn rtm_says_hello_answers_pings_and_replies_to_messages() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, hello) = rtm_connect(&sim);
    assert_eq!(hello, json!({"type": "hello"}));
    ws.send(Message::text(
        r#"{"id":1,"type":"ping","time":1403299273342}"#,
    ))
    .unwrap();
    assert_eq!(
        read_json(&mut ws),
        json!({"type": "pong", "reply_to": 1, "time": 1403299273342u64})
    );
    ws.send(Message::text(
        r#"{"id":2,"type":"typing","channel":"C0SIM"}"#,
    ))
    .unwrap();
    ws.send(Message::text(
        r#"{"id":3,"type":"message","channel":"C0SIM","text":"Hi"}"#,
    ))
    .unwrap();
    let reply = read_json(&mut ws);
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["reply_to"], 3, "no reply to typing: {reply}");
    assert_eq!(reply["text"], "Hi");
    assert!(reply["ts"].as_str().unwrap().contains('.'));
    let messages = sim.rtm_messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].channel.as_deref(), Some("C0SIM"));
    assert_eq!(messages[0].id, Some(3));
    assert_eq!(sim.rtm_push(r#"{"type":"message","text":"pushed"}"#), 1);
    assert_eq!(read_json(&mut ws)["text"], "pushed");
}

#[test]
fn rtm_refuses_messages_over_the_rate_with_code_minus_one() {
    let sim = sim(SlackSimConfig::default().rtm_burst(3));
    let (mut ws, _) = rtm_connect(&sim);
    for id in 1..=4 {
        let message = json!({"id": id, "type": "message", "channel": "C0SIM", "text": "x"});
        ws.send(Message::text(message.to_string())).unwrap();
    }
    let replies: Vec<Value> = (0..4).map(|_| read_json(&mut ws)).collect();
    assert!(replies[..3].iter().all(|r| r["ok"] == true), "{replies:?}");
    assert_eq!(replies[3]["ok"], false);
    assert_eq!(replies[3]["reply_to"], 4);
    assert_eq!(replies[3]["error"]["code"], -1);
    assert!(replies[3]["error"]["msg"]
        .as_str()
        .unwrap()
        .starts_with("slow down"));
    assert!(!sim.rtm_messages()[3].accepted);
}

#[test]
fn an_rtm_message_over_16_kb_closes_the_connection() {
    let sim = sim(SlackSimConfig::default());
    let (mut ws, _) = rtm_connect(&sim);
    let text = "a".repeat(16 * 1024);
    let message = json!({"id": 1, "type": "message", "channel": "C0SIM", "text": text});
    ws.send(Message::text(message.to_string())).unwrap();
    assert!(read_close(&mut ws).is_some());
    assert!(sim.rtm_messages().is_empty());
}

#[test]
fn an_expired_rtm_url_answers_the_error_then_closes() {
    let sim = sim(SlackSimConfig::default().rtm_url_ttl(Duration::ZERO));
    let body: Value = ureq::post(&format!("{}/rtm.connect", sim.api_base()))
        .set("Authorization", &format!("Bearer {}", sim.bot_token()))
        .send_string("")
        .unwrap()
        .into_json()
        .unwrap();
    let mut ws = connect_url(body["url"].as_str().unwrap());
    assert_eq!(
        read_json(&mut ws),
        json!({"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}})
    );
    assert!(read_close(&mut ws).is_some());
}

#[test]
fn rtm_goodbye_is_followed_by_a_close() {
    let sim = sim(SlackSimConfig::default().goodbye_close_after(Duration::from_millis(100)));
    let (mut ws, _) = rtm_connect(&sim);
    assert!(sim.goodbye(newest_conn(&sim)));
    assert_eq!(read_json(&mut ws), json!({"type": "goodbye"}));
    assert_eq!(read_close(&mut ws), Some(1000));
}

#[test]
fn rtm_connect_rejects_an_app_token_and_a_wrong_one() {
    let sim = sim(SlackSimConfig::default());
    let error = |token: &str| -> Value {
        let body: Value = ureq::post(&format!("{}/rtm.connect", sim.api_base()))
            .send_form(&[("token", token)])
            .unwrap()
            .into_json()
            .unwrap();
        body["error"].clone()
    };
    assert_eq!(error(sim.app_token()), "not_allowed_token_type");
    assert_eq!(error("xoxb-wrong"), "invalid_auth");
}

#[test]
fn debug_output_hides_the_tokens() {
    let sim = sim(SlackSimConfig::default());
    let text = format!("{sim:?} {:?}", SlackSimConfig::default());
    assert!(
        !text.contains(sim.app_token()) && !text.contains(sim.bot_token()),
        "{text}"
    );
}
