//! One gateway session: the caller's reconnect loop and the handle other threads use.

mod connection;
mod drive;
mod event;
mod handler;
pub(crate) mod members;
mod metrics;
mod reader;
mod runner;
mod wire;

pub use crate::engine::Latency;
pub use event::{Dispatch, Event};
pub use members::{GuildMembers, MembersRequest};
pub use metrics::ShardMetrics;

use crate::config::WhileDisconnected;
use crate::engine::{command_queue, Command, CommandReceiver, CommandSender};
use crate::protocol::{Command as CommandPayload, OpCode, Outgoing, MAX_SEND_SIZE};
use crate::session::{Session, SessionCell, SessionTracker};
use crate::{Config, Error, Intents, Result, Token};
use crossbeam_channel::{bounded, Receiver, SendTimeoutError, Sender};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

/// Where a shard is in its life. Readable from any thread with [`ShardHandle::state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardState {
    /// Created, `run` not called yet.
    Idle,
    /// Asking the REST API where the gateway is (`GET /gateway/bot`).
    Discovering,
    /// Dialing or handshaking.
    Connecting,
    /// Connected, identifying a new session.
    Identifying,
    /// Connected, resuming a session.
    Resuming,
    /// READY or RESUMED received: events flow and commands are sent.
    Active,
    /// Waiting before reconnect attempt `attempt`.
    Reconnecting {
        /// The attempt about to be made.
        attempt: u32,
    },
    /// Shut down; `run` returned `Ok`.
    Stopped,
    /// Stopped by a fatal error; `run` returned it.
    FatallyClosed,
}

/// The longest [`ShardHandle::shutdown_resumable`] waits for the shard to stop.
pub const RESUMABLE_SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the handle and the caller's loop share.
pub(crate) struct Shared {
    /// Shutdown: interrupts sleeps, dials and discovery.
    stop: Arc<crate::engine::Stop>,
    /// Heartbeat round trips of the current connection, kept by its heartbeat thread.
    latency: Arc<Mutex<Latency>>,
    state: Mutex<ShardState>,
    /// The session's one owner (changed only by the caller's loop).
    session: SessionCell,
    runner: Mutex<Option<ThreadId>>,
    /// Commands a failed connection could not send, retried first on the next one.
    retry: Arc<Mutex<std::collections::VecDeque<Command>>>,
    /// Open member requests, by nonce.
    chunks: Arc<members::ChunkRouter>,
    /// The current connection's event queue, for [`ShardHandle::queue_depth`].
    events: Mutex<Option<Receiver<connection::FromReader>>>,
    commands: CommandSender,
    while_disconnected: WhileDisconnected,
    command_timeout: std::time::Duration,
    /// Disconnected once `run` has returned.
    finished: Receiver<()>,
    /// Counters across connections, for [`ShardHandle::metrics`].
    metrics: Arc<metrics::Counters>,
}

impl Shared {
    fn stop_requested(&self) -> Option<bool> {
        self.stop.requested()
    }

    /// Waits `delay`, returning false as soon as a shutdown is requested.
    fn sleep_unless_stopped(&self, delay: std::time::Duration) -> bool {
        self.stop.sleep(delay)
    }

    fn set_state(&self, state: ShardState) {
        *self.state.lock() = state;
    }

    fn session_snapshot(&self) -> Option<Session> {
        self.session.lock().snapshot()
    }
}

/// A gateway shard: one session, run on the caller's thread by [`Shard::run`].
///
/// ```no_run
/// use syncord::{Event, Intents, Shard};
/// let shard = Shard::new(std::env::var("DISCORD_TOKEN").unwrap(), Intents::non_privileged())?;
/// shard.run(|event| {
///     if let Event::Dispatch(dispatch) = event {
///         println!("{} #{}", dispatch.event_type(), dispatch.seq());
///     }
/// })?;
/// # Ok::<(), syncord::Error>(())
/// ```
pub struct Shard {
    config: Config,
    shared: Arc<Shared>,
    commands: CommandReceiver,
    finished: Sender<()>,
}

impl Shard {
    /// A shard with the default config: the easy path.
    ///
    /// Errors: [`Error::InvalidSetting`] for an empty token (see [`Config::new`]).
    pub fn new(token: impl Into<Token>, intents: Intents) -> Result<Shard> {
        Ok(Shard::with_config(Config::new(token, intents)?))
    }

