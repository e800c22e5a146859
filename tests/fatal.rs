//! Fatal close codes (issue 3, behaviour 5): 4004 and 4010–4014 end `run` with the matching
//! error, which says what is wrong, and nothing reconnects afterwards.

mod resilience;

use resilience::*;
use std::time::Duration;
use syncord::sim::RecordKind;
use syncord::{Backoff, Error, Event, Intents, ShardState};

/// Closes an established session with `code` and returns what `run` returned, the events
/// the handler saw, and the simulator.
fn close_with(
    code: u16,
    intents: Intents,
) -> (syncord::Result<()>, Events, syncord::sim::Simulator) {
    let sim = sim();
    let config = sim
        .client_config(intents)
        .shard(0, 1)
        // A retry, were one (wrongly) made, would come at once.
        .backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(10),
            reset_after: Duration::ZERO,
        })
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let handle = thread.handle().clone();
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    events.wait_dispatch("READY");
    assert!(sim.close(code));
    // `run` returns by itself: join without asking for a shutdown.
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = done_tx.send(thread.join());
    });
    let result = done_rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
        panic!(
            "close {code}: run did not return; events {:#?}",
            events.seen()
        )
    });
    assert_eq!(handle.state(), ShardState::FatallyClosed, "close {code}");
    events.drain_until_closed(TIMEOUT);
    (result, events, sim)
}

fn check_no_reconnect(code: u16, events: &Events, sim: &syncord::sim::Simulator) {
    assert_eq!(
        connections(sim).len(),
        1,
        "close {code}: no connection after a fatal close"
    );
    assert_eq!(
        events.count(|e| matches!(
            e,
            Event::Reconnecting { .. } | Event::Connecting { attempt: 1.., .. }
        )),
        0,
        "close {code}: no reconnect: {:#?}",
        events.seen()
    );
    assert!(
        events.count(|e| matches!(e, Event::Disconnected { code: Some(c), .. } if *c == code)) == 1,
        "close {code}: the handler was told: {:#?}",
        events.seen()
    );
    assert!(
        sim.records()
            .iter()
            .any(|r| r.kind == RecordKind::ClosedByServer { code }),
        "close {code} was sent"
    );
}

#[test]
fn close_4004_ends_run_with_authentication_failed() {
    let (result, events, sim) = close_with(4004, Intents::GUILDS);
    let error = result.expect_err("4004 is fatal");
    assert!(
        matches!(error, Error::AuthenticationFailed { .. }),
        "{error:?}"
    );
    assert!(error.is_fatal());
    assert!(error.to_string().contains("token"), "{error}");
    check_no_reconnect(4004, &events, &sim);
}

#[test]
fn close_4010_ends_run_with_invalid_shard_naming_the_shard() {
    let (result, events, sim) = close_with(4010, Intents::GUILDS);
    let error = result.expect_err("4010 is fatal");
    assert!(
        matches!(
            error,
            Error::InvalidShard {
                shard: Some([0, 1])
            }
        ),
        "{error:?}"
    );
    assert!(error.is_fatal());
    check_no_reconnect(4010, &events, &sim);
}

#[test]
fn close_4011_ends_run_with_sharding_required() {
    let (result, events, sim) = close_with(4011, Intents::GUILDS);
    let error = result.expect_err("4011 is fatal");
    assert!(matches!(error, Error::ShardingRequired), "{error:?}");
    assert!(error.is_fatal());
    assert!(error.to_string().contains("shard"), "{error}");
    check_no_reconnect(4011, &events, &sim);
}

#[test]
fn close_4012_ends_run_with_invalid_api_version() {
    let (result, events, sim) = close_with(4012, Intents::GUILDS);
    let error = result.expect_err("4012 is fatal");
    assert!(matches!(error, Error::InvalidApiVersion), "{error:?}");
    assert!(error.is_fatal());
    check_no_reconnect(4012, &events, &sim);
}

#[test]
fn close_4013_ends_run_with_invalid_intents_naming_the_bits() {
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES;
    let (result, events, sim) = close_with(4013, intents);
    let error = result.expect_err("4013 is fatal");
    assert!(
        matches!(error, Error::InvalidIntents { bits } if bits == intents.bits()),
        "{error:?}"
    );
    assert!(error.is_fatal());
    check_no_reconnect(4013, &events, &sim);
}

#[test]
fn close_4014_ends_run_with_disallowed_intents_naming_them_and_where_to_enable_them() {
    let intents = Intents::GUILDS | Intents::MESSAGE_CONTENT;
    let (result, events, sim) = close_with(4014, intents);
    let error = result.expect_err("4014 is fatal");
    match &error {
        Error::DisallowedIntents { requested } => {
            assert_eq!(requested, &["MESSAGE_CONTENT"], "{error:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_fatal());
    let text = error.to_string();
    assert!(
        text.contains("MESSAGE_CONTENT") && text.contains("Developer Portal"),
        "{text}"
    );
    check_no_reconnect(4014, &events, &sim);
}
