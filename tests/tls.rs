//! The TLS path end to end: the simulator serves wss:// and https:// with a generated
//! certificate, trusted through a user-supplied `native_tls::TlsConnector`.

mod resilience;

use crossbeam_channel::Receiver;
use resilience::{spawn_forwarding, wait_event};
use std::time::Duration;
use syncord::sim::{RecordKind, SimConfig, Simulator};
use syncord::{Config, Event, Intents, ShardThread};

const WAIT: Duration = Duration::from_secs(20);

fn next(rx: &Receiver<Event>, what: &str, predicate: impl FnMut(&Event) -> bool) -> Event {
    wait_event(rx, WAIT, what, predicate)
}

#[test]
fn a_trusted_certificate_carries_discovery_identify_and_resume_over_tls() {
    let sim = Simulator::start(SimConfig::default().tls(true)).unwrap();
    assert!(sim.gateway_url().starts_with("wss://localhost:"));
    assert!(sim.api_base().starts_with("https://localhost:"));
    assert!(sim.certificate_pem().unwrap().contains("BEGIN CERTIFICATE"));
    // client_config trusts the simulator's certificate through tls_connector().
    let (shard, events) = spawn_forwarding(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    next(&events, "Ready", |e| matches!(e, Event::Ready(_)));
    sim.push("MESSAGE_CREATE", r#"{"content":"over tls"}"#);
    next(
        &events,
        "MESSAGE_CREATE",
        |e| matches!(e, Event::Dispatch(d) if d.event_type() == "MESSAGE_CREATE"),
    );
    sim.close(4000);
    next(&events, "Resumed", |e| matches!(e, Event::Resumed { .. }));
    let resumed_on = sim
        .wait_for(WAIT, |r| r.op() == Some(6))
        .expect("a Resume was sent");
    let path = sim.records().into_iter().find_map(|r| match r.kind {
        RecordKind::Connected { path, .. } if r.connection == resumed_on.connection => Some(path),
        _ => None,
    });
    assert_eq!(path.as_deref(), Some("/resume"));
    shard.shutdown().unwrap();
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let sim = Simulator::start(SimConfig::default().tls(true)).unwrap();
    let config = Config::builder(sim.token(), Intents::non_privileged())
        .gateway_url(sim.gateway_url())
        .build()
        .expect("valid config");
    let (shard, events) = spawn_forwarding(config);
    let reason = match next(&events, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    }) {
        Event::Disconnected { reason, .. } => reason,
        _ => unreachable!(),
    };
    assert!(reason.contains("TLS"), "{reason}");
    assert!(
        sim.received(2).is_empty(),
        "nothing was sent over an unverified connection"
    );
    shard.shutdown().unwrap();
}

/// Starts a session on `sim`, whose READY announces a resume URL the client must not use,
/// and closes it resumably: the client reports an error whose message contains `reason`
/// and resumes without that URL. Returns the shard, still running, and its events.
fn resume_url_refused(sim: &Simulator, reason: &str) -> (ShardThread, Receiver<Event>) {
    let (shard, events) = spawn_forwarding(
        sim.client_config(Intents::non_privileged())
            .build()
            .expect("valid config"),
    );
    next(&events, "Ready", |e| matches!(e, Event::Ready(_)));
    sim.close(4000);
    let message = match next(&events, "Error", |e| matches!(e, Event::Error { .. })) {
        Event::Error { kind, message } => {
            assert_eq!(kind, syncord::ErrorKind::RefusedResumeUrl, "{message}");
            message
        }
        _ => unreachable!(),
    };
    assert!(message.contains(reason), "{message}");
    next(&events, "Resumed", |e| matches!(e, Event::Resumed { .. }));
    (shard, events)
}

#[test]
fn a_plain_text_resume_url_is_refused_after_a_tls_session() {
    // READY announces a ws:// resume URL although the session runs over TLS.
    let plain = Simulator::start(SimConfig::default()).unwrap();
    let sim = Simulator::start(
        SimConfig::default()
            .tls(true)
            .resume_gateway_url(plain.resume_url()),
    )
    .unwrap();
    // The client resumes over TLS on the gateway URL instead.
    let (shard, _events) = resume_url_refused(&sim, "downgrade");
    assert_eq!(
        plain.connections(),
        0,
        "the plain-text server was never contacted"
    );
    shard.shutdown().unwrap();
}

#[test]
fn a_resume_url_that_is_not_wss_is_refused_before_dialing() {
    let sim =
        Simulator::start(SimConfig::default().resume_gateway_url("ws://gateway.example.invalid"))
            .unwrap();
    let (shard, _events) = resume_url_refused(&sim, "resume URL");
    shard.shutdown().unwrap();
}
