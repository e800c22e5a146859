//! Shutdown while the TCP connect itself hangs (a listener whose accept queue is full drops
//! SYNs, so the connect neither succeeds nor fails): `run` still returns at once.

mod resilience;

use resilience::{spawn_forwarding, wait_event};
use socket2::{Domain, Socket, Type};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use syncord::{Config, Event, Intents};

#[test]
fn shutdown_interrupts_a_hanging_connect() {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue; nobody ever accepts.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let hangs = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
    assert!(
        hangs.is_err(),
        "the accept queue is not full: cannot test a hanging connect"
    );

    let config = Config::builder("token", Intents::GUILDS)
        .gateway_url(format!("ws://{addr}"))
        .dial_timeout(Duration::from_secs(60))
        .build()
        .expect("valid config");
    let (shard, events) = spawn_forwarding(config);
    wait_event(&events, Duration::from_secs(10), "Connecting", |e| {
        matches!(e, Event::Connecting { .. })
    });
    // Let the connect get under way, then stop.
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err());
    let started = Instant::now();
    shard.shutdown().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    drop(fillers);
}
