//! The simulator's state, shared by the threads that serve connections, the timer and the
//! `Simulator` handle: sessions with their replay buffers, live connections, scripted faults
//! and records. The protocol modules act on it; it calls none of them.

use super::accept::{AcceptState, ShutDown};
use super::config::SimConfig;
use super::conn::{SimConn, Timer};
use super::fault::ConnectionFault;
use super::record::{Record, RecordKind};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One session as the simulator keeps it: sequence, replay buffer and live connection.
pub(crate) struct SimSession {
    /// The `shard` of the Identify that started it.
    pub shard: [u64; 2],
    /// Starts numbered in order, so "the newest session of a shard" is well defined.
    pub number: u64,
    pub seq: u64,
    pub buffer: VecDeque<(u64, String)>,
    conn: Option<Arc<SimConn>>,
    /// What the session identified with; `None` when intents are not enforced.
    pub intents: Option<crate::Intents>,
    /// Since when the session has had no connection (its resume window runs from then).
    detached_at: Option<Instant>,
}

impl SimSession {
    /// A new session, live on `conn`.
    pub fn new(conn: &Arc<SimConn>, shard: [u64; 2], number: u64) -> SimSession {
        SimSession {
            shard,
            number,
            seq: 0,
            buffer: VecDeque::new(),
            conn: Some(conn.clone()),
            intents: None,
            detached_at: None,
        }
    }

    /// The connection dispatches stream to, if any.
    pub fn conn(&self) -> Option<&Arc<SimConn>> {
        self.conn.as_ref()
    }

    /// Makes `conn` the session's live connection (Resume).
    pub fn attach(&mut self, conn: &Arc<SimConn>) {
        self.conn = Some(conn.clone());
        self.detached_at = None;
    }

    /// The session loses its connection; dispatches are buffered for a resume from now on.
    pub fn detach(&mut self) {
        if self.conn.take().is_some() || self.detached_at.is_none() {
            self.detached_at = Some(Instant::now());
        }
    }

    /// Whether the session has been without a connection for longer than `window`
    /// (it can no longer be resumed: "Disconnecting" in Discord's Gateway page).
    pub fn expired(&self, window: Duration, now: Instant) -> bool {
        self.conn.is_none()
            && self
                .detached_at
                .is_some_and(|at| now.saturating_duration_since(at) >= window)
    }
}

#[derive(Default)]
pub(crate) struct Sessions {
    pub map: HashMap<String, SimSession>,
    /// The session that `push` and the fault methods act on: the latest one established.
    pub current: Option<String>,
    pub next_id: u64,
}

impl Sessions {
    pub fn current_live(&self) -> Option<String> {
        let id = self.current.as_ref()?;
        self.map.get(id)?.conn.as_ref()?;
        Some(id.clone())
    }

    /// The newest session matching `wanted` (by its `shard`).
    pub fn newest_where(&self, wanted: impl Fn([u64; 2]) -> bool) -> Option<String> {
        self.map
            .iter()
            .filter(|(_, s)| wanted(s.shard))
            .max_by_key(|(_, s)| s.number)
            .map(|(id, _)| id.clone())
    }

    /// How many sessions have a live connection.
    pub fn live_count(&self) -> usize {
        self.map.values().filter(|s| s.conn.is_some()).count()
    }

    /// Detaches connection `id` from whatever session streams to it.
    pub fn detach_conn(&mut self, id: u64) {
        for session in self.map.values_mut() {
            if session.conn.as_ref().is_some_and(|c| c.id == id) {
                session.detach();
            }
        }
    }
}

/// The simulator's TLS identity (feature `sim`, `SimConfig::tls`).
pub(crate) struct SimTls {
    pub(super) acceptor: native_tls::TlsAcceptor,
    pub certificate_pem: String,
}

impl SimTls {
    /// A self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn generate() -> std::io::Result<SimTls> {
        let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .map_err(|e| other(&e))?;
        let certificate_pem = certified.cert.pem();
        let key_pem = certified.signing_key.serialize_pem();
        let identity =
            native_tls::Identity::from_pkcs8(certificate_pem.as_bytes(), key_pem.as_bytes())
                .map_err(|e| other(&e))?;
        let acceptor = native_tls::TlsAcceptor::new(identity).map_err(|e| other(&e))?;
        Ok(SimTls {
            acceptor,
            certificate_pem,
        })
    }
}

