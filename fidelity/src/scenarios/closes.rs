//! Close codes from the server (PROTOCOL.md §3, §4.7): resumable ones reconnect and
//! resume, 4003/4007/4009 need a new session, 4004 and 4010–4014 stop the client; also
//! the fatal codes as the simulator's own checks produce them.

use syncord::sim::{RecordKind, SimConfig};

use crate::check::{ensure, no_loss_no_unparsed, push_messages, record, Step, STEP};
use crate::flow::{expect_new_session, expect_resume, expect_seq, identified, sim_config, Setup};
use crate::twilight::{ClientOptions, Seen};
use twilight_gateway::ShardState;

/// What a client must do after the server closes with `code`, per §4.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Reconnect to `resume_gateway_url` and Resume.
    Resume,
    /// Reconnect to the discovery URL and Identify (the session is gone).
    NewSession,
    /// Stop with an error.
    Fatal,
}

/// §3's table (4006 is not used on the main gateway: unknown, so reconnect; a server
/// 1000/1001 is undocumented, and libraries resume).
pub fn after(code: u16) -> After {
    match code {
        4004 | 4010..=4014 => After::Fatal,
        4003 | 4007 | 4009 => After::NewSession,
        _ => After::Resume,
    }
}

/// The simulator closes the connection with `code`. The simulator drops the session for
/// the codes after which Discord would not resume (`end_session_on_close`), so a client
/// that resumes anyway is seen getting op 9 false, as it would against Discord.
pub fn server_close(code: u16) -> Step<String> {
    server_close_checked(code, false)
}

/// [`server_close`], also requiring that the simulator read twilight's echo of its close
/// frame (not a bare TCP end) before the session is resumed: issue 16's bug 2, where reading
/// the echo of a server 1000/1001 destroyed the session.
pub fn server_close_checked(code: u16, require_echo: bool) -> Step<String> {
    let mut s = identified(sim_config().end_session_on_close(true))?;
    let old = s.conn;
    push_messages(&s.sim, 2, 1);
    let from = s.client.log.len();
    ensure(s.sim.close(code), || "no connection to close".into())?;
    let close = s.client.wait_from(from, STEP, "the close", |i| {
        matches!(i.seen, Seen::Close(_))
    })?;
    ensure(s.client.log[close].seen == Seen::Close(Some(code)), || {
        format!("twilight yielded {:?}", s.client.log[close].seen)
    })?;
    // RFC 6455: the client answers the close frame (twilight's websocket layer does).
    let echo = record(&s.sim, "the close echo", |r| {
        r.connection == old
            && matches!(
                r.kind,
                RecordKind::CloseEchoed { .. } | RecordKind::Disconnected
            )
    })?;
    let echoed = matches!(echo.kind, RecordKind::CloseEchoed { .. });
    ensure(echoed || !require_echo, || {
        "twilight did not echo the close frame".into()
    })?;
    let cell = match after(code) {
        After::Fatal => return fatal(&mut s, old, close),
        After::Resume => {
            expect_resume(&mut s, old, "/resume/", from)?;
            "resume"
        }
        After::NewSession => expect_new_session(&mut s, old, from)?,
    };
    let last = push_messages(&s.sim, 2, 3)
        .pop()
        .ok_or("no session after reconnecting")?;
    expect_seq(&mut s.client, last, from)?;
    no_loss_no_unparsed(&mut s.client)?;
    Ok(format!(
        "{cell}{}",
        if echoed { "" } else { " (close not echoed)" }
    ))
}

/// After a fatal close twilight's stream ends (`ShardState::FatallyClosed`) and it never
/// connects again (§3: "do not reconnect").
fn fatal(s: &mut Setup, old: u64, close: usize) -> Step<String> {
    s.client
        .wait_from(close, STEP, "the stream's end", |i| i.seen == Seen::Ended)?;
    let state = s.client.log[close].state;
    ensure(state == ShardState::FatallyClosed, || {
        format!("state after the close: {state:?}")
    })?;
    let later = crate::check::connections(&s.sim)
        .into_iter()
        .filter(|(c, _)| *c > old)
        .count();
    ensure(later == 0, || {
        format!("reconnected {later} times after a fatal close")
    })?;
    no_loss_no_unparsed(&mut s.client)?;
    let code = match s.client.log[close].seen {
        Seen::Close(Some(code)) => code,
        _ => 0,
    };
    Ok(format!("yields Close({code}), stream ends, no reconnect"))
}

/// A fatal close the simulator's own checks produce from what twilight sent: the close
/// reaches twilight as that code and it stops.
fn fatal_from(
    config: SimConfig,
    code: u16,
    adjust: impl FnOnce(&mut ClientOptions),
) -> Step<String> {
    let sim = syncord::sim::Simulator::start(config).map_err(|e| format!("simulator: {e}"))?;
    let mut options = ClientOptions::new(sim.token());
    adjust(&mut options);
    let mut client = crate::twilight::TwilightClient::start(&sim.gateway_url(), options)?;
    let close = client.wait(STEP, "a close", |i| matches!(i.seen, Seen::Close(_)))?;
    ensure(client.log[close].seen == Seen::Close(Some(code)), || {
        format!(
            "expected Close({code}), twilight yielded {}",
            client.summary()
        )
    })?;
    let closed = record(&sim, "the simulator's close", |r| {
        matches!(r.kind, RecordKind::ClosedByServer { .. })
    })?;
    ensure(closed.kind == RecordKind::ClosedByServer { code }, || {
        format!("the simulator closed with {:?}", closed.kind)
    })?;
    let conn = closed.connection;
    let mut s = Setup {
        sim,
        client,
        conn,
        session_id: String::new(),
    };
    fatal(&mut s, conn, close)
}

/// A token the simulator does not accept: 4004.
pub fn bad_token() -> Step<String> {
    fatal_from(SimConfig::default(), 4004, |o| {
        o.token = "not-the-token".into()
    })
}

/// A privileged intent the application lacks: 4014.
pub fn disallowed_intents() -> Step<String> {
    fatal_from(
        SimConfig::default().allowed_privileged(syncord::Intents::empty()),
        4014,
        |_| {},
    )
}

/// Intents with an undefined bit: 4013.
pub fn invalid_intents() -> Step<String> {
    fatal_from(SimConfig::default(), 4013, |o| {
        o.intents = twilight_gateway::Intents::from_bits_retain(1 << 30);
    })
}

/// A shard count that is not the multiple Discord assigned: 4010.
pub fn invalid_shard() -> Step<String> {
    fatal_from(SimConfig::default().shard_count_multiple(2), 4010, |_| {})
}

/// More guilds than one shard may hold: 4011.
pub fn sharding_required() -> Step<String> {
    fatal_from(
        SimConfig::default().guilds(3).max_guilds_per_shard(2),
        4011,
        |_| {},
    )
}
