//! The token never leaks: not in any log line (from syncord or its dependencies, at every
//! level down to trace), not in errors, not in `Debug`/`Display` output (DESIGN.md §6).
//!
//! This binary installs a process-wide logger, so it holds nothing else: one scenario runs
//! once (shared by the tests below through a `LazyLock`), and no other shard runs in the
//! process meanwhile. The simulator plays Discord and must see the token, so log lines from
//! its `syncord-sim-*` threads are left out.

mod resilience;

use crossbeam_channel::{unbounded, Receiver};
use log::{LevelFilter, Log, Metadata, Record};
use parking_lot::Mutex;
use resilience::spawn_forwarding;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use syncord::sim::{SimConfig, Simulator};
use syncord::{Config, Error, Event, Intents, Token};

/// The simulator's (and the first shard's) real token.
const TOKEN: &str = "SyncordSecret.Tq7Zx9Wv2Lm4Pk8Rb3";
/// A wrong token, sent by the second and third shards.
const WRONG: &str = "WrongSecret.Hd4Yj8Kt6Bn2Qs5Vc1";
const TIMEOUT: Duration = Duration::from_secs(10);

/// One captured log line.
#[derive(Debug)]
struct Line {
    thread: String,
    target: String,
    message: String,
}

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let thread = std::thread::current();
        LINES.lock().push(Line {
            thread: thread.name().unwrap_or("<unnamed>").to_owned(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
        });
    }

    fn flush(&self) {}
}

/// What the scenario produced: the log lines from non-simulator threads, and every
/// `Debug`/`Display` text it formatted.
struct Captured {
    lines: Vec<Line>,
    texts: Vec<String>,
}

static CAPTURED: LazyLock<Captured> = LazyLock::new(scenario);

/// Receives events until one matches, keeping the `Debug` text of each.
fn until(events: &Receiver<Event>, texts: &mut Vec<String>, wanted: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let event = events.recv_deadline(deadline).expect("the event arrives");
        texts.push(format!("{event:?}"));
        if wanted(&event) {
            return;
        }
    }
}

/// Runs a shard with a wrong token to its end (see [`run_to_end`]): it must fail with
/// `AuthenticationFailed`, whose `Debug` and `Display` texts are kept.
fn run_refused(wrong: Config, texts: &mut Vec<String>) {
    let error = run_to_end(wrong, texts).expect_err("the wrong token is refused");
    assert!(
        matches!(error, Error::AuthenticationFailed { .. }),
        "{error:?}"
    );
    texts.push(format!("{error:?}"));
    texts.push(error.to_string());
}

/// Runs a shard to its end on its own thread and returns what `run` returned.
fn run_to_end(config: Config, texts: &mut Vec<String>) -> syncord::Result<()> {
    let (thread, events) = spawn_forwarding(config);
    let (done_tx, done) = unbounded();
    std::thread::spawn(move || {
        let _ = done_tx.send(thread.join());
    });
    let result = done
        .recv_timeout(TIMEOUT)
        .expect("the shard stops by itself");
    texts.extend(events.try_iter().map(|e| format!("{e:?}")));
    result
}

fn scenario() -> Captured {
    // `set_logger` rather than `set_boxed_logger`: it needs no `log` feature.
    static CAPTURE: Capture = Capture;
    log::set_logger(&CAPTURE).expect("no other logger in this binary");
    log::set_max_level(LevelFilter::Trace);
    let mut texts = Vec::new();

    // 1. A whole session with the right token: discovery (Authorization header), Identify,
    //    heartbeats, dispatches, a resume (the token again), shutdown.
    let sim = Simulator::start(
        SimConfig::default()
            .token(TOKEN)
            .heartbeat_interval(Duration::from_millis(100)),
    )
    .unwrap();
    let config = sim.client_config(Intents::GUILDS).build();
    texts.push(format!("{config:?}"));
    texts.push(format!("{:?}", sim.client_config(Intents::GUILDS)));
    let (thread, events) = spawn_forwarding(config);
    let handle = thread.handle().clone();
    until(
        &events,
        &mut texts,
        |e| matches!(e, Event::Dispatch(d) if d.event_type() == "READY"),
    );
    for i in 0..3 {
        sim.push("MESSAGE_CREATE", &format!(r#"{{"content":"message {i}"}}"#));
    }
    assert!(sim.request_heartbeat());
    sim.wait_for_nth(TIMEOUT, 3, |r| r.op() == Some(1))
        .expect("heartbeats flow");
    assert!(sim.close(4000), "a resumable close");
    until(&events, &mut texts, |e| matches!(e, Event::Resumed { .. }));
    assert_eq!(sim.received(6).len(), 1, "the shard resumed with the token");
    texts.push(format!("{:?}", handle.session()));
    thread.shutdown().expect("run returns Ok");
    texts.extend(events.try_iter().map(|e| format!("{e:?}")));
    assert_eq!(sim.received(2).len(), 1, "one Identify");

    // 2. A wrong token straight to the gateway: close 4004, a fatal error.
    let wrong = Config::builder(WRONG, Intents::GUILDS)
        .gateway_url(sim.gateway_url())
        .build();
    texts.push(format!("{wrong:?}"));
    run_refused(wrong, &mut texts);

    // 3. A wrong token through discovery: HTTP 401, a fatal error.
    let wrong = Config::builder(WRONG, Intents::GUILDS)
        .api_base(sim.api_base())
        .build();
    run_refused(wrong, &mut texts);

    for token in [TOKEN, WRONG] {
        let token = Token::new(token);
        texts.push(format!("{token:?}"));
        texts.push(format!("{token}"));
        texts.push(format!("{token:#?}"));
    }
    drop(sim);

    let lines = std::mem::take(&mut *LINES.lock())
        .into_iter()
        .filter(|line| !line.thread.starts_with("syncord-sim"))
        .collect();
    Captured { lines, texts }
}

/// The forms a token must not appear in.
fn forms(secret: &str, hex: bool) -> Vec<String> {
    if !hex {
        return vec![secret.to_owned()];
    }
    let lower: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    vec![lower.to_uppercase(), lower]
}

fn leaks(hex: bool) -> Vec<String> {
    let captured = &*CAPTURED;
    let mut found = Vec::new();
    for secret in [TOKEN, WRONG] {
        for form in forms(secret, hex) {
            for line in captured.lines.iter().filter(|l| l.message.contains(&form)) {
                found.push(format!(
                    "log line on thread {:?} from {}: {}",
                    line.thread,
                    line.target,
                    line.message.chars().take(300).collect::<String>()
                ));
            }
            for text in captured.texts.iter().filter(|t| t.contains(&form)) {
                found.push(format!("formatted text: {text}"));
            }
        }
    }
    found
}

#[test]
fn token_never_appears_in_logs_errors_or_debug_output() {
    let captured = &*CAPTURED;
    // The capture works: client threads logged at trace level.
    assert!(
        captured
            .lines
            .iter()
            .any(|l| l.thread.starts_with("syncord-rd-") || l.thread.starts_with("syncord-wr-")),
        "nothing was logged from the connection threads; is the logger installed?"
    );
    assert!(
        captured.texts.len() > 10,
        "the scenario formatted its outputs"
    );
    let leaks = leaks(false);
    assert!(leaks.is_empty(), "the token leaked:\n{}", leaks.join("\n"));
}

#[test]
fn token_never_appears_hex_encoded_in_logs() {
    // tungstenite logs whole frames, payload in hex, at trace level.
    let leaks = leaks(true);
    assert!(
        leaks.is_empty(),
        "the token leaked hex-encoded:\n{}",
        leaks.join("\n")
    );
}
