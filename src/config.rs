//! Shard configuration: the easy path is [`Config::new`], the full path [`Config::builder`].

use crate::cluster::{EventFilter, IdentifyQueue, QueueSlot};
use crate::policy::Backoff;
use crate::protocol::{IdentifyProperties, Intents, UpdatePresence};
use crate::session::Session;
use crate::transport::{check_api_base, WsUrl};
use crate::transport::{AdapterSlot, TungsteniteAdapter, WebSocketAdapter};
use crate::{Error, Token};
use std::ops::RangeInclusive;
use std::time::Duration;

/// Discord's REST base URL for gateway discovery.
pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";

/// What to do with a command sent while the shard is not connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhileDisconnected {
    /// Queue it (bounded) and send it after READY/RESUMED. The default.
    Queue,
    /// Return [`Error::NotConnected`](crate::Error::NotConnected) at once.
    FailFast,
}

/// Transport compression of what the gateway sends (Discord: Gateway → Encoding and Compression), sent as the
/// `compress` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Plain JSON text frames.
    None,
    /// `zlib-stream`: one zlib stream per connection.
    ZlibStream,
    /// `zstd-stream`: one zstd stream per connection (cargo feature `zstd`, on by default).
    #[cfg(feature = "zstd")]
    ZstdStream,
}

impl Compression {
    /// The `compress` query value, `None` for plain JSON.
    pub fn query_value(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::ZlibStream => Some("zlib-stream"),
            #[cfg(feature = "zstd")]
            Compression::ZstdStream => Some("zstd-stream"),
        }
    }

    /// Parses `none`, `zlib-stream` or `zstd-stream` (also `zlib`, `zstd`).
    pub fn from_name(name: &str) -> Option<Compression> {
        match name.trim().to_ascii_lowercase().as_str() {
            "none" | "json" => Some(Compression::None),
            "zlib-stream" | "zlib" => Some(Compression::ZlibStream),
            #[cfg(feature = "zstd")]
            "zstd-stream" | "zstd" => Some(Compression::ZstdStream),
            _ => None,
        }
    }
}

impl Default for Compression {
    /// zstd-stream when the `zstd` feature is on, else zlib-stream.
    fn default() -> Compression {
        #[cfg(feature = "zstd")]
        return Compression::ZstdStream;
        #[cfg(not(feature = "zstd"))]
        return Compression::ZlibStream;
    }
}

/// Everything a shard needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) token: Token,
    pub(crate) intents: Intents,
    pub(crate) gateway_url: Option<String>,
    pub(crate) api_base: String,
    pub(crate) properties: IdentifyProperties,
    pub(crate) large_threshold: Option<u64>,
    pub(crate) shard: Option<[u64; 2]>,
    pub(crate) presence: Option<UpdatePresence>,
    pub(crate) dial_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) hello_timeout: Duration,
    pub(crate) ready_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) invalid_session_delay: RangeInclusive<Duration>,
    pub(crate) event_queue: usize,
    pub(crate) command_queue: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) while_disconnected: WhileDisconnected,
    pub(crate) max_message_size: usize,
    pub(crate) session: Option<Session>,
    pub(crate) stop_on_handler_panic: bool,
    pub(crate) slow_handler_warning: Duration,
    pub(crate) tls: Option<native_tls::TlsConnector>,
    /// The platform-trust connector used when `tls` is unset: built once per config (and its
    /// clones), not per dial; building one costs about 100 ms of CPU with OpenSSL 3.
    pub(crate) default_tls: std::sync::Arc<DefaultTls>,
    pub(crate) rate_limit: (u32, Duration),
    pub(crate) compression: Compression,
    pub(crate) payload_compression: bool,
    pub(crate) adapter: AdapterSlot,
    pub(crate) identify_queue: Option<QueueSlot>,
    /// Set by the dispatcher: dispatches nobody handles are not scanned or delivered.
    pub(crate) event_filter: Option<EventFilter>,
}

impl Config {
    /// A config with every default: the easy path.
    ///
    /// Errors as [`ConfigBuilder::build`] does: here only an empty token can be wrong.
    pub fn new(token: impl Into<Token>, intents: Intents) -> crate::Result<Config> {
        Config::builder(token, intents).build()
    }

