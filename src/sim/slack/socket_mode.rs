//! A Socket Mode connection: `hello` (SLACK.md §2.1), the connection limit (§2.6), acks
//! (§2.3) and `disconnect` (§2.5).

use super::conn::SlackConn;
use super::frame_loop::{frame_loop, TextHandler};
use super::record::{Ack, SlackRecordKind};
use super::schedule::Job;
use super::state::Inner;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Slack closes ack frames this large with 1009 (SLACK.md §2.3, revelrylabs/slax #614).
pub(crate) const MAX_ACK_FRAME: u64 = 20 * 1024;

/// What `apps.connections.open` answers while Socket Mode is off: Slack's error is not
/// known (SLACK.md §8); this is the simulator's choice.
pub const SOCKET_MODE_DISABLED_ERROR: &str = "socket_mode_disabled";

/// `debug_info.approximate_connection_time` with `debug_reconnects=true` ("Using Socket
/// Mode").
const DEBUG_CONNECTION_TIME: u64 = 360;

/// `disconnect` as Slack sends it (SLACK.md §2.5).
pub(crate) fn disconnect_text(reason: &str, host: &str) -> String {
    serde_json::json!({"type": "disconnect", "reason": reason, "debug_info": {"host": host}})
        .to_string()
}

/// `hello` as Slack sends it (SLACK.md §2.1).
pub(crate) fn hello_text(num_connections: usize, host: &str, connection_time: u64) -> String {
    serde_json::json!({
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": host,
            "started": utc_timestamp(SystemTime::now()),
            "build_number": 54,
            "approximate_connection_time": connection_time,
        },
        "connection_info": {"app_id": super::payload::APP_ID},
    })
    .to_string()
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC, as `debug_info.started` reads.
pub(crate) fn utc_timestamp(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Sends `disconnect` with `reason` and arranges the close that follows it.
pub(crate) fn disconnect(inner: &Inner, conn: &SlackConn, reason: &str) -> bool {
    if !inner.send_text(conn, &disconnect_text(reason, &conn.host)) {
        return false;
    }
    let close_after = match reason {
        "warning" => Some(inner.config.warning_close_after),
        "too_many_websockets" | "link_disabled" => None,
        // `refresh_requested`, and reasons Slack does not document.
        _ => Some(inner.config.refresh_close_after),
    };
    match close_after {
        Some(after) => inner
            .schedule
            .at(Instant::now() + after, Job::Close(conn.id, 1000, "")),
        None => {
            inner.close(conn, 1000, "");
        }
    }
    true
}

struct Acks;

impl TextHandler for Acks {
    fn frame_limit(&self) -> (u64, &'static str) {
        (MAX_ACK_FRAME, "Max frame length of 20480")
    }

    fn drop_fragmented(&self) -> bool {
        true
    }

    fn text(&mut self, inner: &Inner, conn: &SlackConn, text: &str, frame_len: usize) {
        let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let envelope_id = value
            .as_ref()
            .and_then(|v| v.get("envelope_id"))
            .and_then(|v| v.as_str());
        let Some(envelope_id) = envelope_id else {
            inner.record(
                Some(conn.id),
                SlackRecordKind::Text {
                    text: text.to_owned(),
                },
            );
            return;
        };
        super::delivery::acked(inner, envelope_id);
        let ack = Ack {
            envelope_id: envelope_id.to_owned(),
            payload: value.as_ref().and_then(|v| v.get("payload")).cloned(),
            conn: conn.id,
            at: Instant::now(),
            frame_len,
        };
        inner.with_book(|book| {
            book.records.push(super::record::SlackRecord {
                at: ack.at,
                conn: Some(conn.id),
                kind: SlackRecordKind::Ack {
                    envelope_id: ack.envelope_id.clone(),
                    frame_len,
                },
            });
            book.acks.push(ack);
        });
    }
}

/// Runs one Socket Mode connection until its TCP ends.
pub(crate) fn serve(
    inner: &Arc<Inner>,
    conn: &Arc<SlackConn>,
    reader: &mut impl Read,
    counted_before: usize,
    debug_reconnects: bool,
) {
    if counted_before >= inner.config.max_connections {
        // Sent before any `hello` (bolt-js #2225: the disconnect came while connecting).
        disconnect(inner, conn, "too_many_websockets");
    } else if !inner.socket_mode_enabled.load(Ordering::Acquire) {
        disconnect(inner, conn, "link_disabled");
    } else {
        let connection_time = if debug_reconnects {
            DEBUG_CONNECTION_TIME
        } else {
            inner.config.approximate_connection_time
        };
        let hello = hello_text(counted_before + 1, &conn.host, connection_time);
        if inner.send_hello(conn, &hello) {
            inner.with_book(|_| ());
            inner.schedule.at(
                Instant::now() + inner.config.ping_interval,
                Job::Ping(conn.id),
            );
            super::delivery::flush_waiting(inner);
        }
    }
    frame_loop(inner, conn, reader, &mut Acks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_602_418_332_120);
        assert_eq!(utc_timestamp(time), "2020-10-11 12:12:12.120");
        assert_eq!(
            utc_timestamp(SystemTime::UNIX_EPOCH),
            "1970-01-01 00:00:00.000"
        );
    }

    #[test]
    fn hello_has_slacks_fields() {
        let hello: serde_json::Value =
            serde_json::from_str(&hello_text(2, "applink-sim-1", 18060)).unwrap();
        assert_eq!(hello["type"], "hello");
        assert_eq!(hello["num_connections"], 2);
        assert_eq!(hello["debug_info"]["approximate_connection_time"], 18060);
        assert_eq!(hello["debug_info"]["host"], "applink-sim-1");
        assert!(hello["connection_info"]["app_id"].is_string());
    }
}
