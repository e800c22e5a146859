//! The Slack dispatcher: register handlers per payload type, typed or raw, and run a Socket
//! Mode client with them, as [`Dispatcher`](crate::dispatch::Dispatcher) does for Discord.
//!
//! ```no_run
//! use syncord::slack::model::{AppMention, SlashCommand};
//! use syncord::slack::SlackDispatcher;
//!
//! let dispatcher = SlackDispatcher::new();
//! dispatcher.on_hello(|_ctx, connections| println!("connected ({connections} open)"));
//! dispatcher.on::<AppMention>(|ctx, mention| {
//!     println!("{:?} mentioned the app in {}: {}", mention.user, mention.channel, mention.text);
//!     println!("event {:?}, delivery {}", ctx.event_id(), ctx.retry_attempt());
//! });
//! // The answer goes in the acknowledgement: Slack shows it to the user who ran the command.
//! dispatcher.respond::<SlashCommand>(|_ctx, command| {
//!     (command.command == "/echo").then(|| serde_json::json!({ "text": command.text }))
//! });
//! // No model for this one: the envelope, parsed on demand (never log a whole payload: it
//! // may carry tokens).
//! dispatcher.on_raw("reaction_removed", |_ctx, envelope| {
//!     if let Ok(payload) = envelope.parse::<serde_json::Value>() {
//!         println!("reaction :{}: removed", payload["event"]["reaction"]);
//!     }
//! });
//! let app_token = std::env::var("SLACK_APP_TOKEN").unwrap_or_default();
//! let mut client = syncord::slack::SocketMode::new(syncord::slack::SlackConfig::new(app_token));
//! dispatcher.run(&mut client)?;
//! # Ok::<(), syncord::Error>(())
//! ```
//!
//! # Handlers
//!
//! - **Typed**, by model type: [`SlackDispatcher::on`] (`on::<MessageEvent>`), for the
//!   models of [`model`](super::model) and your own ([`SlackModel`]). `events_api` handlers
//!   get the inner `event`; the envelope's facts (`event_id`, retries) are in the
//!   [`SlackContext`].
//! - **Raw**, by payload type ([`SlackDispatcher::on_raw`]: `reaction_removed`,
//!   `shortcut`…) or by envelope type ([`SlackDispatcher::on_envelope`]: `slash_commands`,
//!   `events_api`…): the [`Envelope`], to parse as you like.
//! - **Responding**: [`SlackDispatcher::respond`] and [`SlackDispatcher::respond_raw`]
//!   return the acknowledgement's payload (below).
//! - **Lifecycle**: [`on_hello`](SlackDispatcher::on_hello),
//!   [`on_disconnect`](SlackDispatcher::on_disconnect),
//!   [`on_disconnected`](SlackDispatcher::on_disconnected),
//!   [`on_error`](SlackDispatcher::on_error), or every one with
//!   [`on_lifecycle`](SlackDispatcher::on_lifecycle).
//! - **Catch-all**: [`SlackDispatcher::on_any`] gets every [`SlackEvent`].
//!
//! Handlers of one event run in registration order, on the client's caller thread (the one
//! in [`SlackDispatcher::run`]). Every registration returns a [`Registration`] (the same type
//! as Discord's) whose [`remove`](Registration::remove) takes the handler out, from any
//! thread, before the next event; the `once` variants run for one event and remove
//! themselves. The client delivers each event once (it removes Slack's duplicate
//! deliveries before they reach the dispatcher), retries included: a handler never needs to
//! drop envelopes with [`retry_attempt`](SlackContext::retry_attempt) above 0.
//!
//! # Responding in the acknowledgement
//!
//! Slash commands, `view_submission` and some other interactive payloads accept a response
//! payload in their acknowledgement (Slack: Using Socket Mode → Responding to events with a
//! payload): a message for the user who ran the command, a `response_action` for a modal.
//! The client acknowledges every envelope on receipt, before any handler runs, except those
//! a responder is registered for: their acknowledgement waits for the responder (up to the
//! client's response deadline, after which the plain acknowledgement goes and the late
//! answer is reported as an error). The first responder that returns `Some(payload)` has it
//! sent at once; when all of an envelope's responders return `None` (or panic), the plain
//! acknowledgement goes as soon as the last one returns, and at once for an envelope that
//! has none. Handlers registered after an envelope's responders run once its
//! acknowledgement is on its way; those registered before run first and delay it. Keep
//! responders quick, and register them early: they run on the handler thread, behind the
//! events before them.
//!
//! # Panics and slow handlers
//!
//! A handler that panics is reported (an `error` log line and a [`SlackEvent::Error`] to the
//! error handlers, naming the event and the panic message) and the other handlers still run.
//! A payload that does not parse as a typed handler's model is reported the same way (a
//! `warn` line) and that handler skipped. A handler still running after
//! [`slow_handler_warning`](SlackDispatcher::slow_handler_warning) is reported while it runs
//! by a watchdog thread (`syncord-slack-wd`), as for Discord.

