//! The reader thread: reads frames, inflates, parses envelopes, answers control opcodes and
//! queues dispatches for the caller. It never runs user code.

use super::connection::{FromReader, Link};
use super::drive::SessionEvent;
use super::event::{Dispatch, Event};
use super::wire::{Discord, DiscordReader};
use crate::cluster::CachedFilter;
use crate::engine::{wait_for_room, BeatSignal, ReaderOutputs};
use crate::policy::{reaction, BadInput, Ended, Reaction};
use crate::protocol::{skim_data, skim_head, DispatchHead, Envelope, Head, Hello, OpCode, Skim};
use crate::transport::{inflate_payload, InflateError, Inflater, Message, TransportError};
use crate::Compression;
use bytes::{Bytes, BytesMut};
use crossbeam_channel::Sender;
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tungstenite::Utf8Bytes;

pub(super) fn read_loop(link: &Link, outputs: &ReaderOutputs<Discord>, reader: &DiscordReader) {
    let DiscordReader {
        chunks,
        decoding,
        filter,
    } = reader;
    // A dispatch no handler wants is counted for the session, never scanned past its
    // envelope nor handed over by itself; the session events always go through.
    let mut filter = filter.clone().map(CachedFilter::new);
    let mut handled = |name: &str| {
        filter.as_mut().is_none_or(|f| f.wants(name)) || SessionEvent::of(name).is_some()
    };
    let ReaderOutputs {
        events,
        hello,
        beats,
        ..
    } = outputs;
    let mut inflater = match decoding.inflater() {
        Ok(inflater) => inflater,
        Err(e) => {
            let _ = events.send(FromReader::Ended(Ended::Protocol(e)));
            return;
        }
    };
    let mut blocks = PayloadBlocks::default();
    let mut outbox = Outbox {
        // Grows to a burst on a busy connection; an idle one keeps a few slots.
        pending: Vec::new(),
        events,
        link,
        unhandled: None,
        read_since_queued: 0,
    };
    // Bad input gets the one reaction the policy's table gives it (crate docs, "Hostile
    // input"): skipped with an error event, or the end of this connection.
    macro_rules! bad {
        ($input:expr, $what:expr) => {
            match react($input, $what) {
                Reacted::Skip(notice) => {
                    if !outbox.push(notice) {
                        return;
                    }
                    continue;
                }
                Reacted::End(ended) => break ended,
            }
        };
    }
    let ended = loop {
        let message = match link.conn.try_read() {
            Ok(Some(message)) => message,
            Ok(None) => {
                // Nothing more to read now: hand over what was read, then wait.
                if !outbox.flush() {
                    return;
                }
                blocks.waiting();
                match link.conn.wait_readable() {
                    Ok(()) => continue,
                    Err(e) => break read_error(e),
                }
            }
            Err(e) => break read_error(e),
        };
        link.received.fetch_add(1, Ordering::Release);
        link.metrics.received_message(&message);
        let text = match message {
            // Copied into a shared block so that tungstenite's buffer, about one small
            // allocation per message, is freed here: freed on the caller's thread, each
            // free contended with this thread's next allocation for malloc's lock.
            Message::Text(text) => blocks.copy_text(&text),
            Message::Binary(bytes) => {
                let inflated = match inflater.as_mut() {
                    Some(inflater) => match inflater.push(&bytes) {
                        Ok(Some(payload)) => blocks.copy(payload),
                        Ok(None) => continue,
                        Err(e @ InflateError::TooLarge { .. }) => {
                            bad!(BadInput::TooLarge, e.to_string())
                        }
                        Err(e) => bad!(BadInput::CorruptStream, e.to_string()),
                    },
                    None if decoding.payload_compression => {
                        match inflate_payload(&bytes, decoding.limit) {
                            Ok(payload) => Bytes::from(payload),
                            Err(e @ InflateError::TooLarge { .. }) => {
                                bad!(BadInput::TooLarge, e.to_string())
                            }
                            Err(e) => bad!(BadInput::BadBinary, e.to_string()),
                        }
                    }
                    None => bad!(
                        BadInput::BadBinary,
                        format!(
                            "a binary frame of {} bytes without compression",
                            bytes.len()
                        )
                    ),
                };
                match utf8_bytes(inflated) {
                    Ok(text) => text,
                    Err(_) if inflater.is_some() => bad!(
                        BadInput::CorruptStream,
                        "an inflated message is not UTF-8".to_owned()
                    ),
                    Err(_) => bad!(
                        BadInput::BadBinary,
                        "a binary payload that is not UTF-8".to_owned()
                    ),
                }
            }
            // Adapters answer pings themselves.
            _ => continue,
        };
        let envelope = match top_level(&text) {
            Ok(Parsed::Unscanned(head)) => {
                // The common dispatch: routed from its first bytes, scanned by the caller.
                link.metrics.event();
                let sent = if handled(head.t) {
                    outbox.push(FromReader::Dispatch(Dispatch::unscanned(
                        text.clone(),
                        &head,
                    )))
                } else {
                    outbox.unhandled(head.s)
                };
                if !sent {
                    return;
                }
                continue;
            }
            Ok(Parsed::Whole(envelope)) => envelope,
            Err(e) => bad!(BadInput::BadEnvelope, format!("a malformed payload: {e}")),
        };
        let outgoing = match envelope.opcode() {
            OpCode::DISPATCH => {
                let (Some(seq), Some(name)) = (envelope.s, envelope.t.as_deref()) else {
                    bad!(
                        BadInput::DispatchWithoutSeqOrName,
                        "a dispatch without `s` or `t`".to_owned()
                    )
                };
                if name == "GUILD_MEMBERS_CHUNK" {
                    chunks.route(envelope.data_json());
                }
                link.metrics.event();
                if !handled(name) {
                    if !outbox.unhandled(seq) {
                        return;
                    }
                    continue;
                }
                FromReader::Dispatch(Dispatch::new(text.clone(), name, envelope.data_json(), seq))
            }
            OpCode::HEARTBEAT_ACK => {
                link.latency.lock().acked(Instant::now());
                continue;
            }
            OpCode::HEARTBEAT => {
                // Answered at once; the schedule is unchanged (Discord: Gateway → Sending
                // Heartbeats).
                let _ = beats.try_send(BeatSignal::ServerAsked);
                continue;
            }
            OpCode::RECONNECT => break Ended::Reconnect,
            OpCode::INVALID_SESSION => {
                let resumable = envelope.data_json().trim() == "true"
                    || reaction(BadInput::InvalidSessionNotTrue) != Reaction::IdentifyAnew;
                break Ended::InvalidSession { resumable };
            }
            OpCode::HELLO => match serde_json::from_str::<Hello>(envelope.data_json()) {
                Ok(h) if h.heartbeat_interval > 0 => {
                    let interval = Duration::from_millis(h.heartbeat_interval);
                    let _ = hello.try_send(interval);
                    let _ = beats.try_send(BeatSignal::Hello(interval));
                    FromReader::Hello
                }
                _ => bad!(
                    BadInput::BadHello,
                    "Hello without a valid heartbeat_interval".to_owned()
                ),
            },
            other => bad!(
                BadInput::UnknownOpcode,
                format!("a payload with unknown opcode {other}")
            ),
        };
        if !outbox.push(outgoing) {
            return;
        }
    };
    outbox.push(FromReader::Ended(ended));
    outbox.flush();
}

