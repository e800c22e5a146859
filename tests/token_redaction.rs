//! The token never leaks: not in any log line (from syncord or its dependencies, ureq and
//! tungstenite included, at every level down to trace), not in errors, not in
//! `Debug`/`Display` output; neither plain nor hex- nor base64-encoded. The scenario covers
//! a session with a resume, a 4004, and discovery answered 401, 429 and 200 (over HTTPS).
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
use syncord::sim::{RecordKind, SimConfig, Simulator};
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
    let config = sim
        .client_config(Intents::GUILDS)
        .build()
        .expect("valid config");
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
        .build()
        .expect("valid config");
    texts.push(format!("{wrong:?}"));
    run_refused(wrong, &mut texts);

    // 3. A wrong token through discovery: HTTP 401, a fatal error.
    let wrong = Config::builder(WRONG, Intents::GUILDS)
        .api_base(sim.api_base())
        .build()
        .expect("valid config");
    run_refused(wrong, &mut texts);

    // 4. Discovery over HTTPS answered 429, then 200: two requests carrying the token
    //    through ureq and native-tls, then a session.
    let limited = Simulator::start(
        SimConfig::default()
            .token(TOKEN)
            .tls(true)
            .gateway_bot_rate_limited(1),
    )
    .unwrap();
    let (thread, events) = spawn_forwarding(
        limited
            .client_config(Intents::GUILDS)
            .build()
            .expect("valid config"),
    );
    until(&events, &mut texts, |e| matches!(e, Event::Ready(_)));
    thread.shutdown().expect("run returns Ok");
    texts.extend(events.try_iter().map(|e| format!("{e:?}")));
    let statuses: Vec<u16> = limited
        .records()
        .into_iter()
        .filter_map(|r| match r.kind {
            RecordKind::Http { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [429, 200], "discovery was rate limited once");
    drop(limited);

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

/// How a secret might be encoded in a text.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    Plain,
    /// Lower- and upper-case hex, also looked for in the text with its spaces removed
    /// (hex dumps group bytes).
    Hex,
    /// Standard and URL-safe base64, at each of the three alignments a secret can have
    /// inside a longer encoded text (`Bot <token>` in an `Authorization` value, say).
    Base64,
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of `bytes` (RFC 4648 §4 or §5 with `alphabet`), padded with `=`.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= group.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The part of `secret`'s base64 that is the same wherever it sits in a longer text
/// whose bytes before it number `offset` modulo 3: the characters that encode only its
/// own bytes.
fn base64_core(secret: &[u8], offset: usize, alphabet: &[u8; 64]) -> String {
    let mut input = vec![0u8; offset];
    input.extend_from_slice(secret);
    let encoded = base64(&input, alphabet);
    let start = if offset > 0 { 4 } else { 0 };
    let end = 4 * (input.len() / 3);
    encoded[start..end].to_owned()
}

/// The forms a token must not appear in.
fn forms(secret: &str, encoding: Encoding) -> Vec<String> {
    match encoding {
        Encoding::Plain => vec![secret.to_owned()],
        Encoding::Hex => {
            let lower: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
            vec![lower.to_uppercase(), lower]
        }
        Encoding::Base64 => {
            let header = format!("Bot {secret}");
            let mut forms = Vec::new();
            for alphabet in [STANDARD, URL_SAFE] {
                forms.push(base64(header.as_bytes(), alphabet));
                for offset in 0..3 {
                    forms.push(base64_core(secret.as_bytes(), offset, alphabet));
                }
            }
            forms
        }
    }
}

/// Whether `text` contains `form`, ignoring whitespace for hex.
fn contains(text: &str, form: &str, encoding: Encoding) -> bool {
    text.contains(form)
        || matches!(encoding, Encoding::Hex)
            && text
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .contains(form)
}

fn leaks(encoding: Encoding) -> Vec<String> {
    let captured = &*CAPTURED;
    let mut found = Vec::new();
    for secret in [TOKEN, WRONG] {
        for form in forms(secret, encoding) {
            for line in captured
                .lines
                .iter()
                .filter(|l| contains(&l.message, &form, encoding))
            {
                found.push(format!(
                    "log line on thread {:?} from {}: {}",
                    line.thread,
                    line.target,
                    line.message.chars().take(300).collect::<String>()
                ));
            }
            for text in captured
                .texts
                .iter()
                .filter(|t| contains(t, &form, encoding))
            {
                found.push(format!("formatted text: {text}"));
            }
        }
    }
    found
}

#[test]
fn the_base64_forms_are_right() {
    // RFC 4648 §10's test vectors, and the alignment-free core of a secret found inside
    // the encoding of a longer text at every offset.
    for (text, encoded) in [
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(text.as_bytes(), STANDARD), encoded);
    }
    assert_eq!(base64(&[0xfb, 0xff], STANDARD), "+/8=");
    assert_eq!(base64(&[0xfb, 0xff], URL_SAFE), "-_8=");
    for prefix in ["", "a", "ab", "Authorization: Bot "] {
        let whole = base64(format!("{prefix}{TOKEN}!").as_bytes(), STANDARD);
        assert!(
            forms(TOKEN, Encoding::Base64)
                .iter()
                .any(|form| whole.contains(form)),
            "no base64 form of the token found in {whole}"
        );
    }
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
    // ureq's own log lines were captured too, among them the request head it writes,
    // with the Authorization value masked.
    assert!(
        captured
            .lines
            .iter()
            .any(|l| l.target.starts_with("ureq") && l.message.contains("GET /api/v10/gateway/bot")),
        "nothing was logged by ureq; is its logging captured?"
    );
    assert!(
        captured
            .lines
            .iter()
            .any(|l| l.target.starts_with("ureq") && l.message.contains("Authorization: ***")),
        "ureq logged no masked Authorization header"
    );
    let leaks = leaks(Encoding::Plain);
    assert!(leaks.is_empty(), "the token leaked:\n{}", leaks.join("\n"));
}

#[test]
fn token_never_appears_hex_encoded_in_logs() {
    // tungstenite logs whole frames, payload in hex, at trace level.
    let leaks = leaks(Encoding::Hex);
    assert!(
        leaks.is_empty(),
        "the token leaked hex-encoded:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn token_never_appears_base64_encoded_in_logs() {
    let leaks = leaks(Encoding::Base64);
    assert!(
        leaks.is_empty(),
        "the token leaked base64-encoded:\n{}",
        leaks.join("\n")
    );
}
