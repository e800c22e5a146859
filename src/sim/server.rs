//! The simulator's server side: accepting, the per-connection protocol, sessions and replay.

use super::http::{accept_upgrade, query_param, read_head, respond, RequestHead};
use super::record::{Record, RecordKind};
use super::{ConnectionFault, SimConfig};
use crate::protocol::{Intents, MAX_SEND_SIZE};
#[cfg(feature = "zstd")]
use crate::transport::deflate::ZstdStreamEncoder;
use crate::transport::deflate::{payload_zlib, ZlibStreamEncoder};
use crate::transport::Connection;
use parking_lot::{Condvar, Mutex};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// One session as the simulator keeps it: sequence, replay buffer and live connection.
pub(crate) struct SimSession {
    seq: u64,
    buffer: VecDeque<(u64, String)>,
    conn: Option<Arc<SimConn>>,
}

#[derive(Default)]
pub(crate) struct Sessions {
    map: HashMap<String, SimSession>,
    /// The session that `push` and the fault methods act on: the latest one established.
    current: Option<String>,
    next_id: u64,
}

impl Sessions {
    pub fn current_live(&self) -> Option<String> {
        let id = self.current.as_ref()?;
        self.map.get(id)?.conn.as_ref()?;
        Some(id.clone())
    }
}

/// How a connection compresses what it sends (PROTOCOL.md §7).
pub(crate) enum SimEncoder {
    Plain {
        payload_compression: bool,
    },
    Zlib(ZlibStreamEncoder),
    #[cfg(feature = "zstd")]
    Zstd(ZstdStreamEncoder),
}

/// Payloads at least this large go out compressed under payload compression.
const PAYLOAD_COMPRESSION_THRESHOLD: usize = 1024;

/// One accepted websocket connection.
pub(crate) struct SimConn {
    pub id: u64,
    pub conn: Connection,
    /// Held while a payload is compressed and sent, so the stream stays in order.
    encoder: Mutex<SimEncoder>,
    zlib_frame_size: usize,
    /// The session this connection is authenticated for.
    session: Mutex<Option<String>>,
    /// Receive times in the rate-limit window.
    sends: Mutex<VecDeque<Instant>>,
}

impl SimConn {
    /// Sends one gateway payload, compressed as this connection asked.
    pub fn send_text(&self, json: &str) -> bool {
        let mut encoder = self.encoder.lock();
        match &mut *encoder {
            SimEncoder::Plain {
                payload_compression: true,
            } if json.len() >= PAYLOAD_COMPRESSION_THRESHOLD => self
                .conn
                .send(Message::binary(payload_zlib(json.as_bytes())))
                .is_ok(),
            SimEncoder::Plain { .. } => self.conn.send(Message::text(json)).is_ok(),
            SimEncoder::Zlib(zlib) => {
                // Large messages span several frames, as Discord sends them.
                let compressed = zlib.encode(json.as_bytes());
                compressed
                    .chunks(self.zlib_frame_size)
                    .all(|part| self.conn.send(Message::binary(part.to_vec())).is_ok())
            }
            #[cfg(feature = "zstd")]
            SimEncoder::Zstd(zstd) => {
                let compressed = zstd.encode(json.as_bytes()).to_vec();
                self.conn.send(Message::binary(compressed)).is_ok()
            }
        }
    }

    /// Sends bytes as they are, bypassing compression (hostile input).
    pub fn send_raw_binary(&self, bytes: &[u8]) -> bool {
        let _encoder = self.encoder.lock();
        self.conn.send(Message::binary(bytes.to_vec())).is_ok()
    }
}

/// The simulator's TLS identity (feature `sim`, `SimConfig::tls`).
pub(crate) struct SimTls {
    acceptor: native_tls::TlsAcceptor,
    pub certificate_pem: String,
}

impl SimTls {
    /// A self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn generate() -> std::io::Result<SimTls> {
        let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .map_err(|e| other(&e))?;
        let certificate_pem = certified.cert.pem();
        let key_pem = certified.signing_key.serialize_pem();
        let identity =
            native_tls::Identity::from_pkcs8(certificate_pem.as_bytes(), key_pem.as_bytes())
                .map_err(|e| other(&e))?;
        let acceptor = native_tls::TlsAcceptor::new(identity).map_err(|e| other(&e))?;
        Ok(SimTls {
            acceptor,
            certificate_pem,
        })
    }
}

