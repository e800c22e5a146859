//! The caller's loop both Slack APIs share: connect (a fresh URL every time), drive the
//! connection until it ends, then wait as [`super::policy`] says; and the dial both use.
//! What differs (Socket Mode's make-before-break, RTM's replies) is each one's
//! [`Connections`].

use super::config::SlackConfig;
use super::event::SlackEvent;
use super::open::{open, Identity, Method, Opened, TicketUrl};
use super::policy::{delay, Failure};
use crate::engine::{Counters, Latency, Stop};
use crate::rest::RequestOptions;
use crate::transport::{DialRequest, WebSocketConnection, WsUrl};
use crate::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// Where events go: the user's handler, panics isolated.
pub(crate) type Emit<'e> = dyn FnMut(SlackEvent) + 'e;

/// Why a connection attempt left no connection.
pub(crate) enum NotConnected {
    Fatal(Error),
    RateLimited(Duration),
    Failed(String),
    Stopped,
}

/// How a connection (and, for Socket Mode, its replacements) ended.
pub(crate) enum Outcome {
    Ended { had_hello: bool },
    TooManyWebsockets,
    Shutdown,
}

/// One API's half of the loop.
pub(crate) trait Connections {
    /// A connection with its threads running.
    type Live;
    /// Opens a URL, dials it and starts the connection's threads.
    fn connect(&mut self) -> std::result::Result<Self::Live, NotConnected>;
    /// Delivers the connection's events until it ends.
    fn drive(&mut self, live: Self::Live, emit: &mut Emit<'_>) -> Result<Outcome>;
}

/// Runs connections until a shutdown (`Ok`) or a fatal error.
pub(crate) fn run_loop(
    connections: &mut impl Connections,
    config: &SlackConfig,
    stop: &Stop,
    emit: &mut Emit<'_>,
) -> Result<()> {
    let mut streak = 0u32;
    loop {
        if stop.requested().is_some() {
            return Ok(());
        }
        emit(SlackEvent::Connecting { attempt: streak });
        let failure = match connections.connect() {
            Ok(live) => {
                emit(SlackEvent::Connected);
                match connections.drive(live, emit)? {
                    Outcome::Shutdown => return Ok(()),
                    Outcome::TooManyWebsockets => Failure::TooManyWebsockets,
                    Outcome::Ended { had_hello: true } => Failure::EndedAfterHello,
                    Outcome::Ended { had_hello: false } => Failure::Failed,
                }
            }
            Err(NotConnected::Stopped) => return Ok(()),
            Err(NotConnected::Fatal(e)) => {
                log::error!("Slack: stopping: {e}");
                return Err(e);
            }
            Err(NotConnected::RateLimited(wait)) => {
                log::warn!("Slack: rate limited for {wait:?}");
                Failure::RateLimited(wait)
            }
            Err(NotConnected::Failed(message)) => {
                log::warn!("Slack: {message}");
                emit(SlackEvent::Error {
                    kind: ErrorKind::OpenFailed,
                    message,
                });
                Failure::Failed
            }
        };
        streak = match failure {
            Failure::EndedAfterHello => 0,
            _ => streak.saturating_add(1),
        };
        let wait = delay(
            failure,
            streak.max(1),
            &config.backoff,
            config.too_many_websockets_wait,
            fastrand::f64(),
        );
        emit(SlackEvent::Reconnecting {
            attempt: streak,
            delay: wait,
        });
        if !stop.sleep(wait) {
            return Ok(());
        }
    }
}

/// What a Slack client shares with its handle on either protocol: the stop request, the
/// current connection's ping round trips and the counters.
#[derive(Default)]
pub(crate) struct Control {
    pub stop: Arc<Stop>,
    pub latency: Arc<Mutex<Latency>>,
    pub metrics: Arc<Counters>,
}

impl Control {
    /// The ping round trips of the current connection.
    pub fn latency(&self) -> Latency {
        self.latency.lock().clone()
    }

    /// Asks the client to stop (close 1000, `run` returns `Ok`).
    pub fn shutdown(&self) {
        self.stop.request(false);
    }