    /// A shard with a full config.
    pub fn with_config(config: Config) -> Shard {
        let (commands_tx, commands) = command_queue(config.command_queue, &Arc::default());
        let (finished, finished_rx) = bounded(0);
        let shared = Arc::new(Shared {
            stop: Arc::default(),
            latency: Arc::default(),
            state: Mutex::new(ShardState::Idle),
            session: Arc::new(Mutex::new(SessionTracker::new(config.session.clone()))),
            runner: Mutex::new(None),
            events: Mutex::new(None),
            retry: Arc::default(),
            chunks: Arc::default(),
            commands: commands_tx,
            while_disconnected: config.while_disconnected,
            command_timeout: config.command_timeout,
            finished: finished_rx,
            metrics: Arc::default(),
        });
        Shard {
            config,
            shared,
            commands,
            finished,
        }
    }

    /// The config `run` will use, for the dispatcher to install its event filter.
    pub(crate) fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// A handle for other threads: send commands, read the state, shut down.
    pub fn handle(&self) -> ShardHandle {
        ShardHandle {
            shared: self.shared.clone(),
        }
    }

    /// Connects and delivers every event to `handler` on this thread, in order, reconnecting
    /// as needed, until [`ShardHandle::shutdown`] (returns `Ok`) or a fatal error.
    pub fn run<H: FnMut(Event)>(self, mut handler: H) -> Result<()> {
        *self.shared.runner.lock() = Some(std::thread::current().id());
        let counters = self.shared.metrics.clone();
        let handler = move |event: Event| {
            counters.observe(&event);
            handler(event);
        };
        let result =
            runner::Runner::new(self.config, self.shared.clone(), self.commands, handler).run();
        drop(self.finished);
        result
    }

    /// Runs the shard on a new thread (named `syncord-sh-<id>`).
    pub fn spawn<H: FnMut(Event) + Send + 'static>(self, handler: H) -> Result<ShardThread> {
        let handle = self.handle();
        let name = format!("syncord-sh-{}", self.config.shard_id());
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || self.run(handler))
            .map_err(|source| Error::Spawn {
                thread: name,
                source,
            })?;
        Ok(ShardThread { handle, thread })
    }
}

impl Shard {
    /// Runs the shard on a new thread and hands events out through a channel instead of a
    /// closure, for programs that `select!` over several sources. The channel holds up to
    /// the config's `event_queue` events; when it is full the shard waits (back-pressure,
    /// nothing dropped). Dropping the [`EventReceiver`] shuts the shard down at once, even
    /// when no event is flowing.
    ///
    /// The receiver derefs to a [`crossbeam_channel::Receiver`] (re-exported as
    /// [`syncord::Receiver`](crate::Receiver)), so it works in `select!` too:
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use syncord::{Event, Intents, Shard};
    /// let (shard, events) = Shard::new("token", Intents::GUILDS)?.spawn_receiver()?;
    /// let ticks = crossbeam_channel::tick(Duration::from_secs(60));
    /// loop {
    ///     crossbeam_channel::select! {
    ///         recv(events) -> event => match event {
    ///             Ok(Event::Dispatch(d)) => println!("{}", d.event_type()),
    ///             Ok(_) => {}
    ///             Err(_) => break, // the shard stopped
    ///         },
    ///         recv(ticks) -> _ => println!("still here"),
    ///     }
    /// }
    /// shard.join()?;
    /// # Ok::<(), syncord::Error>(())
    /// ```
    pub fn spawn_receiver(self) -> Result<(ShardThread, EventReceiver)> {
        let (tx, rx) = bounded(self.config.event_queue);
        let handle = self.handle();
        let sender_handle = handle.clone();
        let thread = self.spawn(move |event| {
            if tx.send(event).is_err() {
                sender_handle.shutdown();
            }
        })?;
        Ok((
            thread,
            EventReceiver {
                events: rx,
                shard: handle,
            },
        ))
    }
}

/// The events of a shard started with [`Shard::spawn_receiver`]: a
/// [`crossbeam_channel::Receiver`] (it derefs to one) that shuts the shard down when dropped.
pub struct EventReceiver {
    events: Receiver<Event>,
    shard: ShardHandle,
}

impl std::ops::Deref for EventReceiver {
    type Target = Receiver<Event>;

    fn deref(&self) -> &Receiver<Event> {
        &self.events
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        // Nobody will take the events any more: an idle shard would otherwise only notice
        // at its next dispatch, which may be never.
        self.shard.shutdown();
    }
}

impl fmt::Debug for EventReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReceiver")
            .field("queued", &self.events.len())
            .finish()
    }
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config's Debug redacts the token.
        f.debug_struct("Shard")
            .field("config", &self.config)
            .field("state", &*self.shared.state.lock())
            .finish()
    }
}