pub(crate) struct Inner {
    pub config: SimConfig,
    pub port: u16,
    pub tls: Option<SimTls>,
    /// The accept loop's port, stop flag and connection count.
    pub accept: Arc<AcceptState>,
    pub acks: AtomicBool,
    /// How long each heartbeat ACK is held back, in microseconds.
    pub ack_delay_us: AtomicU64,
    pub records: Mutex<Vec<Record>>,
    pub records_changed: Condvar,
    pub sessions: Mutex<Sessions>,
    pub sessions_changed: Condvar,
    pub(super) conns: Mutex<Vec<Arc<SimConn>>>,
    pub faults: Mutex<VecDeque<ConnectionFault>>,
    pub(super) http_requests: AtomicU32,
    /// When each guild last had an "all members" request (1 per guild per 30 s).
    pub all_member_requests: Mutex<HashMap<String, Instant>>,
    /// The `User-Agent` of each websocket upgrade, by connection.
    pub user_agents: Mutex<Vec<(u64, Option<String>)>>,
    pub timer: Arc<Timer>,
    /// Identify buckets, session starts, accepted identifies and violations.
    pub limits: Mutex<super::limits::IdentifyBook>,
    /// Guilds the bot is in now ([`super::Simulator::set_guilds`]).
    pub guilds: AtomicU32,
    /// The configured shard count now ([`super::Simulator::set_shards`]).
    pub shards: AtomicU64,
    /// Messages created through REST so far (their ids count from it).
    pub posted: AtomicU64,
    /// Channel id -> guild id, learned from the MESSAGE_CREATEs sent.
    pub channel_guilds: Mutex<HashMap<String, String>>,
}

impl ShutDown for Inner {
    fn shut_down(&self) {
        self.timer.notify();
        for conn in self.conns.lock().iter() {
            conn.conn.shutdown();
        }
    }
}

impl Inner {
    pub fn new(config: SimConfig, accept: &Arc<AcceptState>, tls: Option<SimTls>) -> Inner {
        Inner {
            config: config.clone(),
            port: accept.port(),
            tls,
            accept: accept.clone(),
            acks: AtomicBool::new(true),
            ack_delay_us: AtomicU64::new(0),
            records: Mutex::new(Vec::new()),
            records_changed: Condvar::new(),
            sessions: Mutex::new(Sessions::default()),
            sessions_changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            http_requests: AtomicU32::new(0),
            all_member_requests: Mutex::new(HashMap::new()),
            user_agents: Mutex::new(Vec::new()),
            timer: Arc::new(Timer::default()),
            limits: Mutex::new(super::limits::IdentifyBook::new(&config, Instant::now())),
            guilds: AtomicU32::new(config.guilds),
            shards: AtomicU64::new(config.shards),
            posted: AtomicU64::new(0),
            channel_guilds: Mutex::default(),
        }
    }

    /// `ws://127.0.0.1:<port>`, or `wss://localhost:<port>` when serving TLS.
    pub fn gateway_url(&self) -> String {
        match self.tls {
            Some(_) => format!("wss://localhost:{}", self.port),
            None => format!("ws://127.0.0.1:{}", self.port),
        }
    }

    pub fn record(&self, connection: u64, kind: RecordKind) {
        self.records.lock().push(Record {
            at: Instant::now(),
            connection,
            kind,
        });
        self.records_changed.notify_all();
    }

    pub fn is_stopping(&self) -> bool {
        self.accept.is_stopping()
    }

    /// The websocket connections open now.
    pub fn live_conns(&self) -> Vec<Arc<SimConn>> {
        self.conns.lock().clone()
    }

    /// The newest live connection.
    pub fn current_conn(&self) -> Option<Arc<SimConn>> {
        let sessions = self.sessions.lock();
        if let Some(conn) = sessions
            .current
            .as_ref()
            .and_then(|id| sessions.map.get(id))
            .and_then(|s| s.conn.clone())
        {
            return Some(conn);
        }
        drop(sessions);
        self.conns.lock().last().cloned()
    }

    /// Starts the closing handshake on `conn` with `code`: recorded, and the session dropped
    /// first when the config says Discord would not resume after `code`.
    pub fn close_conn(&self, conn: &SimConn, code: u16, reason: &str) -> bool {
        if !conn.claim_close() {
            return false;
        }
        if self.config.end_session_on_close && ends_session(code) {
            let id = conn.session.lock().take();
            if let Some(id) = id {
                self.sessions.lock().map.remove(&id);
            }
        }
        // Recorded before the frame goes out, so it precedes the echo's record.
        self.record(conn.id, RecordKind::ClosedByServer { code });
        conn.send_close(code, reason);
        true
    }

