//! Simulator settings.

use crate::Intents;
use std::time::Duration;

/// How the simulator behaves. Start from [`SimConfig::default`] and adjust with the setters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub(crate) token: String,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) allowed_privileged: Intents,
    pub(crate) guilds: u32,
    pub(crate) shards: u64,
    pub(crate) max_concurrency: u64,
    pub(crate) max_guilds_per_shard: u32,
    pub(crate) rate_limit: (usize, Duration),
    pub(crate) replay_buffer: usize,
    pub(crate) gateway_bot_429s: u32,
    pub(crate) gateway_bot_5xx: u32,
    pub(crate) gateway_bot_body_size: usize,
    pub(crate) gateway_bot_raw: Option<Vec<u8>>,
    pub(crate) members: u32,
    pub(crate) member_chunk_size: u32,
    pub(crate) zlib_frame_size: usize,
    pub(crate) tls: bool,
    pub(crate) resume_gateway_url: Option<String>,
    pub(crate) heartbeat_grace: Duration,
    pub(crate) resume_window: Duration,
    pub(crate) reconnect_close_delay: Duration,
    pub(crate) end_session_on_close: bool,
    pub(crate) require_user_agent: bool,
    pub(crate) identify_window: Duration,
    pub(crate) reject_early_identify: bool,
    pub(crate) session_start_limit: (u64, u64, Duration),
    pub(crate) shard_count_multiple: u64,
    pub(crate) enforce_intents: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            token: "sim-token".into(),
            heartbeat_interval: Duration::from_millis(41_250),
            allowed_privileged: Intents::PRIVILEGED,
            guilds: 0,
            shards: 1,
            max_concurrency: 1,
            max_guilds_per_shard: 2500,
            rate_limit: (120, Duration::from_secs(60)),
            replay_buffer: 100_000,
            gateway_bot_429s: 0,
            gateway_bot_5xx: 0,
            gateway_bot_body_size: 0,
            gateway_bot_raw: None,
            members: 0,
            member_chunk_size: 1000,
            zlib_frame_size: 4096,
            tls: false,
            resume_gateway_url: None,
            heartbeat_grace: Duration::from_secs(5),
            resume_window: Duration::from_secs(120),
            reconnect_close_delay: Duration::from_secs(5),
            end_session_on_close: false,
            require_user_agent: false,
            identify_window: Duration::from_secs(5),
            reject_early_identify: true,
            session_start_limit: (1000, 1000, Duration::from_secs(24 * 60 * 60)),
            shard_count_multiple: 1,
            enforce_intents: true,
        }
    }
}