pub(crate) struct Inner {
    pub config: SimConfig,
    pub port: u16,
    pub tls: Option<SimTls>,
    stopping: AtomicBool,
    pub acks: AtomicBool,
    pub records: Mutex<Vec<Record>>,
    pub records_changed: Condvar,
    pub sessions: Mutex<Sessions>,
    pub sessions_changed: Condvar,
    conns: Mutex<Vec<Arc<SimConn>>>,
    pub faults: Mutex<VecDeque<ConnectionFault>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub next_conn: AtomicU64,
    http_requests: AtomicU32,
    /// When each guild last had an "all members" request (1 per guild per 30 s).
    all_member_requests: Mutex<HashMap<String, Instant>>,
}

impl Inner {
    pub fn new(config: SimConfig, port: u16, tls: Option<SimTls>) -> Inner {
        Inner {
            config,
            port,
            tls,
            stopping: AtomicBool::new(false),
            acks: AtomicBool::new(true),
            records: Mutex::new(Vec::new()),
            records_changed: Condvar::new(),
            sessions: Mutex::new(Sessions::default()),
            sessions_changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            threads: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(1),
            http_requests: AtomicU32::new(0),
            all_member_requests: Mutex::new(HashMap::new()),
        }
    }

    /// `ws://127.0.0.1:<port>`, or `wss://localhost:<port>` when serving TLS.
    pub fn gateway_url(&self) -> String {
        match self.tls {
            Some(_) => format!("wss://localhost:{}", self.port),
            None => format!("ws://127.0.0.1:{}", self.port),
        }
    }

    pub fn record(&self, connection: u64, kind: RecordKind) {
        self.records.lock().push(Record {
            at: Instant::now(),
            connection,
            kind,
        });
        self.records_changed.notify_all();
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        // Wake the acceptor.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.conns.lock().iter() {
            conn.conn.shutdown();
        }
    }

    /// The newest live connection.
    pub fn current_conn(&self) -> Option<Arc<SimConn>> {
        let sessions = self.sessions.lock();
        if let Some(conn) = sessions
            .current
            .as_ref()
            .and_then(|id| sessions.map.get(id))
            .and_then(|s| s.conn.clone())
        {
            return Some(conn);
        }
        drop(sessions);
        self.conns.lock().last().cloned()
    }

    pub fn destroy_current_session(&self) {
        let mut sessions = self.sessions.lock();
        if let Some(id) = sessions.current.clone() {
            sessions.map.remove(&id);
        }
    }

    pub fn push(&self, event_type: &str, data_json: &str) -> Option<u64> {
        let mut sessions = self.sessions.lock();
        let id = sessions.current.clone()?;
        let session = sessions.map.get_mut(&id)?;
        Some(self.push_to(session, event_type, data_json))
    }

    /// Numbers, buffers and (if connected) sends one dispatch. Called with the sessions lock
    /// held, which keeps concurrent pushes and resumes in order.
    fn push_to(&self, session: &mut SimSession, event_type: &str, data_json: &str) -> u64 {
        session.seq += 1;
        let seq = session.seq;
        let json = format!(r#"{{"op":0,"s":{seq},"t":"{event_type}","d":{data_json}}}"#);
        if let Some(conn) = &session.conn {
            if !conn.send_text(&json) {
                session.conn = None;
            }
        }
        session.buffer.push_back((seq, json));
        if session.buffer.len() > self.config.replay_buffer {
            session.buffer.pop_front();
        }
        seq
    }
}

pub(crate) fn accept_loop(inner: &Arc<Inner>, listener: TcpListener) {
    for stream in listener.incoming() {
        if inner.stopping.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = inner.next_conn.fetch_add(1, Ordering::AcqRel);
        let worker = inner.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("syncord-sim-conn-{id}"))
            .stack_size(512 * 1024)
            .spawn(move || serve(&worker, stream, id));
        if let Ok(handle) = spawned {
            let mut threads = inner.threads.lock();
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
    }
}

pub(crate) fn join_all(inner: &Inner) {
    let threads: Vec<_> = inner.threads.lock().drain(..).collect();
    for thread in threads {
        let _ = thread.join();
    }
}

