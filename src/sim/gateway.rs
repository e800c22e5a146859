//! The gateway protocol as the simulator plays it: Hello, payload checks, Identify, Resume,
//! Request Guild Members, closes (the Gateway and Gateway Events pages of Discord's
//! developer documentation).

use super::conn::{SimConn, SimEncoder};
use super::fault::ConnectionFault;
use super::http::{query_param, RequestHead};
use super::limits::Verdict;
use super::payload::{self, member_json};
use super::record::RecordKind;
use super::state::{Inner, SimSession};
use crate::protocol::{Intents, MAX_SEND_SIZE};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::Message;

/// Why the simulator is closing a connection.
struct CloseWith(u16, &'static str);

pub(super) fn serve_gateway(
    inner: &Arc<Inner>,
    conn: &Arc<SimConn>,
    head: &RequestHead,
    fault: Option<ConnectionFault>,
    known_compression: bool,
) {
    let close = |CloseWith(code, reason): CloseWith| {
        inner.close_conn(conn, code, reason);
        finish_server_close(inner, conn);
    };
    // What stock Spacebar does (issue 10): the upgrade succeeds, then the socket is closed.
    if inner.config.require_user_agent && head.header("User-Agent").is_none() {
        return close(CloseWith(4002, "User-Agent header is required"));
    }
    if !known_compression {
        return close(CloseWith(4002, "Unsupported compression"));
    }
    if !matches!(query_param(&head.query, "v"), Some("9" | "10")) {
        return close(CloseWith(4012, "Invalid API version"));
    }
    if !matches!(query_param(&head.query, "encoding"), None | Some("json")) {
        return close(CloseWith(4002, "Unsupported encoding"));
    }
    // A client that misses its heartbeat window is disconnected ("Sending Heartbeats" in
    // Discord's Gateway page); the grace and the code, 4009, are the simulator's choices.
    // The clock starts at Hello (without Hello the client cannot know when to beat).
    let heartbeat_timeout = inner
        .config
        .heartbeat_interval
        .checked_add(inner.config.heartbeat_grace);
    let expect_heartbeat = || {
        let due = heartbeat_timeout.and_then(|t| Instant::now().checked_add(t));
        conn.arm(|d| d.heartbeat = due);
    };
    match fault {
        Some(ConnectionFault::NoHello) => {}
        Some(ConnectionFault::DelayHello(delay)) => {
            std::thread::sleep(delay);
            hello(inner, conn);
            expect_heartbeat();
        }
        _ => {
            hello(inner, conn);
            expect_heartbeat();
        }
    }
    loop {
        let Ok(message) = conn.conn.read() else {
            disconnected(inner, conn);
            return;
        };
        if conn.closing() {
            // The simulator sent its close frame from another thread (a test, the timer):
            // what the client sent before its echo is not acted on.
            if let Message::Close(frame) = message {
                let code = frame.map(|f| u16::from(f.code));
                inner.record(conn.id, RecordKind::CloseEchoed { code });
                return;
            }
            return finish_server_close(inner, conn);
        }
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Binary(bytes) => {
                inner.record(
                    conn.id,
                    RecordKind::Received {
                        op: None,
                        json: String::from_utf8_lossy(&bytes).into_owned(),
                    },
                );
                return close(CloseWith(4002, "Binary frames are not accepted"));
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                inner.record(conn.id, RecordKind::ClosedByClient { code });
                if matches!(code, Some(1000 | 1001)) {
                    // A close the client starts with 1000/1001 ends the session
                    // ("Disconnecting" in Discord's Gateway page).
                    let id = conn.session.lock().take();
                    if let Some(id) = id {
                        inner.sessions.lock().map.remove(&id);
                    }
                }
                // RFC 6455 §5.5.1: answer the close frame before shutting TCP down.
                conn.finish_close();
                return;
            }
            _ => continue,
        };
        match handle_payload(inner, conn, &text) {
            Ok(Handled::Heartbeat) => expect_heartbeat(),
            Ok(Handled::Other) => {}
            Err(reason) => return close(reason),
        }
    }
}

/// After the simulator's close frame: reads until the client's echo, ignoring anything it
/// sent before it; the timer shuts TCP down if the echo does not come in time.
fn finish_server_close(inner: &Inner, conn: &SimConn) {
    loop {
        match conn.conn.read() {
            Ok(Message::Close(frame)) => {
                let code = frame.map(|f| u16::from(f.code));
                inner.record(conn.id, RecordKind::CloseEchoed { code });
                return;
            }
            Ok(_) => {}
            Err(_) => {
                disconnected(inner, conn);
                return;
            }
        }
    }
}

