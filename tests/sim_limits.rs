//! The simulator enforces Discord's identify rules across connections (issue 13):
//! identify buckets, the session start limit, guilds per shard, routing by guild.

use std::time::Duration;
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Error, Event, Intents, Shard};

const TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn identifies_without_a_queue_are_violations_answered_with_op_9() {
    let sim = Simulator::start(
        SimConfig::default()
            .shards(4, 1)
            .identify_window(Duration::from_millis(300))
            .reject_early_identify(true),
    )
    .unwrap();
    // Four shards that do not wait for each other: what the simulator accepted before.
    let (invalid_tx, invalid) = crossbeam_channel::unbounded();
    let threads: Vec<_> = (0..4)
        .map(|id| {
            let config = sim
                .client_config(Intents::GUILDS)
                .gateway_url(sim.gateway_url())
                .shard(id, 4)
                .invalid_session_delay(Duration::from_millis(300)..=Duration::from_millis(900))
                .build()
                .expect("valid config");
            let invalid_tx = invalid_tx.clone();
            Shard::with_config(config)
                .spawn(move |event| {
                    if let Event::InvalidSession { resumable: false } = event {
                        let _ = invalid_tx.send(id);
                    }
                })
                .unwrap()
        })
        .collect();
    assert!(
        sim.wait_for_live_sessions(4, TIMEOUT),
        "all identify in the end"
    );
    let violations = sim.identify_violations();
    assert!(!violations.is_empty());
    assert!(violations
        .iter()
        .all(|v| v.bucket == 0 && v.since_previous < Duration::from_millis(300)));
    // Each violation was answered with op 9 `false`, which the shard heard.
    for _ in &violations {
        invalid
            .recv_timeout(TIMEOUT)
            .expect("op 9 false for a violation");
    }
    let accepted = sim.accepted_identifies();
    assert_eq!(accepted.len(), 4);
    assert!(accepted
        .windows(2)
        .all(|p| p[1].at - p[0].at >= Duration::from_millis(300)));
    for thread in threads {
        thread.shutdown().unwrap();
    }
}

#[test]
fn session_starts_count_down_and_none_left_closes_with_4004() {
    let sim = Simulator::start(
        SimConfig::default()
            .identify_window(Duration::ZERO)
            .session_start_limit(10, 1, Duration::from_secs(3600)),
    )
    .unwrap();
    assert_eq!(sim.session_starts_remaining(), 1);
    let config = sim
        .client_config(Intents::GUILDS)
        .gateway_url(sim.gateway_url())
        .invalid_session_delay(Duration::from_millis(10)..=Duration::from_millis(20))
        .build()
        .expect("valid config");
    let (ready_tx, ready) = crossbeam_channel::unbounded();
    let thread = Shard::with_config(config)
        .spawn(move |event| {
            if let Event::Ready(_) = event {
                let _ = ready_tx.send(());
            }
        })
        .unwrap();
    ready.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(sim.session_starts_remaining(), 0);
    assert!(sim.invalidate_session(false));
    let result = thread.join();
    assert!(
        matches!(result, Err(Error::AuthenticationFailed { .. })),
        "{result:?}"
    );
    assert!(sim
        .records()
        .iter()
        .any(|r| r.kind == RecordKind::ClosedByServer { code: 4004 }));
}

#[test]
fn a_shard_over_the_guild_limit_is_closed_with_4011() {
    let sim = Simulator::start(
        SimConfig::default()
            .guilds(6)
            .max_guilds_per_shard(5)
            .identify_window(Duration::ZERO),
    )
    .unwrap();
    let config = sim
        .client_config(Intents::GUILDS)
        .gateway_url(sim.gateway_url())
        .build()
        .expect("valid config");
    let result = Shard::with_config(config).spawn(|_| {}).unwrap().join();
    assert!(matches!(result, Err(Error::ShardingRequired)), "{result:?}");
}