fn serve(inner: &Arc<Inner>, tcp: TcpStream, id: u64) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_nodelay(true);
    let Ok(shared) = tcp.try_clone() else {
        return;
    };
    let mut stream = match &inner.tls {
        Some(tls) => match tls.acceptor.accept(tcp) {
            Ok(stream) => MaybeTlsStream::NativeTls(stream),
            Err(_) => {
                inner.record(id, RecordKind::Disconnected);
                return;
            }
        },
        None => MaybeTlsStream::Plain(tcp),
    };
    let Ok(head) = read_head(&mut stream) else {
        return;
    };
    if head.path.starts_with("/api/") {
        serve_http(inner, &mut stream, &head);
        return;
    }
    let fault = inner.faults.lock().pop_front();
    let fault = match fault {
        Some(ConnectionFault::RefuseResume) if head.path != "/resume" => {
            inner
                .faults
                .lock()
                .push_front(ConnectionFault::RefuseResume);
            None
        }
        other => other,
    };
    if matches!(
        fault,
        Some(ConnectionFault::Refuse | ConnectionFault::RefuseResume)
    ) {
        inner.record(id, RecordKind::Disconnected);
        return;
    }
    if accept_upgrade(&mut stream, &head).is_err() {
        return;
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let ws =
        WebSocket::from_partially_read(stream, head.rest.clone(), Role::Server, Some(ws_config));
    let Ok(conn) = Connection::from_parts(ws, shared) else {
        return;
    };
    let encoder = match query_param(&head.query, "compress") {
        None => Some(SimEncoder::Plain {
            payload_compression: false,
        }),
        Some("zlib-stream") => Some(SimEncoder::Zlib(ZlibStreamEncoder::new())),
        #[cfg(feature = "zstd")]
        Some("zstd-stream") => ZstdStreamEncoder::new().ok().map(SimEncoder::Zstd),
        Some(_) => None,
    };
    let known_compression = encoder.is_some();
    let conn = Arc::new(SimConn {
        id,
        conn,
        encoder: Mutex::new(encoder.unwrap_or(SimEncoder::Plain {
            payload_compression: false,
        })),
        zlib_frame_size: inner.config.zlib_frame_size,
        session: Mutex::new(None),
        sends: Mutex::new(VecDeque::new()),
    });
    inner.conns.lock().push(conn.clone());
    inner.record(
        id,
        RecordKind::Connected {
            path: head.path.clone(),
            query: head.query.clone(),
        },
    );
    if !known_compression {
        inner.record(id, RecordKind::ClosedByServer { code: 4002 });
        conn.conn.close(4002, "Unsupported compression");
    } else if !inner.stopping.load(Ordering::Acquire) {
        serve_gateway(inner, &conn, &head, fault);
    }
    conn.conn.shutdown();
    inner.conns.lock().retain(|c| c.id != id);
    let mut sessions = inner.sessions.lock();
    for session in sessions.map.values_mut() {
        if session.conn.as_ref().is_some_and(|c| c.id == id) {
            session.conn = None;
        }
    }
    drop(sessions);
    inner.sessions_changed.notify_all();
}

