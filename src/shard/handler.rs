//! The user's closure, called on the caller's thread: panics isolated and reported, slow
//! calls logged with the event they were handling.

use super::event::{Dispatch, Event};
use crate::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The closure and what to do when it misbehaves.
pub(super) struct Handler<H> {
    handler: H,
    shard_id: u64,
    slow_warning: Duration,
    stop_on_panic: bool,
    /// Set when the closure panicked and the config says that is fatal.
    failure: Option<Error>,
}

impl<H: FnMut(Event)> Handler<H> {
    pub fn new(handler: H, shard_id: u64, slow_warning: Duration, stop_on_panic: bool) -> Self {
        Handler {
            handler,
            shard_id,
            slow_warning,
            stop_on_panic,
            failure: None,
        }
    }

    /// Whether a panic has made the shard stop.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The error that stops the shard after a panic, if there was one.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// Calls the closure, isolating panics and timing slow calls.
    pub fn emit(&mut self, event: Event) {
        let label = match &event {
            Event::Dispatch(d) => Label::Dispatch(d.clone()),
            other => Label::Lifecycle(other.name()),
        };
        // A dispatcher times its handlers itself and turns this off (`Duration::MAX`): no
        // clock reads then, two per event otherwise.
        let started = (self.slow_warning != Duration::MAX).then(Instant::now);
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.handler)(event)));
        if let Some(took) = started
            .map(|started| started.elapsed())
            .filter(|took| *took >= self.slow_warning)
        {
            log::warn!(
                "shard {}: the handler took {took:.1?} on {}; events wait meanwhile",
                self.shard_id,
                label.describe()
            );
        }
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            let event = label.describe();
            log::error!(
                "shard {}: the handler panicked on {event}: {message}",
                self.shard_id
            );
            if self.stop_on_panic {
                self.failure = Some(Error::HandlerPanicked { event, message });
            } else {
                let report = Event::Error {
                    kind: crate::ErrorKind::HandlerPanicked,
                    message: format!("the handler panicked on {event}: {message}"),
                };
                let _ = catch_unwind(AssertUnwindSafe(|| (self.handler)(report)));
            }
        }
    }
}

/// What an event was, kept for messages after the event has moved into the closure.
enum Label {
    Dispatch(Dispatch),
    Lifecycle(&'static str),
}

impl Label {
    fn describe(&self) -> String {
        match self {
            Label::Dispatch(d) => format!("{} (s={})", d.event_type(), d.seq()),
            Label::Lifecycle(name) => format!("the {name} event"),
        }
    }
}
