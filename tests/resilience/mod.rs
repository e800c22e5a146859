//! Helpers shared by the integration tests (first written for the resilience tests of
//! issue 3, hence the name): a simulator with a short heartbeat, a shard on its own thread
//! forwarding every event to the test, waits for events and readers for the simulator's
//! records. Every wait has a timeout; nothing sleeps to synchronise.
//!
//! A test binary takes it with `mod resilience;` and imports what it needs.
#![allow(dead_code)]

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use serde_json::Value;
use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};
use syncord::sim::{ConnectionFault, Record, RecordKind, SimConfig, Simulator};
use syncord::{Backoff, Config, Event, Intents, Session, Shard, ShardHandle, ShardThread};

/// How long any single wait may take before the test fails. Generous: the machine is a
/// loaded 2-core box running many test binaries' tests in parallel.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The identify window of these tests' simulators (and so of the identify queue their
/// `client_config` gives): short, because these tests are about reconnecting, not about
/// spacing Identify payloads (tests/sim_limits.rs and tests/cluster.rs test that at
/// Discord's pace).
pub const QUICK_IDENTIFY: Duration = Duration::from_millis(20);

/// The simulator config these tests start from: a heartbeat of `interval`, identifies
/// spaced by [`QUICK_IDENTIFY`], and one that comes too soon recorded but not refused.
///
/// The client's queue spaces its *turns*; the simulator judges the Identify's *arrival*. On
/// a loaded machine a writer thread scheduled late makes two arrivals 16 ms apart under a
/// 20 ms window (seen in CI: heartbeat.rs's six shards, one refused with op 9, so its
/// connection never beat). These tests are about reconnecting; tests/sim_limits.rs and
/// tests/cluster.rs test the refusal.
pub fn sim_config(interval: Duration) -> SimConfig {
    SimConfig::default()
        .heartbeat_interval(interval)
        .identify_window(QUICK_IDENTIFY)
        .reject_early_identify(false)
}

/// A simulator whose Hello announces `interval`.
pub fn sim_with_interval(interval: Duration) -> Simulator {
    Simulator::start(sim_config(interval)).expect("simulator starts")
}

/// A simulator whose Hello announces `interval` and that allows `sends` payloads per
/// `window` on a connection (closing it with 4008 beyond).
pub fn sim_with_rate_limit(interval: Duration, sends: usize, window: Duration) -> Simulator {
    Simulator::start(sim_config(interval).rate_limit(sends, window)).expect("simulator starts")
}

/// A simulator with a 100 ms heartbeat.
pub fn sim() -> Simulator {
    sim_with_interval(Duration::from_millis(100))
}

/// A small backoff so that tests which do back off stay fast.
pub fn quick_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
        reset_after: Duration::from_secs(60),
    }
}

/// A backoff of 30 s at every attempt: only a reconnect without backoff (or a shutdown
/// that interrupts the wait) finishes within a test's timeouts.
pub fn slow_backoff() -> Backoff {
    Backoff {
        base: Duration::from_secs(30),
        max: Duration::from_secs(30),
        reset_after: Duration::from_secs(60),
    }
}

/// A GUILDS shard configuration that dials `sim`'s gateway URL directly (no discovery).
pub fn gateway_config(sim: &Simulator) -> Config {
    sim.client_config(Intents::non_privileged())
        .gateway_url(sim.gateway_url())
        .build()
        .expect("valid config")
}

/// The events a shard delivered, as the test receives them.
pub struct Events {
    rx: Receiver<Event>,
    seen: Vec<Event>,
}

impl Events {
    pub fn new(rx: Receiver<Event>) -> Events {
        Events {
            rx,
            seen: Vec::new(),
        }
    }

    /// Receives until an event matches `pred` and returns it; panics after [`TIMEOUT`].
    pub fn wait(&mut self, what: &str, pred: impl FnMut(&Event) -> bool) -> Event {
        self.wait_within(TIMEOUT, pred)
            .unwrap_or_else(|| panic!("timed out waiting for {what}; events: {:#?}", self.seen))
    }

