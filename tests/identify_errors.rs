//! Bad Identify payloads get Discord's close codes from the simulator (checked with a raw
//! websocket client), and the real client turns the fatal ones into errors from `run`
//! without reconnecting (PROTOCOL.md §3, §12).

use crossbeam_channel::bounded;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::time::Duration;
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Config, Error, Intents, Shard};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const TIMEOUT: Duration = Duration::from_secs(10);

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn sim() -> Simulator {
    Simulator::start(SimConfig::default()).unwrap()
}

/// Opens a raw websocket to the simulator's gateway with `query`.
fn connect(sim: &Simulator, query: &str) -> Ws {
    let url = format!("{}/?{query}", sim.gateway_url());
    let (ws, _response) = tungstenite::connect(url).expect("the websocket opens");
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    }
    ws
}

fn read_json(ws: &mut Ws) -> Value {
    match ws.read().expect("a message arrives") {
        Message::Text(text) => serde_json::from_str(&text).expect("the message is JSON"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Opens a raw websocket with the right query string and reads Hello.
fn connect_past_hello(sim: &Simulator) -> Ws {
    let mut ws = connect(sim, "v=10&encoding=json");
    let hello = read_json(&mut ws);
    assert_eq!(hello["op"], json!(10), "Hello comes first: {hello}");
    ws
}

fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).expect("the payload is sent");
}

fn identify(token: &str, intents: u64) -> Value {
    json!({
        "op": 2,
        "d": {
            "token": token,
            "properties": {"os": "linux", "browser": "raw", "device": "raw"},
            "intents": intents,
        }
    })
}

/// Reads until the server's close frame and checks its code, and that the simulator
/// recorded closing with it.
fn assert_closed_with(ws: &mut Ws, sim: &Simulator, code: u16) {
    let received = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(e) => panic!("the connection ended without a close frame: {e}"),
        }
    };
    assert_eq!(received, Some(code));
    let recorded = sim.wait_for(TIMEOUT, |r| {
        matches!(r.kind, RecordKind::ClosedByServer { .. })
    });
    assert_eq!(
        recorded.map(|r| r.kind),
        Some(RecordKind::ClosedByServer { code })
    );
}

#[test]
fn bad_token_is_closed_with_4004() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    send(&mut ws, &identify("not-the-token", 1).to_string());
    assert_closed_with(&mut ws, &sim, 4004);
}

#[test]
fn invalid_json_is_closed_with_4002() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    send(&mut ws, r#"{"op":2,"d":{"token":"#);
    assert_closed_with(&mut ws, &sim, 4002);
}

#[test]
fn identify_missing_required_fields_is_closed_with_4002() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    // No `properties`, no `intents`.
    let payload = json!({"op": 2, "d": {"token": sim.token()}});
    send(&mut ws, &payload.to_string());
    assert_closed_with(&mut ws, &sim, 4002);
}

#[test]
fn unsupported_api_version_is_closed_with_4012() {
    let sim = sim();
    let mut ws = connect(&sim, "v=7&encoding=json");
    assert_closed_with(&mut ws, &sim, 4012);
}

#[test]
fn undefined_intent_bit_is_closed_with_4013() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    send(&mut ws, &identify(sim.token(), 1 | 1 << 17).to_string());
    assert_closed_with(&mut ws, &sim, 4013);
}

#[test]
fn privileged_intent_not_allowed_is_closed_with_4014() {
    let sim = Simulator::start(SimConfig::default().allowed_privileged(Intents::empty())).unwrap();
    let mut ws = connect_past_hello(&sim);
    let intents = Intents::GUILDS | Intents::MESSAGE_CONTENT;
    send(&mut ws, &identify(sim.token(), intents.bits()).to_string());
    assert_closed_with(&mut ws, &sim, 4014);
}

#[test]
fn second_identify_is_closed_with_4005() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    let payload = identify(sim.token(), Intents::GUILDS.bits()).to_string();
    send(&mut ws, &payload);
    let ready = read_json(&mut ws);
    assert_eq!(
        ready["t"],
        json!("READY"),
        "the first Identify works: {ready}"
    );
    send(&mut ws, &payload);
    assert_closed_with(&mut ws, &sim, 4005);
}

