//! Heartbeat round trips: when each beat (or ping) was asked for, when its ACK (or pong) came (Discord:
//! Gateway → Sending Heartbeats; the ACK is op 11). Pure bookkeeping, owned by the heartbeat
//! thread and published for [`ShardHandle::latency`](crate::ShardHandle::latency).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How many recent round trips the average covers.
const WINDOW: usize = 5;
/// Beats without an ACK that are remembered (a server that never ACKs must not grow this).
const UNACKED: usize = 16;

/// The heartbeat latency of the current connection, from [`ShardHandle::latency`](crate::ShardHandle::latency).
///
/// ```
/// # fn show(handle: &syncord::ShardHandle) {
/// let latency = handle.latency();
/// match (latency.recent(), latency.average()) {
///     (Some(recent), Some(average)) => println!("{recent:?} (average {average:?})"),
///     _ => println!("no heartbeat ACKed yet"),
/// }
/// println!("{} beats sent, {} ACKed", latency.heartbeats_sent(), latency.acks_received());
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// Round trips, newest last.
    recent: VecDeque<Duration>,
    /// When each beat not yet ACKed was sent, oldest first.
    unacked: VecDeque<Instant>,
    sent: u64,
    acked: u64,
    last_ack: Option<Instant>,
}

impl Latency {
    /// The round trip of the most recently ACKed heartbeat, if any was.
    pub fn recent(&self) -> Option<Duration> {
        self.recent.back().copied()
    }

    /// The mean of the last few round trips (up to five), if any.
    pub fn average(&self) -> Option<Duration> {
        let count = u32::try_from(self.recent.len()).ok().filter(|n| *n > 0)?;
        Some(self.recent.iter().sum::<Duration>() / count)
    }

    /// The recent round trips, oldest first (up to five).
    pub fn samples(&self) -> impl Iterator<Item = Duration> + '_ {
        self.recent.iter().copied()
    }

    /// Heartbeats sent on this connection.
    pub fn heartbeats_sent(&self) -> u64 {
        self.sent
    }

    /// Heartbeat ACKs received on this connection.
    pub fn acks_received(&self) -> u64 {
        self.acked
    }

    /// When the last ACK arrived.
    pub fn last_ack(&self) -> Option<Instant> {
        self.last_ack
    }

    /// A heartbeat was handed to the writer at `at`.
    pub(crate) fn sent(&mut self, at: Instant) {
        self.sent += 1;
        if self.unacked.len() == UNACKED {
            self.unacked.pop_front();
        }
        self.unacked.push_back(at);
    }

    /// An ACK arrived at `at`: it answers the oldest beat not yet ACKed (the gateway
    /// answers in order). An ACK with no beat outstanding counts but measures nothing.
    pub(crate) fn acked(&mut self, at: Instant) {
        self.acked += 1;
        self.last_ack = Some(at);
        if let Some(sent) = self.unacked.pop_front() {
            if self.recent.len() == WINDOW {
                self.recent.pop_front();
            }
            self.recent.push_back(at.saturating_duration_since(sent));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_measured_before_the_first_ack() {
        let mut latency = Latency::default();
        assert_eq!((latency.recent(), latency.average()), (None, None));
        latency.sent(Instant::now());
        assert_eq!(latency.recent(), None);
        assert_eq!((latency.heartbeats_sent(), latency.acks_received()), (1, 0));
    }

    #[test]
    fn each_ack_answers_the_oldest_beat() {
        let start = Instant::now();
        let mut latency = Latency::default();
        latency.sent(start);
        latency.sent(start + 10 * MS);
        latency.acked(start + 30 * MS);
        assert_eq!(latency.recent(), Some(30 * MS));
        latency.acked(start + 50 * MS);
        assert_eq!(latency.recent(), Some(40 * MS));
        assert_eq!(latency.average(), Some(35 * MS));
        assert_eq!(latency.last_ack(), Some(start + 50 * MS));
    }

    #[test]
    fn the_average_covers_the_last_five() {
        let start = Instant::now();
        let mut latency = Latency::default();
        for rtt in [100, 1, 2, 3, 4, 5] {
            latency.sent(start);
            latency.acked(start + rtt * MS);
        }
        assert_eq!(latency.average(), Some(3 * MS));
        assert_eq!(latency.samples().count(), 5);
        assert_eq!((latency.heartbeats_sent(), latency.acks_received()), (6, 6));
    }

    #[test]
    fn an_unsolicited_ack_counts_but_measures_nothing() {
        let mut latency = Latency::default();
        latency.acked(Instant::now());
        assert_eq!((latency.acks_received(), latency.recent()), (1, None));
    }

    #[test]
    fn unacked_beats_are_bounded() {
        let start = Instant::now();
        let mut latency = Latency::default();
        for n in 0..100 {
            latency.sent(start + n * MS);
        }
        assert_eq!(latency.unacked.len(), UNACKED);
        latency.acked(start + 100 * MS);
        // The oldest beats kept are the last sixteen: 84 ms..99 ms.
        assert_eq!(latency.recent(), Some(16 * MS));
    }
}
