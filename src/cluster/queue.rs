//! The identify queue: who may send Identify when (Discord: Gateway → Rate Limiting and
//! Sharding → Max Concurrency).

use crate::Event;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spaces Identify payloads. A shard calls [`IdentifyQueue::wait_turn`] on every
/// connection that will identify a new session (never before a Resume), between Hello and
/// Identify, and sends Identify only once it returns `true`; it keeps heartbeating
/// meanwhile. A dial that fails spends no turn.
///
/// Implementations must block until the shard may go, and return `false` promptly once
/// `stop` says the shard is stopping.
pub trait IdentifyQueue: Send + Sync + 'static {
    /// Blocks until shard `shard_id` of `shard_count` may identify; `false` if the shard
    /// began stopping first (it will not identify).
    fn wait_turn(&self, shard_id: u64, shard_count: u64, stop: &StopSignal<'_>) -> bool;

    /// Where to report what a waiting shard should hear about (the session start limit
    /// running out). A [`Cluster`](crate::cluster::Cluster) calls this once before its
    /// shards start, and delivers what is reported as that shard's events. The default
    /// ignores it: a queue that has nothing to report need not implement it.
    fn set_reporter(&self, reporter: Reporter) {
        let _ = reporter;
    }
}

/// Delivers an [`Event`] to the handler of shard `shard_id`: given to an [`IdentifyQueue`]
/// by [`IdentifyQueue::set_reporter`].
#[derive(Clone)]
pub struct Reporter(Arc<dyn Fn(u64, Event) + Send + Sync>);

impl Reporter {
    /// A reporter that calls `deliver(shard_id, event)`.
    pub fn new(deliver: impl Fn(u64, Event) + Send + Sync + 'static) -> Reporter {
        Reporter(Arc::new(deliver))
    }

    /// Reports `event` to shard `shard_id`'s handler. Called from that shard's own thread
    /// (inside [`IdentifyQueue::wait_turn`]), so it keeps the shard's event order.
    pub fn report(&self, shard_id: u64, event: Event) {
        (self.0)(shard_id, event);
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reporter")
    }
}

/// Where a queue tells a waiting shard about its session starts: the [`Reporter`] a
/// cluster gave it (none until then), and the two announcements both queues make, logged
/// at `warn` and reported as [`Event::SessionStartLimit`].
#[derive(Debug, Default)]
pub(crate) struct Announcer {
    reporter: parking_lot::Mutex<Option<Reporter>>,
}

impl Announcer {
    pub fn set_reporter(&self, reporter: Reporter) {
        *self.reporter.lock() = Some(reporter);
    }

    /// Reports `event` to shard `shard_id`'s handler, if a cluster gave a reporter.
    pub fn report(&self, shard_id: u64, event: Event) {
        let reporter = self.reporter.lock().clone();
        if let Some(reporter) = reporter {
            reporter.report(shard_id, event);
        }
    }

    /// Shard `shard_id` identifies now with few starts left: never spend the last ones
    /// silently.
    pub fn identifying_with_few_left(&self, shard_id: u64, remaining: u64, total: u64) {
        log::warn!(
            "shard {shard_id}: identifying with only {remaining} of {total} session starts left until the limit resets"
        );
        self.report(
            shard_id,
            Event::SessionStartLimit {
                remaining,
                total,
                wait: Duration::ZERO,
            },
        );
    }

    /// Shard `shard_id` waits `wait` for the limit to reset before it identifies.
    pub fn waiting_for_reset(&self, shard_id: u64, remaining: u64, total: u64, wait: Duration) {
        log::warn!(
            "shard {shard_id}: no session starts left ({remaining} of {total}); waiting {wait:.1?} for the limit to reset before identifying"
        );
        self.report(
            shard_id,
            Event::SessionStartLimit {
                remaining,
                total,
                wait,
            },
        );
    }
}

/// The shards of this process waiting for a turn, per bucket: the lowest id of a bucket
/// goes first, so buckets start in shard order.
#[derive(Debug, Default)]
pub(crate) struct WaitingLine(std::collections::HashMap<u64, std::collections::BTreeSet<u64>>);

impl WaitingLine {
    pub fn join(&mut self, bucket: u64, shard_id: u64) {
        self.0.entry(bucket).or_default().insert(shard_id);
    }

    /// Whether no lower shard id of `bucket` is waiting.
    pub fn is_next(&self, bucket: u64, shard_id: u64) -> bool {
        self.0
            .get(&bucket)
            .and_then(|w| w.first())
            .is_none_or(|&first| first == shard_id)
    }

