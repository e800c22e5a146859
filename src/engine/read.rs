//! What every protocol's reader does around its own frame handling: wait for the next
//! message without holding a lock, count it for the liveness check, and hand what it made
//! of it to the caller's loop with back-pressure.

use super::Link;
#[cfg(feature = "slack")]
use crate::policy::Ended;
#[cfg(feature = "slack")]
use crate::transport::{Message, TransportError};
use crossbeam_channel::Sender;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The next message, waiting for readability when there is none; every message counts as
/// a sign of life. The connection's end comes back as `Err`.
#[cfg(feature = "slack")]
pub(crate) fn next_message<S>(link: &Link<S>) -> Result<Message, Ended> {
    loop {
        match link.conn.try_read() {
            Ok(Some(message)) => {
                link.received.fetch_add(1, Ordering::Release);
                link.metrics.received_message(&message);
                return Ok(message);
            }
            Ok(None) => link.conn.wait_readable().map_err(ended_by)?,
            Err(e) => return Err(ended_by(e)),
        }
    }
}

/// Hands `item` to the caller's loop, once there is room for it (see [`wait_for_room`]).
/// False once the caller has hung up.
#[cfg(feature = "slack")]
pub(crate) fn hand_over<S, T>(link: &Link<S>, events: &Sender<T>, item: T) -> bool {
    wait_for_room(link, events);
    events.send(item).is_ok()
}

/// Waits while the event queue holds [`Link::event_queue`] messages, until half of it is
/// free (TCP then pushes back on the server), with `reader_blocked` set so the silence is
/// not taken for a dead connection. The caller's loop wakes this thread once per half
/// queue (`LinkThreads::made_room`), not once per event; the timeout is only a safety net.
/// The caller never drops the queue without draining it (a dropped receiver empties it),
/// so this ends.
pub(crate) fn wait_for_room<S, T>(link: &Link<S>, events: &Sender<T>) {
    if events.len() < link.event_queue {
        return;
    }
    link.reader_blocked.store(true, Ordering::Release);
    let half = link.event_queue / 2;
    while events.len() > half {
        std::thread::park_timeout(Duration::from_secs(1));
    }
    link.reader_blocked.store(false, Ordering::Release);
}

#[cfg(feature = "slack")]
fn ended_by(e: TransportError) -> Ended {
    match e {
        TransportError::Closed { code, reason } => Ended::Closed { code, reason },
        TransportError::Eof | TransportError::Closing => Ended::Eof,
        other => Ended::Io(other.to_string()),
    }
}
