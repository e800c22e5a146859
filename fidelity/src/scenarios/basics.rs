//! The basics every gateway client goes through: handshake, heartbeats, op 1, op 7, op 9,
//! lost connections, zombies, and replay across a resume (PROTOCOL.md §4).

use std::time::{Duration, Instant};

use serde_json::Value;
use syncord::sim::{ConnectionFault, RecordKind, SimConfig};

use crate::check::{
    ensure, no_loss_no_unparsed, nth_record, ops_on, payload_on, push_messages, record, Step, STEP,
};
use crate::flow::{expect_new_session, expect_resume, expect_seq, identified, secs, sim_config};
use crate::twilight::{Seen, MODE};

/// Identify carries what Discord requires (§9.1) on `/?v=10&encoding=json` with this
/// mode's `compress`, and READY parses into twilight's typed event.
pub fn handshake() -> Step<String> {
    let mut s = identified(sim_config())?;
    let connected = record(&s.sim, "the connection", |r| r.connection == s.conn)?;
    let RecordKind::Connected { path, query } = connected.kind else {
        return Err("the first record of the connection is not its opening".into());
    };
    ensure(path == "/", || format!("connected to {path}"))?;
    let wanted_compress = (MODE != "none").then(|| format!("compress={MODE}"));
    let params: Vec<&str> = query.split('&').collect();
    ensure(
        params.contains(&"v=10")
            && params.contains(&"encoding=json")
            && wanted_compress
                .as_deref()
                .is_none_or(|c| params.contains(&c))
            && (MODE != "none" || !query.contains("compress")),
        || format!("query {query:?} for mode {MODE}"),
    )?;
    let ops = ops_on(&s.sim, s.conn);
    let identify = payload_on(&s.sim, s.conn, 2)?;
    let props = &identify["properties"];
    ensure(
        ["os", "browser", "device"]
            .iter()
            .all(|k| props[k].is_string()),
        || format!("properties {props}"),
    )?;
    ensure(identify["intents"].is_u64(), || "no intents".into())?;
    ensure(identify["shard"] == serde_json::json!([0, 1]), || {
        format!("shard {}", identify["shard"])
    })?;
    let token = identify["token"].as_str().unwrap_or_default();
    ensure(
        token.strip_prefix("Bot ").unwrap_or(token) == s.sim.token(),
        || "Identify without the token".into(),
    )?;
    ensure(ops.first() != Some(&6), || {
        "Resume without a session".into()
    })?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!(
        "op 2 with token \"Bot …\", properties, intents={}, shard [0,1], large_threshold={}",
        identify["intents"], identify["large_threshold"]
    ))
}

/// First heartbeat within one interval of Hello (jitter), then one per interval, each with
/// the last `s`, each ACKed (§4.2); the simulator never closes it for a missed beat.
pub fn heartbeats() -> Step<String> {
    let interval = Duration::from_millis(300);
    let mut s = identified(SimConfig::default().heartbeat_interval(interval))?;
    let opened = record(&s.sim, "the connection", |r| r.connection == s.conn)?.at;
    let conn = s.conn;
    let first = nth_record(&s.sim, 1, "a heartbeat", |r| {
        r.connection == conn && r.op() == Some(1)
    })?;
    let seq = push_messages(&s.sim, 1, 1)
        .pop()
        .ok_or("no session to push to")?;
    let beats: Vec<_> = (1..=6)
        .map(|n| {
            nth_record(&s.sim, n, "6 heartbeats", |r| {
                r.connection == conn && r.op() == Some(1)
            })
        })
        .collect::<Step<_>>()?;
    let first_after = secs(opened, first.at);
    ensure(first_after <= interval.as_secs_f64() * 1.5, || {
        format!("first heartbeat {first_after:.3}s after Hello (interval {interval:?})")
    })?;
    let gaps: Vec<f64> = beats.windows(2).map(|w| secs(w[0].at, w[1].at)).collect();
    let iv = interval.as_secs_f64();
    ensure(
        gaps.iter().all(|g| *g >= iv * 0.5 && *g <= iv * 1.8),
        || format!("heartbeat gaps {gaps:.3?} for an interval of {iv}s"),
    )?;
    let last_d = beats.last().and_then(|b| b.data()).unwrap_or(Value::Null);
    ensure(last_d.as_u64() == Some(seq), || {
        format!("heartbeat d={last_d}, last s={seq}")
    })?;
    s.client.wait_from(0, STEP, "4 ACKs", {
        let mut acks = 0;
        move |i| {
            acks += usize::from(i.seen == Seen::HeartbeatAck);
            acks >= 4
        }
    })?;
    ensure(
        !s.sim
            .records()
            .iter()
            .any(|r| matches!(r.kind, RecordKind::ClosedByServer { .. })),
        || "the simulator closed the connection".into(),
    )?;
    no_loss_no_unparsed(&mut s.client)?;
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    Ok(format!(
        "first after {:.0}% of the interval, then every {:.2}×interval, d = last s",
        first_after / iv * 100.0,
        mean / iv
    ))
}

