//! Gateway discovery (`GET /gateway/bot`) as a shard runs it: rate limits waited out,
//! failures reported as a disconnect and retried, and shutdown in the middle of a request.
//! Discovery's own retry counts and waits are tested in `src/rest.rs`.

mod resilience;

use resilience::{hanging_listener, quick_backoff, spawn_forwarding, wait_event, TIMEOUT};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Config, Event, Intents, ShardThread};

/// The simulator's HTTP answers so far: when, and with which status.
fn answers(sim: &Simulator) -> Vec<(Instant, u16)> {
    sim.records()
        .into_iter()
        .filter_map(|r| match r.kind {
            RecordKind::Http { status, .. } => Some((r.at, status)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_rate_limited_discovery_waits_retry_after_then_connects() {
    let sim = Simulator::start(SimConfig::default().gateway_bot_rate_limited(1)).unwrap();
    let (shard, events) = spawn_forwarding(
        sim.client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    wait_event(&events, TIMEOUT, "Ready", |e| matches!(e, Event::Ready(_)));
    let answers = answers(&sim);
    let statuses: Vec<u16> = answers.iter().map(|(_, status)| *status).collect();
    assert_eq!(statuses, [429, 200]);
    // The simulator's 429 says `"retry_after":0.05`.
    let waited = answers[1].0.duration_since(answers[0].0);
    assert!(
        waited >= Duration::from_millis(50),
        "asked again after {waited:?}"
    );
    shard.shutdown().unwrap();
}

#[test]
fn an_oversized_discovery_answer_is_a_disconnect_then_retried() {
    let sim = Simulator::start(SimConfig::default().gateway_bot_body_size(2 << 20)).unwrap();
    let config = sim
        .client_config(Intents::GUILDS)
        .backoff(quick_backoff())
        .build()
        .expect("valid config");
    let (shard, events) = spawn_forwarding(config);
    let reason = match wait_event(&events, TIMEOUT, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    }) {
        Event::Disconnected { reason, .. } => reason,
        _ => unreachable!(),
    };
    assert!(reason.contains("body over 1048576 bytes"), "{reason}");
    wait_event(&events, TIMEOUT, "Reconnecting", |e| {
        matches!(e, Event::Reconnecting { .. })
    });
    sim.wait_for_nth(TIMEOUT, 2, |r| matches!(r.kind, RecordKind::Http { .. }))
        .expect("discovery is tried again after the backoff");
    shard.shutdown().unwrap();
}

/// A TCP server that accepts one connection and never says a word. Returns its port and
/// a receiver of the accepted socket (kept open by the test).
fn silent_server() -> (u16, crossbeam_channel::Receiver<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = tx.send(stream);
        }
    });
    (port, rx)
}

/// Starts a shard discovering through `api_base` (a silent server) with `timeout` per
/// request, waits until the server has accepted its connection, shuts the shard down and
/// returns how long `run` took to return.
fn shutdown_mid_request(
    api_base: String,
    timeout: Duration,
    accepted: &crossbeam_channel::Receiver<TcpStream>,
) -> Duration {
    let config = Config::builder("token", Intents::GUILDS)
        .api_base(api_base)
        .handshake_timeout(timeout)
        .build()
        .expect("valid config");
    let (shard, _events) = spawn_forwarding(config);
    let _socket = accepted.recv_timeout(TIMEOUT).expect("discovery connects");
    timed_shutdown(shard)
}

fn timed_shutdown(shard: ShardThread) -> Duration {
    let asked = Instant::now();
    let result = shard.shutdown();
    let took = asked.elapsed();
    assert!(result.is_ok(), "{result:?}");
    took
}

/// A discovery request to a server that accepts and never answers ends at once on shutdown.
fn assert_shutdown_interrupts_a_silent_discovery(scheme: &str) {
    let (port, accepted) = silent_server();
    // A minute per request: only the socket being shut down ends this one soon.
    let took = shutdown_mid_request(
        format!("{scheme}://127.0.0.1:{port}/api/v10"),
        Duration::from_secs(60),
        &accepted,
    );
    assert!(
        took < Duration::from_secs(1),
        "run returned {took:?} after shutdown"
    );
}

#[test]
fn shutdown_interrupts_an_https_discovery_that_never_answers() {
    assert_shutdown_interrupts_a_silent_discovery("https");
}

#[test]
fn shutdown_interrupts_a_plain_http_discovery_that_never_answers() {
    assert_shutdown_interrupts_a_silent_discovery("http");
}

#[test]
fn shutdown_during_a_hanging_connect_waits_at_most_for_the_request_timeout() {
    // ureq connects before it hands the socket over, so a connect that hangs (a listener
    // whose accept queue is full drops SYNs) is bounded by the request timeout only.
    let (_listener, fillers, addr) = hanging_listener();
    let timeout = Duration::from_secs(1);
    let config = Config::builder("token", Intents::GUILDS)
        .api_base(format!("https://{addr}/api/v10"))
        .handshake_timeout(timeout)
        .build()
        .expect("valid config");
    let (shard, events) = spawn_forwarding(config);
    // Nothing to wait on while the SYN goes unanswered: no event comes before the
    // connect ends, so this silence is the connect under way.
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err());
    let took = timed_shutdown(shard);
    assert!(
        took < timeout + Duration::from_millis(500),
        "run returned {took:?} after shutdown"
    );
    drop(fillers);
}

#[test]
fn an_api_base_without_the_api_path_ends_run_with_a_config_error_naming_it() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    // A path without /api/v10: the server answers 404, which no retry can fix.
    let config = syncord::Config::builder(sim.token(), syncord::Intents::GUILDS)
        .api_base(format!("{}/nowhere", sim.api_base()))
        .build()
        .expect("valid config");
    let shard = syncord::Shard::with_config(config);
    let handle = shard.handle();
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || done_tx.send(shard.run(|_| {})));
    let result = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("run ends instead of retrying forever");
    let Err(syncord::Error::Config(message)) = result else {
        panic!("{result:?}");
    };
    assert!(
        message.contains("api_base") && message.contains("404"),
        "{message}"
    );
    assert_eq!(handle.state(), syncord::ShardState::FatallyClosed);
}
