//! Socket Mode frames as they come off the socket (Slack: Using Socket Mode): `hello`,
//! envelopes, `disconnect`, and the acknowledgement we send back. Pure parsing, no I/O.

use super::event::Envelope;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// Acknowledgements of 20 KiB or more are dropped by Slack without an error (one app got
/// close 1009 "Max frame length of 20480"), so they are refused before sending.
pub const MAX_ACK_BYTES: usize = 20 * 1024 - 1;

/// One server frame, classified.
#[derive(Debug)]
pub(crate) enum Frame {
    /// `hello`: the connection is up.
    Hello {
        num_connections: u32,
        host: Option<String>,
        approximate_connection_time: Option<u64>,
    },
    /// `disconnect` with its `reason` (empty when missing).
    Disconnect { reason: String },
    /// An envelope to acknowledge and deliver.
    Envelope(Envelope),
    /// A frame with a `type` we do not know and no `envelope_id`: logged, ignored (Slack
    /// says to ignore unknown types).
    Unknown { kind: String },
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    envelope_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(default)]
    accepts_response_payload: bool,
    #[serde(default)]
    retry_attempt: Option<u32>,
    #[serde(borrow, default)]
    retry_reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    num_connections: Option<u32>,
    #[serde(borrow, default)]
    reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    debug_info: Option<DebugInfo>,
}

#[derive(Deserialize, Default)]
struct DebugInfo {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    approximate_connection_time: Option<u64>,
}

/// The parts of a payload the client routes and deduplicates by.
#[derive(Deserialize)]
struct PayloadHead<'a> {
    #[serde(borrow, default)]
    event_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    event: Option<EventHead<'a>>,
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// Why a frame was not understood.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Not a JSON object.
    NotJson(String),
    /// An object without `type` and without `envelope_id`.
    Untyped,
    /// An envelope without a `payload` object.
    NoPayload,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::NotJson(e) => write!(f, "a frame that is not a JSON object: {e}"),
            FrameError::Untyped => f.write_str("a frame without `type` or `envelope_id`"),
            FrameError::NoPayload => f.write_str("an envelope without a `payload` object"),
        }
    }
}

/// Classifies one text frame.
pub(crate) fn parse(text: &str) -> Result<Frame, FrameError> {
    if !text.trim_start().starts_with('{') {
        return Err(FrameError::NotJson("expected an object".into()));
    }
    let raw: RawFrame<'_> =
        serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
    if let Some(envelope_id) = raw.envelope_id.as_deref() {
        let payload = raw.payload.ok_or(FrameError::NoPayload)?;
        let json = payload.get();
        if !json.starts_with('{') {
            return Err(FrameError::NoPayload);
        }
        let start = json.as_ptr() as usize - text.as_ptr() as usize;
        let head: PayloadHead<'_> = serde_json::from_str(json).unwrap_or(PayloadHead {
            event_id: None,
            kind: None,
            event: None,
        });
        let payload_type = head
            .event
            .and_then(|e| e.kind)
            .or(head.kind)
            .map(|k| Arc::<str>::from(&*k));
        return Ok(Frame::Envelope(Envelope {
            envelope_id: envelope_id.into(),
            kind: raw.kind.as_deref().unwrap_or("").into(),
            retry_attempt: raw.retry_attempt.unwrap_or(0),
            retry_reason: raw
                .retry_reason
                .filter(|r| !r.is_empty())
                .map(|r| Arc::from(&*r)),
            accepts_response_payload: raw.accepts_response_payload,
            frame: text.into(),
            payload_range: start..start + json.len(),
            event_id: head.event_id.map(|e| Arc::from(&*e)),
            payload_type,
        }));
    }
    let debug = raw.debug_info.unwrap_or_default();
    match raw.kind.as_deref() {
        Some("hello") => Ok(Frame::Hello {
            num_connections: raw.num_connections.unwrap_or(0),
            host: debug.host,
            approximate_connection_time: debug.approximate_connection_time,
        }),
        Some("disconnect") => Ok(Frame::Disconnect {
            reason: raw.reason.as_deref().unwrap_or("").to_owned(),
        }),
        Some(kind) => Ok(Frame::Unknown {
            kind: kind.to_owned(),
        }),
        None => Err(FrameError::Untyped),
    }
}

/// Why an acknowledgement was not sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AckTooLarge(pub usize);

