//! The Socket Mode client: run it with a closure (or a dispatcher) on the caller's thread;
//! control it from any thread through its [`SlackHandle`].
//!
//! Each connection runs on the engine's three threads ([`crate::engine`]); this loop, on
//! the caller's thread, asks for a fresh single-use URL per connection, delivers each
//! envelope once, replaces a connection make-before-break when Slack asks for a refresh,
//! and backs off as [`super::policy`] says.

use super::config::SlackConfig;
use super::connection::{self, Connector};
use super::dedupe::Dedupe;
use super::event::{Envelope, SlackEvent};
use super::link::{HeldAcks, SlackInbound, SlackPriority, SlackReader, SocketModeWire};
use super::open::Method;
use super::policy::{on_disconnect, OnDisconnect};
use super::runner::{Connections, Control, Emit, NotConnected, Outcome};
use super::wire::ack;
use crate::engine::{command_queue, Latency, LinkOptions, WriterOptions};
use crate::policy::Ended;
use crate::{Error, ErrorKind, Result};
use crossbeam_channel::{at, never, select, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use super::link::HoldAcks;

/// A Socket Mode client (Slack: Using Socket Mode).
///
/// ```no_run
/// use syncord::slack::{SlackConfig, SlackEvent, SocketMode};
///
/// let mut client = SocketMode::new(SlackConfig::new(std::env::var("SLACK_APP_TOKEN").unwrap_or_default()));
/// client.run(|event| match event {
///     SlackEvent::Envelope(envelope) => println!("{} {:?}", envelope.kind(), envelope.payload_type()),
///     other => println!("{other:?}"),
/// })?;
/// # Ok::<(), syncord::Error>(())
/// ```
///
/// Every envelope is acknowledged by the reader thread as it arrives, before any handler
/// runs, unless a responding handler registered for it (then it waits for the response up
/// to [`response_deadline`](super::SlackConfigBuilder::response_deadline)). Retries
/// (`retry_attempt` > 0) are delivered like first deliveries; a delivery seen before (same
/// `event_id`, or same `envelope_id`) within the dedupe window is acknowledged and dropped.
pub struct SocketMode {
    config: SlackConfig,
    shared: Arc<Shared>,
    hold: Option<HoldAcks>,
}

/// What the handle and the caller's loop share.
struct Shared {
    control: Control,
    held: HeldAcks,
}

impl Shared {
    /// Sends `json` as the acknowledgement of a held envelope, on the connection it came
    /// on; whoever takes the entry first acknowledges it (see [`HeldAcks`]).
    fn release(&self, envelope_id: &str, json: String) -> Result<(), RespondError> {
        let writer = self.held.lock().remove(envelope_id);
        match writer {
            Some(writer) => writer
                .send(SlackPriority::Ack(json))
                .map_err(|_| RespondError::Closed),
            None => Err(RespondError::AlreadyAcknowledged),
        }
    }
}

impl SocketMode {
    /// A client with these settings; nothing connects before [`run`](Self::run).
    pub fn new(config: SlackConfig) -> SocketMode {
        SocketMode {
            config,
            shared: Arc::new(Shared {
                control: Control::default(),
                held: HeldAcks::default(),
            }),
            hold: None,
        }
    }

    /// A handle to control the client from any thread.
    pub fn handle(&self) -> SlackHandle {
        SlackHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs on this thread until [`SlackHandle::shutdown`] (then `Ok`) or a fatal error
    /// (an app token Slack refuses, Socket Mode turned off), calling `handler` for every
    /// event in order. A handler that panics is reported as [`SlackEvent::Error`] and the
    /// client goes on.
    pub fn run(&mut self, handler: impl FnMut(SlackEvent)) -> Result<()> {
        let (config, shared) = (&self.config, &*self.shared);
        connection::run(config, &shared.control, handler, |connector| Runner {
            config,
            shared,
            hold: self.hold.clone(),
            dedupe: Dedupe::new(config.dedupe_window, config.dedupe_capacity),
            connector,
        })
    }

    /// Runs the client on a new thread (`syncord-slack`) with `handler`.
    pub fn spawn(
        mut self,
        handler: impl FnMut(SlackEvent) + Send + 'static,
    ) -> std::io::Result<SlackThread> {
        let handle = self.handle();
        let join = std::thread::Builder::new()
            .name("syncord-slack".into())
            .spawn(move || self.run(handler))?;
        Ok(SlackThread { handle, join })
    }

    /// Envelopes for which `predicate` is true (and that accept a response payload) are not
    /// acknowledged on receipt: the handler answers them with [`SlackHandle::respond`] (or
    /// [`SlackHandle::ack_now`]) within
    /// [`response_deadline`](super::SlackConfigBuilder::response_deadline), after which the
    /// plain acknowledgement goes by itself. The dispatcher's responding handlers set this.
    pub fn hold_acks_for(&mut self, predicate: impl Fn(&Envelope) -> bool + Send + Sync + 'static) {
        self.set_hold_acks(Arc::new(predicate));
    }

    /// [`hold_acks_for`](Self::hold_acks_for) with a shared predicate.
    pub(crate) fn set_hold_acks(&mut self, hold: HoldAcks) {
        self.hold = Some(hold);
    }
}

/// A client running on its own thread ([`SocketMode::spawn`]).
#[derive(Debug)]
pub struct SlackThread {
    handle: SlackHandle,
    join: std::thread::JoinHandle<Result<()>>,
}

impl SlackThread {
    /// The client's handle.
    pub fn handle(&self) -> &SlackHandle {
        &self.handle
    }

    /// Stops the client and waits for its thread (every connection thread joined).
    pub fn shutdown(self) -> Result<()> {
        self.handle.shutdown();
        self.join()
    }

    /// Waits for the client to stop by itself (a fatal error) or by a shutdown.
    pub fn join(self) -> Result<()> {
        self.join
            .join()
            .unwrap_or_else(|_| Err(Error::Thread("the Slack client thread panicked".into())))
    }
}

/// Controls a running [`SocketMode`] client from any thread.
#[derive(Clone)]
pub struct SlackHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SlackHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.control.debug("SlackHandle", f)
    }
}

