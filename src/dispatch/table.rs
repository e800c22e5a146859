//! The handler table: registrations in order, and the snapshot the runner routes with.
//!
//! Registrations and removals come from any thread; the runner reads an immutable snapshot
//! (an `Arc`), rebuilt under the table's lock at each change, so a removal is seen before
//! the next event (and, through each entry's `removed` flag, even by the event being
//! routed).

pub(crate) use super::registration::{EntryState, Slot};
use super::typed::Family;
use super::Context;
use crate::{Dispatch, Event};
use std::any::Any;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

pub(crate) type RawFn = dyn FnMut(&Context, &Dispatch) + Send;
pub(crate) type EventFn = dyn FnMut(&Context, &Event) + Send;
pub(crate) type TypedFn<F> = dyn for<'a> FnMut(&Context, &<F as Family>::Model<'a>) + Send;

/// Which events a lifecycle handler wants.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Every event that is not a dispatch.
    All,
    /// Events whose [`Event::name`] is this.
    Named(&'static str),
}

/// A registration, as kept in the table.
pub(crate) enum Entry {
    Raw {
        name: Box<str>,
        slot: Arc<Slot<RawFn>>,
    },
    Typed {
        name: Box<str>,
        member: Arc<dyn Member>,
        state: Arc<EntryState>,
    },
    Lifecycle {
        which: Lifecycle,
        slot: Arc<Slot<EventFn>>,
    },
    Any {
        slot: Arc<Slot<EventFn>>,
    },
}

impl Entry {
    pub fn state(&self) -> &EntryState {
        match self {
            Entry::Raw { slot, .. } => &slot.state,
            Entry::Lifecycle { slot, .. } | Entry::Any { slot } => &slot.state,
            Entry::Typed { state, .. } => state,
        }
    }

