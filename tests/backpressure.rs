//! Slow handlers (issue 3, behaviour 10): a handler that blocks while the gateway keeps
//! sending fills the bounded event queue and pauses reading; heartbeats keep flowing, no
//! zombie is declared, nothing is dropped, and the slow call is reported in the log.

mod resilience;

use resilience::*;
use std::sync::Mutex;
use std::time::Duration;
use syncord::sim::RecordKind;
use syncord::{Event, Intents};

/// Collects warnings so the test can check the slow-handler report.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn a_blocked_handler_pauses_reading_without_a_false_zombie_and_loses_nothing() {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Warn);
    let sim = sim(); // 100 ms heartbeats
    let capacity = 8;
    let config = sim
        .client_config(Intents::non_privileged())
        .event_queue(capacity)
        .slow_handler_warning(Duration::from_millis(300))
        .build()
        .expect("valid config");
    // The handler blocks on message 0: the test decides when that callback returns.
    let (thread, mut events, handle, gate_tx) = spawn_blocking_on_message_zero(config);
    events.wait_dispatch("READY");
    let conn = wait_connection(&sim, 1);

    push_messages(&sim, 0, 1);
    events.wait("message 0: the handler is now blocked", |e| {
        message_number(e) == Some(0)
    });
    let total = 100;
    push_messages(&sim, 1, total);

    // The reader fills the queue to its capacity, then waits. Checked at each heartbeat.
    let mut beats = received_on(&sim, conn.id, 1).len();
    let mut depth = handle.queue_depth();
    while depth < capacity {
        beats += 1;
        sim.wait_for_nth(TIMEOUT, beats, |r| {
            r.connection == conn.id && r.op() == Some(1)
        })
        .unwrap_or_else(|| panic!("heartbeats stopped; queue depth {depth}"));
        depth = handle.queue_depth();
    }
    assert_eq!(depth, capacity, "the queue is bounded");

    // Stay blocked for ten more heartbeat intervals: heartbeats go on, no zombie.
    let blocked_beats = beats + 10;
    sim.wait_for_nth(TIMEOUT, blocked_beats, |r| {
        r.connection == conn.id && r.op() == Some(1)
    })
    .expect("heartbeats keep flowing while the handler is blocked");
    assert_eq!(
        handle.queue_depth(),
        capacity,
        "still bounded, nothing more buffered"
    );
    assert!(
        !sim.records().iter().any(|r| matches!(
            r.kind,
            RecordKind::ClosedByClient { .. } | RecordKind::Disconnected
        )),
        "the connection was dropped while the handler was slow: {:#?}",
        sim.records()
    );
    assert_eq!(connections(&sim).len(), 1);

    gate_tx.send(()).unwrap();
    events.wait("the last message", |e| message_number(e) == Some(total));
    assert_eq!(connections(&sim).len(), 1, "no reconnect at all");
    assert_eq!(
        events.count(|e| matches!(e, Event::Disconnected { .. } | Event::Reconnecting { .. })),
        0
    );
    let numbers: Vec<u64> = events.seen().iter().filter_map(message_number).collect();
    assert_eq!(
        numbers,
        (0..=total).collect::<Vec<_>>(),
        "every event, in order"
    );
    assert_consecutive_from_one(&events.dispatch_seqs());
    thread.shutdown().unwrap();

    let warnings = CAPTURE.0.lock().unwrap().clone();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("MESSAGE_CREATE") && w.contains("handler took")),
        "the slow callback is reported, naming the event: {warnings:#?}"
    );
}
