//! Exactly once, in order (issue 3, behaviour 6): events read before a connection ended
//! are delivered before the next connection's, however it ended; a jump in `s` is reported
//! as `SequenceGap`; a repeated `s` is not delivered twice.

mod resilience;

use resilience::*;
use std::time::Duration;
use syncord::{Event, Intents, ShardHandle};

/// Waits (at heartbeat pace) until the reader has queued `depth` events.
fn wait_queue_depth(sim: &syncord::sim::Simulator, handle: &ShardHandle, depth: usize) {
    let mut beats = sim.received(1).len();
    while handle.queue_depth() < depth {
        beats += 1;
        sim.wait_for_nth(TIMEOUT, beats, |r| r.op() == Some(1))
            .unwrap_or_else(|| panic!("queue depth stuck at {}", handle.queue_depth()));
    }
}

/// Index of the first event matching `pred`.
fn index(events: &Events, pred: impl Fn(&Event) -> bool) -> usize {
    events
        .seen()
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("not found in {:#?}", events.seen()))
}

fn assert_disconnect_between(events: &Events, last_before: u64, first_after: u64) {
    let numbers: Vec<u64> = events.seen().iter().filter_map(message_number).collect();
    assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>());
    let disconnected = index(events, |e| matches!(e, Event::Disconnected { .. }));
    let before = index(events, |e| message_number(e) == Some(last_before));
    let after = index(events, |e| message_number(e) == Some(first_after));
    assert!(
        before < disconnected && disconnected < after,
        "everything read before the disconnect comes first: {:#?}",
        events.seen()
    );
    assert_consecutive_from_one(&events.dispatch_seqs());
}

/// Starts a shard whose handler blocks on message 0 (until the test sends on the returned
/// gate), pushes messages 0 to 20 and waits until the twenty after message 0 are queued.
fn blocked_with_twenty_queued(
    sim: &syncord::sim::Simulator,
) -> (syncord::ShardThread, Events, crossbeam_channel::Sender<()>) {
    let (thread, mut events, handle, gate) = spawn_blocking_on_message_zero(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    push_messages(sim, 0, 1);
    events.wait("the blocking message", |e| message_number(e) == Some(0));
    push_messages(sim, 1, 20);
    wait_queue_depth(sim, &handle, 20);
    (thread, events, gate)
}

#[test]
fn events_queued_before_a_close_are_delivered_before_the_next_connections() {
    let sim = sim();
    let (thread, mut events, gate) = blocked_with_twenty_queued(&sim);
    assert!(sim.close(4000));
    // Pushed while the client is away: replayed on the next connection.
    wait_connection(&sim, 1);
    sim.wait_for(TIMEOUT, |r| {
        matches!(r.kind, syncord::sim::RecordKind::ClosedByServer { .. })
    })
    .unwrap();
    push_messages(&sim, 21, 5);
    gate.send(()).unwrap();
    events.wait("the last message", |e| message_number(e) == Some(25));
    thread.shutdown().unwrap();
    assert_disconnect_between(&events, 20, 21);
}

#[test]
fn events_queued_when_a_zombie_is_detected_are_delivered_before_the_next_connections() {
    let interval = Duration::from_millis(100);
    let sim = sim_with_interval(interval);
    let (thread, mut events, gate) = blocked_with_twenty_queued(&sim);

    // Silence: the writer's heartbeat timer declares the connection dead while the handler
    // is still busy and twenty events wait in the queue.
    sim.set_acks(false);
    // Nothing arrives from now on, so the zombie check fires within two intervals of the
    // last ACK. This pause is the scenario; the handler is blocked all along.
    assert!(events.next_within(5 * interval).is_none());
    sim.set_acks(true);
    gate.send(()).unwrap();
    events.wait_dispatch("RESUMED");
    push_messages(&sim, 21, 3);
    events.wait("the last message", |e| message_number(e) == Some(23));
    thread.shutdown().unwrap();

    match &events.seen()[index(&events, |e| matches!(e, Event::Disconnected { .. }))] {
        Event::Disconnected { reason, .. } => assert!(reason.contains("zombie"), "{reason}"),
        _ => unreachable!(),
    }
    assert_disconnect_between(&events, 20, 21);
}

#[test]
fn a_jump_in_the_sequence_is_reported_as_a_gap() {
    let sim = sim();
    let (thread, mut events, _) = spawn_plain_session(&sim);
    let seqs = push_messages_and_wait(&sim, &mut events, 0, 2, "the messages");
    assert!(sim.send_text(r#"{"op":0,"s":50,"t":"MESSAGE_CREATE","d":{"n":99}}"#));
    let gap = events.wait("SequenceGap", |e| matches!(e, Event::SequenceGap { .. }));
    assert!(
        matches!(gap, Event::SequenceGap { expected, received: 50 } if expected == seqs[1] + 1),
        "{gap:?}"
    );
    // The event after the gap is still delivered, right after the report.
    events.wait("the event after the gap", |e| message_number(e) == Some(99));
    let reported = index(&events, |e| matches!(e, Event::SequenceGap { .. }));
    let delivered = index(&events, |e| message_number(e) == Some(99));
    assert_eq!(delivered, reported + 1);
    thread.shutdown().unwrap();
}

#[test]
fn a_repeated_sequence_number_is_not_delivered_twice() {
    let sim = sim();
    let (thread, mut events, _) = spawn_plain_session(&sim);
    let seqs = push_messages_and_wait(&sim, &mut events, 0, 2, "the messages");
    let repeat = format!(
        r#"{{"op":0,"s":{},"t":"MESSAGE_CREATE","d":{{"n":1}}}}"#,
        seqs[1]
    );
    assert!(sim.send_text(&repeat));
    let next = push_messages(&sim, 2, 1);
    events.wait(
        "the next message",
        |e| matches!(e, Event::Dispatch(d) if d.seq() == next[0]),
    );
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
    assert_eq!(events.count(|e| matches!(e, Event::SequenceGap { .. })), 0);
}
