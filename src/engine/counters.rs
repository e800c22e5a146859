//! A connection's counters, kept across its reconnects: what the reader received, what the
//! writer sent, and what the caller's loop went through. Atomics, read without locking; each
//! protocol maps its lifecycle events onto them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The live counters, shared by a connection's threads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) events: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) resumes: AtomicU64,
    pub(crate) identifies: AtomicU64,
    /// The last close code received, 0 for none.
    pub(crate) last_close: AtomicU32,
}

impl Counters {
    /// A websocket message of `bytes` bytes (as on the wire, before inflating) was read.
    pub fn received(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts a message the reader read.
    pub fn received_message(&self, message: &crate::transport::Message) {
        use crate::transport::Message;
        self.received(match message {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        });
    }

    /// A dispatch was read.
    pub fn event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    /// A payload was written.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
}
