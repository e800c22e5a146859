//! The four simulator bugs issue 16 found, seen from twilight: each fixed on main, each
//! kept here so a regression shows up as a client would meet it.

use syncord::sim::{ConnectionFault, RecordKind};
use twilight_gateway::CloseFrame;

use crate::check::{ensure, no_loss_no_unparsed, ops_on, push_messages, record, Step, STEP};
use crate::flow::{expect_new_session, expect_resume, expect_seq, identified, sim_config};
use crate::twilight::Seen;

/// Bug 1: after op 9 a connection is no longer authenticated, so Identify (or Resume after
/// `true`) on the same socket must be accepted. Twilight never does that: it closes the
/// socket and uses a new one, which this checks (the same-socket path is @discordjs/ws's).
pub fn op9_same_socket() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    let from = s.client.log.len();
    ensure(s.sim.invalidate_session(true), || {
        "no connection for op 9".into()
    })?;
    expect_resume(&mut s, old, "/resume/", from)?;
    let on_old = ops_on(&s.sim, old);
    ensure(
        on_old.iter().filter(|op| matches!(op, 2 | 6)).count() == 1,
        || format!("twilight sent {on_old:?} on the invalidated socket"),
    )?;
    let closed_4005 = s
        .sim
        .records()
        .iter()
        .any(|r| matches!(r.kind, RecordKind::ClosedByServer { code: 4005 }));
    ensure(!closed_4005, || "closed with 4005".into())?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok("n/a: never reuses the socket after op 9 (new socket, resumes)".into())
}

/// Bug 3: a close the client starts gets the closing handshake, so the client sees the
/// server's close frame and not an abnormal 1006. 1000 ends the session (§3).
pub fn client_close_normal() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    let from = s.client.log.len();
    s.client.close(CloseFrame::NORMAL);
    let close = s
        .client
        .wait_from(from, STEP, "the server's close reply", |i| {
            matches!(i.seen, Seen::Close(_))
        })?;
    let seen = s.client.log[close].seen.clone();
    ensure(seen == Seen::Close(Some(1000)), || {
        format!("twilight saw {seen:?}: no closing handshake")
    })?;
    record(&s.sim, "the client's close", |r| {
        r.connection == old && r.kind == RecordKind::ClosedByClient { code: Some(1000) }
    })?;
    // The session ended: a push finds no session (a buffered push would mean it was
    // kept), unless twilight, polled on, already identified a new one.
    let guild = syncord::sim::payload::guild_id(0);
    let typing = syncord::sim::payload::typing_start(guild, guild + 1, 7);
    if s.sim.push("TYPING_START", &typing).is_some() {
        let live = s.sim.wait_for_session(std::time::Duration::ZERO);
        ensure(live.is_some_and(|id| id != s.session_id), || {
            "the session outlived a client close with 1000".into()
        })?;
    }
    no_loss_no_unparsed(&mut s.client)?;
    Ok("gets the server's close frame (1000); session ended".into())
}

/// Bug 3 with a code that keeps the session: the handshake completes, and twilight's next
/// connection resumes.
pub fn client_close_resumable() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    push_messages(&s.sim, 2, 1);
    let from = s.client.log.len();
    s.client.close(CloseFrame::RESUME);
    let close = s
        .client
        .wait_from(from, STEP, "the server's close reply", |i| {
            matches!(i.seen, Seen::Close(_))
        })?;
    let seen = s.client.log[close].seen.clone();
    ensure(seen == Seen::Close(Some(4000)), || {
        format!("twilight saw {seen:?}: no closing handshake")
    })?;
    push_messages(&s.sim, 2, 3);
    expect_resume(&mut s, old, "/resume/", from)?;
    let last = push_messages(&s.sim, 2, 5).pop().ok_or("session lost")?;
    expect_seq(&mut s.client, last, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok("gets the server's close frame (4000), reconnects, resumes".into())
}

/// Bug 4: `RefuseResume` must fire on twilight's resume URL, `/resume/?v=10…`; twilight
/// then falls back to the gateway URL and resumes there.
pub fn refuse_resume() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    s.sim.fault_next(ConnectionFault::RefuseResume, 1);
    let from = s.client.log.len();
    ensure(s.sim.reconnect(), || "no connection for op 7".into())?;
    s.client
        .wait_from(from, STEP, "the failed reconnect", |i| {
            i.seen == Seen::Error("reconnect".into())
        })?;
    // The refused attempt: a connection the simulator dropped before the upgrade.
    let refused = record(&s.sim, "the refused resume connection", |r| {
        r.connection > old && r.kind == RecordKind::Disconnected
    })?;
    let upgraded = s.sim.records().iter().any(|r| {
        r.connection == refused.connection && matches!(r.kind, RecordKind::Connected { .. })
    });
    ensure(!upgraded, || "the resume connection was not refused".into())?;
    expect_resume(&mut s, refused.connection, "/", from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok("resume URL refused: error, then resumes on the gateway URL after 1 s".into())
}

/// After a client close with 1000 and a new connection, twilight identifies (it dropped
/// its session, as §4.7 says for `shutdown()`): checked so the table shows what follows.
pub fn client_close_then_identify() -> Step<String> {
    let mut s = identified(sim_config())?;
    let old = s.conn;
    let from = s.client.log.len();
    s.client.close(CloseFrame::NORMAL);
    let how = expect_new_session(&mut s, old, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!("polled on after 1000: {how}"))
}
