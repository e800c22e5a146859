//! Envelopes: building them (SLACK.md §2.2), routing each to any open connection (§2.6),
//! the ack deadline and Slack's retries for `events_api` (§2.4), and at-least-once
//! duplicates (§5).

use super::conn::SlackConn;
use super::payload::{new_uuid, unix_seconds};
use super::record::{ConnId, ConnKind, Delivery, SlackRecordKind};
use super::schedule::{Job, PendingEvent};
use super::state::{Deliveries, Inner, Stored};
use std::sync::Arc;
use std::time::Instant;

/// Where a delivery goes.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// Any connection Slack would pick.
    Any,
    /// This connection, whatever its state.
    Conn(ConnId),
}

/// The connections a delivery may go to now: Socket Mode ones past `hello`, open and not
/// silent, and ghosts when the config lets routing pick them (Slack does: §2.6).
fn candidates(inner: &Inner) -> Vec<Arc<SlackConn>> {
    let now = Instant::now();
    inner
        .conns
        .lock()
        .iter()
        .filter(|c| c.kind == ConnKind::SocketMode)
        .filter(|c| {
            let state = c.state.lock();
            let open = state.phase == super::conn::Phase::Open && state.hello_sent;
            let ghost = state.ghost_until.is_some_and(|t| t > now);
            (open && !c.is_silent()) || (ghost && inner.config.route_to_ghosts)
        })
        .cloned()
        .collect()
}

/// Picks the connection for one delivery.
fn pick(inner: &Inner, deliveries: &mut Deliveries, target: Target) -> Option<Arc<SlackConn>> {
    match target {
        Target::Conn(id) => inner.conn(id),
        Target::Any => {
            let conns = candidates(inner);
            let next = conns
                .iter()
                .find(|c| c.id.0 > deliveries.cursor)
                .or_else(|| conns.first())?
                .clone();
            deliveries.cursor = next.id.0;
            Some(next)
        }
    }
}

