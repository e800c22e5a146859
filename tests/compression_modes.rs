//! The handshake, dispatch order and resume, in every compression mode (issue 4). The rest
//! of the suite runs in each mode too: CI sets `SYNCORD_SIM_COMPRESSION`.

mod resilience;

use crossbeam_channel::Receiver;
use resilience::{spawn_forwarding, wait_event_until};
use std::time::{Duration, Instant};
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Compression, Event, Intents, ShardThread};

const WAIT: Duration = Duration::from_secs(30);

fn modes() -> [Compression; 3] {
    [
        Compression::None,
        Compression::ZlibStream,
        Compression::ZstdStream,
    ]
}

fn start(sim: &Simulator, mode: Compression) -> (ShardThread, Receiver<Event>) {
    let config = sim
        .client_config(Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES)
        .compression(mode)
        .build()
        .expect("valid config");
    spawn_forwarding(config)
}

fn next_dispatch(rx: &Receiver<Event>, deadline: Instant) -> syncord::Dispatch {
    match wait_event_until(rx, deadline, "a dispatch", |e| {
        matches!(e, Event::Dispatch(_))
    }) {
        Event::Dispatch(d) => d,
        _ => unreachable!(),
    }
}

#[test]
fn handshake_asks_for_the_mode_and_reaches_ready() {
    for mode in modes() {
        let sim = Simulator::start(SimConfig::default().guilds(3)).unwrap();
        let (shard, events) = start(&sim, mode);
        let deadline = Instant::now() + WAIT;
        let ready = next_dispatch(&events, deadline);
        assert_eq!((ready.event_type(), ready.seq()), ("READY", 1));
        for s in 2..=4 {
            let guild = next_dispatch(&events, deadline);
            assert_eq!((guild.event_type(), guild.seq()), ("GUILD_CREATE", s));
        }
        let query = sim.records().into_iter().find_map(|r| match r.kind {
            RecordKind::Connected { query, .. } => Some(query),
            _ => None,
        });
        let query = query.expect("a connection");
        match mode.query_value() {
            Some(value) => assert!(query.ends_with(&format!("&compress={value}")), "{query}"),
            None => assert!(!query.contains("compress"), "{query}"),
        }
        shard.shutdown().unwrap();
    }
}

#[test]
fn ten_thousand_dispatches_keep_their_order_including_split_zlib_messages() {
    for mode in modes() {
        // Small zlib frames: most messages span several websocket frames.
        let sim = Simulator::start(SimConfig::default().zlib_frame_size(64)).unwrap();
        let (shard, events) = start(&sim, mode);
        let deadline = Instant::now() + WAIT;
        assert_eq!(next_dispatch(&events, deadline).event_type(), "READY");
        sim.wait_for_session(WAIT).unwrap();
        let pusher = std::thread::spawn(move || {
            for i in 0..10_000 {
                let content = "m".repeat(i % 700);
                sim.push(
                    "MESSAGE_CREATE",
                    &format!(r#"{{"i":{i},"content":"{content}"}}"#),
                );
            }
            sim
        });
        for i in 0..10_000u64 {
            let d = next_dispatch(&events, deadline);
            assert_eq!(d.seq(), i + 2, "{mode:?}");
            assert!(
                d.data_json().starts_with(&format!(r#"{{"i":{i},"#)),
                "{mode:?}"
            );
        }
        let _sim = pusher.join().unwrap();
        shard.shutdown().unwrap();
    }
}

#[test]
fn resume_replays_missed_events_with_a_fresh_context() {
    for mode in modes() {
        let sim = Simulator::start(SimConfig::default()).unwrap();
        let (shard, events) = start(&sim, mode);
        let deadline = Instant::now() + WAIT;
        next_dispatch(&events, deadline);
        sim.push("BEFORE", "1").unwrap();
        assert_eq!(next_dispatch(&events, deadline).event_type(), "BEFORE");
        sim.drop_connection();
        // Pushed while the client reconnects: buffered by the session, replayed on resume
        // through the new connection's new compression context.
        for _ in 0..5 {
            sim.push("MISSED", r#"{"while":"disconnected"}"#);
        }
        sim.push("AFTER", "2").unwrap();
        // The resume may land before, between or after those pushes: whatever the timing,
        // seqs 3 to 9 (5 MISSED, AFTER, RESUMED in some order) arrive once each, in order.
        let mut seen = Vec::new();
        loop {
            let d = next_dispatch(&events, deadline);
            seen.push((d.event_type().to_owned(), d.seq()));
            let has = |name: &str| seen.iter().any(|(t, _)| t == name);
            if has("AFTER") && has("RESUMED") {
                break;
            }
        }
        let seqs: Vec<u64> = seen.iter().map(|(_, s)| *s).collect();
        assert_eq!(seqs, (3..=9).collect::<Vec<u64>>(), "{mode:?} {seen:?}");
        let count = |name: &str| seen.iter().filter(|(t, _)| t == name).count();
        assert_eq!(
            (count("MISSED"), count("RESUMED")),
            (5, 1),
            "{mode:?} {seen:?}"
        );
        shard.shutdown().unwrap();
    }
}
