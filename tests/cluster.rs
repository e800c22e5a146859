//! Many shards in one process (issue 13): the identify queue against the simulator's
//! enforcement, merged events in per-shard order, routing by guild, the session start
//! limit, re-sharding on 4011 and the 4010/4011 errors. Real loopback sockets; every wait
//! has a timeout.

use crossbeam_channel::Receiver;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use syncord::cluster::{Cluster, ClusterEvent, ClusterHandle, ClusterThread, ShardCount};
use syncord::protocol::{Status, UpdatePresence};
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Backoff, ConfigBuilder, Error, Event, Intents, ShardState};

mod threads;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A client config for `sim` that retries quickly.
fn client(sim: &Simulator) -> ConfigBuilder {
    sim.client_config(Intents::GUILDS)
        .invalid_session_delay(Duration::from_millis(10)..=Duration::from_millis(30))
        .backoff(Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
            reset_after: Duration::from_secs(60),
        })
}

/// Receives until `wanted` holds for the events so far, or fails after `TIMEOUT`.
fn collect_until(
    events: &Receiver<ClusterEvent>,
    seen: &mut Vec<ClusterEvent>,
    what: &str,
    mut wanted: impl FnMut(&[ClusterEvent]) -> bool,
) {
    let deadline = Instant::now() + TIMEOUT;
    while !wanted(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) => seen.push(event),
            Err(_) => panic!(
                "timed out waiting for {what}; {} events so far: {:?}",
                seen.len(),
                seen.iter()
                    .rev()
                    .take(20)
                    .map(|e| (e.shard, e.event.name()))
                    .collect::<Vec<_>>()
            ),
        }
    }
}

fn ready_shards(seen: &[ClusterEvent]) -> BTreeSet<u64> {
    seen.iter()
        .filter(|e| matches!(e.event, Event::Ready(_)))
        .map(|e| e.shard)
        .collect()
}

/// Starts a simulator of `count` shards in `count` buckets (a 50 ms identify window) and a
/// cluster of all of them, and waits until every shard is READY: the simulator, the
/// cluster's handle and thread, its events and those seen so far.
fn start_all_ready(
    count: u64,
) -> (
    Simulator,
    ClusterHandle,
    ClusterThread,
    Receiver<ClusterEvent>,
    Vec<ClusterEvent>,
) {
    let window = Duration::from_millis(50);
    let sim = Simulator::start(
        SimConfig::default()
            .shards(count, count)
            .identify_window(window)
            .heartbeat_interval(Duration::from_secs(5)),
    )
    .unwrap();
    let cluster = Cluster::builder(client(&sim).build().expect("valid config"))
        .identify_window(window, None)
        .build()
        .unwrap();
    let handle = cluster.handle();
    let (thread, events) = cluster.spawn_receiver().unwrap();
    let mut seen = Vec::new();
    collect_until(&events, &mut seen, &format!("{count} READY"), |seen| {
        ready_shards(seen).len() as u64 == count
    });
    (sim, handle, thread, events, seen)
}

fn shut_down(thread: ClusterThread) {
    let handle = thread.handle().clone();
    assert!(thread.shutdown().is_ok());
    assert!(handle
        .states()
        .iter()
        .all(|(_, state)| *state == ShardState::Stopped));
    threads::assert_client_threads_gone(Duration::from_secs(5));
}

