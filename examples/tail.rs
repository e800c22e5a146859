//! `tail`: print every gateway event as one JSON object per line on stdout.
//!
//! ```text
//! cargo run --example tail                                   # offline demo on the simulator
//! DISCORD_TOKEN=... cargo run --example tail                 # Discord, until killed
//! DISCORD_TOKEN=... SYNCORD_GATEWAY_URL=ws://127.0.0.1:9000 cargo run --example tail
//! ```
//!
//! Environment:
//! - `DISCORD_TOKEN`: the bot token. Without it, `tail` starts the gateway simulator in this
//!   process, pushes a few events (one op 7 reconnect, a malformed payload, and an op 9 that
//!   loses the session), prints them and exits 0.
//! - `SYNCORD_GATEWAY_URL`: connect to this websocket URL directly, skipping discovery
//!   (`ws://` is accepted for loopback hosts only).
//! - `SYNCORD_API_URL`: the REST base for discovery. Defaults to Discord's
//!   (`https://discord.com/api/v10`); `http://` only for loopback hosts.
//! - `SYNCORD_SHARDS`: cluster mode. `auto` (Discord's recommended count), a count (`16`),
//!   or a range of a count (`0-3/16`: shards 0 to 3 of 16, for one of several processes).
//!   Without `SYNCORD_GATEWAY_URL` the count and `max_concurrency` come from
//!   `GET {SYNCORD_API_URL}/gateway/bot`; with it, give a count (`auto` needs discovery).
//!   Every line then gains `"shard":N`. Unset: one shard, lines unchanged.
//! - `SYNCORD_REDIS_URL`: cluster mode's identify queue on this Redis server, shared by every
//!   process of the bot (needs `--features redis`). Defaults to the in-process queue.
//! - `SYNCORD_INTENTS`: the intents bitfield as a decimal number. Defaults to every
//!   non-privileged intent (53575421).
//! - `SYNCORD_COMPRESS`: transport compression, `none`, `zlib-stream` or `zstd-stream`.
//!   Defaults to [`Compression::default`] (zstd-stream when built with the `zstd` feature).
//! - `RUST_LOG`: log filter for stderr (e.g. `syncord=debug`). Defaults to `warn`.
//!
//! Output (a stable format; one line per event, fields in this order):
//!
//! ```text
//! {"event":"connecting","attempt":0,"url":"wss://...","resume":false}
//! {"event":"connected"}
//! {"event":"ready","session_id":"...","user":{"id":"...","username":"..."}}
//! {"event":"dispatch","t":"MESSAGE_CREATE","s":2,"d":{...}}       d exactly as received
//! {"event":"resumed","replayed":0}
//! {"event":"disconnected","code":4000,"reason":"..."}             code is null without a close frame
//! {"event":"reconnecting","attempt":1,"delay_ms":1000}
//! {"event":"invalid_session","resumable":false}
//! {"event":"sequence_gap","expected":5,"received":7}
//! {"event":"error","kind":"skipped_payload","message":"..."}     kind: ErrorKind::name()
//! {"event":"session_lost","session_id":"...","last_seq":9,"reason":"..."}
//! {"event":"session_start_limit","remaining":0,"total":1000,"wait_ms":3600000}
//! ```
//!
//! In cluster mode each line carries its shard right after the event name:
//! `{"event":"dispatch","shard":3,"t":"MESSAGE_CREATE",...}`.
//!
//! `error.kind` is [`ErrorKind::name`](syncord::ErrorKind::name): `skipped_payload`,
//! `oversized_message`, `ready_without_session`, `refused_resume_url`, `repeated_failures`,
//! `discovery`, `handler_panicked`, `unparsed_dispatch`, `identify_queue` or `resharded`
//! (later versions may add kinds).
//!
//! Exit status: 0 after a clean stop, 1 when the shard (or cluster) stops with a fatal error
//! (the message goes to stderr), 2 for a bad environment variable or a setting the config
//! refuses (e.g. a `ws://` gateway URL to a host that is not loopback).

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::json;
use serde_json::value::RawValue;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::cluster::{Cluster, ClusterHandle, IdentifyQueue, LocalQueue, ShardCount};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Compression, Config, Event, Intents, Shard, ShardHandle};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();

    let token = std::env::var("DISCORD_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let gateway_url = std::env::var("SYNCORD_GATEWAY_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let intents = match std::env::var("SYNCORD_INTENTS") {
        Err(_) => Intents::non_privileged(),
        // Unknown bits are passed through: the gateway is the judge (close 4013).
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(bits) => Intents::from_bits_retain(bits),
            Err(_) => {
                eprintln!("tail: SYNCORD_INTENTS must be a decimal number, got {text:?}");
                return ExitCode::from(2);
            }
        },
    };

    let compression = match std::env::var("SYNCORD_COMPRESS") {
        Err(_) => Compression::default(),
        Ok(name) => {
            match Compression::from_name(&name) {
                Some(compression) => compression,
                None => {
                    eprintln!("tail: SYNCORD_COMPRESS must be none, zlib-stream or zstd-stream, got {name:?}");
                    return ExitCode::from(2);
                }
            }
        }
    };

    let api_url = std::env::var("SYNCORD_API_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let shards = match std::env::var("SYNCORD_SHARDS") {
        Err(_) => None,
        Ok(text) => match Shards::parse(&text) {
            Ok(shards) => Some(shards),
            Err(why) => {
                eprintln!("tail: SYNCORD_SHARDS {why}, got {text:?}");
                return ExitCode::from(2);
            }
        },
    };
    let redis_url = std::env::var("SYNCORD_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if redis_url.is_some() && shards.is_none() {
        eprintln!("tail: SYNCORD_REDIS_URL is for cluster mode: set SYNCORD_SHARDS too");
        return ExitCode::from(2);
    }

    if let Some(shards) = shards {
        let result = match (token, gateway_url) {
            (Some(token), url) => {
                let mut config = Config::builder(token, intents).compression(compression);
                if let Some(api) = api_url {
                    config = config.api_base(api);
                }
                let with_gateway = url.is_some();
                if let Some(url) = url {
                    config = config.gateway_url(url);
                }
                let built = config.build().map_err(|e| e.to_string());
                match built
                    .and_then(|config| cluster_builder(config, shards, with_gateway, redis_url))
                {
                    Ok(builder) => run_cluster(builder),
                    Err(message) => {
                        eprintln!("tail: {message}");
                        return ExitCode::from(2);
                    }
                }
            }
            (None, Some(_)) => {
                eprintln!("tail: SYNCORD_GATEWAY_URL is set but DISCORD_TOKEN is not; set both, or neither to use the built-in simulator");
                return ExitCode::from(2);
            }
            (None, None) => cluster_on_simulator(intents, compression, shards),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("tail: {message}");
                ExitCode::FAILURE
            }
        };
    }

    let result = match (token, gateway_url) {
        (Some(token), url) => {
            let mut config = Config::builder(token, intents).compression(compression);
            if let Some(api) = api_url {
                config = config.api_base(api);
            }
            if let Some(url) = url {
                config = config.gateway_url(url);
            }
            let shard = match config.build() {
                Ok(config) => Shard::with_config(config),
                Err(e) => {
                    eprintln!("tail: {e}");
                    return ExitCode::from(2);
                }
            };
            let handle = shard.handle();
            let mut printer = Printer::new(handle);
            let result = shard.run(|event| printer.print(&event));
            printer.finish(result)
        }
        (None, Some(_)) => {
            eprintln!("tail: SYNCORD_GATEWAY_URL is set but DISCORD_TOKEN is not; set both, or neither to use the built-in simulator");
            return ExitCode::from(2);
        }
        (None, None) => run_on_simulator(intents, compression),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tail: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The offline demo: a simulator in this process, a few pushed events, then stop.
fn run_on_simulator(intents: Intents, compression: Compression) -> Result<(), String> {
    log::warn!("DISCORD_TOKEN is not set: tailing the built-in gateway simulator");
    let sim = Simulator::start(SimConfig::default().guilds(1))
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let config = sim
        .client_config(intents)
        .compression(compression)
        .invalid_session_delay(Duration::from_millis(50)..=Duration::from_millis(200));
    let shard = Shard::with_config(config.build().map_err(|e| e.to_string())?);
    let handle = shard.handle();
    let mut printer = Printer::new(handle.clone());
    // The dispatches the handler has printed, so the pusher knows what has arrived.
    let (printed_tx, printed_rx) = mpsc::channel();

    std::thread::scope(|scope| {
        let pusher = scope.spawn(|| push_demo_events(&sim, &handle, printed_rx));
        let result = {
            let printed_tx = printed_tx; // dropped when `run` returns: the pusher stops waiting
            shard.run(|event| {
                printer.print(&event);
                if let Event::Dispatch(dispatch) = &event {
                    let _ = printed_tx.send(Printed {
                        event_type: dispatch.event_type().to_owned(),
                        seq: dispatch.seq(),
                    });
                }
            })
        };
        let delivered = pusher.join().unwrap_or(false);
        let stdout_failed = printer.failed.is_some();
        printer.finish(result)?;
        if delivered || stdout_failed {
            Ok(())
        } else {
            Err("the simulator's events were not all delivered within 10 s".into())
        }
    })
}

/// Plays Discord: a few events, an op 7 reconnect (the shard resumes; what is pushed
/// meanwhile is replayed), one more event after RESUMED, a malformed payload (skipped with
/// an error line), then op 9 `false` (the session is lost; a new READY follows). Stops the
/// shard once the last event has been printed; returns whether everything was.
fn push_demo_events(sim: &Simulator, handle: &ShardHandle, printed: Receiver<Printed>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    // Waits until the handler has printed a dispatch matching `done`.
    let wait_printed = |done: &dyn Fn(&Printed) -> bool| loop {
        match printed.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(dispatch) if done(&dispatch) => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    let channel = json!({"channel_id": "1200000000000000001", "guild_id": "1100000000000000001"});
    let with_channel = |mut d: serde_json::Value| {
        if let (Some(d), Some(channel)) = (d.as_object_mut(), channel.as_object()) {
            d.extend(channel.clone());
        }
        d.to_string()
    };
    let user_id = "1000000000000000042";
    let message_id = "1300000000000000001";

    let delivered = sim.wait_for_session(Duration::from_secs(10)).is_some()
        && {
            sim.push(
                "TYPING_START",
                &with_channel(json!({"user_id": user_id, "timestamp": 1735732800})),
            );
            sim.push("MESSAGE_CREATE", &with_channel(json!({
            "type": 0, "id": message_id, "content": "hello, \"tail\" ✓",
            "author": {"id": user_id, "username": "ada", "global_name": "Ada", "discriminator": "0", "avatar": null},
            "timestamp": "2025-01-01T12:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": false,
        })));
            sim.reconnect();
            sim.push("MESSAGE_REACTION_ADD", &with_channel(json!({
            "user_id": user_id, "message_id": message_id, "emoji": {"id": null, "name": "👍"},
            "type": 0, "burst": false,
        })));
            wait_printed(&|d| d.event_type == "RESUMED")
                && {
                    let last = sim.push("MESSAGE_DELETE", &with_channel(json!({"id": message_id})));
                    last.is_some_and(|last| wait_printed(&|d| d.seq >= last))
                }
                && sim.send_text("{this is not json")
                && sim.invalidate_session(false)
                && wait_printed(&|d| d.event_type == "READY")
        };
    handle.shutdown();
    delivered
}

/// What the handler tells the pusher about each dispatch it printed.
struct Printed {
    event_type: String,
    seq: u64,
}

/// Writes one JSON line per event to stdout, flushed per line. Stops the shard when stdout
/// goes away (e.g. `tail | head`).
struct Printer {
    out: BufWriter<io::StdoutLock<'static>>,
    stop: Box<dyn Fn()>,
    failed: Option<io::Error>,
}

impl Printer {
    fn new(handle: ShardHandle) -> Printer {
        Printer::stopping(Box::new(move || handle.shutdown()))
    }

    fn stopping(stop: Box<dyn Fn()>) -> Printer {
        Printer {
            out: BufWriter::new(io::stdout().lock()),
            stop,
            failed: None,
        }
    }

    fn print(&mut self, event: &Event) {
        self.print_line(&Line(event, None));
    }

    /// A line of cluster mode, with its shard.
    fn print_shard(&mut self, shard: u64, event: &Event) {
        self.print_line(&Line(event, Some(shard)));
    }

    fn print_line(&mut self, line: &Line<'_>) {
        if self.failed.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.out, line)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.failed = Some(e);
            (self.stop)();
        }
    }

    /// Turns the end of `run` (and any stdout failure) into the program's result.
    fn finish(self, result: syncord::Result<()>) -> Result<(), String> {
        result.map_err(|e| {
            let kind = if e.is_fatal() { "fatal error" } else { "error" };
            format!("{kind}: {e}")
        })?;
        match self.failed {
            // The reader of our stdout is gone: a normal way for a pipe to end.
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Some(e) => Err(format!("cannot write to stdout: {e}")),
            None => Ok(()),
        }
    }
}

