//! The Slack simulator's one timer thread: server pings, ack deadlines, retries, delayed
//! duplicates and the closes that follow `disconnect` and `goodbye`, each a job due at an
//! instant, so no connection thread ever sleeps.

use super::record::ConnId;
use parking_lot::{Condvar, Mutex};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

/// An `events_api` delivery whose ack is awaited, or a retry waiting for a connection.
#[derive(Clone, Debug)]
pub(crate) struct PendingEvent {
    pub event_id: String,
    /// The Events API outer payload (`event_callback`), as JSON text.
    pub payload: String,
    pub attempt: u32,
    pub envelope_id: String,
}

/// Something the simulator does at a given instant.
#[derive(Debug)]
pub(crate) enum Job {
    /// Send a server ping, then schedule the next one.
    Ping(ConnId),
    /// The ack deadline of this envelope id has passed.
    AckDeadline(String),
    /// Send this retry.
    Retry(Box<PendingEvent>),
    /// Send a copy of this envelope (at-least-once duplicate).
    Duplicate(String),
    /// Close the connection (after `disconnect` or `goodbye`) unless it is closed already.
    Close(ConnId, u16, &'static str),
    /// The closing handshake had its time: shut TCP down.
    CloseTimeout(ConnId),
}

struct Entry {
    at: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: the heap's top is the earliest job (first scheduled among equals).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
    stopping: bool,
}

/// The jobs waiting for their instant.
#[derive(Default)]
pub(crate) struct Schedule {
    queue: Mutex<Queue>,
    wakeup: Condvar,
}

impl Schedule {
    /// Runs `job` at `at` (at once if `at` has passed).
    pub fn at(&self, at: Instant, job: Job) {
        let mut queue = self.queue.lock();
        queue.seq += 1;
        let seq = queue.seq;
        queue.heap.push(Entry { at, seq, job });
        drop(queue);
        self.wakeup.notify_one();
    }

    pub fn stop(&self) {
        self.queue.lock().stopping = true;
        self.wakeup.notify_all();
    }

    /// Blocks until a job is due and returns it; `None` once stopped.
    pub fn next_due(&self) -> Option<Job> {
        let mut queue = self.queue.lock();
        loop {
            if queue.stopping {
                return None;
            }
            let now = Instant::now();
            match queue.heap.peek().map(|e| e.at) {
                Some(at) if at <= now => return queue.heap.pop().map(|e| e.job),
                Some(at) => {
                    self.wakeup.wait_until(&mut queue, at);
                }
                None => self.wakeup.wait(&mut queue),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jobs_come_out_earliest_first_and_in_order_among_equals() {
        let schedule = Schedule::default();
        let now = Instant::now();
        schedule.at(now, Job::Ping(ConnId(2)));
        schedule.at(now - Duration::from_millis(1), Job::Ping(ConnId(1)));
        schedule.at(now, Job::Ping(ConnId(3)));
        for expected in 1..=3 {
            match schedule.next_due() {
                Some(Job::Ping(ConnId(id))) => assert_eq!(id, expected),
                other => panic!("{other:?}"),
            }
        }
        schedule.stop();
        assert!(schedule.next_due().is_none());
    }
}
