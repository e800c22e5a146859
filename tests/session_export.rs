//! Sessions across restarts (issue 3, behaviour 7): `shutdown_resumable()` keeps the session
//! alive and exports it; a new shard configured with it resumes instead of identifying and
//! gets what was pushed in between exactly once. `shutdown()` ends the session with 1000.

mod resilience;

use resilience::*;
use serde_json::Value;
use std::time::Duration;
use syncord::{Event, Intents, Session, ShardState};

#[test]
fn an_exported_session_is_resumed_by_a_new_shard_with_nothing_lost_or_repeated() {
    let sim = sim();
    let (first, mut first_events, session_id) = spawn_plain_session(&sim);
    let seqs = push_messages_and_wait(&sim, &mut first_events, 0, 3, "the messages");
    let handle = first.handle().clone();
    assert_eq!(handle.session().map(|s| s.seq), Some(seqs[2]));

    let session = handle
        .shutdown_resumable()
        .expect("shutdown_resumable returns the session");
    first.join().unwrap();
    assert_eq!(handle.state(), ShardState::Stopped);
    assert_eq!(session.id, session_id);
    assert_eq!(session.seq, seqs[2], "the last delivered seq");
    assert_eq!(session.resume_url, sim.resume_url());
    let conn = wait_connection(&sim, 1);
    let (code, _) = wait_client_close(&sim, conn.id);
    assert!(
        code.is_some() && !matches!(code, Some(1000 | 1001)),
        "a resumable shutdown must not close with 1000/1001: {code:?}"
    );

    // Through a file or a database: JSON.
    let saved = serde_json::to_string(&session).unwrap();
    let fields: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(fields["id"], Value::from(session_id.clone()));
    assert_eq!(fields["seq"], Value::from(seqs[2]));
    let restored: Session = serde_json::from_str(&saved).unwrap();
    assert_eq!(restored, session);

    // Meanwhile the gateway keeps the session and buffers what happens.
    let missed = push_messages(&sim, 3, 4);

    let config = sim
        .client_config(Intents::non_privileged())
        .session(restored)
        .build()
        .expect("valid config");
    let (second, mut events) = spawn(config);
    let connecting = events.wait("Connecting", |e| matches!(e, Event::Connecting { .. }));
    match &connecting {
        Event::Connecting { url, resume, .. } => {
            assert!(*resume);
            assert!(url.starts_with(&sim.resume_url()), "{url}");
        }
        _ => unreachable!(),
    }
    events.wait_dispatch("RESUMED");
    let resume_conn = wait_connection(&sim, 2);
    assert_eq!(resume_conn.path, "/resume");
    let resumes = received_on(&sim, resume_conn.id, 6);
    assert_eq!(resumes.len(), 1);
    assert_eq!(resume_fields(&resumes[0]), (session_id.clone(), seqs[2]));
    assert!(
        received_on(&sim, resume_conn.id, 2).is_empty(),
        "no Identify"
    );
    assert_eq!(sim.received(2).len(), 1, "one Identify across both shards");
    assert_eq!(events.count(|e| matches!(e, Event::Ready(_))), 0);

    let live = push_messages(&sim, 7, 2);
    events.wait(
        "live messages",
        |e| matches!(e, Event::Dispatch(d) if d.seq() == live[1]),
    );
    assert_eq!(second.handle().session().unwrap().seq, live[1]);
    second.shutdown().unwrap();

    // Across both shards every seq arrived exactly once, in order.
    let mut all = first_events.dispatch_seqs();
    all.extend(events.dispatch_seqs());
    assert_consecutive_from_one(&all);
    let numbers: Vec<u64> = first_events
        .seen()
        .iter()
        .chain(events.seen())
        .filter_map(message_number)
        .collect();
    assert_eq!(numbers, (0..9).collect::<Vec<_>>());
    assert_eq!(
        events.dispatches()[..4]
            .iter()
            .map(|(_, s)| *s)
            .collect::<Vec<_>>(),
        missed,
        "the missed events come first, replayed"
    );
}

#[test]
fn shutdown_closes_with_1000_which_ends_the_session() {
    let sim = sim();
    let (thread, mut events, _) = spawn_plain_session(&sim);
    events.wait_dispatch("READY");
    let snapshot = thread.handle().session().expect("a session");
    thread.shutdown().unwrap();
    let conn = wait_connection(&sim, 1);
    assert_eq!(wait_client_close(&sim, conn.id).0, Some(1000));

    // The session is gone: a shard trying to resume it is told so and identifies.
    let (second, _events) = spawn_resuming_unknown_session(
        &sim,
        snapshot,
        Duration::from_millis(10)..=Duration::from_millis(20),
    );
    second.shutdown().unwrap();
    assert_eq!(sim.received(2).len(), 2, "a new session was identified");
}

#[test]
fn a_session_exported_from_inside_the_handler_resumes_after_the_current_event() {
    let sim = sim();
    let shard = syncord::Shard::with_config(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    let handle = shard.handle();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (session_tx, session_rx) = crossbeam_channel::bounded(1);
    let thread = shard
        .spawn(move |event| {
            let stop = message_number(&event) == Some(1);
            let _ = tx.send(event);
            if stop {
                let _ = session_tx.send(handle.shutdown_resumable());
            }
        })
        .unwrap();
    let mut first_events = Events::new(rx);
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    push_messages(&sim, 0, 3);
    let session = session_rx
        .recv_timeout(TIMEOUT)
        .unwrap()
        .expect("a session to export");
    thread.join().unwrap();
    first_events.drain_until_closed(TIMEOUT);
    let delivered = *first_events.dispatch_seqs().last().unwrap();
    assert_eq!(
        session.seq, delivered,
        "the event being handled was delivered"
    );

    let (second, mut events) = spawn(
        sim.client_config(Intents::non_privileged())
            .session(session)
            .build()
            .expect("valid config"),
    );
    events.wait_dispatch("RESUMED");
    second.shutdown().unwrap();
    let mut all = first_events.dispatch_seqs();
    all.extend(events.dispatch_seqs());
    assert_consecutive_from_one(&all);
}

#[test]
fn shutdown_resumable_is_bounded_while_the_handler_is_busy_and_its_session_is_right() {
    let sim = resilience::sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .build()
        .expect("valid config");
    let (thread, mut events, handle, gate) = resilience::spawn_blocking_on_message_zero(config);
    events.wait_dispatch("READY");
    let seqs = resilience::push_messages(&sim, 0, 1);
    events.wait("message 0", |e| resilience::message_number(e) == Some(0));
    // The handler is blocked on message 0 for up to a minute.
    let started = std::time::Instant::now();
    let session = handle.shutdown_resumable().expect("a session");
    let waited = started.elapsed();
    assert!(
        waited >= syncord::RESUMABLE_SHUTDOWN_WAIT && waited < syncord::RESUMABLE_SHUTDOWN_WAIT * 3,
        "waited {waited:?}"
    );
    // Message 0 was handed to the handler: a resume starts after it.
    assert_eq!(session.seq, seqs[0]);
    gate.send(()).unwrap();
    thread.join().unwrap();
}