/// The acknowledgement frame for `envelope_id`, with a response `payload` (JSON text) when
/// given: `{"envelope_id":"…"}` or `{"envelope_id":"…","payload":{…}}`.
pub(crate) fn ack(envelope_id: &str, payload: Option<&str>) -> Result<String, AckTooLarge> {
    let id = serde_json::to_string(envelope_id).unwrap_or_else(|_| "\"\"".into());
    let json = match payload {
        Some(payload) => format!("{{\"envelope_id\":{id},\"payload\":{payload}}}"),
        None => format!("{{\"envelope_id\":{id}}}"),
    };
    if json.len() > MAX_ACK_BYTES {
        return Err(AckTooLarge(json.len()));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_read_with_its_debug_info() {
        let text = r#"{"type":"hello","num_connections":2,"debug_info":{"host":"applink-1","started":"2020-10-11 12:12:12.120","build_number":54,"approximate_connection_time":18060},"connection_info":{"app_id":"A1"}}"#;
        match parse(text) {
            Ok(Frame::Hello {
                num_connections: 2,
                host: Some(host),
                approximate_connection_time: Some(18060),
            }) => assert_eq!(host, "applink-1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_events_api_envelope_keeps_its_payload_and_keys() {
        let text = r#"{"envelope_id":"e-1","type":"events_api","accepts_response_payload":false,"retry_attempt":1,"retry_reason":"timeout","payload":{"type":"event_callback","event_id":"Ev1","event":{"type":"message","text":"a \"quoted\"\nline"}}}"#;
        let Ok(Frame::Envelope(envelope)) = parse(text) else {
            panic!("not an envelope")
        };
        assert_eq!(envelope.envelope_id(), "e-1");
        assert_eq!(envelope.kind(), "events_api");
        assert_eq!(envelope.retry_attempt(), 1);
        assert_eq!(envelope.retry_reason(), Some("timeout"));
        assert_eq!(envelope.event_id(), Some("Ev1"));
        assert_eq!(envelope.payload_type(), Some("message"));
        let value: serde_json::Value = envelope.parse().unwrap();
        assert_eq!(value["event"]["text"], "a \"quoted\"\nline");
        assert!(envelope
            .payload_json()
            .starts_with("{\"type\":\"event_callback\""));
        assert!(
            !format!("{envelope:?}").contains("quoted"),
            "Debug hides the payload"
        );
    }

    #[test]
    fn interactive_envelopes_route_by_payload_type_and_first_deliveries_have_no_reason() {
        let text = r#"{"envelope_id":"e-2","type":"interactive","accepts_response_payload":true,"retry_attempt":0,"retry_reason":"","payload":{"type":"block_actions"}}"#;
        let Ok(Frame::Envelope(envelope)) = parse(text) else {
            panic!("not an envelope")
        };
        assert_eq!(envelope.payload_type(), Some("block_actions"));
        assert_eq!(envelope.retry_reason(), None);
        assert_eq!(envelope.event_id(), None);
        assert!(envelope.accepts_response_payload());
    }

    #[test]
    fn disconnect_unknown_and_broken_frames() {
        assert!(matches!(
            parse(r#"{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"h"}}"#),
            Ok(Frame::Disconnect { reason }) if reason == "refresh_requested"
        ));
        assert!(matches!(
            parse(r#"{"type":"something_new"}"#),
            Ok(Frame::Unknown { kind }) if kind == "something_new"
        ));
        assert_eq!(parse(r#"{"a":1}"#).unwrap_err(), FrameError::Untyped);
        assert!(matches!(parse("[1]"), Err(FrameError::NotJson(_))));
        assert!(matches!(parse("{\"type\":"), Err(FrameError::NotJson(_))));
        assert_eq!(
            parse(r#"{"envelope_id":"x","type":"events_api"}"#).unwrap_err(),
            FrameError::NoPayload
        );
        assert_eq!(
            parse(r#"{"envelope_id":"x","type":"events_api","payload":[1]}"#).unwrap_err(),
            FrameError::NoPayload
        );
    }

    #[test]
    fn acks_are_one_object_and_refused_from_20_kib() {
        assert_eq!(ack("a\"b", None).unwrap(), r#"{"envelope_id":"a\"b"}"#);
        assert_eq!(
            ack("e", Some(r#"{"text":"hi"}"#)).unwrap(),
            r#"{"envelope_id":"e","payload":{"text":"hi"}}"#
        );
        let big = format!("{{\"text\":\"{}\"}}", "x".repeat(20 * 1024));
        assert!(matches!(ack("e", Some(&big)), Err(AckTooLarge(n)) if n > MAX_ACK_BYTES));
        let fits = format!("{{\"t\":\"{}\"}}", "x".repeat(MAX_ACK_BYTES - 40));
        assert!(ack("e", Some(&fits)).is_ok());
    }
}