#[test]
fn sixteen_shards_identify_in_four_windows_and_keep_each_shards_order() {
    let _serial = threads::serial();
    let window = Duration::from_millis(200);
    let sim = Simulator::start(
        SimConfig::default()
            .shards(16, 4)
            .identify_window(window)
            .heartbeat_interval(Duration::from_secs(5)),
    )
    .unwrap();
    let cluster = Cluster::builder(client(&sim).build().expect("valid config"))
        .identify_window(window, Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    assert_eq!((cluster.shard_count(), cluster.shard_ids()), (16, 0..16));
    let (thread, events) = cluster.spawn_receiver().unwrap();
    let mut seen = Vec::new();
    collect_until(&events, &mut seen, "16 READY", |seen| {
        ready_shards(seen).len() == 16
    });
    assert!(sim.wait_for_live_sessions(16, TIMEOUT));

    // Exactly 4 windows of 4 identifies, one per bucket, and nothing too soon.
    assert_eq!(sim.identify_violations(), vec![]);
    let accepted = sim.accepted_identifies();
    assert_eq!(accepted.len(), 16);
    let mut windows: Vec<Vec<u64>> = Vec::new();
    let mut last = None;
    for identify in &accepted {
        let gap = last.map(|at| identify.at.duration_since(at));
        if gap.is_none_or(|gap| gap >= window / 2) {
            windows.push(Vec::new());
        }
        windows.last_mut().unwrap().push(identify.shard[0]);
        last = Some(identify.at);
    }
    assert_eq!(windows.len(), 4, "{windows:?}");
    for (index, ids) in windows.iter().enumerate() {
        let buckets: BTreeSet<u64> = ids.iter().map(|id| id % 4).collect();
        assert_eq!(buckets.len(), 4, "window {index}: {ids:?}");
    }
    let mut by_bucket: BTreeMap<u64, Vec<Instant>> = BTreeMap::new();
    for identify in &accepted {
        by_bucket
            .entry(identify.shard[0] % 4)
            .or_default()
            .push(identify.at);
    }
    for times in by_bucket.values() {
        assert!(times.windows(2).all(|t| t[1] - t[0] >= window));
    }
    // One discovery for the whole cluster.
    assert_eq!(sim.gateway_bot_requests(), 1);

    // 20 events per shard, pushed round-robin: each shard's arrive in its order.
    for n in 0..20 {
        for shard in 0..16 {
            let data = format!(r#"{{"n":{n}}}"#);
            assert!(sim.push_to_shard(shard, "TEST_EVENT", &data).is_some());
        }
    }
    let count = |seen: &[ClusterEvent]| {
        seen.iter()
            .filter(|e| matches!(&e.event, Event::Dispatch(d) if d.event_type() == "TEST_EVENT"))
            .count()
    };
    collect_until(&events, &mut seen, "320 events", |seen| count(seen) == 320);
    let mut per_shard: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for event in &seen {
        if let Event::Dispatch(d) = &event.event {
            if d.event_type() == "TEST_EVENT" {
                let n = d.data::<serde_json::Value>().unwrap()["n"]
                    .as_u64()
                    .unwrap();
                per_shard.entry(event.shard).or_default().push((d.seq(), n));
            }
        }
    }
    assert_eq!(per_shard.len(), 16);
    for (shard, got) in per_shard {
        let ns: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
        assert_eq!(ns, (0..20).collect::<Vec<_>>(), "shard {shard}");
        assert!(
            got.windows(2).all(|p| p[1].0 == p[0].0 + 1),
            "shard {shard}"
        );
    }

    shut_down(thread);
}

#[test]
fn guild_events_and_commands_go_to_the_guilds_shard() {
    let _serial = threads::serial();
    let (sim, handle, thread, events, mut seen) = start_all_ready(4);
    for state in handle.states() {
        assert_eq!(state.1, ShardState::Active);
    }
    assert_eq!(handle.latencies().len(), 4);

    // The simulator routes a guild's event to its owner; the cluster agrees on who that is.
    let guild = 81_384_788_765_712_384;
    let (owner, _) = sim
        .push_to_guild(guild, "GUILD_UPDATE", r#"{"id":"81384788765712384"}"#)
        .unwrap();
    assert_eq!(owner, handle.shard_for_guild(guild));
    collect_until(&events, &mut seen, "GUILD_UPDATE", |seen| {
        seen.iter()
            .any(|e| matches!(&e.event, Event::Dispatch(d) if d.event_type() == "GUILD_UPDATE"))
    });
    let delivered = seen
        .iter()
        .find(|e| matches!(&e.event, Event::Dispatch(d) if d.event_type() == "GUILD_UPDATE"))
        .unwrap();
    assert_eq!(delivered.shard, owner);

    // A command for the guild goes out on its shard's connection.
    handle
        .send_to_guild(guild, &UpdatePresence::new(Status::Idle))
        .unwrap();
    let record = sim.wait_for(TIMEOUT, |r| r.op() == Some(3)).unwrap();
    let owner_conn = sim
        .accepted_identifies()
        .into_iter()
        .find(|i| i.shard[0] == owner)
        .unwrap()
        .connection;
    assert_eq!(record.connection, owner_conn);
    assert!(matches!(
        handle.send_to(9, &UpdatePresence::new(Status::Idle)),
        Err(Error::Config(text)) if text.contains("not run by this cluster")
    ));

    shut_down(thread);
}

#[test]
fn a_shard_of_another_process_is_named_in_the_error() {
    let _serial = threads::serial();
    let sim = Simulator::start(SimConfig::default().shards(4, 1)).unwrap();
    let cluster = Cluster::builder(
        client(&sim)
            .gateway_url(sim.gateway_url())
            .build()
            .expect("valid config"),
    )
    .shard_count(ShardCount::Fixed(4))
    .shards(0..2)
    .identify_queue(std::sync::Arc::new(syncord::cluster::LocalQueue::new(1)))
    .build()
    .unwrap();
    assert_eq!(sim.gateway_bot_requests(), 0, "nothing to discover");
    let handle = cluster.handle();
    let guild = 3 << 22;
    let error = handle
        .send_to_guild(guild, &UpdatePresence::new(Status::Idle))
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("shard 3") && text.contains("0..2 of 4"),
        "{text}"
    );
    assert!(
        Cluster::builder(client(&sim).build().expect("valid config"))
            .shard_count(ShardCount::Fixed(4))
            .shards(2..6)
            .build()
            .is_err()
    );
    drop(cluster);
}

#[test]
fn an_exhausted_session_start_limit_waits_for_the_reset_instead_of_a_token_reset() {
    let _serial = threads::serial();
    let reset = Duration::from_millis(1500);
    let sim = Simulator::start(
        SimConfig::default()
            .shards(4, 4)
            .identify_window(Duration::from_millis(50))
            .session_start_limit(20, 2, reset)
            .heartbeat_interval(Duration::from_secs(5)),
    )
    .unwrap();
    let started = Instant::now();
    let cluster = Cluster::builder(client(&sim).build().expect("valid config"))
        .identify_window(Duration::from_millis(50), None)
        .build()
        .unwrap();
    let (thread, events) = cluster.spawn_receiver().unwrap();
    let mut seen = Vec::new();
    collect_until(&events, &mut seen, "4 READY", |seen| {
        ready_shards(seen).len() == 4
    });
    assert!(
        started.elapsed() >= reset,
        "the last two waited for the reset"
    );
    let notices: Vec<(u64, u64, Duration)> = seen
        .iter()
        .filter_map(|e| match e.event {
            Event::SessionStartLimit {
                remaining, wait, ..
            } => Some((e.shard, remaining, wait)),
            _ => None,
        })
        .collect();
    let waits = notices
        .iter()
        .filter(|(_, _, wait)| !wait.is_zero())
        .count();
    assert_eq!(waits, 2, "two shards waited for the reset: {notices:?}");
    assert!(
        notices
            .iter()
            .any(|(_, remaining, wait)| wait.is_zero() && *remaining < 2),
        "the last starts were not spent silently: {notices:?}"
    );
    let token_resets = sim
        .records()
        .iter()
        .filter(|r| r.kind == RecordKind::ClosedByServer { code: 4004 })
        .count();
    assert_eq!(token_resets, 0);
    assert_eq!(sim.identify_violations(), vec![]);
    shut_down(thread);
}

#[test]
fn sharding_required_with_an_automatic_count_restarts_with_the_new_count() {
    let _serial = threads::serial();
    let sim = Simulator::start(
        SimConfig::default()
            .shards(2, 4)
            .guilds(8)
            .max_guilds_per_shard(5)
            .identify_window(Duration::from_millis(50))
            .heartbeat_interval(Duration::from_secs(5)),
    )
    .unwrap();
    let cluster = Cluster::builder(client(&sim).build().expect("valid config"))
        .identify_window(Duration::from_millis(50), None)
        .build()
        .unwrap();
    let handle = cluster.handle();
    let (thread, events) = cluster.spawn_receiver().unwrap();
    let mut seen = Vec::new();
    collect_until(&events, &mut seen, "2 READY", |seen| {
        ready_shards(seen).len() == 2
    });
    assert_eq!(handle.shard_count(), 2);
    // The bot grows past what 2 shards may hold; shard 0 must identify again.
    sim.set_guilds(20);
    assert!(sim.invalidate_shard(0, false));
    seen.clear();
    collect_until(&events, &mut seen, "4 READY after re-sharding", |seen| {
        ready_shards(seen).len() == 4
    });
    assert!(sim.wait_for_live_sessions(4, TIMEOUT));
    assert_eq!(handle.shard_count(), 4);
    assert_eq!(handle.restarts(), 1);
    assert_eq!(sim.live_shards(), vec![[0, 4], [1, 4], [2, 4], [3, 4]]);
    assert_eq!(
        sim.gateway_bot_requests(),
        2,
        "discovery once per generation"
    );
    shut_down(thread);
}

#[test]
fn sharding_required_with_a_fixed_count_names_the_count_to_use() {
    let _serial = threads::serial();
    let sim = Simulator::start(
        SimConfig::default()
            .shards(2, 2)
            .guilds(20)
            .max_guilds_per_shard(5)
            .identify_window(Duration::ZERO),
    )
    .unwrap();
    let cluster = Cluster::builder(client(&sim).build().expect("valid config"))
        .shard_count(ShardCount::Fixed(2))
        .build()
        .unwrap();
    let result = cluster.spawn(|_, _| {}).unwrap().join();
    match result {
        Err(error @ Error::ShardCount { .. }) => {
            let text = error.to_string();
            assert!(
                matches!(
                    error,
                    Error::ShardCount {
                        close_code: 4011,
                        count: 2,
                        recommended: Some(4)
                    }
                ),
                "{error:?}"
            );
            assert!(text.contains("use 4 shards"), "{text}");
            assert!(error.is_fatal());
        }
        other => panic!("expected a shard count error, got {other:?}"),
    }
    threads::assert_client_threads_gone(Duration::from_secs(5));
}

#[test]
fn an_invalid_shard_count_names_a_valid_one() {
    let _serial = threads::serial();
    let sim = Simulator::start(
        SimConfig::default()
            .shards(4, 1)
            .shard_count_multiple(4)
            .identify_window(Duration::ZERO),
    )
    .unwrap();
    let cluster = Cluster::builder(client(&sim).build().expect("valid config"))
        .shard_count(ShardCount::Fixed(3))
        .build()
        .unwrap();
    let result = cluster.spawn(|_, _| {}).unwrap().join();
    let Err(error) = result else {
        panic!("a count of 3 is not a multiple of 4")
    };
    assert!(
        matches!(
            error,
            Error::ShardCount {
                close_code: 4010,
                count: 3,
                recommended: Some(4)
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("use 4 shards"), "{error}");
    threads::assert_client_threads_gone(Duration::from_secs(5));
}

#[test]
fn metrics_count_each_shard_and_their_sum() {
    let _serial = threads::serial();
    let (sim, handle, thread, events, mut seen) = start_all_ready(2);
    for n in 0..10 {
        sim.push_to_shard(1, "TEST_EVENT", &format!(r#"{{"n":{n}}}"#));
    }
    collect_until(&events, &mut seen, "10 events", |seen| {
        seen.iter()
            .filter(|e| matches!(&e.event, Event::Dispatch(d) if d.event_type() == "TEST_EVENT"))
            .count()
            == 10
    });
    // Shard 0's connection is closed with 4000: it resumes.
    assert!(sim.close_shard(0, 4000));
    collect_until(&events, &mut seen, "shard 0 RESUMED", |seen| {
        seen.iter()
            .any(|e| e.shard == 0 && matches!(e.event, Event::Resumed { .. }))
    });
    let metrics = handle.metrics();
    assert_eq!(metrics.shard_count, 2);
    let [(0, zero), (1, one)] = &metrics.shards[..] else {
        panic!("{metrics:?}")
    };
    assert_eq!(one.events_received, 11, "READY and 10 pushed");
    assert_eq!(zero.events_received, 2, "READY and RESUMED");
    assert!(one.bytes_received > zero.bytes_received && zero.bytes_received > 0);
    assert_eq!((zero.identifies, zero.resumes, zero.reconnects), (1, 1, 1));
    assert_eq!(zero.last_close_code, Some(4000));
    assert_eq!((one.identifies, one.resumes, one.reconnects), (1, 0, 0));
    assert_eq!(one.last_close_code, None);
    assert!(
        zero.payloads_sent >= 2 && one.payloads_sent >= 1,
        "Identify, Resume"
    );
    assert_eq!(metrics.total.events_received, 13);
    assert_eq!(metrics.total.identifies, 2);
    assert_eq!(
        metrics.total.bytes_received,
        zero.bytes_received + one.bytes_received
    );
    shut_down(thread);
}
