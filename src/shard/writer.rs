//! The writer thread: heartbeats first, Identify/Resume next, then user commands once the
//! session is active, never faster than the send limiter allows (PROTOCOL.md §5.1).

use super::link::{Command, Link, Priority, Report};
use super::policy::Ended;
use crate::protocol::heartbeat_json;
use crate::ratelimit::SendLimiter;
use crossbeam_channel::{at, never, select, select_biased, Receiver, Sender};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::Message;

/// Per-connection settings of the writer.
pub(crate) struct WriterOptions {
    pub rate_limit: (u32, Duration),
    /// Commands a failed connection could not send; retried first on the next one.
    pub retry: Arc<Mutex<VecDeque<Command>>>,
}

/// Sends payloads in priority order (heartbeats, Identify/Resume, then user commands once
/// the session is active), never faster than the send limiter allows.
pub(super) fn write_loop(
    link: &Link,
    priority: &Receiver<Priority>,
    commands: &Receiver<Command>,
    ready: &Receiver<()>,
    stop: &Receiver<()>,
    reports: &Sender<Report>,
    opts: &WriterOptions,
) {
    let (limit, window) = opts.rate_limit;
    let mut limiter = SendLimiter::new(limit, window, None);
    let mut known_interval = 0;
    let idle = never();
    let mut active = false;
    let mut pending: Option<Command> = None;
    let fail = |e: tungstenite::Error| {
        let _ = reports.send(Report {
            generation: link.generation,
            ended: Ended::Io(format!("write failed: {e}")),
        });
    };
    loop {
        let interval = link.heartbeat_interval_ms.load(Ordering::Acquire);
        if interval != known_interval {
            known_interval = interval;
            limiter.set_heartbeat_interval(Some(Duration::from_millis(interval)));
        }
        // Heartbeats and Identify/Resume go before anything else.
        let next_priority = match priority.try_recv() {
            Ok(p) => Some(p),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => return,
        };
        if let Some(p) = next_priority {
            if let Err(e) = send_priority(link, &mut limiter, p, stop) {
                return fail(e);
            }
            continue;
        }
        if active && pending.is_none() {
            pending = opts.retry.lock().pop_front();
        }
        if let Some(command) = pending.take() {
            let now = Instant::now();
            let slot = limiter.next_slot(now, false);
            if slot <= now {
                limiter.record(now);
                let result = link.conn.send(Message::text(command.json.clone()));
                match result {
                    Ok(()) => {
                        if let Some(done) = command.done {
                            let _ = done.send(Ok(()));
                        }
                    }
                    Err(e) => {
                        // Not known to have arrived: the next connection sends it again.
                        opts.retry.lock().push_front(command);
                        return fail(e);
                    }
                }
                continue;
            }
            pending = Some(command);
            select_biased! {
                recv(stop) -> _ => break,
                recv(priority) -> p => match p {
                    Ok(p) => {
                        if let Err(e) = send_priority(link, &mut limiter, p, stop) {
                            if let Some(command) = pending.take() {
                                opts.retry.lock().push_front(command);
                            }
                            return fail(e);
                        }
                    }
                    Err(_) => break,
                },
                recv(at(slot)) -> _ => {}
            }
            continue;
        }
        let user = if active { commands } else { &idle };
        select_biased! {
            recv(stop) -> _ => break,
            recv(priority) -> p => match p {
                Ok(p) => {
                    if let Err(e) = send_priority(link, &mut limiter, p, stop) {
                        return fail(e);
                    }
                }
                Err(_) => break,
            },
            recv(ready) -> r => active = r.is_ok(),
            recv(user) -> c => match c {
                Ok(command) => pending = Some(command),
                Err(_) => break,
            },
        }
    }
    if let Some(command) = pending {
        opts.retry.lock().push_front(command);
    }
}

/// Sends one priority payload, waiting for the limiter if even the reserve is used up.
fn send_priority(
    link: &Link,
    limiter: &mut SendLimiter,
    payload: Priority,
    stop: &Receiver<()>,
) -> Result<(), tungstenite::Error> {
    let slot = limiter.next_slot(Instant::now(), true);
    if slot > Instant::now() {
        log::warn!(
            "gateway send limit reached: a heartbeat waits {:?}",
            slot - Instant::now()
        );
        select! {
            recv(stop) -> _ => return Ok(()),
            recv(at(slot)) -> _ => {}
        }
    }
    limiter.record(Instant::now());
    match payload {
        Priority::Heartbeat => {
            let seq = link.seq.load(Ordering::Acquire);
            let json = heartbeat_json((seq > 0).then_some(seq));
            link.conn.send(Message::text(json))
        }
        Priority::Session(json) => link.conn.send_secret(&json),
    }
}
