//! A legacy RTM connection (SLACK.md §6): `hello`, pings with ids and their pongs, message
//! replies, the 1 message/s write limit and the 16 KB message limit, `goodbye`.

use super::conn::SlackConn;
use super::frame_loop::{frame_loop, TextHandler};
use super::record::{RtmMessage, SlackRecordKind};
use super::schedule::Job;
use super::state::Inner;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The pong for a client ping: `reply_to` its id, its other flat (scalar) fields echoed
/// ("Legacy RTM API": ping).
pub(crate) fn pong_for(ping: &Map<String, Value>) -> Value {
    let mut pong = Map::new();
    pong.insert("type".into(), "pong".into());
    if let Some(id) = ping.get("id") {
        pong.insert("reply_to".into(), id.clone());
    }
    for (key, value) in ping {
        let flat = !matches!(value, Value::Array(_) | Value::Object(_));
        if flat && key != "id" && key != "type" {
            pong.insert(key.clone(), value.clone());
        }
    }
    Value::Object(pong)
}

/// Takes one token from the connection's bucket (refilled at 1 per second up to the burst:
/// "Rate limits", RTM writes); false when it is empty.
fn take_send_token(inner: &Inner, conn: &SlackConn) -> bool {
    let burst = f64::from(inner.config.rtm_burst.max(1));
    let mut state = conn.state.lock();
    let now = Instant::now();
    let refill = now.duration_since(state.rtm_refilled).as_secs_f64();
    state.rtm_tokens = (state.rtm_tokens + refill).min(burst);
    state.rtm_refilled = now;
    if state.rtm_tokens >= 1.0 {
        state.rtm_tokens -= 1.0;
        true
    } else {
        false
    }
}

/// A message `ts`, as Slack writes them (`seconds.counter`).
fn next_ts(inner: &Inner) -> String {
    let n = inner.next_ts.fetch_add(1, Ordering::AcqRel);
    format!("{}.{:06}", super::payload::unix_seconds(), n % 1_000_000)
}

struct Rtm {
    limit: u64,
}

impl TextHandler for Rtm {
    fn frame_limit(&self) -> (u64, &'static str) {
        (self.limit, "message too long")
    }

    fn drop_fragmented(&self) -> bool {
        false
    }

    fn text(&mut self, inner: &Inner, conn: &SlackConn, text: &str, _frame_len: usize) {
        inner.record(
            Some(conn.id),
            SlackRecordKind::Text {
                text: text.to_owned(),
            },
        );
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        match message.get("type").and_then(Value::as_str) {
            Some("ping") => {
                inner.send_text(conn, &pong_for(&message).to_string());
            }
            Some("message") => {
                let text = message.get("text").and_then(Value::as_str);
                let reply = match text {
                    None | Some("") => json!({"ok": false, "reply_to": id,
                        "error": {"code": 2, "msg": "message text is missing"}}),
                    Some(_) if !take_send_token(inner, conn) => json!({"ok": false,
                        "reply_to": id,
                        "error": {"code": -1, "msg": "slow down, too many messages..."}}),
                    Some(text) => json!({"ok": true, "reply_to": id, "ts": next_ts(inner),
                        "text": text}),
                };
                let accepted = reply["ok"] == true;
                let record = RtmMessage {
                    conn: conn.id,
                    id: id.as_u64(),
                    channel: message
                        .get("channel")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    text: text.map(str::to_owned),
                    accepted,
                    at: Instant::now(),
                };
                inner.with_book(|book| book.rtm_messages.push(record));
                inner.send_text(conn, &reply.to_string());
            }
            // `typing` and anything else: accepted without a reply.
            _ => {}
        }
    }
}

/// Sends `goodbye` and closes the connection after the configured delay unless the
/// client closed first.
pub(crate) fn goodbye(inner: &Inner, conn: &SlackConn) -> bool {
    if !inner.send_text(conn, r#"{"type":"goodbye"}"#) {
        return false;
    }
    inner.schedule.at(
        Instant::now() + inner.config.goodbye_close_after,
        Job::Close(conn.id, 1000, ""),
    );
    true
}

/// Runs one RTM connection until its TCP ends.
pub(crate) fn serve(
    inner: &Arc<Inner>,
    conn: &Arc<SlackConn>,
    reader: &mut impl Read,
    expired: bool,
) {
    {
        let mut state = conn.state.lock();
        state.rtm_tokens = f64::from(inner.config.rtm_burst.max(1));
    }
    if expired {
        inner.send_text(
            conn,
            r#"{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}"#,
        );
        inner.close(conn, 1000, "");
    } else if inner.send_hello(conn, r#"{"type":"hello"}"#) {
        inner.with_book(|_| ());
    }
    let limit = inner.config.rtm_max_message_len as u64 + 1;
    frame_loop(inner, conn, reader, &mut Rtm { limit });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pongs_echo_flat_fields_only() {
        let ping: Value =
            serde_json::from_str(r#"{"id":7,"type":"ping","time":123,"nested":{"a":1},"s":"x"}"#)
                .unwrap();
        let pong = pong_for(ping.as_object().unwrap());
        assert_eq!(pong, json!({"type":"pong","reply_to":7,"time":123,"s":"x"}));
    }
}
