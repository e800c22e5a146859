//! What the Slack simulator saw and sent, with timestamps, for tests to assert on.

use std::time::Instant;

/// A websocket connection of the simulator, numbered from 1 in accept order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn {}", self.0)
    }
}

/// Which API a websocket connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnKind {
    /// Socket Mode (a URL from `apps.connections.open`).
    SocketMode,
    /// Legacy RTM (a URL from `rtm.connect`).
    Rtm,
}

/// A websocket connection as [`SlackSim::connections`](super::SlackSim::connections) shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnInfo {
    /// Its number.
    pub id: ConnId,
    /// Socket Mode or RTM.
    pub kind: ConnKind,
    /// Open: no close frame exchanged and TCP alive.
    pub open: bool,
    /// Its TCP died without a closing handshake and Slack still counts it
    /// ([`SlackSimConfig::ghost_ttl`](super::SlackSimConfig::ghost_ttl)).
    pub ghost: bool,
    /// [`SlackSim::go_silent`](super::SlackSim::go_silent) was called on it.
    pub silent: bool,
    /// When the upgrade was accepted.
    pub opened_at: Instant,
    /// Whether `hello` was sent.
    pub hello_sent: bool,
}

/// One acknowledgement a client sent (`{"envelope_id":…}`, SLACK.md §2.3).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Ack {
    /// The envelope it acknowledges.
    pub envelope_id: String,
    /// The response payload it carried, if any.
    pub payload: Option<serde_json::Value>,
    /// The connection it came on.
    pub conn: ConnId,
    /// When it arrived.
    pub at: Instant,
    /// The length of the text frame, in bytes.
    pub frame_len: usize,
}

/// One envelope the simulator routed (or tried to) to a connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Delivery {
    /// The envelope's id.
    pub envelope_id: String,
    /// The envelope's `type` (`events_api`, `interactive`, `slash_commands`…).
    pub kind: String,
    /// `payload.event_id` for `events_api`.
    pub event_id: Option<String>,
    /// `retry_attempt` (0 for first deliveries, duplicates and other kinds).
    pub retry_attempt: u32,
    /// A copy sent by [`SlackSim::duplicate_next`](super::SlackSim::duplicate_next) or
    /// [`SlackSim::redeliver`](super::SlackSim::redeliver).
    pub duplicate: bool,
    /// The connection it was routed to (`None`: no connection could take it).
    pub conn: Option<ConnId>,
    /// True if it never reached the client: routed to a ghost or a silent connection, the
    /// write failed, or no connection was open.
    pub lost: bool,
    /// When it was routed.
    pub at: Instant,
}

/// One message a client sent over RTM (`{"id":N,"type":"message",…}`, SLACK.md §6.2).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RtmMessage {
    /// The connection it came on.
    pub conn: ConnId,
    /// Its `id`.
    pub id: Option<u64>,
    /// Its `channel`.
    pub channel: Option<String>,
    /// Its `text`.
    pub text: Option<String>,
    /// Whether it was accepted (`ok:true`), not refused by the rate limit or for a missing
    /// text.
    pub accepted: bool,
    /// When it arrived.
    pub at: Instant,
}

/// One thing the simulator observed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SlackRecord {
    /// When it happened.
    pub at: Instant,
    /// The websocket connection (`None` for HTTP requests).
    pub conn: Option<ConnId>,
    /// What happened.
    pub kind: SlackRecordKind,
}

/// The kinds of [`SlackRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlackRecordKind {
    /// An HTTP API call.
    Http {
        /// Request method.
        method: String,
        /// Request path (`/api/apps.connections.open`…).
        path: String,
        /// The status answered.
        status: u16,
        /// The `error` answered, if not ok.
        error: Option<String>,
    },
    /// A websocket upgrade was refused (unknown, used or expired ticket).
    UpgradeRefused {
        /// The HTTP status answered.
        status: u16,
    },
    /// A websocket connection was opened.
    Opened {
        /// Socket Mode or RTM.
        kind: ConnKind,
    },
    /// A text frame the simulator sent (`hello`, `disconnect`, envelopes, RTM replies).
    Sent {
        /// Its text.
        text: String,
    },
    /// The client acknowledged an envelope.
    Ack {
        /// The envelope id.
        envelope_id: String,
        /// The frame's length.
        frame_len: usize,
    },
    /// A client frame of 20 KiB or more: the connection was closed with 1009.
    OversizedFrame {
        /// The announced payload length.
        frame_len: u64,
    },
    /// A fragmented text message: dropped without a word, as Slack is suspected to.
    FragmentedDropped {
        /// The reassembled length.
        len: usize,
        /// How many frames it came in.
        frames: usize,
    },
    /// Any other text frame from the client.
    Text {
        /// Its text.
        text: String,
    },
    /// A binary frame from the client.
    Binary {
        /// Its length.
        len: usize,
    },
    /// A websocket ping from the client.
    Ping {
        /// Its payload.
        payload: Vec<u8>,
    },
    /// A websocket pong from the client.
    Pong {
        /// Its payload.
        payload: Vec<u8>,
    },
    /// The simulator sent a ping.
    PingSent,
    /// The client started the closing handshake.
    ClosedByClient {
        /// Its code.
        code: Option<u16>,
    },
    /// The simulator sent a close frame.
    ClosedByServer {
        /// The code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// The client answered the simulator's close frame.
    CloseEchoed {
        /// Its code.
        code: Option<u16>,
    },
    /// TCP ended after a closing handshake (or a close the simulator started).
    TcpClosed,
    /// TCP died without a closing handshake: the connection is a ghost now.
    BecameGhost,
    /// An `events_api` event whose retries all went unacknowledged.
    RetriesExhausted {
        /// Its `event_id`.
        event_id: String,
    },
}