    pub fn leave(&mut self, bucket: u64, shard_id: u64) {
        if let Some(w) = self.0.get_mut(&bucket) {
            w.remove(&shard_id);
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.values().all(std::collections::BTreeSet::is_empty)
    }
}

/// The session start budget (`session_start_limit` of `GET /gateway/bot`; Discord:
/// Gateway → Session Start Limit): how many Identify payloads may still be sent before the
/// limit resets. Exceeding it gets the token reset, so a queue never lets the last start
/// go without a warning and never goes past zero.
#[derive(Clone, Debug)]
pub(crate) struct StartBudget {
    total: u64,
    remaining: u64,
    /// When `remaining` refills to `total`.
    resets_at: Instant,
    /// Discord's period between resets (24 h), for the refills after the first.
    period: Duration,
}

/// What the budget allows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    /// A start may be spent.
    Go,
    /// None left: wait until then.
    WaitUntil(Instant),
}

/// Added to `reset_after` before a spent budget counts as refilled. Discord gives
/// `reset_after` in whole milliseconds, so the reset it names can be up to 1 ms early, and
/// an Identify that arrives before the real reset spends a start that is not there (Discord
/// then resets the bot's token: Gateway → Session Start Limit).
pub(crate) const RESET_MARGIN: Duration = Duration::from_millis(250);

/// Below this share of `total`, every start is logged at `warn`.
pub(crate) const LOW_SHARE: f64 = 0.10;

impl StartBudget {
    /// From a discovery answer received at `now`.
    pub fn new(limit: &crate::SessionStartLimit, now: Instant) -> StartBudget {
        StartBudget {
            total: limit.total.max(1),
            remaining: limit.remaining,
            resets_at: now + Duration::from_millis(limit.reset_after) + RESET_MARGIN,
            period: Duration::from_secs(24 * 60 * 60),
        }
    }

    /// Whether a start may be spent at `now` (refilling first if the reset has passed).
    pub fn check(&mut self, now: Instant) -> Budget {
        if now >= self.resets_at {
            self.remaining = self.total;
            while self.resets_at <= now {
                self.resets_at += self.period;
            }
        }
        if self.remaining > 0 {
            Budget::Go
        } else {
            Budget::WaitUntil(self.resets_at)
        }
    }

    /// Spends one start; returns whether fewer than 10 % are left afterwards.
    pub fn spend(&mut self) -> bool {
        self.remaining = self.remaining.saturating_sub(1);
        self.is_low()
    }

    /// Whether fewer than 10 % of the starts are left.
    pub fn is_low(&self) -> bool {
        (self.remaining as f64) < self.total as f64 * LOW_SHARE
    }

    /// Starts left.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Starts per period.
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Tells an [`IdentifyQueue`] whether the waiting shard is stopping, and waits in a way
/// that a shutdown interrupts.
pub struct StopSignal<'a> {
    sleep: &'a dyn Fn(Duration) -> bool,
}

impl<'a> StopSignal<'a> {
    /// Wraps the shard's interruptible sleep (`false` when interrupted by shutdown).
    pub(crate) fn new(sleep: &'a dyn Fn(Duration) -> bool) -> StopSignal<'a> {
        StopSignal { sleep }
    }

    /// Waits `delay`; returns `false` as soon as the shard is asked to stop (then give up).
    pub fn sleep(&self, delay: Duration) -> bool {
        (self.sleep)(delay)
    }

    /// Whether the shard is stopping.
    pub fn is_stopping(&self) -> bool {
        !(self.sleep)(Duration::ZERO)
    }
}

impl fmt::Debug for StopSignal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSignal")
            .field("stopping", &self.is_stopping())
            .finish()
    }
}

/// The queue a config holds.
#[derive(Clone)]
pub(crate) struct QueueSlot(pub std::sync::Arc<dyn IdentifyQueue>);

impl fmt::Debug for QueueSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentifyQueue")
    }
}

/// Which dispatches the handler wants, by event name: the others are counted for the
/// session but neither scanned past their envelope nor delivered.
pub(crate) trait Wants: Send + Sync {
    /// Whether a dispatch named `name` has a handler (or a waiter).
    fn wants(&self, name: &str) -> bool;
    /// Changes after every change that can turn a verdict from false to true (a handler
    /// or a waiter added), so a verdict kept with it is good until it moves.
    fn version(&self) -> u64;
}

/// The filter a config holds.
#[derive(Clone)]
pub(crate) struct EventFilter(pub std::sync::Arc<dyn Wants>);

impl fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventFilter")
    }
}

