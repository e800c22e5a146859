//! Resume and re-identify, end to end against the simulator (issue 3, behaviours 2, 6, 12):
//! which URL the next connection goes to, what it sends first, with which session and seq,
//! how long it waits, and that replayed events arrive exactly once.

mod resilience;

use resilience::*;
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, RecordKind, Simulator};
use syncord::{Backoff, Event, Intents, Session, ShardThread};

/// The seq of the last dispatch the handler received.
fn last_seq(events: &Events) -> u64 {
    *events.dispatch_seqs().last().expect("a dispatch arrived")
}

#[test]
fn op7_reconnects_at_once_and_resumes_on_the_resume_url_with_the_last_seq() {
    let sim = sim();
    // A backoff of 30 s: only an immediate reconnect can finish within the test's timeouts.
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(slow_backoff())
        .build()
        .expect("valid config");
    let (thread, mut events, session_id) = spawn_session(&sim, config);
    events.wait_dispatch("READY");
    let seqs = push_messages_and_wait(&sim, &mut events, 1, 3, "the third message");

    assert!(sim.reconnect(), "op 7 sent");
    let reconnecting = events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    assert!(
        matches!(reconnecting, Event::Reconnecting { attempt: 1, delay } if delay.is_zero()),
        "op 7 reconnects at once: {reconnecting:?}"
    );
    let connecting = events.wait("Connecting", |e| matches!(e, Event::Connecting { .. }));
    match &connecting {
        Event::Connecting { url, resume, .. } => {
            assert!(*resume, "{connecting:?}");
            assert!(url.starts_with(&sim.resume_url()), "{url}");
            assert!(url.contains("v=10"), "the query string is kept: {url}");
        }
        _ => unreachable!(),
    }
    events.wait_dispatch("RESUMED");

    let first = wait_connection(&sim, 1);
    let second = wait_connection(&sim, 2);
    assert_eq!(first.path, "/");
    assert_eq!(
        second.path, "/resume",
        "resume goes to READY's resume_gateway_url"
    );
    // The old connection was closed by the client with a code that keeps the session.
    let (code, _) = wait_client_close(&sim, first.id);
    assert!(
        !matches!(code, Some(1000 | 1001)),
        "op 7 must not end the session: {code:?}"
    );
    let resumes = received_on(&sim, second.id, 6);
    assert_eq!(resumes.len(), 1, "one Resume: {resumes:?}");
    assert_eq!(resume_fields(&resumes[0]), (session_id, seqs[2]));
    assert!(
        received_on(&sim, second.id, 2).is_empty(),
        "no Identify on resume"
    );
    assert_eq!(sim.received(2).len(), 1, "identified exactly once");
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

/// The range of the wait after op 9 that the op 9 tests configure.
const OP9_WAIT: (Duration, Duration) = (Duration::from_millis(300), Duration::from_millis(600));

/// Spawns a GUILDS shard with the [`OP9_WAIT`] and waits for its session and READY;
/// returns the session id too.
fn spawn_with_op9_wait(sim: &Simulator) -> (ShardThread, Events, String) {
    let (lo, hi) = OP9_WAIT;
    let config = sim
        .client_config(Intents::non_privileged())
        .invalid_session_delay(lo..=hi)
        .build()
        .expect("valid config");
    let (thread, mut events, session_id) = spawn_session(sim, config);
    events.wait_dispatch("READY");
    (thread, events, session_id)
}

/// Sends op 9 (`resumable` or not) to a shard from [`spawn_with_op9_wait`] and checks the
/// shard reports it, then schedules its reconnect within the [`OP9_WAIT`]; returns when
/// op 9 was sent.
fn invalidate_and_check_the_wait(sim: &Simulator, events: &mut Events, resumable: bool) -> Instant {
    let (lo, hi) = OP9_WAIT;
    let sent_at = Instant::now();
    assert!(sim.invalidate_session(resumable));
    let invalid = events.wait("InvalidSession", |e| {
        matches!(e, Event::InvalidSession { .. })
    });
    assert!(matches!(
        invalid,
        Event::InvalidSession { resumable: r } if r == resumable
    ));
    match events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. })) {
        Event::Reconnecting { delay, .. } => {
            assert!(
                delay >= lo && delay <= hi,
                "op 9 wait {delay:?} not in {lo:?}..={hi:?}"
            )
        }
        _ => unreachable!(),
    }
    sent_at
}