/// The client's side of `conn` is gone: its session is detached first, so that a test
/// which saw the record and resumes at once finds the session without a connection (and
/// expired, with a zero resume window).
fn disconnected(inner: &Inner, conn: &SimConn) {
    inner.sessions.lock().detach_conn(conn.id);
    inner.record(conn.id, RecordKind::Disconnected);
}

fn hello(inner: &Inner, conn: &SimConn) {
    let interval = inner.config.heartbeat_interval.as_millis();
    conn.send_text(&format!(
        r#"{{"op":10,"d":{{"heartbeat_interval":{interval},"_trace":["sim"]}},"s":null,"t":null}}"#
    ));
}

/// What a payload the simulator accepted was.
enum Handled {
    Heartbeat,
    Other,
}

fn handle_payload(
    inner: &Arc<Inner>,
    conn: &Arc<SimConn>,
    text: &str,
) -> Result<Handled, CloseWith> {
    let value: Option<Value> = serde_json::from_str(text).ok();
    let op = value
        .as_ref()
        .and_then(|v| v.get("op"))
        .and_then(Value::as_u64);
    inner.record(
        conn.id,
        RecordKind::Received {
            op: op.and_then(|op| u8::try_from(op).ok()),
            json: text.to_owned(),
        },
    );
    // More than the send limit in any rolling window closes with 4008 ("Rate Limiting" in
    // Discord's Gateway page).
    let (limit, window) = inner.config.rate_limit;
    {
        let now = Instant::now();
        let mut sends = conn.sends.lock();
        while sends
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            sends.pop_front();
        }
        sends.push_back(now);
        if sends.len() > limit {
            return Err(CloseWith(4008, "Rate limited."));
        }
    }
    if text.len() > MAX_SEND_SIZE {
        return Err(CloseWith(4002, "Payload too large"));
    }
    let (Some(value), Some(op)) = (value, op) else {
        return Err(CloseWith(4002, "Error while decoding payload"));
    };
    let d = value.get("d").cloned().unwrap_or(Value::Null);
    let authed = conn.session.lock().clone();
    match op {
        1 => {
            if inner.acks.load(Ordering::Acquire) {
                // A slow network: the ACK leaves this long after the heartbeat arrived.
                let delay = inner.ack_delay_us.load(Ordering::Acquire);
                if delay > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(delay));
                }
                conn.send_text(r#"{"op":11,"d":null,"s":null,"t":null}"#);
            }
            return Ok(Handled::Heartbeat);
        }
        2 if authed.is_some() => Err(CloseWith(4005, "Already authenticated")),
        2 => identify(inner, conn, &d),
        6 if authed.is_some() => Err(CloseWith(4005, "Already authenticated")),
        6 => resume(inner, conn, &d),
        3 | 4 | 8 | 31 | 43 if authed.is_none() => Err(CloseWith(4003, "Not authenticated")),
        8 => request_members(inner, &d),
        3 | 4 | 31 | 43 => Ok(()),
        _ => Err(CloseWith(4001, "Unknown opcode")),
    }
    .map(|()| Handled::Other)
}

