//! One handler's registration, shared by the Discord and the Slack dispatchers: its
//! liveness (removed? run once?), the slot that holds it, and the [`Registration`] that
//! removes it from any thread.

use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// One registration's liveness.
pub(crate) struct EntryState {
    removed: AtomicBool,
    once: bool,
}

impl EntryState {
    pub fn new(once: bool) -> Arc<EntryState> {
        Arc::new(EntryState {
            removed: AtomicBool::new(false),
            once,
        })
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    /// Marks it removed; true if it was live.
    pub fn remove(&self) -> bool {
        !self.removed.swap(true, Ordering::AcqRel)
    }

    /// Whether the handler may run now (a run-once handler runs for exactly one event, even
    /// when several shards race for it).
    pub fn claim(&self) -> bool {
        if self.once {
            self.remove()
        } else {
            !self.is_removed()
        }
    }

    pub fn once(&self) -> bool {
        self.once
    }
}

/// A handler and its state.
pub(crate) struct Slot<F: ?Sized> {
    pub state: Arc<EntryState>,
    pub f: Mutex<Box<F>>,
}

impl<F: ?Sized> Slot<F> {
    #[cfg_attr(not(feature = "slack"), allow(dead_code))]
    pub fn new(once: bool, f: Box<F>) -> Arc<Slot<F>> {
        Arc::new(Slot {
            state: EntryState::new(once),
            f: Mutex::new(f),
        })
    }
}

/// A dispatcher's table: drops removed entries and publishes a new snapshot.
pub(crate) trait Table: Send + Sync {
    fn rebuild(&self);
}

/// Removes the handler it was returned for; from any thread, while shards run or not.
/// Dropping it keeps the handler registered.
pub struct Registration {
    state: Arc<EntryState>,
    table: Weak<dyn Table>,
}

impl Registration {
    pub(crate) fn new(state: Arc<EntryState>, table: Weak<dyn Table>) -> Registration {
        Registration { state, table }
    }

    /// Removes the handler: it runs for no event after this returns. Returns `false` if it
    /// was already removed (or was a run-once handler that has run).
    pub fn remove(&self) -> bool {
        let removed = self.state.remove();
        if let Some(table) = self.table.upgrade() {
            table.rebuild();
        }
        removed
    }

    /// Whether the handler is still registered (a run-once handler is not, once it ran).
    pub fn is_registered(&self) -> bool {
        !self.state.is_removed()
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("registered", &self.is_registered())
            .finish()
    }
}
