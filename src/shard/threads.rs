//! Where one connection's three threads (reader, heartbeat, writer) are started, stopped
//! and joined.
//!
//! Every connection gets fresh channels and a generation number; the caller's loop drops
//! anything that carries an older generation, so a late report from a dead connection can
//! never end a new one.

use super::connection::{Command, FromReader, Link, Priority, Report, BEAT_SIGNALS};
use super::heartbeat::{beat_loop, BeatInputs};
use super::latency::Latency;
use super::reader::{read_loop, Decoding, ReaderOutputs};
use super::writer::{write_loop, WriterInputs, WriterOptions};
use crate::transport::WebSocketConnection;
use crate::Compression;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The running threads of one connection, and the caller's ends of their channels.
pub(crate) struct LinkThreads {
    pub link: Arc<Link>,
    capacity: usize,
    pub events: Receiver<FromReader>,
    pub reports: Receiver<Report>,
    pub priority: Sender<Priority>,
    /// Tells the writer that READY or RESUMED arrived: user commands may go.
    ready: Sender<()>,
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// Per-connection settings the threads need.
pub(crate) struct LinkOptions {
    pub shard_id: u64,
    pub event_queue: usize,
    /// The session, for the heartbeats' `s`.
    pub session: crate::session::SessionCell,
    pub commands: Receiver<Command>,
    pub writer: WriterOptions,
    pub chunks: Arc<super::members::ChunkRouter>,
    pub compression: Compression,
    pub payload_compression: bool,
    pub max_message_size: usize,
    /// Where the heartbeat thread publishes round trips (reset for each connection).
    pub latency: Arc<Mutex<Latency>>,
    /// The shard's counters, kept across connections.
    pub metrics: Arc<super::metrics::Counters>,
}

impl LinkThreads {
    /// Starts the reader, heartbeat and writer threads on a connected socket. Threads are
    /// named `syncord-rd-N`, `syncord-hb-N` and `syncord-wr-N` for shard N: Linux keeps 15
    /// bytes of a name, which leaves room for a four-digit shard id.
    pub fn start(
        conn: Box<dyn WebSocketConnection>,
        generation: u64,
        opts: LinkOptions,
    ) -> std::io::Result<Self> {
        let link = Arc::new(Link {
            conn,
            generation,
            session: opts.session,
            latency: opts.latency.clone(),
            received: AtomicU64::new(0),
            reader_blocked: AtomicBool::new(false),
            metrics: opts.metrics.clone(),
        });
        *opts.latency.lock() = Latency::default();
        let (events_tx, events) = bounded(opts.event_queue);
        let (reports_tx, reports) = unbounded();
        let (priority, priority_rx) = unbounded();
        let (stop, stop_rx) = bounded::<()>(0);
        let (hello_tx, hello_rx) = bounded(1);
        let (ready_tx, ready_rx) = bounded(1);
        let (beat_tx, beat_rx) = bounded(BEAT_SIGNALS);
        let id = opts.shard_id;
        let mut threads = Vec::with_capacity(3);
        let mut spawn = |name: String, stack: usize, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .stack_size(stack)
                .spawn(f)
                .map(|handle| threads.push(handle))
        };
        let started = (|| {
            let (l, c) = (link.clone(), opts.chunks.clone());
            let decoding = Decoding {
                compression: opts.compression,
                payload_compression: opts.payload_compression,
                limit: opts.max_message_size,
            };
            let outputs = ReaderOutputs {
                events: events_tx,
                hello: hello_tx,
                beats: beat_tx,
            };
            // The reader first: `wake_reader` unparks the first thread.
            spawn(
                format!("syncord-rd-{id}"),
                256 * 1024,
                Box::new(move || read_loop(&l, &outputs, &c, decoding)),
            )?;
            let (l, r, latency) = (link.clone(), reports_tx.clone(), opts.latency.clone());
            let inputs = BeatInputs {
                signals: beat_rx,
                priority: priority.clone(),
            };
            spawn(
                format!("syncord-hb-{id}"),
                128 * 1024,
                Box::new(move || beat_loop(&l, inputs, &r, &latency)),
            )?;
            let l = link.clone();
            let inputs = WriterInputs {
                priority: priority_rx,
                commands: opts.commands,
                hello: hello_rx,
                ready: ready_rx,
                stop: stop_rx,
            };
            let w = opts.writer;
            spawn(
                format!("syncord-wr-{id}"),
                256 * 1024,
                Box::new(move || write_loop(&l, inputs, &reports_tx, &w)),
            )
        })();
        let mut this = LinkThreads {
            link,
            capacity: opts.event_queue,
            events,
            reports,
            priority,
            ready: ready_tx,
            stop: Some(stop),
            threads,
        };
        if let Err(e) = started {
            this.stop_and_join(None);
            return Err(e);
        }
        Ok(this)
    }

