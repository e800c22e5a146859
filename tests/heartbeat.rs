//! Heartbeating: first beat jittered within one interval, then a steady interval, `d`
//! carrying the last sequence number, and server requests answered at once
//! (PROTOCOL.md §4.2).

mod resilience;

use crossbeam_channel::Receiver;
use resilience::{
    gateway_config, push_messages, sim_with_interval, sim_with_rate_limit,
    spawn_blocking_on_message_zero, spawn_forwarding, wait_event,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use syncord::protocol::{Activity, ActivityType, Status, UpdatePresence};
use syncord::sim::{ConnectionFault, Record, RecordKind, Simulator};
use syncord::{Event, Intents, ShardThread};

const TIMEOUT: Duration = Duration::from_secs(10);
const INTERVAL: Duration = Duration::from_millis(100);
/// How late a thread may be scheduled on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(60);

/// Runs a shard against `sim` (skipping REST), forwarding every event into a channel.
fn spawn_shard(sim: &Simulator) -> (ShardThread, Receiver<Event>) {
    spawn_forwarding(gateway_config(sim))
}

fn is_connected(record: &Record) -> bool {
    matches!(record.kind, RecordKind::Connected { .. })
}

fn is_heartbeat_on(connection: u64) -> impl Fn(&Record) -> bool {
    move |record| record.connection == connection && record.op() == Some(1)
}

/// The `n`th (from 1) heartbeat received on `connection`.
fn nth_heartbeat(sim: &Simulator, connection: u64, n: usize) -> Record {
    sim.wait_for_nth(TIMEOUT, n, is_heartbeat_on(connection))
        .unwrap_or_else(|| {
            panic!(
                "heartbeat #{n} on connection {connection} never came; identifies refused as too soon: {:?}",
                sim.identify_violations()
            )
        })
}

#[test]
fn first_heartbeat_comes_within_one_interval_of_the_connection() {
    let sim = sim_with_interval(INTERVAL);
    let (thread, _events) = spawn_shard(&sim);
    let connected = sim.wait_for(TIMEOUT, is_connected).expect("connected");
    let first = nth_heartbeat(&sim, connected.connection, 1);
    thread.shutdown().unwrap();

    let offset = first.at.duration_since(connected.at);
    assert!(
        offset < INTERVAL + SLACK,
        "first heartbeat {offset:?} after the connection opened; interval is {INTERVAL:?}"
    );
}

#[test]
fn first_heartbeat_delay_is_jittered_differently_per_connection() {
    // A long interval makes the uniform jitter dominate scheduling noise: six offsets drawn
    // from [0, 1 s) all landing within 50 ms of each other has odds of about 2 in a million.
    let interval = Duration::from_millis(1000);
    let sim = sim_with_interval(interval);
    let shards: Vec<_> = (0..6).map(|_| spawn_shard(&sim)).collect();
    let mut offsets = Vec::new();
    for n in 1..=shards.len() {
        let connected = sim
            .wait_for_nth(TIMEOUT, n, is_connected)
            .expect("every shard connects");
        let first = nth_heartbeat(&sim, connected.connection, 1);
        offsets.push(first.at.duration_since(connected.at));
    }
    for (thread, _events) in shards {
        thread.shutdown().unwrap();
    }

    let (min, max) = (offsets.iter().min().unwrap(), offsets.iter().max().unwrap());
    assert!(
        *max - *min > Duration::from_millis(50),
        "first-beat offsets barely differ, jitter looks constant: {offsets:?}"
    );
    assert!(
        offsets.iter().all(|o| *o < interval + SLACK),
        "a first beat came later than one interval: {offsets:?}"
    );
}

#[test]
fn later_heartbeats_follow_the_interval() {
    let sim = sim_with_interval(INTERVAL);
    let (thread, _events) = spawn_shard(&sim);
    let connected = sim.wait_for(TIMEOUT, is_connected).expect("connected");
    let beats = 10;
    nth_heartbeat(&sim, connected.connection, beats);
    thread.shutdown().unwrap();

    let times: Vec<Instant> = sim
        .received(1)
        .into_iter()
        .filter(|r| r.connection == connected.connection)
        .map(|r| r.at)
        .take(beats)
        .collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for gap in &gaps {
        assert!(
            *gap > INTERVAL - SLACK && *gap < INTERVAL + SLACK,
            "a gap of {gap:?} with an interval of {INTERVAL:?}: {gaps:?}"
        );
    }
    let mean = (times[beats - 1] - times[0]) / (beats as u32 - 1);
    assert!(
        mean > INTERVAL - Duration::from_millis(15) && mean < INTERVAL + Duration::from_millis(15),
        "mean gap {mean:?} with an interval of {INTERVAL:?}: {gaps:?}"
    );
}

#[test]
fn heartbeat_carries_null_before_any_dispatch() {
    // Hello is held back so the server's heartbeat request reaches the client before Hello,
    // Identify and READY: the answer is a heartbeat sent before any dispatch.
    let sim = sim_with_interval(INTERVAL);
    sim.fault_next(ConnectionFault::DelayHello(Duration::from_millis(500)), 1);
    let (thread, _events) = spawn_shard(&sim);
    let connected = sim.wait_for(TIMEOUT, is_connected).expect("connected");
    assert!(sim.request_heartbeat(), "the request was sent");
    let first = nth_heartbeat(&sim, connected.connection, 1);
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let records = sim.records();
    let heartbeat_index = records
        .iter()
        .position(is_heartbeat_on(connected.connection));
    let identify_index = records.iter().position(|r| r.op() == Some(2));
    assert!(
        heartbeat_index < identify_index,
        "the heartbeat came before Identify (so before any dispatch)"
    );
    assert_eq!(first.data(), Some(Value::Null), "{:?}", first.json());
}

#[test]
fn heartbeat_carries_the_latest_sequence_after_pushes() {
    let sim = sim_with_interval(INTERVAL);
    let (thread, events) = spawn_shard(&sim);
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    let connection = sim.wait_for(TIMEOUT, is_connected).unwrap().connection;
    let mut last = 0;
    for i in 0..5 {
        last = sim.push("TEST_EVENT", &format!(r#"{{"i":{i}}}"#)).unwrap();
    }
    assert_eq!(last, 6, "READY is 1, the pushes 2..=6");
    wait_event(
        &events,
        TIMEOUT,
        "the last push",
        |e| matches!(e, Event::Dispatch(d) if d.seq() == last),
    );
    // The client has read s=6. Beats written from now on carry it; the first one seen after
    // this point may already have been on its way, so look at the second.
    let before = sim.received(1).len();
    assert!(sim.request_heartbeat());
    let beat = sim
        .wait_for_nth(TIMEOUT, before + 2, |r| r.op() == Some(1))
        .expect("heartbeats continue");
    thread.shutdown().unwrap();

    assert_eq!(beat.connection, connection);
    assert_eq!(beat.data(), Some(json!(last)), "{:?}", beat.json());
}

#[test]
fn server_heartbeat_request_is_answered_immediately() {
    // With a 60 s interval no scheduled beat is due during the test (odds ~2 %, and then only
    // one extra beat): every prompt beat is an answer.
    let sim = sim_with_interval(Duration::from_secs(60));
    let (thread, _events) = spawn_shard(&sim);
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    let mut delays = Vec::new();
    for _ in 0..3 {
        let before = sim.received(1).len();
        let asked = Instant::now();
        assert!(sim.request_heartbeat());
        let answer = sim
            .wait_for_nth(TIMEOUT, before + 1, |r| r.op() == Some(1))
            .expect("the request is answered");
        delays.push(answer.at.saturating_duration_since(asked));
    }
    thread.shutdown().unwrap();

    for delay in &delays {
        assert!(
            *delay < Duration::from_millis(500),
            "answers took {delays:?} with a 60 s interval"
        );
    }
}

#[test]
fn heartbeats_stay_on_time_while_a_command_waits_for_the_send_limiter() {
    // 100 sends per 3 s: after Identify and the beats, about 80 commands fit in one window,
    // so of a burst of 100 the last ones wait about one window (15 beat intervals) for a
    // slot. The beats must not wait with them.
    let interval = Duration::from_millis(200);
    let window = Duration::from_secs(3);
    let sim = sim_with_rate_limit(interval, 100, window);
    let config = sim
        .client_config(Intents::non_privileged())
        .gateway_url(sim.gateway_url())
        .rate_limit(100, window)
        .build()
        .expect("valid config");
    let (thread, events) = spawn_forwarding(config);
    wait_event(&events, TIMEOUT, "READY", |e| matches!(e, Event::Ready(_)));
    let connection = sim.wait_for(TIMEOUT, is_connected).unwrap().connection;

    let commands = 100;
    for i in 0..commands {
        thread
            .handle()
            .send(
                &UpdatePresence::new(Status::Online)
                    .activity(Activity::new(ActivityType::PLAYING, format!("burst {i}"))),
            )
            .expect("queued");
    }
    let last = sim
        .wait_for_nth(TIMEOUT, commands, |r| r.op() == Some(3))
        .expect("every command is sent");
    let first = sim
        .wait_for(TIMEOUT, |r| r.op() == Some(3))
        .expect("the first command");
    thread.shutdown().unwrap();

    let held = last.at.duration_since(first.at);
    assert!(
        held > window / 2,
        "the limiter held the last command only {held:?}: the scenario needs a long wait"
    );
    let records = sim.records();
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.kind, RecordKind::ClosedByServer { .. })),
        "the simulator closed the connection"
    );
    let beats: Vec<Instant> = records
        .iter()
        .filter(|r| is_heartbeat_on(connection)(r) && r.at >= first.at && r.at <= last.at)
        .map(|r| r.at)
        .collect();
    let mut gaps = vec![beats.first().map_or(held, |b| b.duration_since(first.at))];
    gaps.extend(beats.windows(2).map(|w| w[1].duration_since(w[0])));
    gaps.push(beats.last().map_or(held, |b| last.at.duration_since(*b)));
    let worst = *gaps.iter().max().unwrap();
    assert!(
        worst < interval + Duration::from_millis(150),
        "a heartbeat waited with the commands: worst gap {worst:?} in {held:?} ({} beats, interval {interval:?})",
        beats.len()
    );
}

