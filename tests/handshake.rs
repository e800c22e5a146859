//! Handshake: discovery, websocket open, Identify, READY, and the lifecycle events the
//! handler sees on the way (PROTOCOL.md §1, §4.3).

mod resilience;

use crossbeam_channel::{unbounded, Receiver};
use resilience::{gateway_config, spawn_forwarding};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use syncord::protocol::{Activity, ActivityType, IdentifyProperties, Status, UpdatePresence};
use syncord::sim::{Record, RecordKind, SimConfig, Simulator};
use syncord::{Event, Intents, Session, Shard};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Receives events until one matches, returning everything received up to and including it.
fn events_until(rx: &Receiver<Event>, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + TIMEOUT;
    let mut events = Vec::new();
    loop {
        let event = rx
            .recv_deadline(deadline)
            .unwrap_or_else(|_| panic!("timed out; events so far: {events:?}"));
        let finished = done(&event);
        events.push(event);
        if finished {
            return events;
        }
    }
}

fn is_ready_dispatch(event: &Event) -> bool {
    matches!(event, Event::Dispatch(d) if d.event_type() == "READY")
}

/// The `d` of the single Identify the simulator received.
fn only_identify(sim: &Simulator) -> Value {
    let identifies = sim.received(2);
    assert_eq!(identifies.len(), 1, "exactly one Identify: {identifies:?}");
    identifies[0].data().expect("Identify has a JSON `d`")
}

#[test]
fn identify_carries_token_intents_and_every_configured_field() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    let config = sim
        .client_config(intents)
        .properties(IdentifyProperties {
            os: "test-os".into(),
            browser: "test-browser".into(),
            device: "test-device".into(),
        })
        .shard(1, 2)
        .large_threshold(150)
        .presence(
            UpdatePresence::new(Status::Idle)
                .activity(Activity::new(ActivityType::WATCHING, "the tests")),
        )
        .build()
        .expect("valid config");
    let (thread, _events) = spawn_forwarding(config);
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let d = only_identify(&sim);
    assert_eq!(d["token"], json!(sim.token()));
    assert_eq!(d["intents"], json!(intents.bits()));
    assert_eq!(
        d["properties"],
        json!({"os": "test-os", "browser": "test-browser", "device": "test-device"})
    );
    assert_eq!(d["shard"], json!([1, 2]));
    assert_eq!(d["large_threshold"], json!(150));
    assert_eq!(
        d["presence"],
        json!({
            "since": null,
            "activities": [{"name": "the tests", "type": 3}],
            "status": "idle",
            "afk": false,
        })
    );
}

#[test]
fn identify_omits_optional_fields_that_were_not_configured() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let (thread, _events) = spawn_forwarding(
        sim.client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let d = only_identify(&sim);
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["intents", "properties", "token"], "{d}");
    assert_eq!(d["token"], json!(sim.token()));
    assert_eq!(d["intents"], json!(Intents::GUILDS.bits()));
}

#[test]
fn identify_properties_default_to_this_os_and_the_library_name() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let (thread, _events) = spawn_forwarding(
        sim.client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let d = only_identify(&sim);
    assert_eq!(
        d["properties"],
        json!({"os": std::env::consts::OS, "browser": "syncord", "device": "syncord"})
    );
}

#[test]
fn lifecycle_runs_connecting_connected_ready_then_the_ready_dispatch() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = gateway_config(&sim);
    let (thread, events) = spawn_forwarding(config);
    let seen = events_until(&events, is_ready_dispatch);
    let session_id = sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let names: Vec<&str> = seen.iter().map(Event::name).collect();
    assert_eq!(names, ["connecting", "connected", "ready", "dispatch"]);
    match &seen[0] {
        Event::Connecting {
            attempt,
            url,
            resume,
        } => {
            assert_eq!(*attempt, 0);
            assert!(!resume, "a fresh shard identifies");
            assert!(url.starts_with(&sim.gateway_url()), "{url}");
            assert!(
                url.contains("v=10") && url.contains("encoding=json"),
                "{url}"
            );
        }
        other => panic!("expected Connecting, got {other:?}"),
    }
    match &seen[2] {
        Event::Ready(ready) => {
            assert_eq!(ready.session_id, session_id);
            assert_eq!(
                ready.resume_gateway_url.as_deref(),
                Some(&*sim.resume_url())
            );
        }
        other => panic!("expected Ready, got {other:?}"),
    }
    match &seen[3] {
        Event::Dispatch(dispatch) => {
            assert_eq!(dispatch.event_type(), "READY");
            assert_eq!(dispatch.seq(), 1);
            let d: Value = dispatch.data().unwrap();
            assert_eq!(d["session_id"], json!(session_id));
        }
        other => panic!("expected the READY dispatch, got {other:?}"),
    }
}

