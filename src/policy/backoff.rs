//! Exponential backoff with jitter and a cap (Discord: Gateway → Disconnections, last line).

use std::time::Duration;

/// How long to wait between failed connection attempts.
///
/// Attempt `n` (1-based) waits a random duration in `[d/2, d]` where
/// `d = min(base × 2^(n-1), max)`: full growth, half jitter, so shards that failed together
/// do not retry together. The attempt counter resets once a connection has stayed healthy
/// for `reset_after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry. Defaults to 1 s.
    pub base: Duration,
    /// The cap. Defaults to 2 min.
    pub max: Duration,
    /// A connection healthy this long resets the attempt counter. Defaults to 60 s.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(120),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// What is wrong with these values, for a config builder's `backoff` check (the
    /// Discord and Slack builders share the rule).
    pub(crate) fn problem(&self) -> Option<String> {
        (self.base > self.max)
            .then(|| format!("the base {:?} is above the cap {:?}", self.base, self.max))
    }

    /// The upper bound of the wait before retry number `attempt` (1-based), without jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << shift)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The wait before retry number `attempt`, with `unit` in `[0, 1)` as the jitter draw.
    pub fn delay_with(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// The wait before retry number `attempt`, with a random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_then_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(5), Duration::from_secs(16));
        assert_eq!(b.ceiling(8), Duration::from_secs(120));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(120));
    }

    #[test]
    fn jitter_stays_within_half_to_full_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay_with(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay_with(3, 1.0), Duration::from_secs(4));
        for _ in 0..1000 {
            let d = b.delay(4);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }

    #[test]
    fn jitter_varies() {
        let b = Backoff::default();
        let first = b.delay(6);
        assert!((0..50).any(|_| b.delay(6) != first));
    }
}
