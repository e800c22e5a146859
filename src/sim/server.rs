//! The simulator's server side: accepting, the per-connection protocol, sessions and replay.

use super::conn::{SimConn, SimEncoder};
use super::http::{accept_upgrade, query_param, read_head, respond, RequestHead};
use super::record::{Record, RecordKind};
use super::timer::Timer;
use super::{ConnectionFault, SimConfig};
use crate::transport::deflate::ZlibStreamEncoder;
#[cfg(feature = "zstd")]
use crate::transport::deflate::ZstdStreamEncoder;
use crate::transport::{Connection, ReadAhead, Stream};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::WebSocket;

/// One session as the simulator keeps it: sequence, replay buffer and live connection.
pub(crate) struct SimSession {
    /// The `shard` of the Identify that started it.
    pub shard: [u64; 2],
    /// Starts numbered in order, so "the newest session of a shard" is well defined.
    pub number: u64,
    pub seq: u64,
    pub buffer: VecDeque<(u64, String)>,
    conn: Option<Arc<SimConn>>,
    /// What the session identified with; `None` when intents are not enforced.
    pub intents: Option<crate::Intents>,
    /// Since when the session has had no connection (its resume window runs from then).
    detached_at: Option<Instant>,
}

impl SimSession {
    /// A new session, live on `conn`.
    pub fn new(conn: &Arc<SimConn>, shard: [u64; 2], number: u64) -> SimSession {
        SimSession {
            shard,
            number,
            seq: 0,
            buffer: VecDeque::new(),
            conn: Some(conn.clone()),
            intents: None,
            detached_at: None,
        }
    }

    /// The connection dispatches stream to, if any.
    pub fn conn(&self) -> Option<&Arc<SimConn>> {
        self.conn.as_ref()
    }

    /// Makes `conn` the session's live connection (Resume).
    pub fn attach(&mut self, conn: &Arc<SimConn>) {
        self.conn = Some(conn.clone());
        self.detached_at = None;
    }

    /// The session loses its connection; dispatches are buffered for a resume from now on.
    pub fn detach(&mut self) {
        if self.conn.take().is_some() || self.detached_at.is_none() {
            self.detached_at = Some(Instant::now());
        }
    }

    /// Whether the session has been without a connection for longer than `window`
    /// (it can no longer be resumed: "Disconnecting" in Discord's Gateway page).
    pub fn expired(&self, window: Duration, now: Instant) -> bool {
        self.conn.is_none()
            && self
                .detached_at
                .is_some_and(|at| now.saturating_duration_since(at) >= window)
    }
}

#[derive(Default)]
pub(crate) struct Sessions {
    pub map: HashMap<String, SimSession>,
    /// The session that `push` and the fault methods act on: the latest one established.
    pub current: Option<String>,
    pub next_id: u64,
}

impl Sessions {
    pub fn current_live(&self) -> Option<String> {
        let id = self.current.as_ref()?;
        self.map.get(id)?.conn.as_ref()?;
        Some(id.clone())
    }

    /// The newest session matching `wanted` (by its `shard`).
    pub fn newest_where(&self, wanted: impl Fn([u64; 2]) -> bool) -> Option<String> {
        self.map
            .iter()
            .filter(|(_, s)| wanted(s.shard))
            .max_by_key(|(_, s)| s.number)
            .map(|(id, _)| id.clone())
    }

    /// How many sessions have a live connection.
    pub fn live_count(&self) -> usize {
        self.map.values().filter(|s| s.conn.is_some()).count()
    }

