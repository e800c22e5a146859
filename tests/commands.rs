//! Commands from many threads, the send limiter, queueing while reconnecting, member
//! chunking and oversize commands, over real sockets against the simulator.

mod resilience;

use crossbeam_channel::Receiver;
use resilience::{sim_with_rate_limit, spawn_forwarding, wait_event};
use std::time::{Duration, Instant};
use syncord::protocol::{
    Activity, ActivityType, OpCode, RequestGuildMembers, Status, UpdatePresence,
};
use syncord::sim::{ConnectionFault, RecordKind, SimConfig, Simulator};
use syncord::{Backoff, Error, Event, Intents, ShardThread};

const WAIT: Duration = Duration::from_secs(20);

/// Starts a shard on `sim` and forwards its events into a channel.
fn start(
    sim: &Simulator,
    adjust: impl FnOnce(syncord::ConfigBuilder) -> syncord::ConfigBuilder,
) -> (ShardThread, Receiver<Event>) {
    let config = adjust(sim.client_config(Intents::GUILDS | Intents::GUILD_MEMBERS))
        .build()
        .expect("valid config");
    spawn_forwarding(config)
}

fn wait_for_event(
    rx: &Receiver<Event>,
    what: &str,
    predicate: impl FnMut(&Event) -> bool,
) -> Event {
    wait_event(rx, WAIT, what, predicate)
}

fn presence(name: String) -> UpdatePresence {
    UpdatePresence::new(Status::Online).activity(Activity::new(ActivityType::PLAYING, name))
}

#[test]
fn eight_threads_flooding_presence_updates_never_trip_the_limit_nor_delay_heartbeats() {
    let window = Duration::from_secs(1);
    let interval = Duration::from_millis(250);
    let sim = sim_with_rate_limit(interval, 120, window);
    let (shard, events) = start(&sim, |c| c.rate_limit(120, window));
    wait_for_event(&events, "Ready", |e| matches!(e, Event::Ready(_)));

    let started = Instant::now();
    let senders: Vec<_> = (0..8)
        .map(|thread| {
            let handle = shard.handle().clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    handle
                        .send(&presence(format!("t{thread}-{i}")))
                        .expect("send");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let last = sim
        .wait_for_nth(Duration::from_secs(60), 800, |r| r.op() == Some(3))
        .expect("all 800 presence updates arrive");
    let elapsed = last.at.duration_since(started);

    let records = sim.records();
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.kind, RecordKind::ClosedByServer { code: 4008 })),
        "the simulator closed with 4008"
    );
    // Per-thread order.
    let mut next = [0u32; 8];
    for record in records.iter().filter(|r| r.op() == Some(3)) {
        let data = record.data().unwrap();
        let name = data["activities"][0]["name"].as_str().unwrap().to_owned();
        let (thread, index) = name[1..].split_once('-').unwrap();
        let (thread, index): (usize, u32) = (thread.parse().unwrap(), index.parse().unwrap());
        assert_eq!(index, next[thread], "thread {thread} out of order");
        next[thread] += 1;
    }
    assert_eq!(next, [100; 8]);
    // Heartbeats kept their cadence through the flood.
    let beats: Vec<Instant> = records
        .iter()
        .filter(|r| r.op() == Some(1) && r.at >= started && r.at <= last.at)
        .map(|r| r.at)
        .collect();
    assert!(
        beats.len() >= 4,
        "only {} heartbeats during the flood",
        beats.len()
    );
    let worst = beats
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap();
    let connections = records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Connected { .. }))
        .count();
    assert_eq!(connections, 1, "the flood must not cost a reconnect");
    println!(
        "flood: 800 commands in {elapsed:.2?} ({:.0}/s), worst heartbeat gap {worst:.1?} (interval {interval:?})",
        800.0 / elapsed.as_secs_f64()
    );
    assert!(
        worst < interval + Duration::from_millis(150),
        "a heartbeat waited: gap {worst:?}"
    );
    shard.shutdown().unwrap();
}

#[test]
fn commands_sent_while_reconnecting_go_out_after_resumed() {
    let sim =
        Simulator::start(SimConfig::default().heartbeat_interval(Duration::from_secs(5))).unwrap();
    let (shard, events) = start(&sim, |c| c);
    wait_for_event(&events, "Ready", |e| matches!(e, Event::Ready(_)));

    // The next connection answers slowly, so the command is sent while disconnected.
    sim.fault_next(ConnectionFault::DelayHello(Duration::from_millis(300)), 1);
    sim.close(4000);
    wait_for_event(&events, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    });
    shard
        .handle()
        .send(&presence("queued".into()))
        .expect("queued while disconnected");
    wait_for_event(&events, "Resumed", |e| matches!(e, Event::Resumed { .. }));

    let command = sim
        .wait_for(WAIT, |r| r.op() == Some(3))
        .expect("the command is sent after resuming");
    let resume = sim.received(6).pop().expect("a Resume was sent");
    assert_eq!(command.connection, resume.connection);
    assert!(
        command.at >= resume.at,
        "the command went out before Resume"
    );
    assert_eq!(sim.received(3).len(), 1, "sent exactly once");
    shard.shutdown().unwrap();
}

#[test]
fn a_full_command_queue_errors_after_the_timeout() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    // Connected but never active: commands queue and nothing drains them.
    sim.fault_next(ConnectionFault::NoHello, 10);
    let timeout = Duration::from_millis(200);
    let (shard, _events) = start(&sim, |c| {
        c.command_queue(2)
            .command_timeout(timeout)
            .hello_timeout(Duration::from_secs(30))
    });
    let handle = shard.handle().clone();
    handle.send(&presence("1".into())).unwrap();
    handle.send(&presence("2".into())).unwrap();
    let started = Instant::now();
    let third = handle.send(&presence("3".into()));
    let waited = started.elapsed();
    assert!(
        matches!(third, Err(Error::QueueFull(t)) if t == timeout),
        "{third:?}"
    );
    assert!(waited >= timeout, "gave up after {waited:?}");
    assert!(waited < timeout * 10, "blocked for {waited:?}");
    assert!(sim.received(3).is_empty());
    shard.shutdown().unwrap();
}