impl SimConfig {
    /// The only token the simulator accepts. Defaults to `sim-token`.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> SimConfig {
        self.token = token.into();
        self
    }

    /// The `heartbeat_interval` sent in Hello. Defaults to 41.25 s, like Discord; tests use
    /// ~100 ms.
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> SimConfig {
        self.heartbeat_interval = interval;
        self
    }

    /// Privileged intents the "application" has enabled; asking for others closes with
    /// 4014. Defaults to all of them.
    #[must_use]
    pub fn allowed_privileged(mut self, intents: Intents) -> SimConfig {
        self.allowed_privileged = intents;
        self
    }

    /// Guilds the bot is in: READY lists them unavailable, then a GUILD_CREATE follows for
    /// each guild of the shard. Defaults to 0.
    #[must_use]
    pub fn guilds(mut self, count: u32) -> SimConfig {
        self.guilds = count;
        self
    }

    /// `shards` and `max_concurrency` answered by `GET /gateway/bot` (the count is raised
    /// if the [guilds](SimConfig::guilds) need more shards of
    /// [`max_guilds_per_shard`](SimConfig::max_guilds_per_shard)); `max_concurrency` also
    /// sets the identify buckets. Defaults to 1 and 1.
    #[must_use]
    pub fn shards(mut self, shards: u64, max_concurrency: u64) -> SimConfig {
        self.shards = shards.max(1);
        self.max_concurrency = max_concurrency.max(1);
        self
    }

    /// A shard holding more guilds than this is closed with 4011. Defaults to 2500.
    #[must_use]
    pub fn max_guilds_per_shard(mut self, max: u32) -> SimConfig {
        self.max_guilds_per_shard = max;
        self
    }

    /// The send limit per connection: more than `count` payloads in any `window` closes with
    /// 4008. Defaults to 120 per 60 s.
    #[must_use]
    pub fn rate_limit(mut self, count: usize, window: Duration) -> SimConfig {
        self.rate_limit = (count, window);
        self
    }

    /// Dispatches kept per session for replay on resume; a resume from further back is
    /// closed with 4007. Defaults to 100,000.
    #[must_use]
    pub fn replay_buffer(mut self, events: usize) -> SimConfig {
        self.replay_buffer = events.max(1);
        self
    }

    /// Answer the first `count` `GET /gateway/bot` requests with 429. Defaults to 0.
    #[must_use]
    pub fn gateway_bot_rate_limited(mut self, count: u32) -> SimConfig {
        self.gateway_bot_429s = count;
        self
    }

    /// Answer the next `count` `GET /gateway/bot` requests (after the rate-limited ones)
    /// with HTTP 502, as Discord's edge does when the API is down. Defaults to 0.
    #[must_use]
    pub fn gateway_bot_server_errors(mut self, count: u32) -> SimConfig {
        self.gateway_bot_5xx = count;
        self
    }

    /// Pad the successful `GET /gateway/bot` body with trailing spaces (still valid JSON)
    /// to at least `bytes` bytes, to test how clients treat a huge answer. Defaults to 0
    /// (no padding).
    #[must_use]
    pub fn gateway_bot_body_size(mut self, bytes: usize) -> SimConfig {
        self.gateway_bot_body_size = bytes;
        self
    }

    /// Answer every `GET /gateway/bot` with exactly these bytes, then close: a malformed
    /// or hostile HTTP response. Defaults to none (well-formed answers).
    #[must_use]
    pub fn gateway_bot_raw_response(mut self, bytes: impl Into<Vec<u8>>) -> SimConfig {
        self.gateway_bot_raw = Some(bytes.into());
        self
    }

    /// Under zlib-stream, compressed messages longer than this are split across several
    /// websocket frames, as Discord does. Defaults to 4096 bytes.
    #[must_use]
    pub fn zlib_frame_size(mut self, bytes: usize) -> SimConfig {
        self.zlib_frame_size = bytes.max(1);
        self
    }

    /// Serve `wss://` and `https://` on `localhost` with a freshly generated self-signed
    /// certificate ([`Simulator::certificate_pem`](super::Simulator::certificate_pem)).
    /// Defaults to false.
    #[must_use]
    pub fn tls(mut self, enabled: bool) -> SimConfig {
        self.tls = enabled;
        self
    }

    /// The `resume_gateway_url` READY announces. Defaults to this simulator's `/resume`
    /// path; set it to test how clients treat a bad or insecure resume URL.
    #[must_use]
    pub fn resume_gateway_url(mut self, url: impl Into<String>) -> SimConfig {
        self.resume_gateway_url = Some(url.into());
        self
    }

    /// Members per guild returned by Request Guild Members, in chunks of `chunk_size`.
    /// Defaults to 0 members, chunks of 1000.
    #[must_use]
    pub fn members(mut self, count: u32, chunk_size: u32) -> SimConfig {
        self.members = count;
        self.member_chunk_size = chunk_size.clamp(1, 1000);
        self
    }

    /// How late a heartbeat may be: a connection with no heartbeat for
    /// `heartbeat_interval + grace` (counted from Hello, then from each heartbeat) is closed
    /// with 4009 and its session kept for the [resume window](SimConfig::resume_window).
    /// Discord disconnects clients that miss their heartbeat window but documents neither
    /// the slack nor the code ("Heartbeating" in the Gateway page of Discord's developer
    /// documentation); the interval already includes latency slack. `Duration::MAX` turns the
    /// check off. Defaults to 5 s.
    #[must_use]
    pub fn heartbeat_grace(mut self, grace: Duration) -> SimConfig {
        self.heartbeat_grace = grace;
        self
    }

    /// How long a session outlives its connection: a Resume after that gets op 9 `false`.
    /// Discord keeps a session whose connection dropped "for a few minutes" ("Disconnecting"
    /// in the Gateway page of Discord's developer documentation). Defaults to 120 s.
    #[must_use]
    pub fn resume_window(mut self, window: Duration) -> SimConfig {
        self.resume_window = window;
        self
    }

    /// After op 7 Reconnect, the simulator closes the socket itself (code 4000) if the client
    /// has not after this delay: Discord does so "a few seconds" later ("Reconnect" in the
    /// Gateway page of Discord's developer documentation). Defaults to 5 s.
    #[must_use]
    pub fn reconnect_close_delay(mut self, delay: Duration) -> SimConfig {
        self.reconnect_close_delay = delay;
        self
    }

    /// When the simulator closes a connection with a code after which a client must start a
    /// new session (4003, 4007, 4009, and the fatal 4004, 4010–4014), also destroy the
    /// session, so a client that wrongly resumes after them gets op 9 `false` in its tests.
    /// Applies to [`Simulator::close`](super::Simulator::close) and to the simulator's own
    /// closes (a missed heartbeat, a bad Resume `seq`). Off, the session stays resumable,
    /// as some libraries resume after 4009. Defaults to false.
    #[must_use]
    pub fn end_session_on_close(mut self, enabled: bool) -> SimConfig {
        self.end_session_on_close = enabled;
        self
    }

    /// Close every websocket whose upgrade request had no `User-Agent` header with 4002
    /// ("User-Agent header is required") right after the upgrade, as stock Spacebar servers
    /// do. [`Simulator::user_agents`](super::Simulator::user_agents) shows what each
    /// connection sent either way. Defaults to false.
    #[must_use]
    pub fn require_user_agent(mut self, required: bool) -> SimConfig {
        self.require_user_agent = required;
        self
    }

    /// The identify window: an Identify in a bucket (`shard_id % max_concurrency`, see
    /// [`SimConfig::shards`]) whose previous Identify came less than this before is a
    /// violation, recorded ([`Simulator::identify_violations`](super::Simulator::identify_violations))
    /// and answered with op 9 `false` as Discord does (Gateway → Rate Limiting and
    /// Sharding → Max Concurrency; see [`SimConfig::reject_early_identify`]). Defaults to
    /// 5 s, like Discord; tests that identify again quickly shorten it, and
    /// [`Simulator::client_config`](super::Simulator::client_config) gives clients an
    /// identify queue with this window.
    #[must_use]
    pub fn identify_window(mut self, window: Duration) -> SimConfig {
        self.identify_window = window;
        self
    }

    /// Answer an Identify that comes too soon in its bucket with op 9 `false` (the
    /// connection stays open), as Discord does. Off, it is only recorded (for a test that
    /// counts a client's violations without slowing it down). Defaults to true.
    #[must_use]
    pub fn reject_early_identify(mut self, reject: bool) -> SimConfig {
        self.reject_early_identify = reject;
        self
    }

    /// `session_start_limit` of `GET /gateway/bot`: `total` starts per period, `remaining`
    /// now, refilled to `total` every `reset_after`. Each accepted Identify spends one; an
    /// Identify with none left is closed with 4004, which models Discord resetting the
    /// token (Gateway → Session Start Limit). Defaults to 1000, 1000, 24 h.
    #[must_use]
    pub fn session_start_limit(
        mut self,
        total: u64,
        remaining: u64,
        reset_after: Duration,
    ) -> SimConfig {
        self.session_start_limit = (total.max(1), remaining, reset_after);
        self
    }

    /// Large-bot sharding: a shard count that is not a multiple of `multiple` is closed with
    /// 4010, and the recommended count is rounded up to one (Gateway → Sharding → Sharding
    /// for Large Bots). Defaults to 1 (any count).
    #[must_use]
    pub fn shard_count_multiple(mut self, multiple: u64) -> SimConfig {
        self.shard_count_multiple = multiple.max(1);
        self
    }

    /// Filter dispatches by the intents each session identified with, and blank message
    /// content without `MESSAGE_CONTENT`, as Discord does (see
    /// [`Simulator::push`](super::Simulator::push)). Defaults to true.
    #[must_use]
    pub fn enforce_intents(mut self, enabled: bool) -> SimConfig {
        self.enforce_intents = enabled;
        self
    }
}
