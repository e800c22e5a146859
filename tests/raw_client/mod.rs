//! A raw tungstenite client for driving the simulator itself, frame by frame, without our
//! `Shard` in the way.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::net::TcpStream;
use std::time::Duration;
use syncord::sim::Simulator;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long any one read may block: a hung simulator fails the test instead of hanging it.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens a websocket to `url` (no User-Agent: tungstenite sends none by default).
pub fn open(url: &str) -> Result<Ws, tungstenite::Error> {
    open_request(url.into_client_request()?)
}

/// Opens a websocket with a prepared request (extra headers).
pub fn open_request(
    request: tungstenite::handshake::client::Request,
) -> Result<Ws, tungstenite::Error> {
    let (ws, _response) = tungstenite::connect(request)?;
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(TIMEOUT))?;
    }
    Ok(ws)
}

/// Opens the identify URL with the right query string.
pub fn connect(sim: &Simulator) -> Ws {
    open(&format!("{}/?v=10&encoding=json", sim.gateway_url())).expect("the websocket opens")
}

/// Opens `path` on the simulator (e.g. `/resume/`) with the right query string.
pub fn connect_path(sim: &Simulator, path: &str) -> Result<Ws, tungstenite::Error> {
    open(&format!("{}{path}?v=10&encoding=json", sim.gateway_url()))
}

/// The next text payload as JSON (control frames skipped); panics on a close or an error.
pub fn read_json(ws: &mut Ws) -> Value {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                return serde_json::from_str(&text).expect("the payload is JSON")
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            other => panic!("expected a text payload, got {other:?}"),
        }
    }
}

/// Reads payloads until the server's close frame; returns them and the frame.
pub fn read_until_close(ws: &mut Ws) -> (Vec<Value>, Option<CloseFrame>) {
    let mut payloads = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                payloads.push(serde_json::from_str(&text).expect("the payload is JSON"))
            }
            Ok(Message::Close(frame)) => return (payloads, frame),
            Ok(_) => continue,
            Err(e) => panic!("the connection ended without a close frame: {e}; got {payloads:?}"),
        }
    }
}

/// After the server's close frame: lets tungstenite send the echo and waits for the server
/// to end the connection.
pub fn finish_close(ws: &mut Ws) {
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => return,
            Err(e) => panic!("the closing handshake did not complete: {e}"),
        }
    }
}

pub fn send(ws: &mut Ws, payload: &Value) {
    ws.send(Message::text(payload.to_string()))
        .expect("the payload is sent");
}

/// Reads Hello and returns its `heartbeat_interval`.
pub fn read_hello(ws: &mut Ws) -> u64 {
    let hello = read_json(ws);
    assert_eq!(hello["op"], json!(10), "Hello comes first: {hello}");
    hello["d"]["heartbeat_interval"]
        .as_u64()
        .expect("heartbeat_interval")
}

pub fn identify_payload(sim: &Simulator, intents: u64) -> Value {
    json!({
        "op": 2,
        "d": {
            "token": sim.token(),
            "properties": {"os": "linux", "browser": "raw", "device": "raw"},
            "intents": intents,
        }
    })
}

pub fn resume_payload(sim: &Simulator, session_id: &str, seq: u64) -> Value {
    json!({"op": 6, "d": {"token": sim.token(), "session_id": session_id, "seq": seq}})
}

/// Reads payloads until the dispatch `t` and returns it.
pub fn read_dispatch(ws: &mut Ws, t: &str) -> Value {
    loop {
        let payload = read_json(ws);
        if payload["op"] == json!(0) && payload["t"] == json!(t) {
            return payload;
        }
    }
}

/// Connects, reads Hello, identifies and reads READY; returns the socket and session id.
pub fn identified(sim: &Simulator) -> (Ws, String) {
    let mut ws = connect(sim);
    read_hello(&mut ws);
    // GUILDS | DIRECT_MESSAGES: the simulator sends the DM-shaped MESSAGE_CREATEs (no
    // `guild_id`) the tests push only under DIRECT_MESSAGES, as Discord does.
    send(&mut ws, &identify_payload(sim, 1 | 4096));
    let ready = read_dispatch(&mut ws, "READY");
    let session_id = ready["d"]["session_id"]
        .as_str()
        .expect("READY has a session_id")
        .to_owned();
    (ws, session_id)
}

/// Resumes `session_id` from `seq` on a new connection to the resume URL; returns the
/// first session payload the simulator answers with (RESUMED or op 9) and what came before.
pub fn resume_on_new_socket(sim: &Simulator, session_id: &str, seq: u64) -> (Vec<Value>, Value) {
    let mut ws = connect_path(sim, "/resume").expect("the resume URL opens");
    read_hello(&mut ws);
    send(&mut ws, &resume_payload(sim, session_id, seq));
    let mut before = Vec::new();
    loop {
        let payload = read_json(&mut ws);
        if payload["op"] == json!(9) || payload["t"] == json!("RESUMED") {
            return (before, payload);
        }
        before.push(payload);
    }
}

/// A close frame with `code`.
pub fn close_frame(code: u16) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: "raw client".into(),
    }
}