#[test]
fn member_chunking_gathers_ten_chunks_of_a_thousand() {
    let sim = Simulator::start(SimConfig::default().members(10_000, 1000)).unwrap();
    let (shard, events) = start(&sim, |c| c);
    wait_for_event(&events, "Ready", |e| matches!(e, Event::Ready(_)));
    let request = shard
        .handle()
        .request_guild_members(RequestGuildMembers::all("4194304"))
        .unwrap();
    let nonce = request.nonce().to_owned();
    let members = request.wait(WAIT).expect("all chunks");
    assert_eq!(members.chunk_count, 10);
    assert_eq!(members.members.len(), 10_000);
    assert_eq!(members.guild_id, "4194304");
    assert!(members.members[9_999].get().contains(r#""id":"10000""#));
    // The chunks reach the handler too.
    let mut chunks = 0;
    while chunks < 10 {
        if let Event::Dispatch(d) =
            wait_for_event(&events, "Dispatch", |e| matches!(e, Event::Dispatch(_)))
        {
            if d.event_type() == "GUILD_MEMBERS_CHUNK" {
                assert!(d.data_json().contains(&nonce));
                chunks += 1;
            }
        }
    }
    shard.shutdown().unwrap();
}

#[test]
fn member_chunking_reports_not_found_ids() {
    let sim = Simulator::start(SimConfig::default().members(50, 1000)).unwrap();
    let (shard, events) = start(&sim, |c| c);
    wait_for_event(&events, "Ready", |e| matches!(e, Event::Ready(_)));
    let request = shard
        .handle()
        .request_guild_members(RequestGuildMembers::by_ids("4194304", ["7", "99", "100"]))
        .unwrap();
    let members = request.wait(WAIT).unwrap();
    assert_eq!(members.members.len(), 1);
    assert_eq!(members.not_found, ["99", "100"]);
    let too_long = RequestGuildMembers::all("1").nonce("x".repeat(33));
    assert!(matches!(
        shard.handle().request_guild_members(too_long),
        Err(Error::InvalidCommand(_))
    ));
    shard.shutdown().unwrap();
}

#[test]
fn member_chunk_wait_times_out_without_an_answer() {
    let sim = Simulator::start(SimConfig::default().members(10, 1000)).unwrap();
    let (shard, events) = start(&sim, |c| c);
    wait_for_event(&events, "Ready", |e| matches!(e, Event::Ready(_)));
    // The simulator answers a second "all" request within 30 s with RATE_LIMITED only.
    let first = shard
        .handle()
        .request_guild_members(RequestGuildMembers::all("4194304"))
        .unwrap();
    first.wait(WAIT).unwrap();
    let second = shard
        .handle()
        .request_guild_members(RequestGuildMembers::all("4194304"))
        .unwrap();
    let result = second.wait(Duration::from_millis(300));
    assert!(matches!(result, Err(Error::TimedOut(_))), "{result:?}");
    wait_for_event(
        &events,
        "RATE_LIMITED",
        |e| matches!(e, Event::Dispatch(d) if d.event_type() == "RATE_LIMITED"),
    );
    shard.shutdown().unwrap();
}

#[test]
fn an_oversize_command_errors_and_the_connection_stays_up() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let (shard, events) = start(&sim, |c| c.backoff(Backoff::default()));
    wait_for_event(&events, "Ready", |e| matches!(e, Event::Ready(_)));
    let handle = shard.handle().clone();
    let huge = presence("x".repeat(5000));
    let result = handle.send(&huge);
    assert!(
        matches!(result, Err(Error::PayloadTooLarge { limit: 4096, size }) if size > 5000),
        "{result:?}"
    );
    assert!(!result.unwrap_err().is_fatal());
    handle
        .send_raw(
            OpCode::PRESENCE_UPDATE,
            r#"{"since":null,"activities":[],"status":"idle","afk":false}"#,
        )
        .unwrap();
    let after = sim
        .wait_for(WAIT, |r| r.op() == Some(3))
        .expect("normal command");
    assert_eq!(
        after.connection,
        sim.received(2)[0].connection,
        "same connection"
    );
    assert_eq!(sim.received(3).len(), 1, "the oversize command never left");
    shard.shutdown().unwrap();
}

#[test]
fn commands_queued_when_the_shard_stops_are_handed_back_not_dropped() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    // Never connected: the first dial is refused and the next one is 15 s or more away.
    let (thread, mut events) = resilience::spawn_into_a_slow_backoff(&sim);
    events.wait("Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let handle = thread.handle().clone();
    for n in 0..3 {
        handle
            .send_raw(
                syncord::protocol::OpCode::PRESENCE_UPDATE,
                &format!(r#"{{"since":null,"activities":[],"status":"online","afk":{n}}}"#),
            )
            .expect("queued while disconnected");
    }
    thread.shutdown().unwrap();
    events.drain_until_closed(Duration::from_secs(5));
    let unsent: Vec<&str> = events
        .seen()
        .iter()
        .filter_map(|e| match e {
            Event::Unsent { payload } => Some(payload.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(unsent.len(), 3, "{:?}", events.seen());
    for (n, payload) in unsent.iter().enumerate() {
        assert!(
            payload.contains(&format!(r#""afk":{n}"#)),
            "in order: {unsent:?}"
        );
    }
}
