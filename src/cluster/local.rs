//! The in-process identify queue: the default for a [`Cluster`](super::Cluster).

use super::queue::{
    Announcer, Budget, IdentifyQueue, Reporter, StartBudget, StopSignal, WaitingLine,
};
use super::window::Window;
use crate::SessionStartLimit;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How often a waiter behind a lower shard id of its bucket looks again.
const YIELD: Duration = Duration::from_millis(2);

/// How many of the latest turns [`LocalQueue::granted`] keeps.
const GRANTS_KEPT: usize = 4096;

/// Spaces the Identify payloads of every shard in this process: shard `id` is in bucket
/// `id % max_concurrency`, each bucket lets one shard identify per window, and within a
/// bucket the lowest waiting shard id goes first (so buckets start in order: shards
/// `0..max_concurrency` first, then the next block). With a session start limit it never
/// spends the last start: at zero it waits for the reset, and says so.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use syncord::cluster::LocalQueue;
/// use syncord::{Config, Intents};
///
/// let queue = Arc::new(LocalQueue::new(16).window(Duration::from_secs(5)));
/// let config = Config::builder("token", Intents::GUILDS)
///     .shard(3, 32)
///     .identify_queue(queue)
///     .build()?;
/// # let _ = config;
/// # Ok::<(), syncord::Error>(())
/// ```
///
/// For shards spread over several processes, use one queue they share instead (the
/// `redis` feature's `RedisQueue`).
#[derive(Debug)]
pub struct LocalQueue {
    max_concurrency: u64,
    window: Window,
    state: Mutex<State>,
    announcer: Announcer,
}

#[derive(Debug, Default)]
struct State {
    /// When each bucket may identify again.
    free_at: HashMap<u64, Instant>,
    /// Shards waiting, per bucket.
    waiting: WaitingLine,
    budget: Option<StartBudget>,
    /// The latest grants: (shard id, when).
    granted: std::collections::VecDeque<(u64, Instant)>,
}

impl LocalQueue {
    /// A queue for `max_concurrency` buckets (`max_concurrency` of `GET /gateway/bot`; 1
    /// for most bots), with Discord's 5 s window and no session start limit.
    pub fn new(max_concurrency: u64) -> LocalQueue {
        LocalQueue {
            max_concurrency: max_concurrency.max(1),
            window: Window::default(),
            state: Mutex::default(),
            announcer: Announcer::default(),
        }
    }

    /// A queue from `session_start_limit` of `GET /gateway/bot`: its `max_concurrency`, and
    /// its budget of session starts.
    pub fn from_limit(limit: &SessionStartLimit) -> LocalQueue {
        LocalQueue::new(limit.max_concurrency).session_start_limit(limit)
    }

    super::window::window_setters! {
        /// The time a bucket stays used after a grant. The queue holds each bucket for the
        /// window plus a slack of a fifth of it (Discord counts Identify arrivals, and the
        /// time from a grant to its Identify's arrival varies from one shard to the next).
        /// Only change it against a test server. Defaults to 5 s (plus 1 s slack).
        LocalQueue
    }

    /// The window a cluster's builder chose.
    pub(crate) fn with_window(mut self, window: Window) -> LocalQueue {
        self.window = window;
        self
    }

    /// Counts session starts against `limit` (its `remaining` now, refilled after
    /// `reset_after` ms). Defaults to no limit.
    #[must_use]
    pub fn session_start_limit(self, limit: &SessionStartLimit) -> LocalQueue {
        self.state.lock().budget = Some(StartBudget::new(limit, Instant::now()));
        self
    }

    /// The number of buckets.
    pub fn max_concurrency(&self) -> u64 {
        self.max_concurrency
    }

    /// The identify window (without its slack).
    pub fn identify_window(&self) -> Duration {
        self.window.window()
    }

    /// The turns given so far (the latest 4,096): `(shard id, when)`, in order.
    pub fn granted(&self) -> Vec<(u64, Instant)> {
        self.state.lock().granted.iter().copied().collect()
    }

    /// Session starts left, when a limit is set.
    pub fn remaining_starts(&self) -> Option<u64> {
        self.state
            .lock()
            .budget
            .as_ref()
            .map(StartBudget::remaining)
    }
}

/// The queue a shard without one of its own waits on: one per bot token and gateway URL in
/// this process, so shards started one by one still respect Discord's identify limit of
/// one per bucket per 5 s (Gateway → Rate Limiting → Max Concurrency). `max_concurrency`
/// comes from the first shard's `GET /gateway/bot` (1 without discovery), the window is
/// Discord's.
pub(crate) fn process_default(
    token: &crate::Token,
    gateway_url: &str,
    max_concurrency: u64,
) -> Arc<LocalQueue> {
    /// (hash of the token, gateway URL): the token only as a hash, since the key is kept
    /// for the life of the process.
    type Key = (u64, String);
    static QUEUES: OnceLock<Mutex<HashMap<Key, Arc<LocalQueue>>>> = OnceLock::new();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    token.expose().hash(&mut hasher);
    let key = (hasher.finish(), gateway_url.to_owned());
    QUEUES
        .get_or_init(Mutex::default)
        .lock()
        .entry(key)
        .or_insert_with(|| Arc::new(LocalQueue::new(max_concurrency)))
        .clone()
}

