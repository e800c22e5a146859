//! What the handler receives: dispatches and lifecycle events, in one enum.

use crate::protocol::Ready;
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::time::Duration;
use tungstenite::Utf8Bytes;

/// One gateway dispatch (op 0), holding the received text; `d` is parsed only on request.
#[derive(Clone)]
pub struct Dispatch {
    raw: Utf8Bytes,
    name: EventName,
    data: Range<usize>,
    seq: u64,
}

#[derive(Clone)]
enum EventName {
    /// `t` as written in `raw` (no escapes, the normal case).
    Span(Range<usize>),
    /// `t` contained JSON escapes and had to be unescaped.
    Owned(Box<str>),
}

impl Dispatch {
    /// Builds a dispatch from a payload's text and the parts the envelope parser found in it.
    /// `name` and `data` must be slices of `raw`.
    pub(crate) fn new(raw: Utf8Bytes, name: &str, data: &str, seq: u64) -> Dispatch {
        let name =
            span_of(&raw, name).map_or_else(|| EventName::Owned(name.into()), EventName::Span);
        let data = span_of(&raw, data).unwrap_or(0..0);
        Dispatch {
            raw,
            name,
            data,
            seq,
        }
    }

    /// The event name (`t`), e.g. `MESSAGE_CREATE`. Unknown names are passed through.
    pub fn event_type(&self) -> &str {
        match &self.name {
            EventName::Span(range) => &self.raw[range.clone()],
            EventName::Owned(name) => name,
        }
    }

    /// The sequence number (`s`).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The event data (`d`) as raw JSON text (`null` if absent).
    pub fn data_json(&self) -> &str {
        if self.data.is_empty() {
            "null"
        } else {
            &self.raw[self.data.clone()]
        }
    }

    /// Deserializes `d` into `T` (borrowing from the payload where `T` allows).
    ///
    /// ```
    /// # fn handle(dispatch: &syncord::Dispatch) {
    /// #[derive(serde::Deserialize)]
    /// struct Message<'a> { content: &'a str }
    /// if dispatch.event_type() == "MESSAGE_CREATE" {
    ///     if let Ok(message) = dispatch.data::<Message>() {
    ///         println!("{}", message.content);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn data<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(self.data_json())
    }

    /// The whole payload as received (`{"op":0,"t":…,"s":…,"d":…}`).
    pub fn payload_json(&self) -> &str {
        &self.raw
    }
}

/// The byte range of `part` inside `whole`, if `part` points into it.
fn span_of(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("t", &self.event_type())
            .field("s", &self.seq)
            .field("d_bytes", &self.data.len())
            .finish()
    }
}

/// Everything the handler is told, in order: dispatches and the connection's lifecycle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A connection attempt is starting.
    Connecting {
        /// Reconnect attempt number (0 for the first connection).
        attempt: u32,
        /// The URL being dialed (with query string).
        url: String,
        /// Whether this connection will Resume (rather than Identify).
        resume: bool,
    },
    /// The websocket handshake completed; Hello is next.
    Connected,
    /// READY arrived: a new session started. The READY dispatch itself follows.
    Ready(Box<Ready>),
    /// RESUMED arrived: the session continues; `replayed` missed events were delivered
    /// before this. The RESUMED dispatch itself follows.
    Resumed {
        /// How many dispatches the server replayed.
        replayed: u64,
    },
    /// A gateway dispatch (op 0), including READY and RESUMED.
    Dispatch(Dispatch),
    /// The connection ended.
    Disconnected {
        /// The close code the server sent, if it sent one.
        code: Option<u16>,
        /// What happened, in words.
        reason: String,
    },
    /// The shard will reconnect after `delay`.
    Reconnecting {
        /// 1 for the first retry after a connection ended, growing while retries fail.
        attempt: u32,
        /// The wait before dialing.
        delay: Duration,
    },
    /// The server sent op 9 Invalid Session.
    InvalidSession {
        /// Whether the session may be resumed.
        resumable: bool,
    },
    /// Sequence numbers jumped within a connection: `expected` was never received.
    SequenceGap {
        /// The sequence number that should have come next.
        expected: u64,
        /// The one that came.
        received: u64,
    },
    /// Something went wrong that syncord handled (a handler panic, a malformed payload…).
    /// The shard carries on.
    Error {
        /// What happened.
        message: String,
    },
}

impl Event {
    /// A short stable name for the event: `dispatch`, `connecting`, `ready`, …
    pub fn name(&self) -> &'static str {
        match self {
            Event::Connecting { .. } => "connecting",
            Event::Connected => "connected",
            Event::Ready(_) => "ready",
            Event::Resumed { .. } => "resumed",
            Event::Dispatch(_) => "dispatch",
            Event::Disconnected { .. } => "disconnected",
            Event::Reconnecting { .. } => "reconnecting",
            Event::InvalidSession { .. } => "invalid_session",
            Event::SequenceGap { .. } => "sequence_gap",
            Event::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Envelope;

    fn dispatch(json: &str) -> Dispatch {
        let raw = Utf8Bytes::from(json.to_owned());
        let env = Envelope::parse(&raw).unwrap();
        let name = env.t.clone().unwrap();
        let data = env.data_json();
        Dispatch::new(raw.clone(), &name, data, env.s.unwrap())
    }

    #[test]
    fn exposes_t_s_and_raw_d_without_copying() {
        let d = dispatch(r#"{"op":0,"s":7,"t":"MESSAGE_CREATE","d":{"content":"hi"}}"#);
        assert_eq!(d.event_type(), "MESSAGE_CREATE");
        assert_eq!(d.seq(), 7);
        assert_eq!(d.data_json(), r#"{"content":"hi"}"#);
        #[derive(Deserialize)]
        struct M<'a> {
            content: &'a str,
        }
        assert_eq!(d.data::<M>().unwrap().content, "hi");
    }

    #[test]
    fn escaped_event_name_is_unescaped() {
        let d = dispatch(r#"{"op":0,"s":1,"t":"MESSAGE\u005fCREATE","d":null}"#);
        assert_eq!(d.event_type(), "MESSAGE_CREATE");
        assert_eq!(d.data_json(), "null");
    }
}
