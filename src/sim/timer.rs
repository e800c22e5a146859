//! The simulator's one timer thread: it carries out every connection's deadlines (a missed
//! heartbeat, op 7 not followed, a close handshake left unanswered), so the connection
//! threads can simply block in `read` and are woken by the close frame or the shutdown the
//! timer causes.

use super::conn::{Deadlines, SimConn};
use super::state::Inner;
use std::sync::Arc;
use std::time::Instant;

/// What a due deadline makes the simulator do.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// The close handshake timed out: shut TCP down.
    Shutdown,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// Takes the deadlines of `deadlines` that are due at `now`, most urgent first.
fn due(deadlines: &mut Deadlines, now: Instant) -> Vec<Action> {
    let mut actions = Vec::new();
    if deadlines.closing.is_some_and(|t| t <= now) {
        deadlines.closing = None;
        actions.push(Action::Shutdown);
    }
    if deadlines.reconnect.is_some_and(|t| t <= now) {
        deadlines.reconnect = None;
        // "Reconnect" in Discord's Gateway Events page: the socket is closed a few seconds
        // after op 7.
        actions.push(Action::Close(4000, "Reconnect requested"));
    }
    if deadlines.heartbeat.is_some_and(|t| t <= now) {
        deadlines.heartbeat = None;
        // No heartbeat within interval + grace ("Sending Heartbeats", Gateway page).
        actions.push(Action::Close(4009, "Session timed out"));
    }
    actions
}

/// The timer thread's loop; returns when the simulator stops.
pub(crate) fn run(inner: &Arc<Inner>) {
    loop {
        if inner.is_stopping() {
            return;
        }
        *inner.timer.changed.lock() = false;
        let now = Instant::now();
        let conns: Vec<Arc<SimConn>> = inner.live_conns();
        let mut next: Option<Instant> = None;
        for conn in &conns {
            let actions = due(&mut conn.deadlines.lock(), now);
            for action in actions {
                match action {
                    Action::Shutdown => conn.conn.shutdown(),
                    Action::Close(code, reason) => {
                        inner.close_conn(conn, code, reason);
                    }
                }
            }
            if let Some(t) = conn.deadlines.lock().earliest() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        drop(conns);
        let mut changed = inner.timer.changed.lock();
        if *changed || inner.is_stopping() {
            continue;
        }
        match next {
            Some(at) => {
                inner.timer.wakeup.wait_until(&mut changed, at);
            }
            None => inner.timer.wakeup.wait(&mut changed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_due_deadlines_fire_and_each_fires_once() {
        let now = Instant::now();
        let mut deadlines = Deadlines {
            heartbeat: Some(now),
            reconnect: Some(now + Duration::from_secs(1)),
            closing: None,
        };
        assert_eq!(
            due(&mut deadlines, now),
            [Action::Close(4009, "Session timed out")]
        );
        assert_eq!(due(&mut deadlines, now), []);
        assert_eq!(deadlines.earliest(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn a_timed_out_handshake_shuts_down_before_anything_else() {
        let now = Instant::now();
        let mut deadlines = Deadlines {
            heartbeat: Some(now),
            reconnect: None,
            closing: Some(now),
        };
        assert_eq!(
            due(&mut deadlines, now),
            [Action::Shutdown, Action::Close(4009, "Session timed out")]
        );
    }
}
