//! The Web API methods the simulator serves: `apps.connections.open` (SLACK.md §1.1) and
//! `rtm.connect` / `rtm.start` (§1.3), with Slack's errors and rate-limit answers (§1.2).

use super::payload::new_uuid;
use super::record::{ConnKind, SlackRecordKind};
use super::state::{Inner, OpenScript, Ticket};
use crate::sim::http::{query_param, read_body, respond_with, RequestHead};
use serde_json::json;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Request bodies over this are refused (the methods served take a few form fields).
const MAX_BODY: usize = 64 * 1024;

/// One answer: status, body, extra headers.
struct Answer {
    status: u16,
    body: String,
    retry_after: Option<String>,
}

fn error(error: &str) -> Answer {
    Answer {
        status: 200,
        body: json!({"ok": false, "error": error}).to_string(),
        retry_after: None,
    }
}

/// `%XX` and `+` decoded (application/x-www-form-urlencoded).
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `token` argument, from the query string or a form body.
fn token_param(head: &RequestHead, body: &str) -> Option<String> {
    query_param(&head.query, "token")
        .or_else(|| query_param(body, "token"))
        .map(form_decode)
}

fn bearer(head: &RequestHead) -> Option<&str> {
    let value = head.header("Authorization")?;
    Some(value.strip_prefix("Bearer ").unwrap_or(value).trim())
}

fn base_url(inner: &Inner) -> String {
    format!("ws://127.0.0.1:{}", inner.port)
}

fn issue_ticket(inner: &Inner, kind: ConnKind) -> String {
    let ticket = new_uuid();
    inner.tickets.lock().insert(
        ticket.clone(),
        Ticket {
            kind,
            issued: Instant::now(),
            used: false,
        },
    );
    ticket
}

/// `apps.connections.open`: the app token in `Authorization: Bearer` only.
fn connections_open(inner: &Inner, head: &RequestHead, body: &str) -> Answer {
    inner.open_requests.fetch_add(1, Ordering::AcqRel);
    // Not POST: `insecure_request` in the method's error table (SLACK.md §1.1).
    if head.method != "POST" {
        return error("insecure_request");
    }
    match bearer(head) {
        // A token sent as an argument is not read: users see `invalid_auth` (§1.1).
        None if token_param(head, body).is_some() => return error("invalid_auth"),
        None => return error("not_authed"),
        Some(token) if token.starts_with("xoxb-") || token.starts_with("xoxp-") => {
            return error("not_allowed_token_type")
        }
        Some(token) if token != inner.config.app_token => return error("invalid_auth"),
        Some(_) => {}
    }
    if !inner.socket_mode_enabled.load(Ordering::Acquire) {
        return error(super::socket_mode::SOCKET_MODE_DISABLED_ERROR);
    }
    match inner.open_script.lock().pop_front() {
        Some(OpenScript::Fail(e)) => return error(&e),
        Some(OpenScript::RateLimit(after)) => {
            // Retry-After is whole seconds: rounded up, so the client never retries early.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            return Answer {
                status: 429,
                body: r#"{"ok":false,"error":"ratelimited"}"#.into(),
                retry_after: Some(secs.to_string()),
            };
        }
        None => {}
    }
    let ticket = issue_ticket(inner, ConnKind::SocketMode);
    Answer {
        status: 200,
        body: json!({"ok": true, "url": format!("{}/link/?ticket={ticket}&app_id={}",
            base_url(inner), super::payload::APP_ID)})
        .to_string(),
        retry_after: None,
    }
}

/// `rtm.connect` (and `rtm.start`, which answers like it): the bot token as a form or
/// query argument, or in `Authorization: Bearer`.
fn rtm_connect(inner: &Inner, head: &RequestHead, body: &str) -> Answer {
    let token = token_param(head, body).or_else(|| bearer(head).map(str::to_owned));
    match token {
        None => return error("not_authed"),
        Some(token) if token.starts_with("xapp-") => return error("not_allowed_token_type"),
        Some(token) if token != inner.config.bot_token => return error("invalid_auth"),
        Some(_) => {}
    }
    let ticket = issue_ticket(inner, ConnKind::Rtm);
    Answer {
        status: 200,
        body: json!({
            "ok": true,
            "url": format!("{}/rtm/?ticket={ticket}", base_url(inner)),
            "team": {"id": super::payload::TEAM_ID, "name": "Sim Team", "domain": "sim"},
            "self": {"id": super::payload::BOT_USER_ID, "name": "simbot"},
        })
        .to_string(),
        retry_after: None,
    }
}

pub(crate) fn serve_api(inner: &Inner, tcp: &mut TcpStream, head: &RequestHead) {
    let body = if head.header("Content-Length").is_some() {
        match read_body(tcp, head, MAX_BODY) {
            Ok(body) => String::from_utf8_lossy(&body).into_owned(),
            Err(_) => {
                let _ = respond_with(tcp, 400, r#"{"ok":false,"error":"invalid_form_data"}"#, &[]);
                return;
            }
        }
    } else {
        String::new()
    };
    let answer = match head.path.as_str() {
        "/api/apps.connections.open" => connections_open(inner, head, &body),
        "/api/rtm.connect" | "/api/rtm.start" => rtm_connect(inner, head, &body),
        _ => Answer {
            status: 404,
            body: r#"{"ok":false,"error":"unknown_method"}"#.into(),
            retry_after: None,
        },
    };
    let error = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned));
    inner.record(
        None,
        SlackRecordKind::Http {
            method: head.method.clone(),
            path: head.path.clone(),
            status: answer.status,
            error,
        },
    );
    let headers: Vec<(&str, &str)> = answer
        .retry_after
        .as_deref()
        .map(|after| ("Retry-After", after))
        .into_iter()
        .collect();
    let _ = respond_with(tcp, answer.status, &answer.body, &headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(form_decode("xoxb-1%2D2+3"), "xoxb-1-2 3");
        assert_eq!(form_decode("50%"), "50%");
        assert_eq!(form_decode("%zz"), "%zz");
    }
}