/// An [`EventFilter`] that keeps its verdicts per event name until the filter's version
/// moves: asking the filter for every dispatch would take its lock on the reader, beside the
/// handler's thread taking it for every event it routes (the lock's cache line then moves
/// between the two cores on every event). Checking the version is a plain load.
pub(crate) struct CachedFilter {
    filter: EventFilter,
    version: u64,
    verdicts: std::collections::HashMap<Box<str>, bool>,
    /// The last name asked about, and its verdict (`None`: nothing kept): a flood repeats
    /// one name, and comparing it costs less than hashing it. The name's buffer is reused, so
    /// a stream that alternates names allocates nothing on the reader.
    last_name: String,
    last_verdict: Option<bool>,
}

impl CachedFilter {
    /// Names kept at most: a server inventing event names cannot grow the cache further.
    const NAMES: usize = 256;

    pub fn new(filter: EventFilter) -> CachedFilter {
        CachedFilter {
            version: filter.0.version(),
            filter,
            verdicts: std::collections::HashMap::new(),
            last_name: String::new(),
            last_verdict: None,
        }
    }

    pub fn wants(&mut self, name: &str) -> bool {
        // Read before asking: a change after this load moves the version past what is kept.
        let version = self.filter.0.version();
        if version != self.version || self.verdicts.len() >= Self::NAMES {
            self.verdicts.clear();
            self.last_verdict = None;
            self.version = version;
        }
        if let Some(verdict) = self.last_verdict.filter(|_| self.last_name == name) {
            return verdict;
        }
        let verdict = match self.verdicts.get(name) {
            Some(&verdict) => verdict,
            None => {
                let verdict = self.filter.0.wants(name);
                self.verdicts.insert(name.into(), verdict);
                verdict
            }
        };
        self.last_name.clear();
        self.last_name.push_str(name);
        self.last_verdict = Some(verdict);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionStartLimit;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Wants names starting with `A`; counts how often it is asked.
    #[derive(Default)]
    struct Counting {
        asked: AtomicUsize,
        version: AtomicU64,
    }

    impl Wants for Counting {
        fn wants(&self, name: &str) -> bool {
            self.asked.fetch_add(1, Ordering::Relaxed);
            name.starts_with('A')
        }
        fn version(&self) -> u64 {
            self.version.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn the_cached_filter_asks_once_per_name_until_the_version_moves() {
        let inner = Arc::new(Counting::default());
        let mut cached = CachedFilter::new(EventFilter(inner.clone()));
        let asked = || inner.asked.load(Ordering::Relaxed);
        // (name, verdict, asks so far): repeats and alternations are answered from the cache.
        for (name, verdict, asks) in [
            ("A1", true, 1),
            ("A1", true, 1),
            ("B", false, 2),
            ("A1", true, 2),
            ("B", false, 2),
        ] {
            assert_eq!((cached.wants(name), asked()), (verdict, asks), "{name}");
        }
        inner.version.fetch_add(1, Ordering::Relaxed);
        assert_eq!(
            (cached.wants("A1"), asked()),
            (true, 3),
            "asked again after a change"
        );
        // Past its bound the cache starts over instead of growing.
        for n in 0..CachedFilter::NAMES {
            cached.wants(&format!("C{n}"));
        }
        let before = asked();
        assert!(cached.wants("A1"));
        assert_eq!(asked(), before + 1, "A1 was dropped with the full cache");
    }

    fn limit(total: u64, remaining: u64, reset_after: u64) -> SessionStartLimit {
        serde_json::from_str(&format!(
            r#"{{"total":{total},"remaining":{remaining},"reset_after":{reset_after},"max_concurrency":1}}"#
        ))
        .unwrap()
    }

    #[test]
    fn an_exhausted_budget_waits_for_the_reset_then_refills() {
        let now = Instant::now();
        let mut budget = StartBudget::new(&limit(10, 1, 500), now);
        assert_eq!(budget.check(now), Budget::Go);
        assert!(budget.spend(), "0 of 10 left is below 10 %");
        let reset = now + Duration::from_millis(500) + RESET_MARGIN;
        assert_eq!(
            budget.check(reset - Duration::from_millis(1)),
            Budget::WaitUntil(reset),
            "not before the margin"
        );
        assert_eq!(budget.check(now), Budget::WaitUntil(reset));
        assert_eq!(budget.check(reset), Budget::Go);
        assert_eq!(budget.remaining(), 10);
        assert!(!budget.spend());
    }

    #[test]
    fn the_low_warning_starts_below_ten_percent() {
        let now = Instant::now();
        let mut budget = StartBudget::new(&limit(100, 11, 1000), now);
        assert!(!budget.spend(), "10 of 100 left is not below 10 %");
        assert!(budget.spend(), "9 of 100 left is");
    }
}