    /// READY or RESUMED was delivered: the writer may send user commands now.
    pub fn session_active(&self) {
        let _ = self.ready.try_send(());
    }

    /// Called after taking an event: wakes the reader if it is parked on a full queue and
    /// half the queue is free again (one wake-up per half queue, not per event).
    pub fn made_room(&self) {
        if self.link.reader_blocked.load(Ordering::Acquire)
            && self.events.len() <= self.capacity / 2
        {
            self.wake_reader();
        }
    }

    fn wake_reader(&self) {
        if let Some(reader) = self.threads.first() {
            reader.thread().unpark();
        }
    }

    /// Closes the connection (with `close` = (code, reason), or by dropping TCP), stops the
    /// threads and returns every message the reader had already read, once all three threads
    /// are joined.
    pub fn stop_and_join(&mut self, close: Option<(u16, &str)>) -> Vec<FromReader> {
        match close {
            Some((code, reason)) => self.link.conn.close(code, reason),
            None => self.link.conn.shutdown(),
        }
        self.stop.take();
        // The reader may be parked on a full queue: keep taking (and waking it) until it
        // hangs up.
        let mut leftovers = Vec::new();
        loop {
            self.wake_reader();
            match self.events.recv() {
                Ok(message) => leftovers.push(message),
                Err(_) => break,
            }
        }
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

/// The three threads on the in-memory transport double: frames in, frames out, a stalled
/// peer, a close frame. No sockets, so each runs in milliseconds.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Ended;
    use crate::transport::memory::{MemoryAdapter, MemoryPeer};
    use crate::transport::{DialCancel, DialRequest, WebSocketAdapter};
    use std::time::{Duration, Instant};

    const TIMEOUT: Duration = Duration::from_secs(5);

    struct Running {
        threads: LinkThreads,
        peer: MemoryPeer,
        latency: Arc<Mutex<Latency>>,
        session: crate::session::SessionCell,
        /// Keeps the user-command channel open.
        _commands: Sender<Command>,
    }

    fn start() -> Running {
        let (adapter, peers) = MemoryAdapter::new();
        let cancel = DialCancel::new();
        let conn = adapter
            .dial(&DialRequest {
                url: "ws://memory/?v=10",
                headers: &[("User-Agent", "test")],
                connect_timeout: TIMEOUT,
                handshake_timeout: TIMEOUT,
                max_message_size: 1 << 20,
                tls: None,
                cancel: &cancel,
            })
            .expect("the memory adapter dials");
        let peer = peers.try_recv().expect("the peer end");
        let (commands_tx, commands) = bounded(8);
        let latency = Arc::new(Mutex::new(Latency::default()));
        let session = crate::session::SessionCell::default();
        let opts = LinkOptions {
            shard_id: 7,
            event_queue: 16,
            session: session.clone(),
            commands,
            writer: WriterOptions {
                rate_limit: (120, Duration::from_secs(60)),
                retry: Arc::default(),
            },
            chunks: Arc::default(),
            compression: Compression::None,
            payload_compression: false,
            max_message_size: 1 << 20,
            latency: latency.clone(),
            metrics: Arc::default(),
        };
        let threads = LinkThreads::start(conn, 1, opts).expect("threads start");
        Running {
            threads,
            peer,
            latency,
            session,
            _commands: commands_tx,
        }
    }

    fn hello(peer: &MemoryPeer, interval_ms: u64) {
        assert!(peer.send_text(&format!(
            r#"{{"op":10,"d":{{"heartbeat_interval":{interval_ms}}}}}"#
        )));
    }

    fn next(events: &Receiver<FromReader>) -> FromReader {
        events
            .recv_timeout(TIMEOUT)
            .expect("the reader hands it over")
    }

    #[test]
    fn frames_in_reach_the_caller_in_order() {
        let mut run = start();
        hello(&run.peer, 60_000);
        run.peer
            .send_text(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"x"}}"#);
        run.peer
            .send_text(r#"{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{}}"#);
        assert!(matches!(next(&run.threads.events), FromReader::Hello));
        let seqs: Vec<u64> = (0..2)
            .map(|_| match next(&run.threads.events) {
                FromReader::Dispatch(d) => d.seq(),
                _ => panic!("expected a dispatch"),
            })
            .collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(run.peer.header("user-agent"), Some("test"));
        run.threads.stop_and_join(Some((1000, "bye")));
        assert_eq!(run.peer.closed_with(TIMEOUT), Some(1000));
    }

    #[test]
    fn beats_go_out_on_schedule_with_the_last_delivered_sequence_and_acks_measure_latency() {
        let run = start();
        // The caller's loop has delivered up to s=5 (the reader may have read further).
        {
            let mut session = run.session.lock();
            session.on_ready(Some("a".into()), None, None);
            session.on_dispatch(5);
        }
        run.peer.send_text(r#"{"op":0,"s":6,"t":"X","d":{}}"#);
        hello(&run.peer, 20);
        for _ in 0..3 {
            let beat = run.peer.recv_text(TIMEOUT).expect("a heartbeat");
            assert_eq!(beat, r#"{"op":1,"d":5}"#);
            run.peer.send_text(r#"{"op":11}"#);
        }
        // The third ACK may still be on its way to the heartbeat thread.
        let deadline = Instant::now() + TIMEOUT;
        while run.latency.lock().acks_received() < 3 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let latency = run.latency.lock().clone();
        assert!(latency.heartbeats_sent() >= 3, "{latency:?}");
        assert_eq!(latency.acks_received(), 3);
        assert!(latency.recent().is_some() && latency.last_ack().is_some());
    }

    #[test]
    fn op_1_is_answered_at_once_and_priority_payloads_are_written() {
        let run = start();
        hello(&run.peer, 60_000);
        run.peer.send_text(r#"{"op":1,"d":null}"#);
        // The schedule's first beat is up to a minute away: this one answers op 1.
        assert_eq!(
            run.peer.recv_text(TIMEOUT).as_deref(),
            Some(r#"{"op":1,"d":null}"#)
        );
        run.threads
            .priority
            .send(Priority::Session(r#"{"op":2,"d":{}}"#.into()))
            .unwrap();
        assert_eq!(
            run.peer.recv_text(TIMEOUT).as_deref(),
            Some(r#"{"op":2,"d":{}}"#)
        );
    }

    #[test]
    fn a_stalled_peer_is_reported_as_a_zombie() {
        let run = start();
        hello(&run.peer, 10);
        // Never ACK: the second due beat finds nothing received since the first.
        let report = run.threads.reports.recv_timeout(TIMEOUT).expect("a report");
        assert_eq!((report.generation, report.ended), (1, Ended::Zombie));
    }

    #[test]
    fn a_close_frame_ends_the_connection_with_its_code() {
        let run = start();
        run.peer.close(4009, "session timed out");
        let ended = loop {
            if let FromReader::Ended(ended) = next(&run.threads.events) {
                break ended;
            }
        };
        assert_eq!(
            ended,
            Ended::Closed {
                code: Some(4009),
                reason: "session timed out".into()
            }
        );
    }

    #[test]
    fn a_peer_that_hangs_up_ends_the_connection_and_every_thread_joins() {
        let mut run = start();
        hello(&run.peer, 60_000);
        run.peer.hang_up();
        let ended = loop {
            if let FromReader::Ended(ended) = next(&run.threads.events) {
                break ended;
            }
        };
        assert_eq!(ended, Ended::Eof);
        run.threads.stop_and_join(None);
        assert!(run.peer.wait_client_gone(TIMEOUT));
    }
}
