//! `slack_tail`: print every Slack Socket Mode event as one JSON object per line on stdout.
//!
//! ```text
//! cargo run --example slack_tail --features slack,sim           # offline demo on the simulator
//! SLACK_APP_TOKEN=xapp-... cargo run --example slack_tail --features slack   # Slack, until killed
//! ```
//!
//! Environment:
//! - `SLACK_APP_TOKEN`: the app-level token (`xapp-…`, scope `connections:write`). Without
//!   it, `slack_tail` starts the Slack simulator in this process, pushes a few envelopes (a
//!   message, a duplicate, a slash command) and a `refresh_requested` (the client replaces
//!   the connection make-before-break), prints everything and exits 0.
//! - `SYNCORD_SLACK_API_URL`: the Web API base. Defaults to Slack's
//!   (`https://slack.com/api`); `http://` only for loopback hosts.
//! - `RUST_LOG`: log filter for stderr. Defaults to `warn`.
//!
//! Output (one line per event, fields in this order):
//!
//! ```text
//! {"event":"connecting","attempt":0}
//! {"event":"connected"}
//! {"event":"hello","num_connections":1}
//! {"event":"envelope","type":"events_api","envelope_id":"...","retry_attempt":0,"payload":{...}}
//! {"event":"disconnect","reason":"refresh_requested"}
//! {"event":"disconnected","code":null,"reason":"..."}
//! {"event":"reconnecting","attempt":1,"delay_ms":1000}
//! {"event":"error","message":"..."}
//! ```
//!
//! Token fields inside payloads (`token`, `bot_access_token`) are printed as `"<redacted>"`.
//! Exit status: 0 after a clean stop, 1 on a fatal error (the message goes to stderr).

use serde_json::Value;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use syncord::slack::{SlackConfig, SlackEvent, SocketMode};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match std::env::var("SLACK_APP_TOKEN") {
        Ok(token) if !token.trim().is_empty() => live(token),
        _ => offline(),
    }
}

/// One event as its JSON line, fields in the documented order.
fn line(event: &SlackEvent) -> String {
    match event {
        SlackEvent::Connecting { attempt } => {
            format!(r#"{{"event":"connecting","attempt":{attempt}}}"#)
        }
        SlackEvent::Connected => r#"{"event":"connected"}"#.to_owned(),
        SlackEvent::Hello {
            num_connections, ..
        } => format!(r#"{{"event":"hello","num_connections":{num_connections}}}"#),
        SlackEvent::Envelope(envelope) => {
            let mut payload: Value = envelope.parse().unwrap_or(Value::Null);
            redact(&mut payload);
            format!(
                r#"{{"event":"envelope","type":{},"envelope_id":{},"retry_attempt":{},"payload":{}}}"#,
                j(envelope.kind()),
                j(envelope.envelope_id()),
                envelope.retry_attempt(),
                payload
            )
        }
        SlackEvent::Disconnect { reason } => {
            format!(r#"{{"event":"disconnect","reason":{}}}"#, j(reason))
        }
        SlackEvent::Disconnected { code, reason } => format!(
            r#"{{"event":"disconnected","code":{},"reason":{}}}"#,
            j(code),
            j(reason)
        ),
        SlackEvent::Reconnecting { attempt, delay } => format!(
            r#"{{"event":"reconnecting","attempt":{attempt},"delay_ms":{}}}"#,
            delay.as_millis()
        ),
        SlackEvent::Error { kind, message } => format!(
            r#"{{"event":"error","kind":{},"message":{}}}"#,
            j(kind.name()),
            j(message)
        ),
        _ => r#"{"event":"unknown"}"#.to_owned(),
    }
}

/// JSON text of a value (strings escaped, `None` as `null`).
fn j<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Slack puts verification and access tokens in some payloads: never print them.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "token" || key.ends_with("_token") {
                    *item = Value::String("<redacted>".into());
                } else {
                    redact(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn print(out: &mut impl Write, event: &SlackEvent) {
    let _ = writeln!(out, "{}", line(event));
    let _ = out.flush();
}

fn live(token: String) -> ExitCode {
    let mut builder = SlackConfig::builder(token);
    if let Ok(base) = std::env::var("SYNCORD_SLACK_API_URL") {
        builder = builder.api_base(base);
    }
    let config = match builder.build() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("slack_tail: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match SocketMode::new(config).run(|event| print(&mut out, &event)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slack_tail: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "sim")]
fn offline() -> ExitCode {
    use std::time::Duration;
    use syncord::sim::slack::{payload, SlackSim, SlackSimConfig};

    let sim = match SlackSim::start(
        SlackSimConfig::default().duplicate_delay(Duration::from_millis(100)),
    ) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("slack_tail: could not start the simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = SlackConfig::builder(sim.app_token())
        .api_base(sim.api_base())
        .build()
        .expect("the simulator's settings are valid");
    let (tx, events) = crossbeam_channel::unbounded();
    let client = match SocketMode::new(config).spawn(move |event| {
        let _ = tx.send(event);
    }) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("slack_tail: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let timeout = Duration::from_secs(10);
    // Prints events until `until` matches one; false if none did in time.
    let mut follow = |until: &dyn Fn(&SlackEvent) -> bool| loop {
        match events.recv_timeout(timeout) {
            Ok(event) => {
                print(&mut out, &event);
                if until(&event) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    };
    let is_hello = |e: &SlackEvent| matches!(e, SlackEvent::Hello { .. });
    let is_envelope = |e: &SlackEvent| matches!(e, SlackEvent::Envelope(_));
    let mut ok = follow(&is_hello);
    sim.duplicate_next(1);
    sim.push_events_api(&payload::message_event(
        payload::CHANNEL_ID,
        payload::USER_ID,
        "hello from the simulator \u{1f44b}\n\"quoted\"",
    ));
    ok &= follow(&is_envelope);
    sim.push_envelope(
        "slash_commands",
        &payload::slash_command("/tail", "demo"),
        true,
    );
    ok &= follow(&is_envelope);
    // The duplicate arrives within 100 ms and is dropped: the next envelope printed is the
    // reaction pushed after it is acknowledged.
    ok &= sim.wait_for_acks(3, timeout);
    if let Some(conn) = sim.open_connections().first().copied() {
        sim.disconnect(conn, "refresh_requested");
        ok &= follow(&|e| matches!(e, SlackEvent::Disconnected { .. }));
    }
    sim.push_events_api(&payload::reaction_added(
        payload::USER_ID,
        "tada",
        payload::CHANNEL_ID,
        &payload::ts(),
    ));
    ok &= follow(&is_envelope);
    let stopped = client.shutdown();
    for event in events.try_iter() {
        print(&mut out, &event);
    }
    match (ok, stopped) {
        (true, Ok(())) => ExitCode::SUCCESS,
        (false, _) => {
            eprintln!("slack_tail: the offline demo did not see every expected event in time");
            ExitCode::FAILURE
        }
        (_, Err(e)) => {
            eprintln!("slack_tail: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "sim"))]
fn offline() -> ExitCode {
    eprintln!(
        "slack_tail: set SLACK_APP_TOKEN, or build with --features slack,sim for the offline demo"
    );
    ExitCode::from(2)
}
