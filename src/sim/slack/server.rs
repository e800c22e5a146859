//! The Slack simulator's shared state, its accept path (HTTP API or websocket upgrade) and
//! the frame loop every websocket connection runs.

use super::conn::{Phase, SlackConn};
use super::delivery::Deliveries;
use super::frame::{close_code, opcode, read_frame};
use super::record::{Ack, ConnId, ConnKind, Delivery, RtmMessage, SlackRecord, SlackRecordKind};
use super::schedule::{Job, Schedule};
use super::SlackSimConfig;
use crate::sim::accept::ConnThreads;
use crate::sim::http::{accept_upgrade, query_param, read_head, respond_with};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Cursor, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the simulator waits for the client's answer to its close frame.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// A scripted answer for the next `apps.connections.open`.
#[derive(Clone, Debug)]
pub(crate) enum OpenScript {
    Fail(String),
    RateLimit(Duration),
}

/// A URL handed out by `apps.connections.open` or `rtm.connect`.
pub(crate) struct Ticket {
    pub kind: ConnKind,
    pub issued: Instant,
    pub used: bool,
}

/// Everything recorded, under one lock.
#[derive(Default)]
pub(crate) struct Book {
    pub records: Vec<SlackRecord>,
    pub acks: Vec<Ack>,
    pub deliveries: Vec<Delivery>,
    pub rtm_messages: Vec<RtmMessage>,
    /// Bumped on every change (records, connections), so waiters never miss one.
    pub generation: u64,
}

pub(crate) struct Inner {
    pub config: SlackSimConfig,
    pub port: u16,
    pub stopping: AtomicBool,
    pub socket_mode_enabled: AtomicBool,
    pub answer_pings: AtomicBool,
    pub send_pings: AtomicBool,
    pub open_script: Mutex<VecDeque<OpenScript>>,
    pub open_requests: AtomicUsize,
    pub tickets: Mutex<HashMap<String, Ticket>>,
    /// Every websocket connection accepted, in order (closed ones too).
    pub conns: Mutex<Vec<Arc<SlackConn>>>,
    pub book: Mutex<Book>,
    pub changed: Condvar,
    pub deliveries: Mutex<Deliveries>,
    pub schedule: Schedule,
    pub threads: ConnThreads,
    pub next_conn: AtomicU64,
    /// RTM `ts` values count up from it.
    pub next_ts: AtomicU64,
}

impl Inner {
    pub fn new(config: SlackSimConfig, port: u16) -> Inner {
        Inner {
            config,
            port,
            stopping: AtomicBool::new(false),
            socket_mode_enabled: AtomicBool::new(true),
            answer_pings: AtomicBool::new(true),
            send_pings: AtomicBool::new(true),
            open_script: Mutex::new(VecDeque::new()),
            open_requests: AtomicUsize::new(0),
            tickets: Mutex::new(HashMap::new()),
            conns: Mutex::new(Vec::new()),
            book: Mutex::new(Book::default()),
            changed: Condvar::new(),
            deliveries: Mutex::new(Deliveries::default()),
            schedule: Schedule::default(),
            threads: ConnThreads::default(),
            next_conn: AtomicU64::new(1),
            next_ts: AtomicU64::new(1),
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Changes the book and wakes every waiter.
    pub fn with_book<T>(&self, change: impl FnOnce(&mut Book) -> T) -> T {
        let mut book = self.book.lock();
        let result = change(&mut book);
        book.generation += 1;
        drop(book);
        self.changed.notify_all();
        result
    }

    pub fn record(&self, conn: Option<ConnId>, kind: SlackRecordKind) {
        self.with_book(|book| {
            book.records.push(SlackRecord {
                at: Instant::now(),
                conn,
                kind,
            })
        });
    }

    /// Waits until `done()` holds, or `timeout`; rechecked after every change.
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let generation = self.book.lock().generation;
            if done() {
                return true;
            }
            let mut book = self.book.lock();
            while book.generation == generation {
                if self.changed.wait_until(&mut book, deadline).timed_out() {
                    drop(book);
                    return done();
                }
            }
        }
    }

    pub fn conn(&self, id: ConnId) -> Option<Arc<SlackConn>> {
        self.conns.lock().iter().find(|c| c.id == id).cloned()
    }

    /// Socket Mode connections Slack counts now (open ones and ghosts).
    pub fn counted_socket_mode(conns: &[Arc<SlackConn>], now: Instant) -> usize {
        conns
            .iter()
            .filter(|c| c.kind == ConnKind::SocketMode && c.counted(now))
            .count()
    }