    /// The dispatch it handles, for typed and raw handlers.
    pub fn event_name(&self) -> Option<&str> {
        match self {
            Entry::Raw { name, .. } | Entry::Typed { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// A typed handler, its model type erased so the table can hold handlers of any type.
pub(crate) trait Member: Send + Sync {
    /// The model family, so handlers of one type share one parse.
    fn family(&self) -> std::any::TypeId;
    /// A group of this type, to which members of the same family are added.
    fn new_group(&self) -> Box<dyn Group>;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

pub(crate) struct TypedMember<F: Family> {
    pub slot: Slot<TypedFn<F>>,
}

impl<F: Family> Member for TypedMember<F> {
    fn family(&self) -> std::any::TypeId {
        std::any::TypeId::of::<F>()
    }

    fn new_group(&self) -> Box<dyn Group> {
        Box::new(TypedGroup::<F> {
            members: Vec::new(),
        })
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// What a group hands the router once it has parsed: a way to call its `n`th member with
/// the parsed model (`Err` with the parse error's text when the dispatch did not fit).
pub(crate) type Parsed<'p> = Result<&'p dyn Fn(usize, &Context), &'p str>;

/// The typed handlers of one event that share one model type: the dispatch is parsed once
/// for all of them.
pub(crate) trait Group: Send + Sync {
    /// Adds a member of this group's type; its index.
    fn push(&mut self, member: Arc<dyn Any + Send + Sync>) -> Option<usize>;
    /// Parses `dispatch` and runs `then` while the model lives.
    fn parse_then(&self, dispatch: &Dispatch, then: &mut dyn FnMut(Parsed<'_>));
}

struct TypedGroup<F: Family> {
    members: Vec<Arc<TypedMember<F>>>,
}

impl<F: Family> Group for TypedGroup<F> {
    fn push(&mut self, member: Arc<dyn Any + Send + Sync>) -> Option<usize> {
        let member = member.downcast::<TypedMember<F>>().ok()?;
        self.members.push(member);
        Some(self.members.len() - 1)
    }

    fn parse_then(&self, dispatch: &Dispatch, then: &mut dyn FnMut(Parsed<'_>)) {
        match dispatch.data::<F::Model<'_>>() {
            Ok(model) => {
                let call = |n: usize, ctx: &Context| {
                    if let Some(member) = self.members.get(n) {
                        (member.slot.f.lock())(ctx, &model);
                    }
                };
                then(Ok(&call));
            }
            Err(error) => {
                let text = format!(
                    "{} did not parse as {}: {error}",
                    dispatch.event_type(),
                    std::any::type_name::<F::Model<'_>>()
                );
                then(Err(&text));
            }
        }
    }
}

/// A route in an event's list, in registration order.
pub(crate) enum Route {
    Raw(Arc<Slot<RawFn>>),
    Any(Arc<Slot<EventFn>>),
    /// Member `member` of group `group` of the event's groups.
    Typed {
        group: usize,
        member: usize,
        state: Arc<EntryState>,
    },
}

/// What runs for one dispatch name.
#[derive(Default)]
pub(crate) struct EventRoutes {
    pub routes: Vec<Route>,
    pub groups: Vec<Box<dyn Group>>,
    /// Each group's model type.
    families: Vec<std::any::TypeId>,
}

/// The runner's view of the table.
#[derive(Default)]
pub(crate) struct Snapshot {
    /// Per dispatch name with a typed or raw handler (catch-alls included in order).
    pub events: HashMap<Box<str>, EventRoutes, BuildHasherDefault<NameHasher>>,
    /// For dispatches without their own handlers: the catch-alls alone.
    pub only_any: EventRoutes,
    /// Lifecycle and catch-all handlers, in order, for the events that are not dispatches.
    pub lifecycle: Vec<(Option<Lifecycle>, Arc<Slot<EventFn>>)>,
}

impl Snapshot {
    pub fn build(entries: &[Entry]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let live = || entries.iter().filter(|e| !e.state().is_removed());
        for entry in live() {
            if let Some(name) = entry.event_name() {
                snapshot.events.entry(name.into()).or_default();
            }
        }
        for entry in live() {
            match entry {
                Entry::Raw { name, slot } => {
                    if let Some(routes) = snapshot.events.get_mut(name) {
                        routes.routes.push(Route::Raw(slot.clone()));
                    }
                }
                Entry::Typed {
                    name,
                    member,
                    state,
                } => {
                    if let Some(routes) = snapshot.events.get_mut(name) {
                        add_typed(routes, member, state);
                    }
                }
                Entry::Any { slot } => {
                    for routes in snapshot.events.values_mut() {
                        routes.routes.push(Route::Any(slot.clone()));
                    }
                    snapshot.only_any.routes.push(Route::Any(slot.clone()));
                    snapshot.lifecycle.push((None, slot.clone()));
                }
                Entry::Lifecycle { which, slot } => {
                    snapshot.lifecycle.push((Some(*which), slot.clone()));
                }
            }
        }
        snapshot
    }

    /// Whether a dispatch named `name` has any handler.
    pub fn wants(&self, name: &str) -> bool {
        !self.only_any.routes.is_empty() || self.events.contains_key(name)
    }

    pub fn routes(&self, name: &str) -> &EventRoutes {
        self.events.get(name).unwrap_or(&self.only_any)
    }
}

fn add_typed(routes: &mut EventRoutes, member: &Arc<dyn Member>, state: &Arc<EntryState>) {
    // Groups are few per event: a linear search by type.
    let family = member.family();
    let group = match routes.families.iter().position(|f| *f == family) {
        Some(group) => group,
        None => {
            routes.groups.push(member.new_group());
            routes.families.push(family);
            routes.groups.len() - 1
        }
    };
    if let Some(index) = routes.groups[group].push(member.clone().as_any()) {
        routes.routes.push(Route::Typed {
            group,
            member: index,
            state: state.clone(),
        });
    }
}

/// FNV-1a for event names: the map is looked up for every dispatch (the event filter), and
/// its keys are the handful of names handlers registered, so a name from the network that
/// collides costs at most a few comparisons (no flooding: nothing from the network is
/// inserted).
#[derive(Default)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
