//! Legacy RTM (Slack: Legacy RTM API; classic apps only) on the same engine and the same
//! caller's loop as Socket Mode: `rtm.connect` for every connection, `hello`, JSON pings
//! with ids as the beat, `reply_to` for sent messages, `goodbye` and `error` frames, the
//! one-message-per-second send limit and the 16 KB message limit, one teardown path per
//! connection.

use super::config::SlackConfig;
use super::connection::{self, Connector, Live};
use super::event::{Reply, RtmMessage, SlackEvent};
use super::open::{Identity, Method};
use super::runner::{Connections, Control, Emit, NotConnected, Outcome};
use crate::engine::{
    command_queue, hand_over, next_message, BeatSignal, Command, CommandReceiver, CommandSender,
    Latency, Link, LinkOptions, ReaderOutputs, Wire, WriterOptions,
};
use crate::policy::Ended;
use crate::transport::{Message, TransportError};
use crate::{Error, ErrorKind, Result};
use crossbeam_channel::{at, never, select};
use parking_lot::Mutex;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Any client message over 16 KB (the whole JSON) makes Slack disconnect (Slack: Rate
/// limits → RTM APIs).
pub const MAX_RTM_MESSAGE_BYTES: usize = 16 * 1024;
/// Message text longer than this is refused before sending (Slack: Legacy RTM API keeps
/// text to 4,000 characters).
pub const MAX_RTM_TEXT_CHARS: usize = 4_000;

/// Messages that may wait for the writer (while reconnecting, or at the send limit).
const COMMAND_QUEUE: usize = 256;

/// The RTM protocol.
pub(crate) struct RtmWire;

/// What the RTM reader tells the caller's loop.
pub(crate) enum RtmInbound {
    Hello,
    Event(RtmMessage),
    Reply(Reply),
    Goodbye,
    ServerError { code: i64, msg: String },
    Notice(String),
    Ended(Ended),
}

/// The only priority payload: a JSON ping.
#[derive(PartialEq)]
pub(crate) struct Ping;

impl Wire for RtmWire {
    /// Message ids, unique per connection (one counter for the whole client).
    type State = Arc<AtomicU64>;
    type Inbound = RtmInbound;
    type Priority = Ping;
    type Reader = Duration;

    const SILENT_INTERVALS: u32 = 3;

    const BEAT: Ping = Ping;

    fn describe(_: &Ping) -> &'static str {
        "a ping"
    }

    fn send_priority(
        link: &Link<Arc<AtomicU64>>,
        _: Ping,
    ) -> std::result::Result<(), TransportError> {
        let id = link.state.fetch_add(1, Ordering::Relaxed) + 1;
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        link.conn.send(Message::text(format!(
            r#"{{"id":{id},"type":"ping","time":{time}}}"#
        )))
    }

    fn read_loop(link: &Link<Arc<AtomicU64>>, outputs: &ReaderOutputs<RtmWire>, ping: Duration) {
        let ended = read_frames(link, outputs, ping);
        let _ = outputs.events.send(RtmInbound::Ended(ended));
    }
}

fn read_frames(
    link: &Link<Arc<AtomicU64>>,
    outputs: &ReaderOutputs<RtmWire>,
    ping: Duration,
) -> Ended {
    loop {
        let message = match next_message(link) {
            Ok(message) => message,
            Err(ended) => return ended,
        };
        let Message::Text(text) = message else {
            continue;
        };
        let inbound = match parse(text.as_str()) {
            Ok(Frame::Hello) => {
                let _ = outputs.beats.try_send(BeatSignal::Hello(ping));
                RtmInbound::Hello
            }
            Ok(Frame::Pong) => {
                link.latency.lock().acked(Instant::now());
                continue;
            }
            Ok(Frame::Reply(reply)) => RtmInbound::Reply(reply),
            Ok(Frame::Goodbye) => RtmInbound::Goodbye,
            Ok(Frame::Error { code, msg }) => RtmInbound::ServerError { code, msg },
            // "experimental, unsupported": a new URL comes from rtm.connect.
            Ok(Frame::ReconnectUrl) => continue,
            Ok(Frame::Event(event)) => {
                link.metrics.event();
                RtmInbound::Event(event)
            }
            Err(e) => RtmInbound::Notice(format!("skipped an RTM frame: {e}")),
        };
        if !hand_over(link, &outputs.events, inbound) {
            return Ended::Shutdown { resumable: false };
        }
    }
}