    /// Starts a builder for the full path.
    ///
    /// ```
    /// use std::time::Duration;
    /// use syncord::{Config, Intents};
    /// let config = Config::builder("token", Intents::GUILDS | Intents::GUILD_MESSAGES)
    ///     .shard(0, 2)
    ///     .large_threshold(250)
    ///     .handshake_timeout(Duration::from_secs(5))
    ///     .build()?;
    /// assert_eq!(config.shard(), Some([0, 2]));
    /// # Ok::<(), syncord::Error>(())
    /// ```
    pub fn builder(token: impl Into<Token>, intents: Intents) -> ConfigBuilder {
        ConfigBuilder(Config {
            token: token.into(),
            intents,
            gateway_url: None,
            api_base: DEFAULT_API_BASE.to_owned(),
            properties: IdentifyProperties::default(),
            large_threshold: None,
            shard: None,
            presence: None,
            dial_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(20),
            ready_timeout: Duration::from_secs(30),
            backoff: Backoff::default(),
            invalid_session_delay: Duration::from_secs(1)..=Duration::from_secs(5),
            event_queue: 256,
            command_queue: 256,
            command_timeout: Duration::from_secs(10),
            while_disconnected: WhileDisconnected::Queue,
            max_message_size: 64 << 20,
            session: None,
            stop_on_handler_panic: false,
            slow_handler_warning: Duration::from_secs(2),
            tls: None,
            default_tls: std::sync::Arc::default(),
            rate_limit: crate::GATEWAY_SEND_LIMIT,
            compression: Compression::default(),
            payload_compression: false,
            adapter: AdapterSlot(std::sync::Arc::new(TungsteniteAdapter)),
            identify_queue: None,
            event_filter: None,
        })
    }

    /// The token (its `Debug` prints `<redacted>`).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The intents sent in Identify.
    pub fn intents(&self) -> Intents {
        self.intents
    }

    /// `[shard_id, num_shards]`, if set.
    pub fn shard(&self) -> Option<[u64; 2]> {
        self.shard
    }

    /// The TLS connector for `wss://` and `https://`: the configured one, else the default
    /// one, built on first use and shared by every clone of this config.
    pub(crate) fn tls_connector(&self) -> Result<native_tls::TlsConnector, native_tls::Error> {
        if let Some(tls) = &self.tls {
            return Ok(tls.clone());
        }
        if let Some(tls) = self.default_tls.cell.get() {
            return Ok(tls.clone());
        }
        let built = native_tls::TlsConnector::new()?;
        self.default_tls
            .builds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Two threads racing here both build; the first one stored wins.
        let _ = self.default_tls.cell.set(built.clone());
        Ok(self.default_tls.cell.get().cloned().unwrap_or(built))
    }

    /// The shard id used in thread names and logs (0 when unsharded).
    pub(crate) fn shard_id(&self) -> u64 {
        self.shard.map_or(0, |[id, _]| id)
    }
}

/// The default TLS connector of a config, built once.
#[derive(Default)]
pub(crate) struct DefaultTls {
    cell: std::sync::OnceLock<native_tls::TlsConnector>,
    /// How many times one was built (once, unless two dials raced).
    builds: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for DefaultTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cell.get().is_some() {
            "built"
        } else {
            "not built yet"
        })
    }
}

