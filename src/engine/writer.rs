//! The writer thread, the only one that writes: the protocol's priority payloads first
//! (beats, which the heartbeat thread asks for; Identify/Resume; acknowledgements), then
//! user commands once the session is active, never faster than the send limiter allows
//! (Discord: Gateway → Rate Limiting; the limiter keeps room for the beats of Hello's
//! interval).

use super::doorbell::{park_until, Doorbell};
use super::{Command, CommandReceiver, Link, Report, Slot, Wire};
use crate::policy::Ended;
use crate::ratelimit::SendLimiter;
use crate::transport::{Message, TransportError};
use crossbeam_channel::{never, Receiver, Sender, TryRecvError};
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

/// The channels the writer takes from. Their senders ring `bell` after each message
/// ([`super::RingingSender`]).
pub(super) struct WriterInputs<P> {
    /// What wakes the writer: answered by it at start.
    pub bell: Arc<Doorbell>,
    /// Beats (from the heartbeat thread) and the protocol's other priority payloads.
    pub priority: Receiver<P>,
    /// User commands (shared by every connection of the shard).
    pub commands: CommandReceiver,
    /// The heartbeat interval, once Hello arrived: the limiter keeps room for its beats.
    pub hello: Receiver<Duration>,
    /// READY or RESUMED arrived: user commands may go.
    pub ready: Receiver<()>,
    /// Disconnected when the connection stops.
    pub stop: Receiver<()>,
}

/// What woke the writer.
enum Wake<P> {
    Stop,
    Timer,
    Priority(Result<P, ()>),
    Hello(Result<Duration, ()>),
    Ready(Result<(), ()>),
    Command(Result<Command, ()>),
}