mod route;
mod table;

use super::{Envelope, SlackEvent, SlackHandle, SocketMode};
use crate::dispatch::guard::Guard;
use crate::dispatch::registration::{self, Slot};
use crate::dispatch::watchdog::Watchdog;
use crate::dispatch::Registration;
use parking_lot::Mutex;
use route::Router;
use serde::Deserialize;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;
use table::{Entry, EnvelopeFn, EventFn, Handlers, Match, RespondFn};

/// The default of [`SlackDispatcher::slow_handler_warning`], as for Discord's shards.
const DEFAULT_SLOW_HANDLER_WARNING: Duration = Duration::from_secs(2);

/// A model type a handler can be registered for with [`SlackDispatcher::on`]: which
/// envelopes carry it and how it is read from their payload.
///
/// Every model of [`model`](super::model) that a payload carries implements it. Models
/// borrow from the envelope, so the trait names the model for any lifetime (`Model<'a>`);
/// to register your own, implement it on the model with `'static`:
///
/// ```
/// use std::borrow::Cow;
/// use syncord::slack::{SlackDispatcher, SlackModel};
///
/// /// Only the fields this app reads.
/// #[derive(serde::Deserialize)]
/// struct ReactionRemoved<'a> {
///     #[serde(borrow)]
///     reaction: Cow<'a, str>,
/// }
///
/// impl SlackModel for ReactionRemoved<'static> {
///     const ENVELOPE: &'static str = "events_api";
///     const TYPE: Option<&'static str> = Some("reaction_removed");
///     type Model<'a> = ReactionRemoved<'a>;
/// }
///
/// let dispatcher = SlackDispatcher::new();
/// dispatcher.on::<ReactionRemoved>(|_ctx, removed| println!(":{}: removed", removed.reaction));
/// ```
pub trait SlackModel: 'static {
    /// The envelope's `type`: `events_api`, `interactive` or `slash_commands`.
    const ENVELOPE: &'static str;
    /// The payload's type ([`Envelope::payload_type`]: `payload.event.type` for
    /// `events_api`, `payload.type` for `interactive`); `None` for every envelope of
    /// [`ENVELOPE`](SlackModel::ENVELOPE)'s type (slash commands have no payload type).
    const TYPE: Option<&'static str>;
    /// The model, borrowing from an envelope that lives for `'a`.
    type Model<'a>: Deserialize<'a>;

    /// Reads the model from the envelope's `payload`: its `event` for `events_api`, the
    /// whole payload otherwise.
    fn parse(payload: &str) -> serde_json::Result<Self::Model<'_>> {
        if Self::ENVELOPE == "events_api" {
            #[derive(Deserialize)]
            struct Callback<E> {
                event: E,
            }
            serde_json::from_str::<Callback<Self::Model<'_>>>(payload).map(|c| c.event)
        } else {
            serde_json::from_str(payload)
        }
    }
}

macro_rules! slack_models {
    ($($model:ident: $envelope:literal, $kind:expr;)*) => {$(
        impl SlackModel for super::model::$model<'static> {
            const ENVELOPE: &'static str = $envelope;
            const TYPE: Option<&'static str> = $kind;
            type Model<'a> = super::model::$model<'a>;
        }
    )*};
}

slack_models! {
    MessageEvent: "events_api", Some("message");
    AppMention: "events_api", Some("app_mention");
    ReactionAdded: "events_api", Some("reaction_added");
    SlashCommand: "slash_commands", None;
    BlockActions: "interactive", Some("block_actions");
    ViewSubmission: "interactive", Some("view_submission");
}

/// What a handler gets besides its event: the client's handle and, for envelopes, the
/// envelope's facts.
#[derive(Clone)]
pub struct SlackContext {
    handle: SlackHandle,
    envelope: Option<Envelope>,
}

impl SlackContext {
    /// The client's handle: [`shutdown`](SlackHandle::shutdown), …
    pub fn handle(&self) -> &SlackHandle {
        &self.handle
    }

    /// The envelope being handled; `None` for lifecycle events.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// The envelope's id; `None` for lifecycle events.
    pub fn envelope_id(&self) -> Option<&str> {
        self.envelope.as_ref().map(Envelope::envelope_id)
    }