fn identify(inner: &Arc<Inner>, conn: &Arc<SimConn>, d: &Value) -> Result<(), CloseWith> {
    let config = &inner.config;
    let token = d.get("token").and_then(Value::as_str);
    let properties_ok = d.get("properties").is_some_and(|p| {
        ["os", "browser", "device"]
            .iter()
            .all(|k| p.get(k).is_some_and(Value::is_string))
    });
    let intents = d.get("intents").and_then(Value::as_u64);
    let (Some(token), true, Some(intents)) = (token, properties_ok, intents) else {
        return Err(CloseWith(4002, "Invalid identify payload"));
    };
    if token.strip_prefix("Bot ").unwrap_or(token) != config.token {
        return Err(CloseWith(4004, "Authentication failed."));
    }
    let Some(intents) = Intents::from_bits(intents) else {
        return Err(CloseWith(4013, "Invalid intent(s)."));
    };
    if !config.allowed_privileged.contains(intents.privileged()) {
        return Err(CloseWith(4014, "Disallowed intent(s)."));
    }
    let shard = match d.get("shard") {
        None | Some(Value::Null) => [0, 1],
        Some(value) => match serde_json::from_value::<[u64; 2]>(value.clone()) {
            Ok([id, count]) if count >= 1 && id < count => [id, count],
            _ => return Err(CloseWith(4010, "Invalid shard.")),
        },
    };
    // Large-bot sharding: the count must be a multiple of the number Discord assigned
    // (Gateway → Sharding → Sharding for Large Bots).
    if !shard[1].is_multiple_of(config.shard_count_multiple) {
        return Err(CloseWith(4010, "Invalid shard."));
    }
    let guilds: Vec<u64> = (0..u64::from(inner.guilds.load(Ordering::Acquire)))
        .map(|i| (i + 1) << 22)
        .filter(|g| (g >> 22) % shard[1] == shard[0])
        .collect();
    if guilds.len() > config.max_guilds_per_shard as usize {
        return Err(CloseWith(4011, "Sharding required."));
    }
    // One Identify per bucket per 5 s, none past the session start limit (Discord:
    // Gateway → Rate Limiting and Sharding → Max Concurrency, Session Start Limit).
    let verdict = inner.limits.lock().judge(shard, conn.id, Instant::now());
    match verdict {
        Verdict::Accept => {}
        Verdict::TooSoon => {
            conn.send_text(r#"{"op":9,"d":false,"s":null,"t":null}"#);
            return Ok(());
        }
        Verdict::Exhausted => return Err(CloseWith(4004, "Authentication failed.")),
    }
    let large_threshold = d
        .get("large_threshold")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(50, 250);
    let resume_gateway_url = config
        .resume_gateway_url
        .clone()
        .unwrap_or_else(|| format!("{}/resume", inner.gateway_url()));
    let mut sessions = inner.sessions.lock();
    sessions.next_id += 1;
    let session_id = format!("sim-session-{}-{}", inner.port, sessions.next_id);
    let ready = payload::ready(&payload::ReadyFacts {
        session_id: &session_id,
        resume_gateway_url: &resume_gateway_url,
        shard,
        guilds: &guilds,
        application_flags: application_flags(config.allowed_privileged),
    });
    let mut session = SimSession::new(conn, shard, sessions.next_id);
    session.intents = config.enforce_intents.then_some(intents);
    inner.push_to(&mut session, "READY", &ready);
    let with_presences = intents.contains(Intents::GUILD_PRESENCES);
    for g in &guilds {
        let guild = payload::guild_create_with(*g, config.members, with_presences, large_threshold);
        inner.push_gated(&mut session, "GUILD_CREATE", &guild);
    }
    *conn.session.lock() = Some(session_id.clone());
    if d.get("compress").and_then(Value::as_bool) == Some(true) {
        if let SimEncoder::Plain {
            payload_compression,
        } = &mut *conn.encoder.lock()
        {
            *payload_compression = true;
        }
    }
    sessions.map.insert(session_id.clone(), session);
    sessions.current = Some(session_id);
    drop(sessions);
    inner.sessions_changed.notify_all();
    Ok(())
}

/// The application flags of a bot allowed `privileged` intents ("Application Resource",
/// Application Flags: the `GATEWAY_*_LIMITED` flags of an unverified bot, and the command
/// badge).
fn application_flags(privileged: Intents) -> u64 {
    const GATEWAY_PRESENCE_LIMITED: u64 = 1 << 13;
    const GATEWAY_GUILD_MEMBERS_LIMITED: u64 = 1 << 15;
    const GATEWAY_MESSAGE_CONTENT_LIMITED: u64 = 1 << 19;
    const APPLICATION_COMMAND_BADGE: u64 = 1 << 23;
    let mut flags = APPLICATION_COMMAND_BADGE;
    for (intent, flag) in [
        (Intents::GUILD_PRESENCES, GATEWAY_PRESENCE_LIMITED),
        (Intents::GUILD_MEMBERS, GATEWAY_GUILD_MEMBERS_LIMITED),
        (Intents::MESSAGE_CONTENT, GATEWAY_MESSAGE_CONTENT_LIMITED),
    ] {
        if privileged.contains(intent) {
            flags |= flag;
        }
    }
    flags
}

fn resume(inner: &Arc<Inner>, conn: &Arc<SimConn>, d: &Value) -> Result<(), CloseWith> {
    let token = d.get("token").and_then(Value::as_str);
    let session_id = d.get("session_id").and_then(Value::as_str);
    let seq = d.get("seq").and_then(Value::as_u64);
    let (Some(token), Some(session_id), Some(seq)) = (token, session_id, seq) else {
        return Err(CloseWith(4002, "Invalid resume payload"));
    };
    if token.strip_prefix("Bot ").unwrap_or(token) != inner.config.token {
        return Err(CloseWith(4004, "Authentication failed."));
    }
    let mut sessions = inner.sessions.lock();
    // A session without a connection times out "after a few minutes" ("Disconnecting" in
    // Discord's Gateway page): after the resume window it cannot be resumed.
    if sessions
        .map
        .get(session_id)
        .is_some_and(|s| s.expired(inner.config.resume_window, Instant::now()))
    {
        sessions.map.remove(session_id);
    }
    let Some(session) = sessions.map.get_mut(session_id) else {
        drop(sessions);
        conn.send_text(r#"{"op":9,"d":false,"s":null,"t":null}"#);
        return Ok(());
    };
    let oldest = session.buffer.front().map_or(session.seq + 1, |(s, _)| *s);
    if seq > session.seq || seq.saturating_add(1) < oldest {
        if inner.config.end_session_on_close {
            sessions.map.remove(session_id);
        }
        return Err(CloseWith(4007, "Invalid seq."));
    }
    // A resume takes the session over from any older connection.
    session.attach(conn);
    for (s, json) in &session.buffer {
        if *s > seq && !conn.send_text(json) {
            break;
        }
    }
    inner.push_to(session, "RESUMED", r#"{"_trace":["sim"]}"#);
    *conn.session.lock() = Some(session_id.to_owned());
    sessions.current = Some(session_id.to_owned());
    drop(sessions);
    inner.sessions_changed.notify_all();
    Ok(())
}

fn request_members(inner: &Arc<Inner>, d: &Value) -> Result<(), CloseWith> {
    let Some(guild_id) = d.get("guild_id").and_then(Value::as_str) else {
        return Err(CloseWith(4001, "Invalid request guild members payload"));
    };
    // A guild id that is not a snowflake still gets an answer; its members' roles are
    // then numbered from 0.
    let guild: u64 = guild_id.parse().unwrap_or(0);
    let nonce = d.get("nonce").and_then(Value::as_str);
    let config = &inner.config;
    let wants_all = d.get("query").and_then(Value::as_str) == Some("")
        && d.get("limit").and_then(Value::as_u64) == Some(0);
    if wants_all {
        // "All members" is 1 request per guild per 30 s ("Request Guild Members" in Discord's
        // Gateway Events page).
        const ALL_MEMBERS_WINDOW: Duration = Duration::from_secs(30);
        let now = Instant::now();
        let mut last = inner.all_member_requests.lock();
        if let Some(previous) = last.get(guild_id) {
            let elapsed = now.duration_since(*previous);
            if elapsed < ALL_MEMBERS_WINDOW {
                let retry_after = (ALL_MEMBERS_WINDOW - elapsed).as_secs_f64();
                let meta = match nonce {
                    Some(n) => serde_json::json!({"guild_id": guild_id, "nonce": n}),
                    None => serde_json::json!({"guild_id": guild_id}),
                };
                let data =
                    serde_json::json!({"opcode": 8, "retry_after": retry_after, "meta": meta});
                drop(last);
                inner.push("RATE_LIMITED", &data.to_string());
                return Ok(());
            }
        }
        last.insert(guild_id.to_owned(), now);
    }
    let (members, not_found): (Vec<String>, Vec<String>) = match d.get("user_ids") {
        Some(Value::Array(ids)) => {
            let ids: Vec<u64> = ids
                .iter()
                .filter_map(|v| v.as_str()?.parse().ok())
                .collect();
            let (found, missing): (Vec<u64>, Vec<u64>) = ids
                .into_iter()
                .partition(|id| (1..=u64::from(config.members)).contains(id));
            (
                found.iter().map(|id| member_json(guild, *id)).collect(),
                missing.iter().map(|id| format!(r#""{id}""#)).collect(),
            )
        }
        _ => (
            (1..=u64::from(config.members))
                .map(|id| member_json(guild, id))
                .collect(),
            Vec::new(),
        ),
    };
    let chunks: Vec<&[String]> = if members.is_empty() {
        vec![&[]]
    } else {
        members.chunks(config.member_chunk_size as usize).collect()
    };
    let count = chunks.len();
    let nonce_field = nonce.map_or(String::new(), |n| {
        format!(r#","nonce":{}"#, Value::String(n.to_owned()))
    });
    let mut sessions = inner.sessions.lock();
    let Some(id) = sessions.current.clone() else {
        return Ok(());
    };
    let Some(session) = sessions.map.get_mut(&id) else {
        return Ok(());
    };
    for (index, chunk) in chunks.iter().enumerate() {
        let data = format!(
            r#"{{"guild_id":{},"members":[{}],"chunk_index":{index},"chunk_count":{count},"not_found":[{}]{nonce_field}}}"#,
            Value::String(guild_id.to_owned()),
            chunk.join(","),
            if index == 0 {
                not_found.join(",")
            } else {
                String::new()
            },
        );
        inner.push_to(session, "GUILD_MEMBERS_CHUNK", &data);
    }
    Ok(())
}
