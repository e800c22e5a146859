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
//! {"event":"error","message":"..."}
//! {"event":"session_lost","session_id":"...","last_seq":9,"reason":"..."}
//! ```
//!
//! Exit status: 0 after a clean stop, 1 when the shard stops with a fatal error (the message
//! goes to stderr), 2 for a bad environment variable.

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::json;
use serde_json::value::RawValue;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
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

    let result = match (token, gateway_url) {
        (Some(token), url) => {
            let mut config = Config::builder(token, intents).compression(compression);
            if let Some(url) = url {
                config = config.gateway_url(url);
            }
            let shard = Shard::with_config(config.build());
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
    let shard = Shard::with_config(config.build());
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
    handle: ShardHandle,
    failed: Option<io::Error>,
}

impl Printer {
    fn new(handle: ShardHandle) -> Printer {
        Printer {
            out: BufWriter::new(io::stdout().lock()),
            handle,
            failed: None,
        }
    }

    fn print(&mut self, event: &Event) {
        if self.failed.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.out, &Line(event))
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.failed = Some(e);
            self.handle.shutdown();
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

/// One output line: `{"event":<Event::name()>, ...fields}`.
struct Line<'a>(&'a Event);

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("event", event.name())?;
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
            Event::Error { message } => map.serialize_entry("message", message)?,
            Event::SessionLost {
                session_id,
                last_seq,
                reason,
            } => {
                map.serialize_entry("session_id", session_id)?;
                map.serialize_entry("last_seq", last_seq)?;
                map.serialize_entry("reason", reason)?;
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
