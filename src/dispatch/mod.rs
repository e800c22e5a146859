//! The callback dispatcher: register handlers per event, typed or raw, and run a shard with
//! them.
//!
//! ```no_run
//! use syncord::dispatch::Dispatcher;
//! use syncord::model::MessageCreate;
//! use syncord::Intents;
//!
//! let dispatcher = Dispatcher::new();
//! dispatcher.on_ready(|_ctx, ready| println!("logged in, session {}", ready.session_id));
//! dispatcher.on::<MessageCreate>(|ctx, message| {
//!     println!("#{} {}: {}", ctx.seq().unwrap_or(0), message.author.username, message.content);
//! });
//! // GUILD_MESSAGES | DIRECT_MESSAGES, derived from the handlers; message text is privileged.
//! dispatcher.add_intents(Intents::MESSAGE_CONTENT);
//! let shard = dispatcher.shard(std::env::var("DISCORD_TOKEN").unwrap_or_default())?;
//! dispatcher.run(shard)?;
//! # Ok::<(), syncord::Error>(())
//! ```
//!
//! # Handlers
//!
//! - **Typed**, by model type: [`Dispatcher::on`] (`on::<MessageCreate>`), for every model of
//!   [`model`](crate::model) and your own ([`TypedEvent`]); [`Dispatcher::on_data`] for any
//!   `DeserializeOwned` type by event name (another crate's complete models, e.g.
//!   twilight-model's). The handler gets the model by reference: all the handlers of one
//!   model type for an event share one parse.
//! - **Raw**, by event name: [`Dispatcher::on_raw`] gets the [`Dispatch`], for events without
//!   a model or to parse on demand.
//! - **Lifecycle**: [`Dispatcher::on_ready`], [`on_resumed`](Dispatcher::on_resumed),
//!   [`on_disconnected`](Dispatcher::on_disconnected),
//!   [`on_session_lost`](Dispatcher::on_session_lost), [`on_error`](Dispatcher::on_error),
//!   or every one with [`on_lifecycle`](Dispatcher::on_lifecycle).
//! - **Catch-all**: [`Dispatcher::on_any`] gets every [`Event`].
//!
//! Handlers of one event run in registration order, on the shard's caller thread (the one
//! in [`Dispatcher::run`], or the thread [`Dispatcher::spawn`] starts). Each gets a
//! [`Context`]: the shard id, the [`ShardHandle`] (send commands, read the latency) and the
//! event's sequence number. Every registration returns a [`Registration`] whose
//! [`remove`](Registration::remove) takes the handler out, from any thread, before the next
//! event; the `once` variants run for one event and remove themselves.
//!
//! # Intents from the handlers
//!
//! [`Dispatcher::intents`] is what the registered events need (Discord: Gateway → Gateway
//! Intents; [`required_intents`] is the table), privileged intents only when added with
//! [`Dispatcher::add_intents`]. [`Dispatcher::shard`] and [`Dispatcher::config`] build a
//! shard that identifies with them. A shard configured with its own intents is checked when
//! it starts: a handler whose event can never arrive with them is reported with a `warn`
//! log line naming the event and the missing intent ([`Dispatcher::check`]).
//!
//! # Pay for what is handled
//!
//! A dispatch with no handler (and no catch-all) is counted for the session but never
//! scanned past its envelope nor parsed; a typed model is parsed once per event however
//! many handlers share it.
//!
//! # Waiting from another thread
//!
//! [`Dispatcher::wait_for`] blocks until a dispatch that matches a predicate arrives, with a
//! timeout ([`Dispatcher::waiter`] registers the wait first, for an answer to a command you
//! are about to send), and [`Dispatcher::wait_ready`] until the session is live. Called on a
//! thread that runs the handlers they fail at once with [`WaitError::OnHandlerThread`]
//! rather than deadlock.
//!
//! # Panics and slow handlers
//!
//! A handler that panics is reported (an `error` log line and an [`Event::Error`] to the
//! error handlers, naming the event and the panic message) and the other handlers still run;
//! with [`ConfigBuilder::stop_on_handler_panic`](crate::ConfigBuilder::stop_on_handler_panic)
//! the shard stops with [`Error::HandlerPanicked`](crate::Error::HandlerPanicked) instead. A
//! handler still running after
//! [`ConfigBuilder::slow_handler_warning`](crate::ConfigBuilder::slow_handler_warning) is
//! reported while it runs (a `warn` line naming the event and how long, then again at twice
//! the time, …) by a watchdog thread (`syncord-wd-N`) that sleeps while handlers are idle.

