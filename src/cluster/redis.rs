//! The identify queue of shards spread over several processes and machines: one Redis key
//! per bucket, taken with `SET NX PX` (cargo feature `redis`).

use super::queue::{Announcer, IdentifyQueue, Reporter, StopSignal, WaitingLine, LOW_SHARE};
use super::window::Window;
use crate::{Error, Event, Result, SessionStartLimit};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// The first wait after Redis fails; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two tries while Redis is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Connect, read and write timeout of each Redis command.
const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a waiter behind a lower shard id of its bucket (in this process) looks again.
const YIELD: Duration = Duration::from_millis(2);

/// Spaces the Identify payloads of every process sharing one Redis server, by Discord's
/// rules: bucket `shard_id % max_concurrency`, one Identify per bucket per window (Gateway →
/// Rate Limiting and Sharding → Max Concurrency). A shard may identify once it has set the
/// key `{prefix}:identify:{bucket}` with `NX` and an expiry of the window (plus slack);
/// nobody deletes it, so the bucket is free again only when the window has passed.
///
/// - Redis unreachable: the shard waits and retries with a capped backoff (0.1 s doubling up
///   to 2 s), logs it at `warn` and tells its handler once ([`Event::Error`]); it never
///   identifies without the key.
/// - Redis restarted (it forgets its keys): the queue sees a new server `run_id` and waits
///   one window before taking any key, so a key lost in the restart cannot let two shards
///   of a bucket identify within a window. A restart costs time, never a violation.
/// - The session start limit, when given, is a counter `{prefix}:session_starts` shared by
///   every process (set once with the discovery's `remaining`, expiring at its reset): at
///   zero every shard waits for the reset and says so ([`Event::SessionStartLimit`]).
///
/// ```no_run
/// use std::sync::Arc;
/// use syncord::cluster::{Cluster, RedisQueue, ShardCount};
/// use syncord::{Config, Intents};
///
/// let queue = RedisQueue::new("redis://127.0.0.1:6379/", 16)?.prefix("mybot");
/// let config = Config::new(std::env::var("DISCORD_TOKEN").unwrap(), Intents::GUILDS)?;
/// let cluster = Cluster::builder(config)
///     .shard_count(ShardCount::Fixed(64))
///     .shards(0..16) // this process; others run 16..32, 32..48, 48..64
///     .identify_queue(Arc::new(queue))
///     .build()?;
/// # Ok::<(), syncord::Error>(())
/// ```
pub struct RedisQueue {
    client: redis::Client,
    /// The URL without its password, for logs and errors.
    shown_url: String,
    prefix: String,
    max_concurrency: u64,
    window: Window,
    limit: Option<SessionStartLimit>,
    link: Mutex<Link>,
    waiting: Mutex<WaitingLine>,
    announcer: Announcer,
    /// Whether this process has set the start counter once (later sets follow a reset).
    counter_set: std::sync::atomic::AtomicBool,
}

/// The connection and what the queue knows of the server behind it.
#[derive(Default)]
struct Link {
    conn: Option<redis::Connection>,
    /// The server's `run_id` when last connected: a new one means Redis restarted.
    run_id: Option<String>,
    /// No key is taken before then (one window after a restart was seen).
    fenced_until: Option<Instant>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("url", &self.shown_url)
            .field("prefix", &self.prefix)
            .field("max_concurrency", &self.max_concurrency)
            .field("window", &self.window.window())
            .finish()
    }
}

/// The URL with any password replaced, safe for logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return "<unparsable Redis URL>".into();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>@{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Why one try did not get the key.
enum Try {
    /// The key is ours; `Some((remaining, total))` when fewer than 10 % of the session
    /// starts are left.
    Granted(Option<(u64, u64)>),
    /// Held by another shard; free again in about this long.
    Busy(Duration),
    /// No session starts left: they refill in this long.
    Exhausted(Duration),
    /// Redis failed.
    Failed(String),
}

