//! Every row of the hostile-input table (crate docs, "Hostile input") end to end: the
//! simulator sends the bad bytes, the shard reacts as documented, never panics or hangs,
//! and the next good event still arrives exactly once.

mod resilience;

use crossbeam_channel::Receiver;
use resilience::{spawn_forwarding, wait_event};
use std::time::{Duration, Instant};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Backoff, Compression, ConfigBuilder, ErrorKind, Event, Intents, ShardThread};

const WAIT: Duration = Duration::from_secs(20);

/// How the shard must react to one kind of bad input.
#[derive(Debug, PartialEq)]
enum Reaction {
    /// Report it as an `Event::Error` and carry on on the same connection.
    SkipAndReport,
    /// Close the connection and resume the session.
    CloseAndResume,
}

struct Harness {
    sim: Simulator,
    shard: ShardThread,
    events: Receiver<Event>,
}

impl Harness {
    fn start(mode: Compression, adjust: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Harness {
        Harness::start_with(SimConfig::default(), mode, adjust)
    }

    fn start_with(
        sim_config: SimConfig,
        mode: Compression,
        adjust: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Harness {
        let sim = Simulator::start(sim_config).unwrap();
        let config = adjust(
            sim.client_config(Intents::GUILD_MESSAGES)
                .compression(mode)
                .backoff(Backoff {
                    base: Duration::from_millis(10),
                    max: Duration::from_millis(50),
                    reset_after: Duration::ZERO,
                }),
        )
        .build()
        .expect("valid config");
        let (shard, events) = spawn_forwarding(config);
        let harness = Harness { sim, shard, events };
        harness.next("Ready", |e| matches!(e, Event::Ready(_)));
        harness
    }

    fn next(&self, what: &str, predicate: impl FnMut(&Event) -> bool) -> Event {
        wait_event(&self.events, WAIT, what, predicate)
    }

    /// Injects bad input and checks the reaction, then that a good event still arrives once.
    fn check(self, inject: impl FnOnce(&Simulator), expected: Reaction) -> Harness {
        let connections_before = self.sim.connections();
        inject(&self.sim);
        let seq = self.sim.push("GOOD", r#"{"after":"bad input"}"#).unwrap();
        let mut saw_error = false;
        let mut saw_resumed = false;
        let mut good = 0;
        let deadline = Instant::now() + WAIT;
        while good == 0 || (expected == Reaction::CloseAndResume && !saw_resumed) {
            match self
                .events
                .recv_deadline(deadline)
                .expect("the good event arrives")
            {
                Event::Error { kind, message } => {
                    assert_eq!(kind, ErrorKind::SkippedPayload, "{message}");
                    saw_error = true;
                }
                Event::Resumed { .. } => saw_resumed = true,
                Event::Dispatch(d) if d.event_type() == "GOOD" => {
                    assert_eq!(d.seq(), seq);
                    good += 1;
                }
                _ => {}
            }
        }
        let reconnected = self.sim.connections() > connections_before;
        match expected {
            Reaction::SkipAndReport => {
                assert!(saw_error, "the bad input was not reported");
                assert!(
                    !reconnected && !saw_resumed,
                    "skipping must keep the connection"
                );
            }
            Reaction::CloseAndResume => {
                assert!(reconnected && saw_resumed, "expected a resume");
            }
        }
        // Exactly once: nothing more of it follows.
        self.sim.push("MARK", "null").unwrap();
        self.next(
            "MARK",
            |e| matches!(e, Event::Dispatch(d) if d.event_type() == "MARK"),
        );
        self
    }

    fn stop(self) {
        self.shard.shutdown().unwrap();
    }
}

fn all_modes() -> Vec<Compression> {
    vec![
        Compression::None,
        Compression::ZlibStream,
        Compression::ZstdStream,
    ]
}

#[test]
fn malformed_json_payloads_are_skipped_and_reported() {
    for mode in all_modes() {
        let cases = [
            "{not json",
            "[1,2,3]",
            r#"{"op":"zero","d":null}"#,
            r#"{"d":{"missing":"op"}}"#,
            r#"{"op":42,"d":null}"#,
            r#"{"op":0,"s":999999,"d":{"no":"t"}}"#,
            r#"{"op":0,"t":"NO_S","d":{}}"#,
            r#"{"op":300,"d":null}"#,
            r#"{"op":0,"s":-5,"t":"NEGATIVE","d":null}"#,
            r#"{"op":0,"s":1e40,"t":"HUGE","d":null}"#,
            // Well-formed up to `d`, the part the reader reads; the caller's thread finds
            // the rest broken.
            r#"{"t":"BROKEN_TAIL","s":999998,"op":0,"d":{"open":[}"#,
            r#"{"t":"DUPLICATE_S","s":999997,"op":0,"d":{},"s":999996}"#,
            r#"{"t":"TRAILING","s":999995,"op":0,"d":{}} junk"#,
        ];
        let mut h = Harness::start(mode, |c| c);
        for case in cases {
            eprintln!("{mode:?}: {case}");
            h = h.check(|sim| assert!(sim.send_text(case)), Reaction::SkipAndReport);
        }
        h.stop();
    }
}

#[test]
fn a_skipped_dispatch_does_not_move_the_heartbeat_sequence() {
    let sim_config = SimConfig::default().heartbeat_interval(Duration::from_millis(100));
    let h = Harness::start_with(sim_config, Compression::ZstdStream, |c| c);
    let good = h.sim.push("GOOD", "{}").unwrap();
    h.next(
        "the good dispatch",
        |e| matches!(e, Event::Dispatch(d) if d.seq() == good),
    );
    // The reader reads `s` before the caller's thread finds the rest broken.
    assert!(h
        .sim
        .send_text(r#"{"t":"BROKEN","s":999998,"op":0,"d":{"open":[}"#));
    h.next(
        "Error",
        |e| matches!(e, Event::Error { kind, .. } if *kind == ErrorKind::SkippedPayload),
    );
    let after = Instant::now();
    // The second beat after the report: the first may have left before it.
    let beat = h
        .sim
        .wait_for_nth(WAIT, 2, |r| r.at > after && r.op() == Some(1))
        .expect("heartbeats go on");
    let beat: serde_json::Value = serde_json::from_str(beat.json().unwrap()).unwrap();
    assert_eq!(beat["d"], good, "{beat}");
    h.stop();
}

#[test]
fn ten_thousand_deep_nesting_is_delivered_raw_and_fails_typed_parsing_without_overflow() {
    for mode in all_modes() {
        let h = Harness::start(mode, |c| c);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let seq = h.sim.push("DEEP", &deep).unwrap();
        match h.next(
            "DEEP",
            |e| matches!(e, Event::Dispatch(d) if d.event_type() == "DEEP"),
        ) {
            Event::Dispatch(d) => {
                assert_eq!(d.seq(), seq);
                assert_eq!(d.data_json().len(), 20_000);
                let typed = d.data::<serde_json::Value>();
                assert!(
                    typed.is_err(),
                    "serde_json's recursion limit stops typed parsing"
                );
            }
            _ => unreachable!(),
        }
        // A deep payload that is not a valid dispatch is skipped like any malformed one.
        let invalid = format!(r#"{{"op":0,"t":"DEEP","d":{}}}"#, "[".repeat(10_000));
        h.check(
            |sim| assert!(sim.send_text(&invalid)),
            Reaction::SkipAndReport,
        )
        .stop();
    }
}

#[test]
fn a_text_frame_that_is_not_utf8_closes_and_resumes() {
    for mode in all_modes() {
        let h = Harness::start(mode, |c| c);
        // FIN + text opcode, 3 bytes of invalid UTF-8, unmasked as a server sends.
        h.check(
            |sim| assert!(sim.send_raw_frame(&[0x81, 0x03, 0xff, 0xfe, 0xfd])),
            Reaction::CloseAndResume,
        )
        .stop();
    }
}

#[test]
fn a_binary_frame_without_compression_is_skipped_and_reported() {
    Harness::start(Compression::None, |c| c)
        .check(
            |sim| assert!(sim.send_binary(b"\x00\x01binary")),
            Reaction::SkipAndReport,
        )
        .stop();
}

#[test]
fn a_corrupt_compressed_stream_closes_and_resumes() {
    for mode in [Compression::ZlibStream, Compression::ZstdStream] {
        Harness::start(mode, |c| c)
            .check(
                |sim| assert!(sim.send_binary(b"\xde\xad\xbe\xef garbage\x00\x00\xff\xff")),
                Reaction::CloseAndResume,
            )
            .stop();
    }
}

#[test]
fn payload_compression_inflates_binary_frames() {
    let h = Harness::start(Compression::None, |c| c.payload_compression(true));
    let identify = h.sim.received(2).pop().unwrap().data().unwrap();
    assert_eq!(identify["compress"], true);
    // Large payloads come as standalone zlib streams in binary frames.
    let big = format!(r#"{{"content":"{}"}}"#, "z".repeat(5000));
    let seq = h.sim.push("BIG", &big).unwrap();
    match h.next(
        "BIG",
        |e| matches!(e, Event::Dispatch(d) if d.event_type() == "BIG"),
    ) {
        Event::Dispatch(d) => {
            assert_eq!(d.seq(), seq);
            assert_eq!(d.data_json(), big);
        }
        _ => unreachable!(),
    }
    // A corrupt one is skipped and reported.
    h.check(
        |sim| assert!(sim.send_binary(b"\x78\x9c not really zlib")),
        Reaction::SkipAndReport,
    )
    .stop();
}

#[test]
fn a_message_over_the_size_limit_closes_resumes_and_is_skipped_if_it_repeats() {
    for mode in all_modes() {
        let h = Harness::start(mode, |c| c.max_message_size(64 * 1024));
        let huge = format!(r#"{{"content":"{}"}}"#, "h".repeat(200 * 1024));
        let huge_seq = h.sim.push("HUGE", &huge).unwrap();
        let reason = match h.next("Disconnected", |e| matches!(e, Event::Disconnected { .. })) {
            Event::Disconnected { reason, .. } => reason,
            _ => unreachable!(),
        };
        assert!(reason.contains("too large"), "{mode:?}: {reason}");
        // The replay fails the same way once more, then the shard resumes past it.
        let message = match h.next("Error", |e| matches!(e, Event::Error { .. })) {
            Event::Error { kind, message } => {
                assert_eq!(kind, ErrorKind::OversizedMessage, "{mode:?}: {message}");
                message
            }
            _ => unreachable!(),
        };
        assert!(message.contains(&format!("s={huge_seq}")), "{message}");
        h.next("Resumed", |e| matches!(e, Event::Resumed { .. }));
        let seq = h.sim.push("GOOD", "null").unwrap();
        match h.next(
            "a dispatch after RESUMED",
            |e| matches!(e, Event::Dispatch(d) if d.event_type() != "RESUMED"),
        ) {
            Event::Dispatch(d) => {
                assert_eq!((d.event_type(), d.seq()), ("GOOD", seq), "{mode:?}");
            }
            _ => unreachable!(),
        }
        h.stop();
    }
}

#[test]
fn a_hello_without_a_valid_interval_closes_and_resumes() {
    Harness::start(Compression::ZlibStream, |c| c)
        .check(
            |sim| assert!(sim.send_text(r#"{"op":10,"d":{"heartbeat_interval":"soon"}}"#)),
            Reaction::CloseAndResume,
        )
        .stop();
}

#[test]
fn a_ready_without_session_id_is_reported_and_not_resumable() {
    let h = Harness::start(Compression::None, |c| c);
    h.sim
        .push("READY", r#"{"v":10,"user":{"id":"1"}}"#)
        .unwrap();
    match h.next("Error", |e| matches!(e, Event::Error { .. })) {
        Event::Error { kind, message } => {
            assert_eq!(kind, ErrorKind::ReadyWithoutSession, "{message}");
            assert!(message.contains("session_id"), "{message}");
        }
        _ => unreachable!(),
    }
    assert!(h.shard.handle().session().is_none());
    h.stop();
}