    /// Sends a text frame and records it.
    pub fn send_text(&self, conn: &SlackConn, text: &str) -> bool {
        let sent = conn.send_text(text);
        if sent {
            self.record(
                Some(conn.id),
                SlackRecordKind::Sent {
                    text: text.to_owned(),
                },
            );
        }
        sent
    }

    /// Starts the closing handshake on `conn`, bounded by a timeout.
    pub fn close(&self, conn: &SlackConn, code: u16, reason: &str) -> bool {
        if !conn.start_close(code, reason) {
            return false;
        }
        self.record(
            Some(conn.id),
            SlackRecordKind::ClosedByServer {
                code,
                reason: reason.to_owned(),
            },
        );
        self.schedule.at(
            Instant::now() + CLOSE_HANDSHAKE_TIMEOUT,
            Job::CloseTimeout(conn.id),
        );
        true
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.schedule.stop();
        // Wake the acceptor.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.conns.lock().iter() {
            conn.shutdown();
        }
    }

    /// Carries out one due job.
    pub fn fire(&self, job: Job) {
        match job {
            Job::Ping(id) => {
                let Some(conn) = self.conn(id) else { return };
                if conn.phase() != Phase::Open {
                    return;
                }
                if self.send_pings.load(Ordering::Acquire)
                    && conn.send_frame(opcode::PING, format!("Ping from {}", conn.host).as_bytes())
                {
                    self.record(Some(id), SlackRecordKind::PingSent);
                }
                self.schedule
                    .at(Instant::now() + self.config.ping_interval, Job::Ping(id));
            }
            Job::AckDeadline(envelope_id) => super::delivery::ack_deadline(self, &envelope_id),
            Job::Retry(event) => super::delivery::retry(self, *event),
            Job::Duplicate(envelope_id) => {
                super::delivery::send_copy(self, &envelope_id);
            }
            Job::Close(id, code, reason) => {
                if let Some(conn) = self.conn(id) {
                    self.close(&conn, code, reason);
                }
            }
            Job::CloseTimeout(id) => {
                if let Some(conn) = self.conn(id) {
                    if conn.phase() == Phase::ServerClosing {
                        conn.shutdown();
                    }
                }
            }
        }
    }
}

pub(crate) fn run_schedule(inner: &Inner) {
    while let Some(job) = inner.schedule.next_due() {
        if inner.is_stopping() {
            return;
        }
        inner.fire(job);
    }
}

/// Serves one accepted TCP connection: an API call or a websocket.
pub(crate) fn serve(inner: &Arc<Inner>, mut tcp: TcpStream, id: u64) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_nodelay(true);
    let Ok(head) = read_head(&mut tcp) else {
        return;
    };
    if inner.is_stopping() {
        return;
    }
    if head.path.starts_with("/api/") {
        super::api::serve_api(inner, &mut tcp, &head);
        return;
    }
    let path = head.path.trim_end_matches('/');
    let kind = match path {
        "/link" => ConnKind::SocketMode,
        "/rtm" => ConnKind::Rtm,
        _ => {
            let _ = respond_with(&mut tcp, 404, r#"{"ok":false,"error":"not_found"}"#, &[]);
            return;
        }
    };
    // Single-use tickets; RTM URLs also expire ("Legacy RTM API": valid 30 s).
    let ticket = query_param(&head.query, "ticket").unwrap_or("");
    let expired = {
        let mut tickets = inner.tickets.lock();
        match tickets.get_mut(ticket) {
            Some(t) if !t.used && t.kind == kind => {
                t.used = true;
                kind == ConnKind::Rtm && t.issued.elapsed() > inner.config.rtm_url_ttl
            }
            _ => {
                drop(tickets);
                inner.record(None, SlackRecordKind::UpgradeRefused { status: 401 });
                let _ = respond_with(
                    &mut tcp,
                    401,
                    r#"{"ok":false,"error":"invalid_ticket"}"#,
                    &[],
                );
                return;
            }
        }
    };
    if accept_upgrade(&mut tcp, &head).is_err() {
        return;
    }
    let _ = tcp.set_read_timeout(None);
    let Ok(conn) = SlackConn::new(ConnId(id), kind, &tcp) else {
        return;
    };
    let conn = Arc::new(conn);
    let counted_before = {
        let mut conns = inner.conns.lock();
        let counted = Inner::counted_socket_mode(&conns, Instant::now());
        conns.push(conn.clone());
        counted
    };
    inner.record(Some(conn.id), SlackRecordKind::Opened { kind });
    let mut reader = BufReader::with_capacity(16 * 1024, Cursor::new(head.rest.clone()).chain(tcp));
    match kind {
        ConnKind::SocketMode => {
            let debug_reconnects = query_param(&head.query, "debug_reconnects") == Some("true");
            super::socket_mode::serve(inner, &conn, &mut reader, counted_before, debug_reconnects);
        }
        ConnKind::Rtm => super::rtm::serve(inner, &conn, &mut reader, expired),
    }
}