impl RedisQueue {
    /// A queue on the Redis server at `url` (`redis://[:password@]host:port[/db]`, or
    /// `rediss://` for TLS if the `redis` crate is built with it) for `max_concurrency`
    /// buckets, with Discord's 5 s window. Connects lazily: an unreachable server is
    /// waited for in [`IdentifyQueue::wait_turn`].
    ///
    /// Errors: [`Error::Config`] if the URL is not a Redis URL (the message shows it
    /// without its password).
    pub fn new(url: &str, max_concurrency: u64) -> Result<RedisQueue> {
        let shown_url = redact_url(url);
        let client = redis::Client::open(url).map_err(|e| {
            Error::Config(format!(
                "invalid Redis URL {shown_url}: {}; use redis://[:password@]host:port[/db]",
                e.kind_name()
            ))
        })?;
        Ok(RedisQueue {
            client,
            shown_url,
            prefix: "syncord".into(),
            max_concurrency: max_concurrency.max(1),
            window: Window::default(),
            limit: None,
            link: Mutex::default(),
            waiting: Mutex::default(),
            announcer: Announcer::default(),
            counter_set: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The key prefix: processes of one bot share it, different bots on one Redis must
    /// not. Defaults to `syncord`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisQueue {
        self.prefix = prefix.into();
        self
    }

    super::window::window_setters! {
        /// The window, with a fifth of it as slack (see
        /// [`LocalQueue::window`](super::LocalQueue::window)). Only change it against a
        /// test server. Defaults to 5 s.
        RedisQueue
    }

    /// Counts session starts against `limit` (from `GET /gateway/bot`) in Redis, shared by
    /// every process. Defaults to no limit.
    #[must_use]
    pub fn session_start_limit(mut self, limit: &SessionStartLimit) -> RedisQueue {
        self.limit = Some(limit.clone());
        self
    }

    fn bucket_key(&self, bucket: u64) -> String {
        format!("{}:identify:{bucket}", self.prefix)
    }

    fn starts_key(&self) -> String {
        format!("{}:session_starts", self.prefix)
    }

    /// One attempt at the bucket's key (and a session start).
    fn try_take(&self, bucket: u64) -> Try {
        let mut link = self.link.lock();
        match self.try_take_on(&mut link, bucket) {
            Ok(outcome) => outcome,
            Err(e) => {
                // Reconnect next time: the connection may be broken.
                link.conn = None;
                Try::Failed(describe(&e))
            }
        }
    }

    fn try_take_on(&self, link: &mut Link, bucket: u64) -> redis::RedisResult<Try> {
        if link.conn.is_none() {
            let mut conn = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
            conn.set_read_timeout(Some(IO_TIMEOUT))?;
            conn.set_write_timeout(Some(IO_TIMEOUT))?;
            let run_id = server_run_id(&mut conn)?;
            if link.run_id.is_some() && link.run_id != run_id {
                log::warn!(
                    "identify queue: the Redis server at {} restarted; no Identify for one window ({:?}) in case it lost a bucket's key",
                    self.shown_url,
                    self.window.hold()
                );
                link.fenced_until = Some(Instant::now() + self.window.hold());
            }
            link.run_id = run_id;
            link.conn = Some(conn);
        }
        if let Some(until) = link.fenced_until {
            let now = Instant::now();
            if now < until {
                return Ok(Try::Busy(until - now));
            }
            link.fenced_until = None;
        }
        let Some(conn) = link.conn.as_mut() else {
            return Ok(Try::Failed("not connected".into()));
        };
        if let Some(wait) = self.starts_exhausted(conn)? {
            return Ok(Try::Exhausted(wait));
        }
        let key = self.bucket_key(bucket);
        let hold_ms = u64::try_from(self.window.hold().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(std::process::id())
            .arg("NX")
            .arg("PX")
            .arg(hold_ms)
            .query(conn)?;
        if set.is_none() {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(conn)?;
            let wait = Duration::from_millis(u64::try_from(ttl).unwrap_or(1).max(1));
            return Ok(Try::Busy(wait.min(self.window.hold())));
        }
        let Some(limit) = &self.limit else {
            return Ok(Try::Granted(None));
        };
        // Spent atomically: another process may have taken the last start meanwhile. Then
        // the key just expires (time lost, no start spent).
        let starts = self.starts_key();
        let left: i64 = redis::cmd("DECR").arg(&starts).query(conn)?;
        if left < 0 {
            let _: i64 = redis::cmd("INCR").arg(&starts).query(conn)?;
            let ttl: i64 = redis::cmd("PTTL").arg(&starts).query(conn)?;
            return Ok(Try::Exhausted(Duration::from_millis(
                u64::try_from(ttl).unwrap_or(1).max(1),
            )));
        }
        let remaining = u64::try_from(left).unwrap_or(0);
        let total = limit.total.max(1);
        let low = (remaining as f64) < total as f64 * LOW_SHARE;
        Ok(Try::Granted(low.then_some((remaining, total))))
    }

    /// With a session start limit: `Some(wait)` if none are left (the key is then not
    /// taken). The counter starts at the discovery's `remaining`, and at `total` after a
    /// reset (when it expired).
    fn starts_exhausted(
        &self,
        conn: &mut redis::Connection,
    ) -> redis::RedisResult<Option<Duration>> {
        let Some(limit) = &self.limit else {
            return Ok(None);
        };
        let key = self.starts_key();
        let exists: bool = redis::cmd("EXISTS").arg(&key).query(conn)?;
        if !exists {
            // The first process sets the discovery's figure; after a reset, `total` for a day.
            let (value, expiry) = if self
                .counter_set
                .swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                (limit.total, 24 * 60 * 60 * 1000)
            } else {
                let margin = super::queue::RESET_MARGIN.as_millis() as u64;
                (limit.remaining, limit.reset_after.max(1) + margin)
            };
            let _: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(expiry)
                .query(conn)?;
        }
        let left: Option<i64> = redis::cmd("GET").arg(&key).query(conn)?;
        if left.unwrap_or(1) > 0 {
            return Ok(None);
        }
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(conn)?;
        Ok(Some(Duration::from_millis(
            u64::try_from(ttl).unwrap_or(1).max(1),
        )))
    }
}

/// The server's `run_id` (`INFO server`), which changes when Redis restarts.
fn server_run_id(conn: &mut redis::Connection) -> redis::RedisResult<Option<String>> {
    let info: String = redis::cmd("INFO").arg("server").query(conn)?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .map(|id| id.trim().to_owned()))
}

/// A Redis error in words (its kind and detail; the `redis` crate does not put the URL in).
fn describe(e: &redis::RedisError) -> String {
    e.to_string()
}

/// The kind of a URL parse error, without echoing the URL back.
trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for redis::RedisError {
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind())
    }
}

