//! One connection's threads: reader, writer and heartbeat, and the messages between them
//! and the caller's loop (DESIGN.md §1).
//!
//! Every connection gets fresh channels and a generation number; the caller's loop drops
//! anything that carries an older generation, so a late report from a dead connection can
//! never end a new one.

use super::event::{Dispatch, Event};
use super::policy::Ended;
use crate::protocol::{heartbeat_json, Envelope, Hello, OpCode};
use crate::ratelimit::SendLimiter;
use crate::transport::Connection;
use crate::transport::{inflate_payload, InflateError, Inflater};
use crate::Compression;
use crossbeam_channel::{at, bounded, never, select, select_biased, unbounded, Receiver, Sender};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::Message;
use tungstenite::Utf8Bytes;

/// A user command waiting for the writer.
pub(crate) struct Command {
    pub json: String,
    /// Told whether the payload was written, when the sender waits for that.
    pub done: Option<Sender<crate::Result<()>>>,
}

/// What the reader tells the caller's loop, in the order it read it.
pub(crate) enum FromReader {
    /// Hello arrived: time to Identify or Resume.
    Hello,
    /// A dispatch.
    Dispatch(Dispatch),
    /// A lifecycle or error event to pass to the handler.
    Notice(Event),
    /// The connection ended; nothing follows.
    Ended(Ended),
}

/// A report from the heartbeat or writer thread that the connection is over.
pub(crate) struct Report {
    pub generation: u64,
    pub ended: Ended,
}

/// What the writer sends ahead of user commands.
pub(crate) enum Priority {
    /// A heartbeat carrying the latest sequence number.
    Heartbeat,
    /// Identify or Resume: carries the token, so it is written without frame logging.
    Session(String),
}

/// State the three threads share.
pub(crate) struct Link {
    pub conn: Connection,
    pub generation: u64,
    /// Last sequence number received (0 = none yet).
    pub seq: AtomicU64,
    /// Frames received, for the zombie check.
    pub received: AtomicU64,
    /// Heartbeat ACKs received.
    pub acks: AtomicU64,
    /// Set while the reader waits for room in the event queue (handler back-pressure).
    pub reader_blocked: AtomicBool,
    /// From Hello, for the send limiter's heartbeat reserve (0 = not yet known).
    pub heartbeat_interval_ms: AtomicU64,
}

/// The running threads of one connection, and the caller's ends of their channels.
pub(crate) struct LinkThreads {
    pub link: Arc<Link>,
    pub events: Receiver<FromReader>,
    pub reports: Receiver<Report>,
    pub priority: Sender<Priority>,
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// Per-connection settings the threads need.
pub(crate) struct LinkOptions {
    pub shard_id: u64,
    pub event_queue: usize,
    pub initial_seq: u64,
    pub commands: Receiver<Command>,
    pub writer: WriterOptions,
    pub chunks: Arc<super::members::ChunkRouter>,
    pub compression: Compression,
    pub payload_compression: bool,
    pub max_message_size: usize,
}

impl LinkThreads {
    /// Starts reader, writer and heartbeat threads on a connected socket.
    pub fn start(conn: Connection, generation: u64, opts: LinkOptions) -> std::io::Result<Self> {
        let link = Arc::new(Link {
            conn,
            generation,
            seq: AtomicU64::new(opts.initial_seq),
            received: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            reader_blocked: AtomicBool::new(false),
            heartbeat_interval_ms: AtomicU64::new(0),
        });
        let (events_tx, events) = bounded(opts.event_queue);
        let (reports_tx, reports) = unbounded();
        let (priority, priority_rx) = unbounded();
        let (stop, stop_rx) = bounded::<()>(0);
        let (hello_tx, hello_rx) = bounded(1);
        let (ready_tx, ready_rx) = bounded(1);
        let id = opts.shard_id;
        let mut threads = Vec::with_capacity(3);
        let mut spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .stack_size(256 * 1024)
                .spawn(f)
                .map(|handle| threads.push(handle))
        };
        let started = (|| {
            let (l, p, c) = (link.clone(), priority.clone(), opts.chunks.clone());
            let decoding = Decoding {
                compression: opts.compression,
                payload_compression: opts.payload_compression,
                limit: opts.max_message_size,
            };
            spawn(
                format!("syncord-reader-{id}"),
                Box::new(move || read_loop(&l, &events_tx, &hello_tx, &p, &ready_tx, &c, decoding)),
            )?;
            let (l, r, s, c, w) = (
                link.clone(),
                reports_tx.clone(),
                stop_rx.clone(),
                opts.commands,
                opts.writer,
            );
            spawn(
                format!("syncord-writer-{id}"),
                Box::new(move || write_loop(&l, &priority_rx, &c, &ready_rx, &s, &r, &w)),
            )?;
            let (l, p) = (link.clone(), priority.clone());
            spawn(
                format!("syncord-heartbeat-{id}"),
                Box::new(move || heartbeat_loop(&l, &hello_rx, &stop_rx, &p, &reports_tx)),
            )
        })();
        let mut this = LinkThreads {
            link,
            events,
            reports,
            priority,
            stop: Some(stop),
            threads,
        };
        if let Err(e) = started {
            this.stop_and_join(None);
            return Err(e);
        }
        Ok(this)
    }

