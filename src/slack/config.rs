//! A Socket Mode client's settings, with Slack's values as defaults.

use crate::token::Secret;
use crate::transport::{AdapterSlot, TungsteniteAdapter, WebSocketAdapter};
use crate::Backoff;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Slack's Web API base.
pub const DEFAULT_SLACK_API_BASE: &str = "https://slack.com/api";

/// A Slack token: the app-level token (`xapp-…`, scope `connections:write`) for Socket Mode
/// (Slack: Using Socket Mode), the bot token (`xoxb-…`) of a classic app for RTM (Slack:
/// Legacy RTM API).
///
/// `Debug` and `Display` print `<redacted>`; only [`SlackToken::expose`] gives the secret.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SlackToken(Secret);

impl SlackToken {
    /// Wraps a token (surrounding whitespace trimmed).
    pub fn new(token: impl Into<String>) -> SlackToken {
        SlackToken(Secret::trimmed(&token.into()))
    }

    /// The secret, for the one place that sends it (the `Authorization` header).
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Replaces the token in `text` (an error body that echoed it) with `<redacted>`.
    pub(crate) fn redact_in(&self, text: &str) -> String {
        self.0.redact_in(text)
    }
}

impl fmt::Display for SlackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<&str> for SlackToken {
    fn from(token: &str) -> SlackToken {
        SlackToken::new(token)
    }
}

impl From<String> for SlackToken {
    fn from(token: String) -> SlackToken {
        SlackToken::new(token)
    }
}

/// A Socket Mode client's settings ([`SlackConfig::builder`] to change them).
#[derive(Clone, Debug)]
pub struct SlackConfig {
    pub(crate) token: SlackToken,
    pub(crate) api_base: String,
    pub(crate) ping_interval: Duration,
    pub(crate) hello_timeout: Duration,
    pub(crate) response_deadline: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) too_many_websockets_wait: Duration,
    pub(crate) dedupe_window: Duration,
    pub(crate) dedupe_capacity: usize,
    pub(crate) event_queue: usize,
    pub(crate) dial_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) debug_reconnects: bool,
    pub(crate) tls: Option<native_tls::TlsConnector>,
    pub(crate) adapter: AdapterSlot,
}

impl SlackConfig {
    /// Slack's defaults for this token (the app-level token for [`SocketMode`](super::SocketMode),
    /// the bot token for [`Rtm`](super::Rtm)).
    pub fn new(token: impl Into<SlackToken>) -> SlackConfig {
        SlackConfig {
            token: token.into(),
            api_base: DEFAULT_SLACK_API_BASE.to_owned(),
            ping_interval: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(10),
            // Slack waits 3 s for an acknowledgement (Slack: The Events API → Responding to
            // events); the plain one goes at 2.5 s, leaving half a second for the network.
            response_deadline: Duration::from_millis(2_500),
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
                reset_after: Duration::ZERO,
            },
            too_many_websockets_wait: Duration::from_secs(30),
            dedupe_window: Duration::from_secs(15 * 60),
            dedupe_capacity: 100_000,
            event_queue: 1024,
            dial_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_message_size: 4 << 20,
            debug_reconnects: false,
            tls: None,
            adapter: AdapterSlot(Arc::new(TungsteniteAdapter)),
        }
    }

    /// Starts from Slack's defaults for this token.
    pub fn builder(token: impl Into<SlackToken>) -> SlackConfigBuilder {
        SlackConfigBuilder(SlackConfig::new(token))
    }
}

/// Changes a [`SlackConfig`]; [`build`](SlackConfigBuilder::build) checks it.
#[derive(Debug)]
pub struct SlackConfigBuilder(SlackConfig);

impl SlackConfigBuilder {
    /// The Web API base, `https://slack.com/api` by default (`http://` only for loopback:
    /// a simulator).
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.0.api_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// How often the client pings Slack (10 s). Any frame proves the connection alive; 3
    /// intervals of total silence mean it is dead and is replaced.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.0.ping_interval = interval;
        self
    }

    /// How long a new connection may take to send `hello` (10 s).
    pub fn hello_timeout(mut self, timeout: Duration) -> Self {
        self.0.hello_timeout = timeout;
        self
    }

    /// How long an envelope held for a responding handler waits for its response before
    /// the plain acknowledgement goes (2.5 s: Slack's deadline is 3 s).
    pub fn response_deadline(mut self, deadline: Duration) -> Self {
        self.0.response_deadline = deadline;
        self
    }

    /// Reconnect backoff (full jitter, 1 s doubling to 60 s; reset once `hello` arrives).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.0.backoff = backoff;
        self
    }

    /// The least wait after `too_many_websockets` (30 s).
    pub fn too_many_websockets_wait(mut self, wait: Duration) -> Self {
        self.0.too_many_websockets_wait = wait;
        self
    }

    /// How long a delivery is remembered to drop its duplicates (15 min; Slack retries up
    /// to 5 min after the first delivery, so at least 10 min), and how many are kept at
    /// most (100,000).
    pub fn dedupe(mut self, window: Duration, capacity: usize) -> Self {
        self.0.dedupe_window = window;
        self.0.dedupe_capacity = capacity.max(1);
        self
    }

    /// Envelopes read but not yet handled (1024); a full queue pushes back on the socket
    /// (acknowledgements do not wait for it).
    pub fn event_queue(mut self, capacity: usize) -> Self {
        self.0.event_queue = capacity.max(1);
        self
    }

    /// TCP connect and websocket handshake timeouts (10 s each).
    pub fn timeouts(mut self, dial: Duration, handshake: Duration) -> Self {
        self.0.dial_timeout = dial;
        self.0.handshake_timeout = handshake;
        self
    }

    /// Asks Slack for short-lived connections (`debug_reconnects=true`: about 360 s) to
    /// exercise refreshes.
    pub fn debug_reconnects(mut self, on: bool) -> Self {
        self.0.debug_reconnects = on;
        self
    }

    /// The TLS connector for the API and the websocket (a custom root CA for a simulator).
    pub fn tls_connector(mut self, connector: native_tls::TlsConnector) -> Self {
        self.0.tls = Some(connector);
        self
    }

    /// The websocket library (tungstenite by default).
    pub fn websocket_adapter(mut self, adapter: impl WebSocketAdapter) -> Self {
        self.0.adapter = AdapterSlot(Arc::new(adapter));
        self
    }

    /// Checks every setting and finishes the config.
    ///
    /// Errors, as [`ConfigBuilder::build`](crate::ConfigBuilder::build) reports them:
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) naming the builder method
    /// whose value is wrong (an empty token, a zero interval or timeout, a response deadline
    /// not below Slack's 3 s, a backoff whose base is above its cap), or
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) for an `api_base` that is not
    /// `https://` (plain text only to loopback).
    ///
    /// ```
    /// use std::time::Duration;
    /// use syncord::slack::SlackConfig;
    /// use syncord::Error;
    /// let err = SlackConfig::builder("xapp-1")
    ///     .response_deadline(Duration::from_secs(3))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::InvalidSetting { setting: "response_deadline", .. }));
    /// ```
    pub fn build(self) -> crate::Result<SlackConfig> {
        check(&self.0)?;
        Ok(self.0)
    }
}

