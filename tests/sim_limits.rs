//! The simulator enforces Discord's identify rules across connections (issue 13):
//! identify buckets, the session start limit, guilds per shard, routing by guild.

use std::sync::Arc;
use std::time::{Duration, Instant};
use syncord::cluster::{IdentifyQueue, StopSignal};
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Config, Error, Event, Intents, Shard};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A queue that lets every shard identify at once: a client that ignores the limit.
struct Unspaced;

impl IdentifyQueue for Unspaced {
    fn wait_turn(&self, _shard_id: u64, _shard_count: u64, _stop: &StopSignal<'_>) -> bool {
        true
    }
}

#[test]
fn identifies_without_spacing_are_violations_answered_with_op_9() {
    // The simulator's defaults: it rejects what Discord rejects.
    let sim = Simulator::start(
        SimConfig::default()
            .shards(4, 1)
            .identify_window(Duration::from_millis(300)),
    )
    .unwrap();
    // Four shards that do not wait for each other.
    let (invalid_tx, invalid) = crossbeam_channel::unbounded();
    let threads: Vec<_> = (0..4)
        .map(|id| {
            let config = sim
                .client_config(Intents::GUILDS)
                .identify_queue(Arc::new(Unspaced))
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

/// Starts shards `0..count` of `count`, each from `config(id)`, and waits until the
/// simulator has `count` live sessions.
fn start_shards(
    sim: &Simulator,
    count: u64,
    config: impl Fn(u64) -> Config,
) -> Vec<syncord::ShardThread> {
    let threads: Vec<_> = (0..count)
        .map(|id| Shard::with_config(config(id)).spawn(|_| {}).unwrap())
        .collect();
    assert!(
        sim.wait_for_live_sessions(count as usize, TIMEOUT),
        "every shard identified"
    );
    threads
}

/// The gaps between the accepted Identify payloads, in order.
fn gaps(sim: &Simulator) -> Vec<Duration> {
    let accepted = sim.accepted_identifies();
    accepted.windows(2).map(|p| p[1].at - p[0].at).collect()
}

#[test]
fn the_simulators_client_config_spaces_identifies_by_its_window() {
    let window = Duration::from_millis(300);
    let sim = Simulator::start(SimConfig::default().shards(4, 1).identify_window(window)).unwrap();
    let threads = start_shards(&sim, 4, |id| {
        sim.client_config(Intents::GUILDS)
            .shard(id, 4)
            .build()
            .expect("valid config")
    });
    assert_eq!(sim.identify_violations(), []);
    let gaps = gaps(&sim);
    assert_eq!(gaps.len(), 3);
    assert!(gaps.iter().all(|gap| *gap >= window), "{gaps:?}");
    for thread in threads {
        thread.shutdown().unwrap();
    }
}

/// A config for `sim` as a user writes one by hand: no identify queue of its own.
fn by_hand(sim: &Simulator, id: u64, count: u64) -> Config {
    Config::builder(sim.token(), Intents::GUILDS)
        .api_base(sim.api_base())
        .shard(id, count)
        .build()
        .expect("valid config")
}

#[test]
fn shards_started_by_hand_take_turns_on_the_default_queue() {
    // Discord's window (5 s) and one bucket: the second shard waits its turn.
    let sim = Simulator::start(SimConfig::default().shards(2, 1)).unwrap();
    let threads = start_shards(&sim, 2, |id| by_hand(&sim, id, 2));
    assert_eq!(sim.identify_violations(), [], "no op 9 for either shard");
    let gaps = gaps(&sim);
    assert_eq!(gaps.len(), 1);
    assert!(gaps[0] >= Duration::from_secs(5), "{gaps:?}");
    for thread in threads {
        thread.shutdown().unwrap();
    }
}

#[test]
fn the_default_queue_takes_max_concurrency_from_discovery() {
    // Two buckets: both shards may identify in the same window.
    let sim = Simulator::start(SimConfig::default().shards(2, 2)).unwrap();
    let started = Instant::now();
    let threads = start_shards(&sim, 2, |id| by_hand(&sim, id, 2));
    assert_eq!(sim.identify_violations(), []);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shard 1 did not wait for shard 0's window: {:?}",
        gaps(&sim)
    );
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