#[test]
fn a_callback_blocked_for_three_intervals_neither_delays_beats_nor_looks_like_a_zombie() {
    let sim = sim_with_interval(INTERVAL);
    let (thread, mut events, _handle, gate) = spawn_blocking_on_message_zero(gateway_config(&sim));
    events.wait_dispatch("READY");
    push_messages(&sim, 0, 1);
    events.wait("message 0", |e| resilience::message_number(e) == Some(0));
    // The callback is now blocked. Beats keep coming on the one connection meanwhile.
    let blocked_at = Instant::now();
    let connection = sim.records().last().expect("records").connection;
    let before = sim.received(1).len();
    let last = nth_heartbeat(&sim, connection, before + 3);
    let blocked_for = last.at.duration_since(blocked_at);
    assert!(
        blocked_for >= INTERVAL * 2,
        "three beats came {blocked_for:?} into the block"
    );
    gate.send(()).expect("the callback is still blocked");
    push_messages(&sim, 1, 1);
    events.wait("message 1", |e| resilience::message_number(e) == Some(1));
    assert_eq!(
        events.count(|e| matches!(e, Event::Disconnected { .. })),
        0,
        "{:?}",
        events.seen()
    );
    assert_eq!(sim.connections(), 1);
    thread.shutdown().unwrap();
}

#[test]
fn latency_measures_the_ack_delay_the_simulator_adds() {
    let sim = sim_with_interval(INTERVAL);
    let delay = Duration::from_millis(40);
    sim.set_ack_delay(delay);
    let (thread, events) = spawn_shard(&sim);
    wait_event(&events, TIMEOUT, "READY", |e| matches!(e, Event::Ready(_)));
    assert_eq!(thread.handle().latency().acks_received(), 0);
    let connection = sim.records().last().expect("records").connection;
    // The simulator answers each beat `delay` after reading it, before it reads the next,
    // so once it has read the third beat, the first two ACKs are back at the client and the
    // heartbeat thread took them before it asked for the third.
    nth_heartbeat(&sim, connection, 3);
    let latency = thread.handle().latency();
    thread.shutdown().unwrap();

    assert!(latency.heartbeats_sent() >= 3, "{latency:?}");
    assert!(latency.acks_received() >= 2, "{latency:?}");
    let recent = latency.recent().expect("a round trip");
    let average = latency.average().expect("an average");
    assert!(
        recent >= delay && recent < delay + SLACK * 3,
        "recent {recent:?}, delay {delay:?}"
    );
    assert!(average >= delay, "average {average:?}");
    assert!(latency.last_ack().is_some());
}