/// One RTM frame, classified.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    Hello,
    Pong,
    Reply(Reply),
    Goodbye,
    Error { code: i64, msg: String },
    ReconnectUrl,
    Event(RtmMessage),
}

impl PartialEq for RtmMessage {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.json == other.json
    }
}

impl Eq for RtmMessage {}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    reply_to: Option<u64>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
}

fn parse(text: &str) -> std::result::Result<Frame, String> {
    if !text.trim_start().starts_with('{') {
        return Err("not a JSON object".into());
    }
    let raw: RawFrame = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match raw.kind.as_deref() {
        Some("hello") => Ok(Frame::Hello),
        Some("pong") => Ok(Frame::Pong),
        Some("goodbye") => Ok(Frame::Goodbye),
        Some("reconnect_url") => Ok(Frame::ReconnectUrl),
        Some("error") => {
            let error = raw.error.unwrap_or(RawError {
                code: 0,
                msg: String::new(),
            });
            Ok(Frame::Error {
                code: error.code,
                msg: error.msg,
            })
        }
        Some(kind) => Ok(Frame::Event(RtmMessage {
            kind: kind.into(),
            json: text.into(),
        })),
        None => match raw.reply_to {
            Some(id) => Ok(Frame::Reply(Reply {
                id,
                ok: raw.ok.unwrap_or(false),
                ts: raw.ts,
                error: raw.error.map(|e| (e.code, e.msg)),
            })),
            None => Err("a frame without `type` or `reply_to`".into()),
        },
    }
}

/// A legacy RTM client (Slack: Legacy RTM API), for classic apps' bot tokens.
///
/// ```no_run
/// use syncord::slack::{Rtm, SlackConfig, SlackEvent};
///
/// let mut rtm = Rtm::new(SlackConfig::new(std::env::var("SLACK_BOT_TOKEN").unwrap_or_default()));
/// let handle = rtm.handle();
/// rtm.run(move |event| {
///     if let SlackEvent::Rtm(message) = event {
///         if message.kind() == "message" {
///             let _ = handle.send_message("C0123", "seen it");
///         }
///     }
/// })?;
/// # Ok::<(), syncord::Error>(())
/// ```
///
/// Sent messages wait in a queue while the client reconnects and go out at most three per
/// three seconds (Slack allows one per second with short bursts); each gets a
/// [`SlackEvent::Reply`] with the id [`RtmHandle::send_message`] returned.
pub struct Rtm {
    config: SlackConfig,
    shared: Arc<RtmShared>,
    commands: CommandReceiver,
}

struct RtmShared {
    control: Control,
    ids: Arc<AtomicU64>,
    commands: CommandSender,
    retry: Arc<Mutex<std::collections::VecDeque<Command>>>,
}

impl Rtm {
    /// A client with these settings (the token is a classic app's bot token).
    pub fn new(config: SlackConfig) -> Rtm {
        let (commands_tx, commands) = command_queue(COMMAND_QUEUE, &Arc::default());
        Rtm {
            config,
            shared: Arc::new(RtmShared {
                control: Control::default(),
                ids: Arc::default(),
                commands: commands_tx,
                retry: Arc::default(),
            }),
            commands,
        }
    }

    /// A handle to send messages and stop the client from any thread.
    pub fn handle(&self) -> RtmHandle {
        RtmHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs on this thread until [`RtmHandle::shutdown`] (then `Ok`) or a fatal error.
    pub fn run(&mut self, handler: impl FnMut(SlackEvent)) -> Result<()> {
        let (config, shared) = (&self.config, &*self.shared);
        connection::run(config, &shared.control, handler, |connector| RtmRunner {
            config,
            shared,
            commands: &self.commands,
            connector,
        })
    }
}

/// Sends RTM messages and stops the client, from any thread.
#[derive(Clone)]
pub struct RtmHandle {
    shared: Arc<RtmShared>,
}

impl std::fmt::Debug for RtmHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.control.debug("RtmHandle", f)
    }
}

