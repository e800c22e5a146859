//! Socket Mode's half of the engine ([`crate::engine::Wire`]): a reader that acknowledges
//! each envelope on receipt, before any user code runs and independent of the handler
//! queue (Slack: Using Socket Mode → Acknowledge events), client pings as the beat, and
//! three silent ping intervals (about 30 s) as a dead connection (SLACK.md §3).

use super::event::Envelope;
use super::wire::{ack, parse, Frame};
use crate::engine::{
    hand_over, next_message, BeatSignal, Link, ReaderOutputs, RingingSender, Slot, Wire,
};
use crate::policy::Ended;
use crate::transport::{Message, TransportError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Envelopes held for a responding handler: id → the writer of the connection it came on.
/// Whoever removes an entry first acknowledges it: the handler's response, or the writer's
/// plain acknowledgement at the deadline. Shared by every connection of one client.
pub(crate) type HeldAcks = Arc<Mutex<HashMap<Arc<str>, RingingSender<SlackPriority>>>>;

/// Which envelopes wait for a responding handler (set by the dispatcher).
pub(crate) type HoldAcks = Arc<dyn Fn(&Envelope) -> bool + Send + Sync>;

/// The Socket Mode protocol.
pub(crate) struct SocketModeWire;

/// What the reader tells the caller's loop.
pub(crate) enum SlackInbound {
    /// `hello`: the connection is up.
    Hello {
        num_connections: u32,
        host: Option<String>,
        approximate_connection_time: Option<u64>,
    },
    /// An envelope, already acknowledged or held.
    Envelope(Envelope),
    /// Slack's `disconnect` message.
    Disconnect { reason: String },
    /// A skipped frame, in words.
    Notice(String),
    /// The connection ended; nothing follows.
    Ended(Ended),
}

/// What the writer sends ahead of everything else (Socket Mode has no user commands).
#[derive(PartialEq)]
pub(crate) enum SlackPriority {
    /// A websocket ping.
    Ping,
    /// An acknowledgement frame.
    Ack(String),
    /// The plain acknowledgement of a held envelope, at its deadline, unless a response
    /// took the envelope first.
    AckAtDeadline { envelope_id: Arc<str>, due: Instant },
}

/// The reader's settings.
pub(crate) struct SlackReader {
    pub ping_interval: Duration,
    pub response_deadline: Duration,
    pub hold: Option<HoldAcks>,
}

impl Wire for SocketModeWire {
    type State = HeldAcks;
    type Inbound = SlackInbound;
    type Priority = SlackPriority;
    type Reader = SlackReader;

    const SILENT_INTERVALS: u32 = 3;

    const BEAT: SlackPriority = SlackPriority::Ping;

    fn slot(payload: &SlackPriority) -> Slot {
        match payload {
            SlackPriority::AckAtDeadline { due, .. } => Slot::At(*due),
            _ => Slot::Now,
        }
    }

    fn describe(payload: &SlackPriority) -> &'static str {
        match payload {
            SlackPriority::Ping => "a ping",
            _ => "an acknowledgement",
        }
    }

    fn send_priority(link: &Link<HeldAcks>, payload: SlackPriority) -> Result<(), TransportError> {
        match payload {
            SlackPriority::Ping => link.conn.ping(bytes::Bytes::from_static(b"syncord")),
            SlackPriority::Ack(json) => link.conn.send(Message::text(json)),
            SlackPriority::AckAtDeadline { envelope_id, .. } => {
                if link.state.lock().remove(&envelope_id).is_none() {
                    // The handler answered in time.
                    return Ok(());
                }
                log::warn!(
                    "envelope {envelope_id}: no response within the deadline; acknowledged without a payload"
                );
                match ack(&envelope_id, None) {
                    Ok(json) => link.conn.send(Message::text(json)),
                    Err(_) => Ok(()),
                }
            }
        }
    }

    fn read_loop(
        link: &Link<HeldAcks>,
        outputs: &ReaderOutputs<SocketModeWire>,
        reader: SlackReader,
    ) {
        let ended = read_frames(link, outputs, &reader);
        let _ = outputs.events.send(SlackInbound::Ended(ended));
    }
}

/// Reads until the connection ends.
fn read_frames(
    link: &Link<HeldAcks>,
    outputs: &ReaderOutputs<SocketModeWire>,
    reader: &SlackReader,
) -> Ended {
    loop {
        let message = match next_message(link) {
            Ok(message) => message,
            Err(ended) => return ended,
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Pong(_) => {
                link.latency.lock().acked(Instant::now());
                continue;
            }
            Message::Binary(bytes) => {
                let notice = format!("skipped a binary frame of {} bytes", bytes.len());
                if !hand_over(link, &outputs.events, SlackInbound::Notice(notice)) {
                    return Ended::Shutdown { resumable: false };
                }
                continue;
            }
            // The adapter answers pings itself.
            _ => continue,
        };
        let inbound = match parse(text.as_str()) {
            Ok(Frame::Hello {
                num_connections,
                host,
                approximate_connection_time,
            }) => {
                let _ = outputs
                    .beats
                    .try_send(BeatSignal::Hello(reader.ping_interval));
                SlackInbound::Hello {
                    num_connections,
                    host,
                    approximate_connection_time,
                }
            }
            Ok(Frame::Envelope(envelope)) => {
                acknowledge(link, outputs, reader, &envelope);
                link.metrics.event();
                SlackInbound::Envelope(envelope)
            }
            Ok(Frame::Disconnect { reason }) => SlackInbound::Disconnect { reason },
            Ok(Frame::Unknown { kind }) => {
                log::debug!("ignored a Socket Mode frame of type {kind:?}");
                continue;
            }
            Err(e) => SlackInbound::Notice(format!("skipped a frame: {e}")),
        };
        if !hand_over(link, &outputs.events, inbound) {
            return Ended::Shutdown { resumable: false };
        }
    }
}

/// Acknowledges on receipt, or holds the acknowledgement for a responding handler until the
/// deadline.
fn acknowledge(
    link: &Link<HeldAcks>,
    outputs: &ReaderOutputs<SocketModeWire>,
    reader: &SlackReader,
    envelope: &Envelope,
) {
    let held = envelope.accepts_response_payload()
        && reader.hold.as_ref().is_some_and(|hold| hold(envelope));
    if held {
        let id: Arc<str> = envelope.envelope_id().into();
        link.state
            .lock()
            .insert(id.clone(), outputs.priority.clone());
        let due = Instant::now() + reader.response_deadline;
        let _ = outputs.priority.send(SlackPriority::AckAtDeadline {
            envelope_id: id,
            due,
        });
        return;
    }
    match ack(envelope.envelope_id(), None) {
        Ok(json) => {
            let _ = outputs.priority.send(SlackPriority::Ack(json));
        }
        Err(e) => log::error!(
            "envelope id of {} bytes: its acknowledgement is too large to send",
            e.0
        ),
    }
}
