//! A Slack simulator (feature `sim`): `apps.connections.open` and `rtm.connect` over HTTP
//! and their websockets on 127.0.0.1, behaving as SLACK.md (the project's wire reference)
//! describes Slack: Socket Mode `hello`, envelopes routed to any open connection, acks with
//! their size limit, Slack's retries of unacknowledged `events_api` envelopes, every
//! `disconnect` reason, server pings, the limit of 10 connections with ghosts counted, and
//! legacy RTM with its ping ids, message replies and limits.
//!
//! ```
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use syncord::sim::slack::{payload, SlackSim, SlackSimConfig};
//!
//! let sim = SlackSim::start(SlackSimConfig::default()).unwrap();
//! // Any HTTP client: `POST {api_base}/apps.connections.open` with the app token.
//! let url = sim.api_base() + "/apps.connections.open";
//! assert!(url.starts_with("http://127.0.0.1:"));
//! // Nothing connected yet: a first delivery is lost and comes back as Slack's retries.
//! let pushed = sim.push_events_api(&payload::message_event("C0SIM", "U0SIMUSER", "hi"));
//! assert!(pushed.event_id.starts_with("Ev"));
//! assert!(sim.deliveries()[0].lost);
//! ```
//!
//! Where Slack's behaviour is not documented (SLACK.md §8) the simulator makes a choice,
//! said on the knob or method concerned: `apps.connections.open` answers
//! [`SOCKET_MODE_DISABLED_ERROR`] while Socket Mode is off; every close the simulator
//! starts uses code 1000, except 1009 for an oversized frame; `too_many_websockets` comes
//! before any `hello`; a connection whose TCP ends without a closing handshake becomes a
//! ghost, whichever side cut it.

mod api;
mod config;
mod conn;
mod delivery;
mod frame;
mod frame_loop;
pub mod payload;
mod record;
mod rtm;
mod schedule;
mod server;
mod socket_mode;
mod state;

pub use config::SlackSimConfig;
pub use record::{
    Ack, ConnId, ConnInfo, ConnKind, Delivery, RtmMessage, SlackRecord, SlackRecordKind,
};
pub use socket_mode::SOCKET_MODE_DISABLED_ERROR;

use crate::sim::accept::Server;
use delivery::Target;
use state::{Inner, OpenScript};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What [`SlackSim::push_events_api`] sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pushed {
    /// The first delivery's envelope id (retries get new ones unless
    /// [`SlackSimConfig::keep_envelope_id_on_retry`]).
    pub envelope_id: String,
    /// `payload.event_id`, the same on every retry.
    pub event_id: String,
}

/// A running Slack simulator. Dropping it stops the server, its timer and every
/// connection.
pub struct SlackSim {
    /// The state, with the threads serving it (stopped and joined on drop).
    inner: Server<Inner>,
}

impl std::fmt::Debug for SlackSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens and ticket URLs are secrets: not printed.
        f.debug_struct("SlackSim")
            .field("api_base", &self.api_base())
            .field("connections", &self.inner.conns.lock().len())
            .finish_non_exhaustive()
    }
}

impl SlackSim {
    /// Starts a simulator on an ephemeral port of 127.0.0.1.
    pub fn start(config: SlackSimConfig) -> std::io::Result<SlackSim> {
        let inner = Server::start(
            "syncord-slacksim",
            |accept| Ok(Inner::new(config, accept)),
            server::serve,
            server::run_schedule,
        )?;
        Ok(SlackSim { inner })
    }

