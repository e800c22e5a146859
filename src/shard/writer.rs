//! The writer thread, the only one that writes: heartbeats first (the heartbeat thread asks
//! for them), Identify/Resume next, then user commands once the session is active, never
//! faster than the send limiter allows (Discord: Gateway → Rate Limiting; the limiter keeps
//! room for the beats of Hello's interval).

use super::connection::{Command, Link, Priority, Report};
use crate::policy::Ended;
use crate::protocol::heartbeat_json;
use crate::ratelimit::SendLimiter;
use crate::transport::{Message, TransportError};
use crossbeam_channel::{at, never, select_biased, Receiver, Sender, TryRecvError};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Per-connection settings of the writer.
pub(crate) struct WriterOptions {
    pub rate_limit: (u32, Duration),
    /// Commands a failed connection could not send; retried first on the next one.
    pub retry: Arc<Mutex<VecDeque<Command>>>,
}

/// The channels the writer waits on.
pub(super) struct WriterInputs {
    /// Heartbeats (from the heartbeat thread) and Identify/Resume.
    pub priority: Receiver<Priority>,
    /// User commands (shared by every connection of the shard).
    pub commands: Receiver<Command>,
    /// The heartbeat interval, once Hello arrived: the limiter keeps room for its beats.
    pub hello: Receiver<Duration>,
    /// READY or RESUMED arrived: user commands may go.
    pub ready: Receiver<()>,
    /// Disconnected when the connection stops.
    pub stop: Receiver<()>,
}

/// What woke the writer.
enum Wake {
    Stop,
    Timer,
    Priority(Result<Priority, ()>),
    Hello(Result<Duration, ()>),
    Ready(Result<(), ()>),
    Command(Result<Command, ()>),
}

/// Sends payloads in priority order (heartbeats, Identify/Resume, then user commands once
/// the session is active), never faster than the send limiter allows.
pub(super) fn write_loop(
    link: &Link,
    inputs: WriterInputs,
    reports: &Sender<Report>,
    opts: &WriterOptions,
) {
    let WriterInputs {
        priority,
        commands,
        mut hello,
        mut ready,
        stop,
    } = inputs;
    let (limit, window) = opts.rate_limit;
    let mut limiter = SendLimiter::new(limit, window, None);
    // Priority payloads in arrival order.
    let mut queue: VecDeque<Priority> = VecDeque::new();
    let mut warned = false;
    let mut active = false;
    let mut pending: Option<Command> = None;
    let idle = never();
    let report = |ended: Ended| {
        let _ = reports.send(Report {
            generation: link.generation,
            ended,
        });
    };
    let fail = |e: TransportError| report(Ended::Io(format!("write failed: {e}")));
    loop {
        match hello.try_recv() {
            Ok(interval) => {
                limiter.set_heartbeat_interval(Some(interval));
                hello = never();
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => hello = never(),
        }
        // Heartbeats and Identify/Resume go before anything else.
        loop {
            match priority.try_recv() {
                Ok(p) => enqueue(&mut queue, p),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return finish(pending, opts),
            }
        }
        let now = Instant::now();

        // The next payload and when the limiter lets it go.
        let slot = if let Some(next) = queue.front() {
            let slot = limiter.next_slot(now, true);
            if slot <= now {
                if let Some(payload) = queue.pop_front() {
                    limiter.record(now);
                    warned = false;
                    if let Err(e) = send_priority(link, payload) {
                        fail(e);
                        return finish(pending, opts);
                    }
                }
                continue;
            }
            if !warned {
                warned = true;
                let what = match next {
                    Priority::Heartbeat => "a heartbeat",
                    Priority::Session(_) => "Identify/Resume",
                };
                log::warn!("gateway send limit reached: {what} waits {:?}", slot - now);
            }
            Some(slot)
        } else {
            if active && pending.is_none() {
                pending = opts.retry.lock().pop_front();
            }
            match pending.take() {
                Some(command) => {
                    let slot = limiter.next_slot(now, false);
                    if slot <= now {
                        limiter.record(now);
                        match link.conn.send(Message::text(command.json.clone())) {
                            Ok(()) => link.metrics.sent(),
                            Err(e) => {
                                // Not known to have arrived: the next connection sends it again.
                                fail(e);
                                return finish(Some(command), opts);
                            }
                        }
                        continue;
                    }
                    pending = Some(command);
                    Some(slot)
                }
                None => None,
            }
        };

        // Wait for the slot or anything on the channels.
        let slot = slot.map_or_else(never, at);
        let user = if active && pending.is_none() {
            &commands
        } else {
            &idle
        };
        let wake = select_biased! {
            recv(stop) -> _ => Wake::Stop,
            recv(priority) -> p => Wake::Priority(p.map_err(drop)),
            recv(hello) -> h => Wake::Hello(h.map_err(drop)),
            recv(ready) -> r => Wake::Ready(r.map_err(drop)),
            recv(slot) -> _ => Wake::Timer,
            recv(user) -> c => Wake::Command(c.map_err(drop)),
        };
        match wake {
            Wake::Stop | Wake::Priority(Err(())) | Wake::Command(Err(())) => break,
            Wake::Timer => {}
            Wake::Priority(Ok(p)) => enqueue(&mut queue, p),
            Wake::Hello(Ok(interval)) => {
                limiter.set_heartbeat_interval(Some(interval));
                hello = never();
            }
            // The reader stopped before Hello.
            Wake::Hello(Err(())) => hello = never(),
            Wake::Ready(r) => {
                active = r.is_ok();
                if r.is_err() {
                    // The reader stopped: the connection is over, nothing more to wait for.
                    ready = never();
                }
            }
            Wake::Command(Ok(command)) => pending = Some(command),
        }
    }
    finish(pending, opts);
}

/// Queues a priority payload. A heartbeat already waiting (behind a stalled write, or the
/// limiter) is not queued twice: both would carry the same sequence number, and two beats
/// back to back leave no time for the first one's ACK.
fn enqueue(queue: &mut VecDeque<Priority>, payload: Priority) {
    let beat_waiting = queue.iter().any(|p| matches!(p, Priority::Heartbeat));
    if !(beat_waiting && matches!(payload, Priority::Heartbeat)) {
        queue.push_back(payload);
    }
}

/// A command taken but not written goes back to the front of the retry queue.
fn finish(pending: Option<Command>, opts: &WriterOptions) {
    if let Some(command) = pending {
        opts.retry.lock().push_front(command);
    }
}

/// Writes one priority payload (the limiter already counted it).
fn send_priority(link: &Link, payload: Priority) -> Result<(), TransportError> {
    link.metrics.sent();
    match payload {
        Priority::Heartbeat => {
            let seq = link.session.lock().last_seq();
            let json = heartbeat_json((seq > 0).then_some(seq));
            link.conn.send(Message::text(json))
        }
        Priority::Session(json) => link.conn.send_secret(&json),
    }
}