pub(crate) mod guard;
mod intents;
pub(crate) mod registration;
mod route;
mod table;
mod typed;
mod wait;
pub(crate) mod watchdog;

pub use intents::{required_intents, MissingIntent};
pub use registration::Registration;
pub use typed::TypedEvent;
pub use wait::{WaitError, Waiter};

use crate::cluster::{EventFilter, Wants};
use crate::protocol::Ready;
use crate::{
    ConfigBuilder, Dispatch, Event, Intents, Result, Shard, ShardHandle, ShardState, ShardThread,
    Token,
};
use parking_lot::{Mutex, RwLock};
use route::{Guard, Router};
use serde::de::DeserializeOwned;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;
use std::time::Duration;
use table::{Entry, EntryState, EventFn, Lifecycle, Slot, Snapshot, TypedMember};
use typed::{ByEvent, Family, Owned};
use wait::{WaitFor, WaiterEntry, Woken};
use watchdog::Watchdog;

/// Handlers by event, and the shards they run on. Cheap to clone (clones share the
/// handlers), `Send + Sync`: register and remove handlers from any thread, before or while
/// shards run.
///
/// A handler or waiter added while a shard runs gets the dispatches that shard reads from
/// its socket after the registration: one read before, with nothing registered for it, was
/// counted for the session and dropped without being scanned (that is what makes unhandled
/// events free). When every event of a kind matters, register its handler before the
/// shard runs.
#[derive(Clone, Default)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    table: Mutex<Vec<Entry>>,
    snapshot: RwLock<Arc<Snapshot>>,
    added_intents: Mutex<Intents>,
    waiters: Mutex<Vec<WaiterEntry>>,
    /// How many waiters are registered, read without the lock on every event.
    waiting: AtomicUsize,
    /// The event names waiters wait for, published apart from `waiters`: that lock is held
    /// while predicates (user code) run, and shards' readers ask for these names.
    waited: RwLock<Vec<Box<str>>>,
    /// Moves after every handler or waiter added or removed ([`Wants::version`]). Read by
    /// every shard's reader for every dispatch, so it has a cache line of its own: beside
    /// `snapshot`'s lock, which the handler's thread takes for every event, each read
    /// would miss.
    version: OwnLine<AtomicU64>,
    next_id: AtomicU64,
    runners: Mutex<Vec<RunnerEntry>>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            table: Mutex::default(),
            snapshot: RwLock::default(),
            added_intents: Mutex::new(Intents::empty()),
            waiters: Mutex::default(),
            waiting: AtomicUsize::new(0),
            waited: RwLock::default(),
            version: OwnLine(AtomicU64::new(0)),
            next_id: AtomicU64::new(0),
            runners: Mutex::default(),
        }
    }
}

/// A value alone on its cache line (128 bytes: adjacent-line prefetch pairs 64-byte lines).
#[repr(align(128))]
struct OwnLine<T>(T);

struct RunnerEntry {
    id: u64,
    /// Known from the first event on (the thread that calls the handlers).
    thread: Option<ThreadId>,
    handle: ShardHandle,
}

impl Inner {
    fn register(&self, entry: Entry) {
        let mut table = self.table.lock();
        table.push(entry);
        *self.snapshot.write() = Arc::new(Snapshot::build(&table));
        self.version.0.fetch_add(1, Ordering::Release);
    }

