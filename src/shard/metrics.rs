//! Counters of one shard, kept across its connections: what the reader received, what the
//! writer sent, and what the caller's loop went through. Atomics, read without locking.

use super::Event;
pub(crate) use crate::engine::Counters;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

impl Counters {
    /// Counts the lifecycle events that say how the session went.
    pub fn observe(&self, event: &Event) {
        let counter = match event {
            Event::Reconnecting { .. } => &self.reconnects,
            Event::Resumed { .. } => &self.resumes,
            Event::Ready(_) => &self.identifies,
            Event::Disconnected {
                code: Some(code), ..
            } => {
                self.last_close.store(u32::from(*code), Ordering::Relaxed);
                return;
            }
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, queue_depth: usize, latency: Option<Duration>) -> ShardMetrics {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ShardMetrics {
            events_received: load(&self.events),
            bytes_received: load(&self.bytes),
            payloads_sent: load(&self.sent),
            reconnects: load(&self.reconnects),
            resumes: load(&self.resumes),
            identifies: load(&self.identifies),
            last_close_code: u16::try_from(self.last_close.load(Ordering::Relaxed))
                .ok()
                .filter(|&code| code != 0),
            queue_depth,
            latency,
        }
    }
}

/// A shard's counters at one moment ([`ShardHandle::metrics`](crate::ShardHandle::metrics)),
/// counted since the shard was created, across every connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardMetrics {
    /// Dispatches received (op 0), delivered or not.
    pub events_received: u64,
    /// Websocket message bytes received, as on the wire (compressed when the transport is).
    pub bytes_received: u64,
    /// Payloads written (heartbeats, Identify/Resume and commands).
    pub payloads_sent: u64,
    /// Reconnect attempts (each [`Event::Reconnecting`]).
    pub reconnects: u64,
    /// Sessions resumed (RESUMED received).
    pub resumes: u64,
    /// Sessions started (READY received after an Identify).
    pub identifies: u64,
    /// The close code of the last connection the gateway closed with one.
    pub last_close_code: Option<u16>,
    /// Events read but not yet taken by the handler ([`ShardHandle::queue_depth`](crate::ShardHandle::queue_depth)).
    pub queue_depth: usize,
    /// The most recent heartbeat round trip of the current connection.
    pub latency: Option<Duration>,
}

impl ShardMetrics {
    /// Adds `other`'s counters to these: queue depths add up, the latency is the highest of
    /// the two, the close code the one of `other` if it has one.
    pub fn add(&mut self, other: &ShardMetrics) {
        self.events_received += other.events_received;
        self.bytes_received += other.bytes_received;
        self.payloads_sent += other.payloads_sent;
        self.reconnects += other.reconnects;
        self.resumes += other.resumes;
        self.identifies += other.identifies;
        self.last_close_code = other.last_close_code.or(self.last_close_code);
        self.queue_depth += other.queue_depth;
        self.latency = self.latency.max(other.latency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_events_are_counted() {
        let counters = Counters::default();
        counters.observe(&Event::Reconnecting {
            attempt: 1,
            delay: Duration::ZERO,
        });
        counters.observe(&Event::Resumed { replayed: 3 });
        counters.observe(&Event::Disconnected {
            code: Some(4000),
            reason: String::new(),
        });
        counters.observe(&Event::Disconnected {
            code: None,
            reason: String::new(),
        });
        counters.received(10);
        counters.event();
        counters.sent();
        let m = counters.snapshot(2, None);
        assert_eq!(
            (m.reconnects, m.resumes, m.identifies, m.last_close_code),
            (1, 1, 0, Some(4000))
        );
        assert_eq!(
            (m.bytes_received, m.events_received, m.payloads_sent),
            (10, 1, 1)
        );
        let mut sum = m.clone();
        sum.add(&m);
        assert_eq!((sum.reconnects, sum.queue_depth), (2, 4));
    }
}
