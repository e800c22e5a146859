//! The Slack simulator's shared state: tickets, connections, the record book, deliveries and
//! the schedule, with the operations every part of the simulator uses on them. It calls
//! none of the protocol modules.

use super::conn::SlackConn;
use super::record::{Ack, ConnId, ConnKind, Delivery, RtmMessage, SlackRecord, SlackRecordKind};
use super::schedule::{Job, PendingEvent, Schedule};
use super::SlackSimConfig;
use crate::sim::accept::{AcceptState, ShutDown};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the simulator waits for the client's answer to its close frame.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// An envelope as sent, kept so it can be sent again.
pub(super) struct Stored {
    pub(super) kind: String,
    pub(super) event_id: Option<String>,
    pub(super) payload: String,
    pub(super) accepts_response_payload: bool,
}

#[derive(Default)]
pub(crate) struct Deliveries {
    /// By envelope id: `events_api` deliveries not acked yet.
    pub(super) pending: HashMap<String, PendingEvent>,
    /// Retries due while no connection could take them.
    pub(super) waiting: VecDeque<PendingEvent>,
    pub(super) sent: HashMap<String, Stored>,
    /// The connection the last delivery went to (round-robin).
    pub(super) cursor: u64,
    pub(super) duplicates_left: usize,
    pub(super) next_event: u64,
}

impl Deliveries {
    /// A fresh `event_id`, shaped like Slack's (`Ev…`).
    pub fn next_event_id(&mut self) -> String {
        self.next_event += 1;
        format!("Ev0SIM{:08}", self.next_event)
    }
}

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
    /// The accept loop's port, stop flag and connection count.
    pub accept: Arc<AcceptState>,
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
    /// RTM `ts` values count up from it.
    pub next_ts: AtomicU64,
}

impl Inner {
    pub fn new(config: SlackSimConfig, accept: &Arc<AcceptState>) -> Inner {
        Inner {
            config,
            port: accept.port(),
            accept: accept.clone(),
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
            next_ts: AtomicU64::new(1),
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.accept.is_stopping()
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
        self.record_sent(conn, text, sent)
    }

    /// [`Inner::send_text`] for `hello`, which also marks the connection ready for
    /// deliveries ([`SlackConn::send_hello`]).
    pub fn send_hello(&self, conn: &SlackConn, text: &str) -> bool {
        let sent = conn.send_hello(text);
        self.record_sent(conn, text, sent)
    }

    fn record_sent(&self, conn: &SlackConn, text: &str, sent: bool) -> bool {
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
}

impl ShutDown for Inner {
    fn shut_down(&self) {
        self.schedule.stop();
        for conn in self.conns.lock().iter() {
            conn.shutdown();
        }
    }
}