    /// Drops removed entries and publishes a new snapshot.
    fn rebuild(&self) {
        let mut table = self.table.lock();
        table.retain(|entry| !entry.is_removed());
        *self.snapshot.write() = Arc::new(Snapshot::build(&table));
        self.version.0.fetch_add(1, Ordering::Release);
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    /// Whether a dispatch named `name` has a handler or a waiter.
    fn wants(&self, name: &str) -> bool {
        // The snapshot's lock is released before the waiters' is taken.
        let handled = self.snapshot.read().wants(name);
        handled
            || (self.waiting.load(Ordering::Acquire) > 0
                && self.waited.read().iter().any(|wanted| &**wanted == name))
    }

    /// Publishes what `waiters` wait for ([`Inner::wants`] reads it), then moves the
    /// version.
    fn publish_waiters(&self, waiters: &[WaiterEntry]) {
        *self.waited.write() = waiters
            .iter()
            .filter_map(|w| match &w.what {
                WaitFor::Dispatch { name, .. } => Some(Box::from(&**name)),
                WaitFor::Active => None,
            })
            .collect();
        self.waiting.store(waiters.len(), Ordering::Release);
        self.version.0.fetch_add(1, Ordering::Release);
    }

    fn on_runner_thread(&self) -> bool {
        let current = std::thread::current().id();
        self.runners
            .lock()
            .iter()
            .any(|runner| runner.thread == Some(current))
    }

    fn add_waiter(self: &Arc<Self>, what: WaitFor) -> Waiter {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut waiters = self.waiters.lock();
        waiters.push(WaiterEntry { id, what, tx });
        self.publish_waiters(&waiters);
        Waiter {
            id,
            rx,
            inner: wait::weak(self),
        }
    }

    fn remove_waiter(&self, id: u64) {
        let mut waiters = self.waiters.lock();
        waiters.retain(|w| w.id != id);
        self.publish_waiters(&waiters);
    }

    /// Hands `event` to the waiters it satisfies (each gets one event, then is gone).
    fn wake_waiters(&self, event: &Event) {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut waiters = self.waiters.lock();
        waiters.retain_mut(|waiter| {
            let woken = match (&mut waiter.what, event) {
                (WaitFor::Dispatch { name, predicate }, Event::Dispatch(d))
                    if **name == *d.event_type() =>
                {
                    // A predicate that panics matches nothing; the shard carries on.
                    let matched = catch_unwind(AssertUnwindSafe(|| predicate(d)));
                    if matched.is_err() {
                        log::error!(
                            "a wait_for predicate panicked on {} (s={}); treated as no match",
                            d.event_type(),
                            d.seq()
                        );
                    }
                    matched.unwrap_or(false).then(|| Woken::Dispatch(d.clone()))
                }
                (WaitFor::Active, Event::Ready(_) | Event::Resumed { .. }) => Some(Woken::Active),
                _ => None,
            };
            match woken {
                Some(woken) => {
                    let _ = waiter.tx.try_send(woken);
                    false
                }
                None => true,
            }
        });
        if self.waiting.load(Ordering::Acquire) != waiters.len() {
            self.publish_waiters(&waiters);
        }
    }
}

impl Wants for Inner {
    fn wants(&self, name: &str) -> bool {
        Inner::wants(self, name)
    }

    fn version(&self) -> u64 {
        self.version.0.load(Ordering::Acquire)
    }
}

impl registration::Table for Inner {
    fn rebuild(&self) {
        Inner::rebuild(self)
    }
}

impl Entry {
    fn is_removed(&self) -> bool {
        self.state().is_removed()
    }
}

/// What a handler gets besides its event: which shard, its handle, the event's `s`.
#[derive(Clone)]
pub struct Context {
    shard_id: u64,
    handle: ShardHandle,
    seq: Option<u64>,
}

impl Context {
    /// The shard the event came from (0 when unsharded).
    pub fn shard_id(&self) -> u64 {
        self.shard_id
    }