/// One output line: `{"event":<Event::name()>, ...fields}`, with `"shard":N` after the
/// name in cluster mode.
struct Line<'a>(&'a Event, Option<u64>);

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("event", event.name())?;
        if let Some(shard) = self.1 {
            map.serialize_entry("shard", &shard)?;
        }
        match event {
            Event::Dispatch(dispatch) => {
                map.serialize_entry("t", dispatch.event_type())?;
                map.serialize_entry("s", &dispatch.seq())?;
                // `d` is copied through exactly as the gateway sent it.
                match serde_json::from_str::<&RawValue>(dispatch.data_json()) {
                    Ok(d) => map.serialize_entry("d", d)?,
                    Err(e) => {
                        log::warn!(
                            "{} #{}: d is not valid JSON: {e}",
                            dispatch.event_type(),
                            dispatch.seq()
                        );
                        map.serialize_entry("d", &())?;
                    }
                }
            }
            Event::Connecting {
                attempt,
                url,
                resume,
            } => {
                map.serialize_entry("attempt", attempt)?;
                map.serialize_entry("url", url)?;
                map.serialize_entry("resume", resume)?;
            }
            Event::Connected => {}
            Event::Ready(ready) => {
                map.serialize_entry("session_id", &ready.session_id)?;
                map.serialize_entry("user", &ready.user.as_ref().map(User))?;
            }
            Event::Resumed { replayed } => map.serialize_entry("replayed", replayed)?,
            Event::Disconnected { code, reason } => {
                map.serialize_entry("code", code)?;
                map.serialize_entry("reason", reason)?;
            }
            Event::Reconnecting { attempt, delay } => {
                map.serialize_entry("attempt", attempt)?;
                map.serialize_entry("delay_ms", &delay.as_millis())?;
            }
            Event::InvalidSession { resumable } => map.serialize_entry("resumable", resumable)?,
            Event::SequenceGap { expected, received } => {
                map.serialize_entry("expected", expected)?;
                map.serialize_entry("received", received)?;
            }
            Event::Error { kind, message } => {
                map.serialize_entry("kind", kind.name())?;
                map.serialize_entry("message", message)?;
            }
            Event::SessionLost {
                session_id,
                last_seq,
                reason,
            } => {
                map.serialize_entry("session_id", session_id)?;
                map.serialize_entry("last_seq", last_seq)?;
                map.serialize_entry("reason", reason)?;
            }
            Event::SessionStartLimit {
                remaining,
                total,
                wait,
            } => {
                map.serialize_entry("remaining", remaining)?;
                map.serialize_entry("total", total)?;
                map.serialize_entry("wait_ms", &wait.as_millis())?;
            }
            // A lifecycle event newer than this program: its name alone.
            _ => {}
        }
        map.end()
    }
}

