//! How the writer and heartbeat threads are woken: every channel into them is a
//! [`RingingSender`], which rings the thread's [`Doorbell`] (an unpark) after each message.
//! The thread takes what is waiting with `try_recv` and parks ([`park_until`]) when nothing
//! is; it never blocks in a channel's `recv` or a `select!`.
//!
//! Why not block in the channels: before parking, a blocking receive spins and then yields
//! four times, and after a wake-up a `select!` unregisters from each channel's waker under
//! that waker's lock, which the sender still holds while it unparks, so the woken writer
//! blocks on the lock and is woken a second time. An idle connection wakes these threads
//! once per heartbeat, and for 1,000 idle shards those extra runs were a third of their CPU
//! (BENCHMARKS.md, "Many shards").

use crossbeam_channel::{SendError, Sender, TrySendError};
use parking_lot::Mutex;
use std::sync::Arc;
use std::thread::Thread;
use std::time::Instant;

/// Parks the calling thread until it is rung or `deadline` (forever when `None`). False once
/// the deadline has passed; true otherwise, which may be a spurious wake-up: check the
/// channels again.
pub(crate) fn park_until(deadline: Option<Instant>) -> bool {
    match deadline {
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::park_timeout(deadline - now);
        }
        None => std::thread::park(),
    }
    true
}

/// Wakes whichever thread answered it last (a writer's: the current connection's writer).
#[derive(Default)]
pub(crate) struct Doorbell {
    thread: Mutex<Option<Thread>>,
}

impl Doorbell {
    /// Makes the calling thread the one a ring wakes. A ring before this is not lost: the
    /// thread takes what is waiting before it first parks.
    pub fn answer(&self) {
        *self.thread.lock() = Some(std::thread::current());
    }

    /// Wakes the thread (or makes its next park return at once).
    pub fn ring(&self) {
        if let Some(thread) = self.thread.lock().as_ref() {
            thread.unpark();
        }
    }
}

/// A sender that rings a doorbell after each message.
pub(crate) struct RingingSender<T> {
    tx: Sender<T>,
    bell: Arc<Doorbell>,
}

impl<T> Clone for RingingSender<T> {
    fn clone(&self) -> Self {
        RingingSender {
            tx: self.tx.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> RingingSender<T> {
    /// `tx`, ringing `bell` after each message.
    pub fn new(tx: Sender<T>, bell: &Arc<Doorbell>) -> RingingSender<T> {
        RingingSender {
            tx,
            bell: bell.clone(),
        }
    }

    /// [`Sender::send`], then a ring.
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        let sent = self.tx.send(message);
        self.bell.ring();
        sent
    }

    /// [`Sender::try_send`], then a ring.
    pub fn try_send(&self, message: T) -> Result<(), TrySendError<T>> {
        let sent = self.tx.try_send(message);
        self.bell.ring();
        sent
    }

    /// How many messages wait in the channel.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// The doorbell this sender rings.
    pub fn bell(&self) -> &Arc<Doorbell> {
        &self.bell
    }

    /// Whether both send into the same channel.
    #[cfg(feature = "slack")]
    pub fn same_channel(&self, other: &RingingSender<T>) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;
    use std::time::Duration;

    #[test]
    fn a_message_wakes_the_parked_writer() {
        let bell = Arc::new(Doorbell::default());
        let (tx, rx) = unbounded::<u32>();
        let (answered_tx, answered) = crossbeam_channel::bounded(1);
        let writer = {
            let bell = bell.clone();
            std::thread::spawn(move || {
                bell.answer();
                answered_tx.send(()).unwrap();
                let deadline = Some(Instant::now() + Duration::from_secs(10));
                loop {
                    if let Ok(n) = rx.try_recv() {
                        return Some(n);
                    }
                    if !park_until(deadline) {
                        return None;
                    }
                }
            })
        };
        answered.recv_timeout(Duration::from_secs(10)).unwrap();
        let started = Instant::now();
        RingingSender::new(tx, &bell).send(7).unwrap();
        assert_eq!(writer.join().unwrap(), Some(7));
        // Woken by the ring, not by the 10 s deadline.
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