/// Events read in one go are handed to the caller together: the caller, once woken, finds
/// the rest already queued, so a flood costs one wake-up per burst instead of per event.
/// A queued message waits for at most this many dispatches read after it.
const BURST: usize = 64;

/// The longest run of unhandled dispatches kept back when nothing else waits: the session
/// (and so the heartbeats' `s`) learns of them at least this often during a flood of
/// unhandled dispatches that never pauses, and the caller is woken that seldom.
const UNHANDLED_RUN: u64 = 4096;

struct Outbox<'a> {
    pending: Vec<FromReader>,
    events: &'a Sender<FromReader>,
    link: &'a Link,
    /// Consecutive unhandled dispatches not yet queued, `(first, last)`: one message for
    /// the whole run.
    unhandled: Option<(u64, u64)>,
    /// Dispatches read since `pending` last went from empty to not.
    read_since_queued: usize,
}

impl Outbox<'_> {
    /// Queues one message, after the unhandled run read before it; returns false once the
    /// caller has gone.
    fn push(&mut self, message: FromReader) -> bool {
        self.close_run();
        self.pending.push(message);
        self.read_one()
    }

    /// Counts unhandled dispatch `seq` into the current run (or starts a new one).
    fn unhandled(&mut self, seq: u64) -> bool {
        match &mut self.unhandled {
            // Checked: `s` comes from the server, and u64::MAX + 1 must not panic.
            Some((first, last)) if last.checked_add(1) == Some(seq) => {
                *last = seq;
                if seq - *first + 1 >= UNHANDLED_RUN {
                    return self.flush();
                }
            }
            _ => {
                self.close_run();
                self.unhandled = Some((seq, seq));
            }
        }
        self.read_one()
    }

    /// One more dispatch read: what waits in `pending` goes once a burst has been read
    /// after it (an unhandled run alone is not waited for).
    fn read_one(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        self.read_since_queued += 1;
        self.read_since_queued < BURST || self.flush()
    }

    fn close_run(&mut self) {
        if let Some((first, last)) = self.unhandled.take() {
            self.pending.push(FromReader::Unhandled { first, last });
        }
    }

    /// Hands every pending message over, waiting while the queue is full.
    fn flush(&mut self) -> bool {
        self.close_run();
        self.read_since_queued = 0;
        for message in self.pending.drain(..) {
            wait_for_room(self.link, self.events);
            if self.events.send(message).is_err() {
                return false;
            }
        }
        true
    }
}