/// Why [`SlackHandle::respond`] did not send a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The envelope is not waiting for a response: its plain acknowledgement already went
    /// (the response deadline passed, or it was never held for a response).
    #[error("too late: the envelope was already acknowledged without a payload")]
    AlreadyAcknowledged,
    /// The acknowledgement with this payload would be too large for Slack.
    #[error("the acknowledgement would be {0} bytes; Slack drops acknowledgements of 20 KiB or more: post large responses through the Web API")]
    TooLarge(usize),
    /// The payload is not a JSON object.
    #[error("the response payload is not a JSON object: {0}")]
    NotJson(String),
    /// The connection the envelope came on has closed.
    #[error("the connection the envelope came on has closed")]
    Closed,
}

impl SlackHandle {
    /// Sends the acknowledgement of a held envelope with `payload_json` (a JSON object:
    /// a slash command's message, a `response_action`, `options`) as its response payload.
    /// Only envelopes held for a responding handler wait; every other one was acknowledged
    /// on receipt.
    pub fn respond(&self, envelope_id: &str, payload_json: &str) -> Result<(), RespondError> {
        match serde_json::from_str::<&serde_json::value::RawValue>(payload_json) {
            Ok(raw) if raw.get().starts_with('{') => {}
            Ok(_) => return Err(RespondError::NotJson("not an object".into())),
            Err(e) => return Err(RespondError::NotJson(e.to_string())),
        }
        let json = ack(envelope_id, Some(payload_json)).map_err(|e| RespondError::TooLarge(e.0))?;
        self.release(envelope_id, json)
    }

    /// Acknowledges a held envelope now, without a payload (a responder with nothing to say).
    pub fn ack_now(&self, envelope_id: &str) -> Result<(), RespondError> {
        let json = ack(envelope_id, None).map_err(|e| RespondError::TooLarge(e.0))?;
        self.release(envelope_id, json)
    }