    /// The Web API base, `http://127.0.0.1:<port>/api` (methods are `{api_base}/<method>`).
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.inner.port)
    }

    /// The app-level token `apps.connections.open` accepts.
    pub fn app_token(&self) -> &str {
        &self.inner.config.app_token
    }

    /// The bot token `rtm.connect` accepts.
    pub fn bot_token(&self) -> &str {
        &self.inner.config.bot_token
    }

    /// The next authenticated `apps.connections.open` answers `{"ok":false,"error":error}`.
    pub fn fail_next_open(&self, error: &str) {
        self.inner
            .open_script
            .lock()
            .push_back(OpenScript::Fail(error.to_owned()));
    }

    /// The next authenticated `apps.connections.open` answers HTTP 429 with `Retry-After`
    /// (whole seconds, rounded up) and `{"ok":false,"error":"ratelimited"}`.
    pub fn rate_limit_next_open(&self, retry_after: Duration) {
        self.inner
            .open_script
            .lock()
            .push_back(OpenScript::RateLimit(retry_after));
    }

    /// `apps.connections.open` calls so far, whatever their answer.
    pub fn open_requests(&self) -> usize {
        self.inner.open_requests.load(Ordering::Acquire)
    }

    /// Socket Mode on or off in the app's settings. Off: every open Socket Mode connection
    /// gets `disconnect` `link_disabled` and is closed, and `apps.connections.open`
    /// answers [`SOCKET_MODE_DISABLED_ERROR`] (Slack's error is not known: SLACK.md §8).
    pub fn set_socket_mode_enabled(&self, enabled: bool) {
        self.inner
            .socket_mode_enabled
            .store(enabled, Ordering::Release);
        if !enabled {
            for conn in self.socket_mode_conns() {
                if conn.phase() == conn::Phase::Open {
                    socket_mode::disconnect(&self.inner, &conn, "link_disabled");
                }
            }
        }
    }

    fn socket_mode_conns(&self) -> Vec<Arc<conn::SlackConn>> {
        self.inner
            .conns
            .lock()
            .iter()
            .filter(|c| c.kind == ConnKind::SocketMode)
            .cloned()
            .collect()
    }

    /// Whether client pings are answered with pongs. Defaults to true.
    pub fn set_answer_pings(&self, answer: bool) {
        self.inner.answer_pings.store(answer, Ordering::Release);
    }

    /// Whether the simulator sends its pings (`Ping from <host>`, every
    /// [`SlackSimConfig::ping_interval`]). Defaults to true.
    pub fn set_send_pings(&self, send: bool) {
        self.inner.send_pings.store(send, Ordering::Release);
    }

    /// Stops all output on `conn` (pings, pongs, envelopes, close frames) without closing
    /// it: a half-open connection as the client sees it. It still reads and records; it
    /// takes no more deliveries routed to "any" connection. False if there is no such
    /// connection.
    pub fn go_silent(&self, conn: ConnId) -> bool {
        self.inner.conn(conn).map(|c| c.go_silent()).is_some()
    }

    /// Pushes an `events_api` envelope whose `payload` is the `event_callback` around
    /// `event_json`, to a connection Slack would pick (round-robin over open connections
    /// past `hello`, and ghosts when [`SlackSimConfig::route_to_ghosts`]). Unacked, it is
    /// retried per [`SlackSimConfig::retry_schedule`].
    pub fn push_events_api(&self, event_json: &str) -> Pushed {
        self.push_event(event_json, Target::Any)
    }

    /// [`SlackSim::push_events_api`] to `conn` (retries go to any connection).
    pub fn push_events_api_to(&self, conn: ConnId, event_json: &str) -> Pushed {
        self.push_event(event_json, Target::Conn(conn))
    }

    fn push_event(&self, event_json: &str, target: Target) -> Pushed {
        let (envelope_id, event_id) = delivery::push_event(&self.inner, event_json, target);
        Pushed {
            envelope_id,
            event_id,
        }
    }

    /// Pushes an envelope of type `kind` (`interactive`, `slash_commands`, anything) with
    /// `payload_json` as its payload; returns its envelope id. Never retried: a missed ack
    /// or a lost delivery is final (SLACK.md §2.4).
    pub fn push_envelope(
        &self,
        kind: &str,
        payload_json: &str,
        accepts_response_payload: bool,
    ) -> String {
        self.push_envelope_at(kind, payload_json, accepts_response_payload, Target::Any)
    }

    /// [`SlackSim::push_envelope`] to `conn`.
    pub fn push_envelope_to(
        &self,
        conn: ConnId,
        kind: &str,
        payload_json: &str,
        accepts_response_payload: bool,
    ) -> String {
        self.push_envelope_at(
            kind,
            payload_json,
            accepts_response_payload,
            Target::Conn(conn),
        )
    }

    fn push_envelope_at(
        &self,
        kind: &str,
        payload_json: &str,
        accepts_response_payload: bool,
        target: Target,
    ) -> String {
        delivery::push_envelope(
            &self.inner,
            kind,
            payload_json,
            accepts_response_payload,
            target,
        )
    }

    /// The next `n` `events_api` first deliveries are each sent a second time,
    /// [`SlackSimConfig::duplicate_delay`] later, with the same envelope id and
    /// `retry_attempt` 0 (at-least-once: SLACK.md §5).
    pub fn duplicate_next(&self, n: usize) {
        delivery::duplicate_next(&self.inner, n);
    }

    /// Sends the envelope `envelope_id` again now, to any connection, with the same
    /// envelope id (and `retry_attempt` 0 for `events_api`). False if it was never sent.
    pub fn redeliver(&self, envelope_id: &str) -> bool {
        delivery::send_copy(&self.inner, envelope_id)
    }

    /// Sends `disconnect` with `reason` on `conn`; then closes it:
    /// [`SlackSimConfig::warning_close_after`] later for `warning`, at once for
    /// `too_many_websockets` and `link_disabled`, and
    /// [`SlackSimConfig::refresh_close_after`] later for `refresh_requested` and any other
    /// string, unless the client closed first. False if `conn` is not open.
    pub fn disconnect(&self, conn: ConnId, reason: &str) -> bool {
        self.inner
            .conn(conn)
            .is_some_and(|c| socket_mode::disconnect(&self.inner, &c, reason))
    }

    /// Drops `conn`'s TCP without a close frame. Slack's side keeps it as a ghost (a cut
    /// network looks the same from both ends).
    pub fn drop_tcp(&self, conn: ConnId) -> bool {
        self.inner.conn(conn).map(|c| c.shutdown()).is_some()
    }

    /// Pushes an `events_api` `message` event to `conn` but writes only the first half of
    /// its frame, then drops TCP. The delivery is lost, so it is retried like a missed ack.
    /// `None` if there is no such connection.
    pub fn drop_mid_frame(&self, conn: ConnId) -> Option<Pushed> {
        self.inner.conn(conn)?;
        let event_json = payload::message_event(payload::CHANNEL_ID, payload::USER_ID, "cut");
        let event_id = {
            let mut deliveries = self.inner.deliveries.lock();
            deliveries.next_event_id()
        };
        let event = schedule::PendingEvent {
            payload: delivery::event_callback(&event_json, &event_id),
            event_id: event_id.clone(),
            attempt: 0,
            envelope_id: payload::new_uuid(),
        };
        let envelope_id = event.envelope_id.clone();
        delivery::deliver_event(&self.inner, event, Target::Conn(conn), true);
        Some(Pushed {
            envelope_id,
            event_id,
        })
    }

    /// Every websocket connection accepted so far, in accept order.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let now = Instant::now();
        self.inner
            .conns
            .lock()
            .iter()
            .map(|c| {
                let state = c.state.lock();
                ConnInfo {
                    id: c.id,
                    kind: c.kind,
                    open: state.phase == conn::Phase::Open,
                    ghost: state.ghost_until.is_some_and(|t| t > now),
                    silent: c.is_silent(),
                    opened_at: c.opened_at,
                    hello_sent: state.hello_sent,
                }
            })
            .collect()
    }

    /// Waits until at least `n` connections (Socket Mode or RTM) are open with `hello`
    /// sent; false after `timeout`.
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        self.inner.wait_until(timeout, || {
            self.connections()
                .iter()
                .filter(|c| c.open && c.hello_sent)
                .count()
                >= n
        })
    }

    /// Waits until exactly `n` connections are open with `hello` sent; false after
    /// `timeout`. A connection the client closed or dropped counts as open until the
    /// simulator's side of it has seen the end, a moment later.
    pub fn wait_for_exactly(&self, n: usize, timeout: Duration) -> bool {
        self.inner
            .wait_until(timeout, || self.open_connections().len() == n)
    }

    /// The open connections with `hello` sent, in accept order.
    pub fn open_connections(&self) -> Vec<ConnId> {
        self.connections()
            .into_iter()
            .filter(|c| c.open && c.hello_sent)
            .map(|c| c.id)
            .collect()
    }

    /// Every ack received, in order.
    pub fn acks(&self) -> Vec<Ack> {
        self.inner.book.lock().acks.clone()
    }

    /// Waits until at least `n` acks have been received; false after `timeout`.
    pub fn wait_for_acks(&self, n: usize, timeout: Duration) -> bool {
        self.inner
            .wait_until(timeout, || self.inner.book.lock().acks.len() >= n)
    }

    /// Every envelope routed so far (first deliveries, retries, duplicates), in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.book.lock().deliveries.clone()
    }

    /// Waits until at least `n` deliveries match `predicate`; false after `timeout`.
    pub fn wait_for_deliveries(
        &self,
        n: usize,
        timeout: Duration,
        mut predicate: impl FnMut(&Delivery) -> bool,
    ) -> bool {
        self.inner.wait_until(timeout, || {
            self.inner
                .book
                .lock()
                .deliveries
                .iter()
                .filter(|d| predicate(d))
                .count()
                >= n
        })
    }

    /// Everything recorded so far, in order.
    pub fn records(&self) -> Vec<SlackRecord> {
        self.inner.book.lock().records.clone()
    }

    /// Waits until a record matches `predicate` and returns the first that does; `None`
    /// after `timeout`.
    pub fn wait_for_record(
        &self,
        timeout: Duration,
        mut predicate: impl FnMut(&SlackRecord) -> bool,
    ) -> Option<SlackRecord> {
        let mut found = None;
        self.inner.wait_until(timeout, || {
            found = self
                .inner
                .book
                .lock()
                .records
                .iter()
                .find(|r| predicate(r))
                .cloned();
            found.is_some()
        });
        found
    }

    /// Every message received over RTM, in order.
    pub fn rtm_messages(&self) -> Vec<RtmMessage> {
        self.inner.book.lock().rtm_messages.clone()
    }

    /// Sends `event_json` as is on every open RTM connection; returns how many took it.
    pub fn rtm_push(&self, event_json: &str) -> usize {
        let conns: Vec<_> = self
            .inner
            .conns
            .lock()
            .iter()
            .filter(|c| c.kind == ConnKind::Rtm)
            .cloned()
            .collect();
        conns
            .iter()
            .filter(|c| c.state.lock().hello_sent && self.inner.send_text(c, event_json))
            .count()
    }

    /// Sends `{"type":"goodbye"}` on RTM connection `conn`, then closes it
    /// [`SlackSimConfig::goodbye_close_after`] later unless the client closed first.
    pub fn goodbye(&self, conn: ConnId) -> bool {
        self.inner
            .conn(conn)
            .is_some_and(|c| rtm::goodbye(&self.inner, &c))
    }
}
