//! The steps scenarios share: a simulator with an identified twilight shard, and what a
//! resume or a new session looks like from both ends (PROTOCOL.md §4.3, §4.4, §4.7).

use std::time::{Duration, Instant};

use syncord::sim::{RecordKind, SimConfig, Simulator};

use crate::check::{ensure, payload_on, record, Step, STEP};
use crate::twilight::{ClientOptions, Seen, TwilightClient};

/// The heartbeat interval scenarios run with unless they test heartbeating: short enough
/// that beats and ACKs happen during a scenario, long enough not to crowd it.
pub const INTERVAL: Duration = Duration::from_millis(1000);

/// A simulator, a twilight shard identified with it, and the facts of that session.
pub struct Setup {
    /// The simulator.
    pub sim: Simulator,
    /// The twilight shard.
    pub client: TwilightClient,
    /// The connection the session was identified on.
    pub conn: u64,
    /// The session id READY gave.
    pub session_id: String,
}

/// The simulator config scenarios start from.
pub fn sim_config() -> SimConfig {
    SimConfig::default().heartbeat_interval(INTERVAL)
}

/// Starts `config`'s simulator and a twilight shard, and waits for READY.
pub fn identified(config: SimConfig) -> Step<Setup> {
    identified_with(config, |_| {})
}

/// Like [`identified`], adjusting twilight's options first.
pub fn identified_with(config: SimConfig, adjust: impl FnOnce(&mut ClientOptions)) -> Step<Setup> {
    let sim = Simulator::start(config).map_err(|e| format!("simulator: {e}"))?;
    let mut options = ClientOptions::new(sim.token());
    adjust(&mut options);
    let mut client = TwilightClient::start(&sim.gateway_url(), options)?;
    client.wait_dispatch(0, "READY", STEP)?;
    let session_id = sim
        .wait_for_session(STEP)
        .ok_or("the simulator has no live session after READY")?;
    let conn = record(&sim, "a websocket connection", |r| {
        matches!(r.kind, RecordKind::Connected { .. })
    })?
    .connection;
    Ok(Setup {
        sim,
        client,
        conn,
        session_id,
    })
}

/// The newest websocket connection after `after`: waits for it, returns it and its path.
pub fn next_connection(sim: &Simulator, after: u64) -> Step<(u64, String)> {
    let r = record(
        sim,
        &format!("a websocket connection after #{after}"),
        |r| r.connection > after && matches!(r.kind, RecordKind::Connected { .. }),
    )?;
    match r.kind {
        RecordKind::Connected { path, .. } => Ok((r.connection, path)),
        _ => unreachable!("filtered on Connected"),
    }
}

/// The last sequence number twilight had seen when it sent its Resume on `conn` (the
/// dispatches it yielded before that connection's Hello).
fn last_seq_before(client: &TwilightClient, index: usize) -> Option<u64> {
    client.log[..index]
        .iter()
        .rev()
        .find_map(|i| match &i.seen {
            Seen::Dispatch { seq, .. } => Some(*seq),
            _ => None,
        })
}

/// After a disruption of connection `old`: twilight opens a new connection on
/// `expected_path`, sends Resume (op 6, not Identify) with the session's id and the last
/// `s` it saw, and gets RESUMED. `from` is the log index from which RESUMED is looked for.
/// Returns the new connection.
pub fn expect_resume(s: &mut Setup, old: u64, expected_path: &str, from: usize) -> Step<u64> {
    let (conn, path) = next_connection(&s.sim, old)?;
    ensure(path == expected_path, || {
        format!("twilight reconnected to {path}, expected {expected_path}")
    })?;
    let resume = payload_on(&s.sim, conn, 6).map_err(|e| {
        format!(
            "{e} (twilight sent {:?} on it)",
            crate::check::ops_on(&s.sim, conn)
        )
    })?;
    ensure(
        resume["session_id"].as_str() == Some(s.session_id.as_str()),
        || format!("Resume for another session: {}", resume["session_id"]),
    )?;
    let resumed = s.client.wait_dispatch(from, "RESUMED", STEP)?;
    // The Resume carried the last `s` twilight had seen before that connection's Hello.
    let hello = s.client.log[..resumed]
        .iter()
        .rposition(|i| i.seen == Seen::Hello)
        .ok_or("no Hello before RESUMED")?;
    let want = last_seq_before(&s.client, hello);
    ensure(resume["seq"].as_u64() == want, || {
        format!(
            "Resume seq {} but twilight had seen s={want:?}",
            resume["seq"]
        )
    })?;
    ensure(!crate::check::ops_on(&s.sim, conn).contains(&2), || {
        "twilight identified on the resumed connection".into()
    })?;
    s.conn = conn;
    Ok(conn)
}

/// After a disruption of connection `old` that Discord does not resume after: twilight
/// ends up with a new session through Identify on the discovery URL. Twilight may first
/// try a Resume (answered with op 9 false by the simulator, as Discord does for a session
/// it ended); the return value says which it did, for the table.
pub fn expect_new_session(s: &mut Setup, old: u64, from: usize) -> Step<&'static str> {
    let (mut conn, _) = next_connection(&s.sim, old)?;
    let first = record(&s.sim, &format!("Identify or Resume on #{conn}"), |r| {
        r.connection == conn && matches!(r.op(), Some(2 | 6))
    })?;
    let how = if first.op() == Some(6) {
        // Against Discord the session is gone: the Resume must be refused with op 9
        // false, and twilight must then identify.
        s.client.wait_from(from, STEP, "op 9 false", |i| {
            i.seen == Seen::InvalidSession(false)
        })?;
        let (next, path) = next_connection(&s.sim, conn)?;
        ensure(path == "/", || {
            format!("identify on {path}, not the gateway URL")
        })?;
        payload_on(&s.sim, next, 2)?;
        conn = next;
        "resume, op 9 false, then identify"
    } else {
        "identify"
    };
    s.client.wait_dispatch(from, "READY", STEP)?;
    let new_id = s
        .sim
        .wait_for_session(STEP)
        .ok_or("no live session after the new READY")?;
    ensure(new_id != s.session_id, || {
        "READY for the old session".into()
    })?;
    s.session_id = new_id;
    s.conn = conn;
    Ok(how)
}

/// The dispatches pushed after `t0` must all reach twilight: waits for `seq` (the last one
/// pushed) on twilight's side.
pub fn expect_seq(client: &mut TwilightClient, seq: u64, from: usize) -> Step<usize> {
    client.wait_from(
        from,
        STEP,
        &format!("a dispatch with s={seq}"),
        |i| matches!(i.seen, Seen::Dispatch { seq: s, .. } if s == seq),
    )
}

/// Seconds between two instants, for the table.
pub fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}