/// Payloads are copied into shared blocks, many payloads to a block: one allocation per
/// block instead of one per payload, and the caller frees a whole block at once instead of
/// every payload's buffer (frees from the caller's thread contend with this thread's
/// allocations for malloc's lock). Retired blocks are reused once the caller has dropped
/// every payload in them, so a busy connection cycles through a few warm blocks instead of
/// faulting in fresh memory; a quiet connection gives them back.
#[derive(Default)]
struct PayloadBlocks {
    block: BytesMut,
    /// Retired blocks, possibly still referenced by payloads in the caller's queue.
    retired: Vec<BytesMut>,
    /// Payload bytes copied since the reader last waited for the socket.
    burst: usize,
}

impl PayloadBlocks {
    const BLOCK: usize = 64 * 1024;
    /// Enough to cover what a full event queue and a burst keep alive at ~1 KiB a payload.
    const RETIRED: usize = 8;

    fn copy(&mut self, payload: &[u8]) -> Bytes {
        if self.block.capacity() - self.block.len() < payload.len() {
            self.next_block(payload.len().max(Self::BLOCK));
        }
        self.block.extend_from_slice(payload);
        self.burst += payload.len();
        self.block.split().freeze()
    }

    fn copy_text(&mut self, text: &str) -> Utf8Bytes {
        let bytes = self.copy(text.as_bytes());
        // SAFETY: the bytes were copied from a `str`, so they are UTF-8.
        unsafe { Utf8Bytes::from_bytes_unchecked(bytes) }
    }

    fn next_block(&mut self, size: usize) {
        let next = match self.retired.iter_mut().position(|b| b.try_reclaim(size)) {
            Some(free) => self.retired.swap_remove(free),
            None => BytesMut::with_capacity(size),
        };
        let old = std::mem::replace(&mut self.block, next);
        if old.capacity() > 0 && self.retired.len() < Self::RETIRED {
            self.retired.push(old);
        }
    }

    /// The reader is about to wait for the socket: after a light burst the connection is
    /// quiet, and its blocks go back to the allocator (the current one too, or an idle
    /// shard's heartbeat ACKs would slowly fill all 64 KiB of it).
    fn waiting(&mut self) {
        if self.burst < Self::BLOCK {
            self.retired.clear();
            self.block = BytesMut::new();
        }
        self.burst = 0;
    }
}

/// Checks that inflated bytes are UTF-8, with SIMD where the CPU has it: a few times
/// faster than the standard library's check on mostly-ASCII JSON, and this thread is the
/// bottleneck of a compressed connection.
fn utf8_bytes(bytes: Bytes) -> Result<Utf8Bytes, simdutf8::basic::Utf8Error> {
    simdutf8::basic::from_utf8(&bytes)?;
    // SAFETY: checked just above.
    Ok(unsafe { Utf8Bytes::from_bytes_unchecked(bytes) })
}

/// The top level of a payload: what the reader needs to route it.
struct TopLevel<'a> {
    op: u8,
    s: Option<u64>,
    t: Option<Cow<'a, str>>,
    d: &'a str,
}

impl TopLevel<'_> {
    fn opcode(&self) -> OpCode {
        OpCode(self.op)
    }

    fn data_json(&self) -> &str {
        self.d
    }
}

/// What the reader read of a payload.
enum Parsed<'a> {
    /// A dispatch read up to its `d`; the caller's thread reads the rest.
    Unscanned(DispatchHead<'a>),
    /// The whole top level.
    Whole(TopLevel<'a>),
}

/// Dispatches whose `d` the reader itself needs: member chunks go to whoever waits for them
/// (`ShardHandle::request_guild_members`), not through the event queue.
fn reader_needs_data(name: &str) -> bool {
    name == "GUILD_MEMBERS_CHUNK"
}

/// Reads `op`, `s` and `t`, and for anything but an ordinary dispatch the span of `d`: the
/// fast skim first (it does not look inside `d`; an ordinary dispatch's `d` is left to the
/// caller's thread, the reader being the busier of the two), the full serde parse for
/// anything the skim does not understand.
fn top_level(text: &str) -> serde_json::Result<Parsed<'_>> {
    let skimmed = match skim_head(text) {
        Some(Head::Dispatch(head)) if !reader_needs_data(head.t) => {
            return Ok(Parsed::Unscanned(head))
        }
        Some(Head::Dispatch(head)) => skim_data(text, head.data_at).map(|d| Skim {
            op: 0,
            s: Some(head.s),
            t: Some(head.t),
            d,
        }),
        Some(Head::Complete(top)) => Some(top),
        None => None,
    };
    if let Some(top) = skimmed {
        return Ok(Parsed::Whole(TopLevel {
            op: top.op,
            s: top.s,
            t: top.t.map(Cow::Borrowed),
            d: top.d,
        }));
    }
    let envelope = Envelope::parse(text)?;
    Ok(Parsed::Whole(TopLevel {
        op: envelope.op,
        s: envelope.s,
        d: envelope.data_json(),
        t: envelope.t,
    }))
}

