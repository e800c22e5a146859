//! syncord: a blocking, thread-based Discord Gateway client. No async runtime.
//!
//! Register handlers on a [`Dispatcher`] and run a shard with it: the handlers run on the
//! thread that calls [`Dispatcher::run`], one event at a time, in order. Reading,
//! heartbeats and writing happen on three threads of the shard's own; the [`ShardHandle`]
//! in each handler's [`Context`] sends commands and shuts the shard down.
//!
//! ```no_run
//! use syncord::dispatch::Dispatcher;
//! use syncord::model::MessageCreate;
//! use syncord::Intents;
//!
//! let dispatcher = Dispatcher::new();
//! dispatcher.on_ready(|_ctx, ready| println!("ready, session {}", ready.session_id));
//! dispatcher.on::<MessageCreate>(|ctx, message| {
//!     println!("{}: {}", message.author.username, message.content);
//!     if message.content == "!stop" {
//!         ctx.handle().shutdown(); // `run` returns Ok once this handler returns
//!     }
//! });
//! // The handlers need GUILD_MESSAGES and DIRECT_MESSAGES; message text is privileged.
//! dispatcher.add_intents(Intents::MESSAGE_CONTENT);
//! let token = std::env::var("DISCORD_TOKEN").expect("DISCORD_TOKEN");
//! dispatcher.run(dispatcher.shard(token)?)?;
//! # Ok::<(), syncord::Error>(())
//! ```
//!
//! Handlers are typed ([`Dispatcher::on`] with a [`model`] type, or any serde type with
//! [`Dispatcher::on_data`]), raw by event name ([`Dispatcher::on_raw`]), for the lifecycle
//! ([`Dispatcher::on_ready`], [`Dispatcher::on_disconnected`], …) or for everything
//! ([`Dispatcher::on_any`]); the shard identifies with the intents they need, and
//! dispatches nobody handles are never parsed. See [`dispatch`].
//!
//! # Without the dispatcher
//!
//! [`Shard::run`] hands every event (gateway dispatches and the connection's lifecycle) to
//! one closure, on the calling thread, in order; [`Dispatch::data`] parses what you need.
//!
//! ```no_run
//! use syncord::{Event, Intents, Shard};
//!
//! let token = std::env::var("DISCORD_TOKEN").expect("DISCORD_TOKEN");
//! let shard = Shard::new(token, Intents::non_privileged())?;
//! let handle = shard.handle(); // Clone + Send + Sync
//! shard.run(|event| match event {
//!     Event::Dispatch(d) if d.event_type() == "MESSAGE_CREATE" => {
//!         println!("#{} {}", d.seq(), d.data_json());
//!         handle.shutdown(); // `run` returns Ok once the closure returns
//!     }
//!     other => println!("{}", other.name()),
//! })?;
//! # Ok::<(), syncord::Error>(())
//! ```
//!
//! # Threads
//!
//! Per connection, three threads share one connection handle and talk through channels
//! (Linux shows 15 bytes of a thread name, so they are short):
//!
//! - `syncord-rd-N` (reader) reads and inflates frames, reads each payload's `op`, `s` and
//!   `t`, handles the gateway's control opcodes and queues dispatches. The extent of a
//!   dispatch's `d` is found on your thread, just before your closure gets it, so the two
//!   share the work of a busy connection.
//! - `syncord-hb-N` (heartbeat) keeps the beat: the first after the interval × a random
//!   jitter, then on an absolute schedule; a beat due with nothing received since the
//!   previous one means a zombie connection, which is replaced. It measures each beat's
//!   round trip ([`ShardHandle::latency`]). An op 1 from the gateway is answered at once.
//! - `syncord-wr-N` (writer) is the only thread that writes: heartbeats first,
//!   Identify/Resume next, then your commands under the send limit.
//!
//! `N` is the shard id; [`Shard::spawn`] runs your closure on `syncord-sh-N`. Your closure
//! never runs on the connection's threads, so a slow closure cannot delay a heartbeat or
//! make a healthy connection look dead. An idle connection sleeps in `poll(2)` and in
//! timed channel waits, waking only to beat. The queue
//! between the reader and your closure is bounded ([`ConfigBuilder::event_queue`]): when the
//! closure falls that far behind, reading pauses and TCP pushes back; nothing is dropped.
//! [`ShardHandle::queue_depth`] shows how far behind it is, and a closure that runs longer
//! than [`ConfigBuilder::slow_handler_warning`] is logged with the event's name.
//!
//! The websocket library is behind a seam, [`transport::WebSocketAdapter`]: tungstenite with
//! native-tls by default, an in-memory double ([`transport::memory`]) for tests, or your own
//! ([`ConfigBuilder::websocket_adapter`]).
//!
//! # Reconnects and the "nothing lost" promise
//!
//! Every way a connection ends (close code, TCP loss, zombie, op 7, op 9, timeouts, failed
//! dials) goes to one policy: resume on `resume_gateway_url`, identify anew, back off
//! ([`Backoff`]), or stop with a fatal [`Error`] that says what to fix (bad token,
//! disallowed intents, invalid shard, sharding required). Events read before a disconnect
//! are delivered before the next connection's; across resumes each sequence number reaches
//! the closure exactly once and in order (a gap is reported as [`Event::SequenceGap`]).
//! A session that is given up (op 9 `false`, close codes 4003/4006/4007/4009, three failed
//! resumes in a row) is announced with [`Event::SessionLost`], so a bot knows it may have
//! missed events; and when several attempts in a row end the same way before READY, one
//! [`Event::Error`] (and a `warn` log line) says so and what to check, while retries go on.
//! [`ShardHandle::shutdown_resumable`] returns a serde-serializable [`Session`] that a new
//! process resumes with [`ConfigBuilder::session`].
//!
//! # Commands and limits
//!
//! [`ShardHandle::send`] takes the typed commands of [`protocol`] (presence, voice state,
//! member requests, soundboard sounds); [`ShardHandle::send_raw`] any client opcode. A
//! payload over 4096 bytes is refused before sending. The writer never sends more than 120
//! payloads in any 60 s ([`ConfigBuilder::rate_limit`]) and keeps room for heartbeats, so
//! neither 4008 nor a late heartbeat happens. While reconnecting, commands wait in a
//! bounded queue ([`WhileDisconnected`]). [`ShardHandle::request_guild_members`] gathers
//! every `GUILD_MEMBERS_CHUNK` of one request.
//!
//! # Sharding
//!
//! A bot in more than 2,500 guilds needs several shards. [`cluster::Cluster`] runs shards
//! `from..to` of a count (given, or `shards` from one `GET /gateway/bot`), each on its own
//! thread, and hands every shard's events to one closure (`run(|shard, event| ..)`) or one
//! receiver, each shard's in its order. Identify payloads wait in an
//! [`cluster::IdentifyQueue`]: one per bucket (`shard_id % max_concurrency`) per 5 s,
//! within the session start limit; in this process by default ([`cluster::LocalQueue`]),
//! or shared by several processes on Redis (`cluster::RedisQueue`, cargo feature `redis`).
//! A [`Shard`] started on its own waits too: on the process's queue for its token and
//! gateway ([`ConfigBuilder::identify_queue`] chooses another).
//! Close 4011 under an automatic count restarts the cluster with Discord's new count.
//! [`cluster::ClusterHandle`] sends to a shard or to a guild's shard and reports states,
//! latencies and [`ShardMetrics`].
//!
//! # Compression
//!
//! [`Compression::ZstdStream`] (cargo feature `zstd`, the default), [`Compression::ZlibStream`]
//! or [`Compression::None`]; payload compression with [`ConfigBuilder::payload_compression`].
//! The largest message accepted ([`ConfigBuilder::max_message_size`], 64 MiB by default) is
//! enforced while inflating, so a decompression bomb stops at the limit.
//!
//! # Hostile input
//!
//! Whatever the network sends, the shard neither panics nor hangs. Each kind of bad input has
//! one reaction: **skip** (the payload is dropped, an [`Event::Error`] says why, the
//! connection stays) or **resume** (the connection is closed with 4000 and the session
//! resumed, the [`Event::Disconnected`] reason says why). Each [`Event::Error`] carries an
//! [`ErrorKind`] to match on: [`ErrorKind::SkippedPayload`] for a skip,
//! [`ErrorKind::OversizedMessage`], [`ErrorKind::ReadyWithoutSession`] and
//! [`ErrorKind::RefusedResumeUrl`] for the rows below that name one.
//!
//! | input | reaction |
//! |---|---|
//! | text that is not a JSON object (`[1,2,3]`), an object without `op`, or `op`/`s` not a small non-negative integer | skip |
//! | an unknown opcode | skip |
//! | a dispatch without `t` or without `s` | skip |
//! | a dispatch well-formed up to `d` whose rest is not (unbalanced brackets, a repeated key, text after the object) | skip |
//! | a binary frame without compression, or a corrupt payload-compressed frame | skip |
//! | `d` nested 10,000 deep | delivered raw; [`Dispatch::data`] returns serde_json's recursion-limit error |
//! | malformed JSON inside `d` (the top level well-formed, brackets balanced) | delivered; [`Dispatch::data`] returns the parse error (`op`, `s`, `t` and the extent of `d` are read without validating inside `d`) |
//! | a text frame that is not UTF-8, a websocket protocol violation | resume |
//! | a corrupt or truncated zlib-stream / zstd-stream | resume (the stream cannot recover) |
//! | Hello without a valid `heartbeat_interval` | resume |
//! | a message over `max_message_size` | resume; if the replay fails at the same place again, that one dispatch is skipped with an [`Event::Error`] naming its `s` (it can never be received) |
//! | READY without `session_id` | delivered, with an [`Event::Error`]; the session cannot be resumed |
//! | op 9 with a `d` that is not `true` | treated as `false`: identify anew |
//! | a `resume_gateway_url` that is not `wss://` (or downgrades TLS) | not used; resume via the gateway URL, with an [`Event::Error`] |
//!
//! # Security
//!
//! The token is a [`Token`] whose `Debug` prints `<redacted>`; it never appears in logs at
//! any level, in errors or in panics. Identify and Resume frames are written without
//! tungstenite's frame logging. Discovery (`GET /gateway/bot`) goes through ureq 2, which
//! logs the request head at debug level with the `Authorization` value replaced by `***`
//! and logs no request or response bytes at any level (ureq 3 hex-dumps request heads at
//! trace level, so it is not used). Discovery follows no redirect, so the header goes
//! nowhere but the configured REST base, and it refuses a response head that ureq 2 would
//! panic on (a header line without a colon) before ureq parses it. TLS certificates are
//! always verified, for discovery too; pass your own `native_tls::TlsConnector` with
//! [`ConfigBuilder::tls_connector`] for a custom root CA. `ws://` and `http://` are
//! accepted only for loopback hosts.
//!
//! # Testing with the simulator
//!
//! The `sim` feature adds [`sim::Simulator`], a gateway on 127.0.0.1 that behaves like
//! Discord's (strict Identify/Resume checks, replay, rate limits, close codes, compression,
//! TLS, intents and message content) and injects faults on demand, so bots are tested
//! offline over real sockets; its Create Message endpoint records a bot's replies and
//! dispatches them back.
//!
//! # Slack
//!
//! The `slack` feature adds [`slack`]: Slack's Socket Mode ([`slack::SocketMode`]) and legacy
//! RTM ([`slack::Rtm`]) on the same engine as the shard
//! (the same three connection threads, transport, backoff, stop and dispatcher machinery),
//! with Slack's rules: a fresh single-use URL per connection, acknowledgements on receipt
//! before any handler runs, make-before-break refreshes, duplicate removal on `event_id`,
//! and [`slack::SlackDispatcher`] for typed handlers. `sim::slack` (feature `sim`) is a Slack
//! simulator to test against.
#![deny(missing_docs)]

pub mod cluster;
mod config;
pub mod dispatch;
mod engine;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
mod policy;
pub mod protocol;
mod ratelimit;
mod rest;
mod session;
mod shard;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "slack")]
pub mod slack;
mod token;
pub mod transport;

pub use config::{
    Compression, Config, ConfigBuilder, WhileDisconnected, DEFAULT_API_BASE, MIN_MESSAGE_SIZE,
};
/// The channel type of [`Shard::spawn_receiver`] and member requests: crossbeam-channel 0.5's
/// receiver, re-exported so that no version has to be guessed.
pub use crossbeam_channel::Receiver;
pub use dispatch::{Context, Dispatcher, Registration};
pub use error::{Error, ErrorKind, Result};
pub use policy::Backoff;
pub use protocol::Intents;
pub use ratelimit::GATEWAY_SEND_LIMIT;
pub use rest::{GatewayBot, SessionStartLimit};
pub use session::Session;
pub use shard::{
    Dispatch, Event, EventReceiver, GuildMembers, Latency, MembersRequest, Shard, ShardHandle,
    ShardMetrics, ShardState, ShardThread, RESUMABLE_SHUTDOWN_WAIT,
};
pub use token::Token;
