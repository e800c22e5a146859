//! The shard's state (issue 3, behaviour 13), sampled with `ShardHandle::state()` from the
//! handler at every lifecycle event while faults force reconnects: never `Active` while
//! disconnected or reconnecting, `Reconnecting { attempt }` during each wait, `Resuming`
//! while replayed events arrive, `Active` once READY/RESUMED arrived.

mod resilience;

use crossbeam_channel::unbounded;
use resilience::*;
use std::time::Duration;
use syncord::sim::{ConnectionFault, Simulator};
use syncord::{Backoff, ConfigBuilder, Event, Intents, Shard, ShardState};

/// A GUILDS configuration for `sim` whose waits after op 9 are short (10 to 30 ms).
fn quick_op9_config(sim: &Simulator) -> ConfigBuilder {
    sim.client_config(Intents::non_privileged())
        .invalid_session_delay(Duration::from_millis(10)..=Duration::from_millis(30))
}

#[test]
fn the_state_is_never_active_while_reconnecting() {
    let sim = sim();
    let config = quick_op9_config(&sim)
        .backoff(Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
            reset_after: Duration::ZERO,
        })
        .build()
        .expect("valid config");
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    assert_eq!(handle.state(), ShardState::Idle);
    let (tx, rx) = unbounded();
    let sampler = handle.clone();
    let thread = shard
        .spawn(move |event| {
            let _ = tx.send((sampler.state(), event));
        })
        .unwrap();
    // Forward the events to an `Events` and keep the states beside them.
    let (events_tx, events_rx) = unbounded();
    let (states_tx, states_rx) = unbounded();
    std::thread::spawn(move || {
        for (state, event) in rx {
            let _ = states_tx.send(state);
            let _ = events_tx.send(event);
        }
    });
    let mut events = Events::new(events_rx);
    events.wait_dispatch("READY");
    assert_eq!(handle.state(), ShardState::Active);

    let mut message = 0;
    let mut cycle = |events: &mut Events, fault: &dyn Fn()| {
        push_messages(&sim, message, 2);
        message += 2;
        fault();
        let mut seen = 0;
        events.wait("RESUMED", |e| {
            seen += usize::from(is_dispatch(e, "RESUMED"));
            seen == 1
        });
    };
    cycle(&mut events, &|| assert!(sim.reconnect()));
    cycle(&mut events, &|| assert!(sim.close(4000)));
    cycle(&mut events, &|| assert!(sim.drop_connection()));
    cycle(&mut events, &|| assert!(sim.invalidate_session(true)));
    cycle(&mut events, &|| {
        sim.fault_next(ConnectionFault::Refuse, 2);
        assert!(sim.close(4001));
    });
    // Events pushed while the client is away are replayed before RESUMED.
    sim.fault_next(ConnectionFault::DelayHello(Duration::from_millis(500)), 1);
    assert!(sim.drop_connection());
    wait_connection(&sim, 7);
    push_messages(&sim, 100, 3);
    events.wait_dispatch("RESUMED");
    thread.shutdown().unwrap();
    assert_eq!(handle.state(), ShardState::Stopped);
    events.drain_until_closed(TIMEOUT);

    let states: Vec<ShardState> = states_rx.try_iter().collect();
    let seen = events.seen();
    assert_eq!(states.len(), seen.len());
    let mut replaying = false;
    let mut reconnects = 0;
    for (state, event) in states.iter().zip(seen) {
        match event {
            Event::Reconnecting { attempt, .. } => {
                reconnects += 1;
                assert_eq!(*state, ShardState::Reconnecting { attempt: *attempt });
            }
            Event::Connecting { .. } | Event::Connected => {
                assert_eq!(*state, ShardState::Connecting, "at {event:?}");
            }
            // Checked in `the_state_is_not_active_once_the_connection_has_ended`.
            Event::Disconnected { .. } | Event::InvalidSession { .. } => {}
            Event::Dispatch(d) if d.event_type() == "RESUMED" => {
                replaying = false;
                assert_eq!(*state, ShardState::Active);
            }
            Event::Resumed { .. } => {
                assert_eq!(*state, ShardState::Active, "at {event:?}");
            }
            // Checked strictly in `the_state_is_active_when_the_ready_event_is_delivered`.
            Event::Ready(_) => assert!(
                matches!(state, ShardState::Identifying | ShardState::Active),
                "at Ready: {state:?}"
            ),
            Event::Dispatch(_) if replaying => {
                assert_eq!(*state, ShardState::Resuming, "a replayed {event:?}");
            }
            Event::Dispatch(_) => assert_eq!(*state, ShardState::Active, "at {event:?}"),
            _ => {}
        }
        if matches!(event, Event::Connecting { resume: true, .. }) {
            replaying = true;
        }
    }
    assert!(reconnects >= 8, "{reconnects} reconnects");
    // The last resume replayed three events, each seen while Resuming.
    let last_resumed = seen
        .iter()
        .rposition(|e| matches!(e, Event::Resumed { .. }))
        .unwrap();
    let replayed: Vec<&ShardState> = states[..last_resumed]
        .iter()
        .zip(&seen[..last_resumed])
        .rev()
        .take_while(|(_, e)| matches!(e, Event::Dispatch(_)))
        .map(|(s, _)| s)
        .collect();
    assert_eq!(replayed, [&ShardState::Resuming; 3]);
}

#[test]
fn the_state_is_active_when_the_ready_event_is_delivered() {
    let sim = sim();
    let config = sim
        .client_config(Intents::non_privileged())
        .while_disconnected(syncord::WhileDisconnected::FailFast)
        .build()
        .expect("valid config");
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let (tx, rx) = unbounded();
    let thread = shard
        .spawn(move |event| {
            if let Event::Ready(_) = event {
                let presence =
                    syncord::protocol::UpdatePresence::new(syncord::protocol::Status::Idle);
                let _ = tx.send((
                    handle.state(),
                    handle.send(&presence).map_err(|e| e.to_string()),
                ));
            }
        })
        .unwrap();
    let (state, sent) = rx.recv_timeout(TIMEOUT).expect("READY");
    thread.shutdown().unwrap();
    assert_eq!(
        state,
        ShardState::Active,
        "the session is up when Ready is delivered"
    );
    assert_eq!(
        sent,
        Ok(()),
        "a command sent from the Ready handler is accepted"
    );
}

#[test]
fn the_state_is_not_active_once_the_connection_has_ended() {
    let sim = sim();
    let config = quick_op9_config(&sim).build().expect("valid config");
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let (tx, rx) = unbounded();
    let thread = shard
        .spawn(move |event| {
            if matches!(
                event,
                Event::Disconnected { .. } | Event::InvalidSession { .. }
            ) {
                let _ = tx.send((handle.state(), event));
            }
        })
        .unwrap();
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    assert!(sim.reconnect());
    let (state, event) = rx.recv_timeout(TIMEOUT).expect("Disconnected");
    assert_ne!(state, ShardState::Active, "at {event:?}");
    sim.wait_for_nth(TIMEOUT, 1, |r| r.op() == Some(6))
        .expect("resumed");
    sim.wait_for_session(TIMEOUT).expect("resumed");
    assert!(sim.invalidate_session(true));
    for _ in 0..2 {
        let (state, event) = rx
            .recv_timeout(TIMEOUT)
            .expect("Disconnected, InvalidSession");
        assert_ne!(state, ShardState::Active, "at {event:?}");
    }
    thread.shutdown().unwrap();
}
