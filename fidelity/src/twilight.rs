//! One twilight-gateway shard on its own thread (a current_thread tokio runtime), pointed at
//! a simulator, reporting everything it yields to the scenario thread over a channel.
//!
//! The scenario thread blocks on the simulator's waits; twilight needs its runtime to keep
//! polling meanwhile, hence the separate thread.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use twilight_gateway::error::ReceiveMessageErrorType;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, EventTypeFlags, Intents, Message, MessageSender, Shard, ShardId,
    ShardState,
};
use twilight_model::gateway::event::GatewayEvent;

/// The transport compression this binary's twilight-gateway asks for (a compile-time choice
/// in twilight-gateway 0.18), as the `compress` query value; `none` for none.
pub const MODE: &str = if cfg!(feature = "zstd") {
    "zstd-stream"
} else if cfg!(feature = "zlib") {
    "zlib-stream"
} else {
    "none"
};

/// What twilight's shard stream yielded, reduced to what the scenarios assert on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// op 10 Hello.
    Hello,
    /// op 11 Heartbeat ACK.
    HeartbeatAck,
    /// op 1 from the server (a heartbeat request).
    HeartbeatRequest,
    /// op 7 Reconnect.
    Reconnect,
    /// op 9 Invalid Session with its `d`.
    InvalidSession(bool),
    /// op 0 with its `s` and `t`.
    Dispatch {
        /// The sequence number.
        seq: u64,
        /// The event name.
        kind: String,
    },
    /// A websocket close (the server's frame, or twilight's own 1006 for a lost link).
    Close(Option<u16>),
    /// An error item of the stream, by kind.
    Error(String),
    /// A text message twilight-model could not parse into its typed event.
    Unparsed(String),
    /// The stream ended (twilight gave up: a fatal close).
    Ended,
}

/// One item as the scenario thread sees it.
#[derive(Clone, Debug)]
pub struct Item {
    /// When the scenario thread's channel received it.
    pub at: Instant,
    /// What it was.
    pub seen: Seen,
    /// The shard's state right after it.
    pub state: ShardState,
}

/// Options of the twilight shard a scenario runs.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Token given to twilight (it adds `Bot `).
    pub token: String,
    /// Intents it identifies with.
    pub intents: Intents,
    /// Its shard id and count.
    pub shard: (u32, u32),
}

impl ClientOptions {
    /// The simulator's token, the intents every sample payload needs, shard 0 of 1.
    pub fn new(token: &str) -> ClientOptions {
        ClientOptions {
            token: token.to_owned(),
            intents: Intents::all(),
            shard: (0, 1),
        }
    }
}

