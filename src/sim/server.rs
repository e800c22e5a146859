//! The simulator's server side: accepting, the per-connection protocol, sessions and replay.

use super::http::{accept_upgrade, query_param, read_head, respond, RequestHead};
use super::record::{Record, RecordKind};
use super::{ConnectionFault, SimConfig};
#[cfg(feature = "zstd")]
use crate::transport::deflate::ZstdStreamEncoder;
use crate::transport::deflate::{payload_zlib, ZlibStreamEncoder};
use crate::transport::{Connection, ReadAhead, Stream};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
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
    pub seq: u64,
    pub buffer: VecDeque<(u64, String)>,
    pub conn: Option<Arc<SimConn>>,
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
    pub encoder: Mutex<SimEncoder>,
    zlib_frame_size: usize,
    /// The session this connection is authenticated for.
    pub session: Mutex<Option<String>>,
    /// Receive times in the rate-limit window.
    pub sends: Mutex<VecDeque<Instant>>,
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
    /// How long each heartbeat ACK is held back, in microseconds.
    pub ack_delay_us: AtomicU64,
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
    pub all_member_requests: Mutex<HashMap<String, Instant>>,
}

impl Inner {
    pub fn new(config: SimConfig, port: u16, tls: Option<SimTls>) -> Inner {
        Inner {
            config,
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
    pub fn push_to(&self, session: &mut SimSession, event_type: &str, data_json: &str) -> u64 {
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
        super::gateway::serve_gateway(inner, &conn, &head, fault);
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
                let mut body = format!(
                    r#"{{"url":"{}","shards":{},"session_start_limit":{{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":{}}}}}"#,
                    inner.gateway_url(),
                    config.shards,
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
