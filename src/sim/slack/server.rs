//! The Slack simulator's accept path (HTTP API or websocket upgrade, then the connection's
//! protocol) and the schedule thread that carries out due jobs.

use super::conn::{Phase, SlackConn};
use super::frame::opcode;
use super::record::{ConnId, ConnKind, SlackRecordKind};
use super::schedule::Job;
use super::state::Inner;
use crate::sim::http::{accept_upgrade, query_param, read_head, respond_with};
use std::io::{BufReader, Cursor, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn run_schedule(inner: &Arc<Inner>) {
    while let Some(job) = inner.schedule.next_due() {
        if inner.is_stopping() {
            return;
        }
        fire(inner, job);
    }
}

/// Serves one accepted TCP connection: an API call or a websocket.
pub(crate) fn serve(inner: &Arc<Inner>, mut tcp: TcpStream, id: u64) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_nodelay(true);
    let Ok(head) = read_head(&mut tcp) else {
        return;
    };
    if inner.is_stopping() {
        return;
    }
    if head.path.starts_with("/api/") {
        super::api::serve_api(inner, &mut tcp, &head);
        return;
    }
    let path = head.path.trim_end_matches('/');
    let kind = match path {
        "/link" => ConnKind::SocketMode,
        "/rtm" => ConnKind::Rtm,
        _ => {
            let _ = respond_with(&mut tcp, 404, r#"{"ok":false,"error":"not_found"}"#, &[]);
            return;
        }
    };
    // Single-use tickets; RTM URLs also expire ("Legacy RTM API": valid 30 s).
    let ticket = query_param(&head.query, "ticket").unwrap_or("");
    let expired = {
        let mut tickets = inner.tickets.lock();
        match tickets.get_mut(ticket) {
            Some(t) if !t.used && t.kind == kind => {
                t.used = true;
                kind == ConnKind::Rtm && t.issued.elapsed() > inner.config.rtm_url_ttl
            }
            _ => {
                drop(tickets);
                inner.record(None, SlackRecordKind::UpgradeRefused { status: 401 });
                let _ = respond_with(
                    &mut tcp,
                    401,
                    r#"{"ok":false,"error":"invalid_ticket"}"#,
                    &[],
                );
                return;
            }
        }
    };
    if accept_upgrade(&mut tcp, &head).is_err() {
        return;
    }
    let _ = tcp.set_read_timeout(None);
    let Ok(conn) = SlackConn::new(ConnId(id), kind, &tcp) else {
        return;
    };
    let conn = Arc::new(conn);
    let counted_before = {
        let mut conns = inner.conns.lock();
        let counted = Inner::counted_socket_mode(&conns, Instant::now());
        conns.push(conn.clone());
        counted
    };
    inner.record(Some(conn.id), SlackRecordKind::Opened { kind });
    let mut reader = BufReader::with_capacity(16 * 1024, Cursor::new(head.rest.clone()).chain(tcp));
    match kind {
        ConnKind::SocketMode => {
            let debug_reconnects = query_param(&head.query, "debug_reconnects") == Some("true");
            super::socket_mode::serve(inner, &conn, &mut reader, counted_before, debug_reconnects);
        }
        ConnKind::Rtm => super::rtm::serve(inner, &conn, &mut reader, expired),
    }
}

/// Carries out one due job.
fn fire(inner: &Inner, job: Job) {
    match job {
        Job::Ping(id) => {
            let Some(conn) = inner.conn(id) else { return };
            if conn.phase() != Phase::Open {
                return;
            }
            if inner.send_pings.load(Ordering::Acquire)
                && conn.send_frame(opcode::PING, format!("Ping from {}", conn.host).as_bytes())
            {
                inner.record(Some(id), SlackRecordKind::PingSent);
            }
            inner
                .schedule
                .at(Instant::now() + inner.config.ping_interval, Job::Ping(id));
        }
        Job::AckDeadline(envelope_id) => super::delivery::ack_deadline(inner, &envelope_id),
        Job::Retry(event) => super::delivery::retry(inner, *event),
        Job::Duplicate(envelope_id) => {
            super::delivery::send_copy(inner, &envelope_id);
        }
        Job::Close(id, code, reason) => {
            if let Some(conn) = inner.conn(id) {
                inner.close(&conn, code, reason);
            }
        }
        Job::CloseTimeout(id) => {
            if let Some(conn) = inner.conn(id) {
                if conn.phase() == Phase::ServerClosing {
                    conn.shutdown();
                }
            }
        }
    }
}