/// Asserts the connection after op 9 came no sooner than the [`OP9_WAIT`] allows, and no
/// later than 700 ms after its end, from `sent_at`.
fn assert_reconnected_within_the_op9_wait(second: &Conn, sent_at: Instant) {
    let (lo, hi) = OP9_WAIT;
    let waited = second.at.duration_since(sent_at);
    assert!(
        waited >= lo,
        "reconnected {waited:?} after op 9, before {lo:?}"
    );
    assert!(
        waited <= hi + Duration::from_millis(700),
        "reconnected {waited:?} after op 9, far beyond {hi:?}"
    );
}

#[test]
fn op9_resumable_waits_within_the_configured_range_then_resumes() {
    let sim = sim();
    let (thread, mut events, session_id) = spawn_with_op9_wait(&sim);
    let seqs = push_messages_and_wait(&sim, &mut events, 1, 2, "the messages");

    let sent_at = invalidate_and_check_the_wait(&sim, &mut events, true);
    events.wait_dispatch("RESUMED");
    let second = wait_connection(&sim, 2);
    assert_reconnected_within_the_op9_wait(&second, sent_at);
    assert_eq!(second.path, "/resume");
    let resumes = received_on(&sim, second.id, 6);
    assert_eq!(resumes.len(), 1);
    assert_eq!(resume_fields(&resumes[0]), (session_id, seqs[1]));
    assert_eq!(sim.received(2).len(), 1, "op 9 true must not re-identify");
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

#[test]
fn op9_not_resumable_waits_within_the_configured_range_then_identifies_on_the_gateway_url() {
    let sim = sim();
    let (thread, mut events, old_session) = spawn_with_op9_wait(&sim);
    push_messages(&sim, 1, 2);

    let sent_at = invalidate_and_check_the_wait(&sim, &mut events, false);
    match events.wait("Connecting", |e| matches!(e, Event::Connecting { .. })) {
        Event::Connecting { url, resume, .. } => {
            assert!(!resume);
            assert!(
                url.starts_with(&sim.gateway_url()) && !url.contains("/resume"),
                "{url}"
            );
        }
        _ => unreachable!(),
    }
    let ready = events.wait("Ready", |e| matches!(e, Event::Ready(_)));
    events.wait_dispatch("READY");
    let second = wait_connection(&sim, 2);
    assert_reconnected_within_the_op9_wait(&second, sent_at);
    assert_eq!(
        second.path, "/",
        "identify goes to the discovered gateway URL"
    );
    assert_eq!(received_on(&sim, second.id, 2).len(), 1, "a fresh Identify");
    assert!(sim.received(6).is_empty(), "no Resume after op 9 false");
    let new_session = sim.wait_for_session(TIMEOUT).unwrap();
    assert_ne!(new_session, old_session);
    match ready {
        Event::Ready(ready) => assert_eq!(ready.session_id, new_session),
        _ => unreachable!(),
    }
    // The new session numbers from 1 again, and the handler sees its READY as s=1.
    let ready_seqs: Vec<_> = events
        .dispatches()
        .into_iter()
        .filter(|(t, _)| t == "READY")
        .collect();
    assert_eq!(ready_seqs, [("READY".into(), 1), ("READY".into(), 1)]);
    thread.shutdown().unwrap();
}

#[test]
fn resumable_close_codes_resume_on_the_resume_url_with_the_last_seq() {
    let sim = sim();
    // Every connection counts as healthy at once, so every reconnect is a first retry
    // after a healthy connection: it must go without delay.
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(Backoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(30),
            reset_after: Duration::ZERO,
        })
        .build()
        .expect("valid config");
    let (thread, mut events, session_id) = spawn_session(&sim, config);
    events.wait_dispatch("READY");
    let mut message = 0;
    for (i, code) in [4000u16, 4001, 4002, 4005, 4008, 1001]
        .into_iter()
        .enumerate()
    {
        push_messages_and_wait(&sim, &mut events, message, 2, "the pushed messages");
        message += 2;
        let expected_seq = last_seq(&events);
        assert!(sim.close(code));
        let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
        assert!(
            matches!(disconnected, Event::Disconnected { code: Some(c), .. } if c == code),
            "{disconnected:?}"
        );
        let reconnecting = events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
        assert!(
            matches!(reconnecting, Event::Reconnecting { attempt: 1, delay } if delay.is_zero()),
            "close {code}: the first retry after a healthy connection goes at once: {reconnecting:?}"
        );
        events.wait_dispatch("RESUMED");
        let conn = wait_connection(&sim, i + 2);
        assert_eq!(
            conn.path, "/resume",
            "close {code} resumes on the resume URL"
        );
        let resumes = received_on(&sim, conn.id, 6);
        assert_eq!(resumes.len(), 1, "close {code}: one Resume");
        assert_eq!(
            resume_fields(&resumes[0]),
            (session_id.clone(), expected_seq),
            "close {code}: Resume carries the session and the last seq"
        );
    }
    assert_eq!(
        sim.received(2).len(),
        1,
        "resumable closes never re-identify"
    );
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

#[test]
fn session_ending_close_codes_identify_a_new_session_on_the_gateway_url() {
    let sim = sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(quick_backoff())
        .build()
        .expect("valid config");
    let (thread, mut events, mut session_id) = spawn_session(&sim, config);
    events.wait_dispatch("READY");
    for (i, code) in [4003u16, 4007, 4009].into_iter().enumerate() {
        push_messages(&sim, 0, 2);
        assert!(sim.close(code));
        let ready = events.wait("Ready", |e| matches!(e, Event::Ready(_)));
        let conn = wait_connection(&sim, i + 2);
        assert_eq!(conn.path, "/", "close {code} identifies on the gateway URL");
        assert_eq!(
            received_on(&sim, conn.id, 2).len(),
            1,
            "close {code}: Identify"
        );
        assert!(
            received_on(&sim, conn.id, 6).is_empty(),
            "close {code}: no Resume"
        );
        let new_session = sim.wait_for_session(TIMEOUT).unwrap();
        assert_ne!(new_session, session_id, "close {code}: a new session");
        match ready {
            Event::Ready(ready) => assert_eq!(ready.session_id, new_session),
            _ => unreachable!(),
        }
        session_id = new_session;
    }
    assert!(sim.received(6).is_empty());
    thread.shutdown().unwrap();
}

/// Identifies, pushes two events and shuts down keeping the session; returns it.
fn exported_session(sim: &Simulator) -> Session {
    let (thread, mut events, _) = spawn_session(
        sim,
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    push_messages_and_wait(sim, &mut events, 0, 2, "the messages");
    let session = thread
        .handle()
        .shutdown_resumable()
        .expect("a session to export");
    thread.join().unwrap();
    session
}

#[test]
fn resume_with_a_seq_ahead_of_the_server_is_closed_4007_and_identifies_on_the_gateway_url() {
    let sim = sim();
    let mut session = exported_session(&sim);
    assert_eq!(session.seq, 3);
    session.seq = 50;
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(quick_backoff())
        .session(session.clone())
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let disconnected = events.wait("Disconnected", |e| matches!(e, Event::Disconnected { .. }));
    assert!(
        matches!(
            disconnected,
            Event::Disconnected {
                code: Some(4007),
                ..
            }
        ),
        "{disconnected:?}"
    );
    events.wait("Ready", |e| matches!(e, Event::Ready(_)));

    let resume_conn = wait_connection(&sim, 2);
    assert_eq!(resume_conn.path, "/resume");
    let resumes = received_on(&sim, resume_conn.id, 6);
    assert_eq!(resumes.len(), 1);
    assert_eq!(resume_fields(&resumes[0]), (session.id.clone(), 50));
    assert!(sim
        .wait_for(TIMEOUT, |r| r.connection == resume_conn.id
            && r.kind == RecordKind::ClosedByServer { code: 4007 })
        .is_some());
    let identify_conn = wait_connection(&sim, 3);
    assert_eq!(
        identify_conn.path, "/",
        "4007 → Identify on the gateway URL"
    );
    assert_eq!(received_on(&sim, identify_conn.id, 2).len(), 1);
    assert!(received_on(&sim, identify_conn.id, 6).is_empty());
    assert_ne!(sim.wait_for_session(TIMEOUT).unwrap(), session.id);
    thread.shutdown().unwrap();
}

#[test]
fn resume_of_an_unknown_session_gets_op9_false_and_identifies() {
    let sim = sim();
    let session = Session {
        id: "no-such-session".into(),
        seq: 7,
        resume_url: sim.resume_url(),
    };
    let (thread, events) = spawn_resuming_unknown_session(
        &sim,
        session,
        Duration::from_millis(10)..=Duration::from_millis(50),
    );
    let first = wait_connection(&sim, 1);
    let second = wait_connection(&sim, 2);
    assert_eq!(first.path, "/resume");
    let resumes = received_on(&sim, first.id, 6);
    assert_eq!(resumes.len(), 1);
    assert_eq!(resume_fields(&resumes[0]), ("no-such-session".into(), 7));
    assert_eq!(second.path, "/");
    assert_eq!(received_on(&sim, second.id, 2).len(), 1);
    assert!(received_on(&sim, second.id, 6).is_empty());
    // The fresh session starts from s=1: the handler sees READY with seq 1.
    assert_eq!(events.dispatches(), [("READY".to_owned(), 1)]);
    thread.shutdown().unwrap();
}

/// Starts a session, pushes `live` messages (numbered from 0) and waits for them, then
/// drops the connection. The next connection gets Hello only after a pause, so that
/// everything pushed while the client is away has to come back through the replay.
/// Returns the shard, its events, the live messages' seqs and the second connection.
fn dropped_after_live_messages(
    sim: &Simulator,
    live: u64,
) -> (ShardThread, Events, Vec<u64>, Conn) {
    let (thread, mut events, _) = spawn_session(
        sim,
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    let live = push_messages_and_wait(sim, &mut events, 0, live, "the live messages");
    sim.fault_next(ConnectionFault::DelayHello(Duration::from_millis(700)), 1);
    assert!(sim.drop_connection());
    let second = wait_connection(sim, 2);
    (thread, events, live, second)
}

#[test]
fn events_replayed_after_a_resume_are_delivered_exactly_once_and_in_order() {
    let sim = sim();
    let (thread, mut events, live, second) = dropped_after_live_messages(&sim, 5);
    assert_eq!(second.path, "/resume");
    let missed = push_messages(&sim, 5, 5);
    events.wait_dispatch("RESUMED");
    let resumes = received_on(&sim, second.id, 6);
    assert_eq!(resume_fields(&resumes[0]).1, live[4]);
    // Something pushed after RESUMED is live again.
    let after = push_messages(&sim, 10, 2);
    events.wait(
        "the live messages after the resume",
        |e| matches!(e, Event::Dispatch(d) if d.seq() == after[1]),
    );
    thread.shutdown().unwrap();
    events.drain();

    let seqs = events.dispatch_seqs();
    assert_consecutive_from_one(&seqs);
    let numbers: Vec<u64> = events.seen().iter().filter_map(message_number).collect();
    assert_eq!(
        numbers,
        (0..12).collect::<Vec<_>>(),
        "every message exactly once"
    );
    assert_eq!(missed, (live[4] + 1..=live[4] + 5).collect::<Vec<_>>());
    // The order the handler saw: live, replayed, RESUMED, live.
    let names: Vec<String> = events.dispatches().into_iter().map(|(t, _)| t).collect();
    let resumed_at = names.iter().position(|t| t == "RESUMED").unwrap();
    assert_eq!(
        resumed_at, 11,
        "RESUMED follows READY + 5 live + 5 replayed: {names:?}"
    );
}

#[test]
fn a_refused_resume_url_falls_back_to_resuming_on_the_gateway_url() {
    let sim = sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(quick_backoff())
        .build()
        .expect("valid config");
    let (thread, mut events, session_id) = spawn_session(&sim, config);
    let seqs = push_messages_and_wait(&sim, &mut events, 0, 2, "the messages");
    sim.fault_next(ConnectionFault::RefuseResume, 1);
    assert!(sim.close(4000));
    events.wait_dispatch("RESUMED");

    let connecting: Vec<(String, bool)> = events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::Connecting { url, resume, .. } => Some((url.clone(), *resume)),
            _ => None,
        })
        .collect();
    assert_eq!(connecting.len(), 3, "{connecting:?}");
    assert!(connecting[1].0.starts_with(&sim.resume_url()) && connecting[1].1);
    assert!(
        !connecting[2].0.contains("/resume") && connecting[2].1,
        "after the resume URL refused, resume via the gateway URL: {connecting:?}"
    );
    let second = wait_connection(&sim, 2);
    assert_eq!(second.path, "/");
    let resumes = received_on(&sim, second.id, 6);
    assert_eq!(resumes.len(), 1);
    assert_eq!(resume_fields(&resumes[0]), (session_id, seqs[1]));
    assert_eq!(
        sim.received(2).len(),
        1,
        "the session was resumed, not replaced"
    );
    thread.shutdown().unwrap();
    assert_consecutive_from_one(&events.dispatch_seqs());
}

#[test]
fn three_failed_resumes_in_a_row_identify_a_new_session() {
    let sim = sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(quick_backoff())
        .hello_timeout(Duration::from_millis(300))
        .build()
        .expect("valid config");
    let (thread, mut events, old) = spawn_session(&sim, config);
    events.wait_dispatch("READY");
    sim.fault_next(ConnectionFault::NoHello, 3);
    assert!(sim.close(4000));
    events.wait("a new READY", |e| matches!(e, Event::Ready(_)));

    let paths: Vec<String> = connections(&sim).into_iter().map(|c| c.path).collect();
    assert_eq!(
        paths,
        ["/", "/resume", "/resume", "/resume", "/"],
        "three resume attempts, then Identify on the gateway URL"
    );
    let resumes: Vec<bool> = events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::Connecting { resume, .. } => Some(*resume),
            _ => None,
        })
        .collect();
    assert_eq!(resumes, [false, true, true, true, false]);
    assert_eq!(sim.received(2).len(), 2);
    assert_ne!(sim.wait_for_session(TIMEOUT).unwrap(), old);
    // Giving the session up is announced, with why, so the bot knows events may be lost.
    let lost: Vec<(String, String)> = events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::SessionLost {
                session_id, reason, ..
            } => Some((session_id.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1, "{:?}", events.seen());
    assert_eq!(lost[0].0, old);
    assert!(lost[0].1.contains("3 resume attempts"), "{}", lost[0].1);
    // Three attempts that ended the same way (no Hello) are also reported as a loop.
    let streaks = events.count(|e| {
        matches!(e, Event::Error { kind: syncord::ErrorKind::RepeatedFailures, message } if message.contains("3 connection attempts in a row"))
    });
    assert_eq!(streaks, 1, "{:?}", events.seen());
    thread.shutdown().unwrap();
}

#[test]
fn resumed_event_counts_the_replayed_events() {
    let sim = sim();
    let (thread, mut events, _, _) = dropped_after_live_messages(&sim, 2);
    push_messages(&sim, 2, 5);
    let resumed = events.wait("Resumed", |e| matches!(e, Event::Resumed { .. }));
    assert!(
        matches!(resumed, Event::Resumed { replayed: 5 }),
        "the five missed events were replayed: {resumed:?}"
    );
    thread.shutdown().unwrap();
}