/// A server op 1 is answered with a heartbeat at once (§4.2), carrying the last `s`.
pub fn heartbeat_request() -> Step<String> {
    // A long interval, so the regular schedule cannot be mistaken for the answer.
    let mut s = identified(SimConfig::default().heartbeat_interval(Duration::from_secs(40)))?;
    let conn = s.conn;
    let before = s.sim.received(1).len();
    let asked = Instant::now();
    ensure(s.sim.request_heartbeat(), || "no connection to ask".into())?;
    let answer = nth_record(&s.sim, before + 1, "the answer to op 1", |r| {
        r.op() == Some(1)
    })?;
    let after = secs(asked, answer.at);
    ensure(answer.connection == conn && after < 1.0, || {
        format!("answered after {after:.3}s on #{}", answer.connection)
    })?;
    ensure(answer.data().and_then(|d| d.as_u64()) == Some(1), || {
        format!("d={:?}, last s=1", answer.data())
    })?;
    s.client
        .wait(STEP, "op 1", |i| i.seen == Seen::HeartbeatRequest)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!("heartbeat after {:.0} ms", after * 1000.0))
}

/// op 7: twilight closes with a code that keeps the session (not 1000/1001), reconnects to
/// `resume_gateway_url` and resumes; nothing pushed around it is lost (§4.5).
pub fn reconnect() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    push_messages(&s.sim, 3, 1);
    let from = s.client.log.len();
    ensure(s.sim.reconnect(), || "no connection for op 7".into())?;
    push_messages(&s.sim, 3, 4);
    let closed = record(&s.sim, "twilight's close", |r| {
        r.connection == old && matches!(r.kind, RecordKind::ClosedByClient { .. })
    })?;
    let RecordKind::ClosedByClient { code } = closed.kind else {
        unreachable!("filtered")
    };
    ensure(!matches!(code, Some(1000 | 1001)), || {
        format!("closed with {code:?}: that ends the session")
    })?;
    expect_resume(&mut s, old, "/resume/", from)?;
    let last = push_messages(&s.sim, 3, 7).pop().ok_or("session lost")?;
    expect_seq(&mut s.client, last, from)?;
    ensure(
        !s.sim
            .records()
            .iter()
            .any(|r| r.connection == old && matches!(r.kind, RecordKind::ClosedByServer { .. })),
        || "the simulator had to close the socket after op 7".into(),
    )?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!(
        "closes {}, resumes on resume_gateway_url",
        code.map_or("without code".into(), |c| c.to_string())
    ))
}

