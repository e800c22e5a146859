//! What the simulator enforces across connections: identify buckets, the session start
//! limit, and the recommended shard count (Discord: Gateway → Rate Limiting and Sharding,
//! Session Start Limit, Sharding).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// An Identify that came in a bucket used less than the identify window before.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentifyViolation {
    /// When it came.
    pub at: Instant,
    /// The connection it came on.
    pub connection: u64,
    /// Its `shard` (`[0, 1]` without one).
    pub shard: [u64; 2],
    /// Its bucket (`shard_id % max_concurrency`).
    pub bucket: u64,
    /// How long after the bucket's previous Identify it came.
    pub since_previous: Duration,
}

/// An Identify the simulator accepted (a session started).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptedIdentify {
    /// When it came.
    pub at: Instant,
    /// The connection it came on.
    pub connection: u64,
    /// Its `shard` (`[0, 1]` without one).
    pub shard: [u64; 2],
}

/// The verdict on one Identify, before the session is created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Start the session.
    Accept,
    /// op 9 `false`: the bucket was used less than the window ago.
    TooSoon,
    /// Close with 4004: no session starts left (Discord resets the token).
    Exhausted,
}

/// Identify bookkeeping shared by every connection.
#[derive(Debug)]
pub(crate) struct IdentifyBook {
    window: Duration,
    reject_too_soon: bool,
    max_concurrency: u64,
    last_in_bucket: HashMap<u64, Instant>,
    pub violations: Vec<IdentifyViolation>,
    pub accepted: Vec<AcceptedIdentify>,
    total: u64,
    pub remaining: u64,
    reset_after: Duration,
    resets_at: Instant,
}

impl IdentifyBook {
    pub fn new(config: &super::SimConfig, now: Instant) -> IdentifyBook {
        let (total, remaining, reset_after) = config.session_start_limit;
        IdentifyBook {
            window: config.identify_window,
            reject_too_soon: config.reject_early_identify,
            max_concurrency: config.max_concurrency.max(1),
            last_in_bucket: HashMap::new(),
            violations: Vec::new(),
            accepted: Vec::new(),
            total,
            remaining,
            reset_after,
            resets_at: now + reset_after,
        }
    }

    fn refill(&mut self, now: Instant) {
        if now >= self.resets_at {
            self.remaining = self.total;
            while self.resets_at <= now {
                self.resets_at += self.reset_after.max(Duration::from_millis(1));
            }
        }
    }

    /// `(total, remaining, reset_after)` as `GET /gateway/bot` reports them at `now`.
    pub fn limit(&mut self, now: Instant) -> (u64, u64, Duration) {
        self.refill(now);
        (
            self.total,
            self.remaining,
            self.resets_at.saturating_duration_since(now),
        )
    }

    /// Judges an Identify for `shard` on `connection` at `now`, recording it.
    pub fn judge(&mut self, shard: [u64; 2], connection: u64, now: Instant) -> Verdict {
        let bucket = shard[0] % self.max_concurrency;
        if let Some(previous) = self.last_in_bucket.get(&bucket) {
            let since_previous = now.saturating_duration_since(*previous);
            if since_previous < self.window {
                self.violations.push(IdentifyViolation {
                    at: now,
                    connection,
                    shard,
                    bucket,
                    since_previous,
                });
                if self.reject_too_soon {
                    return Verdict::TooSoon;
                }
            }
        }
        self.refill(now);
        if self.remaining == 0 {
            return Verdict::Exhausted;
        }
        self.remaining -= 1;
        self.last_in_bucket.insert(bucket, now);
        self.accepted.push(AcceptedIdentify {
            at: now,
            connection,
            shard,
        });
        Verdict::Accept
    }
}

/// Discord's recommended count: at least the configured one, enough shards that none
/// holds more than `max_per_shard` guilds, rounded up to a multiple of `multiple`.
pub(crate) fn recommended_shards(
    configured: u64,
    guilds: u32,
    max_per_shard: u32,
    multiple: u64,
) -> u64 {
    let needed = u64::from(guilds).div_ceil(u64::from(max_per_shard.max(1)));
    let count = configured.max(needed).max(1);
    count.div_ceil(multiple.max(1)) * multiple.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;

    #[test]
    fn a_bucket_used_within_the_window_is_a_violation() {
        let config = SimConfig::default()
            .shards(4, 2)
            .identify_window(Duration::from_millis(100));
        let t0 = Instant::now();
        let mut book = IdentifyBook::new(&config, t0);
        assert_eq!(book.judge([0, 4], 1, t0), Verdict::Accept);
        assert_eq!(book.judge([1, 4], 2, t0), Verdict::Accept, "another bucket");
        let soon = t0 + Duration::from_millis(50);
        assert_eq!(
            book.judge([2, 4], 3, soon),
            Verdict::TooSoon,
            "bucket 0 again"
        );
        assert_eq!(book.violations.len(), 1);
        assert_eq!(book.violations[0].since_previous, Duration::from_millis(50));
        let later = t0 + Duration::from_millis(100);
        assert_eq!(book.judge([2, 4], 4, later), Verdict::Accept);
    }

    #[test]
    fn without_rejecting_an_early_identify_is_only_recorded() {
        let config = SimConfig::default()
            .identify_window(Duration::from_millis(100))
            .reject_early_identify(false);
        let t0 = Instant::now();
        let mut book = IdentifyBook::new(&config, t0);
        assert_eq!(book.judge([0, 1], 1, t0), Verdict::Accept);
        let soon = t0 + Duration::from_millis(10);
        assert_eq!(book.judge([0, 1], 2, soon), Verdict::Accept);
        assert_eq!(book.violations.len(), 1);
    }

    #[test]
    fn starts_run_out_then_refill() {
        let config = SimConfig::default()
            .identify_window(Duration::ZERO)
            .session_start_limit(5, 1, Duration::from_millis(200));
        let t0 = Instant::now();
        let mut book = IdentifyBook::new(&config, t0);
        assert_eq!(book.judge([0, 1], 1, t0), Verdict::Accept);
        assert_eq!(book.limit(t0).1, 0);
        assert_eq!(book.judge([0, 1], 2, t0), Verdict::Exhausted);
        let reset = t0 + Duration::from_millis(200);
        assert_eq!(book.limit(reset).1, 5);
        assert_eq!(book.judge([0, 1], 3, reset), Verdict::Accept);
        assert_eq!(book.remaining, 4);
    }

    #[test]
    fn the_recommendation_fits_the_guilds() {
        assert_eq!(recommended_shards(1, 0, 2500, 1), 1);
        assert_eq!(recommended_shards(2, 20, 5, 1), 4);
        assert_eq!(recommended_shards(2, 21, 5, 1), 5);
        assert_eq!(recommended_shards(3, 0, 2500, 16), 16);
    }
}
