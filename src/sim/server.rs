//! The simulator's server side: accepting a connection, the websocket upgrade or the HTTP
//! API, then handing the websocket to the gateway protocol.

use super::conn::{SimConn, SimEncoder};
use super::deflate::ZlibStreamEncoder;
#[cfg(feature = "zstd")]
use super::deflate::ZstdStreamEncoder;
use super::fault::{take_fault, ConnectionFault};
use super::http::{accept_upgrade, query_param, read_head, respond, RequestHead};
use super::record::RecordKind;
use super::state::Inner;
use crate::transport::{Connection, ReadAhead, Stream};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::WebSocket;

/// Serves one accepted TCP connection: an API call or a websocket.
pub(crate) fn serve(inner: &Arc<Inner>, tcp: TcpStream, id: u64) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_nodelay(true);
    let Ok(shared) = tcp.try_clone() else {
        return;
    };
    let mut stream = match &inner.tls {
        Some(tls) => match tls.acceptor.accept(ReadAhead::new(tcp)) {
            Ok(stream) => MaybeTlsStream::NativeTls(stream),
            Err(_) => {
                inner.record(id, RecordKind::Disconnected);
                return;
            }
        },
        None => MaybeTlsStream::Plain(ReadAhead::new(tcp)),
    };
    let Ok(head) = read_head(&mut stream) else {
        return;
    };
    if head.path.starts_with("/api/") {
        serve_http(inner, &mut stream, &head);
        return;
    }
    let fault = take_fault(&mut inner.faults.lock(), is_resume_path(&head.path));
    if matches!(
        fault,
        Some(ConnectionFault::Refuse | ConnectionFault::RefuseResume)
    ) {
        inner.record(id, RecordKind::Disconnected);
        return;
    }
    if accept_upgrade(&mut stream, &head).is_err() {
        return;
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let ws =
        WebSocket::from_partially_read(stream, head.rest.clone(), Role::Server, Some(ws_config));
    let Ok(conn) = Connection::from_parts(ws, shared) else {
        return;
    };
    let encoder = match query_param(&head.query, "compress") {
        None => Some(SimEncoder::Plain {
            payload_compression: false,
        }),
        Some("zlib-stream") => Some(SimEncoder::Zlib(ZlibStreamEncoder::new())),
        #[cfg(feature = "zstd")]
        Some("zstd-stream") => ZstdStreamEncoder::new().ok().map(SimEncoder::Zstd),
        Some(_) => None,
    };
    let known_compression = encoder.is_some();
    let encoder = encoder.unwrap_or(SimEncoder::Plain {
        payload_compression: false,
    });
    let conn = Arc::new(SimConn::new(
        id,
        conn,
        encoder,
        inner.config.zlib_frame_size,
        inner.timer.clone(),
    ));
    inner.conns.lock().push(conn.clone());
    inner
        .user_agents
        .lock()
        .push((id, head.header("User-Agent").map(str::to_owned)));
    inner.record(
        id,
        RecordKind::Connected {
            path: head.path.clone(),
            query: head.query.clone(),
        },
    );
    if !inner.is_stopping() {
        super::gateway::serve_gateway(inner, &conn, &head, fault, known_compression);
    }
    conn.conn.shutdown();
    inner.conns.lock().retain(|c| c.id != id);
    inner.sessions.lock().detach_conn(id);
    inner.sessions_changed.notify_all();
}

/// Whether a websocket request goes to the resume URL (`/resume`, also written `/resume/`
/// as some clients append the query to a path ending in a slash).
fn is_resume_path(path: &str) -> bool {
    path.trim_end_matches('/') == "/resume"
}

fn serve_http(inner: &Inner, stream: &mut Stream, head: &RequestHead) {
    let config = &inner.config;
    if let Some(raw) = config
        .gateway_bot_raw
        .as_ref()
        .filter(|_| head.path == "/api/v10/gateway/bot")
    {
        inner.record(
            0,
            RecordKind::Http {
                path: head.path.clone(),
                status: 0,
                user_agent: head.header("User-Agent").unwrap_or("").to_owned(),
            },
        );
        let _ = stream.write_all(raw).and_then(|()| stream.flush());
        return;
    }
    let authorized = head.header("Authorization") == Some(&format!("Bot {}", config.token));
    let (status, body) = if let Some(channel) =
        super::rest::create_message_channel(&head.path).filter(|_| head.method == "POST")
    {
        match super::rest::read_body(stream, head) {
            Ok(body) => super::rest::create_message(inner, authorized, channel, &body),
            Err(failed) => failed,
        }
    } else if head.method != "GET" {
        (404, r#"{"message":"404: Not Found","code":0}"#.to_owned())
    } else if head.path == "/api/v10/gateway" {
        (200, format!(r#"{{"url":"{}"}}"#, inner.gateway_url()))
    } else if head.path == "/api/v10/gateway/bot" {
        if !authorized {
            (
                401,
                r#"{"message":"401: Unauthorized","code":0}"#.to_owned(),
            )
        } else {
            let n = inner.http_requests.fetch_add(1, Ordering::AcqRel);
            if n < config.gateway_bot_429s {
                (
                    429,
                    r#"{"message":"You are being rate limited.","retry_after":0.05,"global":false}"#
                        .to_owned(),
                )
            } else if n - config.gateway_bot_429s < config.gateway_bot_5xx {
                (502, r#"{"message":"502: Bad Gateway","code":0}"#.to_owned())
            } else {
                let (total, remaining, reset_after) = inner.limits.lock().limit(Instant::now());
                let mut body = format!(
                    r#"{{"url":"{}","shards":{},"session_start_limit":{{"total":{total},"remaining":{remaining},"reset_after":{},"max_concurrency":{}}}}}"#,
                    inner.gateway_url(),
                    inner.recommended_shards(),
                    reset_after.as_millis(),
                    config.max_concurrency
                );
                let padding = config.gateway_bot_body_size.saturating_sub(body.len());
                body.extend(std::iter::repeat_n(' ', padding));
                (200, body)
            }
        }
    } else {
        (404, r#"{"message":"404: Not Found","code":0}"#.to_owned())
    };
    inner.record(
        0,
        RecordKind::Http {
            path: head.path.clone(),
            status,
            user_agent: head.header("User-Agent").unwrap_or("").to_owned(),
        },
    );
    let _ = respond(stream, status, &body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_path_matches_with_or_without_a_trailing_slash() {
        assert!(is_resume_path("/resume"));
        assert!(is_resume_path("/resume/"));
        assert!(!is_resume_path("/"));
        assert!(!is_resume_path("/resumes"));
        assert!(!is_resume_path("/api/resume"));
    }
}