#[test]
fn presence_update_before_identify_is_closed_with_4003() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    let presence = json!({
        "op": 3,
        "d": {"since": null, "activities": [], "status": "online", "afk": false}
    });
    send(&mut ws, &presence.to_string());
    assert_closed_with(&mut ws, &sim, 4003);
}

#[test]
fn unknown_opcode_is_closed_with_4001() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    send(&mut ws, r#"{"op":5,"d":null}"#);
    assert_closed_with(&mut ws, &sim, 4001);
}

#[test]
fn shard_id_not_below_count_is_closed_with_4010() {
    let sim = sim();
    let mut ws = connect_past_hello(&sim);
    let mut payload = identify(sim.token(), Intents::GUILDS.bits());
    payload["d"]["shard"] = json!([2, 2]);
    send(&mut ws, &payload.to_string());
    assert_closed_with(&mut ws, &sim, 4010);
}

/// Runs a real shard that must stop by itself with an error; checks it dialed the gateway
/// only once (fatal closes are not retried) and returns the error.
fn run_until_fatal(sim: &Simulator, config: Config) -> Error {
    let thread = Shard::with_config(config).spawn(|_| {}).unwrap();
    let (tx, rx) = bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(thread.join());
    });
    let result = rx
        .recv_timeout(TIMEOUT)
        .expect("run returns by itself after a fatal close");
    let error = result.expect_err("run returns an error");
    let dials = sim
        .records()
        .into_iter()
        .filter(|r| matches!(r.kind, RecordKind::Connected { .. }))
        .count();
    assert!(
        dials <= 1,
        "the shard reconnected {dials} times after a fatal close"
    );
    error
}

#[test]
fn client_stops_with_authentication_failed_on_close_4004() {
    let sim = sim();
    let config = Config::builder("not-the-token", Intents::GUILDS)
        .gateway_url(sim.gateway_url())
        .build()
        .expect("valid config");
    let error = run_until_fatal(&sim, config);
    assert!(
        matches!(error, Error::AuthenticationFailed { .. }),
        "{error:?}"
    );
    assert!(error.is_fatal());
    assert!(
        sim.records()
            .iter()
            .any(|r| r.kind == RecordKind::ClosedByServer { code: 4004 }),
        "the gateway refused the token (not discovery)"
    );
}

#[test]
fn client_stops_with_authentication_failed_when_discovery_answers_401() {
    let sim = sim();
    let config = Config::builder("not-the-token", Intents::GUILDS)
        .api_base(sim.api_base())
        .build()
        .expect("valid config");
    let error = run_until_fatal(&sim, config);
    assert!(
        matches!(error, Error::AuthenticationFailed { .. }),
        "{error:?}"
    );
    let statuses: Vec<u16> = sim
        .records()
        .into_iter()
        .filter_map(|r| match r.kind {
            RecordKind::Http { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [401], "one discovery request, refused");
}

#[test]
fn client_stops_with_disallowed_intents_naming_the_privileged_intents() {
    let sim = Simulator::start(SimConfig::default().allowed_privileged(Intents::empty())).unwrap();
    let intents = Intents::GUILDS | Intents::GUILD_MEMBERS | Intents::MESSAGE_CONTENT;
    let config = sim
        .client_config(intents)
        .gateway_url(sim.gateway_url())
        .build()
        .expect("valid config");
    let error = run_until_fatal(&sim, config);
    let Error::DisallowedIntents { requested } = &error else {
        panic!("expected DisallowedIntents, got {error:?}");
    };
    let mut requested = requested.clone();
    requested.sort_unstable();
    assert_eq!(requested, ["GUILD_MEMBERS", "MESSAGE_CONTENT"]);
    let text = error.to_string();
    assert!(
        text.contains("GUILD_MEMBERS") && text.contains("MESSAGE_CONTENT"),
        "{text}"
    );
}

#[test]
fn client_stops_with_invalid_intents_on_an_undefined_bit() {
    let sim = sim();
    let intents = Intents::GUILDS | Intents::from_bits_retain(1 << 17);
    let config = sim
        .client_config(intents)
        .gateway_url(sim.gateway_url())
        .build()
        .expect("valid config");
    let error = run_until_fatal(&sim, config);
    let Error::InvalidIntents { bits } = error else {
        panic!("expected InvalidIntents, got {error:?}");
    };
    assert_eq!(bits, intents.bits());
}