/// Sends payloads in priority order (the protocol's priority payloads, then user commands
/// once the session is active), never faster than the send limiter allows.
pub(super) fn write_loop<W: Wire>(
    link: &Link<W::State>,
    inputs: WriterInputs<W::Priority>,
    reports: &Sender<Report>,
    opts: &WriterOptions,
) {
    let WriterInputs {
        bell,
        priority,
        commands,
        mut hello,
        mut ready,
        stop,
    } = inputs;
    let (limit, window) = opts.rate_limit;
    let mut limiter = SendLimiter::new(limit, window, None);
    // Priority payloads in arrival order, and those held until a time, earliest first.
    let mut queue: VecDeque<W::Priority> = VecDeque::new();
    let mut held: Held<W::Priority> = Held::default();
    let mut warned = false;
    let mut active = false;
    let mut pending: Option<Command> = None;
    let report = |ended: Ended| {
        let _ = reports.send(Report {
            generation: link.generation,
            ended,
        });
    };
    let fail = |e: TransportError| {
        // Refused because the peer's close frame was read: the reader reports that close
        // with its code, which decides what comes next (Discord: a session-ending code means
        // identify anew). A report from here would race it, and the code would be lost.
        if !matches!(e, TransportError::Closing) {
            report(Ended::Io(format!("write failed: {e}")));
        }
    };
    bell.answer();
    loop {
        match hello.try_recv() {
            Ok(interval) => {
                limiter.set_heartbeat_interval(Some(interval));
                hello = never();
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => hello = never(),
        }
        // Priority payloads go before anything else; held ones once their time has come.
        loop {
            match priority.try_recv() {
                Ok(p) => accept::<W>(&mut queue, &mut held, p),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return finish(pending, opts),
            }
        }
        let now = Instant::now();
        held.release(now, |p| enqueue::<W>(&mut queue, p));

        // The next payload and when the limiter lets it go.
        let slot = if let Some(next) = queue.front() {
            let slot = limiter.next_slot(now, true);
            if slot <= now {
                if let Some(payload) = queue.pop_front() {
                    limiter.record(now);
                    warned = false;
                    link.metrics.sent();
                    if let Err(e) = W::send_priority(link, payload) {
                        fail(e);
                        return finish(pending, opts);
                    }
                }
                continue;
            }
            if !warned {
                warned = true;
                let what = W::describe(next);
                log::warn!("send limit reached: {what} waits {:?}", slot - now);
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

        // Wait for the slot, the next held payload, or anything on the channels (parked:
        // every sender rings the doorbell).
        let slot = match (slot, held.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let user = (active && pending.is_none()).then_some(&commands);
        let wake = loop {
            if let Some(wake) = take_one(&stop, &priority, &hello, &ready, user) {
                break wake;
            }
            if !park_until(slot) {
                break Wake::Timer;
            }
        };
        match wake {
            Wake::Stop | Wake::Priority(Err(())) | Wake::Command(Err(())) => break,
            Wake::Timer => {}
            Wake::Priority(Ok(p)) => accept::<W>(&mut queue, &mut held, p),
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

/// The first thing waiting, in priority order: a stop, a priority payload, Hello's interval,
/// the session becoming active, a user command (`user` is `None` while none may go).
fn take_one<P>(
    stop: &Receiver<()>,
    priority: &Receiver<P>,
    hello: &Receiver<Duration>,
    ready: &Receiver<()>,
    user: Option<&CommandReceiver>,
) -> Option<Wake<P>> {
    /// A message (`Ok`), a hung-up channel (`Err`), or nothing yet (`None`).
    fn taken<T>(r: Result<T, TryRecvError>) -> Option<Result<T, ()>> {
        match r {
            Ok(message) => Some(Ok(message)),
            Err(TryRecvError::Disconnected) => Some(Err(())),
            Err(TryRecvError::Empty) => None,
        }
    }
    if taken(stop.try_recv()).is_some() {
        return Some(Wake::Stop);
    }
    if let Some(p) = taken(priority.try_recv()) {
        return Some(Wake::Priority(p));
    }
    if let Some(interval) = taken(hello.try_recv()) {
        return Some(Wake::Hello(interval));
    }
    if let Some(r) = taken(ready.try_recv()) {
        return Some(Wake::Ready(r));
    }
    taken(user?.try_recv()).map(Wake::Command)
}

/// Takes a priority payload: queued now, or held until its time.
fn accept<W: Wire>(
    queue: &mut VecDeque<W::Priority>,
    held: &mut Held<W::Priority>,
    p: W::Priority,
) {
    match W::slot(&p) {
        Slot::Now => enqueue::<W>(queue, p),
        Slot::At(due) => held.hold(due, p),
    }
}

/// Queues a priority payload. A beat already waiting (behind a stalled write, or the
/// limiter) is not queued twice: both would carry the same sequence number, and two beats
/// back to back leave no time for the first one's ACK.
fn enqueue<W: Wire>(queue: &mut VecDeque<W::Priority>, payload: W::Priority) {
    let is_beat = |p: &W::Priority| *p == W::BEAT;
    if !(is_beat(&payload) && queue.iter().any(is_beat)) {
        queue.push_back(payload);
    }
}

/// Payloads held until a time, in due order.
struct Held<P> {
    items: VecDeque<(Instant, P)>,
}

impl<P> Default for Held<P> {
    fn default() -> Self {
        Held {
            items: VecDeque::new(),
        }
    }
}

impl<P> Held<P> {
    fn hold(&mut self, due: Instant, payload: P) {
        let at = self.items.partition_point(|(d, _)| *d <= due);
        self.items.insert(at, (due, payload));
    }

    fn next_due(&self) -> Option<Instant> {
        self.items.front().map(|(due, _)| *due)
    }

    /// Hands over every payload due by `now`, in due order.
    fn release(&mut self, now: Instant, mut to: impl FnMut(P)) {
        while self.items.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, payload)) = self.items.pop_front() {
                to(payload);
            }
        }
    }
}

/// A command taken but not written goes back to the front of the retry queue.
fn finish(pending: Option<Command>, opts: &WriterOptions) {
    if let Some(command) = pending {
        opts.retry.lock().push_front(command);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn held_payloads_come_out_in_due_order_once_due() {
        let t = Instant::now();
        let mut held = Held::default();
        held.hold(t + Duration::from_millis(30), "c");
        held.hold(t + Duration::from_millis(10), "a");
        held.hold(t + Duration::from_millis(20), "b");
        assert_eq!(held.next_due(), Some(t + Duration::from_millis(10)));
        let mut out = Vec::new();
        held.release(t + Duration::from_millis(5), |p| out.push(p));
        assert!(out.is_empty(), "nothing due yet");
        held.release(t + Duration::from_millis(20), |p| out.push(p));
        assert_eq!(out, ["a", "b"]);
        held.release(t + Duration::from_millis(30), |p| out.push(p));
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(held.next_due(), None);
    }
}