/// The checks behind [`SlackConfigBuilder::build`]; the first setting found wrong is reported.
fn check(c: &SlackConfig) -> crate::Result<()> {
    let invalid = |setting: &'static str, problem: String| {
        Err(crate::Error::InvalidSetting { setting, problem })
    };
    if c.token.expose().is_empty() {
        return invalid(
            "token",
            "the Slack token is empty: for Socket Mode create an app-level token under your app's Basic Information → App-Level Tokens (scope connections:write)".into(),
        );
    }
    crate::transport::check_api_base(&c.api_base)?;
    let zero = [
        ("ping_interval", c.ping_interval),
        ("hello_timeout", c.hello_timeout),
        ("timeouts", c.dial_timeout),
        ("timeouts", c.handshake_timeout),
    ]
    .into_iter()
    .find(|(_, value)| value.is_zero());
    if let Some((setting, _)) = zero {
        return invalid(setting, "must be above zero".into());
    }
    // Slack: The Events API → Responding to events (3 seconds).
    if c.response_deadline >= Duration::from_secs(3) {
        return invalid(
            "response_deadline",
            format!(
                "{:?} is not below Slack's 3 s acknowledgement deadline: Slack would retry the envelope",
                c.response_deadline
            ),
        );
    }
    if let Some(problem) = c.backoff.problem() {
        return invalid("backoff", problem);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// Each row: a change to valid settings, and the setting `build` must name (`None`: it
    /// builds).
    #[test]
    fn build_names_the_setting_that_is_wrong() {
        type Change = fn(SlackConfigBuilder) -> SlackConfigBuilder;
        fn secs(n: u64) -> Duration {
            Duration::from_secs(n)
        }
        fn backoff(base: u64, max: u64) -> Backoff {
            Backoff {
                base: secs(base),
                max: secs(max),
                reset_after: Duration::ZERO,
            }
        }
        let rows: [(&str, Change, Option<&str>); 10] = [
            ("defaults", |b| b, None),
            (
                "zero ping interval",
                |b| b.ping_interval(Duration::ZERO),
                Some("ping_interval"),
            ),
            (
                "zero hello timeout",
                |b| b.hello_timeout(Duration::ZERO),
                Some("hello_timeout"),
            ),
            (
                "zero dial timeout",
                |b| b.timeouts(Duration::ZERO, secs(1)),
                Some("timeouts"),
            ),
            (
                "zero handshake timeout",
                |b| b.timeouts(secs(1), Duration::ZERO),
                Some("timeouts"),
            ),
            (
                "deadline at 3 s",
                |b| b.response_deadline(secs(3)),
                Some("response_deadline"),
            ),
            (
                "deadline below 3 s",
                |b| b.response_deadline(Duration::from_millis(2_999)),
                None,
            ),
            (
                "base above cap",
                |b| b.backoff(backoff(2, 1)),
                Some("backoff"),
            ),
            ("base at cap", |b| b.backoff(backoff(1, 1)), None),
            (
                "loopback http",
                |b| b.api_base("http://127.0.0.1:1/api"),
                None,
            ),
        ];
        for (row, change, wanted) in rows {
            let built = change(SlackConfig::builder("xapp-1-token")).build();
            match (wanted, built) {
                (None, Ok(_)) => {}
                (Some(setting), Err(Error::InvalidSetting { setting: got, .. })) => {
                    assert_eq!(got, setting, "{row}");
                }
                (wanted, built) => panic!("{row}: wanted {wanted:?}, got {built:?}"),
            }
        }
    }

    #[test]
    fn an_empty_token_is_named_without_echoing_anything() {
        let Err(Error::InvalidSetting { setting, problem }) = SlackConfig::builder("  ").build()
        else {
            panic!("an empty token must be refused");
        };
        assert_eq!(setting, "token");
        assert!(problem.contains("App-Level Tokens"), "{problem}");
    }

    #[test]
    fn a_plain_text_api_base_is_an_invalid_url() {
        let built = SlackConfig::builder("xapp-1")
            .api_base("http://slack.example/api")
            .build();
        assert!(
            matches!(
                built,
                Err(Error::InvalidUrl {
                    what: "API base",
                    ..
                })
            ),
            "{built:?}"
        );
    }
}
