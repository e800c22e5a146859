//! Every scenario, in table order: a name (the table's row) and a function that runs it
//! against a fresh simulator and returns what twilight did (the table's cell) or why it
//! failed.

mod basics;
mod closes;
mod sim_bugs;

use crate::check::Step;

/// One row of the table.
pub struct Scenario {
    /// The row's name (shared with the @discordjs/ws script where it runs the same thing).
    pub name: String,
    /// Runs it.
    pub run: Box<dyn Fn() -> Step<String> + Send + Sync>,
}

fn row(
    name: impl Into<String>,
    run: impl Fn() -> Step<String> + Send + Sync + 'static,
) -> Scenario {
    Scenario {
        name: name.into(),
        run: Box::new(run),
    }
}

/// All scenarios, in table order.
pub fn all() -> Vec<Scenario> {
    let mut rows = vec![
        row("handshake", basics::handshake),
        row("heartbeats on schedule", basics::heartbeats),
        row("op 1 answered at once", basics::heartbeat_request),
        row("op 7 reconnect", basics::reconnect),
        row("op 9 true", basics::invalid_session_resumable),
        row("op 9 false", basics::invalid_session_not_resumable),
        row("TCP drop", basics::tcp_drop),
        row("mid-frame drop", basics::mid_frame_drop),
        row("zombie (no ACKs)", basics::zombie),
        row(
            "events in order across resume",
            basics::events_across_resume,
        ),
        row("payloads parse (typed)", basics::payloads),
        row(
            "resume after the resume window",
            basics::resume_window_expired,
        ),
    ];
    for code in (4000..=4014).chain([1000, 1001]) {
        rows.push(row(format!("server close {code}"), move || {
            closes::server_close(code)
        }));
    }
    rows.extend([
        row("4004 from a bad token", closes::bad_token),
        row("4010 from a bad shard count", closes::invalid_shard),
        row("4011 from too many guilds", closes::sharding_required),
        row("4013 from undefined intents", closes::invalid_intents),
        row("4014 from disallowed intents", closes::disallowed_intents),
        row(
            "bug 1: op 9 then Identify/Resume on the same socket",
            sim_bugs::op9_same_socket,
        ),
        row("bug 2: echo of a server 1000 keeps the session", || {
            closes::server_close_checked(1000, true)
        }),
        row("bug 2: echo of a server 1001 keeps the session", || {
            closes::server_close_checked(1001, true)
        }),
        row(
            "bug 3: client close 1000 gets the handshake",
            sim_bugs::client_close_normal,
        ),
        row(
            "bug 3: client close 4000 gets the handshake",
            sim_bugs::client_close_resumable,
        ),
        row(
            "client close 1000, then polled on",
            sim_bugs::client_close_then_identify,
        ),
        row(
            "bug 4: RefuseResume on /resume/?v=10",
            sim_bugs::refuse_resume,
        ),
    ]);
    rows
}