fn envelope_text(
    envelope_id: &str,
    kind: &str,
    payload: &str,
    accepts_response_payload: bool,
    retry: Option<u32>,
) -> String {
    let retry = match retry {
        Some(0) => r#","retry_attempt":0,"retry_reason":"""#.to_owned(),
        Some(n) => format!(r#","retry_attempt":{n},"retry_reason":"timeout""#),
        None => String::new(),
    };
    format!(
        r#"{{"envelope_id":"{envelope_id}","payload":{payload},"type":"{kind}","accepts_response_payload":{accepts_response_payload}{retry}}}"#
    )
}

/// Sends `text` on `conn` (or nowhere) and records the delivery.
fn send_and_record(
    inner: &Inner,
    conn: Option<&Arc<SlackConn>>,
    text: &str,
    mut delivery: Delivery,
) {
    let sent = conn.is_some_and(|c| !c.is_ghost(Instant::now()) && inner.send_text(c, text));
    delivery.lost = !sent;
    inner.with_book(|book| book.deliveries.push(delivery));
}

/// The Events API outer payload for `event_json` ("The Events API": `event_callback`).
pub(crate) fn event_callback(event_json: &str, event_id: &str) -> String {
    let event_time = unix_seconds();
    format!(
        r#"{{"token":"sim-verification-token","team_id":"{team}","context_team_id":"{team}","api_app_id":"{app}","event":{event_json},"type":"event_callback","event_id":"{event_id}","event_time":{event_time},"authorizations":[{{"enterprise_id":null,"team_id":"{team}","user_id":"{bot}","is_bot":true,"is_enterprise_install":false}}],"is_ext_shared_channel":false,"event_context":"4-sim-{event_id}"}}"#,
        team = super::payload::TEAM_ID,
        app = super::payload::APP_ID,
        bot = super::payload::BOT_USER_ID,
    )
}

/// Pushes a new `events_api` event; returns `(envelope_id, event_id)`.
pub(crate) fn push_event(inner: &Inner, event_json: &str, target: Target) -> (String, String) {
    let event_id = inner.deliveries.lock().next_event_id();
    let event = PendingEvent {
        payload: event_callback(event_json, &event_id),
        event_id: event_id.clone(),
        attempt: 0,
        envelope_id: new_uuid(),
    };
    let envelope_id = event.envelope_id.clone();
    deliver_event(inner, event, target, false);
    (envelope_id, event_id)
}

/// Sends one attempt of an `events_api` event and arms its ack deadline. A retry that no
/// connection can take waits for one; a first delivery then is lost, like Slack's, and
/// comes back as retries (SLACK.md §5).
pub(crate) fn deliver_event(inner: &Inner, event: PendingEvent, target: Target, cut: bool) {
    let mut deliveries = inner.deliveries.lock();
    let conn = pick(inner, &mut deliveries, target);
    if conn.is_none() && event.attempt > 0 && matches!(target, Target::Any) {
        deliveries.waiting.push_back(event);
        return;
    }
    let text = envelope_text(
        &event.envelope_id,
        "events_api",
        &event.payload,
        false,
        Some(event.attempt),
    );
    deliveries.sent.insert(
        event.envelope_id.clone(),
        Stored {
            kind: "events_api".into(),
            event_id: Some(event.event_id.clone()),
            payload: event.payload.clone(),
            accepts_response_payload: false,
        },
    );
    let now = Instant::now();
    inner.schedule.at(
        now + inner.config.ack_deadline,
        Job::AckDeadline(event.envelope_id.clone()),
    );
    if event.attempt == 0 && deliveries.duplicates_left > 0 {
        deliveries.duplicates_left -= 1;
        inner.schedule.at(
            now + inner.config.duplicate_delay,
            Job::Duplicate(event.envelope_id.clone()),
        );
    }
    let delivery = Delivery {
        envelope_id: event.envelope_id.clone(),
        kind: "events_api".into(),
        event_id: Some(event.event_id.clone()),
        retry_attempt: event.attempt,
        duplicate: false,
        conn: conn.as_ref().map(|c| c.id),
        lost: false,
        at: now,
    };
    deliveries.pending.insert(event.envelope_id.clone(), event);
    drop(deliveries);
    if cut {
        // Half a frame never reaches the client as a message: lost, so retried.
        if let Some(conn) = &conn {
            conn.send_half_then_drop(&text);
        }
        let delivery = Delivery {
            lost: true,
            ..delivery
        };
        inner.with_book(|book| book.deliveries.push(delivery));
    } else {
        send_and_record(inner, conn.as_ref(), &text, delivery);
    }
}

/// Pushes any other envelope (never retried); returns its envelope id.
pub(crate) fn push_envelope(
    inner: &Inner,
    kind: &str,
    payload_json: &str,
    accepts_response_payload: bool,
    target: Target,
) -> String {
    let envelope_id = new_uuid();
    let text = envelope_text(
        &envelope_id,
        kind,
        payload_json,
        accepts_response_payload,
        None,
    );
    let conn = {
        let mut deliveries = inner.deliveries.lock();
        deliveries.sent.insert(
            envelope_id.clone(),
            Stored {
                kind: kind.to_owned(),
                event_id: None,
                payload: payload_json.to_owned(),
                accepts_response_payload,
            },
        );
        pick(inner, &mut deliveries, target)
    };
    let delivery = Delivery {
        envelope_id: envelope_id.clone(),
        kind: kind.to_owned(),
        event_id: None,
        retry_attempt: 0,
        duplicate: false,
        conn: conn.as_ref().map(|c| c.id),
        lost: false,
        at: Instant::now(),
    };
    send_and_record(inner, conn.as_ref(), &text, delivery);
    envelope_id
}

/// An ack arrived: its envelope is no longer awaited.
pub(crate) fn acked(inner: &Inner, envelope_id: &str) {
    inner.deliveries.lock().pending.remove(envelope_id);
}

/// The ack deadline of `envelope_id` passed: if it is still unacked, the next retry is
/// scheduled (after the configured wait), or the event is given up after the last one.
pub(crate) fn ack_deadline(inner: &Inner, envelope_id: &str) {
    let Some(event) = inner.deliveries.lock().pending.remove(envelope_id) else {
        return;
    };
    match inner.config.retry_schedule.get(event.attempt as usize) {
        Some(wait) => inner
            .schedule
            .at(Instant::now() + *wait, Job::Retry(Box::new(event))),
        None => inner.record(
            None,
            SlackRecordKind::RetriesExhausted {
                event_id: event.event_id,
            },
        ),
    }
}

/// Sends the next retry of `event` (`retry_attempt` + 1, `retry_reason` `timeout`).
pub(crate) fn retry(inner: &Inner, mut event: PendingEvent) {
    event.attempt += 1;
    if !inner.config.keep_envelope_id_on_retry {
        event.envelope_id = new_uuid();
    }
    deliver_event(inner, event, Target::Any, false);
}

/// A connection said `hello`: retries that waited for one go out now.
pub(crate) fn flush_waiting(inner: &Inner) {
    let waiting: Vec<PendingEvent> = inner.deliveries.lock().waiting.drain(..).collect();
    for event in waiting {
        deliver_event(inner, event, Target::Any, false);
    }
}

/// Sends an envelope again, as it was first sent (`retry_attempt` 0, same envelope id: what
/// was observed, SLACK.md §5). False if the simulator never sent `envelope_id`.
pub(crate) fn send_copy(inner: &Inner, envelope_id: &str) -> bool {
    let (text, delivery_of, conn) = {
        let mut deliveries = inner.deliveries.lock();
        let Some(stored) = deliveries.sent.get(envelope_id) else {
            return false;
        };
        let retry = (stored.kind == "events_api").then_some(0);
        let text = envelope_text(
            envelope_id,
            &stored.kind,
            &stored.payload,
            stored.accepts_response_payload,
            retry,
        );
        let of = (stored.kind.clone(), stored.event_id.clone());
        let conn = pick(inner, &mut deliveries, Target::Any);
        (text, of, conn)
    };
    let delivery = Delivery {
        envelope_id: envelope_id.to_owned(),
        kind: delivery_of.0,
        event_id: delivery_of.1,
        retry_attempt: 0,
        duplicate: true,
        conn: conn.as_ref().map(|c| c.id),
        lost: false,
        at: Instant::now(),
    };
    send_and_record(inner, conn.as_ref(), &text, delivery);
    true
}

/// The next `n` first deliveries are each followed by a duplicate.
pub(crate) fn duplicate_next(inner: &Inner, n: usize) {
    inner.deliveries.lock().duplicates_left += n;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_retry_fields_only_for_events_api() {
        let first = envelope_text("e1", "events_api", "{}", false, Some(0));
        let value: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!(value["retry_attempt"], 0);
        assert_eq!(value["retry_reason"], "");
        let retry: serde_json::Value =
            serde_json::from_str(&envelope_text("e2", "events_api", "{}", false, Some(2))).unwrap();
        assert_eq!(retry["retry_reason"], "timeout");
        let slash: serde_json::Value =
            serde_json::from_str(&envelope_text("e3", "slash_commands", "{}", true, None)).unwrap();
        assert!(slash.get("retry_attempt").is_none());
        assert_eq!(slash["accepts_response_payload"], true);
    }

    #[test]
    fn envelope_ids_look_like_uuids() {
        let id = new_uuid();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4, "{id}");
        assert_ne!(id, new_uuid());
    }

    #[test]
    fn the_outer_payload_is_an_event_callback() {
        let payload = event_callback(r#"{"type":"message"}"#, "Ev1");
        let value: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(value["type"], "event_callback");
        assert_eq!(value["event_id"], "Ev1");
        assert_eq!(value["event"]["type"], "message");
        assert!(value["authorizations"][0]["user_id"].is_string());
    }
}