    /// Closes the connection (with `close` = (code, reason), or by dropping TCP), stops the
    /// threads and hands every dispatch the reader had already read to `deliver`, then joins
    /// all three threads.
    pub fn stop_and_join(&mut self, close: Option<(u16, &str)>) -> Vec<FromReader> {
        match close {
            Some((code, reason)) => self.link.conn.close(code, reason),
            None => self.link.conn.shutdown(),
        }
        self.stop.take();
        // The reader may be blocked on a full queue: keep taking until it hangs up.
        let leftovers: Vec<FromReader> = self.events.iter().collect();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        leftovers
    }
}

impl Drop for LinkThreads {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_and_join(None);
        }
    }
}

fn read_loop(
    link: &Link,
    events: &Sender<FromReader>,
    hello: &Sender<Duration>,
    priority: &Sender<Priority>,
    ready: &Sender<()>,
    chunks: &super::members::ChunkRouter,
    decoding: Decoding,
) {
    let mut inflater = match decoding.inflater() {
        Ok(inflater) => inflater,
        Err(e) => {
            let _ = events.send(FromReader::Ended(Ended::Protocol(e)));
            return;
        }
    };
    let send = |message: FromReader| -> bool {
        match events.try_send(message) {
            Ok(()) => true,
            Err(crossbeam_channel::TrySendError::Full(message)) => {
                // The handler is behind: stop reading (TCP back-pressure) until it catches up.
                link.reader_blocked.store(true, Ordering::Release);
                let sent = events.send(message).is_ok();
                link.reader_blocked.store(false, Ordering::Release);
                sent
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => false,
        }
    };
    let ended = loop {
        let message = match link.conn.read() {
            Ok(message) => message,
            Err(e) => break read_error(e),
        };
        link.received.fetch_add(1, Ordering::Release);
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                break Ended::Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                }
            }
            Message::Binary(bytes) => {
                let inflated = match inflater.as_mut() {
                    Some(inflater) => match inflater.push(&bytes) {
                        Ok(Some(payload)) => Ok(payload.to_vec()),
                        Ok(None) => continue,
                        // The stream is broken: nothing after this can be trusted.
                        Err(e @ InflateError::TooLarge { .. }) => {
                            break Ended::TooLarge(e.to_string())
                        }
                        Err(e) => break Ended::Protocol(e.to_string()),
                    },
                    None if decoding.payload_compression => {
                        match inflate_payload(&bytes, decoding.limit) {
                            Err(e @ InflateError::TooLarge { .. }) => {
                                break Ended::TooLarge(e.to_string())
                            }
                            other => other.map_err(|e| e.to_string()),
                        }
                    }
                    None => Err(format!(
                        "a binary frame of {} bytes without compression",
                        bytes.len()
                    )),
                };
                match inflated.map(String::from_utf8) {
                    Ok(Ok(text)) => Utf8Bytes::from(text),
                    Ok(Err(_)) if inflater.is_some() => {
                        break Ended::Protocol("an inflated message is not UTF-8".into())
                    }
                    failed => {
                        let message = match failed {
                            Err(e) => format!("skipped {e}"),
                            _ => "skipped a binary payload that is not UTF-8".to_owned(),
                        };
                        if !send(FromReader::Notice(Event::Error { message })) {
                            return;
                        }
                        continue;
                    }
                }
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        let envelope = match Envelope::parse(&text) {
            Ok(envelope) => envelope,
            Err(e) => {
                let message = format!("skipped a malformed payload: {e}");
                if !send(FromReader::Notice(Event::Error { message })) {
                    return;
                }
                continue;
            }
        };
        let outgoing = match envelope.opcode() {
            OpCode::DISPATCH => {
                let (Some(seq), Some(name)) = (envelope.s, envelope.t.as_deref()) else {
                    let message = "skipped a dispatch without `s` or `t`".to_owned();
                    if !send(FromReader::Notice(Event::Error { message })) {
                        return;
                    }
                    continue;
                };
                match name {
                    "READY" | "RESUMED" => {
                        let _ = ready.try_send(());
                    }
                    "GUILD_MEMBERS_CHUNK" => chunks.route(envelope.data_json()),
                    _ => {}
                }
                link.seq.store(seq, Ordering::Release);
                let dispatch = Dispatch::new(text.clone(), name, envelope.data_json(), seq);
                FromReader::Dispatch(dispatch)
            }
            OpCode::HEARTBEAT_ACK => {
                link.acks.fetch_add(1, Ordering::Release);
                continue;
            }
            OpCode::HEARTBEAT => {
                // PROTOCOL.md §4.2: answer a server request at once; the schedule is unchanged.
                let _ = priority.send(Priority::Heartbeat);
                continue;
            }
            OpCode::RECONNECT => break Ended::Reconnect,
            OpCode::INVALID_SESSION => {
                let resumable = envelope.data_json().trim() == "true";
                break Ended::InvalidSession { resumable };
            }
            OpCode::HELLO => match serde_json::from_str::<Hello>(envelope.data_json()) {
                Ok(h) if h.heartbeat_interval > 0 => {
                    link.heartbeat_interval_ms
                        .store(h.heartbeat_interval, Ordering::Release);
                    let _ = hello.try_send(Duration::from_millis(h.heartbeat_interval));
                    FromReader::Hello
                }
                _ => break Ended::Protocol("Hello without a valid heartbeat_interval".into()),
            },
            other => {
                let message = format!("skipped a payload with unknown opcode {other}");
                FromReader::Notice(Event::Error { message })
            }
        };
        if !send(outgoing) {
            return;
        }
    };
    let _ = send(FromReader::Ended(ended));
}

