//! What the Slack simulator can be told to do differently: every knob defaults to what
//! Slack does (or, where Slack does not say, to what was observed: SLACK.md §8).

use std::time::Duration;

/// Configuration of a [`SlackSim`](super::SlackSim). `Default` is Slack's behaviour; each
/// setter consumes and returns the config.
///
/// ```
/// use std::time::Duration;
/// use syncord::sim::slack::SlackSimConfig;
///
/// let config = SlackSimConfig::default()
///     .ack_deadline(Duration::from_millis(200))
///     .retry_schedule(vec![Duration::from_millis(50); 3]);
/// assert_eq!(config.max_connections, 10);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SlackSimConfig {
    /// Between server pings (`Ping from <host>`, SLACK.md §3). Defaults to 10 s.
    pub ping_interval: Duration,
    /// `debug_info.approximate_connection_time` in `hello`, in seconds (SLACK.md §2.1); 360
    /// when the URL carries `debug_reconnects=true`. Defaults to 18060 (observed).
    pub approximate_connection_time: u64,
    /// How long an `events_api` envelope may go unacknowledged before it is retried ("The
    /// Events API": 3 s). Defaults to 3 s.
    pub ack_deadline: Duration,
    /// The wait, after each missed deadline, before retry 1, 2, 3… (its length is the number
    /// of retries). Defaults to Slack's: immediately, 1 min, 5 min ("The Events API").
    pub retry_schedule: Vec<Duration>,
    /// Whether a retry keeps the envelope id of the delivery it repeats (reports differ:
    /// SLACK.md §8). Defaults to false (a new envelope id per retry).
    pub keep_envelope_id_on_retry: bool,
    /// How long after the original a [`duplicate_next`](super::SlackSim::duplicate_next)
    /// copy follows. Defaults to 15 s (observed: SLACK.md §5).
    pub duplicate_delay: Duration,
    /// After `disconnect` `warning`, the simulator closes the connection this much later
    /// ("about 10 s", Using Socket Mode). Defaults to 10 s.
    pub warning_close_after: Duration,
    /// After `disconnect` `refresh_requested` (or a reason Slack does not document), the
    /// simulator closes the connection this much later unless the client closed first (not
    /// documented). Defaults to 10 s.
    pub refresh_close_after: Duration,
    /// Connections (open ones and ghosts) an app may hold; one more gets `disconnect`
    /// `too_many_websockets` and is closed. Defaults to 10 (Using Socket Mode).
    pub max_connections: usize,
    /// How long a connection whose TCP died without a closing handshake stays counted
    /// (in `num_connections` and the limit) and routable (SLACK.md §2.6). Defaults to 60 s.
    pub ghost_ttl: Duration,
    /// Whether deliveries may be routed to ghosts, where they are lost (SLACK.md §2.6: they
    /// are). Defaults to true.
    pub route_to_ghosts: bool,
    /// Whether the simulator closes TCP once a client-initiated closing handshake is done.
    /// Slack answers close 1000 with close 1000 and leaves TCP open (SLACK.md §2.5).
    /// Defaults to false.
    pub close_tcp_after_close_handshake: bool,
    /// How long an `rtm.connect` URL may be used ("Legacy RTM API": 30 s). Defaults to 30 s.
    pub rtm_url_ttl: Duration,
    /// RTM messages a client may send at once before the 1 message/s rate applies (the
    /// bucket of a token bucket refilled at 1/s: "Rate limits" tolerates short bursts).
    /// Defaults to 3.
    pub rtm_burst: u32,
    /// RTM client messages over this many bytes close the connection ("Rate limits": 16
    /// KB). Defaults to 16384.
    pub rtm_max_message_len: usize,
    /// After `goodbye` the simulator closes the RTM connection this much later unless the
    /// client closed first. Defaults to 1 s.
    pub goodbye_close_after: Duration,
    /// The app-level token `apps.connections.open` accepts. Defaults to
    /// `xapp-1-sim-A0SIM-1-simulated`.
    pub app_token: String,
    /// The bot token `rtm.connect` accepts. Defaults to `xoxb-sim-bot-token`.
    pub bot_token: String,
}

