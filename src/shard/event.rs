//! What the handler receives: dispatches and lifecycle events, in one enum.

use crate::protocol::{skim_data, DispatchHead, Envelope, Ready};
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
    data: Data,
    seq: u64,
}

/// Where `d` is in `raw`.
#[derive(Clone)]
enum Data {
    /// The span of `d` (empty for an absent `d`, which reads as `null`).
    Span(Range<usize>),
    /// Read by the reader only up to here, where `d`'s value starts: the caller's thread
    /// scans the rest ([`Dispatch::finish`]) before the handler sees it.
    Unscanned(usize),
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
        let data = Data::Span(span_of(&raw, data).unwrap_or(0..0));
        Dispatch {
            raw,
            name,
            data,
            seq,
        }
    }

    /// A dispatch read only up to its `d` ([`skim_head`]); [`Dispatch::finish`] must run
    /// before anyone reads `d`.
    pub(crate) fn unscanned(raw: Utf8Bytes, head: &DispatchHead<'_>) -> Dispatch {
        let mut dispatch = Dispatch::new(raw, head.t, "", head.s);
        dispatch.data = Data::Unscanned(head.data_at);
        dispatch
    }

    /// Reads the rest of a dispatch the reader left unscanned, exactly as the reader would
    /// have: the fast skim, then serde for what the skim does not understand. An error
    /// means the payload is malformed and must be skipped.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        let Data::Unscanned(data_at) = self.data else {
            return Ok(());
        };
        let data = match skim_data(&self.raw, data_at) {
            Some(d) => d,
            None => {
                let envelope = Envelope::parse(&self.raw)
                    .map_err(|e| format!("skipped a malformed payload: {e}"))?;
                // serde refuses duplicate fields, so `op`, `s` and `t` are what the reader
                // read before `d`; checked all the same, the reader acted on them.
                if envelope.op != 0
                    || envelope.s != Some(self.seq)
                    || envelope.t.as_deref() != Some(self.event_type())
                {
                    return Err("skipped a payload whose fields changed after `d`".into());
                }
                envelope.data_json()
            }
        };
        self.data = Data::Span(span_of(&self.raw, data).unwrap_or(0..0));
        Ok(())
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
        match &self.data {
            Data::Span(span) if !span.is_empty() => &self.raw[span.clone()],
            Data::Span(_) => "null",
            Data::Unscanned(data_at) => {
                debug_assert!(false, "a dispatch was handed over unscanned");
                skim_data(&self.raw, *data_at).unwrap_or("null")
            }
        }
    }

    /// Deserializes `d` into `T` (borrowing from the payload where `T` allows). Any serde
    /// type works: the typed models of [`model`](crate::model), your own, another crate's.
    ///
    /// Borrow text as `Cow<'a, str>` with `#[serde(borrow)]`, not `&'a str`: a `&str`
    /// cannot hold text that JSON escapes (a newline, a quote, an emoji sent as
    /// `\ud83d\ude00`), so it fails on such messages; a `Cow` borrows when it can and
    /// copies when it must. Handle the error: it says which field did not fit.
    ///
    /// ```
    /// # fn handle(dispatch: &syncord::Dispatch) {
    /// use std::borrow::Cow;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Message<'a> {
    ///     #[serde(borrow)]
    ///     content: Cow<'a, str>,
    /// }
    /// if dispatch.event_type() == "MESSAGE_CREATE" {
    ///     match dispatch.data::<Message>() {
    ///         Ok(message) => println!("{}", message.content),
    ///         Err(error) => eprintln!("MESSAGE_CREATE #{}: {error}", dispatch.seq()),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn data<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(self.data_json())
    }

    /// The whole payload as received (`{"op":0,"t":…,"s":…,"d":…}`).
    ///
    /// A dispatch shares its buffer with the payloads read around it (one allocation for
    /// many): to keep an event's data for long, keep what you parsed from it, or copy
    /// this text, rather than the `Dispatch`.
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
            .field(
                "d_bytes",
                &match &self.data {
                    Data::Span(span) => Some(span.len()),
                    Data::Unscanned(_) => None,
                },
            )
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
    /// The session was abandoned: the next connection identifies a new one, and dispatches
    /// after `last_seq` of the old session that were not delivered are lost (Discord does
    /// not replay them to a new session). Happens after op 9 with `d: false`, close codes
    /// after which Discord does not resume (4003, 4006, 4007, 4009), or too many failed
    /// resumes in a row. A bot that keeps state should refetch it (the new READY and
    /// GUILD_CREATE events bring most of it back).
    SessionLost {
        /// The abandoned session's id.
        session_id: String,
        /// The last sequence number delivered in it.
        last_seq: u64,
        /// Why it was abandoned.
        reason: String,
    },
    /// A command that [`ShardHandle::send`](crate::ShardHandle::send) accepted was never
    /// written, because the shard stopped first: delivered last, after `run`'s connections
    /// ended, one per command, in the order they were queued.
    Unsent {
        /// The command's JSON payload (`{"op":…,"d":…}`).
        payload: String,
    },
    /// Sequence numbers jumped within a connection: `expected` was never received.
    SequenceGap {
        /// The sequence number that should have come next.
        expected: u64,
        /// The one that came.
        received: u64,
    },
    /// The bot's session starts are running out (`session_start_limit` of
    /// `GET /gateway/bot`; Discord resets the token of a bot that exceeds it: Gateway →
    /// Session Start Limit). Sent by the identify queue when fewer than 10 % remain, and when
    /// none remain, in which case this shard waits `wait` (until the limit resets) before it
    /// identifies.
    SessionStartLimit {
        /// Session starts left before the reset.
        remaining: u64,
        /// Session starts allowed per reset period.
        total: u64,
        /// How long this shard waits before identifying (zero when it goes on at once).
        wait: Duration,
    },
    /// Something went wrong that syncord handled (a handler panic, a malformed payload…).
    /// The shard carries on.
    Error {
        /// What kind of thing happened, to match on.
        kind: crate::ErrorKind,
        /// What happened, for people (logs, a console).
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
            Event::SessionLost { .. } => "session_lost",
            Event::Unsent { .. } => "unsent",
            Event::SequenceGap { .. } => "sequence_gap",
            Event::SessionStartLimit { .. } => "session_start_limit",
            Event::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{skim_head, Head};

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

    fn unscanned(json: &str) -> Dispatch {
        let raw = Utf8Bytes::from(json.to_owned());
        let Some(Head::Dispatch(head)) = skim_head(&raw) else {
            panic!("not a dispatch with s and t before d: {json}");
        };
        Dispatch::unscanned(raw.clone(), &head)
    }

    #[test]
    fn an_unscanned_dispatch_is_finished_like_the_reader_would() {
        let mut d = unscanned(r#"{"t":"X","s":3,"op":0,"d":{"a":[1,"]"]}}"#);
        d.finish().unwrap();
        assert_eq!((d.event_type(), d.seq()), ("X", 3));
        assert_eq!(d.data_json(), r#"{"a":[1,"]"]}"#);
        // What the skim does not understand goes to serde, which reads escaped keys.
        let mut d = unscanned(r#"{"t":"X","s":3,"op":0,"d":[2],"\u0078":1}"#);
        d.finish().unwrap();
        assert_eq!(d.data_json(), "[2]");
    }

    #[test]
    fn a_malformed_rest_is_an_error_not_a_dispatch() {
        for json in [
            r#"{"t":"X","s":3,"op":0,"d":{"a":1}"#,
            r#"{"t":"X","s":3,"op":0,"d":{},"s":4}"#,
            r#"{"t":"X","s":3,"op":0,"d":{},"\u0073":4}"#,
            r#"{"t":"X","s":3,"op":0,"d":{}} {}"#,
        ] {
            let mut d = unscanned(json);
            let error = d.finish().unwrap_err();
            assert!(error.starts_with("skipped"), "{json}: {error}");
        }
    }

    #[test]
    fn escaped_event_name_is_unescaped() {
        let d = dispatch(r#"{"op":0,"s":1,"t":"MESSAGE\u005fCREATE","d":null}"#);
        assert_eq!(d.event_type(), "MESSAGE_CREATE");
        assert_eq!(d.data_json(), "null");
    }
}