/// op 9 true: the session may be resumed (§4.6); twilight resumes and gets what was
/// pushed after op 9, which the old socket must not stream (issue 16, bug 1).
pub fn invalid_session_resumable() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    push_messages(&s.sim, 2, 1);
    let from = s.client.log.len();
    let sent = Instant::now();
    ensure(s.sim.invalidate_session(true), || {
        "no connection for op 9".into()
    })?;
    let held = push_messages(&s.sim, 3, 3);
    ensure(held.len() == 3, || {
        "the session did not survive op 9 true".into()
    })?;
    let op9 = s.client.wait_from(from, STEP, "op 9 true", |i| {
        i.seen == Seen::InvalidSession(true)
    })?;
    let new_conn = expect_resume(&mut s, old, "/resume/", from)?;
    let hello = s.client.log[op9..]
        .iter()
        .position(|i| i.seen == Seen::Hello)
        .map(|p| p + op9)
        .ok_or("no Hello after op 9")?;
    ensure(
        !s.client.log[op9..hello]
            .iter()
            .any(|i| matches!(i.seen, Seen::Dispatch { .. })),
        || {
            format!(
                "dispatches on the invalidated socket: {}",
                s.client.summary()
            )
        },
    )?;
    expect_seq(&mut s.client, *held.last().unwrap_or(&0), from)?;
    let on_old = ops_on(&s.sim, old);
    let opened = record(&s.sim, "the new connection", |r| r.connection == new_conn)?.at;
    no_loss_no_unparsed(&mut s.client)?;
    ensure(
        on_old.iter().filter(|op| matches!(op, 2 | 6)).count() == 1,
        || format!("Identify/Resume again on the invalidated socket: {on_old:?}"),
    )?;
    Ok(format!(
        "closes the socket, resumes on a new one after {:.2}s (Discord: wait 1–5 s)",
        secs(sent, opened)
    ))
}

/// op 9 false: the session is gone (§4.6); twilight identifies anew, on the gateway URL.
pub fn invalid_session_not_resumable() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    push_messages(&s.sim, 2, 1);
    let from = s.client.log.len();
    let sent = Instant::now();
    ensure(s.sim.invalidate_session(false), || {
        "no connection for op 9".into()
    })?;
    s.client.wait_from(from, STEP, "op 9 false", |i| {
        i.seen == Seen::InvalidSession(false)
    })?;
    let closed = record(&s.sim, "twilight's close", |r| {
        r.connection == old
            && matches!(
                r.kind,
                RecordKind::ClosedByClient { .. } | RecordKind::Disconnected
            )
    })?;
    let how = expect_new_session(&mut s, old, from)?;
    ensure(how == "identify", || format!("after op 9 false: {how}"))?;
    let (_, path) = crate::flow::next_connection(&s.sim, old)?;
    ensure(path == "/", || format!("identified on {path}"))?;
    let identified_at = record(&s.sim, "the new Identify", |r| {
        r.connection == s.conn && r.op() == Some(2)
    })?
    .at;
    let last = push_messages(&s.sim, 2, 3).pop().ok_or("no new session")?;
    expect_seq(&mut s.client, last, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!(
        "closes {}, identifies on the gateway URL {:.1}s later (its identify queue)",
        match closed.kind {
            RecordKind::ClosedByClient { code } => code.map_or("-".into(), |c| c.to_string()),
            _ => "TCP".into(),
        },
        secs(sent, identified_at)
    ))
}

/// A TCP connection lost without a close frame: twilight reconnects and resumes.
pub fn tcp_drop() -> Step<String> {
    lost_link(|sim| sim.drop_connection(), "TCP drop")
}

/// The connection dropped in the middle of a websocket frame: the same.
pub fn mid_frame_drop() -> Step<String> {
    lost_link(|sim| sim.drop_mid_frame(), "mid-frame drop")
}

fn lost_link(cut: impl Fn(&syncord::sim::Simulator) -> bool, what: &str) -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    push_messages(&s.sim, 3, 1);
    let from = s.client.log.len();
    ensure(cut(&s.sim), || format!("no connection for the {what}"))?;
    push_messages(&s.sim, 3, 4);
    expect_resume(&mut s, old, "/resume/", from)?;
    // What twilight tells its user about the lost link: a 1006 close when its websocket
    // layer reports an error, nothing when the TCP stream just ends.
    let told = s.client.log[from..]
        .iter()
        .find(|i| matches!(i.seen, Seen::Close(_) | Seen::Error(_)))
        .map_or("nothing".to_owned(), |i| format!("{:?}", i.seen));
    let last = push_messages(&s.sim, 3, 7).pop().ok_or("session lost")?;
    expect_seq(&mut s.client, last, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!("yields {told}, resumes"))
}