impl IdentifyQueue for RedisQueue {
    fn wait_turn(&self, shard_id: u64, _shard_count: u64, stop: &StopSignal<'_>) -> bool {
        let bucket = shard_id % self.max_concurrency;
        self.waiting.lock().join(bucket, shard_id);
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        let mut told_exhausted = false;
        let granted = loop {
            if stop.is_stopping() {
                break false;
            }
            // In this process, the lowest waiting shard id of a bucket goes first.
            let first = self.waiting.lock().is_next(bucket, shard_id);
            let wait = if !first {
                YIELD
            } else {
                match self.try_take(bucket) {
                    Try::Granted(low) => {
                        if let Some((remaining, total)) = low {
                            self.announcer
                                .identifying_with_few_left(shard_id, remaining, total);
                        }
                        break true;
                    }
                    Try::Busy(wait) => {
                        if failures > 0 {
                            log::info!(
                                "identify queue: Redis at {} reachable again (shard {shard_id})",
                                self.shown_url
                            );
                            failures = 0;
                            backoff = FIRST_BACKOFF;
                        }
                        wait
                    }
                    Try::Exhausted(wait) => {
                        if !told_exhausted {
                            told_exhausted = true;
                            let total = self.limit.as_ref().map_or(0, |l| l.total);
                            self.announcer.waiting_for_reset(shard_id, 0, total, wait);
                        }
                        wait
                    }
                    Try::Failed(why) => {
                        failures += 1;
                        let wait = backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        if failures == 1 || failures.is_multiple_of(10) {
                            log::warn!(
                                "identify queue: Redis at {} failed ({why}); shard {shard_id} waits for it (try {failures}, next in {wait:.1?}) and will not identify without the lock",
                                self.shown_url
                            );
                        }
                        if failures == 1 {
                            self.announcer.report(
                                shard_id,
                                Event::Error {
                                    kind: crate::ErrorKind::IdentifyQueue,
                                    message: format!(
                                        "identify queue: Redis at {} is unreachable ({why}); waiting for it before identifying",
                                        self.shown_url
                                    ),
                                },
                            );
                        }
                        wait
                    }
                }
            };
            if !stop.sleep(wait) {
                break false;
            }
        };
        self.waiting.lock().leave(bucket, shard_id);
        granted
    }

    fn set_reporter(&self, reporter: Reporter) {
        self.announcer.set_reporter(reporter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_shown_url() {
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://<redacted>@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("redis://user:p@ss@host:1"),
            "redis://<redacted>@host:1"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        let error = RedisQueue::new("nonsense://:hunter2@x", 1).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let queue = RedisQueue::new("redis://:hunter2@127.0.0.1:1/", 1).unwrap();
        assert!(!format!("{queue:?}").contains("hunter2"));
    }
}
