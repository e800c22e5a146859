//! Routing one Slack event to its handlers on the client's caller thread: the closure a
//! [`SlackDispatcher`](super::SlackDispatcher) gives `SocketMode::run`, and the responders'
//! answers sent as acknowledgement payloads (Slack: Using Socket Mode → Responding to
//! events with a payload).

use super::table::{Entry, Handlers};
use super::SlackContext;
use crate::dispatch::guard::{Called, Guard};
use crate::dispatch::registration::{EntryState, Table};
use crate::dispatch::watchdog::Label;
use crate::slack::{Envelope, RespondError, SlackEvent, SlackHandle};
use crate::ErrorKind;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// Where a held envelope's acknowledgement goes: the client's [`SlackHandle`] (a
/// recorder in tests).
pub(crate) trait Acks: Send + Sync {
    /// The acknowledgement with `payload_json` as its payload.
    fn respond(&self, envelope_id: &str, payload_json: &str) -> Result<(), RespondError>;
    /// The plain acknowledgement, now.
    fn ack_now(&self, envelope_id: &str) -> Result<(), RespondError>;
}

impl Acks for SlackHandle {
    fn respond(&self, envelope_id: &str, payload_json: &str) -> Result<(), RespondError> {
        SlackHandle::respond(self, envelope_id, payload_json)
    }

    fn ack_now(&self, envelope_id: &str) -> Result<(), RespondError> {
        SlackHandle::ack_now(self, envelope_id)
    }
}

/// The closure a dispatcher gives the client.
pub(crate) struct Router {
    pub handlers: Arc<Handlers>,
    pub ctx: SlackContext,
    pub acks: Arc<dyn Acks>,
    pub guard: Guard,
}

/// The state of routing one event.
struct Pass<'r> {
    ctx: &'r SlackContext,
    guard: &'r Guard,
    label: Label,
    reports: RefCell<Vec<(ErrorKind, String)>>,
    once_fired: Cell<bool>,
}

impl Pass<'_> {
    /// Calls one handler; `None` if it was skipped or panicked (reported).
    fn call<R>(&self, state: &EntryState, f: impl FnOnce() -> R) -> Option<R> {
        let called = self.guard.call(state, &self.label, f);
        if !matches!(called, Called::Skipped) && state.once() {
            self.once_fired.set(true);
        }
        match called {
            Called::Returned(value) => Some(value),
            Called::Panicked(message) => {
                self.report(
                    ErrorKind::HandlerPanicked,
                    format!("a handler for {} panicked: {message}", self.label),
                );
                None
            }
            Called::Skipped => None,
        }
    }

    /// A report for the error handlers (logged where it arose); one of each per event.
    fn report(&self, kind: ErrorKind, text: String) {
        let mut reports = self.reports.borrow_mut();
        if !reports.iter().any(|(_, seen)| *seen == text) {
            reports.push((kind, text));
        }
    }

    /// Logs and reports a handler's failure to parse its model.
    fn parse_failed(&self, text: String) {
        let text = format!("{text}; its typed handlers were skipped");
        log::warn!("{}: {text}", self.guard.who);
        self.report(ErrorKind::UnparsedDispatch, text);
    }

    /// Logs and reports an answer or acknowledgement that Slack will not get.
    fn response_not_sent(&self, text: String) {
        log::warn!("{}: {text}", self.guard.who);
        self.report(ErrorKind::ResponseNotSent, text);
    }

    /// [`response_not_sent`](Self::response_not_sent) for `what` (`the response to`, `the
    /// acknowledgement of`) this event's envelope, refused with `error`.
    fn envelope_not_sent(&self, what: &str, envelope: &Envelope, error: &RespondError) {
        self.response_not_sent(format!(
            "{what} {} (envelope {}) was not sent: {error}",
            self.label,
            envelope.envelope_id()
        ));
    }

    fn run_lifecycle(&self, snapshot: &[Entry], event: &SlackEvent) {
        for entry in snapshot {
            match entry {
                Entry::Lifecycle { wants, slot } if wants(event) => {
                    self.call(&slot.state, || (slot.f.lock())(self.ctx, event));
                }
                Entry::Any { slot } => {
                    self.call(&slot.state, || (slot.f.lock())(self.ctx, event));
                }
                _ => {}
            }
        }
    }
}