impl RtmHandle {
    /// Queues a message to `channel` and returns its id (the [`Reply`]'s `id`). Refused
    /// before sending: text over 4,000 characters, a message over 16 KB, a full queue (for
    /// 5 s), a stopped client.
    pub fn send_message(&self, channel: &str, text: &str) -> Result<u64> {
        let chars = text.chars().count();
        if chars > MAX_RTM_TEXT_CHARS {
            return Err(Error::InvalidCommand(format!(
                "message text of {chars} characters; RTM takes at most {MAX_RTM_TEXT_CHARS}: post longer messages with the Web API (chat.postMessage)"
            )));
        }
        self.queue(|id| {
            serde_json::json!({"id": id, "type": "message", "channel": channel, "text": text})
                .to_string()
        })
    }

    /// Tells the channel the bot is typing (Slack asks for at most one per 3 s).
    pub fn typing(&self, channel: &str) -> Result<u64> {
        self.queue(|id| {
            serde_json::json!({"id": id, "type": "typing", "channel": channel}).to_string()
        })
    }

    fn queue(&self, build: impl FnOnce(u64) -> String) -> Result<u64> {
        if self.shared.control.stop.requested().is_some() {
            return Err(Error::Stopped);
        }
        let id = self.shared.ids.fetch_add(1, Ordering::Relaxed) + 1;
        let json = build(id);
        if json.len() > MAX_RTM_MESSAGE_BYTES {
            return Err(Error::InvalidCommand(format!(
                "an RTM message of {} bytes; Slack disconnects clients that send more than {MAX_RTM_MESSAGE_BYTES}",
                json.len()
            )));
        }
        let wait = Duration::from_secs(5);
        match self.shared.commands.send_timeout(Command { json }, wait) {
            Ok(()) => Ok(id),
            Err(crossbeam_channel::SendTimeoutError::Timeout(_)) => Err(Error::QueueFull(wait)),
            Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => Err(Error::Stopped),
        }
    }

    /// The ping round trips of the current connection.
    pub fn latency(&self) -> Latency {
        self.shared.control.latency()
    }

    /// Stops the client: closes the connection and makes `run` return `Ok`.
    pub fn shutdown(&self) {
        self.shared.control.shutdown();
    }
}

struct RtmRunner<'a> {
    config: &'a SlackConfig,
    shared: &'a RtmShared,
    commands: &'a CommandReceiver,
    connector: Connector<'a>,
}