/// How the reader turns binary frames into payloads.
#[derive(Clone, Copy)]
pub(super) struct Decoding {
    pub compression: Compression,
    pub payload_compression: bool,
    pub limit: usize,
}

impl Decoding {
    /// A fresh transport inflater for this connection (`None` without transport compression).
    fn inflater(self) -> Result<Option<Inflater>, String> {
        match self.compression {
            Compression::None => Ok(None),
            Compression::ZlibStream => Ok(Some(Inflater::zlib(self.limit))),
            #[cfg(feature = "zstd")]
            Compression::ZstdStream => Inflater::zstd(self.limit)
                .map(Some)
                .map_err(|e| format!("zstd setup failed: {e}")),
        }
    }
}

fn read_error(e: TransportError) -> Ended {
    let bad = |input, what| match react(input, what) {
        Reacted::End(ended) => ended,
        // The transport cannot skip a frame it failed to read.
        Reacted::Skip(_) => Ended::Protocol("unreadable frame".into()),
    };
    match e {
        TransportError::Closed { code, reason } => Ended::Closed { code, reason },
        TransportError::Eof | TransportError::Closing => Ended::Eof,
        TransportError::TooLarge(e) => bad(BadInput::TooLarge, e),
        TransportError::Protocol(e) => bad(BadInput::TransportViolation, e),
        TransportError::Io(e) => Ended::Io(e.to_string()),
    }
}

/// What the reader does about bad input.
enum Reacted {
    /// Tell the caller it was skipped, and read on.
    Skip(FromReader),
    /// The connection is over.
    End(Ended),
}

/// The reader's side of [`reaction`]: `what` describes the input ("a malformed payload: …").
fn react(input: BadInput, what: String) -> Reacted {
    match reaction(input) {
        Reaction::Resume if input == BadInput::TooLarge => Reacted::End(Ended::TooLarge(what)),
        Reaction::Resume => Reacted::End(Ended::Protocol(what)),
        _ => Reacted::Skip(FromReader::Notice(Event::Error {
            kind: crate::ErrorKind::SkippedPayload,
            message: format!("skipped {what}"),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each block starts: a payload not right after the previous one opens a block.
    fn block_starts(payloads: &[Bytes]) -> Vec<usize> {
        let mut starts = vec![];
        let mut next = 0;
        for p in payloads {
            let at = p.as_ptr() as usize;
            if at != next {
                starts.push(at);
            }
            next = at + p.len();
        }
        starts
    }

    #[test]
    fn blocks_are_reused_once_their_payloads_are_dropped() {
        let mut blocks = PayloadBlocks::default();
        let payload: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
        let held: Vec<Bytes> = (0..300).map(|_| blocks.copy(&payload)).collect();
        assert!(held.iter().all(|p| p[..] == payload[..]));
        let first = block_starts(&held);
        assert!(first.len() >= 4, "300 KB in 64 KiB blocks: {first:?}");
        drop(held);
        // 200 KB more: the rest of the current block, then the retired blocks, reclaimed.
        let again: Vec<Bytes> = (0..200).map(|_| blocks.copy(&payload)).collect();
        assert!(again.iter().all(|p| p[..] == payload[..]));
        for start in block_starts(&again).into_iter().skip(1) {
            assert!(first.contains(&start), "a fresh block at {start:#x}");
        }
    }

    #[test]
    fn held_payloads_are_never_overwritten() {
        let mut blocks = PayloadBlocks::default();
        let held: Vec<(u8, Bytes)> = (0..2000u32)
            .map(|i| {
                let byte = (i % 256) as u8;
                (
                    byte,
                    blocks.copy(&vec![byte; 100 + (i as usize * 37) % 3000]),
                )
            })
            .collect();
        for (byte, payload) in &held {
            assert!(payload.iter().all(|b| b == byte));
        }
    }

    #[test]
    fn a_quiet_connection_gives_retired_blocks_back() {
        let mut blocks = PayloadBlocks::default();
        for _ in 0..300 {
            blocks.copy(&[1; 1000]);
        }
        blocks.waiting();
        assert!(!blocks.retired.is_empty(), "a heavy burst keeps them");
        blocks.copy(&[1; 10]);
        blocks.waiting();
        assert!(blocks.retired.is_empty());
        assert_eq!(blocks.block.capacity(), 0);
    }
}
