//! A faithful Discord gateway simulator (feature `sim`): a real websocket and HTTP server on
//! 127.0.0.1 that behaves like Discord's gateway as its developer documentation describes it
//! (API v10), for tests and examples that run without Discord.
//!
//! ```
//! use std::time::Duration;
//! use syncord::sim::{SimConfig, Simulator};
//! use syncord::{Event, Intents, Shard};
//!
//! let sim = Simulator::start(SimConfig::default()).unwrap();
//! // A DM (no `guild_id`) comes under DIRECT_MESSAGES; the simulator applies intents as Discord does.
//! let shard = Shard::with_config(sim.client_config(Intents::DIRECT_MESSAGES).build()?);
//! let handle = shard.handle();
//! let pusher = std::thread::spawn(move || {
//!     sim.wait_for_session(Duration::from_secs(10)).expect("client identified");
//!     sim.push("MESSAGE_CREATE", r#"{"content":"hello"}"#);
//!     sim
//! });
//! shard
//!     .run(|event| {
//!         if let Event::Dispatch(d) = event {
//!             if d.event_type() == "MESSAGE_CREATE" {
//!                 handle.shutdown();
//!             }
//!         }
//!     })
//!     .unwrap();
//! pusher.join().unwrap();
//! # Ok::<(), syncord::Error>(())
//! ```
//!
//! Besides Discord's close codes it keeps Discord's session rules: a connection
//! that misses its heartbeat window is closed with 4009 ([`SimConfig::heartbeat_grace`]),
//! a session outlives its connection for [`SimConfig::resume_window`], a client that stays
//! after op 7 is closed ([`SimConfig::reconnect_close_delay`]), a connection is no longer
//! authenticated after op 9, and every close gets the websocket closing handshake. What it
//! sends is shaped like Discord's payloads; [`payload`] builds more of them for
//! [`Simulator::push`].

mod accept;
mod config;
mod conn;
#[doc(hidden)]
pub mod deflate;
mod fault;
mod gateway;
mod http;
mod intents;
mod limits;
pub mod payload;
mod record;
mod rest;
mod server;
pub mod slack;
mod state;
mod timer;

pub use config::SimConfig;
pub use fault::ConnectionFault;
pub use limits::{AcceptedIdentify, IdentifyViolation};
pub use record::{Record, RecordKind};