/// The simulator stops ACKing: twilight must find the zombied link when its next beat is
/// due, drop it without ending the session, and resume (§4.2 zombie rule).
pub fn zombie() -> Step<String> {
    let interval = Duration::from_millis(400);
    let mut s = identified(SimConfig::default().heartbeat_interval(interval))?;
    let old = s.conn;
    // One ACKed beat first, so the next unanswered one is the first miss.
    s.client
        .wait(STEP, "an ACK", |i| i.seen == Seen::HeartbeatAck)?;
    let from = s.client.log.len();
    s.sim.set_acks(false);
    let stopped = Instant::now();
    let gone = record(&s.sim, "the zombied connection ending", |r| {
        r.connection == old
            && matches!(
                r.kind,
                RecordKind::Disconnected | RecordKind::ClosedByClient { .. }
            )
    })?;
    s.sim.set_acks(true);
    ensure(
        !matches!(
            gone.kind,
            RecordKind::ClosedByClient {
                code: Some(1000 | 1001)
            }
        ),
        || "closed with 1000/1001: that ends the session".into(),
    )?;
    let after = secs(stopped, gone.at);
    ensure(after <= interval.as_secs_f64() * 3.0, || {
        format!("noticed {after:.2}s after ACKs stopped (interval {interval:?})")
    })?;
    expect_resume(&mut s, old, "/resume/", from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!(
        "{} after {:.1} intervals without ACK, resumes",
        match gone.kind {
            RecordKind::ClosedByClient { code } => format!("closes {code:?}"),
            _ => "drops TCP".into(),
        },
        after / interval.as_secs_f64()
    ))
}

/// Many events before, during and after a lost connection arrive once each, in order,
/// with their original `s` (§4.4).
pub fn events_across_resume() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    push_messages(&s.sim, 40, 1);
    let from = s.client.log.len();
    ensure(s.sim.drop_connection(), || "no connection to drop".into())?;
    push_messages(&s.sim, 40, 41);
    expect_resume(&mut s, old, "/resume/", from)?;
    let last = push_messages(&s.sim, 40, 81).pop().ok_or("session lost")?;
    expect_seq(&mut s.client, last, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    let messages = s
        .client
        .dispatches()
        .iter()
        .filter(|(_, k)| k == "MESSAGE_CREATE")
        .count();
    ensure(messages == 120, || format!("{messages} of 120 messages"))?;
    Ok("120 of 120, in order, once each".into())
}

/// Every payload shape the simulator sends (one of each) parses with twilight-model.
pub fn payloads() -> Step<String> {
    let mut s = identified(sim_config().guilds(2).members(3, 1000))?;
    let samples = syncord::sim::payload::samples(3);
    let mut last = 0;
    for (kind, data) in &samples {
        last = s
            .sim
            .push(kind, data)
            .ok_or_else(|| format!("{kind} not sent (intents?)"))?;
    }
    expect_seq(&mut s.client, last, 0)?;
    no_loss_no_unparsed(&mut s.client)?;
    let kinds: std::collections::BTreeSet<String> =
        s.client.dispatches().into_iter().map(|(_, k)| k).collect();
    Ok(format!("{} event types typed, none rejected", kinds.len()))
}

/// A Resume after the session's resume window gets op 9 false; twilight then identifies
/// (§12 resume window).
pub fn resume_window_expired() -> Step<String> {
    let mut s = identified(sim_config().resume_window(Duration::from_millis(300)))?;
    let old = s.conn;
    // Keep twilight away longer than the window: its next two attempts are refused (it
    // waits 1 s, then 2 s, between them).
    s.sim.fault_next(ConnectionFault::Refuse, 2);
    let from = s.client.log.len();
    ensure(s.sim.drop_connection(), || "no connection to drop".into())?;
    let how = expect_new_session(&mut s, old, from)?;
    let last = push_messages(&s.sim, 2, 1).pop().ok_or("no new session")?;
    expect_seq(&mut s.client, last, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(how.into())
}