    /// The shard's handle: send commands ([`ShardHandle::send`]), read the
    /// [`latency`](ShardHandle::latency), shut down.
    pub fn handle(&self) -> &ShardHandle {
        &self.handle
    }

    /// The dispatch's sequence number (`s`); `None` for lifecycle events.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("shard_id", &self.shard_id)
            .field("seq", &self.seq)
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher with no handlers.
    pub fn new() -> Dispatcher {
        Dispatcher::default()
    }

    fn registration(&self, entry: Entry, state: Arc<EntryState>) -> Registration {
        self.inner.register(entry);
        let table: Weak<dyn registration::Table> = Arc::downgrade(&self.inner) as _;
        Registration::new(state, table)
    }

    fn typed<F: Family>(&self, name: &str, once: bool, f: Box<table::TypedFn<F>>) -> Registration {
        let state = EntryState::new(once);
        let member = Arc::new(TypedMember::<F> {
            slot: Slot {
                state: state.clone(),
                f: Mutex::new(f),
            },
        });
        let entry = Entry::Typed {
            name: name.into(),
            member,
            state: state.clone(),
        };
        self.registration(entry, state)
    }

    /// Registers a handler for the dispatch `M` models, e.g. `on::<MessageCreate>`. It gets
    /// the parsed model, borrowed from the dispatch. A dispatch that does not parse is
    /// reported (a `warn` line and an [`Event::Error`] to the error handlers) and its typed
    /// handlers skipped; raw handlers of the same event still run.
    ///
    /// ```
    /// use syncord::dispatch::Dispatcher;
    /// use syncord::model::InteractionCreate;
    ///
    /// let dispatcher = Dispatcher::new();
    /// let registration = dispatcher.on::<InteractionCreate>(|ctx, interaction| {
    ///     println!("shard {}: interaction {}", ctx.shard_id(), interaction.id);
    /// });
    /// assert!(registration.remove());
    /// ```
    pub fn on<M: TypedEvent>(
        &self,
        mut f: impl for<'a> FnMut(&Context, &M::Model<'a>) + Send + 'static,
    ) -> Registration {
        self.typed::<ByEvent<M>>(M::NAME, false, Box::new(move |ctx, model| f(ctx, model)))
    }

