//! One connection's threads: reader and writer (which also keeps the heartbeat schedule),
//! and the messages between them and the caller's loop (DESIGN.md §1).
//!
//! Every connection gets fresh channels and a generation number; the caller's loop drops
//! anything that carries an older generation, so a late report from a dead connection can
//! never end a new one.

use super::event::{Dispatch, Event};
use super::policy::Ended;
use super::reader::{read_loop, Decoding};
use super::writer::{write_loop, WriterInputs, WriterOptions};
use crate::transport::Connection;
use crate::Compression;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

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

/// A report from the writer thread (a failed write or a zombie) that the connection is over.
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

/// State the two threads share.
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
}

/// The running threads of one connection, and the caller's ends of their channels.
pub(crate) struct LinkThreads {
    pub link: Arc<Link>,
    capacity: usize,
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
    /// Starts the reader and writer threads on a connected socket.
    pub fn start(conn: Connection, generation: u64, opts: LinkOptions) -> std::io::Result<Self> {
        let link = Arc::new(Link {
            conn,
            generation,
            seq: AtomicU64::new(opts.initial_seq),
            received: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            reader_blocked: AtomicBool::new(false),
        });
        let (events_tx, events) = bounded(opts.event_queue);
        let (reports_tx, reports) = unbounded();
        let (priority, priority_rx) = unbounded();
        let (stop, stop_rx) = bounded::<()>(0);
        let (hello_tx, hello_rx) = bounded(1);
        let (ready_tx, ready_rx) = bounded(1);
        let id = opts.shard_id;
        let mut threads = Vec::with_capacity(2);
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
                format!("syncord-writer-{id}"),
                Box::new(move || write_loop(&l, inputs, &reports_tx, &w)),
            )
        })();
        let mut this = LinkThreads {
            link,
            capacity: opts.event_queue,
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
    /// threads and hands every dispatch the reader had already read to `deliver`, then joins
    /// both threads.
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