/// Builds a [`Config`]. Every setter's doc gives its default.
#[derive(Clone, Debug)]
#[must_use]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// Connect to this websocket URL directly, skipping REST discovery. `wss://` always;
    /// `ws://` only for loopback hosts (the simulator). Defaults to discovery.
    pub fn gateway_url(mut self, url: impl Into<String>) -> Self {
        self.0.gateway_url = Some(url.into());
        self
    }

    /// The REST base for discovery (`GET {base}/gateway/bot`). Defaults to
    /// `https://discord.com/api/v10`; `http://` is accepted only for loopback.
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.0.api_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// Identify `properties`. Defaults to this OS and `syncord`.
    pub fn properties(mut self, properties: IdentifyProperties) -> Self {
        self.0.properties = properties;
        self
    }

    /// Identify `large_threshold` (50–250). Defaults to unset (Discord uses 50).
    pub fn large_threshold(mut self, threshold: u64) -> Self {
        self.0.large_threshold = Some(threshold);
        self
    }

    /// Identify `shard: [id, count]`. Defaults to unset (one shard).
    pub fn shard(mut self, id: u64, count: u64) -> Self {
        self.0.shard = Some([id, count]);
        self
    }

    /// The presence sent with Identify. Defaults to unset (online).
    pub fn presence(mut self, presence: UpdatePresence) -> Self {
        self.0.presence = Some(presence);
        self
    }

    /// TCP connect timeout. Defaults to 10 s.
    pub fn dial_timeout(mut self, timeout: Duration) -> Self {
        self.0.dial_timeout = timeout;
        self
    }

    /// TLS plus websocket handshake timeout. Defaults to 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.0.handshake_timeout = timeout;
        self
    }

    /// How long to wait for Hello after the handshake before treating the connection as
    /// dead. Defaults to 20 s.
    pub fn hello_timeout(mut self, timeout: Duration) -> Self {
        self.0.hello_timeout = timeout;
        self
    }

    /// How long to wait for READY (after Identify) or RESUMED (after Resume) before treating
    /// the connection as dead. Defaults to 30 s.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.0.ready_timeout = timeout;
        self
    }

    /// The reconnect backoff policy. Defaults to [`Backoff::default`] (1 s base, 2 min cap).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.0.backoff = backoff;
        self
    }

    /// The random wait after op 9 Invalid Session. Defaults to 1–5 s (Discord: Gateway Events → Invalid Session).
    pub fn invalid_session_delay(mut self, range: RangeInclusive<Duration>) -> Self {
        self.0.invalid_session_delay = range;
        self
    }

    /// Capacity of the queue between the reader thread and the handler. When the handler
    /// falls this far behind, reading pauses (TCP back-pressure) instead of buffering more.
    /// Defaults to 256 events (the queue is allocated up front: about 100 bytes per slot per connection).
    /// Must be at least 1.
    pub fn event_queue(mut self, capacity: usize) -> Self {
        self.0.event_queue = capacity;
        self
    }

    /// Capacity of the outgoing command queue. Must be at least 1. Defaults to 256.
    pub fn command_queue(mut self, capacity: usize) -> Self {
        self.0.command_queue = capacity;
        self
    }

    /// How long a send may block on a full command queue before it fails with
    /// [`Error::QueueFull`](crate::Error::QueueFull). Defaults to 10 s.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.0.command_timeout = timeout;
        self
    }

    /// What commands sent while disconnected do. Defaults to [`WhileDisconnected::Queue`].
    pub fn while_disconnected(mut self, policy: WhileDisconnected) -> Self {
        self.0.while_disconnected = policy;
        self
    }

    /// The largest message accepted from the gateway, in bytes. At least
    /// [`MIN_MESSAGE_SIZE`](crate::MIN_MESSAGE_SIZE). Defaults to 64 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.0.max_message_size = bytes;
        self
    }

    /// Resume this session (exported by
    /// [`ShardHandle::shutdown_resumable`](crate::ShardHandle::shutdown_resumable)) instead
    /// of identifying. Defaults to none.
    pub fn session(mut self, session: Session) -> Self {
        self.0.session = Some(session);
        self
    }

    /// Stop the shard with [`Error::HandlerPanicked`](crate::Error::HandlerPanicked) when
    /// the handler panics, instead of reporting and carrying on. Defaults to false.
    pub fn stop_on_handler_panic(mut self, stop: bool) -> Self {
        self.0.stop_on_handler_panic = stop;
        self
    }

    /// A handler call running longer than this is logged as a warning. Defaults to 2 s.
    pub fn slow_handler_warning(mut self, threshold: Duration) -> Self {
        self.0.slow_handler_warning = threshold;
        self
    }

    /// The TLS connector for `wss://` (e.g. one that trusts a custom root CA). Certificates
    /// are always verified. Defaults to the platform's trust store.
    pub fn tls_connector(mut self, connector: native_tls::TlsConnector) -> Self {
        self.0.tls = Some(connector);
        self
    }

    /// The send limit per connection: at most `count` payloads (every opcode) in any
    /// `window`, with room always kept for heartbeats. Only lower it, or match a test
    /// server's setting: Discord closes with 4008 above 120 per 60 s. Defaults to
    /// [`GATEWAY_SEND_LIMIT`](crate::GATEWAY_SEND_LIMIT).
    pub fn rate_limit(mut self, count: u32, window: Duration) -> Self {
        self.0.rate_limit = (count, window);
        self
    }

    /// Transport compression. Defaults to [`Compression::default`] (zstd-stream with the
    /// `zstd` feature, else zlib-stream).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.0.compression = compression;
        self
    }

    /// Ask for payload compression (`compress: true` in Identify: large payloads arrive as
    /// standalone zlib streams in binary frames). Only takes effect with
    /// [`Compression::None`], as the gateway ignores it under transport compression.
    /// Defaults to false.
    pub fn payload_compression(mut self, enabled: bool) -> Self {
        self.0.payload_compression = enabled;
        self
    }

    /// The websocket library under the shard: any [`WebSocketAdapter`] (see
    /// [`transport`](crate::transport) for the contract and an example). Defaults to
    /// [`TungsteniteAdapter`] (tungstenite with native-tls).
    pub fn websocket_adapter(mut self, adapter: std::sync::Arc<dyn WebSocketAdapter>) -> Self {
        self.0.adapter = AdapterSlot(adapter);
        self
    }

    /// The queue this shard waits on before each Identify (shards of one bot share one, so
    /// that Identify payloads respect `max_concurrency`; Discord: Gateway → Rate Limiting →
    /// Max Concurrency). Defaults to one [`LocalQueue`](crate::cluster::LocalQueue) per bot
    /// token and gateway URL in this process, with Discord's 5 s window and the
    /// `max_concurrency` of the shard's `GET /gateway/bot` (1 when the gateway URL is
    /// configured): a shard's first Identify goes at once, and shards of one bot started
    /// one by one still take turns. Shards in several processes need a queue they share
    /// (`RedisQueue`, cargo feature `redis`).
    pub fn identify_queue(mut self, queue: std::sync::Arc<dyn IdentifyQueue>) -> Self {
        self.0.identify_queue = Some(QueueSlot(queue));
        self
    }

    /// Checks every setting and finishes the config.
    ///
    /// Errors: [`Error::InvalidSetting`] naming the builder method whose value is wrong (an
    /// empty token, a shard id not below the count, a zero timeout or queue, …), or
    /// [`Error::InvalidUrl`] for a `gateway_url` or `api_base` that is not `wss://`/`https://`
    /// (plain text only to loopback). Checking here means a mistake fails at start-up, not
    /// on the first dial minutes later.
    ///
    /// ```
    /// use syncord::{Config, Error, Intents};
    /// let err = Config::builder("token", Intents::GUILDS).shard(2, 2).build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidSetting { setting: "shard", .. }));
    /// ```
    pub fn build(self) -> crate::Result<Config> {
        check(&self.0)?;
        Ok(self.0)
    }
}

