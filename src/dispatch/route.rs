//! Routing one event to its handlers on the shard's caller thread: the closure a dispatcher
//! gives `Shard::run`.

use super::guard::Called;
pub(crate) use super::guard::Guard;
use super::table::{EntryState, EventRoutes, Lifecycle, Parsed, Route, Snapshot};
use super::watchdog::Label;
use super::{Context, Inner};
use crate::{Dispatch, ErrorKind, Event};
use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The state of routing one event.
struct Pass<'r> {
    ctx: &'r Context,
    guard: &'r Guard,
    label: &'r Label,
    reports: RefCell<Vec<(ErrorKind, String)>>,
    once_fired: Cell<bool>,
}

impl Pass<'_> {
    fn call(&self, state: &EntryState, f: impl FnOnce()) {
        let called = self.guard.call(state, self.label, f);
        if !matches!(called, Called::Skipped) && state.once() {
            self.once_fired.set(true);
        }
        if let Called::Panicked(message) = called {
            self.reports.borrow_mut().push((
                ErrorKind::HandlerPanicked,
                format!("a handler for {} panicked: {message}", self.label),
            ));
        }
    }

    fn report(&self, text: &str) {
        log::warn!(
            "{}: {text}; its typed handlers were skipped",
            self.guard.who
        );
        self.reports.borrow_mut().push((
            ErrorKind::UnparsedDispatch,
            format!("{text}; its typed handlers were skipped"),
        ));
    }

    /// Runs `routes[from..]` for `dispatch`; `env` holds the models parsed so far.
    fn run_routes(
        &self,
        routes: &EventRoutes,
        from: usize,
        event: &Event,
        dispatch: &Dispatch,
        env: Option<&Env<'_>>,
    ) {
        for (i, route) in routes.routes.iter().enumerate().skip(from) {
            match route {
                Route::Raw(slot) => self.call(&slot.state, || (slot.f.lock())(self.ctx, dispatch)),
                Route::Any(slot) => self.call(&slot.state, || (slot.f.lock())(self.ctx, event)),
                Route::Typed {
                    group,
                    member,
                    state,
                } => {
                    if let Some(parsed) = env.and_then(|env| env.find(*group)) {
                        if let Ok(call) = parsed {
                            self.call(state, || call(*member, self.ctx));
                        }
                        continue;
                    }
                    if state.is_removed() {
                        continue;
                    }
                    // The first handler of its model type: parse once, and run the rest of
                    // the list while the model lives, so later handlers of the type share it.
                    let Some(group_impl) = routes.groups.get(*group) else {
                        continue;
                    };
                    group_impl.parse_then(dispatch, &mut |parsed| {
                        match parsed {
                            Ok(call) => self.call(state, || call(*member, self.ctx)),
                            Err(text) => self.report(text),
                        }
                        let env = Env {
                            group: *group,
                            parsed,
                            parent: env,
                        };
                        self.run_routes(routes, i + 1, event, dispatch, Some(&env));
                    });
                    return;
                }
            }
        }
    }

    fn run_lifecycle(&self, snapshot: &Snapshot, event: &Event) {
        for (which, slot) in &snapshot.lifecycle {
            let wanted = match which {
                None | Some(Lifecycle::All) => true,
                Some(Lifecycle::Named(name)) => *name == event.name(),
            };
            if wanted {
                self.call(&slot.state, || (slot.f.lock())(self.ctx, event));
            }
        }
    }
}

/// The models parsed for one dispatch, innermost first.
struct Env<'e> {
    group: usize,
    parsed: Parsed<'e>,
    parent: Option<&'e Env<'e>>,
}

impl<'e> Env<'e> {
    fn find(&self, group: usize) -> Option<Parsed<'e>> {
        let mut env = Some(self);
        while let Some(e) = env {
            if e.group == group {
                return Some(e.parsed);
            }
            env = e.parent;
        }
        None
    }
}

/// The closure a dispatcher gives [`Shard::run`].
pub(crate) struct Router {
    pub inner: Arc<Inner>,
    /// This run's entry in the dispatcher's list of runners.
    pub id: u64,
    pub thread_known: bool,
    pub ctx: Context,
    pub guard: Guard,
}

impl Router {
    pub fn route(&mut self, event: Event) {
        if !self.thread_known {
            self.thread_known = true;
            let current = std::thread::current().id();
            if let Some(runner) = self
                .inner
                .runners
                .lock()
                .iter_mut()
                .find(|r| r.id == self.id)
            {
                runner.thread = Some(current);
            }
        }
        self.inner.wake_waiters(&event);
        let snapshot = self.inner.snapshot();
        let (label, seq) = match &event {
            Event::Dispatch(d) => (Label::dispatch(d), Some(d.seq())),
            other => (Label::lifecycle(other.name()), None),
        };
        self.ctx.seq = seq;
        let pass = Pass {
            ctx: &self.ctx,
            guard: &self.guard,
            label: &label,
            reports: RefCell::default(),
            once_fired: Cell::new(false),
        };
        match &event {
            Event::Dispatch(dispatch) => pass.run_routes(
                snapshot.routes(dispatch.event_type()),
                0,
                &event,
                dispatch,
                None,
            ),
            other => pass.run_lifecycle(&snapshot, other),
        }
        // Reports go to the error handlers once (what they report is logged already).
        let reports = pass.reports.take();
        if !reports.is_empty() {
            let report_pass = Pass {
                label: &Label::lifecycle("error"),
                ..pass
            };
            for (kind, message) in reports {
                report_pass.run_lifecycle(&snapshot, &Event::Error { kind, message });
            }
            if report_pass.once_fired.get() {
                self.inner.rebuild();
            }
        } else if pass.once_fired.get() {
            self.inner.rebuild();
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let mut runners = self.inner.runners.lock();
        runners.retain(|runner| runner.id != self.id);
        if runners.is_empty() {
            // Nothing can satisfy the waiters any more: they end with WaitError::Stopped.
            drop(runners);
            self.inner.waiters.lock().clear();
            self.inner.waiting.store(0, Ordering::Release);
        }
    }
}