impl IdentifyQueue for LocalQueue {
    fn wait_turn(&self, shard_id: u64, _shard_count: u64, stop: &StopSignal<'_>) -> bool {
        let bucket = shard_id % self.max_concurrency;
        self.state.lock().waiting.join(bucket, shard_id);
        let mut told_exhausted = false;
        let granted = loop {
            if stop.is_stopping() {
                break false;
            }
            let now = Instant::now();
            let mut state = self.state.lock();
            let first = state.waiting.is_next(bucket, shard_id);
            let free_at = state.free_at.get(&bucket).copied().unwrap_or(now);
            let wait = if free_at > now {
                free_at - now
            } else if !first {
                // A lower shard id of this bucket takes this turn.
                YIELD
            } else {
                match state.budget.as_mut().map(|b| b.check(now)) {
                    Some(Budget::WaitUntil(until)) => {
                        let wait = until - now;
                        let (remaining, total) = state
                            .budget
                            .as_ref()
                            .map_or((0, 0), |b| (b.remaining(), b.total()));
                        drop(state);
                        if !told_exhausted {
                            told_exhausted = true;
                            self.announcer
                                .waiting_for_reset(shard_id, remaining, total, wait);
                        }
                        if !stop.sleep(wait) {
                            break false;
                        }
                        continue;
                    }
                    Some(Budget::Go) | None => {
                        state.free_at.insert(bucket, now + self.window.hold());
                        if state.granted.len() == GRANTS_KEPT {
                            state.granted.pop_front();
                        }
                        state.granted.push_back((shard_id, now));
                        state.waiting.leave(bucket, shard_id);
                        let low = state
                            .budget
                            .as_mut()
                            .and_then(|b| b.spend().then(|| (b.remaining(), b.total())));
                        drop(state);
                        if let Some((remaining, total)) = low {
                            self.announcer
                                .identifying_with_few_left(shard_id, remaining, total);
                        }
                        return true;
                    }
                }
            };
            drop(state);
            if !stop.sleep(wait) {
                break false;
            }
        };
        self.state.lock().waiting.leave(bucket, shard_id);
        granted
    }

    fn set_reporter(&self, reporter: Reporter) {
        self.announcer.set_reporter(reporter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn never_stopping(d: Duration) -> bool {
        std::thread::sleep(d);
        true
    }

    #[test]
    fn one_bucket_spaces_identifies_by_the_window() {
        let queue = LocalQueue::new(1).window_and_slack(Duration::from_millis(30), Duration::ZERO);
        let stop = StopSignal::new(&never_stopping);
        for id in 0..3 {
            assert!(queue.wait_turn(id, 3, &stop));
        }
        let granted = queue.granted();
        for pair in granted.windows(2) {
            assert!(pair[1].1 - pair[0].1 >= Duration::from_millis(30));
        }
    }

    #[test]
    fn buckets_go_together_and_in_order() {
        let queue = Arc::new(
            LocalQueue::new(4).window_and_slack(Duration::from_millis(100), Duration::ZERO),
        );
        let threads: Vec<_> = (0..8)
            .map(|id| {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    let stop = StopSignal::new(&never_stopping);
                    queue.wait_turn(id, 8, &stop)
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap());
        }
        let granted = queue.granted();
        let first = granted[0].1;
        let mut windows = vec![BTreeSet::new(); 2];
        for (id, at) in granted {
            let window = ((at - first).as_millis() / 100) as usize;
            assert!(
                windows[window].insert(id % 4),
                "bucket {} twice in window {window}",
                id % 4
            );
        }
        assert!(windows.iter().all(|w| w.len() == 4), "{windows:?}");
    }

    #[test]
    fn the_lowest_waiting_shard_of_a_bucket_goes_first() {
        let queue = Arc::new(
            LocalQueue::new(4).window_and_slack(Duration::from_millis(150), Duration::ZERO),
        );
        let stop = StopSignal::new(&never_stopping);
        assert!(queue.wait_turn(8, 12, &stop));
        let threads: Vec<_> = [4, 0]
            .into_iter()
            .map(|id| {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    let stop = StopSignal::new(&never_stopping);
                    queue.wait_turn(id, 12, &stop)
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap());
        }
        let order: Vec<u64> = queue.granted().into_iter().map(|(id, _)| id).collect();
        assert_eq!(order, [8, 0, 4]);
    }

    #[test]
    fn shards_of_one_bot_and_gateway_share_the_default_queue() {
        let token = crate::Token::new("default-queue-test-token");
        let a = process_default(&token, "ws://127.0.0.1:1", 4);
        let b = process_default(&token, "ws://127.0.0.1:1", 1);
        assert!(Arc::ptr_eq(&a, &b), "one queue per bot and gateway");
        assert_eq!(
            b.max_concurrency(),
            4,
            "the first shard's discovery sets it"
        );
        assert_eq!(
            b.identify_window(),
            Duration::from_secs(5),
            "Discord's window"
        );
        let other_gateway = process_default(&token, "ws://127.0.0.1:2", 1);
        assert!(!Arc::ptr_eq(&a, &other_gateway));
        let other_bot = process_default(&crate::Token::new("another"), "ws://127.0.0.1:1", 1);
        assert!(!Arc::ptr_eq(&a, &other_bot));
    }

    #[test]
    fn a_stopping_shard_gives_up_its_wait() {
        let queue = LocalQueue::new(1).window(Duration::from_secs(60));
        let stop = StopSignal::new(&never_stopping);
        assert!(queue.wait_turn(0, 2, &stop));
        let stopped = |_: Duration| false;
        let stop = StopSignal::new(&stopped);
        assert!(!queue.wait_turn(1, 2, &stop));
        assert!(queue.state.lock().waiting.is_empty());
    }
}
