//! Handler panics (issue 3, behaviour 8): caught, reported as `Event::Error`, and the
//! shard carries on; with `stop_on_handler_panic(true)` `run` ends with `HandlerPanicked`.

mod resilience;

use crossbeam_channel::unbounded;
use resilience::*;
use std::time::Duration;
use syncord::sim::RecordKind;
use syncord::{Error, Event, Intents, Shard, ShardState};

/// A handler that forwards every event, then panics on message 1 and on `Connected`.
fn panicking_forwarder(tx: crossbeam_channel::Sender<Event>) -> impl FnMut(Event) + Send {
    move |event| {
        let boom = message_number(&event) == Some(1);
        let connected = matches!(event, Event::Connected);
        let _ = tx.send(event);
        if boom {
            panic!("boom on message 1");
        }
        if connected {
            panic!("boom on connected");
        }
    }
}

#[test]
fn a_panicking_handler_is_reported_and_dispatching_goes_on() {
    let sim = sim();
    let (tx, rx) = unbounded();
    let thread = Shard::with_config(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    )
    .spawn(panicking_forwarder(tx))
    .unwrap();
    let mut events = Events::new(rx);
    events.wait_dispatch("READY");
    push_messages(&sim, 0, 4);
    events.wait("message 3", |e| message_number(e) == Some(3));
    thread.shutdown().unwrap();
    events.drain_until_closed(TIMEOUT);

    let numbers: Vec<u64> = events.seen().iter().filter_map(message_number).collect();
    assert_eq!(numbers, [0, 1, 2, 3], "dispatching went on after the panic");
    let errors: Vec<String> = events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::Error { kind, message } => {
                assert_eq!(*kind, syncord::ErrorKind::HandlerPanicked, "{message}");
                Some(message.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("connected") && errors[0].contains("boom on connected"),
        "a panic in a lifecycle event is reported too: {}",
        errors[0]
    );
    assert!(
        errors[1].contains("MESSAGE_CREATE") && errors[1].contains("boom on message 1"),
        "the report names the event and the panic message: {}",
        errors[1]
    );
    // The error is reported right after the event that panicked.
    let position = |pred: &dyn Fn(&Event) -> bool| events.seen().iter().position(pred).unwrap();
    let panicked_at = position(&|e| message_number(e) == Some(1));
    let reported_at = position(
        &|e| matches!(e, Event::Error { message, .. } if message.contains("boom on message")),
    );
    assert_eq!(reported_at, panicked_at + 1);
    // The connection was not touched.
    assert_eq!(connections(&sim).len(), 1);
    assert_eq!(
        events.count(|e| matches!(e, Event::Reconnecting { .. })),
        0,
        "{:#?}",
        events.seen()
    );
    assert_consecutive_from_one(&events.dispatch_seqs());
}

#[test]
fn with_stop_on_handler_panic_run_ends_with_handler_panicked() {
    let sim = sim();
    let (tx, rx) = unbounded();
    let shard = Shard::with_config(
        sim.client_config(Intents::non_privileged())
            .stop_on_handler_panic(true)
            .build()
            .expect("valid config"),
    );
    let handle = shard.handle();
    let thread = shard
        .spawn(move |event| {
            let boom = message_number(&event) == Some(1);
            let _ = tx.send(event);
            if boom {
                panic!("boom on message 1");
            }
        })
        .unwrap();
    let mut events = Events::new(rx);
    events.wait_dispatch("READY");
    push_messages(&sim, 0, 3);

    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = done_tx.send(thread.join());
    });
    let result = done_rx
        .recv_timeout(TIMEOUT)
        .expect("run returns by itself after the panic");
    match result {
        Err(Error::HandlerPanicked { event, message }) => {
            assert!(event.contains("MESSAGE_CREATE"), "{event}");
            assert_eq!(message, "boom on message 1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(handle.state(), ShardState::FatallyClosed);
    events.drain_until_closed(TIMEOUT);
    let numbers: Vec<u64> = events.seen().iter().filter_map(message_number).collect();
    assert_eq!(
        numbers,
        [0, 1],
        "nothing is dispatched after the fatal panic"
    );
    assert_eq!(events.count(|e| matches!(e, Event::Error { .. })), 0);
    // The connection was closed by the client, and never reopened.
    let conn = wait_connection(&sim, 1);
    assert!(sim
        .wait_for(Duration::from_secs(5), |r| r.connection == conn.id
            && matches!(
                r.kind,
                RecordKind::ClosedByClient { .. } | RecordKind::Disconnected
            ))
        .is_some());
    assert_eq!(connections(&sim).len(), 1);
}
