//! The Discord gateway's half of the engine ([`crate::engine::Wire`]): its reader, its
//! heartbeat (op 1 with the last delivered `s`), Identify/Resume ahead of user commands,
//! and the zombie rule (Discord: Gateway → Sending Heartbeats).

use super::connection::{FromReader, Link, Priority};
use super::members::ChunkRouter;
use super::reader::{read_loop, Decoding};
use crate::cluster::EventFilter;
use crate::engine::{ReaderOutputs, Wire};
use crate::protocol::heartbeat_json;
use crate::session::SessionCell;
use crate::transport::{Message, TransportError};
use std::sync::Arc;

/// The Discord gateway protocol.
pub(crate) struct Discord;

/// What the Discord reader needs for one connection.
pub(crate) struct DiscordReader {
    pub chunks: Arc<ChunkRouter>,
    pub decoding: Decoding,
    /// Which dispatches a handler wants (`None`: all of them).
    pub filter: Option<EventFilter>,
}

impl Wire for Discord {
    type State = SessionCell;
    type Inbound = FromReader;
    type Priority = Priority;
    type Reader = DiscordReader;

    /// "If a client does not receive a heartbeat ACK between its attempts at sending
    /// heartbeats, this may be due to a failed or zombied connection."
    const SILENT_INTERVALS: u32 = 1;

    const BEAT: Priority = Priority::Heartbeat;

    fn describe(payload: &Priority) -> &'static str {
        match payload {
            Priority::Heartbeat => "a heartbeat",
            Priority::Session(_) => "Identify/Resume",
        }
    }

    fn send_priority(link: &Link, payload: Priority) -> Result<(), TransportError> {
        match payload {
            Priority::Heartbeat => {
                let seq = link.state.lock().last_seq();
                let json = heartbeat_json((seq > 0).then_some(seq));
                link.conn.send(Message::text(json))
            }
            Priority::Session(json) => link.conn.send_secret(&json),
        }
    }

    fn read_loop(link: &Link, outputs: &ReaderOutputs<Discord>, reader: DiscordReader) {
        read_loop(link, outputs, &reader);
    }
}