impl Default for SlackSimConfig {
    fn default() -> Self {
        SlackSimConfig {
            ping_interval: Duration::from_secs(10),
            approximate_connection_time: 18060,
            ack_deadline: Duration::from_secs(3),
            retry_schedule: vec![
                Duration::ZERO,
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            keep_envelope_id_on_retry: false,
            duplicate_delay: Duration::from_secs(15),
            warning_close_after: Duration::from_secs(10),
            refresh_close_after: Duration::from_secs(10),
            max_connections: 10,
            ghost_ttl: Duration::from_secs(60),
            route_to_ghosts: true,
            close_tcp_after_close_handshake: false,
            rtm_url_ttl: Duration::from_secs(30),
            rtm_burst: 3,
            rtm_max_message_len: 16 * 1024,
            goodbye_close_after: Duration::from_secs(1),
            app_token: "xapp-1-sim-A0SIM-1-simulated".into(),
            bot_token: "xoxb-sim-bot-token".into(),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        impl SlackSimConfig {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$name = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets [`SlackSimConfig::ping_interval`].
    ping_interval: Duration;
    /// Sets [`SlackSimConfig::approximate_connection_time`].
    approximate_connection_time: u64;
    /// Sets [`SlackSimConfig::ack_deadline`].
    ack_deadline: Duration;
    /// Sets [`SlackSimConfig::retry_schedule`].
    retry_schedule: Vec<Duration>;
    /// Sets [`SlackSimConfig::keep_envelope_id_on_retry`].
    keep_envelope_id_on_retry: bool;
    /// Sets [`SlackSimConfig::duplicate_delay`].
    duplicate_delay: Duration;
    /// Sets [`SlackSimConfig::warning_close_after`].
    warning_close_after: Duration;
    /// Sets [`SlackSimConfig::refresh_close_after`].
    refresh_close_after: Duration;
    /// Sets [`SlackSimConfig::max_connections`].
    max_connections: usize;
    /// Sets [`SlackSimConfig::ghost_ttl`].
    ghost_ttl: Duration;
    /// Sets [`SlackSimConfig::route_to_ghosts`].
    route_to_ghosts: bool;
    /// Sets [`SlackSimConfig::close_tcp_after_close_handshake`].
    close_tcp_after_close_handshake: bool;
    /// Sets [`SlackSimConfig::rtm_url_ttl`].
    rtm_url_ttl: Duration;
    /// Sets [`SlackSimConfig::rtm_burst`].
    rtm_burst: u32;
    /// Sets [`SlackSimConfig::rtm_max_message_len`].
    rtm_max_message_len: usize;
    /// Sets [`SlackSimConfig::goodbye_close_after`].
    goodbye_close_after: Duration;
}

impl SlackSimConfig {
    /// Sets [`SlackSimConfig::app_token`].
    #[must_use]
    pub fn app_token(mut self, token: impl Into<String>) -> Self {
        self.app_token = token.into();
        self
    }

    /// Sets [`SlackSimConfig::bot_token`].
    #[must_use]
    pub fn bot_token(mut self, token: impl Into<String>) -> Self {
        self.bot_token = token.into();
        self
    }
}

impl std::fmt::Debug for SlackSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokens are secrets, even simulated ones: not printed.
        f.debug_struct("SlackSimConfig")
            .field("ping_interval", &self.ping_interval)
            .field("ack_deadline", &self.ack_deadline)
            .field("retry_schedule", &self.retry_schedule)
            .field("max_connections", &self.max_connections)
            .field("ghost_ttl", &self.ghost_ttl)
            .finish_non_exhaustive()
    }
}