    /// Receives until an event matches `pred` or `timeout` passes.
    pub fn wait_within(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let event = match self.rx.recv_deadline(deadline) {
                Ok(event) => event,
                Err(_) => return None,
            };
            self.seen.push(event.clone());
            if pred(&event) {
                return Some(event);
            }
        }
    }

    /// Waits for the dispatch of type `t`.
    pub fn wait_dispatch(&mut self, t: &str) -> Event {
        self.wait(t, |e| is_dispatch(e, t))
    }

    /// Takes whatever has arrived without waiting.
    pub fn drain(&mut self) {
        while let Ok(event) = self.rx.try_recv() {
            self.seen.push(event);
        }
    }

    /// Receives until the shard's channel closes (its handler was dropped because `run`
    /// returned), or `timeout`.
    pub fn drain_until_closed(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            match self.rx.recv_deadline(deadline) {
                Ok(event) => self.seen.push(event),
                Err(_) => return,
            }
        }
    }

    /// Nothing arrives for `quiet`: returns what did arrive meanwhile, if anything did.
    pub fn next_within(&mut self, quiet: Duration) -> Option<Event> {
        match self.rx.recv_timeout(quiet) {
            Ok(event) => {
                self.seen.push(event.clone());
                Some(event)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Everything received so far.
    pub fn seen(&self) -> &[Event] {
        &self.seen
    }

    /// Sequence numbers of every dispatch received so far.
    pub fn dispatch_seqs(&self) -> Vec<u64> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Dispatch(d) => Some(d.seq()),
                _ => None,
            })
            .collect()
    }

    /// `(type, seq)` of every dispatch received so far.
    pub fn dispatches(&self) -> Vec<(String, u64)> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Dispatch(d) => Some((d.event_type().to_owned(), d.seq())),
                _ => None,
            })
            .collect()
    }

    /// How many events matched `pred`.
    pub fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.seen.iter().filter(|e| pred(e)).count()
    }
}

/// Runs a shard on its own thread, forwarding every event into the returned channel.
pub fn spawn_forwarding(config: Config) -> (ShardThread, Receiver<Event>) {
    let (tx, rx) = unbounded();
    let thread = Shard::with_config(config)
        .spawn(move |event| {
            let _ = tx.send(event);
        })
        .expect("the shard thread starts");
    (thread, rx)
}

/// Runs a shard on its own thread, forwarding every event to the returned [`Events`].
pub fn spawn(config: Config) -> (ShardThread, Events) {
    let (thread, rx) = spawn_forwarding(config);
    (thread, Events::new(rx))
}

/// [`spawn`], then waits for the simulator's session; returns its id too.
pub fn spawn_session(sim: &Simulator, config: Config) -> (ShardThread, Events, String) {
    let (thread, events) = spawn(config);
    let session = sim.wait_for_session(TIMEOUT).expect("a session starts");
    (thread, events, session)
}

/// [`spawn_session`] with the simulator's own client config for the non-privileged intents.
pub fn spawn_plain_session(sim: &Simulator) -> (ShardThread, Events, String) {
    let config = sim
        .client_config(Intents::non_privileged())
        .build()
        .expect("valid config");
    spawn_session(sim, config)
}

/// [`spawn`]s a GUILDS shard whose first dial `sim` refuses, with a [`slow_backoff`]: the
/// shard waits 15 s or more before its second attempt.
pub fn spawn_into_a_slow_backoff(sim: &Simulator) -> (ShardThread, Events) {
    sim.fault_next(ConnectionFault::Refuse, 1);
    let config = sim
        .client_config(Intents::non_privileged())
        .backoff(slow_backoff())
        .build()
        .expect("valid config");
    spawn(config)
}