impl Router {
    pub fn route(&mut self, event: SlackEvent) {
        let snapshot = self.handlers.snapshot();
        let label = match &event {
            SlackEvent::Envelope(envelope) => {
                Label::new(envelope.payload_type().unwrap_or(envelope.kind()), None)
            }
            other => Label::new(event_name(other), None),
        };
        if let SlackEvent::Envelope(envelope) = &event {
            self.ctx.envelope = Some(envelope.clone());
        }
        let pass = Pass {
            ctx: &self.ctx,
            guard: &self.guard,
            label,
            reports: RefCell::default(),
            once_fired: Cell::new(false),
        };
        match &event {
            SlackEvent::Envelope(envelope) => {
                route_envelope(&pass, &*self.acks, &snapshot, &event, envelope)
            }
            other => pass.run_lifecycle(&snapshot, other),
        }
        // Reports go to the error handlers once, after the event's own handlers.
        let reports = pass.reports.take();
        let mut once_fired = pass.once_fired.get();
        if !reports.is_empty() {
            let report_pass = Pass {
                label: Label::new("error", None),
                ..pass
            };
            for (kind, message) in reports {
                report_pass.run_lifecycle(&snapshot, &SlackEvent::Error { kind, message });
            }
            once_fired |= report_pass.once_fired.get();
        }
        self.ctx.envelope = None;
        if once_fired {
            self.handlers.rebuild();
        }
    }
}

/// Runs an envelope's handlers in order. An envelope that accepts a response payload gets
/// exactly one acknowledgement from here: the first responder's answer as soon as it
/// returns, or the plain one as soon as no responder is left to answer (at once when it
/// has none), so handlers after the responders do not delay it. The plain one is also sent
/// for envelopes the client did not hold; the client ignores it then.
fn route_envelope(
    pass: &Pass<'_>,
    acks: &dyn Acks,
    snapshot: &[Entry],
    event: &SlackEvent,
    envelope: &Envelope,
) {
    let accepts = envelope.accepts_response_payload();
    // Counted over the whole snapshot, removed ones too: each is passed below.
    let mut responders_left = snapshot
        .iter()
        .filter(
            |entry| matches!(entry, Entry::Responder { matcher, .. } if matcher.matches(envelope)),
        )
        .count();
    let mut answered = false;
    if accepts && responders_left == 0 {
        ack_now(pass, acks, envelope);
    }
    let ctx = pass.ctx;
    for entry in snapshot {
        match entry {
            Entry::Envelope { matcher, slot } if matcher.matches(envelope) => {
                if let Some(Err(text)) = pass.call(&slot.state, || (slot.f.lock())(ctx, envelope)) {
                    pass.parse_failed(text);
                }
            }
            Entry::Responder { matcher, slot } if matcher.matches(envelope) => {
                responders_left -= 1;
                match pass.call(&slot.state, || (slot.f.lock())(ctx, envelope)) {
                    Some(Ok(Some(answer))) if accepts && !answered => {
                        answered = true;
                        respond(pass, acks, envelope, &answer);
                    }
                    Some(Ok(Some(_))) => {
                        let text = if accepts {
                            format!(
                                "a second responder answered {}: only the first answer is sent",
                                pass.label
                            )
                        } else {
                            format!("a responder answered {}, whose envelope does not accept a response payload: the answer was dropped", pass.label)
                        };
                        pass.response_not_sent(text);
                    }
                    Some(Err(text)) => pass.parse_failed(text),
                    Some(Ok(None)) | None => {}
                }
                if accepts && !answered && responders_left == 0 {
                    ack_now(pass, acks, envelope);
                }
            }
            Entry::Any { slot } => {
                pass.call(&slot.state, || (slot.f.lock())(ctx, event));
            }
            _ => {}
        }
    }
}

/// Sends a responder's answer; when that fails while the envelope is still held (too large,
/// not an object), the plain acknowledgement goes instead, so Slack is not left waiting.
fn respond(pass: &Pass<'_>, acks: &dyn Acks, envelope: &Envelope, answer: &serde_json::Value) {
    let Err(error) = acks.respond(envelope.envelope_id(), &answer.to_string()) else {
        return;
    };
    pass.envelope_not_sent("the response to", envelope, &error);
    if matches!(error, RespondError::TooLarge(_) | RespondError::NotJson(_)) {
        ack_now(pass, acks, envelope);
    }
}

/// Lets the plain acknowledgement of a held envelope go now. Not held (no responder when it
/// arrived), already acknowledged, or the client stopped: nothing to do.
fn ack_now(pass: &Pass<'_>, acks: &dyn Acks, envelope: &Envelope) {
    match acks.ack_now(envelope.envelope_id()) {
        Ok(()) | Err(RespondError::AlreadyAcknowledged | RespondError::Closed) => {}
        Err(error) => pass.envelope_not_sent("the acknowledgement of", envelope, &error),
    }
}

/// A lifecycle event's name, for labels (`the hello event`).
fn event_name(event: &SlackEvent) -> &'static str {
    #[allow(unreachable_patterns)] // SlackEvent grows: new events get a generic name.
    match event {
        SlackEvent::Connecting { .. } => "connecting",
        SlackEvent::Connected => "connected",
        SlackEvent::Hello { .. } => "hello",
        SlackEvent::Envelope(_) => "envelope",
        SlackEvent::Disconnect { .. } => "disconnect",
        SlackEvent::Disconnected { .. } => "disconnected",
        SlackEvent::Reconnecting { .. } => "reconnecting",
        SlackEvent::Error { .. } => "error",
        _ => "lifecycle",
    }
}