/// How the reader turns binary frames into payloads.
#[derive(Clone, Copy)]
struct Decoding {
    compression: Compression,
    payload_compression: bool,
    limit: usize,
}

impl Decoding {
    /// A fresh transport inflater for this connection (`None` without transport compression).
    fn inflater(self) -> Result<Option<Inflater>, String> {
        match self.compression {
            Compression::None => Ok(None),
            Compression::ZlibStream => Ok(Some(Inflater::zlib(self.limit))),
            #[cfg(feature = "zstd")]
            Compression::ZstdStream => Inflater::zstd(self.limit)
                .map(Some)
                .map_err(|e| format!("zstd setup failed: {e}")),
        }
    }
}

fn read_error(e: tungstenite::Error) -> Ended {
    use tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => Ended::Eof,
        E::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            Ended::Eof
        }
        E::Io(e) => Ended::Io(e.to_string()),
        E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => Ended::Eof,
        E::Capacity(e) => Ended::TooLarge(e.to_string()),
        e => Ended::Protocol(e.to_string()),
    }
}

/// Per-connection settings of the writer.
pub(crate) struct WriterOptions {
    pub rate_limit: (u32, Duration),
    /// Commands a failed connection could not send; retried first on the next one.
    pub retry: Arc<Mutex<VecDeque<Command>>>,
}