    fn release(&self, envelope_id: &str, json: String) -> Result<(), RespondError> {
        self.shared.release(envelope_id, json)
    }

    /// The ping round trips of the current connection.
    pub fn latency(&self) -> Latency {
        self.shared.control.latency()
    }

    /// Stops the client: closes its connections (close 1000, then the TCP connection is
    /// dropped without waiting for Slack) and makes `run` return `Ok`, within about a second
    /// from any state.
    pub fn shutdown(&self) {
        self.shared.control.shutdown();
    }
}

/// One connection and where it is.
type Live = connection::Live<SocketModeWire>;

/// The caller's loop for one `run`.
struct Runner<'a> {
    config: &'a SlackConfig,
    shared: &'a Shared,
    hold: Option<HoldAcks>,
    dedupe: Dedupe,
    connector: Connector<'a>,
}

impl Connections for Runner<'_> {
    type Live = Live;

    fn connect(&mut self) -> std::result::Result<Live, NotConnected> {
        Runner::connect(self)
    }

    fn drive(&mut self, live: Live, emit: &mut Emit<'_>) -> Result<Outcome> {
        Runner::drive(self, live, emit)
    }
}

impl Runner<'_> {
    /// Opens a fresh URL, dials it and starts the connection's threads.
    fn connect(&mut self) -> std::result::Result<Live, NotConnected> {
        // Socket Mode has no user commands: the channel stays empty.
        let (_commands_tx, commands) = command_queue(1, &Arc::default());
        let connecting = self
            .connector
            .connect(Method::ConnectionsOpen, "s", |label| {
                LinkOptions {
                    label,
                    event_queue: self.config.event_queue,
                    state: self.shared.held.clone(),
                    reader: SlackReader {
                        ping_interval: self.config.ping_interval,
                        response_deadline: self.config.response_deadline,
                        hold: self.hold.clone(),
                    },
                    commands,
                    bell: Arc::default(),
                    writer: WriterOptions {
                        // Slack sets no send limit on Socket Mode: one acknowledgement per
                        // envelope is all we send, so the limiter only guards against a
                        // runaway loop.
                        rate_limit: (4096, Duration::from_millis(10)),
                        retry: Arc::default(),
                    },
                    latency: self.shared.control.latency.clone(),
                    metrics: self.shared.control.metrics.clone(),
                }
            });
        // Socket Mode's URL says nothing of who the token is.
        connecting.map(|(live, _identity)| live)
    }

    /// Delivers one connection's envelopes, and its replacements', until the last one ends.
    fn drive(&mut self, first: Live, emit: &mut Emit<'_>) -> Result<Outcome> {
        let mut current = first;
        let mut next: Option<Live> = None;
        let mut had_hello = false;
        loop {
            let none: Receiver<SlackInbound> = never();
            let no_reports = never();
            let (next_events, next_reports, next_by) = match &next {
                Some(n) => (
                    &n.link.events,
                    &n.link.reports,
                    (!n.hello).then_some(n.hello_by),
                ),
                None => (&none, &no_reports, None),
            };
            let hello_by = (!current.hello).then_some(current.hello_by);
            let deadline = match (hello_by, next_by) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timer = deadline.map_or_else(never, at);
            enum Woke {
                Stop,
                Current(Option<SlackInbound>),
                CurrentReport(Ended),
                Next(Option<SlackInbound>),
                NextReport(Ended),
                Timer,
            }
            let woke = select! {
                recv(self.shared.control.stop.woken()) -> _ => Woke::Stop,
                recv(current.link.events) -> m => {
                    current.link.made_room();
                    Woke::Current(m.ok())
                }
                recv(current.link.reports) -> r => match r {
                    Ok(r) => Woke::CurrentReport(r.ended),
                    Err(_) => Woke::Current(None),
                },
                recv(next_events) -> m => {
                    if let Some(n) = &next {
                        n.link.made_room();
                    }
                    Woke::Next(m.ok())
                }
                recv(next_reports) -> r => match r {
                    Ok(r) => Woke::NextReport(r.ended),
                    Err(_) => Woke::Next(None),
                },
                recv(timer) -> _ => Woke::Timer,
            };
            let ended = match woke {
                Woke::Stop => {
                    if self.shared.control.stop.requested().is_none() {
                        continue;
                    }
                    if let Some(n) = next.take() {
                        self.retire(n, None, emit);
                    }
                    self.retire(current, Some("shut down"), emit);
                    return Ok(Outcome::Shutdown);
                }
                Woke::Current(Some(SlackInbound::Ended(ended))) | Woke::CurrentReport(ended) => {
                    ended
                }
                Woke::Current(None) => Ended::Eof,
                Woke::Current(Some(inbound)) => {
                    match inbound {
                        SlackInbound::Hello {
                            num_connections,
                            host,
                            approximate_connection_time,
                        } => {
                            current.hello = true;
                            had_hello = true;
                            emit(SlackEvent::Hello {
                                num_connections,
                                host,
                                approximate_connection_time,
                            });
                        }
                        SlackInbound::Disconnect { reason } => {
                            log::info!("Slack asks to disconnect: {reason}");
                            emit(SlackEvent::Disconnect {
                                reason: reason.clone(),
                            });
                            match on_disconnect(&reason) {
                                OnDisconnect::Replace if next.is_none() => {
                                    match self.connect() {
                                        Ok(live) => {
                                            emit(SlackEvent::Connected);
                                            next = Some(live);
                                        }
                                        Err(NotConnected::Stopped) => {}
                                        Err(NotConnected::Fatal(e)) => {
                                            self.retire(current, Some("stopping"), emit);
                                            return Err(e);
                                        }
                                        Err(NotConnected::RateLimited(wait)) => emit(SlackEvent::Error {
                                            kind: ErrorKind::ReplacementFailed,
                                            message: format!("could not open the replacement connection: rate limited for {wait:?}; reconnecting when this one closes"),
                                        }),
                                        Err(NotConnected::Failed(message)) => emit(SlackEvent::Error {
                                            kind: ErrorKind::ReplacementFailed,
                                            message: format!("could not open the replacement connection: {message}; reconnecting when this one closes"),
                                        }),
                                    }
                                }
                                OnDisconnect::Replace => {}
                                OnDisconnect::CloseThenWait => {
                                    log::warn!("Slack: too many websockets for this app (at most 10, stale ones included): closing this one and waiting at least {:?}", self.config.too_many_websockets_wait);
                                    if let Some(n) = next.take() {
                                        self.retire(n, None, emit);
                                    }
                                    self.retire(current, Some("too many websockets"), emit);
                                    return Ok(Outcome::TooManyWebsockets);
                                }
                                OnDisconnect::Stop => {
                                    if let Some(n) = next.take() {
                                        self.retire(n, None, emit);
                                    }
                                    self.retire(current, Some("Socket Mode is disabled"), emit);
                                    return Err(Error::SlackRefused {
                                        error: "link_disabled".into(),
                                        advice: super::open::advice("link_disabled")
                                            .unwrap_or("turn Socket Mode on"),
                                    });
                                }
                            }
                        }
                        other => self.inbound(other, emit),
                    }
                    continue;
                }
                Woke::Next(Some(SlackInbound::Hello {
                    num_connections,
                    host,
                    approximate_connection_time,
                })) => {
                    // The replacement is up: it takes over, the old one closes.
                    if let Some(mut n) = next.take() {
                        n.hello = true;
                        let old = std::mem::replace(&mut current, n);
                        emit(SlackEvent::Hello {
                            num_connections,
                            host,
                            approximate_connection_time,
                        });
                        self.retire(old, Some("replaced by a new connection"), emit);
                    }
                    continue;
                }
                Woke::Next(Some(SlackInbound::Ended(ended))) | Woke::NextReport(ended) => {
                    if let Some(n) = next.take() {
                        self.retire(n, None, emit);
                    }
                    emit(SlackEvent::Error {
                        kind: ErrorKind::ReplacementFailed,
                        message: format!(
                            "the replacement connection ended before hello: {}; reconnecting when this one closes",
                            ended.describe()
                        ),
                    });
                    continue;
                }
                Woke::Next(None) => {
                    next = None;
                    continue;
                }
                Woke::Next(Some(inbound)) => {
                    self.inbound(inbound, emit);
                    continue;
                }
                Woke::Timer => {
                    let now = Instant::now();
                    if next.as_ref().is_some_and(|n| !n.hello && n.hello_by <= now) {
                        if let Some(n) = next.take() {
                            self.retire(n, None, emit);
                        }
                        emit(SlackEvent::Error {
                            kind: ErrorKind::ReplacementFailed,
                            message: "the replacement connection sent no hello in time".into(),
                        });
                    }
                    if current.hello || current.hello_by > now {
                        continue;
                    }
                    Ended::Timeout("hello")
                }
            };
            // The current connection is over.
            let code = ended.close_code();
            let reason = ended.describe();
            log::info!("Slack connection ended: {reason}");
            self.retire_quietly(current, emit);
            emit(SlackEvent::Disconnected { code, reason });
            match next.take() {
                // The replacement (if it says hello) carries on.
                Some(n) => current = n,
                None => return Ok(Outcome::Ended { had_hello }),
            }
            had_hello = had_hello || current.hello;
        }
    }

    /// An envelope or a notice from any live connection.
    fn inbound(&mut self, inbound: SlackInbound, emit: &mut Emit<'_>) {
        match inbound {
            SlackInbound::Envelope(envelope) => self.deliver(envelope, emit),
            SlackInbound::Notice(message) => emit(SlackEvent::Error {
                kind: ErrorKind::SkippedPayload,
                message,
            }),
            SlackInbound::Disconnect { reason } => emit(SlackEvent::Disconnect { reason }),
            SlackInbound::Hello { .. } | SlackInbound::Ended(_) => {}
        }
    }

    /// Delivers an envelope unless it was seen before (already acknowledged either way).
    fn deliver(&mut self, envelope: Envelope, emit: &mut Emit<'_>) {
        if !self.dedupe.is_duplicate(&envelope, Instant::now()) {
            emit(SlackEvent::Envelope(envelope));
        } else {
            log::debug!(
                "dropped a duplicate delivery (envelope {}, retry_attempt {})",
                envelope.envelope_id(),
                envelope.retry_attempt()
            );
            // A held duplicate would otherwise wait for a response no handler gives; one
            // that is not held was acknowledged on receipt.
            if let Ok(json) = ack(envelope.envelope_id(), None) {
                let _ = self.shared.release(envelope.envelope_id(), json);
            }
        }
    }

    /// Closes a connection (close 1000 with `reason`, briefly, then the TCP connection is
    /// dropped), joins its threads and delivers what it had read.
    fn retire(&mut self, mut live: Live, reason: Option<&str>, emit: &mut Emit<'_>) {
        let leftovers = live
            .link
            .stop_and_join(Some((1000, reason.unwrap_or("closing"))));
        self.forget_held(&live);
        for inbound in leftovers {
            self.inbound(inbound, emit);
        }
        if let Some(reason) = reason {
            emit(SlackEvent::Disconnected {
                code: None,
                reason: reason.to_owned(),
            });
        }
    }

    /// Joins an ended connection's threads and delivers what it had read.
    fn retire_quietly(&mut self, mut live: Live, emit: &mut Emit<'_>) {
        let leftovers = live.link.stop_and_join(None);
        self.forget_held(&live);
        for inbound in leftovers {
            self.inbound(inbound, emit);
        }
    }

    /// Envelopes held on a closed connection can no longer be acknowledged there: Slack
    /// retries the events among them.
    fn forget_held(&self, live: &Live) {
        self.shared
            .held
            .lock()
            .retain(|_, writer| !writer.same_channel(&live.link.priority));
    }
}

/// A handle to no running client, for the dispatcher's unit tests.
#[cfg(test)]
impl Default for SlackHandle {
    fn default() -> SlackHandle {
        SocketMode::new(SlackConfig::new("xapp-test")).handle()
    }
}