    /// 0 for a first delivery, 1 to 3 for Slack's retries (the client delivers a retry only
    /// when the first delivery never reached it); 0 for lifecycle events.
    pub fn retry_attempt(&self) -> u32 {
        self.envelope.as_ref().map_or(0, Envelope::retry_attempt)
    }

    /// Why Slack retried (`timeout`), for retries.
    pub fn retry_reason(&self) -> Option<&str> {
        self.envelope.as_ref().and_then(Envelope::retry_reason)
    }

    /// `payload.event_id`, for `events_api` envelopes.
    pub fn event_id(&self) -> Option<&str> {
        self.envelope.as_ref().and_then(Envelope::event_id)
    }
}

impl fmt::Debug for SlackContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackContext")
            .field("envelope_id", &self.envelope_id())
            .field("retry_attempt", &self.retry_attempt())
            .finish()
    }
}

/// Handlers by payload type for Slack. Cheap to clone (clones share the handlers),
/// `Send + Sync`: register and remove handlers from any thread, before or while a client
/// runs.
#[derive(Clone)]
pub struct SlackDispatcher {
    handlers: Arc<Handlers>,
    slow_handler_warning: Arc<Mutex<Duration>>,
}

impl Default for SlackDispatcher {
    fn default() -> SlackDispatcher {
        SlackDispatcher {
            handlers: Arc::default(),
            slow_handler_warning: Arc::new(Mutex::new(DEFAULT_SLOW_HANDLER_WARNING)),
        }
    }
}

impl SlackDispatcher {
    /// A dispatcher with no handlers.
    pub fn new() -> SlackDispatcher {
        SlackDispatcher::default()
    }

    fn register(&self, entry: Entry) -> Registration {
        let state = entry.state().clone();
        self.handlers.register(entry);
        let table: Weak<dyn registration::Table> = Arc::downgrade(&self.handlers) as _;
        Registration::new(state, table)
    }

    fn envelopes(&self, matcher: Match, once: bool, f: Box<EnvelopeFn>) -> Registration {
        self.register(Entry::Envelope {
            matcher,
            slot: Slot::new(once, f),
        })
    }

