//! The simulator as a process, for clients in other languages (`discordjs/fidelity.mjs`).
//! Controlled line by line on stdin; each command gets exactly one line on stdout,
//! `ok <json>` or `err <message>`. Commands:
//!
//! - `start <json options>`: a fresh simulator (the previous one is stopped); answers
//!   `{"gateway_url", "api_base", "token"}`. Options: `heartbeat_ms`, `end_session_on_close`,
//!   `no_privileged` (the application has no privileged intents), `resume_window_ms`.
//! - `wait_session <ms>`: the live session's id, or `err`.
//! - `push_messages <n>`: pushes `n` MESSAGE_CREATEs; the sequence numbers.
//! - `reconnect`, `invalidate true|false`, `close <code>`, `drop`, `drop_mid_frame`,
//!   `request_heartbeat`, `acks on|off`, `fault refuse|refuse_resume|no_hello <count>`: the
//!   simulator's fault methods; answer
//!   `{"applied", "ms"}` (whether it applied, and when, on the records' clock).
//! - `wait <ms> <json filter>`: the first record matching the filter (fields `kind`, `op`,
//!   `connection`, `after` (connection number greater than), `since_ms` (no earlier than),
//!   `kinds` / `ops` (any of these kinds / opcodes), `code`, `path`), or `err`.
//! - `records`: every record so far.
//! - `quit`.
//!
//! Records are JSON objects `{"connection", "kind", "ms"}` plus `op` and `d` (with any
//! `token` replaced by `"<redacted>"`), `code`, `path`, `query` where they apply; `ms` is
//! the record's time in milliseconds since `start`.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use syncord::sim::{ConnectionFault, Record, RecordKind, SimConfig, Simulator};

struct Running {
    sim: Simulator,
    started: Instant,
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut running: Option<Running> = None;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" {
            break;
        }
        let answer = match command(&mut running, line) {
            Ok(value) => format!("ok {value}"),
            Err(e) => format!("err {}", e.replace('\n', " ")),
        };
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}

fn command(running: &mut Option<Running>, line: &str) -> Result<Value, String> {
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    if name == "start" {
        *running = None;
        let options: Value = if rest.is_empty() {
            json!({})
        } else {
            serde_json::from_str(rest).map_err(|e| format!("options: {e}"))?
        };
        let sim = Simulator::start(config(&options)).map_err(|e| e.to_string())?;
        let answer = json!({
            "gateway_url": sim.gateway_url(),
            "api_base": sim.api_base(),
            "token": sim.token(),
        });
        *running = Some(Running {
            sim,
            started: Instant::now(),
        });
        return Ok(answer);
    }
    let Some(Running { sim, started }) = running.as_ref() else {
        return Err("no simulator: send `start` first".into());
    };
    let ms = |s: &str| -> Result<Duration, String> {
        s.parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("not milliseconds: {s:?}"))
    };
    // What a fault command answers: whether it applied, and when (record time scale).
    let at =
        |applied: bool| json!({"applied": applied, "ms": started.elapsed().as_millis() as u64});
    match name {
        "wait_session" => sim
            .wait_for_session(ms(rest)?)
            .map(Value::from)
            .ok_or_else(|| "no live session".into()),
        "push_messages" => {
            let n: u64 = rest.parse().map_err(|_| "push_messages <n>")?;
            let guild = syncord::sim::payload::guild_id(0);
            let channel = syncord::sim::payload::channel_id(guild, 0);
            let seqs: Vec<u64> = (0..n)
                .filter_map(|i| {
                    let data = syncord::sim::payload::message_create(
                        guild,
                        channel,
                        1000 + i,
                        7,
                        "from the fidelity script",
                    );
                    sim.push("MESSAGE_CREATE", &data)
                })
                .collect();
            Ok(json!(seqs))
        }
        "reconnect" => Ok(at(sim.reconnect())),
        "invalidate" => Ok(at(sim.invalidate_session(rest == "true"))),
        "close" => {
            let code: u16 = rest.parse().map_err(|_| "close <code>")?;
            Ok(at(sim.close(code)))
        }
        "drop" => Ok(at(sim.drop_connection())),
        "drop_mid_frame" => Ok(at(sim.drop_mid_frame())),
        "request_heartbeat" => Ok(at(sim.request_heartbeat())),
        "fault" => {
            let (which, count) = rest.split_once(' ').unwrap_or((rest, "1"));
            let fault = match which {
                "refuse" => ConnectionFault::Refuse,
                "refuse_resume" => ConnectionFault::RefuseResume,
                "no_hello" => ConnectionFault::NoHello,
                _ => return Err(format!("unknown fault {which:?}")),
            };
            let count = count.parse().map_err(|_| "fault <name> <count>")?;
            sim.fault_next(fault, count);
            Ok(at(true))
        }
        "acks" => {
            sim.set_acks(rest == "on");
            Ok(at(true))
        }
        "wait" => {
            let (timeout, filter) = rest.split_once(' ').ok_or("wait <ms> <json filter>")?;
            let filter: Value = serde_json::from_str(filter).map_err(|e| format!("filter: {e}"))?;
            sim.wait_for(ms(timeout)?, |r| matches(&describe(r, *started), &filter))
                .map(|r| describe(&r, *started))
                .ok_or_else(|| format!("no record matching {filter} in {timeout} ms"))
        }
        "records" => Ok(Value::from(
            sim.records()
                .iter()
                .map(|r| describe(r, *started))
                .collect::<Vec<_>>(),
        )),
        _ => Err(format!("unknown command {name:?}")),
    }
}