    /// Like [`Dispatcher::on`], for the first such dispatch only.
    pub fn once<M: TypedEvent>(
        &self,
        f: impl for<'a> FnOnce(&Context, &M::Model<'a>) + Send + 'static,
    ) -> Registration {
        let mut f = Some(f);
        self.typed::<ByEvent<M>>(
            M::NAME,
            true,
            Box::new(move |ctx, model| {
                if let Some(f) = f.take() {
                    f(ctx, model)
                }
            }),
        )
    }

    /// Registers a handler that gets dispatch `event` parsed as `T`, any type that owns its
    /// data: another crate's complete models (`twilight_model::channel::Message` for
    /// `MESSAGE_CREATE`), a `serde_json::Value`, your own. Handlers of one `T` for one event
    /// share one parse.
    ///
    /// ```
    /// use syncord::dispatch::Dispatcher;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Ban {
    ///     guild_id: String,
    /// }
    /// let dispatcher = Dispatcher::new();
    /// dispatcher.on_data::<Ban>("GUILD_BAN_ADD", |_ctx, ban| println!("ban in {}", ban.guild_id));
    /// ```
    pub fn on_data<T: DeserializeOwned + 'static>(
        &self,
        event: &str,
        mut f: impl FnMut(&Context, &T) + Send + 'static,
    ) -> Registration {
        self.typed::<Owned<T>>(event, false, Box::new(move |ctx, model| f(ctx, model)))
    }

    /// Registers a handler for dispatches named `event`, raw: the [`Dispatch`] with its
    /// `d` as JSON text ([`Dispatch::data_json`]), to parse as you like.
    pub fn on_raw<F>(&self, event: &str, f: F) -> Registration
    where
        F: FnMut(&Context, &Dispatch) + Send + 'static,
    {
        self.raw(event, false, Box::new(f))
    }

    /// Like [`Dispatcher::on_raw`], for the first such dispatch only.
    pub fn once_raw<F>(&self, event: &str, f: F) -> Registration
    where
        F: FnOnce(&Context, &Dispatch) + Send + 'static,
    {
        let mut f = Some(f);
        self.raw(
            event,
            true,
            Box::new(move |ctx, dispatch| {
                if let Some(f) = f.take() {
                    f(ctx, dispatch)
                }
            }),
        )
    }

    fn raw(&self, event: &str, once: bool, f: Box<table::RawFn>) -> Registration {
        let state = EntryState::new(once);
        let slot = Arc::new(Slot {
            state: state.clone(),
            f: Mutex::new(f),
        });
        self.registration(
            Entry::Raw {
                name: event.into(),
                slot,
            },
            state,
        )
    }

    fn event_handler(
        &self,
        make: impl FnOnce(Arc<Slot<EventFn>>) -> Entry,
        f: Box<EventFn>,
    ) -> Registration {
        let state = EntryState::new(false);
        let slot = Arc::new(Slot {
            state: state.clone(),
            f: Mutex::new(f),
        });
        self.registration(make(slot), state)
    }

    fn lifecycle(&self, name: &'static str, f: Box<EventFn>) -> Registration {
        self.event_handler(
            |slot| Entry::Lifecycle {
                which: Lifecycle::Named(name),
                slot,
            },
            f,
        )
    }

    /// Registers a handler for every event that is not a dispatch: connecting, ready,
    /// resumed, disconnected, reconnecting, session lost, sequence gaps, errors (see
    /// [`Event`]).
    pub fn on_lifecycle<F>(&self, f: F) -> Registration
    where
        F: FnMut(&Context, &Event) + Send + 'static,
    {
        self.event_handler(
            |slot| Entry::Lifecycle {
                which: Lifecycle::All,
                slot,
            },
            Box::new(f),
        )
    }

    /// Registers a handler for READY's session data ([`Event::Ready`]): a new session
    /// started. It runs before the READY dispatch's own handlers.
    pub fn on_ready<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&Context, &Ready) + Send + 'static,
    {
        self.lifecycle(
            "ready",
            Box::new(move |ctx, event| {
                if let Event::Ready(ready) = event {
                    f(ctx, ready)
                }
            }),
        )
    }

    /// Registers a handler for [`Event::Resumed`]: the session continued after a
    /// reconnect; it gets how many missed dispatches were replayed (delivered before it).
    pub fn on_resumed<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&Context, u64) + Send + 'static,
    {
        self.lifecycle(
            "resumed",
            Box::new(move |ctx, event| {
                if let Event::Resumed { replayed } = event {
                    f(ctx, *replayed)
                }
            }),
        )
    }

    /// Registers a handler for [`Event::Disconnected`]: the close code (if the server sent
    /// one) and what happened. The shard reconnects by itself.
    pub fn on_disconnected<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&Context, Option<u16>, &str) + Send + 'static,
    {
        self.lifecycle(
            "disconnected",
            Box::new(move |ctx, event| {
                if let Event::Disconnected { code, reason } = event {
                    f(ctx, *code, reason)
                }
            }),
        )
    }

    /// Registers a handler for [`Event::SessionLost`]: the session was given up, events
    /// after `last_seq` (its second argument) may be missing; the third says why.
    pub fn on_session_lost<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&Context, u64, &str) + Send + 'static,
    {
        self.lifecycle(
            "session_lost",
            Box::new(move |ctx, event| {
                if let Event::SessionLost {
                    last_seq, reason, ..
                } = event
                {
                    f(ctx, *last_seq, reason)
                }
            }),
        )
    }

    /// Registers a handler for [`Event::Error`]: what the shard handled and carried on
    /// from (a malformed payload…), and the dispatcher's own reports (a handler that
    /// panicked, a dispatch that did not parse as its typed handlers' model). The handler
    /// gets the [`ErrorKind`](crate::ErrorKind) to match on and the message to show.
    ///
    /// ```
    /// use syncord::{dispatch::Dispatcher, ErrorKind};
    /// let dispatcher = Dispatcher::new();
    /// dispatcher.on_error(|ctx, kind, message| match kind {
    ///     ErrorKind::HandlerPanicked => eprintln!("shard {}: a bug: {message}", ctx.shard_id()),
    ///     _ => eprintln!("shard {}: {kind}: {message}", ctx.shard_id()),
    /// });
    /// ```
    pub fn on_error<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&Context, crate::ErrorKind, &str) + Send + 'static,
    {
        self.lifecycle(
            "error",
            Box::new(move |ctx, event| {
                if let Event::Error { kind, message } = event {
                    f(ctx, *kind, message)
                }
            }),
        )
    }

    /// Registers a catch-all: every event, dispatches (all of them, so every dispatch is
    /// then scanned) and lifecycle events alike, in order with the other handlers.
    pub fn on_any<F>(&self, f: F) -> Registration
    where
        F: FnMut(&Context, &Event) + Send + 'static,
    {
        self.event_handler(|slot| Entry::Any { slot }, Box::new(f))
    }
}

