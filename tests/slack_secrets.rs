//! Slack's secrets never leak: neither the app token, the bot token nor a ticket URL appears
//! in any log line (syncord's, ureq's, tungstenite's, down to trace), error, or `Debug` text,
//! through a Socket Mode session with a refresh, an RTM session, and a refused token.
//!
//! This binary installs a process-wide logger, so it holds this one scenario only. The
//! simulator must see the tokens: lines from its `syncord-slacksim*` threads are left out.

#![cfg(all(feature = "slack", feature = "sim"))]

use crossbeam_channel::{unbounded, Receiver};
use log::{LevelFilter, Log, Metadata, Record};
use parking_lot::Mutex;
use std::time::{Duration, Instant};
use syncord::sim::slack::{payload, SlackSim, SlackSimConfig};
use syncord::slack::{Rtm, SlackConfig, SlackEvent, SocketMode};

const APP_TOKEN: &str = "xapp-1-A0SIM-9-SecretAppTokenQz7Wx";
const BOT_TOKEN: &str = "xoxb-9-SecretBotTokenHd4Yj8Kt";
const TIMEOUT: Duration = Duration::from_secs(10);

static LINES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let thread = std::thread::current()
            .name()
            .unwrap_or("<unnamed>")
            .to_owned();
        LINES
            .lock()
            .push((thread, format!("{} {}", record.target(), record.args())));
    }

    fn flush(&self) {}
}

fn until(
    events: &Receiver<SlackEvent>,
    texts: &mut Vec<String>,
    wanted: impl Fn(&SlackEvent) -> bool,
) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let event = events.recv_deadline(deadline).expect("the event arrives");
        texts.push(format!("{event:?}"));
        if wanted(&event) {
            return;
        }
    }
}

#[test]
fn no_token_or_ticket_url_reaches_a_log_an_error_or_a_debug_text() {
    static CAPTURE: Capture = Capture;
    log::set_logger(&CAPTURE).expect("no other logger in this binary");
    log::set_max_level(LevelFilter::Trace);
    let mut texts = Vec::new();
    let sim = SlackSim::start(
        SlackSimConfig::default()
            .app_token(APP_TOKEN)
            .bot_token(BOT_TOKEN)
            .refresh_close_after(Duration::from_secs(30)),
    )
    .unwrap();

    // Socket Mode: hello, an envelope, a make-before-break refresh, shutdown.
    let config = SlackConfig::builder(APP_TOKEN)
        .api_base(sim.api_base())
        .build()
        .unwrap();
    texts.push(format!("{config:?}"));
    let client = SocketMode::new(config);
    texts.push(format!("{:?}", client.handle()));
    let (tx, events) = unbounded();
    let thread = client.spawn(move |e| drop(tx.send(e))).unwrap();
    until(&events, &mut texts, |e| {
        matches!(e, SlackEvent::Hello { .. })
    });
    sim.push_events_api(&payload::message_event("C", "U", "hi"));
    until(&events, &mut texts, |e| {
        matches!(e, SlackEvent::Envelope(_))
    });
    let conn = sim.open_connections()[0];
    sim.disconnect(conn, "refresh_requested");
    until(&events, &mut texts, |e| {
        matches!(e, SlackEvent::Disconnected { .. })
    });
    thread.shutdown().unwrap();
    texts.extend(events.try_iter().map(|e| format!("{e:?}")));

    // RTM with the bot token: hello, a message and its reply.
    let mut rtm = Rtm::new(
        SlackConfig::builder(BOT_TOKEN)
            .api_base(sim.api_base())
            .build()
            .unwrap(),
    );
    let handle = rtm.handle();
    texts.push(format!("{handle:?}"));
    let (tx, events) = unbounded();
    let rtm_thread = std::thread::spawn(move || rtm.run(move |e| drop(tx.send(e))));
    until(&events, &mut texts, |e| {
        matches!(e, SlackEvent::Hello { .. })
    });
    handle.send_message("C1", "hello").unwrap();
    until(&events, &mut texts, |e| matches!(e, SlackEvent::Reply(_)));
    handle.shutdown();
    rtm_thread.join().unwrap().unwrap();

    // A refused token (the bot token for Socket Mode): the error names the problem only.
    let mut refused = SocketMode::new(
        SlackConfig::builder(BOT_TOKEN)
            .api_base(sim.api_base())
            .build()
            .unwrap(),
    );
    let error = refused
        .run(|e| texts.push(format!("{e:?}")))
        .expect_err("refused");
    texts.push(format!("{error:?}"));
    texts.push(error.to_string());

    let lines = LINES.lock();
    let ours: Vec<&String> = lines
        .iter()
        .filter(|(thread, _)| !thread.starts_with("syncord-slacksim"))
        .map(|(_, line)| line)
        .collect();
    assert!(ours.len() > 10, "the scenario logged: {}", ours.len());
    let secrets = [
        APP_TOKEN,
        BOT_TOKEN,
        "SecretAppToken",
        "SecretBotToken",
        "ticket=",
    ];
    for text in ours.iter().copied().chain(texts.iter()) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} leaked in: {text}");
        }
    }
}