/// The three threads on the in-memory transport double: frames in, frames out, a stalled
/// peer, a close frame. No sockets, so each runs in milliseconds.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        command_queue, CommandSender, Latency, LinkOptions, LinkThreads, WriterOptions,
    };
    use crate::policy::Ended;
    use crate::transport::memory::{MemoryAdapter, MemoryPeer};
    use crate::transport::{DialCancel, DialRequest, WebSocketAdapter};
    use crate::Compression;
    use crossbeam_channel::Receiver;
    use parking_lot::Mutex;
    use std::time::{Duration, Instant};

    const TIMEOUT: Duration = Duration::from_secs(5);

    struct Running {
        threads: LinkThreads<Discord>,
        peer: MemoryPeer,
        latency: Arc<Mutex<Latency>>,
        session: crate::session::SessionCell,
        /// Keeps the user-command channel open.
        _commands: CommandSender,
    }

    fn start() -> Running {
        let (adapter, peers) = MemoryAdapter::new();
        let cancel = DialCancel::new();
        let conn = adapter
            .dial(&DialRequest {
                url: "ws://memory/?v=10",
                headers: &[("User-Agent", "test")],
                connect_timeout: TIMEOUT,
                handshake_timeout: TIMEOUT,
                max_message_size: 1 << 20,
                tls: None,
                cancel: &cancel,
            })
            .expect("the memory adapter dials");
        let peer = peers.try_recv().expect("the peer end");
        let (commands_tx, commands) = command_queue(8, &Arc::default());
        let latency = Arc::new(Mutex::new(Latency::default()));
        let session = crate::session::SessionCell::default();
        let opts = LinkOptions::<Discord> {
            label: "7".into(),
            event_queue: 16,
            state: session.clone(),
            reader: DiscordReader {
                chunks: Arc::default(),
                decoding: Decoding {
                    compression: Compression::None,
                    payload_compression: false,
                    limit: 1 << 20,
                },
                filter: None,
            },
            commands,
            bell: Arc::default(),
            writer: WriterOptions {
                rate_limit: (120, Duration::from_secs(60)),
                retry: Arc::default(),
            },
            latency: latency.clone(),
            metrics: Arc::default(),
        };
        let threads = LinkThreads::start(conn, 1, opts).expect("threads start");
        Running {
            threads,
            peer,
            latency,
            session,
            _commands: commands_tx,
        }
    }

    fn hello(peer: &MemoryPeer, interval_ms: u64) {
        assert!(peer.send_text(&format!(
            r#"{{"op":10,"d":{{"heartbeat_interval":{interval_ms}}}}}"#
        )));
    }

    fn next(events: &Receiver<FromReader>) -> FromReader {
        events
            .recv_timeout(TIMEOUT)
            .expect("the reader hands it over")
    }

    #[test]
    fn frames_in_reach_the_caller_in_order() {
        let mut run = start();
        hello(&run.peer, 60_000);
        run.peer
            .send_text(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"x"}}"#);
        run.peer
            .send_text(r#"{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{}}"#);
        assert!(matches!(next(&run.threads.events), FromReader::Hello));
        let seqs: Vec<u64> = (0..2)
            .map(|_| match next(&run.threads.events) {
                FromReader::Dispatch(d) => d.seq(),
                _ => panic!("expected a dispatch"),
            })
            .collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(run.peer.header("user-agent"), Some("test"));
        run.threads.stop_and_join(Some((1000, "bye")));
        assert_eq!(run.peer.closed_with(TIMEOUT), Some(1000));
    }

    #[test]
    fn beats_go_out_on_schedule_with_the_last_delivered_sequence_and_acks_measure_latency() {
        let run = start();
        // The caller's loop has delivered up to s=5 (the reader may have read further).
        {
            let mut session = run.session.lock();
            session.on_ready(Some("a".into()), None, None);
            session.on_dispatch(5);
        }
        run.peer.send_text(r#"{"op":0,"s":6,"t":"X","d":{}}"#);
        hello(&run.peer, 20);
        for _ in 0..3 {
            let beat = run.peer.recv_text(TIMEOUT).expect("a heartbeat");
            assert_eq!(beat, r#"{"op":1,"d":5}"#);
            run.peer.send_text(r#"{"op":11}"#);
        }
        // The third ACK may still be on its way to the heartbeat thread.
        let deadline = Instant::now() + TIMEOUT;
        while run.latency.lock().acks_received() < 3 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let latency = run.latency.lock().clone();
        assert!(latency.heartbeats_sent() >= 3, "{latency:?}");
        assert_eq!(latency.acks_received(), 3);
        assert!(latency.recent().is_some() && latency.last_ack().is_some());
    }

    #[test]
    fn op_1_is_answered_at_once_and_priority_payloads_are_written() {
        let run = start();
        hello(&run.peer, 60_000);
        run.peer.send_text(r#"{"op":1,"d":null}"#);
        // The schedule's first beat is up to a minute away: this one answers op 1.
        assert_eq!(
            run.peer.recv_text(TIMEOUT).as_deref(),
            Some(r#"{"op":1,"d":null}"#)
        );
        run.threads
            .priority
            .send(Priority::Session(r#"{"op":2,"d":{}}"#.into()))
            .unwrap();
        assert_eq!(
            run.peer.recv_text(TIMEOUT).as_deref(),
            Some(r#"{"op":2,"d":{}}"#)
        );
    }

    #[test]
    fn a_stalled_peer_is_reported_as_a_zombie() {
        let run = start();
        hello(&run.peer, 10);
        // Never ACK: the second due beat finds nothing received since the first.
        let report = run.threads.reports.recv_timeout(TIMEOUT).expect("a report");
        assert_eq!((report.generation, report.ended), (1, Ended::Zombie));
    }

    #[test]
    fn a_close_frame_ends_the_connection_with_its_code() {
        let run = start();
        run.peer.close(4009, "session timed out");
        let ended = loop {
            if let FromReader::Ended(ended) = next(&run.threads.events) {
                break ended;
            }
        };
        assert_eq!(
            ended,
            Ended::Closed {
                code: Some(4009),
                reason: "session timed out".into()
            }
        );
    }

    #[test]
    fn a_peer_that_hangs_up_ends_the_connection_and_every_thread_joins() {
        let mut run = start();
        hello(&run.peer, 60_000);
        run.peer.hang_up();
        let ended = loop {
            if let FromReader::Ended(ended) = next(&run.threads.events) {
                break ended;
            }
        };
        assert_eq!(ended, Ended::Eof);
        run.threads.stop_and_join(None);
        assert!(run.peer.wait_client_gone(TIMEOUT));
    }
}