impl fmt::Debug for ShardHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardHandle")
            .field("state", &self.state())
            .field("queue_depth", &self.queue_depth())
            .finish()
    }
}

impl fmt::Debug for ShardThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardThread")
            .field("thread", &self.thread.thread().name())
            .field("handle", &self.handle)
            .finish()
    }
}

/// A shard running on its own thread, from [`Shard::spawn`].
pub struct ShardThread {
    handle: ShardHandle,
    thread: JoinHandle<Result<()>>,
}

impl ShardThread {
    /// The shard's handle.
    pub fn handle(&self) -> &ShardHandle {
        &self.handle
    }

    /// Waits for the shard to stop and returns what `run` returned.
    pub fn join(self) -> Result<()> {
        self.thread
            .join()
            .map_err(|_| Error::Thread("the shard thread panicked".into()))?
    }

    /// Shuts the shard down (closing with 1000) and waits for it.
    pub fn shutdown(self) -> Result<()> {
        self.handle.shutdown();
        self.join()
    }
}

/// A cheap, cloneable, `Send + Sync` handle to a shard.
#[derive(Clone)]
pub struct ShardHandle {
    shared: Arc<Shared>,
}

impl ShardHandle {
    /// Sends a typed command.
    ///
    /// While the shard is reconnecting the command waits in a bounded queue and is sent
    /// after READY/RESUMED (or fails at once with [`Error::NotConnected`] under
    /// [`WhileDisconnected::FailFast`]). When the queue is full this blocks up to the
    /// command timeout, then returns [`Error::QueueFull`].
    pub fn send<C: CommandPayload>(&self, command: &C) -> Result<()> {
        self.enqueue(Outgoing::new(C::OP, command).to_json())
    }