/// READY's `user`, as `{"id":...,"username":...}`.
struct User<'a>(&'a syncord::protocol::CurrentUser);

impl Serialize for User<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut user = serializer.serialize_struct("User", 2)?;
        user.serialize_field("id", &self.0.id)?;
        user.serialize_field("username", &self.0.username)?;
        user.end()
    }
}

/// `SYNCORD_SHARDS`: which shards of how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shards {
    Auto,
    Count(u64),
    /// `first-last/count`, both ends included.
    Range {
        first: u64,
        last: u64,
        count: u64,
    },
}

impl Shards {
    fn parse(text: &str) -> Result<Shards, &'static str> {
        const FORMS: &str = "must be auto, a count (16) or a range of a count (0-3/16)";
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Ok(Shards::Auto);
        }
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| FORMS);
        match text.split_once('/') {
            None => match number(text)? {
                0 => Err("must name at least one shard"),
                count => Ok(Shards::Count(count)),
            },
            Some((range, count)) => {
                let count = number(count)?;
                let (first, last) = match range.split_once('-') {
                    Some((first, last)) => (number(first)?, number(last)?),
                    None => (number(range)?, number(range)?),
                };
                if first > last || last >= count {
                    return Err("must be a range first-last with first <= last < count");
                }
                Ok(Shards::Range { first, last, count })
            }
        }
    }
}

