//! Calling one handler, for the Discord and the Slack dispatchers alike: claim it (removed?
//! already ran once?), time it for the slow-handler watchdog, isolate its panic.

use super::registration::EntryState;
use super::watchdog::{Label, Watchdog};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// What calling a handler came to.
pub(crate) enum Called<R> {
    /// It was removed (or was run-once and has run): not called.
    Skipped,
    /// It returned this.
    Returned(R),
    /// It panicked with this message (logged already).
    Panicked(String),
}

/// Calls handlers for one runner (a shard, a Slack client).
pub(crate) struct Guard {
    pub watchdog: Watchdog,
    /// Let a panic through (the runner stops with it) instead of isolating it.
    pub stop_on_panic: bool,
    /// Who runs the handlers, for log lines (`shard 3`, `slack`).
    pub who: Arc<str>,
}

impl Guard {
    /// Calls `f`, the handler whose liveness is `state`, while `label` is handled.
    pub fn call<R>(&self, state: &EntryState, label: &Label, f: impl FnOnce() -> R) -> Called<R> {
        if !state.claim() {
            return Called::Skipped;
        }
        self.watchdog.begin(*label);
        let outcome = catch_unwind(AssertUnwindSafe(f));
        self.watchdog.end();
        match outcome {
            Ok(value) => Called::Returned(value),
            Err(panic) => {
                if self.stop_on_panic {
                    // The runner stops with an error naming the event.
                    resume_unwind(panic);
                }
                let message = panic_message(&*panic);
                log::error!(
                    "{}: a handler for {label} panicked: {message}; the other handlers still run",
                    self.who
                );
                Called::Panicked(message)
            }
        }
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}
