//! Waiting for an event from another thread: [`Dispatcher::waiter`](super::Dispatcher::waiter)
//! and [`Dispatcher::wait_ready`](super::Dispatcher::wait_ready).

use super::Inner;
use crate::Dispatch;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Why a wait ended without its event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No matching event within the timeout.
    #[error("no matching event within {0:?}")]
    Timeout(Duration),
    /// Called on a thread that runs this dispatcher's handlers: the event could only be
    /// delivered after the wait returns, so it would deadlock. Wait from another thread, or
    /// register a handler ([`Dispatcher::once`](super::Dispatcher::once)) instead.
    #[error(
        "waited on the thread that runs the dispatcher's handlers, which would deadlock: wait from another thread, or register a handler (Dispatcher::once) instead"
    )]
    OnHandlerThread,
    /// Every shard this dispatcher ran has stopped, so the event cannot come.
    #[error("the dispatcher's shards stopped before a matching event came")]
    Stopped,
}

pub(crate) type Predicate = Box<dyn FnMut(&Dispatch) -> bool + Send>;

/// What a registered waiter waits for.
pub(crate) enum WaitFor {
    Dispatch {
        name: Box<str>,
        predicate: Predicate,
    },
    /// READY or RESUMED: the session is live.
    Active,
}

pub(crate) enum Woken {
    Dispatch(Dispatch),
    Active,
}

pub(crate) struct WaiterEntry {
    pub id: u64,
    pub what: WaitFor,
    pub tx: Sender<Woken>,
}

/// A registered wait for one event, from [`Dispatcher::waiter`](super::Dispatcher::waiter):
/// events that match from the moment it was made count, so register it *before* sending the
/// command whose answer it waits for. Dropping it unregisters it.
pub struct Waiter {
    pub(crate) id: u64,
    pub(crate) rx: Receiver<Woken>,
    pub(crate) inner: Weak<Inner>,
}

impl Waiter {
    /// Blocks until the event arrives (and returns it), `timeout` passes, or the dispatcher's
    /// shards stop. On a thread that runs this dispatcher's handlers it returns
    /// [`WaitError::OnHandlerThread`] at once.
    ///
    /// ```no_run
    /// # use syncord::dispatch::{Dispatcher, WaitError};
    /// # use std::time::Duration;
    /// # let dispatcher = Dispatcher::new();
    /// let waiter = dispatcher.waiter("GUILD_MEMBERS_CHUNK", |d| d.data_json().contains("\"nonce\":\"abc\""));
    /// // ... send the request here ...
    /// match waiter.wait(Duration::from_secs(5)) {
    ///     Ok(chunk) => println!("chunk #{}", chunk.seq()),
    ///     Err(WaitError::Timeout(after)) => eprintln!("no answer in {after:?}"),
    ///     Err(other) => eprintln!("{other}"),
    /// }
    /// ```
    pub fn wait(self, timeout: Duration) -> Result<Dispatch, WaitError> {
        match self.recv(timeout)? {
            Woken::Dispatch(dispatch) => Ok(dispatch),
            // Only `wait_ready` registers those, and it waits with `recv`.
            Woken::Active => Err(WaitError::Stopped),
        }
    }

    pub(crate) fn recv(&self, timeout: Duration) -> Result<Woken, WaitError> {
        if let Some(inner) = self.inner.upgrade() {
            if inner.on_runner_thread() {
                return Err(WaitError::OnHandlerThread);
            }
        }
        match self.rx.recv_timeout(timeout) {
            Ok(woken) => Ok(woken),
            Err(RecvTimeoutError::Timeout) => Err(WaitError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(WaitError::Stopped),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.remove_waiter(self.id);
        }
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").field("id", &self.id).finish()
    }
}

/// Keeps `Inner` alive only through the dispatcher.
pub(crate) fn weak(inner: &Arc<Inner>) -> Weak<Inner> {
    Arc::downgrade(inner)
}