fn config(options: &Value) -> SimConfig {
    let mut config = SimConfig::default();
    if let Some(ms) = options["heartbeat_ms"].as_u64() {
        config = config.heartbeat_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = options["resume_window_ms"].as_u64() {
        config = config.resume_window(Duration::from_millis(ms));
    }
    if options["end_session_on_close"].as_bool() == Some(true) {
        config = config.end_session_on_close(true);
    }
    if options["no_privileged"].as_bool() == Some(true) {
        config = config.allowed_privileged(syncord::Intents::empty());
    }
    config
}

/// A record as JSON, the token of any payload redacted.
fn describe(record: &Record, started: Instant) -> Value {
    let mut value = json!({
        "connection": record.connection,
        "ms": record.at.saturating_duration_since(started).as_millis() as u64,
    });
    let kind = match &record.kind {
        RecordKind::Connected { path, query } => {
            value["path"] = json!(path);
            value["query"] = json!(query);
            "Connected"
        }
        RecordKind::Received { op, .. } => {
            value["op"] = json!(op);
            let mut d = record.data().unwrap_or(Value::Null);
            if let Some(token) = d.get_mut("token") {
                *token = json!("<redacted>");
            }
            value["d"] = d;
            "Received"
        }
        RecordKind::ClosedByClient { code } => {
            value["code"] = json!(code);
            "ClosedByClient"
        }
        RecordKind::CloseEchoed { code } => {
            value["code"] = json!(code);
            "CloseEchoed"
        }
        RecordKind::ClosedByServer { code } => {
            value["code"] = json!(code);
            "ClosedByServer"
        }
        RecordKind::Disconnected => "Disconnected",
        RecordKind::MessagePosted { .. } => "MessagePosted",
        RecordKind::Http { path, status, .. } => {
            value["path"] = json!(path);
            value["code"] = json!(status);
            "Http"
        }
        _ => "Other",
    };
    value["kind"] = json!(kind);
    value
}

/// Whether `record` (as [`describe`] gives it) matches every field of `filter`; `after`
/// means "connection number greater than".
fn matches(record: &Value, filter: &Value) -> bool {
    let Some(fields) = filter.as_object() else {
        return false;
    };
    fields.iter().all(|(key, want)| match key.as_str() {
        "after" => record["connection"].as_u64() > want.as_u64(),
        "since_ms" => record["ms"].as_u64() >= want.as_u64(),
        "ops" => want
            .as_array()
            .is_some_and(|ops| ops.contains(&record["op"])),
        "kinds" => want
            .as_array()
            .is_some_and(|kinds| kinds.contains(&record["kind"])),
        _ => &record[key.as_str()] == want,
    })
}