/// Runs a shard on its own thread whose handler forwards every event to the returned
/// [`Events`] and then blocks on message 0 (see [`push_messages`]) until the test sends on
/// the returned gate (or 60 s pass).
pub fn spawn_blocking_on_message_zero(
    config: Config,
) -> (ShardThread, Events, ShardHandle, Sender<()>) {
    let shard = Shard::with_config(config);
    let handle = shard.handle();
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let (tx, rx) = unbounded();
    let thread = shard
        .spawn(move |event| {
            let block = message_number(&event) == Some(0);
            let _ = tx.send(event);
            if block {
                // The test decides when this callback returns.
                let _ = gate_rx.recv_timeout(Duration::from_secs(60));
            }
        })
        .unwrap();
    (thread, Events::new(rx), handle, gate_tx)
}

/// Runs a GUILDS shard on its own thread that starts by resuming `session`, which `sim`
/// does not know: waits for the op 9 that tells it so (asserting it is not resumable),
/// then, `invalid_session_delay` later, for the READY of the session it identifies.
pub fn spawn_resuming_unknown_session(
    sim: &Simulator,
    session: Session,
    invalid_session_delay: RangeInclusive<Duration>,
) -> (ShardThread, Events) {
    let config = sim
        .client_config(Intents::non_privileged())
        .invalid_session_delay(invalid_session_delay)
        .session(session)
        .build()
        .expect("valid config");
    let (thread, mut events) = spawn(config);
    let invalid = events.wait("InvalidSession", |e| {
        matches!(e, Event::InvalidSession { .. })
    });
    assert!(matches!(
        invalid,
        Event::InvalidSession { resumable: false }
    ));
    events.wait_dispatch("READY");
    (thread, events)
}

/// Receives from `rx` until an event matches `pred` and returns it, skipping the others;
/// panics, naming `what` and the events skipped, if none matches within `timeout`.
pub fn wait_event(
    rx: &Receiver<Event>,
    timeout: Duration,
    what: &str,
    pred: impl FnMut(&Event) -> bool,
) -> Event {
    wait_event_until(rx, Instant::now() + timeout, what, pred)
}

/// [`wait_event`] with a deadline, for waits that share one.
pub fn wait_event_until(
    rx: &Receiver<Event>,
    deadline: Instant,
    what: &str,
    mut pred: impl FnMut(&Event) -> bool,
) -> Event {
    /// How many of the skipped events a timeout reports (the last ones).
    const KEEP: usize = 32;
    let mut skipped = VecDeque::new();
    let mut count = 0usize;
    loop {
        let event = match rx.recv_deadline(deadline) {
            Ok(event) => event,
            Err(error) => panic!(
                "waiting for {what}: {error} ({count} other events received; the last ones: {skipped:#?})"
            ),
        };
        if pred(&event) {
            return event;
        }
        count += 1;
        if skipped.len() == KEEP {
            skipped.pop_front();
        }
        skipped.push_back(event);
    }
}

pub fn is_dispatch(event: &Event, t: &str) -> bool {
    matches!(event, Event::Dispatch(d) if d.event_type() == t)
}

/// One websocket connection as the simulator recorded it.
#[derive(Clone, Debug)]
pub struct Conn {
    pub id: u64,
    pub path: String,
    pub at: Instant,
}

/// Every websocket connection the simulator accepted and upgraded, in order.
pub fn connections(sim: &Simulator) -> Vec<Conn> {
    sim.records()
        .into_iter()
        .filter_map(|r| match r.kind {
            RecordKind::Connected { path, .. } => Some(Conn {
                id: r.connection,
                path,
                at: r.at,
            }),
            _ => None,
        })
        .collect()
}

/// Waits for the `n`th upgraded websocket connection (1-based).
pub fn wait_connection(sim: &Simulator, n: usize) -> Conn {
    let record = sim
        .wait_for_nth(TIMEOUT, n, |r| {
            matches!(r.kind, RecordKind::Connected { .. })
        })
        .unwrap_or_else(|| panic!("no connection #{n}; records: {:#?}", sim.records()));
    match record.kind {
        RecordKind::Connected { path, .. } => Conn {
            id: record.connection,
            path,
            at: record.at,
        },
        _ => unreachable!(),
    }
}

/// Waits for the `n`th payload with opcode `op` the simulator received.
pub fn wait_received(sim: &Simulator, op: u8, n: usize) -> Record {
    sim.wait_for_nth(TIMEOUT, n, |r| r.op() == Some(op))
        .unwrap_or_else(|| panic!("no op {op} #{n} received; records: {:#?}", sim.records()))
}

