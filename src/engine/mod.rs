//! The protocol-neutral connection engine: one connection handle shared by a reader, a
//! heartbeat and a writer thread, talking to the caller's loop through crossbeam channels.
//!
//! A protocol plugs in through [`Wire`]: what its reader does with each frame, what a beat
//! is (Discord's op 1, Slack's ping frame), what goes ahead of user commands, and how much
//! silence means a dead connection. The threads, their channels, the beat schedule, the
//! send limiter, the deferred (held) priority payloads and the stop-and-join are shared by
//! every protocol: the Discord shard and Slack's Socket Mode run on this same code.

mod beat;
mod commands;
mod counters;
mod doorbell;
mod latency;
mod read;
mod stop;
mod threads;
mod writer;

pub(crate) use beat::BeatSignal;
pub(crate) use commands::{command_queue, CommandReceiver, CommandSender};
pub(crate) use counters::Counters;
pub(crate) use doorbell::RingingSender;
pub use latency::Latency;
pub(crate) use read::wait_for_room;
#[cfg(feature = "slack")]
pub(crate) use read::{hand_over, next_message};
pub(crate) use stop::Stop;
pub(crate) use threads::{LinkOptions, LinkThreads, ReaderOutputs};
pub(crate) use writer::WriterOptions;

use crate::policy::Ended;
use crate::transport::{TransportError, WebSocketConnection};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Instant;

/// A user command waiting for the writer: the payload's JSON text.
pub(crate) struct Command {
    pub json: String,
}

/// A report from the writer or heartbeat thread (a failed write, a dead connection) that
/// the connection is over.
pub(crate) struct Report {
    pub generation: u64,
    pub ended: Ended,
}

/// The connection handle the three threads share.
pub(crate) struct Link<S> {
    pub conn: Box<dyn WebSocketConnection>,
    pub generation: u64,
    /// The protocol's per-connection state every thread may read (Discord: the session,
    /// whose last delivered `s` the heartbeats carry).
    pub state: S,
    /// Beat round trips: the heartbeat thread records beats, the reader their answers.
    pub latency: Arc<Mutex<Latency>>,
    /// Frames received, for the liveness check.
    pub received: AtomicU64,
    /// How many messages the event queue holds before the reader waits for room. The queue
    /// itself is unbounded so that it allocates as it fills: 1,000 idle shards do not each
    /// keep a full queue's slots (BENCHMARKS.md, "Many shards").
    pub event_queue: usize,
    /// Set while the reader waits for room in the event queue (handler back-pressure).
    pub reader_blocked: AtomicBool,
    /// The connection's counters, kept across reconnects.
    pub metrics: Arc<Counters>,
}

/// When the writer sends a priority payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// As soon as the send limiter allows.
    Now,
    /// Not before this time (Slack: the plain acknowledgement of an envelope held for a
    /// responding handler goes at its deadline, if the handler has not answered first).
    #[cfg_attr(not(feature = "slack"), allow(dead_code))]
    At(Instant),
}

/// What a protocol tells the engine.
pub(crate) trait Wire: Sized + 'static {
    /// Per-connection state shared by the threads (see [`Link::state`]).
    type State: Send + Sync + 'static;
    /// What the reader hands the caller's loop, in order.
    type Inbound: Send + 'static;
    /// What the writer sends ahead of user commands.
    type Priority: PartialEq + Send + 'static;
    /// The reader's own settings for one connection.
    type Reader: Send + 'static;

    /// Beat intervals without a single frame received after which the connection is dead:
    /// Discord's zombie rule is one (nothing since the previous heartbeat); Slack's is
    /// about 30 s of silence at a 10 s ping.
    const SILENT_INTERVALS: u32;

    /// The payload one beat sends (a beat is never queued twice).
    const BEAT: Self::Priority;

    /// Where `payload` goes in the writer's queue.
    fn slot(payload: &Self::Priority) -> Slot {
        let _ = payload;
        Slot::Now
    }

    /// A short name for logs ("a heartbeat", "Identify/Resume", "an acknowledgement").
    fn describe(payload: &Self::Priority) -> &'static str;

    /// Writes one priority payload.
    fn send_priority(
        link: &Link<Self::State>,
        payload: Self::Priority,
    ) -> Result<(), TransportError>;

    /// The reader thread's body: reads frames until the connection ends, hands what it read
    /// to `outputs`, and sends the end as its last message.
    fn read_loop(link: &Link<Self::State>, outputs: &ReaderOutputs<Self>, reader: Self::Reader);
}