impl Dispatcher {
    /// Adds `intents` to [`Dispatcher::intents`] whatever the handlers need: privileged
    /// intents (`MESSAGE_CONTENT` for message text, `GUILD_MEMBERS`, `GUILD_PRESENCES`) are
    /// only ever included this way, once enabled for the application in the Developer
    /// Portal (Discord closes with 4014 otherwise).
    pub fn add_intents(&self, intents: Intents) {
        *self.inner.added_intents.lock() |= intents;
    }

    /// The intents the registered handlers need (Discord: Gateway → Gateway Intents),
    /// without the privileged ones, plus those added with [`Dispatcher::add_intents`].
    ///
    /// ```
    /// use syncord::dispatch::Dispatcher;
    /// use syncord::model::{GuildCreate, GuildMemberAdd, MessageCreate};
    /// use syncord::Intents;
    ///
    /// let dispatcher = Dispatcher::new();
    /// dispatcher.on::<GuildCreate>(|_, _| {});
    /// dispatcher.on::<MessageCreate>(|_, _| {});
    /// dispatcher.on::<GuildMemberAdd>(|_, _| {}); // privileged: not derived
    /// assert_eq!(
    ///     dispatcher.intents(),
    ///     Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES
    /// );
    /// dispatcher.add_intents(Intents::GUILD_MEMBERS);
    /// assert!(dispatcher.intents().contains(Intents::GUILD_MEMBERS));
    /// ```
    pub fn intents(&self) -> Intents {
        let needed = self
            .event_names()
            .iter()
            .filter_map(|name| required_intents(name))
            .fold(Intents::empty(), |all, intents| all | intents);
        needed.difference(Intents::PRIVILEGED) | *self.inner.added_intents.lock()
    }