    fn typed<M: SlackModel>(
        &self,
        once: bool,
        mut f: impl for<'a> FnMut(&SlackContext, &M::Model<'a>) + Send + 'static,
    ) -> Registration {
        self.envelopes(
            model_match::<M>(),
            once,
            Box::new(move |ctx, envelope| {
                let model = M::parse(envelope.payload_json())
                    .map_err(|error| parse_error::<M>(envelope, error))?;
                f(ctx, &model);
                Ok(())
            }),
        )
    }

    /// Registers a handler for the payloads `M` models, e.g. `on::<MessageEvent>`. It gets
    /// the parsed model, borrowed from the envelope. A payload that does not parse is
    /// reported (a `warn` line and a [`SlackEvent::Error`] to the error handlers) and the
    /// handler skipped; the other handlers still run.
    ///
    /// ```
    /// use syncord::slack::model::MessageEvent;
    /// use syncord::slack::SlackDispatcher;
    ///
    /// let dispatcher = SlackDispatcher::new();
    /// let registration = dispatcher.on::<MessageEvent>(|ctx, message| {
    ///     println!("{:?} in {}: {} ({:?})", message.user, message.channel, message.text, ctx.event_id());
    /// });
    /// assert!(registration.remove());
    /// ```
    pub fn on<M: SlackModel>(
        &self,
        f: impl for<'a> FnMut(&SlackContext, &M::Model<'a>) + Send + 'static,
    ) -> Registration {
        self.typed::<M>(false, f)
    }

    /// Like [`SlackDispatcher::on`], for the first such payload only.
    pub fn once<M: SlackModel>(
        &self,
        f: impl for<'a> FnOnce(&SlackContext, &M::Model<'a>) + Send + 'static,
    ) -> Registration {
        let mut f = Some(f);
        self.typed::<M>(true, move |ctx, model| {
            if let Some(f) = f.take() {
                f(ctx, model)
            }
        })
    }

    /// Registers a handler for envelopes whose payload type
    /// ([`Envelope::payload_type`]) is `payload_type`: an Events API event type
    /// (`reaction_removed`, `member_joined_channel`) or an interactive payload type
    /// (`shortcut`, `view_closed`). It gets the [`Envelope`], to parse as you like.
    pub fn on_raw<F>(&self, payload_type: &str, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, &Envelope) + Send + 'static,
    {
        let matcher = Match::Type(payload_type.into());
        self.envelopes(
            matcher,
            false,
            Box::new(move |ctx, envelope| {
                f(ctx, envelope);
                Ok(())
            }),
        )
    }

    /// Like [`SlackDispatcher::on_raw`], for the first such envelope only.
    pub fn once_raw<F>(&self, payload_type: &str, f: F) -> Registration
    where
        F: FnOnce(&SlackContext, &Envelope) + Send + 'static,
    {
        self.envelopes(Match::Type(payload_type.into()), true, once_envelope(f))
    }

    /// Registers a handler for every envelope whose `type` ([`Envelope::kind`]) is `kind`:
    /// `events_api`, `interactive`, `slash_commands`, or one Slack adds later.
    pub fn on_envelope<F>(&self, kind: &str, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, &Envelope) + Send + 'static,
    {
        self.envelopes(
            Match::Kind(kind.into()),
            false,
            Box::new(move |ctx, envelope| {
                f(ctx, envelope);
                Ok(())
            }),
        )
    }

    /// Like [`SlackDispatcher::on_envelope`], for the first such envelope only.
    pub fn once_envelope<F>(&self, kind: &str, f: F) -> Registration
    where
        F: FnOnce(&SlackContext, &Envelope) + Send + 'static,
    {
        self.envelopes(Match::Kind(kind.into()), true, once_envelope(f))
    }

    fn responder(&self, matcher: Match, f: Box<RespondFn>) -> Registration {
        self.register(Entry::Responder {
            matcher,
            slot: Slot::new(false, f),
        })
    }

    /// Registers a responding handler for the payloads `M` models: what it returns is the
    /// acknowledgement's payload (`Some`, a JSON object), or nothing (`None`: the plain
    /// acknowledgement). Envelopes it may answer (those whose `accepts_response_payload`
    /// is true) are acknowledged only once it returned; see the [module docs](self).
    ///
    /// ```
    /// use syncord::slack::model::SlashCommand;
    /// use syncord::slack::SlackDispatcher;
    ///
    /// let dispatcher = SlackDispatcher::new();
    /// dispatcher.respond::<SlashCommand>(|_ctx, command| match &*command.command {
    ///     "/ping" => Some(serde_json::json!({ "text": "pong" })),
    ///     _ => None,
    /// });
    /// ```
    pub fn respond<M: SlackModel>(
        &self,
        mut f: impl for<'a> FnMut(&SlackContext, &M::Model<'a>) -> Option<serde_json::Value>
            + Send
            + 'static,
    ) -> Registration {
        self.responder(
            model_match::<M>(),
            Box::new(move |ctx, envelope| {
                let model = M::parse(envelope.payload_json())
                    .map_err(|error| parse_error::<M>(envelope, error))?;
                Ok(f(ctx, &model))
            }),
        )
    }

    /// Registers a responding handler, raw, for envelopes whose `type` or payload type is
    /// `kind_or_type` (`slash_commands`, `view_submission`, `block_suggestion`…); like
    /// [`SlackDispatcher::respond`].
    pub fn respond_raw<F>(&self, kind_or_type: &str, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, &Envelope) -> Option<serde_json::Value> + Send + 'static,
    {
        self.responder(
            Match::KindOrType(kind_or_type.into()),
            Box::new(move |ctx, envelope| Ok(f(ctx, envelope))),
        )
    }

    fn events(&self, wants: fn(&SlackEvent) -> bool, f: Box<EventFn>) -> Registration {
        self.register(Entry::Lifecycle {
            wants,
            slot: Slot::new(false, f),
        })
    }

    /// Registers a handler for every event that is not an envelope: connecting, connected,
    /// hello, disconnect, disconnected, reconnecting, errors (see [`SlackEvent`]).
    pub fn on_lifecycle<F>(&self, f: F) -> Registration
    where
        F: FnMut(&SlackContext, &SlackEvent) + Send + 'static,
    {
        self.events(
            |event| !matches!(event, SlackEvent::Envelope(_)),
            Box::new(f),
        )
    }

    /// Registers a handler for Slack's `hello` ([`SlackEvent::Hello`]): a connection is up;
    /// it gets how many connections Slack counts for the app, this one included.
    pub fn on_hello<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, u32) + Send + 'static,
    {
        self.events(
            |event| matches!(event, SlackEvent::Hello { .. }),
            Box::new(move |ctx, event| {
                if let SlackEvent::Hello {
                    num_connections, ..
                } = event
                {
                    f(ctx, *num_connections)
                }
            }),
        )
    }

    /// Registers a handler for Slack's `disconnect` message ([`SlackEvent::Disconnect`]):
    /// it gets the `reason` (`warning`, `refresh_requested`, …). The client reconnects by
    /// itself.
    pub fn on_disconnect<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, &str) + Send + 'static,
    {
        self.events(
            |event| matches!(event, SlackEvent::Disconnect { .. }),
            Box::new(move |ctx, event| {
                if let SlackEvent::Disconnect { reason } = event {
                    f(ctx, reason)
                }
            }),
        )
    }

    /// Registers a handler for [`SlackEvent::Disconnected`]: a connection ended, with the
    /// close code (if Slack sent one) and what happened.
    pub fn on_disconnected<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, Option<u16>, &str) + Send + 'static,
    {
        self.events(
            |event| matches!(event, SlackEvent::Disconnected { .. }),
            Box::new(move |ctx, event| {
                if let SlackEvent::Disconnected { code, reason } = event {
                    f(ctx, *code, reason)
                }
            }),
        )
    }

    /// Registers a handler for [`SlackEvent::Error`]: what the client handled and carried
    /// on from, and the dispatcher's own reports (a handler that panicked, a payload that did
    /// not parse as its handler's model, a response that was not sent). For a report about
    /// an envelope, the context names that envelope.
    pub fn on_error<F>(&self, mut f: F) -> Registration
    where
        F: FnMut(&SlackContext, &str) + Send + 'static,
    {
        self.events(
            |event| matches!(event, SlackEvent::Error { .. }),
            Box::new(move |ctx, event| {
                if let SlackEvent::Error { message, .. } = event {
                    f(ctx, message)
                }
            }),
        )
    }

    /// Registers a catch-all: every event, envelopes and lifecycle events alike, in order
    /// with the other handlers.
    pub fn on_any<F>(&self, f: F) -> Registration
    where
        F: FnMut(&SlackContext, &SlackEvent) + Send + 'static,
    {
        self.register(Entry::Any {
            slot: Slot::new(false, Box::new(f)),
        })
    }

    /// Warns about a handler still running after `threshold` (a `warn` line naming the
    /// payload type and how long, again at twice the time, …, while it runs), for clients
    /// started after this call. Defaults to 2 seconds.
    pub fn slow_handler_warning(&self, threshold: Duration) {
        *self.slow_handler_warning.lock() = threshold;
    }
}