/// Sends payloads in priority order (heartbeats, Identify/Resume, then user commands once
/// the session is active), never faster than the send limiter allows.
fn write_loop(
    link: &Link,
    priority: &Receiver<Priority>,
    commands: &Receiver<Command>,
    ready: &Receiver<()>,
    stop: &Receiver<()>,
    reports: &Sender<Report>,
    opts: &WriterOptions,
) {
    let (limit, window) = opts.rate_limit;
    let mut limiter = SendLimiter::new(limit, window, None);
    let mut known_interval = 0;
    let idle = never();
    let mut active = false;
    let mut pending: Option<Command> = None;
    let fail = |e: tungstenite::Error| {
        let _ = reports.send(Report {
            generation: link.generation,
            ended: Ended::Io(format!("write failed: {e}")),
        });
    };
    loop {
        let interval = link.heartbeat_interval_ms.load(Ordering::Acquire);
        if interval != known_interval {
            known_interval = interval;
            limiter.set_heartbeat_interval(Some(Duration::from_millis(interval)));
        }
        // Heartbeats and Identify/Resume go before anything else.
        let next_priority = match priority.try_recv() {
            Ok(p) => Some(p),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => return,
        };
        if let Some(p) = next_priority {
            if let Err(e) = send_priority(link, &mut limiter, p, stop) {
                return fail(e);
            }
            continue;
        }
        if active && pending.is_none() {
            pending = opts.retry.lock().pop_front();
        }
        if let Some(command) = pending.take() {
            let now = Instant::now();
            let slot = limiter.next_slot(now, false);
            if slot <= now {
                limiter.record(now);
                let result = link.conn.send(Message::text(command.json.clone()));
                match result {
                    Ok(()) => {
                        if let Some(done) = command.done {
                            let _ = done.send(Ok(()));
                        }
                    }
                    Err(e) => {
                        // Not known to have arrived: the next connection sends it again.
                        opts.retry.lock().push_front(command);
                        return fail(e);
                    }
                }
                continue;
            }
            pending = Some(command);
            select_biased! {
                recv(stop) -> _ => break,
                recv(priority) -> p => match p {
                    Ok(p) => {
                        if let Err(e) = send_priority(link, &mut limiter, p, stop) {
                            if let Some(command) = pending.take() {
                                opts.retry.lock().push_front(command);
                            }
                            return fail(e);
                        }
                    }
                    Err(_) => break,
                },
                recv(at(slot)) -> _ => {}
            }
            continue;
        }
        let user = if active { commands } else { &idle };
        select_biased! {
            recv(stop) -> _ => break,
            recv(priority) -> p => match p {
                Ok(p) => {
                    if let Err(e) = send_priority(link, &mut limiter, p, stop) {
                        return fail(e);
                    }
                }
                Err(_) => break,
            },
            recv(ready) -> r => active = r.is_ok(),
            recv(user) -> c => match c {
                Ok(command) => pending = Some(command),
                Err(_) => break,
            },
        }
    }
    if let Some(command) = pending {
        opts.retry.lock().push_front(command);
    }
}

/// Sends one priority payload, waiting for the limiter if even the reserve is used up.
fn send_priority(
    link: &Link,
    limiter: &mut SendLimiter,
    payload: Priority,
    stop: &Receiver<()>,
) -> Result<(), tungstenite::Error> {
    let slot = limiter.next_slot(Instant::now(), true);
    if slot > Instant::now() {
        log::warn!(
            "gateway send limit reached: a heartbeat waits {:?}",
            slot - Instant::now()
        );
        select! {
            recv(stop) -> _ => return Ok(()),
            recv(at(slot)) -> _ => {}
        }
    }
    limiter.record(Instant::now());
    match payload {
        Priority::Heartbeat => {
            let seq = link.seq.load(Ordering::Acquire);
            let json = heartbeat_json((seq > 0).then_some(seq));
            link.conn.send(Message::text(json))
        }
        Priority::Session(json) => link.conn.send_secret(&json),
    }
}

fn heartbeat_loop(
    link: &Link,
    hello: &Receiver<Duration>,
    stop: &Receiver<()>,
    priority: &Sender<Priority>,
    reports: &Sender<Report>,
) {
    let interval = select! {
        recv(hello) -> h => match h { Ok(interval) => interval, Err(_) => return },
        recv(stop) -> _ => return,
    };
    // PROTOCOL.md §4.2: the first beat after interval × jitter in [0, 1).
    let mut due = Instant::now() + interval.mul_f64(fastrand::f64());
    let mut received_at_last_beat: Option<u64> = None;
    loop {
        select! {
            recv(stop) -> _ => return,
            recv(crossbeam_channel::at(due)) -> _ => {}
        }
        let received = link.received.load(Ordering::Acquire);
        let blocked = link.reader_blocked.load(Ordering::Acquire);
        if received_at_last_beat == Some(received) && !blocked {
            let _ = reports.send(Report {
                generation: link.generation,
                ended: Ended::Zombie,
            });
            return;
        }
        received_at_last_beat = Some(received);
        if priority.send(Priority::Heartbeat).is_err() {
            return;
        }
        due += interval;
    }
}
