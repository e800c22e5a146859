//! Dispatch delivery: every event, in order, on the caller's thread (DESIGN.md §1–2).

mod resilience;

use crossbeam_channel::bounded;
use resilience::gateway_config;
use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::Duration;
use syncord::sim::{SimConfig, Simulator};
use syncord::{Event, Shard, ShardHandle};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Scripts the simulator from a helper thread while the shard runs on the test thread.
/// `script` gets the simulator once a session is live. If the script panics, or the shard
/// has not been stopped `guard` after it finished, the helper stops the shard so the test
/// fails instead of hanging.
fn scripted(
    sim: Simulator,
    handle: ShardHandle,
    guard: Duration,
    script: impl FnOnce(&Simulator) + Send + 'static,
) -> (thread::JoinHandle<Simulator>, crossbeam_channel::Sender<()>) {
    let (done_tx, done_rx) = bounded::<()>(1);
    let helper = thread::spawn(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            if sim.wait_for_session(TIMEOUT).is_some() {
                script(&sim);
            }
        }));
        if outcome.is_err() || done_rx.recv_timeout(guard).is_err() {
            handle.shutdown();
        }
        if let Err(panic) = outcome {
            panic::resume_unwind(panic);
        }
        sim
    });
    (helper, done_tx)
}

#[test]
fn ten_thousand_dispatches_arrive_in_order_with_seq_increasing_by_one() {
    const PUSHES: u64 = 10_000;
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = gateway_config(&sim);
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let (helper, done) = scripted(sim, handle.clone(), Duration::from_secs(60), |sim| {
        for i in 0..PUSHES {
            let seq = sim.push("TEST_EVENT", &format!(r#"{{"i":{i}}}"#));
            assert_eq!(seq, Some(i + 2), "READY is 1, so push #{i} is {}", i + 2);
        }
    });

    let mut seqs = Vec::with_capacity(PUSHES as usize + 1);
    let mut payload_order = Vec::with_capacity(PUSHES as usize);
    let result = shard.run(|event| {
        if let Event::Dispatch(dispatch) = event {
            seqs.push(dispatch.seq());
            if dispatch.event_type() == "TEST_EVENT" {
                // No unwrap in here: a panic in the handler is caught and reported.
                let data = dispatch.data::<serde_json::Value>().ok();
                payload_order.push(data.and_then(|d| d["i"].as_u64()));
            }
            if dispatch.seq() == PUSHES + 1 {
                handle.shutdown();
            }
        }
    });
    let _ = done.send(());
    let _sim = helper.join().expect("the pushes succeeded");

    result.unwrap();
    assert_eq!(seqs.len() as u64, PUSHES + 1, "READY plus every push");
    assert_eq!(seqs[0], 1, "READY first");
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "seq jumped from {} to {}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        payload_order.iter().copied().eq((0..PUSHES).map(Some)),
        "payloads arrived out of order"
    );
}

#[test]
fn handler_runs_on_the_thread_that_called_run() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = gateway_config(&sim);
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let (helper, done) = scripted(sim, handle.clone(), TIMEOUT, |sim| {
        for _ in 0..10 {
            sim.push("TEST_EVENT", "{}");
        }
    });

    let caller = thread::current().id();
    let mut calls = Vec::new();
    let mut dispatches = 0;
    let result = shard.run(|event| {
        calls.push((event.name(), thread::current().id()));
        if let Event::Dispatch(_) = event {
            dispatches += 1;
            if dispatches == 11 {
                handle.shutdown();
            }
        }
    });
    let _ = done.send(());
    helper.join().unwrap();

    result.unwrap();
    assert_eq!(dispatches, 11, "READY and ten pushes were delivered");
    for (name, thread) in &calls {
        assert_eq!(*thread, caller, "the {name} event ran on another thread");
    }
}

#[test]
fn spawn_receiver_delivers_in_order_and_dropping_it_stops_the_shard() {
    let sim = syncord::sim::Simulator::start(syncord::sim::SimConfig::default()).unwrap();
    let shard = syncord::Shard::with_config(
        sim.client_config(syncord::Intents::GUILD_MESSAGES | syncord::Intents::DIRECT_MESSAGES)
            .event_queue(8)
            .build()
            .expect("valid config"),
    );
    let (thread, events) = shard.spawn_receiver().unwrap();
    sim.wait_for_session(std::time::Duration::from_secs(10))
        .unwrap();
    for i in 0..100 {
        sim.push("MESSAGE_CREATE", &format!(r#"{{"i":{i}}}"#));
    }
    let mut seqs = Vec::new();
    while seqs.len() < 101 {
        if let syncord::Event::Dispatch(d) = events
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap()
        {
            seqs.push(d.seq());
        }
    }
    assert_eq!(seqs, (1..=101).collect::<Vec<u64>>());
    drop(events);
    // No event follows: the drop itself stops the shard.
    assert!(thread.join().is_ok());
}

#[test]
fn dropping_the_receiver_stops_an_idle_shard_without_any_traffic() {
    // A one-hour heartbeat: nothing at all arrives after READY.
    let sim = syncord::sim::Simulator::start(
        syncord::sim::SimConfig::default().heartbeat_interval(std::time::Duration::from_secs(3600)),
    )
    .unwrap();
    let shard = syncord::Shard::with_config(
        sim.client_config(syncord::Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    let (thread, events) = shard.spawn_receiver().unwrap();
    loop {
        let event = events
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("READY arrives");
        if matches!(event, syncord::Event::Ready(_)) {
            break;
        }
    }
    let handle = thread.handle().clone();
    drop(events);
    // `join` returning is the proof; a watchdog turns a hang into a failure.
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || done_tx.send(thread.join().is_ok()));
    assert_eq!(
        done_rx.recv_timeout(std::time::Duration::from_secs(5)),
        Ok(true),
        "the shard is still {:?} after the receiver was dropped",
        handle.state()
    );
}