fn serve_http(inner: &Inner, stream: &mut MaybeTlsStream<TcpStream>, head: &RequestHead) {
    let config = &inner.config;
    let authorized = head.header("Authorization") == Some(&format!("Bot {}", config.token));
    let (status, body) = if head.method != "GET" {
        (404, r#"{"message":"404: Not Found","code":0}"#.to_owned())
    } else if head.path == "/api/v10/gateway" {
        (200, format!(r#"{{"url":"{}"}}"#, inner.gateway_url()))
    } else if head.path == "/api/v10/gateway/bot" {
        if !authorized {
            (
                401,
                r#"{"message":"401: Unauthorized","code":0}"#.to_owned(),
            )
        } else if inner.http_requests.fetch_add(1, Ordering::AcqRel) < config.gateway_bot_429s {
            (
                429,
                r#"{"message":"You are being rate limited.","retry_after":0.05,"global":false}"#
                    .to_owned(),
            )
        } else {
            (
                200,
                format!(
                    r#"{{"url":"{}","shards":{},"session_start_limit":{{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":{}}}}}"#,
                    inner.gateway_url(),
                    config.shards,
                    config.max_concurrency
                ),
            )
        }
    } else {
        (404, r#"{"message":"404: Not Found","code":0}"#.to_owned())
    };
    inner.record(
        0,
        RecordKind::Http {
            path: head.path.clone(),
            status,
            user_agent: head.header("User-Agent").unwrap_or("").to_owned(),
        },
    );
    let _ = respond(stream, status, &body);
}

/// Why the simulator is closing a connection.
struct CloseWith(u16, &'static str);

fn serve_gateway(
    inner: &Arc<Inner>,
    conn: &Arc<SimConn>,
    head: &RequestHead,
    fault: Option<ConnectionFault>,
) {
    let close = |CloseWith(code, reason): CloseWith| {
        inner.record(conn.id, RecordKind::ClosedByServer { code });
        conn.conn.close(code, reason);
    };
    if !matches!(query_param(&head.query, "v"), Some("9" | "10")) {
        return close(CloseWith(4012, "Invalid API version"));
    }
    if !matches!(query_param(&head.query, "encoding"), None | Some("json")) {
        return close(CloseWith(4002, "Unsupported encoding"));
    }
    match fault {
        Some(ConnectionFault::NoHello) => {}
        Some(ConnectionFault::DelayHello(delay)) => {
            std::thread::sleep(delay);
            hello(inner, conn);
        }
        _ => hello(inner, conn),
    }
    loop {
        let message = match conn.conn.read() {
            Ok(message) => message,
            Err(_) => {
                inner.record(conn.id, RecordKind::Disconnected);
                return;
            }
        };
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Binary(bytes) => {
                inner.record(
                    conn.id,
                    RecordKind::Received {
                        op: None,
                        json: String::from_utf8_lossy(&bytes).into_owned(),
                    },
                );
                return close(CloseWith(4002, "Binary frames are not accepted"));
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                inner.record(conn.id, RecordKind::ClosedByClient { code });
                if matches!(code, Some(1000 | 1001)) {
                    // PROTOCOL.md §3: a client 1000/1001 ends the session.
                    if let Some(id) = conn.session.lock().take() {
                        inner.sessions.lock().map.remove(&id);
                    }
                }
                return;
            }
            _ => continue,
        };
        if let Err(reason) = handle_payload(inner, conn, &text) {
            return close(reason);
        }
    }
}

fn hello(inner: &Inner, conn: &SimConn) {
    let interval = inner.config.heartbeat_interval.as_millis();
    conn.send_text(&format!(
        r#"{{"op":10,"d":{{"heartbeat_interval":{interval},"_trace":["sim"]}},"s":null,"t":null}}"#
    ));
}

fn handle_payload(inner: &Arc<Inner>, conn: &Arc<SimConn>, text: &str) -> Result<(), CloseWith> {
    let value: Option<Value> = serde_json::from_str(text).ok();
    let op = value
        .as_ref()
        .and_then(|v| v.get("op"))
        .and_then(Value::as_u64);
    inner.record(
        conn.id,
        RecordKind::Received {
            op: op.and_then(|op| u8::try_from(op).ok()),
            json: text.to_owned(),
        },
    );
    // PROTOCOL.md §5.1: more than the limit in any rolling window closes with 4008.
    let (limit, window) = inner.config.rate_limit;
    {
        let now = Instant::now();
        let mut sends = conn.sends.lock();
        while sends
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            sends.pop_front();
        }
        sends.push_back(now);
        if sends.len() > limit {
            return Err(CloseWith(4008, "Rate limited."));
        }
    }
    if text.len() > MAX_SEND_SIZE {
        return Err(CloseWith(4002, "Payload too large"));
    }
    let (Some(value), Some(op)) = (value, op) else {
        return Err(CloseWith(4002, "Error while decoding payload"));
    };
    let d = value.get("d").cloned().unwrap_or(Value::Null);
    let authed = conn.session.lock().clone();
    match op {
        1 => {
            if inner.acks.load(Ordering::Acquire) {
                conn.send_text(r#"{"op":11,"d":null,"s":null,"t":null}"#);
            }
            Ok(())
        }
        2 if authed.is_some() => Err(CloseWith(4005, "Already authenticated")),
        2 => identify(inner, conn, &d),
        6 if authed.is_some() => Err(CloseWith(4005, "Already authenticated")),
        6 => resume(inner, conn, &d),
        3 | 4 | 8 | 31 | 43 if authed.is_none() => Err(CloseWith(4003, "Not authenticated")),
        8 => request_members(inner, &d),
        3 | 4 | 31 | 43 => Ok(()),
        _ => Err(CloseWith(4001, "Unknown opcode")),
    }
}

fn identify(inner: &Arc<Inner>, conn: &Arc<SimConn>, d: &Value) -> Result<(), CloseWith> {
    let config = &inner.config;
    let token = d.get("token").and_then(Value::as_str);
    let properties_ok = d.get("properties").is_some_and(|p| {
        ["os", "browser", "device"]
            .iter()
            .all(|k| p.get(k).is_some_and(Value::is_string))
    });
    let intents = d.get("intents").and_then(Value::as_u64);
    let (Some(token), true, Some(intents)) = (token, properties_ok, intents) else {
        return Err(CloseWith(4002, "Invalid identify payload"));
    };
    if token.strip_prefix("Bot ").unwrap_or(token) != config.token {
        return Err(CloseWith(4004, "Authentication failed."));
    }
    let Some(intents) = Intents::from_bits(intents) else {
        return Err(CloseWith(4013, "Invalid intent(s)."));
    };
    if !config.allowed_privileged.contains(intents.privileged()) {
        return Err(CloseWith(4014, "Disallowed intent(s)."));
    }
    let shard = match d.get("shard") {
        None | Some(Value::Null) => [0, 1],
        Some(value) => match serde_json::from_value::<[u64; 2]>(value.clone()) {
            Ok([id, count]) if count >= 1 && id < count => [id, count],
            _ => return Err(CloseWith(4010, "Invalid shard.")),
        },
    };
    let guilds: Vec<u64> = (0..u64::from(config.guilds))
        .map(|i| (i + 1) << 22)
        .filter(|g| (g >> 22) % shard[1] == shard[0])
        .collect();
    if guilds.len() > config.max_guilds_per_shard as usize {
        return Err(CloseWith(4011, "Sharding required."));
    }
    let mut sessions = inner.sessions.lock();
    sessions.next_id += 1;
    let session_id = format!("sim-session-{}-{}", inner.port, sessions.next_id);
    let unavailable: Vec<String> = guilds
        .iter()
        .map(|g| format!(r#"{{"id":"{g}","unavailable":true}}"#))
        .collect();
    let ready = format!(
        r#"{{"v":10,"user":{{"id":"1000","username":"sim-bot","discriminator":"0","global_name":null,"avatar":null,"bot":true}},"guilds":[{}],"session_id":"{session_id}","resume_gateway_url":{},"shard":[{},{}],"application":{{"id":"1000","flags":0}},"_trace":["sim"]}}"#,
        unavailable.join(","),
        Value::String(
            config
                .resume_gateway_url
                .clone()
                .unwrap_or_else(|| format!("{}/resume", inner.gateway_url()))
        ),
        shard[0],
        shard[1]
    );
    let mut session = SimSession {
        seq: 0,
        buffer: VecDeque::new(),
        conn: Some(conn.clone()),
    };
    inner.push_to(&mut session, "READY", &ready);
    for g in &guilds {
        let guild = format!(
            r#"{{"id":"{g}","name":"sim guild {g}","unavailable":false,"member_count":{},"channels":[],"members":[],"roles":[]}}"#,
            config.members
        );
        inner.push_to(&mut session, "GUILD_CREATE", &guild);
    }
    *conn.session.lock() = Some(session_id.clone());
    if d.get("compress").and_then(Value::as_bool) == Some(true) {
        if let SimEncoder::Plain {
            payload_compression,
        } = &mut *conn.encoder.lock()
        {
            *payload_compression = true;
        }
    }
    sessions.map.insert(session_id.clone(), session);
    sessions.current = Some(session_id);
    drop(sessions);
    inner.sessions_changed.notify_all();
    Ok(())
}

fn resume(inner: &Arc<Inner>, conn: &Arc<SimConn>, d: &Value) -> Result<(), CloseWith> {
    let token = d.get("token").and_then(Value::as_str);
    let session_id = d.get("session_id").and_then(Value::as_str);
    let seq = d.get("seq").and_then(Value::as_u64);
    let (Some(token), Some(session_id), Some(seq)) = (token, session_id, seq) else {
        return Err(CloseWith(4002, "Invalid resume payload"));
    };
    if token.strip_prefix("Bot ").unwrap_or(token) != inner.config.token {
        return Err(CloseWith(4004, "Authentication failed."));
    }
    let mut sessions = inner.sessions.lock();
    let Some(session) = sessions.map.get_mut(session_id) else {
        drop(sessions);
        conn.send_text(r#"{"op":9,"d":false,"s":null,"t":null}"#);
        return Ok(());
    };
    let oldest = session.buffer.front().map_or(session.seq + 1, |(s, _)| *s);
    if seq > session.seq || seq + 1 < oldest {
        return Err(CloseWith(4007, "Invalid seq."));
    }
    // A resume takes the session over from any older connection.
    session.conn = Some(conn.clone());
    for (s, json) in &session.buffer {
        if *s > seq && !conn.send_text(json) {
            break;
        }
    }
    inner.push_to(session, "RESUMED", r#"{"_trace":["sim"]}"#);
    *conn.session.lock() = Some(session_id.to_owned());
    sessions.current = Some(session_id.to_owned());
    drop(sessions);
    inner.sessions_changed.notify_all();
    Ok(())
}

fn request_members(inner: &Arc<Inner>, d: &Value) -> Result<(), CloseWith> {
    let Some(guild_id) = d.get("guild_id").and_then(Value::as_str) else {
        return Err(CloseWith(4001, "Invalid request guild members payload"));
    };
    let nonce = d.get("nonce").and_then(Value::as_str);
    let config = &inner.config;
    let wants_all = d.get("query").and_then(Value::as_str) == Some("")
        && d.get("limit").and_then(Value::as_u64) == Some(0);
    if wants_all {
        // PROTOCOL.md §5.1: "all members" is 1 request per guild per 30 s.
        const ALL_MEMBERS_WINDOW: Duration = Duration::from_secs(30);
        let now = Instant::now();
        let mut last = inner.all_member_requests.lock();
        if let Some(previous) = last.get(guild_id) {
            let elapsed = now.duration_since(*previous);
            if elapsed < ALL_MEMBERS_WINDOW {
                let retry_after = (ALL_MEMBERS_WINDOW - elapsed).as_secs_f64();
                let meta = match nonce {
                    Some(n) => serde_json::json!({"guild_id": guild_id, "nonce": n}),
                    None => serde_json::json!({"guild_id": guild_id}),
                };
                let data =
                    serde_json::json!({"opcode": 8, "retry_after": retry_after, "meta": meta});
                drop(last);
                inner.push("RATE_LIMITED", &data.to_string());
                return Ok(());
            }
        }
        last.insert(guild_id.to_owned(), now);
    }
    let (members, not_found): (Vec<String>, Vec<String>) = match d.get("user_ids") {
        Some(Value::Array(ids)) => {
            let ids: Vec<u64> = ids
                .iter()
                .filter_map(|v| v.as_str()?.parse().ok())
                .collect();
            let (found, missing): (Vec<u64>, Vec<u64>) = ids
                .into_iter()
                .partition(|id| (1..=u64::from(config.members)).contains(id));
            (
                found.iter().map(|id| member_json(*id)).collect(),
                missing.iter().map(|id| format!(r#""{id}""#)).collect(),
            )
        }
        _ => (
            (1..=u64::from(config.members)).map(member_json).collect(),
            Vec::new(),
        ),
    };
    let chunks: Vec<&[String]> = if members.is_empty() {
        vec![&[]]
    } else {
        members.chunks(config.member_chunk_size as usize).collect()
    };
    let count = chunks.len();
    let nonce_field = nonce.map_or(String::new(), |n| {
        format!(r#","nonce":{}"#, Value::String(n.to_owned()))
    });
    let mut sessions = inner.sessions.lock();
    let Some(id) = sessions.current.clone() else {
        return Ok(());
    };
    let Some(session) = sessions.map.get_mut(&id) else {
        return Ok(());
    };
    for (index, chunk) in chunks.iter().enumerate() {
        let data = format!(
            r#"{{"guild_id":{},"members":[{}],"chunk_index":{index},"chunk_count":{count},"not_found":[{}]{nonce_field}}}"#,
            Value::String(guild_id.to_owned()),
            chunk.join(","),
            if index == 0 {
                not_found.join(",")
            } else {
                String::new()
            },
        );
        inner.push_to(session, "GUILD_MEMBERS_CHUNK", &data);
    }
    Ok(())
}

fn member_json(id: u64) -> String {
    format!(
        r#"{{"user":{{"id":"{id}","username":"member{id}","discriminator":"0","avatar":null}},"roles":[],"joined_at":"2024-01-01T00:00:00.000000+00:00","deaf":false,"mute":false,"flags":0}}"#
    )
}
