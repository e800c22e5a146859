//! Legacy RTM against the Slack simulator, over real loopback sockets: hello, events in
//! order, replies to sent messages, the send limit, the size limits, goodbye with one
//! teardown, pings, and the token check.

#![cfg(all(feature = "slack", feature = "sim"))]

mod resilience;

use crossbeam_channel::{unbounded, Receiver};
use std::time::{Duration, Instant};
use syncord::sim::slack::{payload, SlackRecordKind, SlackSim, SlackSimConfig};
use syncord::slack::{Reply, Rtm, RtmHandle, SlackConfig, SlackEvent};
use syncord::{Backoff, Error};

const TIMEOUT: Duration = Duration::from_secs(10);

struct Running {
    handle: RtmHandle,
    events: Receiver<SlackEvent>,
    thread: std::thread::JoinHandle<syncord::Result<()>>,
}

impl Running {
    fn stop(self) {
        self.handle.shutdown();
        self.thread.join().unwrap().unwrap();
    }
}

fn start_with(sim: &SlackSim, token: &str, ping: Duration) -> Running {
    let config = SlackConfig::builder(token)
        .api_base(sim.api_base())
        .ping_interval(ping)
        .backoff(Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            reset_after: Duration::ZERO,
        })
        .build()
        .unwrap();
    let mut rtm = Rtm::new(config);
    let handle = rtm.handle();
    let (tx, events) = unbounded();
    let thread = std::thread::spawn(move || {
        rtm.run(move |event| {
            let _ = tx.send(event);
        })
    });
    Running {
        handle,
        events,
        thread,
    }
}

fn start(sim: &SlackSim) -> Running {
    start_with(sim, sim.bot_token(), Duration::from_secs(10))
}

fn wait_for<T>(events: &Receiver<SlackEvent>, pick: impl FnMut(SlackEvent) -> Option<T>) -> T {
    resilience::pick_within(events, TIMEOUT, pick)
}

fn hello(events: &Receiver<SlackEvent>) {
    wait_for(events, |e| {
        matches!(e, SlackEvent::Hello { .. }).then_some(())
    });
}

fn reply(events: &Receiver<SlackEvent>) -> Reply {
    wait_for(events, |e| match e {
        SlackEvent::Reply(reply) => Some(reply),
        _ => None,
    })
}

#[test]
fn connects_says_who_it_is_and_delivers_events_in_order() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let run = start(&sim);
    let (team, user) = wait_for(&run.events, |e| match e {
        SlackEvent::Identity { team_id, user_id } => Some((team_id, user_id)),
        _ => None,
    });
    assert_eq!(team.as_deref(), Some(payload::TEAM_ID));
    assert_eq!(user.as_deref(), Some(payload::BOT_USER_ID));
    hello(&run.events);
    for i in 0..20 {
        let event = format!(
            r#"{{"type":"message","channel":"C1","user":"U1","text":"n{i} \"q\"\n","ts":"1.{i}"}}"#
        );
        assert_eq!(sim.rtm_push(&event), 1);
    }
    let texts: Vec<String> = (0..20)
        .map(|_| {
            wait_for(&run.events, |e| match e {
                SlackEvent::Rtm(message) if message.kind() == "message" => {
                    let value: serde_json::Value = message.parse().unwrap();
                    Some(value["text"].as_str().unwrap().to_owned())
                }
                _ => None,
            })
        })
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("n{i} \"q\"\n")).collect();
    assert_eq!(texts, expected);
    run.stop();
}

#[test]
fn a_sent_message_gets_its_reply_by_id() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let run = start(&sim);
    hello(&run.events);
    let id = run.handle.send_message("C024BE91L", "Hello world").unwrap();
    let reply = reply(&run.events);
    assert_eq!(reply.id, id);
    assert!(reply.ok && reply.ts.is_some(), "{reply:?}");
    let sent = sim.rtm_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].channel.as_deref(), sent[0].text.as_deref()),
        (Some("C024BE91L"), Some("Hello world"))
    );
    run.stop();
}

#[test]
fn a_burst_is_paced_so_slack_never_answers_slow_down() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let run = start(&sim);
    hello(&run.events);
    let ids: Vec<u64> = (0..5)
        .map(|i| run.handle.send_message("C1", &format!("m{i}")).unwrap())
        .collect();
    let replies: Vec<Reply> = (0..5).map(|_| reply(&run.events)).collect();
    assert!(
        replies.iter().all(|r| r.ok && !r.is_rate_limited()),
        "{replies:?}"
    );
    let mut got: Vec<u64> = replies.iter().map(|r| r.id).collect();
    got.sort_unstable();
    assert_eq!(got, ids);
    // Three at once, then one per second on average: the fourth waits for the window.
    let sent = sim.rtm_messages();
    assert!(sent[3].at.duration_since(sent[0].at) >= Duration::from_secs(3));
    run.stop();
}

