//! What every protocol's reader does around its own frame handling: wait for the next
//! message without holding a lock, count it for the liveness check, and hand what it made
//! of it to the caller's loop with back-pressure.

use super::Link;
use crate::policy::Ended;
use crate::transport::{Message, TransportError};
use crossbeam_channel::{Sender, TrySendError};
use std::sync::atomic::Ordering;

/// The next message, waiting for readability when there is none; every message counts as
/// a sign of life. The connection's end comes back as `Err`.
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

/// Hands `item` to the caller's loop. A full queue makes the reader wait (TCP then pushes
/// back on the server) with `reader_blocked` set, so the silence is not taken for a dead
/// connection. False once the caller has hung up.
pub(crate) fn hand_over<S, T>(link: &Link<S>, events: &Sender<T>, item: T) -> bool {
    match events.try_send(item) {
        Ok(()) => true,
        Err(TrySendError::Full(item)) => {
            link.reader_blocked.store(true, Ordering::Release);
            let sent = events.send(item).is_ok();
            link.reader_blocked.store(false, Ordering::Release);
            sent
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

fn ended_by(e: TransportError) -> Ended {
    match e {
        TransportError::Closed { code, reason } => Ended::Closed { code, reason },
        TransportError::Eof => Ended::Eof,
        other => Ended::Io(other.to_string()),
    }
}