#[test]
fn discovery_request_carries_a_discordbot_user_agent() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let (thread, _events) = spawn_forwarding(
        sim.client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    let request = sim.wait_for(TIMEOUT, |r| matches!(r.kind, RecordKind::Http { .. }));
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let Some(Record {
        kind:
            RecordKind::Http {
                path,
                status,
                user_agent,
            },
        ..
    }) = request
    else {
        panic!("no discovery request was made");
    };
    assert_eq!(path, "/api/v10/gateway/bot");
    assert_eq!(status, 200);
    // PROTOCOL.md §1.1: `DiscordBot (<library url>, <library version>)`.
    let inner = user_agent
        .strip_prefix("DiscordBot (")
        .and_then(|rest| rest.split_once(')'))
        .map(|(inner, _)| inner)
        .unwrap_or_else(|| panic!("not a DiscordBot user agent: {user_agent:?}"));
    let (url, version) = inner
        .split_once(", ")
        .unwrap_or_else(|| panic!("no `<url>, <version>` in {user_agent:?}"));
    assert!(url.starts_with("https://"), "{user_agent:?}");
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "{user_agent:?}");
}

#[test]
fn websocket_opens_the_discovered_url_with_v10_and_json() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let (thread, _events) = spawn_forwarding(
        sim.client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    let connected = sim.wait_for(TIMEOUT, |r| matches!(r.kind, RecordKind::Connected { .. }));
    sim.wait_for_session(TIMEOUT).expect("a session starts");
    thread.shutdown().unwrap();

    let Some(Record {
        kind: RecordKind::Connected { path, query },
        ..
    }) = connected
    else {
        panic!("the client never opened a websocket");
    };
    assert_eq!(path, "/");
    let params: Vec<&str> = query.split('&').collect();
    assert!(params.contains(&"v=10"), "{query}");
    assert!(params.contains(&"encoding=json"), "{query}");
}

#[test]
fn received_ready_sets_the_handle_session() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = gateway_config(&sim);
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    assert_eq!(handle.session(), None, "no session before run");
    let (tx, events) = unbounded::<(Event, Option<Session>)>();
    let thread = {
        let handle = handle.clone();
        shard
            .spawn(move |event| {
                let _ = tx.send((event, handle.session()));
            })
            .unwrap()
    };
    let session_id = sim.wait_for_session(TIMEOUT).expect("a session starts");
    assert_eq!(sim.push("PING", "{}"), Some(2));

    let deadline = Instant::now() + TIMEOUT;
    let mut at_ready = None;
    loop {
        let (event, session) = events.recv_deadline(deadline).expect("events arrive");
        match event {
            Event::Connecting { .. } | Event::Connected => {
                assert_eq!(session, None, "no session before READY");
            }
            Event::Ready(_) => at_ready = Some(session),
            Event::Dispatch(d) if d.event_type() == "PING" => {
                let session = session.expect("the session is still set");
                assert_eq!(session.id, session_id);
                assert!(
                    (1..=2).contains(&session.seq),
                    "seq tracks delivered dispatches: {session:?}"
                );
                break;
            }
            _ => {}
        }
    }
    thread.shutdown().unwrap();

    let at_ready = at_ready
        .expect("a Ready event was delivered")
        .expect("the session is set when the Ready event is delivered");
    assert_eq!(at_ready.id, session_id);
    assert_eq!(at_ready.resume_url, sim.resume_url());
}

#[test]
fn the_upgrade_carries_the_discordbot_user_agent_so_strict_servers_accept_it() {
    // Like Spacebar: an upgrade without a User-Agent is closed with 4002.
    let sim = Simulator::start(SimConfig::default().require_user_agent(true)).unwrap();
    let (thread, events) = spawn_forwarding(gateway_config(&sim));
    let first = resilience::wait_event(
        &events,
        Duration::from_secs(10),
        "READY or a disconnect",
        |e| matches!(e, Event::Ready(_) | Event::Disconnected { .. }),
    );
    thread.shutdown().unwrap();
    assert!(matches!(first, Event::Ready(_)), "{first:?}");
    let agents = sim.user_agents();
    assert_eq!(agents.len(), 1, "{agents:?}");
    let agent = agents[0].1.as_deref().unwrap_or_default();
    assert!(
        agent.starts_with("DiscordBot (") && agent.contains(env!("CARGO_PKG_VERSION")),
        "{agent}"
    );
}
