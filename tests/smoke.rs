use std::time::Duration;
use syncord::sim::{SimConfig, Simulator};
use syncord::{Event, Intents, Shard};

#[test]
fn smoke() {
    let _ = env_logger_init();
    let sim = Simulator::start(SimConfig::default().heartbeat_interval(Duration::from_millis(100))).unwrap();
    let shard = Shard::with_config(sim.client_config(Intents::GUILD_MESSAGES).build());
    let handle = shard.handle();
    let pusher = std::thread::spawn(move || {
        sim.wait_for_session(Duration::from_secs(10)).expect("client identified");
        for i in 0..5 {
            sim.push("MESSAGE_CREATE", &format!(r#"{{"content":"hello {i}"}}"#));
        }
        sim.wait_for_nth(Duration::from_secs(5), 3, |r| r.op() == Some(1)).expect("3 heartbeats");
        sim.push("DONE", "null");
        sim
    });
    let mut n = 0;
    shard
        .run(|event| {
            eprintln!("{event:?}");
            if let Event::Dispatch(d) = event {
                n += 1;
                if d.event_type() == "DONE" {
                    handle.shutdown();
                }
            }
        })
        .unwrap();
    let sim = pusher.join().unwrap();
    for r in sim.records() { eprintln!("{r:?}"); }
    assert_eq!(n, 7);
}
fn env_logger_init() {}