/// What to do with the text messages of a connection.
pub(crate) trait TextHandler {
    /// Frames of this many bytes or more close the connection with 1009 and `reason`.
    fn frame_limit(&self) -> (u64, &'static str);
    /// Whether fragmented messages are dropped (Socket Mode) instead of reassembled.
    fn drop_fragmented(&self) -> bool;
    /// One complete text message.
    fn text(&mut self, inner: &Inner, conn: &SlackConn, text: &str, frame_len: usize);
}

/// Reads frames until TCP ends: control frames, the closing handshake and text messages
/// (to `handler`); then marks the connection ended or a ghost.
pub(crate) fn frame_loop(
    inner: &Inner,
    conn: &SlackConn,
    reader: &mut impl Read,
    handler: &mut impl TextHandler,
) {
    let (limit, limit_reason) = handler.frame_limit();
    let mut fragments: Option<(Vec<u8>, usize)> = None;
    let id = Some(conn.id);
    while let Ok(frame) = read_frame(reader, limit) {
        match frame.opcode {
            opcode::PING => {
                // Answered before it is recorded: once a test sees the record, any pong is
                // on the wire.
                if inner.answer_pings.load(Ordering::Acquire) {
                    conn.send_frame(opcode::PONG, &frame.payload);
                }
                inner.record(
                    id,
                    SlackRecordKind::Ping {
                        payload: frame.payload,
                    },
                );
            }
            opcode::PONG => inner.record(
                id,
                SlackRecordKind::Pong {
                    payload: frame.payload,
                },
            ),
            opcode::CLOSE => {
                let code = close_code(&frame.payload);
                match conn.phase() {
                    Phase::ServerClosing => {
                        inner.record(id, SlackRecordKind::CloseEchoed { code });
                        // The server closes TCP after the handshake (RFC 6455 §7.1.1).
                        conn.shutdown();
                    }
                    Phase::Open => {
                        inner.record(id, SlackRecordKind::ClosedByClient { code });
                        conn.answer_close(code);
                        if inner.config.close_tcp_after_close_handshake {
                            conn.shutdown();
                        }
                    }
                    Phase::ClientClosed | Phase::Ended => {}
                }
            }
            _ if frame.skipped => {
                inner.record(
                    id,
                    SlackRecordKind::OversizedFrame {
                        frame_len: frame.len,
                    },
                );
                inner.close(conn, 1009, limit_reason);
            }
            opcode::TEXT if frame.fin => {
                let len = frame.payload.len();
                match String::from_utf8(frame.payload) {
                    Ok(text) => handler.text(inner, conn, &text, len),
                    // RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection.
                    Err(_) => {
                        inner.close(conn, 1007, "invalid UTF-8");
                    }
                }
            }
            opcode::TEXT => fragments = Some((frame.payload, 1)),
            opcode::CONTINUATION => {
                let Some((mut bytes, frames)) = fragments.take() else {
                    inner.close(conn, 1002, "continuation without a message");
                    continue;
                };
                bytes.extend_from_slice(&frame.payload);
                if !frame.fin {
                    fragments = Some((bytes, frames + 1));
                    continue;
                }
                if handler.drop_fragmented() {
                    inner.record(
                        id,
                        SlackRecordKind::FragmentedDropped {
                            len: bytes.len(),
                            frames: frames + 1,
                        },
                    );
                } else if bytes.len() as u64 >= limit {
                    inner.record(
                        id,
                        SlackRecordKind::OversizedFrame {
                            frame_len: bytes.len() as u64,
                        },
                    );
                    inner.close(conn, 1009, limit_reason);
                } else if let Ok(text) = String::from_utf8(bytes) {
                    let len = text.len();
                    handler.text(inner, conn, &text, len);
                }
            }
            opcode::BINARY => inner.record(
                id,
                SlackRecordKind::Binary {
                    len: frame.payload.len(),
                },
            ),
            _ => {
                inner.close(conn, 1002, "unknown opcode");
            }
        }
    }
    conn.shutdown();
    let ghost = {
        let mut state = conn.state.lock();
        let ghost = state.phase == Phase::Open;
        if ghost {
            state.ghost_until = Some(Instant::now() + inner.config.ghost_ttl);
        }
        state.phase = Phase::Ended;
        ghost
    };
    inner.record(
        id,
        if ghost {
            SlackRecordKind::BecameGhost
        } else {
            SlackRecordKind::TcpClosed
        },
    );
}
