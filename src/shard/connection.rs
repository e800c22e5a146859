//! What passes between the Discord connection's threads and the caller's loop: the
//! protocol's half of the engine's channels ([`crate::engine`] owns the threads).

use super::event::{Dispatch, Event};
use crate::policy::Ended;
use crate::session::SessionCell;

/// The connection handle of a Discord connection: its shared state is the session, whose
/// last delivered `s` the heartbeats carry.
pub(crate) type Link = crate::engine::Link<SessionCell>;

/// What the reader tells the caller's loop, in the order it read it.
pub(crate) enum FromReader {
    /// Hello arrived: time to Identify or Resume.
    Hello,
    /// A dispatch.
    Dispatch(Dispatch),
    /// Dispatches `first..=last`, consecutive, that no handler wants: counted for the
    /// session in one step, never scanned past their envelope nor handed over one by one.
    Unhandled { first: u64, last: u64 },
    /// A lifecycle or error event to pass to the handler.
    Notice(Event),
    /// The connection ended; nothing follows.
    Ended(Ended),
}

/// What the writer sends ahead of user commands.
#[derive(PartialEq)]
pub(crate) enum Priority {
    /// A heartbeat carrying the last delivered sequence number.
    Heartbeat,
    /// Identify or Resume: carries the token, so it is written without frame logging.
    Session(String),
}
