//! A session that is given up is announced (`Event::SessionLost`), and a loop of identical
//! failures before READY is reported once, with what to check, while retries go on.

mod resilience;

use resilience::*;
use std::time::Duration;
use syncord::sim::ConnectionFault;
use syncord::{Event, Intents};

fn is_lost(e: &Event) -> bool {
    matches!(e, Event::SessionLost { .. })
}

/// A GUILDS shard with short op 9 delays and backoff, READY and two messages delivered.
fn ready_with_two_messages(
    sim: &syncord::sim::Simulator,
) -> (syncord::ShardThread, Events, String) {
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(quick_backoff())
        .invalid_session_delay(Duration::from_millis(10)..=Duration::from_millis(20))
        .build()
        .expect("valid config");
    let (thread, mut events, session) = spawn_session(sim, config);
    events.wait_dispatch("READY");
    push_messages_and_wait(sim, &mut events, 0, 2, "both messages");
    (thread, events, session)
}

#[test]
fn op_9_false_announces_the_lost_session_with_its_last_sequence() {
    let sim = sim();
    let (thread, mut events, old) = ready_with_two_messages(&sim);
    let last = *events.dispatch_seqs().last().expect("dispatches");
    assert!(sim.invalidate_session(false));
    let lost = events.wait("SessionLost", is_lost);
    let Event::SessionLost {
        session_id,
        last_seq,
        reason,
    } = lost
    else {
        unreachable!()
    };
    assert_eq!((session_id.as_str(), last_seq), (old.as_str(), last));
    assert!(reason.contains("op 9"), "{reason}");
    // A new session follows.
    events.wait("a new READY", |e| matches!(e, Event::Ready(_)));
    assert_ne!(sim.wait_for_session(TIMEOUT).expect("a session"), old);
    thread.shutdown().unwrap();
}

#[test]
fn close_codes_discord_does_not_resume_after_announce_the_lost_session() {
    for code in [4007, 4009] {
        let sim = sim();
        let (thread, mut events, old) = ready_with_two_messages(&sim);
        assert!(sim.close(code));
        let lost = events.wait("SessionLost", is_lost);
        assert!(
            matches!(&lost, Event::SessionLost { session_id, reason, .. }
                if *session_id == old && reason.contains(&code.to_string())),
            "{code}: {lost:?}"
        );
        events.wait("a new READY", |e| matches!(e, Event::Ready(_)));
        thread.shutdown().unwrap();
    }
}

#[test]
fn a_resumed_session_is_not_announced_as_lost() {
    let sim = sim();
    let (thread, mut events, _) = ready_with_two_messages(&sim);
    assert!(sim.invalidate_session(true));
    events.wait("Resumed", |e| matches!(e, Event::Resumed { .. }));
    assert!(sim.close(4000));
    events.wait("Resumed again", |e| matches!(e, Event::Resumed { .. }));
    push_messages_and_wait(&sim, &mut events, 2, 1, "a message after the resumes");
    thread.shutdown().unwrap();
    assert_eq!(events.count(is_lost), 0, "{:?}", events.seen());
}

#[test]
fn identical_failures_before_ready_are_reported_once_and_retrying_goes_on() {
    let sim = sim();
    sim.fault_next(ConnectionFault::Refuse, 5);
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(quick_backoff())
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    // Five refused dials, then the sixth connects.
    events.wait_dispatch("READY");
    let warnings: Vec<String> = events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::Error {
                kind: syncord::ErrorKind::RepeatedFailures,
                message,
            } if message.contains("in a row") => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", events.seen());
    assert!(warnings[0].contains("could not connect"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("check the gateway URL"),
        "{}",
        warnings[0]
    );
    let dials = events.count(|e| matches!(e, Event::Connecting { .. }));
    assert_eq!(dials, 6);
    thread.shutdown().unwrap();
}