    /// The events with typed or raw handlers, each once, in registration order.
    fn event_names(&self) -> Vec<String> {
        let table = self.inner.table.lock();
        let mut names: Vec<String> = Vec::new();
        for name in table
            .iter()
            .filter(|e| !e.is_removed())
            .filter_map(Entry::event_name)
        {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        names
    }

    /// The handlers whose events cannot arrive under `intents` ("my member-join handler
    /// never fires"), each also logged as a `warn` line naming the event and the intent it
    /// needs. Runs by itself when a shard starts.
    ///
    /// ```
    /// use syncord::dispatch::Dispatcher;
    /// use syncord::model::GuildMemberAdd;
    /// use syncord::Intents;
    ///
    /// let dispatcher = Dispatcher::new();
    /// dispatcher.on::<GuildMemberAdd>(|_, member| println!("welcome {:?}", member.user));
    /// let missing = dispatcher.check(Intents::GUILDS);
    /// assert_eq!(missing[0].event, "GUILD_MEMBER_ADD");
    /// assert_eq!(missing[0].needs, Intents::GUILD_MEMBERS);
    /// ```
    pub fn check(&self, intents: Intents) -> Vec<MissingIntent> {
        let missing: Vec<MissingIntent> = self
            .event_names()
            .into_iter()
            .filter_map(|event| {
                let needs = required_intents(&event)?;
                (!intents.intersects(needs)).then_some(MissingIntent { event, needs })
            })
            .collect();
        for m in &missing {
            log::warn!("{m}");
        }
        missing
    }

    /// A config builder with the dispatcher's [`intents`](Dispatcher::intents), to adjust
    /// before `build()`.
    pub fn config(&self, token: impl Into<Token>) -> ConfigBuilder {
        crate::Config::builder(token, self.intents())
    }

    /// A shard with the default config that identifies with the dispatcher's
    /// [`intents`](Dispatcher::intents).
    ///
    /// Errors: [`Error::InvalidSetting`](crate::Error::InvalidSetting) for an empty token.
    pub fn shard(&self, token: impl Into<Token>) -> Result<Shard> {
        Shard::new(token, self.intents())
    }
}

impl Dispatcher {
    /// Runs `shard` on this thread with the dispatcher's handlers, until
    /// [`ShardHandle::shutdown`] (`Ok`) or a fatal error: [`Shard::run`] with a closure that
    /// routes each event. Handlers added or removed meanwhile take effect from the next
    /// event. Several shards may run with one dispatcher (one handler never runs on two
    /// shards at once).
    pub fn run(&self, mut shard: Shard) -> Result<()> {
        let mut router = self.prepare(&mut shard)?;
        shard.run(move |event| router.route(event))
    }

    /// Runs `shard` on a new thread (`syncord-sh-N`) with the dispatcher's handlers.
    pub fn spawn(&self, mut shard: Shard) -> Result<ShardThread> {
        let mut router = self.prepare(&mut shard)?;
        shard.spawn(move |event| router.route(event))
    }

    fn prepare(&self, shard: &mut Shard) -> Result<Router> {
        let handle = shard.handle();
        let config = shard.config_mut();
        self.check(config.intents);
        let inner = self.inner.clone();
        config.event_filter = Some(EventFilter(inner));
        let threshold = config.slow_handler_warning;
        // The dispatcher reports slow handlers itself, per handler and while they run.
        config.slow_handler_warning = Duration::MAX;
        let shard_id = config.shard_id();
        let who: Arc<str> = format!("shard {shard_id}").into();
        let thread = format!("syncord-wd-{shard_id}");
        let watchdog = Watchdog::start(thread.clone(), who.clone(), threshold)
            .map_err(|source| crate::Error::Spawn { thread, source })?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.runners.lock().push(RunnerEntry {
            id,
            thread: None,
            handle: handle.clone(),
        });
        Ok(Router {
            inner: self.inner.clone(),
            id,
            thread_known: false,
            ctx: Context {
                shard_id,
                handle,
                seq: None,
            },
            guard: Guard {
                watchdog,
                stop_on_panic: config.stop_on_handler_panic,
                who,
            },
        })
    }

    /// Registers a wait for the next dispatch named `event` that matches `predicate`:
    /// [`Waiter::wait`] returns it. Make the waiter before sending the command it waits for
    /// an answer to, so that a quick answer is not missed.
    ///
    /// The predicate runs on the handlers' thread, before the handlers, while the
    /// dispatcher's list of waiters is locked: let it look at the dispatch only (calling
    /// this dispatcher from it would deadlock). One that panics counts as no match.
    pub fn waiter<P>(&self, event: &str, predicate: P) -> Waiter
    where
        P: FnMut(&Dispatch) -> bool + Send + 'static,
    {
        self.inner.add_waiter(WaitFor::Dispatch {
            name: event.into(),
            predicate: Box::new(predicate),
        })
    }