    /// A handle's `Debug`: its name and whether it is stopping (nothing secret).
    pub fn debug(&self, handle: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(handle)
            .field("stopping", &self.stop.requested().is_some())
            .finish()
    }
}

/// Calls `handler`, isolating its panics: reported at `error` and as [`SlackEvent::Error`],
/// and the client goes on.
pub(crate) fn isolated(mut handler: impl FnMut(SlackEvent)) -> impl FnMut(SlackEvent) {
    move |event| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler(event))) {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            log::error!("the Slack handler panicked: {message}");
            let report = SlackEvent::Error {
                kind: ErrorKind::HandlerPanicked,
                message: format!("the handler panicked: {message}"),
            };
            let _ = catch_unwind(AssertUnwindSafe(|| handler(report)));
        }
    }
}

/// Opens fresh URLs and dials them, with one TLS connector built once.
pub(crate) struct Dialer<'a> {
    pub config: &'a SlackConfig,
    pub stop: &'a Arc<Stop>,
    pub tls: Option<native_tls::TlsConnector>,
}

impl Dialer<'_> {
    /// A fresh URL from `method`, dialed.
    pub fn dial(
        &mut self,
        method: Method,
    ) -> std::result::Result<(Box<dyn WebSocketConnection>, Identity), NotConnected> {
        let stop = self.stop;
        let secure = self.config.api_base.starts_with("https://");
        let tls = if secure {
            Some(self.tls().map_err(NotConnected::Failed)?)
        } else {
            None
        };
        let stopping = || stop.requested().is_some();
        let opts = RequestOptions {
            timeout: self.config.handshake_timeout,
            tls: tls.as_ref(),
            on_connected: stop.abort_registration(),
            aborted: &stopping,
        };
        let opened = open(self.config, method, &opts);
        stop.request_done();
        if stopping() {
            return Err(NotConnected::Stopped);
        }
        let (url, identity) = match opened {
            Opened::Url(url, identity) => (url, identity),
            Opened::RateLimited(wait) => return Err(NotConnected::RateLimited(wait)),
            Opened::Transient(message) => return Err(NotConnected::Failed(message)),
            Opened::Fatal(e) => return Err(NotConnected::Fatal(e)),
        };
        let conn = self.dial_url(&url, tls)?;
        Ok((conn, identity))
    }

    fn dial_url(
        &mut self,
        url: &TicketUrl,
        tls: Option<native_tls::TlsConnector>,
    ) -> std::result::Result<Box<dyn WebSocketConnection>, NotConnected> {
        let parsed = match WsUrl::parse(&url.0) {
            Ok(parsed) => parsed,
            Err(Error::InvalidUrl { why, .. }) => {
                return Err(NotConnected::Failed(format!(
                    "Slack's websocket URL is not usable: {why}"
                )))
            }
            Err(e) => return Err(NotConnected::Failed(url.redact_in(&e.to_string()))),
        };
        let tls = match (parsed.secure, tls) {
            (true, None) => Some(self.tls().map_err(NotConnected::Failed)?),
            (_, tls) => tls,
        };
        let user_agent = crate::rest::user_agent();
        let dialed = self.config.adapter.0.dial(&DialRequest {
            url: &url.0,
            headers: &[("User-Agent", &user_agent)],
            connect_timeout: self.config.dial_timeout,
            handshake_timeout: self.config.handshake_timeout,
            max_message_size: self.config.max_message_size,
            tls: tls.as_ref(),
            cancel: &self.stop.cancel,
        });
        self.stop.cancel.clear();
        if self.stop.requested().is_some() {
            return Err(NotConnected::Stopped);
        }
        dialed.map_err(|e| {
            NotConnected::Failed(format!("could not connect: {}", url.redact_in(&e.0)))
        })
    }

    fn tls(&mut self) -> std::result::Result<native_tls::TlsConnector, String> {
        if let Some(tls) = self.config.tls.clone().or_else(|| self.tls.clone()) {
            return Ok(tls);
        }
        let built =
            native_tls::TlsConnector::new().map_err(|e| format!("TLS setup failed: {e}"))?;
        self.tls = Some(built.clone());
        Ok(built)
    }
}