    /// Detaches connection `id` from whatever session streams to it.
    pub fn detach_conn(&mut self, id: u64) {
        for session in self.map.values_mut() {
            if session.conn.as_ref().is_some_and(|c| c.id == id) {
                session.detach();
            }
        }
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
    /// How long each heartbeat ACK is held back, in microseconds.
    pub ack_delay_us: AtomicU64,
    pub records: Mutex<Vec<Record>>,
    pub records_changed: Condvar,
    pub sessions: Mutex<Sessions>,
    pub sessions_changed: Condvar,
    conns: Mutex<Vec<Arc<SimConn>>>,
    pub faults: Mutex<VecDeque<ConnectionFault>>,
    threads: super::accept::ConnThreads,
    pub next_conn: AtomicU64,
    http_requests: AtomicU32,
    /// When each guild last had an "all members" request (1 per guild per 30 s).
    pub all_member_requests: Mutex<HashMap<String, Instant>>,
    /// The `User-Agent` of each websocket upgrade, by connection.
    pub user_agents: Mutex<Vec<(u64, Option<String>)>>,
    pub timer: Arc<Timer>,
    /// Identify buckets, session starts, accepted identifies and violations.
    pub limits: Mutex<super::limits::IdentifyBook>,
    /// Guilds the bot is in now ([`super::Simulator::set_guilds`]).
    pub guilds: AtomicU32,
    /// The configured shard count now ([`super::Simulator::set_shards`]).
    pub shards: AtomicU64,
    /// Messages created through REST so far (their ids count from it).
    pub posted: AtomicU64,
    /// Channel id -> guild id, learned from the MESSAGE_CREATEs sent.
    pub channel_guilds: Mutex<HashMap<String, String>>,
}

impl Inner {
    pub fn new(config: SimConfig, port: u16, tls: Option<SimTls>) -> Inner {
        Inner {
            config: config.clone(),
            port,
            tls,
            stopping: AtomicBool::new(false),
            acks: AtomicBool::new(true),
            ack_delay_us: AtomicU64::new(0),
            records: Mutex::new(Vec::new()),
            records_changed: Condvar::new(),
            sessions: Mutex::new(Sessions::default()),
            sessions_changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            threads: super::accept::ConnThreads::default(),
            next_conn: AtomicU64::new(1),
            http_requests: AtomicU32::new(0),
            all_member_requests: Mutex::new(HashMap::new()),
            user_agents: Mutex::new(Vec::new()),
            timer: Arc::new(Timer::default()),
            limits: Mutex::new(super::limits::IdentifyBook::new(&config, Instant::now())),
            guilds: AtomicU32::new(config.guilds),
            shards: AtomicU64::new(config.shards),
            posted: AtomicU64::new(0),
            channel_guilds: Mutex::default(),
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

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// The websocket connections open now.
    pub fn live_conns(&self) -> Vec<Arc<SimConn>> {
        self.conns.lock().clone()
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.timer.notify();
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

    /// Starts the closing handshake on `conn` with `code`: recorded, and the session dropped
    /// first when the config says Discord would not resume after `code`.
    pub fn close_conn(&self, conn: &SimConn, code: u16, reason: &str) -> bool {
        if !conn.claim_close() {
            return false;
        }
        if self.config.end_session_on_close && ends_session(code) {
            let id = conn.session.lock().take();
            if let Some(id) = id {
                self.sessions.lock().map.remove(&id);
            }
        }
        // Recorded before the frame goes out, so it precedes the echo's record.
        self.record(conn.id, RecordKind::ClosedByServer { code });
        conn.send_close(code, reason);
        true
    }

    /// Sends op 9 on `conn`. The connection is no longer authenticated afterwards and
    /// streams nothing more ("Invalid Session" in Discord's Gateway Events page): `false`
    /// destroys its session, `true` keeps the session, buffering its dispatches for a
    /// Resume.
    pub fn invalidate(&self, conn: &SimConn, resumable: bool) -> bool {
        // Under the sessions lock, so no dispatch can slip out after op 9.
        let mut sessions = self.sessions.lock();
        let id = conn.session.lock().take();
        if let Some(id) = id.or_else(|| sessions.current.clone()) {
            if resumable {
                if let Some(session) = sessions.map.get_mut(&id) {
                    if session.conn().is_some_and(|c| c.id == conn.id) {
                        session.detach();
                    }
                }
            } else {
                sessions.map.remove(&id);
            }
        }
        let sent = conn.send_text(&format!(r#"{{"op":9,"d":{resumable},"s":null,"t":null}}"#));
        drop(sessions);
        self.sessions_changed.notify_all();
        sent
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
        self.push_gated(session, event_type, data_json)
    }

    /// Pushes a dispatch as Discord would under the session's intents: not at all (`None`)
    /// when they do not cover it, with message content blanked without `MESSAGE_CONTENT`.
    pub fn push_gated(
        &self,
        session: &mut SimSession,
        event_type: &str,
        data_json: &str,
    ) -> Option<u64> {
        if event_type == "MESSAGE_CREATE" {
            super::rest::learn_channel(self, data_json);
        }
        let Some(intents) = session.intents else {
            return Some(self.push_to(session, event_type, data_json));
        };
        let data = super::intents::gate(intents, event_type, data_json)?;
        Some(self.push_to(session, event_type, &data))
    }

    /// Pushes to the newest session whose `shard` matches `wanted`.
    pub fn push_where(
        &self,
        wanted: impl Fn([u64; 2]) -> bool,
        event_type: &str,
        data_json: &str,
    ) -> Option<(u64, u64)> {
        let mut sessions = self.sessions.lock();
        let id = sessions.newest_where(wanted)?;
        let session = sessions.map.get_mut(&id)?;
        let shard = session.shard[0];
        Some((shard, self.push_to(session, event_type, data_json)))
    }

    /// The recommended shard count now (`shards` of `GET /gateway/bot`).
    pub fn recommended_shards(&self) -> u64 {
        super::limits::recommended_shards(
            self.shards.load(Ordering::Acquire),
            self.guilds.load(Ordering::Acquire),
            self.config.max_guilds_per_shard,
            self.config.shard_count_multiple,
        )
    }

    /// Numbers, buffers and (if connected) sends one dispatch. Called with the sessions lock
    /// held, which keeps concurrent pushes and resumes in order.
    pub fn push_to(&self, session: &mut SimSession, event_type: &str, data_json: &str) -> u64 {
        session.seq += 1;
        let seq = session.seq;
        let json = format!(r#"{{"op":0,"s":{seq},"t":"{event_type}","d":{data_json}}}"#);
        if let Some(conn) = &session.conn {
            if !conn.send_text(&json) {
                session.detach();
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
    let worker = inner.clone();
    super::accept::accept_loop(
        listener,
        &inner.stopping,
        &inner.next_conn,
        &inner.threads,
        "syncord-sim-conn",
        move |stream, id| serve(&worker, stream, id),
    );
}

pub(crate) fn join_all(inner: &Inner) {
    inner.threads.join_all();
}

fn serve(inner: &Arc<Inner>, tcp: TcpStream, id: u64) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_nodelay(true);
    let Ok(shared) = tcp.try_clone() else {
        return;
    };
    let mut stream = match &inner.tls {
        Some(tls) => match tls.acceptor.accept(ReadAhead::new(tcp)) {
            Ok(stream) => MaybeTlsStream::NativeTls(stream),
            Err(_) => {
                inner.record(id, RecordKind::Disconnected);
                return;
            }
        },
        None => MaybeTlsStream::Plain(ReadAhead::new(tcp)),
    };
    let Ok(head) = read_head(&mut stream) else {
        return;
    };
    if head.path.starts_with("/api/") {
        serve_http(inner, &mut stream, &head);
        return;
    }
    let fault = take_fault(&mut inner.faults.lock(), is_resume_path(&head.path));
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
    let encoder = encoder.unwrap_or(SimEncoder::Plain {
        payload_compression: false,
    });
    let conn = Arc::new(SimConn::new(
        id,
        conn,
        encoder,
        inner.config.zlib_frame_size,
        inner.timer.clone(),
    ));
    inner.conns.lock().push(conn.clone());
    inner
        .user_agents
        .lock()
        .push((id, head.header("User-Agent").map(str::to_owned)));
    inner.record(
        id,
        RecordKind::Connected {
            path: head.path.clone(),
            query: head.query.clone(),
        },
    );
    if !inner.stopping.load(Ordering::Acquire) {
        super::gateway::serve_gateway(inner, &conn, &head, fault, known_compression);
    }
    conn.conn.shutdown();
    inner.conns.lock().retain(|c| c.id != id);
    inner.sessions.lock().detach_conn(id);
    inner.sessions_changed.notify_all();
}

/// Whether a client must start a new session after the server closed with `code`
/// ("Gateway Close Event Codes" in Discord's Opcodes and Status Codes page: after 4007 and
/// 4009 start a new session, 4003 means the session was invalidated, 4004 and 4010–4014
/// are not reconnected at all).
pub(crate) fn ends_session(code: u16) -> bool {
    matches!(code, 4003 | 4004 | 4007 | 4009 | 4010..=4014)
}

/// Whether a websocket request goes to the resume URL (`/resume`, also written `/resume/`
/// as some clients append the query to a path ending in a slash).
fn is_resume_path(path: &str) -> bool {
    path.trim_end_matches('/') == "/resume"
}

/// The first scripted fault that applies to this connection: `RefuseResume` only applies
/// on the resume URL, and waits there without holding up the faults queued behind it.
fn take_fault(
    faults: &mut VecDeque<ConnectionFault>,
    resume_path: bool,
) -> Option<ConnectionFault> {
    let index = faults
        .iter()
        .position(|f| resume_path || *f != ConnectionFault::RefuseResume)?;
    faults.remove(index)
}

fn serve_http(inner: &Inner, stream: &mut Stream, head: &RequestHead) {
    let config = &inner.config;
    if let Some(raw) = config
        .gateway_bot_raw
        .as_ref()
        .filter(|_| head.path == "/api/v10/gateway/bot")
    {
        inner.record(
            0,
            RecordKind::Http {
                path: head.path.clone(),
                status: 0,
                user_agent: head.header("User-Agent").unwrap_or("").to_owned(),
            },
        );
        let _ = stream.write_all(raw).and_then(|()| stream.flush());
        return;
    }
    let authorized = head.header("Authorization") == Some(&format!("Bot {}", config.token));
    let (status, body) = if let Some(channel) =
        super::rest::create_message_channel(&head.path).filter(|_| head.method == "POST")
    {
        match super::rest::read_body(stream, head) {
            Ok(body) => super::rest::create_message(inner, authorized, channel, &body),
            Err(failed) => failed,
        }
    } else if head.method != "GET" {
        (404, r#"{"message":"404: Not Found","code":0}"#.to_owned())
    } else if head.path == "/api/v10/gateway" {
        (200, format!(r#"{{"url":"{}"}}"#, inner.gateway_url()))
    } else if head.path == "/api/v10/gateway/bot" {
        if !authorized {
            (
                401,
                r#"{"message":"401: Unauthorized","code":0}"#.to_owned(),
            )
        } else {
            let n = inner.http_requests.fetch_add(1, Ordering::AcqRel);
            if n < config.gateway_bot_429s {
                (
                    429,
                    r#"{"message":"You are being rate limited.","retry_after":0.05,"global":false}"#
                        .to_owned(),
                )
            } else if n - config.gateway_bot_429s < config.gateway_bot_5xx {
                (502, r#"{"message":"502: Bad Gateway","code":0}"#.to_owned())
            } else {
                let (total, remaining, reset_after) = inner.limits.lock().limit(Instant::now());
                let mut body = format!(
                    r#"{{"url":"{}","shards":{},"session_start_limit":{{"total":{total},"remaining":{remaining},"reset_after":{},"max_concurrency":{}}}}}"#,
                    inner.gateway_url(),
                    inner.recommended_shards(),
                    reset_after.as_millis(),
                    config.max_concurrency
                );
                let padding = config.gateway_bot_body_size.saturating_sub(body.len());
                body.extend(std::iter::repeat_n(' ', padding));
                (200, body)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_that_need_a_new_session_end_it() {
        for code in [4003, 4004, 4007, 4009, 4010, 4014] {
            assert!(ends_session(code), "{code}");
        }
        for code in [1000, 1001, 4000, 4001, 4002, 4005, 4008, 4015] {
            assert!(!ends_session(code), "{code}");
        }
    }

    #[test]
    fn resume_path_matches_with_or_without_a_trailing_slash() {
        assert!(is_resume_path("/resume"));
        assert!(is_resume_path("/resume/"));
        assert!(!is_resume_path("/"));
        assert!(!is_resume_path("/resumes"));
        assert!(!is_resume_path("/api/resume"));
    }

    #[test]
    fn refuse_resume_waits_for_a_resume_without_blocking_later_faults() {
        let mut faults: VecDeque<_> = [ConnectionFault::RefuseResume, ConnectionFault::NoHello]
            .into_iter()
            .collect();
        assert_eq!(
            take_fault(&mut faults, false),
            Some(ConnectionFault::NoHello)
        );
        assert_eq!(take_fault(&mut faults, false), None);
        assert_eq!(
            take_fault(&mut faults, true),
            Some(ConnectionFault::RefuseResume)
        );
        assert!(faults.is_empty());
    }

    #[test]
    fn faults_apply_in_order_on_the_resume_url() {
        let mut faults: VecDeque<_> = [ConnectionFault::Refuse, ConnectionFault::RefuseResume]
            .into_iter()
            .collect();
        assert_eq!(take_fault(&mut faults, true), Some(ConnectionFault::Refuse));
        assert_eq!(
            take_fault(&mut faults, true),
            Some(ConnectionFault::RefuseResume)
        );
    }
}