use crate::{ConfigBuilder, Intents};
use accept::Server;
use conn::SimConn;
use state::Inner;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running simulator. Dropping it stops the server and every connection.
pub struct Simulator {
    /// The state, with the threads serving it (stopped and joined on drop).
    inner: Server<Inner>,
    /// The identify queue [`Simulator::client_config`] gives every client: this
    /// simulator's buckets and window.
    identify_queue: Arc<crate::cluster::LocalQueue>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token it accepts is a secret like any other: not printed.
        f.debug_struct("Simulator")
            .field("gateway_url", &self.gateway_url())
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts a simulator on an ephemeral port of 127.0.0.1.
    pub fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let identify_queue = Arc::new(
            crate::cluster::LocalQueue::new(config.max_concurrency).window(config.identify_window),
        );
        let inner = Server::start(
            "syncord-sim",
            |accept| {
                let tls = if config.tls {
                    Some(state::SimTls::generate()?)
                } else {
                    None
                };
                Ok(Inner::new(config, accept, tls))
            },
            server::serve,
            timer::run,
        )?;
        Ok(Simulator {
            inner,
            identify_queue,
        })
    }

    /// The identify URL (`ws://127.0.0.1:<port>`, or `wss://localhost:<port>` with TLS),
    /// what `GET /gateway/bot` answers.
    pub fn gateway_url(&self) -> String {
        self.inner.gateway_url()
    }

    /// The `resume_gateway_url` sent in READY: the same server, on the path `/resume`.
    pub fn resume_url(&self) -> String {
        format!("{}/resume", self.inner.gateway_url())
    }

    /// The REST base URL (`http://127.0.0.1:<port>/api/v10`, or `https://localhost:…`).
    pub fn api_base(&self) -> String {
        match self.inner.tls {
            Some(_) => format!("https://localhost:{}/api/v10", self.inner.port),
            None => format!("http://127.0.0.1:{}/api/v10", self.inner.port),
        }
    }

    /// The PEM certificate the simulator serves when TLS is on: trust it with
    /// `native_tls::TlsConnector::builder().add_root_certificate(..)`.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.inner
            .tls
            .as_ref()
            .map(|tls| tls.certificate_pem.as_str())
    }

    /// The token the simulator accepts.
    pub fn token(&self) -> &str {
        &self.inner.config.token
    }

    /// A client config pointed at this simulator (REST discovery through its HTTP endpoint)
    /// with its token and the given intents, trusting its certificate when it serves TLS,
    /// and with an identify queue shared by every config of this simulator that spaces
    /// Identify payloads by its [window](SimConfig::identify_window) and buckets; adjust
    /// further before `build()`.
    ///
    /// The environment variable `SYNCORD_SIM_COMPRESSION` (`none`, `zlib-stream`,
    /// `zstd-stream`) picks the compression, so a whole test suite can be run in each mode.
    pub fn client_config(&self, intents: Intents) -> ConfigBuilder {
        let mut builder = crate::Config::builder(self.token(), intents)
            .api_base(self.api_base())
            .identify_queue(self.identify_queue.clone());
        if let Some(mode) = std::env::var("SYNCORD_SIM_COMPRESSION")
            .ok()
            .and_then(|name| crate::Compression::from_name(&name))
        {
            builder = builder.compression(mode);
        }
        match self.certificate_pem().map(trusting_connector) {
            Some(Ok(connector)) => builder.tls_connector(connector),
            _ => builder,
        }
    }

    /// Makes the next `count` connections misbehave with `fault`.
    pub fn fault_next(&self, fault: ConnectionFault, count: usize) {
        let mut faults = self.inner.faults.lock();
        for _ in 0..count {
            faults.push_back(fault);
        }
    }

    /// Stops or resumes answering heartbeats with ACKs (on every connection).
    pub fn set_acks(&self, enabled: bool) {
        self.inner.acks.store(enabled, Ordering::Release);
    }

    /// Holds every heartbeat ACK back by `delay` (0 to answer at once), as a slow network
    /// would: what a client measures as its latency.
    pub fn set_ack_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.inner.ack_delay_us.store(micros, Ordering::Release);
    }

    /// Waits until the current session has a live connection (READY or RESUMED sent) and
    /// returns its session id.
    pub fn wait_for_session(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut sessions = self.inner.sessions.lock();
        loop {
            if let Some(id) = sessions.current_live() {
                return Some(id);
            }
            if self
                .inner
                .sessions_changed
                .wait_until(&mut sessions, deadline)
                .timed_out()
            {
                return sessions.current_live();
            }
        }
    }

    /// Sends a dispatch to the current session and returns its sequence number. If the
    /// session has no live connection the event is buffered and replayed on resume, like
    /// Discord does. Returns `None` if there is no session.
    ///
    /// As Discord does, the session's intents apply (Discord: Gateway → Gateway Intents): a
    /// dispatch tied to an intent the session did not identify with is not sent (`None`,
    /// nothing numbered); MESSAGE_CREATE/MESSAGE_UPDATE without `MESSAGE_CONTENT` arrive
    /// with `content`, `embeds`, `attachments` and `components` empty and no `poll`, except
    /// in DMs (no `guild_id`), messages that mention the bot ([`payload::BOT_USER_ID`]) and the bot's
    /// own messages. Messages and reactions with a `guild_id` need the guild intent, without
    /// one the DM intent. [`SimConfig::enforce_intents`] turns this off.
    pub fn push(&self, event_type: &str, data_json: &str) -> Option<u64> {
        self.inner.push(event_type, data_json)
    }

    /// Sends a dispatch to the newest session of shard `shard_id` (whatever its count) and
    /// returns its sequence number; `None` if that shard has no session. Buffered for a
    /// resume if the session has no live connection, like [`Simulator::push`].
    pub fn push_to_shard(&self, shard_id: u64, event_type: &str, data_json: &str) -> Option<u64> {
        self.inner
            .push_where(|[id, _]| id == shard_id, event_type, data_json)
            .map(|(_, seq)| seq)
    }

    /// Sends a guild's dispatch where Discord would: to the newest session of the shard that
    /// owns `guild_id` (`(guild_id >> 22) % count`: Gateway → Sharding → Sharding Formula in
    /// Discord's documentation). Returns that shard's
    /// id and the sequence number, or `None` if no session owns the guild.
    pub fn push_to_guild(
        &self,
        guild_id: u64,
        event_type: &str,
        data_json: &str,
    ) -> Option<(u64, u64)> {
        self.inner.push_where(
            |[id, count]| (guild_id >> 22) % count.max(1) == id,
            event_type,
            data_json,
        )
    }

    /// Waits until at least `count` sessions have a live connection (READY or RESUMED
    /// sent); false after `timeout`.
    pub fn wait_for_live_sessions(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut sessions = self.inner.sessions.lock();
        while sessions.live_count() < count {
            if self
                .inner
                .sessions_changed
                .wait_until(&mut sessions, deadline)
                .timed_out()
            {
                return sessions.live_count() >= count;
            }
        }
        true
    }

    /// The `shard` of every session with a live connection, sorted.
    pub fn live_shards(&self) -> Vec<[u64; 2]> {
        let sessions = self.inner.sessions.lock();
        let mut shards: Vec<[u64; 2]> = sessions
            .map
            .values()
            .filter(|s| s.conn().is_some())
            .map(|s| s.shard)
            .collect();
        shards.sort_unstable();
        shards
    }

    /// Sends op 9 on the live connection of shard `shard_id`'s newest session (see
    /// [`Simulator::invalidate_session`]); false if it has none.
    pub fn invalidate_shard(&self, shard_id: u64, resumable: bool) -> bool {
        let conn = {
            let sessions = self.inner.sessions.lock();
            sessions
                .newest_where(|[id, _]| id == shard_id)
                .and_then(|id| sessions.map.get(&id)?.conn().cloned())
        };
        conn.is_some_and(|conn| self.inner.invalidate(&conn, resumable))
    }

    /// Closes the live connection of shard `shard_id`'s newest session with `code` (see
    /// [`Simulator::close`]); false if it has none.
    pub fn close_shard(&self, shard_id: u64, code: u16) -> bool {
        let conn = {
            let sessions = self.inner.sessions.lock();
            sessions
                .newest_where(|[id, _]| id == shard_id)
                .and_then(|id| sessions.map.get(&id)?.conn().cloned())
        };
        conn.is_some_and(|conn| {
            self.inner
                .close_conn(&conn, code, "closed by the simulator")
        })
    }

    /// Every Identify that came in a bucket used less than the identify window before
    /// ([`SimConfig::identify_window`]), in order.
    pub fn identify_violations(&self) -> Vec<IdentifyViolation> {
        self.inner.limits.lock().violations.clone()
    }

    /// Every Identify that started a session, in order.
    pub fn accepted_identifies(&self) -> Vec<AcceptedIdentify> {
        self.inner.limits.lock().accepted.clone()
    }

    /// Session starts left before the limit resets ([`SimConfig::session_start_limit`]).
    pub fn session_starts_remaining(&self) -> u64 {
        self.inner.limits.lock().limit(Instant::now()).1
    }

    /// The bot is now in `count` guilds: later Identifies see them (a shard over
    /// [`SimConfig::max_guilds_per_shard`] gets 4011), and `GET /gateway/bot` recommends
    /// enough shards for them.
    pub fn set_guilds(&self, count: u32) {
        self.inner.guilds.store(count, Ordering::Release);
    }

    /// The shard count `GET /gateway/bot` recommends from now on (raised if the guilds
    /// need more).
    pub fn set_shards(&self, count: u64) {
        self.inner.shards.store(count.max(1), Ordering::Release);
    }

    /// `GET /gateway/bot` requests answered so far (any status).
    pub fn gateway_bot_requests(&self) -> usize {
        self.inner
            .records
            .lock()
            .iter()
            .filter(|r| matches!(&r.kind, RecordKind::Http { path, .. } if path.ends_with("/gateway/bot")))
            .count()
    }

    /// Sends op 7 Reconnect on the current connection. If the client has not closed it
    /// after [`SimConfig::reconnect_close_delay`], the simulator closes it with 4000.
    pub fn reconnect(&self) -> bool {
        let delay = self.inner.config.reconnect_close_delay;
        self.on_current(|conn| {
            let sent = conn.send_text(r#"{"op":7,"d":null,"s":null,"t":null}"#);
            if sent {
                conn.arm(|d| d.reconnect = Instant::now().checked_add(delay));
            }
            sent
        })
    }

    /// Sends op 9 Invalid Session on the current connection. With `resumable: false` the
    /// session is destroyed first. Either way the connection is no longer authenticated
    /// (an Identify, or a Resume after `true`, is accepted on it) and receives no more
    /// dispatches: pushes are kept for a Resume.
    pub fn invalidate_session(&self, resumable: bool) -> bool {
        match self.inner.current_conn() {
            Some(conn) => self.inner.invalidate(&conn, resumable),
            None => {
                if !resumable {
                    self.inner.destroy_current_session();
                }
                false
            }
        }
    }

    /// Sends op 1, asking the client for an immediate heartbeat.
    pub fn request_heartbeat(&self) -> bool {
        self.on_current(|conn| conn.send_text(r#"{"op":1,"d":null,"s":null,"t":null}"#))
    }

    /// Closes the current connection with `code`, completing the closing handshake: the
    /// client's echo is recorded as [`RecordKind::CloseEchoed`] and does not end the session
    /// whatever its code. The session is kept, unless [`SimConfig::end_session_on_close`] is
    /// on and `code` is one after which Discord would not resume. Returns at once.
    pub fn close(&self, code: u16) -> bool {
        self.on_current(|conn| self.inner.close_conn(conn, code, "closed by the simulator"))
    }

    /// Drops the current TCP connection without a close frame.
    pub fn drop_connection(&self) -> bool {
        self.on_current(|conn| {
            conn.conn.shutdown();
            true
        })
    }

    /// Writes raw bytes on the current connection, below the websocket layer: a frame
    /// built by hand (a text frame that is not UTF-8, a reserved opcode…).
    pub fn send_raw_frame(&self, bytes: &[u8]) -> bool {
        self.on_current(|conn| conn.write_raw(bytes).is_ok())
    }

    /// Drops the current TCP connection in the middle of a websocket frame.
    pub fn drop_mid_frame(&self) -> bool {
        self.on_current(|conn| {
            // A text frame header announcing 100 bytes, followed by only 10 of them.
            let mut bytes = vec![0x81, 100];
            bytes.extend_from_slice(br#"{"op":0,"s"#);
            conn.write_raw_and_drop(&bytes);
            true
        })
    }

    /// Sends arbitrary text as one payload on the current connection, compressed like every
    /// other payload on it (malformed payloads, unknown opcodes: hostile input).
    pub fn send_text(&self, text: &str) -> bool {
        self.on_current(|conn| conn.send_text(text))
    }

    /// Sends arbitrary bytes as one websocket binary message on the current connection,
    /// bypassing its compression (corrupt streams, stray binary frames).
    pub fn send_binary(&self, bytes: &[u8]) -> bool {
        self.on_current(|conn| conn.send_raw_binary(bytes))
    }

    fn on_current(&self, f: impl FnOnce(&SimConn) -> bool) -> bool {
        match self.inner.current_conn() {
            Some(conn) => f(&conn),
            None => false,
        }
    }

    /// Everything recorded so far.
    pub fn records(&self) -> Vec<Record> {
        self.inner.records.lock().clone()
    }

    /// Payloads received with opcode `op`, in order.
    pub fn received(&self, op: u8) -> Vec<Record> {
        self.inner
            .records
            .lock()
            .iter()
            .filter(|r| r.op() == Some(op))
            .cloned()
            .collect()
    }

    /// Waits until a record matching `predicate` exists (looking at every record so far)
    /// and returns the first one, or `None` after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut predicate: impl FnMut(&Record) -> bool,
    ) -> Option<Record> {
        self.wait_for_nth(timeout, 1, &mut predicate)
    }

    /// Waits until `n` records match `predicate` and returns the `n`th.
    pub fn wait_for_nth(
        &self,
        timeout: Duration,
        n: usize,
        mut predicate: impl FnMut(&Record) -> bool,
    ) -> Option<Record> {
        let deadline = Instant::now() + timeout;
        let mut records = self.inner.records.lock();
        let mut seen = 0;
        let mut matched = 0;
        loop {
            for record in &records[seen..] {
                if predicate(record) {
                    matched += 1;
                    if matched == n {
                        return Some(record.clone());
                    }
                }
            }
            seen = records.len();
            if self
                .inner
                .records_changed
                .wait_until(&mut records, deadline)
                .timed_out()
                && records.len() == seen
            {
                return None;
            }
        }
    }

    /// The `User-Agent` header of every websocket upgrade so far, as `(connection, value)`
    /// in accept order (`None` when the request had none); the connection numbers are
    /// those of [`Record::connection`].
    pub fn user_agents(&self) -> Vec<(u64, Option<String>)> {
        self.inner.user_agents.lock().clone()
    }

    /// Number of connections accepted so far (websocket and HTTP).
    pub fn connections(&self) -> u64 {
        self.inner.accept.accepted()
    }
}

/// A TLS connector that trusts `certificate_pem` (on top of the platform's roots).
fn trusting_connector(
    certificate_pem: &str,
) -> Result<native_tls::TlsConnector, native_tls::Error> {
    let certificate = native_tls::Certificate::from_pem(certificate_pem.as_bytes())?;
    native_tls::TlsConnector::builder()
        .add_root_certificate(certificate)
        .build()
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_shows_where_it_listens_but_not_the_token() {
        let sim = Simulator::start(SimConfig::default().token("Sim.Secret.Token")).unwrap();
        let text = format!("{sim:?}");
        assert!(text.contains(&sim.gateway_url()), "{text}");
        assert!(!text.contains("Sim.Secret.Token"), "{text}");
    }
}
