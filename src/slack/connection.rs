//! How both Slack clients start a connection and keep it until it says `hello`: a fresh
//! URL dialed, the engine's threads started under a new generation, a deadline for
//! `hello`. What the threads are given (the protocol's reader, writer limits, commands)
//! stays with each client.

use super::config::SlackConfig;
use super::event::SlackEvent;
use super::open::{Identity, Method};
use super::runner::{isolated, run_loop, Connections, Control, Dialer, NotConnected};
use crate::engine::{LinkOptions, LinkThreads, Wire};
use crate::Result;
use std::time::Instant;

/// One connection: its threads, and whether it said `hello` (or by when it must).
pub(crate) struct Live<W: Wire> {
    pub link: LinkThreads<W>,
    pub hello: bool,
    pub hello_by: Instant,
}

/// Starts the connections of one `run`, numbering them.
pub(crate) struct Connector<'a> {
    config: &'a SlackConfig,
    dialer: Dialer<'a>,
    generation: u64,
}

impl<'a> Connector<'a> {
    /// Opens a fresh URL with `method`, dials it and starts the connection's threads with
    /// the options `options` gives for the connection's label (`prefix` and its
    /// generation: `s1`, `r2`, …). The identity is what `method` said the token is.
    pub fn connect<W: Wire>(
        &mut self,
        method: Method,
        prefix: &str,
        options: impl FnOnce(String) -> LinkOptions<W>,
    ) -> std::result::Result<(Live<W>, Identity), NotConnected> {
        let (conn, identity) = self.dialer.dial(method)?;
        self.generation += 1;
        let options = options(format!("{prefix}{}", self.generation));
        let link = LinkThreads::start(conn, self.generation, options)
            .map_err(|e| NotConnected::Failed(format!("could not start threads: {e}")))?;
        let live = Live {
            link,
            hello: false,
            hello_by: Instant::now() + self.config.hello_timeout,
        };
        Ok((live, identity))
    }
}

/// Runs a client on this thread until a shutdown (`Ok`) or a fatal error: the
/// [`Connections`] that `connections` makes around a fresh [`Connector`] connect and drive,
/// and `handler` gets every event, its panics isolated.
pub(crate) fn run<'a, C: Connections>(
    config: &'a SlackConfig,
    control: &'a Control,
    handler: impl FnMut(SlackEvent),
    connections: impl FnOnce(Connector<'a>) -> C,
) -> Result<()> {
    let mut emit = isolated(handler);
    let mut connections = connections(Connector {
        config,
        dialer: Dialer {
            config,
            stop: &control.stop,
            tls: None,
        },
        generation: 0,
    });
    run_loop(&mut connections, config, &control.stop, &mut emit)
}