/// Waits for the client to close connection `conn` with a close frame; returns its code.
pub fn wait_client_close(sim: &Simulator, conn: u64) -> (Option<u16>, Instant) {
    let record = sim
        .wait_for(TIMEOUT, |r| {
            r.connection == conn && matches!(r.kind, RecordKind::ClosedByClient { .. })
        })
        .unwrap_or_else(|| {
            panic!(
                "the client never closed connection {conn}; records: {:#?}",
                sim.records()
            )
        });
    match record.kind {
        RecordKind::ClosedByClient { code } => (code, record.at),
        _ => unreachable!(),
    }
}

/// `(session_id, seq)` of a Resume record.
pub fn resume_fields(record: &Record) -> (String, u64) {
    let d = record.data().expect("Resume has a `d`");
    (
        d["session_id"].as_str().expect("session_id").to_owned(),
        d["seq"].as_u64().expect("seq"),
    )
}

/// The payloads with opcode `op` received on connection `conn`.
pub fn received_on(sim: &Simulator, conn: u64, op: u8) -> Vec<Record> {
    sim.received(op)
        .into_iter()
        .filter(|r| r.connection == conn)
        .collect()
}

/// The `d` of a Record as JSON.
pub fn data(record: &Record) -> Value {
    record.data().unwrap_or(Value::Null)
}

/// Pushes `count` MESSAGE_CREATE events numbered from `first`; returns their seqs.
pub fn push_messages(sim: &Simulator, first: u64, count: u64) -> Vec<u64> {
    (first..first + count)
        .map(|n| {
            sim.push("MESSAGE_CREATE", &format!(r#"{{"n":{n}}}"#))
                .expect("the simulator has a session")
        })
        .collect()
}

/// [`push_messages`], then waits (naming `what` on a timeout) until the last of them has
/// been delivered; returns their seqs.
pub fn push_messages_and_wait(
    sim: &Simulator,
    events: &mut Events,
    first: u64,
    count: u64,
    what: &str,
) -> Vec<u64> {
    let seqs = push_messages(sim, first, count);
    let last = *seqs.last().expect("at least one message");
    events.wait(what, |e| matches!(e, Event::Dispatch(d) if d.seq() == last));
    seqs
}

/// The `n` of a MESSAGE_CREATE pushed by [`push_messages`].
pub fn message_number(event: &Event) -> Option<u64> {
    match event {
        Event::Dispatch(d) if d.event_type() == "MESSAGE_CREATE" => {
            d.data::<Value>().ok()?.get("n")?.as_u64()
        }
        _ => None,
    }
}

/// Asserts the sequence numbers are strictly consecutive from 1 (each exactly once, in
/// order).
pub fn assert_consecutive_from_one(seqs: &[u64]) {
    for (i, seq) in seqs.iter().enumerate() {
        assert_eq!(
            *seq,
            i as u64 + 1,
            "dispatch #{i} has seq {seq}; all seqs: {seqs:?}"
        );
    }
}

/// A listener whose accept queue is full, so that a connect to it hangs (the kernel drops
/// the SYNs): the listener and the connections filling it, to keep alive for the test, and
/// its address. Fails the test if the queue could not be filled.
pub fn hanging_listener() -> (
    socket2::Socket,
    Vec<std::net::TcpStream>,
    std::net::SocketAddr,
) {
    use socket2::{Domain, Socket, Type};
    use std::net::{SocketAddr, TcpStream};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue; nobody ever accepts.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the accept queue is not full: cannot test a hanging connect"
    );
    (listener, fillers, addr)
}

/// The first item from `events` that `pick` accepts (the others are skipped), within
/// `timeout`; fails the test otherwise. For any event type (the Slack tests use it too).
pub fn pick_within<E, T>(
    events: &Receiver<E>,
    timeout: Duration,
    mut pick: impl FnMut(E) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events
            .recv_timeout(left)
            .expect("the expected event arrives in time");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}