/// The cluster `tail` runs: the count and range of `shards`, the Redis queue when asked.
fn cluster_builder(
    config: Config,
    shards: Shards,
    with_gateway: bool,
    redis_url: Option<String>,
) -> Result<syncord::cluster::ClusterBuilder, String> {
    let mut builder = Cluster::builder(config);
    match shards {
        Shards::Auto if with_gateway => {
            return Err("SYNCORD_SHARDS=auto reads the count from GET /gateway/bot: unset SYNCORD_GATEWAY_URL, or give a count".into())
        }
        Shards::Auto => builder = builder.shard_count(ShardCount::Auto),
        Shards::Count(count) => builder = builder.shard_count(ShardCount::Fixed(count)),
        Shards::Range { first, last, count } => {
            builder = builder
                .shard_count(ShardCount::Fixed(count))
                .shards(first..last + 1);
        }
    }
    let queue: Option<Arc<dyn IdentifyQueue>> = match redis_url {
        Some(url) => Some(redis_queue(&url)?),
        // Without discovery nothing says max_concurrency: one bucket.
        None if with_gateway => Some(Arc::new(LocalQueue::new(1))),
        None => None,
    };
    if let Some(queue) = queue {
        builder = builder.identify_queue(queue);
    }
    Ok(builder)
}

