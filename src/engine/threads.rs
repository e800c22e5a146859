//! Where one connection's three threads (reader, heartbeat, writer) are started, stopped
//! and joined, for any protocol ([`Wire`]).
//!
//! Every connection gets fresh channels and a generation number; the caller's loop drops
//! anything that carries an older generation, so a late report from a dead connection can
//! never end a new one.

use super::beat::{beat_loop, BeatInputs, BeatSignal, BEAT_SIGNALS};
use super::doorbell::{Doorbell, RingingSender};
use super::latency::Latency;
use super::writer::{write_loop, WriterInputs, WriterOptions};
use super::{CommandReceiver, Counters, Link, Report, Wire};
use crate::transport::WebSocketConnection;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the reader sends what it read.
pub(crate) struct ReaderOutputs<W: Wire> {
    /// What the caller's loop gets, in order.
    pub events: Sender<W::Inbound>,
    /// The beat interval, for the writer's send limiter (which keeps room for the beats).
    pub hello: RingingSender<Duration>,
    /// Starts the beat schedule; op 1 requests.
    pub beats: RingingSender<BeatSignal>,
    /// Priority payloads the reader itself asks for (Slack: acknowledgements on receipt).
    #[cfg_attr(not(feature = "slack"), allow(dead_code))]
    pub priority: RingingSender<W::Priority>,
}

/// The running threads of one connection, and the caller's ends of their channels.
pub(crate) struct LinkThreads<W: Wire> {
    pub link: Arc<Link<W::State>>,
    pub events: Receiver<W::Inbound>,
    pub reports: Receiver<Report>,
    pub priority: RingingSender<W::Priority>,
    /// Tells the writer that the session is active: user commands may go.
    ready: RingingSender<()>,
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// Per-connection settings the threads need.
pub(crate) struct LinkOptions<W: Wire> {
    /// Ends the thread names: `syncord-rd-{label}` (Discord: the shard id).
    pub label: String,
    pub event_queue: usize,
    /// The protocol's shared state (see [`Link::state`]).
    pub state: W::State,
    /// The reader's own settings.
    pub reader: W::Reader,
    pub commands: CommandReceiver,
    /// What the senders of `commands` ring; the connection's other channels into the writer
    /// ring it too.
    pub bell: Arc<Doorbell>,
    pub writer: WriterOptions,
    /// Where the heartbeat thread publishes round trips (reset for each connection).
    pub latency: Arc<Mutex<Latency>>,
    /// The counters, kept across connections.
    pub metrics: Arc<Counters>,
}

impl<W: Wire> LinkThreads<W> {
    /// Starts the reader, heartbeat and writer threads on a connected socket. Threads are
    /// named `syncord-rd-N`, `syncord-hb-N` and `syncord-wr-N` for label N: Linux keeps 15
    /// bytes of a name, which leaves room for a four-digit shard id.
    pub fn start(
        conn: Box<dyn WebSocketConnection>,
        generation: u64,
        opts: LinkOptions<W>,
    ) -> std::io::Result<Self> {
        let link = Arc::new(Link {
            conn,
            generation,
            state: opts.state,
            latency: opts.latency.clone(),
            received: AtomicU64::new(0),
            event_queue: opts.event_queue,
            reader_blocked: AtomicBool::new(false),
            metrics: opts.metrics.clone(),
        });
        *opts.latency.lock() = Latency::default();
        // Bounded by the reader (`wait_for_room`), not by the channel, so memory comes as
        // messages do.
        let (events_tx, events) = unbounded();
        let (reports_tx, reports) = unbounded();
        let bell = opts.bell;
        let (priority, priority_rx) = unbounded();
        let priority = RingingSender::new(priority, &bell);
        let (stop, stop_rx) = bounded::<()>(0);
        let (hello_tx, hello_rx) = bounded(1);
        let (ready_tx, ready_rx) = bounded(1);
        let (beat_tx, beat_rx) = bounded(BEAT_SIGNALS);
        let beat_bell = Arc::<Doorbell>::default();
        let label = opts.label;
        let mut threads = Vec::with_capacity(3);
        let mut spawn = |name: String, stack: usize, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .stack_size(stack)
                .spawn(f)
                .map(|handle| threads.push(handle))
        };
        let started = (|| {
            let l = link.clone();
            let outputs = ReaderOutputs::<W> {
                events: events_tx,
                hello: RingingSender::new(hello_tx, &bell),
                beats: RingingSender::new(beat_tx, &beat_bell),
                priority: priority.clone(),
            };
            let reader = opts.reader;
            // The reader first: `wake_reader` unparks the first thread.
            spawn(
                format!("syncord-rd-{label}"),
                256 * 1024,
                Box::new(move || {
                    W::read_loop(&l, &outputs, reader);
                    // Hanging up ends the heartbeat thread, once it looks.
                    let bell = outputs.beats.bell().clone();
                    drop(outputs);
                    bell.ring();
                }),
            )?;
            let (l, r, latency) = (link.clone(), reports_tx.clone(), opts.latency.clone());
            let inputs = BeatInputs {
                bell: beat_bell,
                signals: beat_rx,
                priority: priority.clone(),
            };
            spawn(
                format!("syncord-hb-{label}"),
                128 * 1024,
                Box::new(move || beat_loop::<W>(&l, inputs, &r, &latency)),
            )?;
            let l = link.clone();
            let inputs = WriterInputs {
                bell: bell.clone(),
                priority: priority_rx,
                commands: opts.commands,
                hello: hello_rx,
                ready: ready_rx,
                stop: stop_rx,
            };
            let w = opts.writer;
            spawn(
                format!("syncord-wr-{label}"),
                256 * 1024,
                Box::new(move || write_loop::<W>(&l, inputs, &reports_tx, &w)),
            )
        })();
        let mut this = LinkThreads {
            link,
            events,
            reports,
            priority,
            ready: RingingSender::new(ready_tx, &bell),
            stop: Some(stop),
            threads,
        };
        if let Err(e) = started {
            this.stop_and_join(None);
            return Err(e);
        }
        Ok(this)
    }

    /// The session is active (Discord: READY or RESUMED was delivered): the writer may send
    /// user commands now.
    pub fn session_active(&self) {
        let _ = self.ready.try_send(());
    }

    /// Called after taking an event: wakes the reader if it is parked on a full queue and
    /// half the queue is free again (one wake-up per half queue, not per event).
    pub fn made_room(&self) {
        if self.link.reader_blocked.load(Ordering::Acquire)
            && self.events.len() <= self.link.event_queue / 2
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
    pub fn stop_and_join(&mut self, close: Option<(u16, &str)>) -> Vec<W::Inbound> {
        match close {
            Some((code, reason)) => self.link.conn.close(code, reason),
            None => self.link.conn.shutdown(),
        }
        self.stop.take();
        // The writer sees `stop` hang up once rung (any of its channels' bells is its own).
        self.ready.bell().ring();
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

impl<W: Wire> Drop for LinkThreads<W> {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_and_join(None);
        }
    }
}
