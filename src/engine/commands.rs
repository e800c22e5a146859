//! The user-command queue: any number of senders (a client's handles), one receiver at a
//! time (the current connection's writer). It holds at most `capacity` commands, like a
//! bounded channel, but allocates as it fills: a bounded crossbeam channel allocates and
//! writes every slot up front, 8 KiB per shard at the default 256, which 1,000 idle shards
//! pay in full (BENCHMARKS.md, "Many shards").

use super::doorbell::{Doorbell, RingingSender};
use super::Command;
use crossbeam_channel::{unbounded, Receiver, SendTimeoutError, TryRecvError};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A queue of at most `capacity` commands whose senders ring `bell` (the writer's).
pub(crate) fn command_queue(
    capacity: usize,
    bell: &Arc<Doorbell>,
) -> (CommandSender, CommandReceiver) {
    let (tx, rx) = unbounded();
    let room = Arc::new(Room::default());
    let sender = CommandSender {
        tx: RingingSender::new(tx, bell),
        room: room.clone(),
        capacity,
    };
    (sender, CommandReceiver { rx, room })
}

/// Where senders wait for a full queue to have room.
#[derive(Default)]
struct Room {
    /// Senders waiting: the receiver takes the lock to wake them only when there are some.
    waiting: AtomicUsize,
    lock: Mutex<()>,
    freed: Condvar,
}

/// The sending side (cloned into every handle).
#[derive(Clone)]
pub(crate) struct CommandSender {
    tx: RingingSender<Command>,
    room: Arc<Room>,
    capacity: usize,
}

impl CommandSender {
    /// Queues `command`, waiting up to `timeout` for room while the queue is full.
    pub fn send_timeout(
        &self,
        command: Command,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<Command>> {
        if self.tx.queued() >= self.capacity && !self.wait_for_room(timeout) {
            return Err(SendTimeoutError::Timeout(command));
        }
        self.tx
            .send(command)
            .map_err(|e| SendTimeoutError::Disconnected(e.0))
    }

    fn wait_for_room(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.room.lock.lock();
        // Counted before the queue is looked at, so a command taken after this is seen
        // either here (the queue has room) or by the receiver (it wakes us).
        self.room.waiting.fetch_add(1, Ordering::SeqCst);
        let room = loop {
            if self.tx.queued() < self.capacity {
                break true;
            }
            if self.room.freed.wait_until(&mut guard, deadline).timed_out() {
                break self.tx.queued() < self.capacity;
            }
        };
        self.room.waiting.fetch_sub(1, Ordering::SeqCst);
        room
    }

    /// The doorbell a command rings.
    pub fn bell(&self) -> &Arc<Doorbell> {
        self.tx.bell()
    }
}

/// The receiving side: the writer takes from it; the loop takes what is left at the end.
#[derive(Clone)]
pub(crate) struct CommandReceiver {
    rx: Receiver<Command>,
    room: Arc<Room>,
}

impl CommandReceiver {
    /// The next command, if one is waiting; a sender waiting for room is woken.
    pub fn try_recv(&self) -> Result<Command, TryRecvError> {
        let taken = self.rx.try_recv();
        if taken.is_ok() {
            // Pairs with the sender's count: either it sees the room or we see it waiting.
            fence(Ordering::SeqCst);
            if self.room.waiting.load(Ordering::SeqCst) > 0 {
                let _guard = self.room.lock.lock();
                self.room.freed.notify_all();
            }
        }
        taken
    }

    /// Every command still queued.
    pub fn drain(&self) -> Vec<Command> {
        std::iter::from_fn(|| self.try_recv().ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(n: u32) -> Command {
        Command {
            json: n.to_string(),
        }
    }

    #[test]
    fn a_full_queue_times_out_and_keeps_the_command() {
        let (tx, rx) = command_queue(2, &Arc::default());
        tx.send_timeout(command(1), Duration::ZERO).unwrap();
        tx.send_timeout(command(2), Duration::ZERO).unwrap();
        match tx.send_timeout(command(3), Duration::from_millis(20)) {
            Err(SendTimeoutError::Timeout(c)) => assert_eq!(c.json, "3"),
            other => panic!("{:?}", other.map_err(|e| e.into_inner().json)),
        }
        let left: Vec<String> = rx.drain().into_iter().map(|c| c.json).collect();
        assert_eq!(left, ["1", "2"]);
    }

    #[test]
    fn a_sender_waiting_for_room_goes_as_soon_as_a_command_is_taken() {
        let (tx, rx) = command_queue(1, &Arc::default());
        tx.send_timeout(command(1), Duration::ZERO).unwrap();
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let waiter = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let sent = tx.send_timeout(command(2), Duration::from_secs(30));
                done_tx.send(sent.is_ok()).unwrap();
            })
        };
        // The waiter is blocked on the full queue until a command is taken.
        assert!(done.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(rx.try_recv().unwrap().json, "1");
        assert_eq!(done.recv_timeout(Duration::from_secs(10)), Ok(true));
        assert_eq!(rx.try_recv().unwrap().json, "2");
        waiter.join().unwrap();
    }
}
