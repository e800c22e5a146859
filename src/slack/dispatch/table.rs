//! The Slack handler list: registrations in order, what each matches, and the snapshot the
//! router reads (rebuilt at each change, as for Discord's table).

use super::SlackContext;
use crate::dispatch::registration::{self, EntryState, Slot};
use crate::slack::{Envelope, SlackEvent};
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;

/// A handler of envelopes; `Err` carries why its payload did not parse as its model.
pub(crate) type EnvelopeFn = dyn FnMut(&SlackContext, &Envelope) -> Result<(), String> + Send;
/// A responding handler: `Some` is the acknowledgement's payload.
pub(crate) type RespondFn =
    dyn FnMut(&SlackContext, &Envelope) -> Result<Option<serde_json::Value>, String> + Send;
/// A handler of events (lifecycle events; every event for catch-alls).
pub(crate) type EventFn = dyn FnMut(&SlackContext, &SlackEvent) + Send;

/// Which envelopes a handler takes.
#[derive(Clone, Debug)]
pub(crate) enum Match {
    /// The envelope's `type` (`slash_commands`).
    Kind(Box<str>),
    /// The payload's type (`reaction_removed`, `block_actions`).
    Type(Box<str>),
    /// Either.
    KindOrType(Box<str>),
    /// A model's envelope type, and its payload type unless any will do.
    Model {
        kind: &'static str,
        payload_type: Option<&'static str>,
    },
}

impl Match {
    pub fn matches(&self, envelope: &Envelope) -> bool {
        match self {
            Match::Kind(kind) => envelope.kind() == &**kind,
            Match::Type(wanted) => envelope.payload_type() == Some(wanted),
            Match::KindOrType(wanted) => {
                envelope.kind() == &**wanted || envelope.payload_type() == Some(wanted)
            }
            Match::Model { kind, payload_type } => {
                envelope.kind() == *kind
                    && payload_type.is_none_or(|wanted| envelope.payload_type() == Some(wanted))
            }
        }
    }
}

/// A registration, as kept in the list.
#[derive(Clone)]
pub(crate) enum Entry {
    Envelope {
        matcher: Match,
        slot: Arc<Slot<EnvelopeFn>>,
    },
    Responder {
        matcher: Match,
        slot: Arc<Slot<RespondFn>>,
    },
    Lifecycle {
        wants: fn(&SlackEvent) -> bool,
        slot: Arc<Slot<EventFn>>,
    },
    Any {
        slot: Arc<Slot<EventFn>>,
    },
}

impl Entry {
    pub fn state(&self) -> &Arc<EntryState> {
        match self {
            Entry::Envelope { slot, .. } => &slot.state,
            Entry::Responder { slot, .. } => &slot.state,
            Entry::Lifecycle { slot, .. } | Entry::Any { slot } => &slot.state,
        }
    }

    /// Whether this is a live responder for `envelope`.
    pub fn responds_to(&self, envelope: &Envelope) -> bool {
        matches!(self, Entry::Responder { matcher, slot }
            if !slot.state.is_removed() && matcher.matches(envelope))
    }
}

/// The handlers, in registration order, and the router's snapshot of the live ones.
pub(crate) struct Handlers {
    entries: Mutex<Vec<Entry>>,
    snapshot: RwLock<Arc<[Entry]>>,
}

impl Default for Handlers {
    fn default() -> Handlers {
        Handlers {
            entries: Mutex::default(),
            snapshot: RwLock::new(Arc::from(Vec::new())),
        }
    }
}

impl Handlers {
    pub fn register(&self, entry: Entry) {
        let mut entries = self.entries.lock();
        entries.push(entry);
        *self.snapshot.write() = Arc::from(entries.as_slice());
    }

    pub fn snapshot(&self) -> Arc<[Entry]> {
        self.snapshot.read().clone()
    }

    /// How many handlers are registered.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// The hold predicate: whether a live responder takes `envelope`, so its plain
    /// acknowledgement waits for the answer.
    pub fn has_responder(&self, envelope: &Envelope) -> bool {
        envelope.accepts_response_payload()
            && self.snapshot.read().iter().any(|e| e.responds_to(envelope))
    }
}

impl registration::Table for Handlers {
    fn rebuild(&self) {
        let mut entries = self.entries.lock();
        entries.retain(|entry| !entry.state().is_removed());
        *self.snapshot.write() = Arc::from(entries.as_slice());
    }
}
