//! The connection handle the three threads share, and every message that passes between
//! them and the caller's loop. Every connection gets fresh channels and a generation number;
//! the caller's loop drops anything that carries an older generation, so a late report from
//! a dead connection can never end a new one.

use super::event::{Dispatch, Event};
use crate::policy::Ended;
use crate::session::SessionCell;
use crate::transport::WebSocketConnection;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

/// A user command waiting for the writer: the payload's JSON text.
pub(crate) struct Command {
    pub json: String,
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

/// What the reader tells the heartbeat thread.
pub(crate) enum BeatSignal {
    /// Hello's `heartbeat_interval`: the schedule starts.
    Hello(Duration),
    /// op 1: the server asks for a beat now.
    ServerAsked,
}

/// How many reader signals may wait for the heartbeat thread; more (a flood of op 1) are
/// dropped rather than queued without bound.
pub(crate) const BEAT_SIGNALS: usize = 64;

/// What the writer sends ahead of user commands.
pub(crate) enum Priority {
    /// A heartbeat carrying the last delivered sequence number.
    Heartbeat,
    /// Identify or Resume: carries the token, so it is written without frame logging.
    Session(String),
}

/// The connection handle the three threads share.
pub(crate) struct Link {
    pub conn: Box<dyn WebSocketConnection>,
    pub generation: u64,
    /// The session's one published copy: heartbeats carry its last delivered `s`.
    pub session: SessionCell,
    /// Heartbeat round trips: the heartbeat thread records beats, the reader ACKs.
    pub latency: std::sync::Arc<parking_lot::Mutex<super::latency::Latency>>,
    /// Frames received, for the zombie check.
    pub received: AtomicU64,
    /// Set while the reader waits for room in the event queue (handler back-pressure).
    pub reader_blocked: AtomicBool,
    /// The shard's counters.
    pub metrics: std::sync::Arc<super::metrics::Counters>,
}