/// A running twilight shard and everything it has yielded so far.
pub struct TwilightClient {
    items: mpsc::Receiver<Item>,
    /// Every item received so far, in order.
    pub log: Vec<Item>,
    sender: MessageSender,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TwilightClient {
    /// Starts a shard connecting to `gateway_url` (twilight's `proxy_url`).
    pub fn start(gateway_url: &str, options: ClientOptions) -> Result<TwilightClient, String> {
        let (items_tx, items) = mpsc::channel();
        let (sender_tx, sender_rx) = mpsc::channel();
        let (stop, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let url = gateway_url.to_owned();
        let thread = std::thread::Builder::new()
            .name("twilight-shard".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = items_tx.send(item(Seen::Error(format!("runtime: {e}")), None));
                        return;
                    }
                };
                runtime.block_on(async move {
                    // The config's identify queue spawns a task: built inside the runtime.
                    let config = ConfigBuilder::new(options.token, options.intents)
                        .proxy_url(url)
                        .build();
                    let id = ShardId::new(options.shard.0, options.shard.1);
                    let mut shard = Shard::with_config(id, config);
                    let _ = sender_tx.send(shard.sender());
                    loop {
                        let next = tokio::select! {
                            next = shard.next() => next,
                            _ = &mut stop_rx => return,
                        };
                        let seen = match next {
                            None => {
                                let _ = items_tx.send(item(Seen::Ended, Some(shard.state())));
                                return;
                            }
                            Some(Ok(Message::Close(frame))) => Seen::Close(frame.map(|f| f.code)),
                            Some(Ok(Message::Text(json))) => classify(json),
                            Some(Err(e)) => Seen::Error(match e.kind() {
                                ReceiveMessageErrorType::Reconnect => "reconnect".to_owned(),
                                other => format!("{other:?}"),
                            }),
                        };
                        if items_tx.send(item(seen, Some(shard.state()))).is_err() {
                            return;
                        }
                    }
                });
            })
            .map_err(|e| format!("cannot start the twilight thread: {e}"))?;
        let sender = sender_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "twilight's shard did not start".to_owned())?;
        Ok(TwilightClient {
            items,
            log: Vec::new(),
            sender,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Waits until twilight yields an item matching `pred` (looking only at items after
    /// those already matched by earlier waits: `from` is an index into [`Self::log`]), and
    /// returns its index.
    pub fn wait_from(
        &mut self,
        from: usize,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Item) -> bool,
    ) -> Result<usize, String> {
        if let Some(i) = self.log.iter().skip(from).position(&mut pred) {
            return Ok(from + i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.items.recv_timeout(left) {
                Ok(item) => {
                    let matched = pred(&item);
                    self.log.push(item);
                    if matched {
                        return Ok(self.log.len() - 1);
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "twilight never yielded {what}; it yielded {}",
                        self.summary()
                    ))
                }
            }
        }
    }

    /// Like [`Self::wait_from`] from the start of the log.
    pub fn wait(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl FnMut(&Item) -> bool,
    ) -> Result<usize, String> {
        self.wait_from(0, timeout, what, pred)
    }

    /// Waits for the dispatch `kind` after index `from`.
    pub fn wait_dispatch(
        &mut self,
        from: usize,
        kind: &str,
        timeout: Duration,
    ) -> Result<usize, String> {
        self.wait_from(
            from,
            timeout,
            kind,
            |i| matches!(&i.seen, Seen::Dispatch { kind: k, .. } if k == kind),
        )
    }

    /// Takes what twilight has yielded without waiting.
    pub fn drain(&mut self) {
        while let Ok(item) = self.items.try_recv() {
            self.log.push(item);
        }
    }

    /// Asks twilight to close the connection with `frame` (`Shard::close`).
    pub fn close(&self, frame: CloseFrame<'static>) {
        let _ = self.sender.close(frame);
    }

    /// The dispatches seen so far as `(seq, kind)`.
    pub fn dispatches(&self) -> Vec<(u64, String)> {
        self.log
            .iter()
            .filter_map(|i| match &i.seen {
                Seen::Dispatch { seq, kind } => Some((*seq, kind.clone())),
                _ => None,
            })
            .collect()
    }

    /// A short account of the log, for failure messages.
    pub fn summary(&self) -> String {
        let items: Vec<String> = self
            .log
            .iter()
            .map(|i| match &i.seen {
                Seen::Dispatch { seq, kind } => format!("{kind}(s={seq})"),
                Seen::Unparsed(what) => format!("UNPARSED[{what}]"),
                other => format!("{other:?}"),
            })
            .collect();
        format!("[{}]", items.join(", "))
    }

    /// Every payload twilight-model could not parse, so far.
    pub fn unparsed(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|i| match &i.seen {
                Seen::Unparsed(what) => Some(what.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Drop for TwilightClient {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn item(seen: Seen, state: Option<ShardState>) -> Item {
    Item {
        at: Instant::now(),
        seen,
        state: state.unwrap_or(ShardState::FatallyClosed),
    }
}

/// What a text message is, parsed as twilight's `next_event` would (into typed events).
fn classify(json: String) -> Seen {
    let excerpt = |json: &str| json.chars().take(160).collect::<String>();
    match twilight_gateway::parse(json.clone(), EventTypeFlags::all()) {
        Ok(Some(GatewayEvent::Dispatch(seq, event))) => Seen::Dispatch {
            seq,
            kind: event.kind().name().unwrap_or("?").to_owned(),
        },
        Ok(Some(GatewayEvent::Hello(_))) => Seen::Hello,
        Ok(Some(GatewayEvent::HeartbeatAck)) => Seen::HeartbeatAck,
        Ok(Some(GatewayEvent::Heartbeat)) => Seen::HeartbeatRequest,
        Ok(Some(GatewayEvent::Reconnect)) => Seen::Reconnect,
        Ok(Some(GatewayEvent::InvalidateSession(resumable))) => Seen::InvalidSession(resumable),
        Ok(None) => Seen::Unparsed(format!("not a known event: {}", excerpt(&json))),
        Err(e) => {
            let source = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            Seen::Unparsed(format!("{source}: {}", excerpt(&json)))
        }
    }
}