    /// Sends `{"op":op,"d":data_json}`. `data_json` must be valid JSON; the payload must fit
    /// in 4096 bytes; Heartbeat, Identify and Resume are refused (the shard sends those
    /// itself). Same queueing as [`ShardHandle::send`].
    pub fn send_raw(&self, op: OpCode, data_json: &str) -> Result<()> {
        // Heartbeat, Identify and Resume belong to the shard's own session handling.
        let managed = [OpCode::HEARTBEAT, OpCode::IDENTIFY, OpCode::RESUME];
        if !op.is_client_sendable() || managed.contains(&op) {
            return Err(Error::NotSendable(op.0));
        }
        serde_json::from_str::<&serde_json::value::RawValue>(data_json)
            .map_err(Error::InvalidJson)?;
        self.enqueue(format!(r#"{{"op":{},"d":{}}}"#, op.0, data_json.trim()))
    }

    fn enqueue(&self, json: String) -> Result<()> {
        if json.len() > MAX_SEND_SIZE {
            return Err(Error::PayloadTooLarge {
                size: json.len(),
                limit: MAX_SEND_SIZE,
            });
        }
        if self.shared.stop_requested().is_some() || self.is_finished() {
            return Err(Error::Stopped);
        }
        if self.shared.while_disconnected == WhileDisconnected::FailFast
            && self.state() != ShardState::Active
        {
            return Err(Error::NotConnected);
        }
        let command = Command { json };
        match self
            .shared
            .commands
            .send_timeout(command, self.shared.command_timeout)
        {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(Error::QueueFull(self.shared.command_timeout)),
            Err(SendTimeoutError::Disconnected(_)) => Err(Error::Stopped),
        }
    }

    fn is_finished(&self) -> bool {
        matches!(
            self.shared.finished.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        )
    }

    /// Sends Request Guild Members and returns a [`MembersRequest`] to block on until every
    /// `GUILD_MEMBERS_CHUNK` of the answer has arrived. A nonce is generated unless the
    /// request has one (at most 32 bytes).
    pub fn request_guild_members(
        &self,
        mut request: crate::protocol::RequestGuildMembers,
    ) -> Result<MembersRequest> {
        let nonce = match request.nonce.take() {
            Some(nonce) if nonce.len() > 32 => {
                return Err(Error::InvalidCommand(format!(
                    "a member request nonce is at most 32 bytes, this one has {}",
                    nonce.len()
                )))
            }
            Some(nonce) => nonce,
            None => self.shared.chunks.fresh_nonce(),
        };
        request.nonce = Some(nonce.clone());
        let (chunks, registration) = self.shared.chunks.register(nonce.clone());
        self.send(&request)?;
        Ok(MembersRequest {
            chunks,
            nonce,
            _registration: registration,
        })
    }

    /// The shard's current state.
    pub fn state(&self) -> ShardState {
        *self.shared.state.lock()
    }

    /// How many events the reader has queued that the handler has not taken yet. When it
    /// reaches the configured `event_queue` capacity, reading pauses (TCP back-pressure)
    /// until the handler catches up; nothing is dropped.
    pub fn queue_depth(&self) -> usize {
        self.shared.events.lock().as_ref().map_or(0, Receiver::len)
    }

    /// The heartbeat round trip of the current connection: the most recent, the average of
    /// the last few, beats sent and ACKed, and when the last ACK came. Reset when a new
    /// connection starts.
    ///
    /// ```no_run
    /// # let handle = syncord::Shard::new("token", syncord::Intents::GUILDS)?.handle();
    /// if let Some(rtt) = handle.latency().recent() {
    ///     println!("gateway latency {rtt:?}");
    /// }
    /// # Ok::<(), syncord::Error>(())
    /// ```
    pub fn latency(&self) -> Latency {
        self.shared.latency.lock().clone()
    }

    /// The shard's counters (events and bytes received, payloads sent, reconnects, resumes,
    /// sessions started, last close code) with its queue depth and latency now.
    pub fn metrics(&self) -> ShardMetrics {
        let latency = self.latency().recent();
        self.shared.metrics.snapshot(self.queue_depth(), latency)
    }

    /// The current session (id, last delivered seq, resume URL), if one is established.
    pub fn session(&self) -> Option<Session> {
        self.shared.session_snapshot()
    }

    /// Asks the shard to stop: it closes with 1000 (ending the session), joins its threads
    /// and `run` returns `Ok`. Returns at once; works from any state and any thread,
    /// including inside the handler (the shard stops when the handler returns).
    pub fn shutdown(&self) {
        self.shared.stop.request(false);
    }

    /// Stops the shard keeping the session alive (closes with 4000) and returns it, to be
    /// resumed later with [`ConfigBuilder::session`](crate::ConfigBuilder::session).
    ///
    /// Waits for `run` to return, at most [`RESUMABLE_SHUTDOWN_WAIT`] (5 s: a handler still
    /// busy with an event can hold it up), and not at all when called from the handler. The
    /// session is right either way: its `seq` is the last event handed to the handler, and
    /// nothing is delivered after a stop is requested, so a resume skips nothing and repeats
    /// nothing. `None` when there is no session to resume (never identified, or it was lost).
    ///
    /// ```no_run
    /// # let handle = syncord::Shard::new("token", syncord::Intents::GUILDS)?.handle();
    /// // Returns within 5 s whatever the shard is doing.
    /// if let Some(session) = handle.shutdown_resumable() {
    ///     std::fs::write("session.json", serde_json::to_string(&session).unwrap()).unwrap();
    /// }
    /// # Ok::<(), syncord::Error>(())
    /// ```
    pub fn shutdown_resumable(&self) -> Option<Session> {
        self.shared.stop.request(true);
        let on_runner = *self.shared.runner.lock() == Some(std::thread::current().id());
        if !on_runner {
            let _ = self.shared.finished.recv_timeout(RESUMABLE_SHUTDOWN_WAIT);
        }
        self.shared.session_snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_the_public_types_hides_the_token() {
        let shard = Shard::new("Secret.Token.Value", Intents::GUILDS).expect("valid config");
        let handle = shard.handle();
        for text in [format!("{shard:?}"), format!("{handle:?}")] {
            assert!(!text.contains("Secret.Token.Value"), "{text}");
            assert!(text.contains("Idle"), "{text}");
        }
    }

    #[test]
    fn handle_is_send_sync_clone() {
        fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<ShardHandle>();
        fn assert_send<T: Send>() {}
        assert_send::<Shard>();
        assert_send::<Event>();
    }

    #[test]
    fn oversize_and_invalid_commands_are_refused_before_queueing() {
        let shard = Shard::new("t", Intents::GUILDS).expect("valid config");
        let handle = shard.handle();
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(5000));
        assert!(matches!(
            handle.send_raw(OpCode::PRESENCE_UPDATE, &big),
            Err(Error::PayloadTooLarge { limit: 4096, .. })
        ));
        let Err(invalid) = handle.send_raw(OpCode::PRESENCE_UPDATE, "{not json") else {
            panic!("invalid JSON accepted");
        };
        assert!(matches!(invalid, Error::InvalidJson(_)), "{invalid}");
        let cause = std::error::Error::source(&invalid).expect("the parse error as its cause");
        assert!(cause.is::<serde_json::Error>());
        assert!(matches!(
            handle.send_raw(OpCode::HELLO, "{}"),
            Err(Error::NotSendable(10))
        ));
        assert_eq!(handle.state(), ShardState::Idle);
    }
}
