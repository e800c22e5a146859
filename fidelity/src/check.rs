//! Small helpers the scenarios assert with: waiting on the simulator's records, and the
//! checks every scenario ends with (no payload twilight cannot parse, no lost or repeated
//! event).

use std::time::Duration;

use serde_json::Value;
use syncord::sim::{Record, RecordKind, Simulator};

use crate::twilight::TwilightClient;

/// How long any single step may take. Generous: twilight's identify queue holds a second
/// Identify for 5 s, and its reconnect backoff waits 1 s then 2 s.
pub const STEP: Duration = Duration::from_secs(12);

/// A scenario step's result: `Err` says what went wrong.
pub type Step<T = ()> = Result<T, String>;

/// `Err(msg())` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Step {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Waits for a record matching `pred`, naming `what` in the error.
pub fn record(sim: &Simulator, what: &str, pred: impl FnMut(&Record) -> bool) -> Step<Record> {
    sim.wait_for(STEP, pred)
        .ok_or_else(|| format!("the simulator never saw {what}; it saw {}", records(sim)))
}

/// Waits for the `n`th record matching `pred`.
pub fn nth_record(
    sim: &Simulator,
    n: usize,
    what: &str,
    pred: impl FnMut(&Record) -> bool,
) -> Step<Record> {
    sim.wait_for_nth(STEP, n, pred)
        .ok_or_else(|| format!("the simulator never saw {what}; it saw {}", records(sim)))
}

/// Waits for the `n`th websocket connection (numbered from 1 among websocket connections)
/// and returns its record number, path and query.
pub fn nth_connection(sim: &Simulator, n: usize) -> Step<(u64, String, String)> {
    let r = nth_record(sim, n, &format!("websocket connection #{n}"), |r| {
        matches!(r.kind, RecordKind::Connected { .. })
    })?;
    match r.kind {
        RecordKind::Connected { path, query } => Ok((r.connection, path, query)),
        _ => unreachable!("filtered on Connected"),
    }
}

/// Waits for a payload with opcode `op` on connection `conn`; returns its `d`.
pub fn payload_on(sim: &Simulator, conn: u64, op: u8) -> Step<Value> {
    let r = record(sim, &format!("op {op} on connection {conn}"), |r| {
        r.connection == conn && r.op() == Some(op)
    })?;
    Ok(r.data().unwrap_or(Value::Null))
}

/// The websocket connections so far, as `(connection, path)`.
pub fn connections(sim: &Simulator) -> Vec<(u64, String)> {
    sim.records()
        .into_iter()
        .filter_map(|r| match r.kind {
            RecordKind::Connected { path, .. } => Some((r.connection, path)),
            _ => None,
        })
        .collect()
}

/// The opcodes connection `conn` sent, in order.
pub fn ops_on(sim: &Simulator, conn: u64) -> Vec<u8> {
    sim.records()
        .iter()
        .filter(|r| r.connection == conn)
        .filter_map(Record::op)
        .collect()
}

/// A compact account of the records, for failure messages (payload texts left out: they
/// carry the token).
pub fn records(sim: &Simulator) -> String {
    let items: Vec<String> = sim
        .records()
        .iter()
        .filter(|r| r.connection != 0)
        .map(|r| match &r.kind {
            RecordKind::Received { op, .. } => format!("#{} op{}", r.connection, op.unwrap_or(255)),
            RecordKind::Connected { path, .. } => format!("#{} open {path}", r.connection),
            other => format!("#{} {other:?}", r.connection),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Pushes `n` MESSAGE_CREATEs (Discord-shaped, in the simulator's first guild) and returns
/// their sequence numbers (none when the session is gone).
pub fn push_messages(sim: &Simulator, n: u64, first_id: u64) -> Vec<u64> {
    let guild = syncord::sim::payload::guild_id(0);
    let channel = syncord::sim::payload::channel_id(guild, 0);
    (0..n)
        .filter_map(|i| {
            let data = syncord::sim::payload::message_create(
                guild,
                channel,
                first_id + i,
                7,
                &format!("message {}", first_id + i),
            );
            sim.push("MESSAGE_CREATE", &data)
        })
        .collect()
}

/// The checks every scenario ends with: twilight parsed every payload into its typed
/// event, and within each session saw every sequence number once, in order, with no gap
/// (a resume replays what was missed, so nothing is lost across it).
pub fn no_loss_no_unparsed(client: &mut TwilightClient) -> Step {
    client.drain();
    let unparsed = client.unparsed();
    ensure(unparsed.is_empty(), || {
        format!("twilight-model could not parse: {unparsed:?}")
    })?;
    let mut expected = None::<u64>;
    for (seq, kind) in client.dispatches() {
        if kind == "READY" {
            // A new session numbers from 1 again.
            ensure(seq == 1, || format!("READY with s={seq}"))?;
            expected = Some(2);
            continue;
        }
        match expected {
            Some(want) => ensure(seq == want, || {
                format!(
                    "{kind} arrived with s={seq}, expected s={want}: {}",
                    client.summary()
                )
            })?,
            None => return Err(format!("{kind} (s={seq}) before any READY")),
        }
        expected = Some(seq + 1);
    }
    Ok(())
}
