//! What a Slack connection hands the handler: envelopes (Slack: Using Socket Mode →
//! Receiving events) and lifecycle events, in the order they happened.

use crate::ErrorKind;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One event from a Slack client, in order: lifecycle events and the envelopes Slack pushed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SlackEvent {
    /// A connection attempt starts (`attempt` 0 is the first try after a healthy connection).
    Connecting {
        /// Consecutive failed attempts before this one.
        attempt: u32,
    },
    /// The websocket is open; the connection is up only once [`SlackEvent::Hello`] arrives.
    Connected,
    /// Slack's `hello`: the connection is up.
    Hello {
        /// Connections Slack counts for the app, this one included (it may count stale
        /// ones).
        num_connections: u32,
        /// The Slack-side host, for logs.
        host: Option<String>,
        /// Seconds Slack intends to keep this connection before refreshing it.
        approximate_connection_time: Option<u64>,
    },
    /// An envelope Slack pushed, already acknowledged (unless a responding handler takes it),
    /// and not seen before.
    Envelope(Envelope),
    /// Slack's `disconnect` message (`warning`, `refresh_requested`, `too_many_websockets`,
    /// `link_disabled`, …): what the client does about it follows as other events.
    Disconnect {
        /// The `reason` field.
        reason: String,
    },
    /// A connection ended.
    Disconnected {
        /// The close code Slack sent, if it sent one.
        code: Option<u16>,
        /// Why, in words.
        reason: String,
    },
    /// The client waits `delay`, then connects again.
    Reconnecting {
        /// Consecutive failed attempts so far.
        attempt: u32,
        /// How long it waits first.
        delay: Duration,
    },
    /// RTM: who the connection is (`rtm.connect`'s `team` and `self`), after `Connected`.
    Identity {
        /// The workspace's id (`T…`).
        team_id: Option<String>,
        /// The bot user's id (`U…`).
        user_id: Option<String>,
    },
    /// RTM: an event as Slack sent it (`message`, `user_typing`, `reaction_added`, …).
    Rtm(RtmMessage),
    /// RTM: Slack's reply to a message sent with
    /// [`RtmHandle::send_message`](super::RtmHandle::send_message). Replies may come out of
    /// order, and after a reconnect the reply to the old connection's last message may come.
    Reply(Reply),
    /// Something went wrong that the client recovered from (a skipped malformed frame, a
    /// late response, …).
    Error {
        /// What kind of trouble it was, for a program to match on.
        kind: ErrorKind,
        /// What happened, in words (never a token or a ticket URL).
        message: String,
    },
}

/// One Socket Mode envelope (Slack: Using Socket Mode): its type, id, retry facts and the raw
/// `payload` JSON, parsed on demand.
#[derive(Clone)]
pub struct Envelope {
    pub(crate) envelope_id: Arc<str>,
    pub(crate) kind: Arc<str>,
    pub(crate) retry_attempt: u32,
    pub(crate) retry_reason: Option<Arc<str>>,
    pub(crate) accepts_response_payload: bool,
    /// The whole frame's text; `payload` is the range `payload_range` of it.
    pub(crate) frame: Arc<str>,
    pub(crate) payload_range: std::ops::Range<usize>,
    /// `payload.event_id` (events_api only).
    pub(crate) event_id: Option<Arc<str>>,
    /// `payload.event.type` (events_api) or `payload.type` (interactive).
    pub(crate) payload_type: Option<Arc<str>>,
}

impl Envelope {
    /// The envelope's id (what the acknowledgement names).
    pub fn envelope_id(&self) -> &str {
        &self.envelope_id
    }

    /// The envelope's `type`: `events_api`, `interactive`, `slash_commands`, or another.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// `retry_attempt`: 0 for a first delivery, then 1, 2, 3 for Slack's retries.
    pub fn retry_attempt(&self) -> u32 {
        self.retry_attempt
    }

    /// `retry_reason` (`"timeout"` on retries), when Slack sent a non-empty one.
    pub fn retry_reason(&self) -> Option<&str> {
        self.retry_reason.as_deref()
    }

    /// Whether the acknowledgement may carry a response payload.
    pub fn accepts_response_payload(&self) -> bool {
        self.accepts_response_payload
    }

    /// The `payload` object's JSON text, as received.
    pub fn payload_json(&self) -> &str {
        &self.frame[self.payload_range.clone()]
    }

    /// `payload.event_id` for `events_api` envelopes (Slack's key for duplicates).
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    /// The type handlers are routed by: `payload.event.type` for `events_api` (`message`,
    /// `app_mention`, …), `payload.type` for `interactive` (`block_actions`, …), the
    /// `payload.command` for `slash_commands` is not a type: `None` there.
    pub fn payload_type(&self) -> Option<&str> {
        self.payload_type.as_deref()
    }

    /// Parses the payload into `T`.
    pub fn parse<'a, T: serde::Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(self.payload_json())
    }
}

impl fmt::Debug for Envelope {
    // The payload may carry tokens (`bot_access_token`, `xwfp-…`): never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("envelope_id", &self.envelope_id)
            .field("kind", &self.kind)
            .field("retry_attempt", &self.retry_attempt)
            .field("retry_reason", &self.retry_reason)
            .field("accepts_response_payload", &self.accepts_response_payload)
            .field("event_id", &self.event_id)
            .field("payload_type", &self.payload_type)
            .field(
                "payload",
                &format_args!("<{} bytes>", self.payload_range.len()),
            )
            .finish()
    }
}

/// One RTM event (Slack: Legacy RTM API → Events): its `type` and the frame's JSON text.
#[derive(Clone)]
pub struct RtmMessage {
    pub(crate) kind: Arc<str>,
    pub(crate) json: Arc<str>,
}

impl RtmMessage {
    /// The event's `type` (`message`, `user_typing`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The whole event object's JSON text, as received.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Parses the event into `T` (the shapes are the Events API's inner `event`s).
    pub fn parse<'a, T: serde::Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(&self.json)
    }
}

impl fmt::Debug for RtmMessage {
    // Message text is user content: not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtmMessage")
            .field("kind", &self.kind)
            .field("json", &format_args!("<{} bytes>", self.json.len()))
            .finish()
    }
}

/// Slack's reply to a sent RTM message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The id [`RtmHandle::send_message`](super::RtmHandle::send_message) returned.
    pub id: u64,
    /// Whether Slack accepted the message.
    pub ok: bool,
    /// The posted message's `ts`, when accepted.
    pub ts: Option<String>,
    /// Slack's error `code` and `msg`, when refused (RTM's codes are undocumented; −1 is
    /// "slow down, too many messages").
    pub error: Option<(i64, String)>,
}

impl Reply {
    /// Whether Slack refused the message for exceeding the send rate (code −1).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self.error, Some((-1, _)))
    }
}