/// The smallest [`ConfigBuilder::max_message_size`] accepted: Discord's own limit on a
/// payload a client sends (Gateway → Sending Events: 4096 bytes). Anything smaller would
/// refuse ordinary gateway messages such as Hello with a long trace or READY.
pub const MIN_MESSAGE_SIZE: usize = 4096;

/// The checks behind [`ConfigBuilder::build`]; the first setting found wrong is reported.
fn check(c: &Config) -> crate::Result<()> {
    let invalid =
        |setting: &'static str, problem: String| Err(Error::InvalidSetting { setting, problem });
    let token = c.token.expose();
    if token.is_empty() {
        return invalid(
            "token",
            "the token is empty; copy it from the Developer Portal (your app → Bot → Token)".into(),
        );
    }
    if token
        .chars()
        .any(|ch| ch.is_whitespace() || ch.is_control())
    {
        // Never echo the token: it is the secret.
        return invalid(
            "token",
            "the token contains whitespace or control characters; a bot token is one word".into(),
        );
    }
    if let Some([id, count]) = c.shard {
        if count == 0 {
            return invalid("shard", "the shard count must be at least 1".into());
        }
        if id >= count {
            return invalid(
                "shard",
                format!("the shard id {id} must be below the shard count {count} (ids run from 0 to {})", count - 1),
            );
        }
    }
    if let Some(url) = &c.gateway_url {
        WsUrl::parse(url)?;
    }
    check_api_base(&c.api_base)?;
    if let Some(threshold) = c.large_threshold {
        // Discord: Gateway Events → Identify (`large_threshold`: 50–250).
        if !(50..=250).contains(&threshold) {
            return invalid(
                "large_threshold",
                format!("{threshold} is outside the 50–250 Discord accepts"),
            );
        }
    }
    for (setting, timeout) in [
        ("dial_timeout", c.dial_timeout),
        ("handshake_timeout", c.handshake_timeout),
        ("hello_timeout", c.hello_timeout),
        ("ready_timeout", c.ready_timeout),
        ("slow_handler_warning", c.slow_handler_warning),
    ] {
        if timeout.is_zero() {
            return invalid(setting, "must be above zero".into());
        }
    }
    if let Some(problem) = c.backoff.problem() {
        return invalid("backoff", problem);
    }
    if c.invalid_session_delay.start() > c.invalid_session_delay.end() {
        return invalid(
            "invalid_session_delay",
            format!(
                "the range {:?} is empty (start above end)",
                c.invalid_session_delay
            ),
        );
    }
    if c.event_queue == 0 {
        return invalid("event_queue", "the capacity must be at least 1".into());
    }
    if c.command_queue == 0 {
        return invalid("command_queue", "the capacity must be at least 1".into());
    }
    if c.max_message_size < MIN_MESSAGE_SIZE {
        return invalid(
            "max_message_size",
            format!(
                "{} bytes is below the minimum of {MIN_MESSAGE_SIZE}",
                c.max_message_size
            ),
        );
    }
    let (count, window) = c.rate_limit;
    if count == 0 || window.is_zero() {
        return invalid(
            "rate_limit",
            "both the count and the window must be above zero".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let config = Config::builder("super-secret", Intents::GUILDS)
            .shard(1, 4)
            .build()
            .expect("valid config");
        let text = format!("{config:?}");
        assert!(!text.contains("super-secret"), "{text}");
        assert_eq!(config.shard_id(), 1);
    }

    #[test]
    fn the_default_tls_connector_is_built_once_per_config_and_its_clones() {
        let config = Config::builder("t", Intents::GUILDS)
            .build()
            .expect("valid config");
        let clone = config.clone();
        for c in [&config, &clone, &config] {
            c.tls_connector().expect("a TLS connector");
        }
        let builds = config
            .default_tls
            .builds
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(builds, 1);
    }

    /// One bad value per row; `build` must name the setting (and never print the token).
    #[test]
    fn build_names_the_setting_that_is_wrong() {
        type Adjust = fn(ConfigBuilder) -> ConfigBuilder;
        let secret = "Secret.Token.Value";
        let rows: &[(&str, Adjust, &str)] = &[
            (
                "empty token",
                |_| Config::builder("  ", Intents::GUILDS),
                "`token`",
            ),
            (
                "token with a newline",
                |_| Config::builder("abc\ndef", Intents::GUILDS),
                "`token`",
            ),
            ("shard id = count", |b| b.shard(2, 2), "`shard`"),
            ("shard count 0", |b| b.shard(0, 0), "`shard`"),
            (
                "gateway URL http",
                |b| b.gateway_url("http://gateway.discord.gg"),
                "gateway URL",
            ),
            (
                "gateway URL plain text off loopback",
                |b| b.gateway_url("ws://gateway.discord.gg"),
                "gateway URL",
            ),
            (
                "gateway URL no host",
                |b| b.gateway_url("wss://"),
                "gateway URL",
            ),
            (
                "API base plain text off loopback",
                |b| b.api_base("http://discord.com/api/v10"),
                "API base",
            ),
            (
                "API base wrong scheme",
                |b| b.api_base("ftp://127.0.0.1/api/v10"),
                "API base",
            ),
            (
                "large_threshold 49",
                |b| b.large_threshold(49),
                "`large_threshold`",
            ),
            (
                "large_threshold 251",
                |b| b.large_threshold(251),
                "`large_threshold`",
            ),
            (
                "backoff base above cap",
                |b| {
                    b.backoff(Backoff {
                        base: Duration::from_secs(10),
                        max: Duration::from_secs(1),
                        ..Backoff::default()
                    })
                },
                "`backoff`",
            ),
            (
                "invalid_session_delay empty",
                |b| b.invalid_session_delay(Duration::from_secs(5)..=Duration::from_secs(1)),
                "`invalid_session_delay`",
            ),
            ("event_queue 0", |b| b.event_queue(0), "`event_queue`"),
            ("command_queue 0", |b| b.command_queue(0), "`command_queue`"),
            (
                "max_message_size below the floor",
                |b| b.max_message_size(MIN_MESSAGE_SIZE - 1),
                "`max_message_size`",
            ),
            (
                "rate_limit count 0",
                |b| b.rate_limit(0, Duration::from_secs(60)),
                "`rate_limit`",
            ),
            (
                "rate_limit window 0",
                |b| b.rate_limit(120, Duration::ZERO),
                "`rate_limit`",
            ),
        ];
        let refused = |case: &str, adjust: &dyn Fn(ConfigBuilder) -> ConfigBuilder, named: &str| {
            let builder = adjust(Config::builder(secret, Intents::GUILDS));
            let err = match builder.build() {
                Ok(_) => panic!("{case}: accepted"),
                Err(err) => err,
            };
            let text = err.to_string();
            assert!(
                text.contains(named),
                "{case}: {text:?} does not name {named}"
            );
            assert!(!text.contains(secret), "{case}: {text:?} shows the token");
            assert!(err.is_fatal(), "{case}: a config error is fatal");
        };
        for (case, adjust, named) in rows {
            refused(case, adjust, named);
        }
        // Every timeout and threshold refuses zero.
        type SetDuration = fn(ConfigBuilder, Duration) -> ConfigBuilder;
        let durations: &[(&str, SetDuration)] = &[
            ("dial_timeout", ConfigBuilder::dial_timeout),
            ("handshake_timeout", ConfigBuilder::handshake_timeout),
            ("hello_timeout", ConfigBuilder::hello_timeout),
            ("ready_timeout", ConfigBuilder::ready_timeout),
            ("slow_handler_warning", ConfigBuilder::slow_handler_warning),
        ];
        for (setting, set) in durations {
            let zero = |b| set(b, Duration::ZERO);
            refused(&format!("{setting} 0"), &zero, &format!("`{setting}`"));
        }
    }

    #[test]
    fn build_accepts_the_defaults_and_the_edges_of_each_range() {
        assert!(Config::new("t", Intents::GUILDS).is_ok());
        let config = Config::builder("Bot t", Intents::GUILDS)
            .shard(1, 2)
            .gateway_url("ws://127.0.0.1:9000")
            .api_base("http://[::1]:5000/api/v10")
            .large_threshold(50)
            .max_message_size(MIN_MESSAGE_SIZE)
            .event_queue(1)
            .command_queue(1)
            .rate_limit(1, Duration::from_millis(1))
            .invalid_session_delay(Duration::ZERO..=Duration::ZERO)
            .build()
            .expect("every value is at an edge of its range");
        assert_eq!(config.shard(), Some([1, 2]));
        assert!(Config::builder("t", Intents::GUILDS)
            .large_threshold(250)
            .gateway_url("wss://gateway.discord.gg/?v=10")
            .build()
            .is_ok());
    }

    #[test]
    fn api_base_loses_trailing_slash() {
        let config = Config::builder("t", Intents::GUILDS)
            .api_base("http://127.0.0.1:1/api/v10/")
            .build()
            .expect("valid config");
        assert_eq!(config.api_base, "http://127.0.0.1:1/api/v10");
    }
}
