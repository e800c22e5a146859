//! What the simulator saw, with timestamps, for tests to assert on.

use std::time::Instant;

/// One thing the simulator observed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Record {
    /// When it happened.
    pub at: Instant,
    /// Which connection (numbered from 1 in accept order; 0 for HTTP requests).
    pub connection: u64,
    /// What happened.
    pub kind: RecordKind,
}

/// The kinds of [`Record`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordKind {
    /// A websocket connection was opened on `path` with `query`.
    Connected {
        /// Request path, e.g. `/` (identify URL) or `/resume` (resume URL).
        path: String,
        /// Query string without `?`.
        query: String,
    },
    /// The client sent a payload.
    Received {
        /// Its opcode (`None` if it had none or was not JSON).
        op: Option<u8>,
        /// The text as received.
        json: String,
    },
    /// The client started the closing handshake with a close frame.
    ClosedByClient {
        /// Its code, if any.
        code: Option<u16>,
    },
    /// The client answered the simulator's close frame with its own (RFC 6455 §5.5.1).
    /// Unlike [`RecordKind::ClosedByClient`] this never ends the session, whatever the code.
    CloseEchoed {
        /// The code of the client's answer, if any.
        code: Option<u16>,
    },
    /// The simulator closed the connection with `code`.
    ClosedByServer {
        /// The close code.
        code: u16,
    },
    /// The TCP connection ended.
    Disconnected,
    /// A bot posted a message (`POST /api/v10/channels/{channel_id}/messages`, authorized
    /// and valid); the simulator dispatched it back as MESSAGE_CREATE.
    MessagePosted {
        /// The channel in the path.
        channel_id: String,
        /// The request body as sent (`{"content":…}`).
        json: String,
    },
    /// An HTTP request arrived.
    Http {
        /// Request path.
        path: String,
        /// The status answered (0 for a raw response,
        /// [`SimConfig::gateway_bot_raw_response`](super::SimConfig::gateway_bot_raw_response)).
        status: u16,
        /// The `User-Agent` header.
        user_agent: String,
    },
}

impl Record {
    /// The opcode, if this is a received payload.
    pub fn op(&self) -> Option<u8> {
        match &self.kind {
            RecordKind::Received { op, .. } => *op,
            _ => None,
        }
    }

    /// The payload text, if this is a received payload.
    pub fn json(&self) -> Option<&str> {
        match &self.kind {
            RecordKind::Received { json, .. } => Some(json),
            _ => None,
        }
    }

    /// The payload's `d` parsed as JSON, if this is a received payload.
    pub fn data(&self) -> Option<serde_json::Value> {
        let value: serde_json::Value = serde_json::from_str(self.json()?).ok()?;
        value.get("d").cloned()
    }
}