impl SlackDispatcher {
    /// Runs `client` on this thread with the dispatcher's handlers, until
    /// [`SlackHandle::shutdown`] (`Ok`) or a fatal error: [`SocketMode::run`] with a closure
    /// that routes each event, the acknowledgements of envelopes a responder takes held for
    /// its answer. Handlers added or removed meanwhile take effect from the next event.
    pub fn run(&self, client: &mut SocketMode) -> crate::Result<()> {
        let mut router = self.prepare(client)?;
        client.run(move |event| router.route(event))
    }

    fn prepare(&self, client: &mut SocketMode) -> crate::Result<Router> {
        let handlers = self.handlers.clone();
        client.set_hold_acks(Arc::new(move |envelope: &Envelope| {
            handlers.has_responder(envelope)
        }));
        let handle = client.handle();
        self.router(handle.clone(), Arc::new(handle))
    }

    fn router(&self, handle: SlackHandle, acks: Arc<dyn route::Acks>) -> crate::Result<Router> {
        let who: Arc<str> = "slack".into();
        let threshold = *self.slow_handler_warning.lock();
        let watchdog =
            Watchdog::start("syncord-slack-wd".into(), who.clone(), threshold).map_err(|e| {
                crate::Error::Thread(format!("could not start the slow-handler watchdog: {e}"))
            })?;
        Ok(Router {
            handlers: self.handlers.clone(),
            ctx: SlackContext {
                handle,
                envelope: None,
            },
            acks,
            guard: Guard {
                watchdog,
                stop_on_panic: false,
                who,
            },
        })
    }
}

impl fmt::Debug for SlackDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackDispatcher")
            .field("handlers", &self.handlers.len())
            .finish()
    }
}

fn model_match<M: SlackModel>() -> Match {
    Match::Model {
        kind: M::ENVELOPE,
        payload_type: M::TYPE,
    }
}

fn parse_error<M: SlackModel>(envelope: &Envelope, error: serde_json::Error) -> String {
    format!(
        "a {} envelope ({}) did not parse as {}: {error}",
        envelope.kind(),
        envelope.payload_type().unwrap_or("no payload type"),
        std::any::type_name::<M::Model<'_>>()
    )
}

fn once_envelope<F>(f: F) -> Box<EnvelopeFn>
where
    F: FnOnce(&SlackContext, &Envelope) + Send + 'static,
{
    let mut f = Some(f);
    Box::new(move |ctx, envelope| {
        if let Some(f) = f.take() {
            f(ctx, envelope)
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests;