#[cfg(feature = "redis")]
fn redis_queue(url: &str) -> Result<Arc<dyn IdentifyQueue>, String> {
    let max_concurrency = std::env::var("SYNCORD_MAX_CONCURRENCY")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1);
    syncord::cluster::RedisQueue::new(url, max_concurrency)
        .map(|q| Arc::new(q) as Arc<dyn IdentifyQueue>)
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "redis"))]
fn redis_queue(_url: &str) -> Result<Arc<dyn IdentifyQueue>, String> {
    Err("SYNCORD_REDIS_URL needs the Redis identify queue: build with --features redis".into())
}

/// Runs a cluster, one line per event with its shard.
fn run_cluster(builder: syncord::cluster::ClusterBuilder) -> Result<(), String> {
    let cluster = builder.build().map_err(|e| format!("fatal error: {e}"))?;
    let handle = cluster.handle();
    let mut printer = Printer::stopping(Box::new(move || handle.shutdown()));
    let result = cluster.run(|shard, event| printer.print_shard(shard, &event));
    printer.finish(result)
}

/// The offline cluster demo: the simulator with the requested shards, one message pushed to
/// each, then stop.
fn cluster_on_simulator(
    intents: Intents,
    compression: Compression,
    shards: Shards,
) -> Result<(), String> {
    log::warn!("DISCORD_TOKEN is not set: tailing a cluster on the built-in gateway simulator");
    let count = match shards {
        Shards::Auto => 4,
        Shards::Count(count) | Shards::Range { count, .. } => count,
    };
    let sim = Simulator::start(
        SimConfig::default()
            .shards(count, 4)
            .identify_window(Duration::from_millis(100)),
    )
    .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let config = sim
        .client_config(intents)
        .compression(compression)
        .build()
        .map_err(|e| e.to_string())?;
    let builder = cluster_builder(config, shards, false, None)?
        .identify_window(Duration::from_millis(100), None);
    let cluster = builder.build().map_err(|e| format!("fatal error: {e}"))?;
    let ids = cluster.shard_ids();
    let handle: ClusterHandle = cluster.handle();
    let stop = handle.clone();
    let mut printer = Printer::stopping(Box::new(move || stop.shutdown()));
    let (printed_tx, printed) = mpsc::channel::<(u64, String)>();
    std::thread::scope(|scope| {
        let sim = &sim;
        let pusher = scope.spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut waiting: std::collections::BTreeSet<u64> = ids.clone().collect();
            let mut pushed = std::collections::BTreeSet::new();
            while !waiting.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                let Ok((shard, name)) = printed.recv_timeout(left) else {
                    break;
                };
                if name == "READY" && pushed.insert(shard) {
                    let d = json!({"content": format!("hello, shard {shard}"), "channel_id": "1200000000000000001"});
                    sim.push_to_shard(shard, "MESSAGE_CREATE", &d.to_string());
                } else if name == "MESSAGE_CREATE" {
                    waiting.remove(&shard);
                }
            }
            handle.shutdown();
            waiting.is_empty()
        });
        let result = {
            let printed_tx = printed_tx;
            cluster.run(|shard, event| {
                printer.print_shard(shard, &event);
                if let Event::Dispatch(d) = &event {
                    let _ = printed_tx.send((shard, d.event_type().to_owned()));
                }
            })
        };
        let delivered = pusher.join().unwrap_or(false);
        let stdout_failed = printer.failed.is_some();
        printer.finish(result)?;
        if delivered || stdout_failed {
            Ok(())
        } else {
            Err("the simulator's events were not all delivered within 20 s".into())
        }
    })
}