    /// Sends op 9 on `conn`. The connection is no longer authenticated afterwards and
    /// streams nothing more ("Invalid Session" in Discord's Gateway Events page): `false`
    /// destroys its session, `true` keeps the session, buffering its dispatches for a
    /// Resume.
    pub fn invalidate(&self, conn: &SimConn, resumable: bool) -> bool {
        // Under the sessions lock, so no dispatch can slip out after op 9.
        let mut sessions = self.sessions.lock();
        let id = conn.session.lock().take();
        if let Some(id) = id.or_else(|| sessions.current.clone()) {
            if resumable {
                if let Some(session) = sessions.map.get_mut(&id) {
                    if session.conn().is_some_and(|c| c.id == conn.id) {
                        session.detach();
                    }
                }
            } else {
                sessions.map.remove(&id);
            }
        }
        let sent = conn.send_text(&format!(r#"{{"op":9,"d":{resumable},"s":null,"t":null}}"#));
        drop(sessions);
        self.sessions_changed.notify_all();
        sent
    }

    pub fn destroy_current_session(&self) {
        let mut sessions = self.sessions.lock();
        if let Some(id) = sessions.current.clone() {
            sessions.map.remove(&id);
        }
    }

    pub fn push(&self, event_type: &str, data_json: &str) -> Option<u64> {
        let mut sessions = self.sessions.lock();
        let id = sessions.current.clone()?;
        let session = sessions.map.get_mut(&id)?;
        self.push_gated(session, event_type, data_json)
    }

    /// Pushes a dispatch as Discord would under the session's intents: not at all (`None`)
    /// when they do not cover it, with message content blanked without `MESSAGE_CONTENT`.
    pub fn push_gated(
        &self,
        session: &mut SimSession,
        event_type: &str,
        data_json: &str,
    ) -> Option<u64> {
        if event_type == "MESSAGE_CREATE" {
            self.learn_channel(data_json);
        }
        let Some(intents) = session.intents else {
            return Some(self.push_to(session, event_type, data_json));
        };
        let data = super::intents::gate(intents, event_type, data_json)?;
        Some(self.push_to(session, event_type, &data))
    }

    /// Pushes to the newest session whose `shard` matches `wanted`.
    pub fn push_where(
        &self,
        wanted: impl Fn([u64; 2]) -> bool,
        event_type: &str,
        data_json: &str,
    ) -> Option<(u64, u64)> {
        let mut sessions = self.sessions.lock();
        let id = sessions.newest_where(wanted)?;
        let session = sessions.map.get_mut(&id)?;
        let shard = session.shard[0];
        Some((shard, self.push_to(session, event_type, data_json)))
    }

    /// The recommended shard count now (`shards` of `GET /gateway/bot`).
    pub fn recommended_shards(&self) -> u64 {
        super::limits::recommended_shards(
            self.shards.load(Ordering::Acquire),
            self.guilds.load(Ordering::Acquire),
            self.config.max_guilds_per_shard,
            self.config.shard_count_multiple,
        )
    }

    /// Numbers, buffers and (if connected) sends one dispatch. Called with the sessions lock
    /// held, which keeps concurrent pushes and resumes in order.
    pub fn push_to(&self, session: &mut SimSession, event_type: &str, data_json: &str) -> u64 {
        session.seq += 1;
        let seq = session.seq;
        let json = format!(r#"{{"op":0,"s":{seq},"t":"{event_type}","d":{data_json}}}"#);
        if let Some(conn) = &session.conn {
            if !conn.send_text(&json) {
                session.detach();
            }
        }
        session.buffer.push_back((seq, json));
        if session.buffer.len() > self.config.replay_buffer {
            session.buffer.pop_front();
        }
        seq
    }

    /// Remembers which guild a channel is in, from a MESSAGE_CREATE the simulator sends, so
    /// the messages posted there carry the same `guild_id`.
    fn learn_channel(&self, data_json: &str) {
        #[derive(serde::Deserialize)]
        struct Ids<'a> {
            #[serde(borrow)]
            channel_id: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            guild_id: Option<std::borrow::Cow<'a, str>>,
        }
        if let Ok(Ids {
            channel_id: Some(channel),
            guild_id: Some(guild),
        }) = serde_json::from_str::<Ids>(data_json)
        {
            let mut guilds = self.channel_guilds.lock();
            if guilds.len() < 10_000 && !guilds.contains_key(&*channel) {
                guilds.insert(channel.into_owned(), guild.into_owned());
            }
        }
    }
}

/// Whether a client must start a new session after the server closed with `code`
/// ("Gateway Close Event Codes" in Discord's Opcodes and Status Codes page: after 4007 and
/// 4009 start a new session, 4003 means the session was invalidated, 4004 and 4010–4014
/// are not reconnected at all).
pub(crate) fn ends_session(code: u16) -> bool {
    matches!(code, 4003 | 4004 | 4007 | 4009 | 4010..=4014)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_that_need_a_new_session_end_it() {
        for code in [4003, 4004, 4007, 4009, 4010, 4014] {
            assert!(ends_session(code), "{code}");
        }
        for code in [1000, 1001, 4000, 4001, 4002, 4005, 4008, 4015] {
            assert!(!ends_session(code), "{code}");
        }
    }
}