    /// Blocks until a dispatch named `event` that matches `predicate` arrives (from now on)
    /// and returns it, or fails after `timeout` ([`WaitError::Timeout`]). On a thread that
    /// runs this dispatcher's handlers it fails at once ([`WaitError::OnHandlerThread`]).
    ///
    /// ```no_run
    /// # use syncord::dispatch::Dispatcher;
    /// # use std::time::Duration;
    /// # let dispatcher = Dispatcher::new();
    /// let guild = dispatcher.wait_for("GUILD_CREATE", |_| true, Duration::from_secs(10))?;
    /// println!("first guild arrived as #{}", guild.seq());
    /// # Ok::<(), syncord::dispatch::WaitError>(())
    /// ```
    pub fn wait_for<P>(
        &self,
        event: &str,
        predicate: P,
        timeout: Duration,
    ) -> std::result::Result<Dispatch, WaitError>
    where
        P: FnMut(&Dispatch) -> bool + Send + 'static,
    {
        self.waiter(event, predicate).wait(timeout)
    }

    /// Blocks until a shard of this dispatcher has a live session (READY or RESUMED
    /// handled), returning at once if one already has; fails after `timeout`.
    ///
    /// ```no_run
    /// # use syncord::dispatch::Dispatcher;
    /// # use std::time::Duration;
    /// let dispatcher = Dispatcher::new();
    /// let running = dispatcher.spawn(dispatcher.shard("token")?)?;
    /// dispatcher.wait_ready(Duration::from_secs(30))?;
    /// let idle = syncord::protocol::UpdatePresence::new(syncord::protocol::Status::Idle);
    /// running.handle().send(&idle)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_ready(&self, timeout: Duration) -> std::result::Result<(), WaitError> {
        // Registered before looking, so a READY in between is not missed.
        let waiter = self.inner.add_waiter(WaitFor::Active);
        if self.inner.on_runner_thread() {
            return Err(WaitError::OnHandlerThread);
        }
        let active = self
            .inner
            .runners
            .lock()
            .iter()
            .any(|runner| runner.handle.state() == ShardState::Active);
        if active {
            return Ok(());
        }
        waiter.recv(timeout).map(|_| ())
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One lock at a time: the table's guard must be gone before `intents` takes it.
        let handlers = self.inner.table.lock().len();
        f.debug_struct("Dispatcher")
            .field("handlers", &handlers)
            .field("intents", &self.intents())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn the_dispatcher_and_its_handles_cross_threads() {
        send_sync::<Dispatcher>();
        send_sync::<Registration>();
        send_sync::<Waiter>();
        send_sync::<Context>();
        send_sync::<WaitError>();
    }

    #[test]
    fn debug_shows_the_handler_count_and_intents() {
        let dispatcher = Dispatcher::new();
        dispatcher.on::<crate::model::GuildCreate>(|_, _| {});
        let text = format!("{dispatcher:?}");
        assert!(
            text.contains("handlers: 1") && text.contains("GUILDS"),
            "{text}"
        );
    }

    #[test]
    fn a_label_keeps_long_names_whole_up_to_a_char_boundary() {
        let name = "É".repeat(30); // 60 bytes
        let label = watchdog::Label::lifecycle(Box::leak(name.into_boxed_str()));
        let text = label.to_string();
        assert!(text.starts_with("the ÉÉ") && text.contains('…'), "{text}");
    }

    #[test]
    fn registration_order_and_removal_shape_the_snapshot() {
        let dispatcher = Dispatcher::new();
        let a = dispatcher.on_raw("A", |_, _| {});
        dispatcher.on::<crate::model::MessageCreate>(|_, _| {});
        assert!(dispatcher.inner.wants("A") && dispatcher.inner.wants("MESSAGE_CREATE"));
        assert!(!dispatcher.inner.wants("B"));
        a.remove();
        assert!(!dispatcher.inner.wants("A"));
        let any = dispatcher.on_any(|_, _| {});
        assert!(dispatcher.inner.wants("B"), "a catch-all wants everything");
        any.remove();
        assert!(!dispatcher.inner.wants("B"));
    }
}