#[test]
fn oversized_messages_are_refused_before_sending() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let run = start(&sim);
    hello(&run.events);
    let long = "x".repeat(4_001);
    assert!(matches!(
        run.handle.send_message("C1", &long),
        Err(Error::InvalidCommand(m)) if m.contains("4000")
    ));
    // 3,000 characters, but each written as six bytes of JSON (`\u0001`): over 16 KB.
    let wide = "\u{1}".repeat(3_000);
    assert!(matches!(
        run.handle.send_message("C1", &wide),
        Err(Error::InvalidCommand(m)) if m.contains("16384")
    ));
    let id = run.handle.send_message("C1", "fits").unwrap();
    assert_eq!(reply(&run.events).id, id);
    assert_eq!(
        sim.rtm_messages().len(),
        1,
        "only the one that fits was sent"
    );
    run.stop();
}

#[test]
fn goodbye_reconnects_at_once_with_one_teardown() {
    let sim =
        SlackSim::start(SlackSimConfig::default().goodbye_close_after(Duration::from_secs(5)))
            .unwrap();
    let run = start(&sim);
    hello(&run.events);
    let first = sim.open_connections()[0];
    assert!(sim.goodbye(first));
    let reason = wait_for(&run.events, |e| match e {
        SlackEvent::Disconnect { reason } => Some(reason),
        _ => None,
    });
    assert_eq!(reason, "goodbye");
    let delay = wait_for(&run.events, |e| match e {
        SlackEvent::Reconnecting { delay, .. } => Some(delay),
        _ => None,
    });
    assert_eq!(
        delay,
        Duration::ZERO,
        "a healthy connection's end is retried at once"
    );
    hello(&run.events);
    let records = sim.records();
    let closes = records
        .iter()
        .filter(|r| {
            r.conn == Some(first) && matches!(r.kind, SlackRecordKind::ClosedByClient { .. })
        })
        .count();
    assert_eq!(closes, 1, "one close for the old connection: {records:?}");
    // The queue survives the reconnect: a message sent now goes on the new connection.
    let id = run.handle.send_message("C1", "after goodbye").unwrap();
    assert_eq!(reply(&run.events).id, id);
    assert_ne!(sim.rtm_messages()[0].conn, first);
    run.stop();
}

#[test]
fn pings_carry_ids_and_their_pongs_measure_latency() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let run = start_with(&sim, sim.bot_token(), Duration::from_millis(50));
    hello(&run.events);
    let deadline = Instant::now() + TIMEOUT;
    while run.handle.latency().acks_received() < 2 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(run.handle.latency().acks_received() >= 2);
    let ping = sim
        .wait_for_record(TIMEOUT, |r| {
            matches!(&r.kind, SlackRecordKind::Text { text } if text.contains(r#""type":"ping""#))
        })
        .expect("a JSON ping");
    let SlackRecordKind::Text { text } = ping.kind else {
        unreachable!()
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(value["id"].as_u64().is_some_and(|id| id > 0), "{text}");
    run.stop();
}

#[test]
fn an_app_token_is_refused_with_advice() {
    let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
    let run = start_with(&sim, sim.app_token(), Duration::from_secs(10));
    let error = run.thread.join().unwrap().expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("not_allowed_token_type") && text.contains("xoxb-"),
        "{text}"
    );
    assert!(!text.contains(sim.app_token()), "{text}");
}

#[test]
fn an_expired_url_error_is_reported_and_a_new_url_is_asked_for() {
    let sim = SlackSim::start(SlackSimConfig::default().rtm_url_ttl(Duration::ZERO)).unwrap();
    let run = start(&sim);
    let message = wait_for(&run.events, |e| match e {
        SlackEvent::Error { message, .. } => Some(message),
        _ => None,
    });
    assert!(message.contains("Socket URL has expired"), "{message}");
    let attempt = wait_for(&run.events, |e| match e {
        SlackEvent::Connecting { attempt } => Some(attempt),
        _ => None,
    });
    assert_eq!(attempt, 1, "a failed connection backs off and asks again");
    let connects = || {
        sim.records()
            .iter()
            .filter(|r| matches!(&r.kind, SlackRecordKind::Http { path, .. } if path.contains("rtm.connect")))
            .count()
    };
    let deadline = Instant::now() + TIMEOUT;
    while connects() < 2 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(connects() >= 2, "a fresh rtm.connect for the next try");
    run.stop();
}
