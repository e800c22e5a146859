//! Entry points for the fuzz targets under `fuzz/` and the property tests: every parser of
//! bytes that come from the network. Feature `fuzzing`; not a public API. Each function
//! must return normally (never panic, hang or overflow the stack) whatever the input.

use crate::protocol::{skim_head, Envelope, Head, Hello, Ready};
use crate::transport::{inflate_payload, Inflater};

/// The shard's own readers of the top level, for the benches that measure them against
/// serde (`benches/throughput.rs`, `benches/latency.rs`): crate-private everywhere else.
///
/// ```
/// let top = syncord::fuzzing::readers::skim(r#"{"op":11,"d":null}"#).unwrap();
/// assert_eq!((top.op, top.d), (11, "null"));
/// ```
///
/// `protocol` no longer offers them:
///
/// ```compile_fail
/// let _ = syncord::protocol::skim(r#"{"op":11}"#);
/// ```
///
/// ```compile_fail
/// let _ = syncord::protocol::Envelope::parse(r#"{"op":11}"#);
/// ```
pub mod readers {
    pub use crate::protocol::payload::Envelope;
    pub use crate::protocol::skim::{skim, Skim};
}

/// The inflate limit used by the targets: small, so bombs are cheap to find.
pub const LIMIT: usize = 1 << 20;

/// Splits fuzz input into websocket messages at `0xFE 0xFE` markers (so one input can hold
/// several frames of one connection).
fn frames(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.windows(2).position(|w| w == [0xFE, 0xFE]) {
            Some(i) => {
                let (frame, tail) = rest.split_at(i);
                rest = &tail[2..];
                Some(frame)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

/// The reader's path for one text payload: envelope, then the typed payloads the client
/// itself decodes (Hello, READY, member chunks).
pub fn envelope(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As the reader does: the payload owned once, the envelope borrowing from it.
    let raw = tungstenite::Utf8Bytes::from(text.to_owned());
    let skimmed = crate::protocol::skim(&raw);
    let parsed = Envelope::parse(&raw);
    // The reader's split read: up to `d` on the reader, the rest on the caller's thread.
    if let Some(Head::Dispatch(head)) = skim_head(&raw) {
        let mut dispatch = crate::Dispatch::unscanned(raw.clone(), &head);
        match (dispatch.finish(), &parsed) {
            (Ok(()), Ok(envelope)) => assert_eq!(dispatch.data_json(), envelope.data_json()),
            (Err(e), Ok(_)) => panic!("the caller refused a payload serde reads: {e}"),
            _ => {}
        }
    }
    let Ok(envelope) = parsed else {
        return;
    };
    // Where both readers accept a payload they must agree on it.
    if let Some(top) = skimmed {
        assert_eq!(top.op, envelope.op);
        assert_eq!(top.s, envelope.s);
        assert_eq!(top.t, envelope.t.as_deref());
        assert_eq!(top.d, envelope.data_json());
    }
    let d = envelope.data_json();
    if let (Some(seq), Some(name)) = (envelope.s, envelope.t.as_deref()) {
        let dispatch = crate::Dispatch::new(raw.clone(), name, d, seq);
        assert_eq!(dispatch.event_type(), name);
        assert_eq!(dispatch.data_json(), d);
    }
    match envelope.op {
        10 => {
            let _ = serde_json::from_str::<Hello>(d);
        }
        0 => match envelope.t.as_deref() {
            Some("READY") => {
                if let Ok(Some(url)) =
                    serde_json::from_str::<Ready>(d).map(|r| r.resume_gateway_url)
                {
                    let _ = crate::transport::WsUrl::parse(&url);
                }
            }
            Some("GUILD_MEMBERS_CHUNK") => {
                let _ = serde_json::from_str::<crate::shard::members::Chunk>(d);
            }
            _ => {}
        },
        _ => {}
    }
}

/// One zlib-stream connection: frames fed to one inflater, each message to [`envelope`].
pub fn zlib_stream(data: &[u8]) {
    let mut inflater = Inflater::zlib(LIMIT);
    for frame in frames(data) {
        match inflater.push(frame) {
            Ok(Some(message)) => envelope(message),
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// One zstd-stream connection: frames fed to one decoder, each message to [`envelope`].
#[cfg(feature = "zstd")]
pub fn zstd_stream(data: &[u8]) {
    let Ok(mut inflater) = Inflater::zstd(LIMIT) else {
        return;
    };
    for frame in frames(data) {
        match inflater.push(frame) {
            Ok(Some(message)) => envelope(message),
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// Payload compression: one standalone zlib stream.
pub fn payload(data: &[u8]) {
    if let Ok(message) = inflate_payload(data, LIMIT) {
        envelope(&message);
    }
}

/// The discovery answer as a socket would bring it: the head guard, ureq's HTTP response
/// parser, then discovery's reading of the answer (body cap, status, `Retry-After`,
/// `GET /gateway/bot`'s body).
pub fn discovery(data: &[u8]) {
    use crate::rest::{answer, decide, Attempts};
    use std::io::Read;
    // ureq parses from a `&str`: the guard sees the same text.
    let text = String::from_utf8_lossy(data);
    let mut guarded = crate::transport::HeadGuard::new(text.as_bytes());
    if guarded.read_to_end(&mut Vec::new()).is_err() {
        return;
    }
    if let Ok(response) = text.parse::<ureq::Response>() {
        let _ = decide(
            answer(response),
            &mut Attempts::default(),
            &crate::Token::new("fuzz"),
        );
    }
}