impl Connections for RtmRunner<'_> {
    /// The connection, and who `rtm.connect` said the token is.
    type Live = (Live<RtmWire>, Identity);

    fn connect(&mut self) -> std::result::Result<Self::Live, NotConnected> {
        self.connector
            .connect(Method::RtmConnect, "r", |label| LinkOptions {
                label,
                event_queue: self.config.event_queue,
                state: self.shared.ids.clone(),
                reader: self.config.ping_interval,
                commands: self.commands.clone(),
                bell: self.shared.commands.bell().clone(),
                writer: WriterOptions {
                    // One message per second sustained, short bursts tolerated (Slack: Rate
                    // limits → RTM APIs): three in any three seconds stays within both.
                    rate_limit: (3, Duration::from_secs(3)),
                    retry: self.shared.retry.clone(),
                },
                latency: self.shared.control.latency.clone(),
                metrics: self.shared.control.metrics.clone(),
            })
    }

    fn drive(&mut self, connected: Self::Live, emit: &mut Emit<'_>) -> Result<Outcome> {
        let (mut live, identity) = connected;
        emit(SlackEvent::Identity {
            team_id: identity.team_id,
            user_id: identity.user_id,
        });
        // Every way this connection ends comes here once: one teardown path.
        let (reason, code, close) = loop {
            let timer = if live.hello {
                never()
            } else {
                at(live.hello_by)
            };
            let inbound = select! {
                recv(self.shared.control.stop.woken()) -> _ => {
                    if self.shared.control.stop.requested().is_none() {
                        continue;
                    }
                    live.link.stop_and_join(Some((1000, "shut down")));
                    emit(SlackEvent::Disconnected { code: None, reason: "shut down".into() });
                    return Ok(Outcome::Shutdown);
                },
                recv(live.link.events) -> m => {
                    live.link.made_room();
                    match m {
                        Ok(m) => m,
                        Err(_) => RtmInbound::Ended(Ended::Eof),
                    }
                }
                recv(live.link.reports) -> r => match r {
                    Ok(r) => RtmInbound::Ended(r.ended),
                    Err(_) => RtmInbound::Ended(Ended::Eof),
                },
                recv(timer) -> _ => RtmInbound::Ended(Ended::Timeout("hello")),
            };
            match inbound {
                RtmInbound::Hello => {
                    live.hello = true;
                    live.link.session_active();
                    emit(SlackEvent::Hello {
                        num_connections: 1,
                        host: None,
                        approximate_connection_time: None,
                    });
                }
                RtmInbound::Event(event) => emit(SlackEvent::Rtm(event)),
                RtmInbound::Reply(reply) => {
                    if reply.is_rate_limited() {
                        log::warn!("RTM: message {} refused: sending too fast", reply.id);
                    }
                    emit(SlackEvent::Reply(reply));
                }
                RtmInbound::Notice(message) => emit(SlackEvent::Error {
                    kind: ErrorKind::SkippedPayload,
                    message,
                }),
                RtmInbound::Goodbye => {
                    emit(SlackEvent::Disconnect {
                        reason: "goodbye".into(),
                    });
                    break ("Slack said goodbye".to_owned(), None, Some(1000));
                }
                RtmInbound::ServerError { code, msg } => {
                    emit(SlackEvent::Error {
                        kind: ErrorKind::ServerError,
                        message: format!("RTM error {code}: {msg}"),
                    });
                    break (format!("RTM error {code}: {msg}"), None, Some(1000));
                }
                RtmInbound::Ended(ended) => break (ended.describe(), ended.close_code(), None),
            }
        };
        let leftovers = live
            .link
            .stop_and_join(close.map(|code| (code, "reconnecting")));
        for inbound in leftovers {
            match inbound {
                RtmInbound::Event(event) => emit(SlackEvent::Rtm(event)),
                RtmInbound::Reply(reply) => emit(SlackEvent::Reply(reply)),
                _ => {}
            }
        }
        emit(SlackEvent::Disconnected { code, reason });
        Ok(Outcome::Ended {
            had_hello: live.hello,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rtm_frame_is_classified() {
        assert_eq!(parse(r#"{"type":"hello"}"#), Ok(Frame::Hello));
        assert_eq!(
            parse(r#"{"type":"pong","reply_to":3,"time":1}"#),
            Ok(Frame::Pong)
        );
        assert_eq!(parse(r#"{"type":"goodbye"}"#), Ok(Frame::Goodbye));
        assert_eq!(
            parse(r#"{"type":"reconnect_url","url":"wss://x"}"#),
            Ok(Frame::ReconnectUrl)
        );
        assert_eq!(
            parse(r#"{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}"#),
            Ok(Frame::Error {
                code: 1,
                msg: "Socket URL has expired".into()
            })
        );
        assert_eq!(
            parse(r#"{"ok":true,"reply_to":1,"ts":"1355517523.000005","text":"Hello"}"#),
            Ok(Frame::Reply(Reply {
                id: 1,
                ok: true,
                ts: Some("1355517523.000005".into()),
                error: None
            }))
        );
        let Ok(Frame::Reply(limited)) = parse(
            r#"{"ok":false,"reply_to":2,"error":{"code":-1,"msg":"slow down, too many messages..."}}"#,
        ) else {
            panic!("a reply")
        };
        assert!(limited.is_rate_limited() && !limited.ok);
        let text = r#"{"type":"message","channel":"C1","user":"U1","text":"a\nb","ts":"1.2"}"#;
        let Ok(Frame::Event(event)) = parse(text) else {
            panic!("an event")
        };
        assert_eq!((event.kind(), event.json()), ("message", text));
        assert!(parse(r#"{"ok":true}"#).is_err());
        assert!(parse("[1]").is_err());
        assert!(parse(r#"{"type":1}"#).is_err());
    }
}
