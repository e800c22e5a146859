//! Many shards in one process: one discovery, one identify queue, one merged event stream
//! (Discord: Gateway → Sharding).

use super::local::LocalQueue;
use super::queue::{IdentifyQueue, Reporter};
use super::window::Window;
use crate::protocol::Command as CommandPayload;
use crate::{Config, Error, Event, Latency, Result, Shard, ShardHandle, ShardMetrics, ShardState};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::{Mutex, RwLock};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How many shards the bot runs in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardCount {
    /// Discord's recommendation (`shards` of `GET /gateway/bot`), read again when the gateway
    /// says the bot needs more (close 4011): the cluster then restarts with the new count.
    Auto,
    /// This many. A 4011 or 4010 stops the cluster with [`Error::ShardCount`], which names
    /// the count to use.
    Fixed(u64),
}

/// One event of one shard, from [`Cluster::spawn_receiver`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterEvent {
    /// The shard it came from.
    pub shard: u64,
    /// The event.
    pub event: Event,
}

/// What a shard's thread tells the cluster's loop, in the shard's order.
enum Message {
    Event { shard: u64, event: Event },
    Ended { shard: u64, result: Result<()> },
}

/// The shards of one generation (a re-shard starts the next).
struct Lineup {
    count: u64,
    ids: Range<u64>,
    handles: Vec<ShardHandle>,
}

/// What the cluster's handle and its loop share.
pub(crate) struct ClusterShared {
    stop: AtomicBool,
    wake: (Sender<()>, Receiver<()>),
    lineup: RwLock<Lineup>,
    restarts: AtomicU64,
    /// Disconnected once the cluster's loop has returned.
    finished: Mutex<Option<Receiver<()>>>,
}

impl ClusterShared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Waits `delay` unless the cluster is asked to stop first (then false).
    fn sleep(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        while !self.stopping() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            let _ = self.wake.1.recv_timeout(deadline - now);
        }
        false
    }

    fn stop_shards(&self) {
        for handle in &self.lineup.read().handles {
            handle.shutdown();
        }
    }
}

/// Builds a [`Cluster`]: which shards, how many in all, and how they identify.
#[must_use]
pub struct ClusterBuilder {
    config: Config,
    count: ShardCount,
    ids: Option<Range<u64>>,
    queue: Option<Arc<dyn IdentifyQueue>>,
    window: Option<Window>,
    event_queue: usize,
}

impl std::fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field("config", &self.config)
            .field("count", &self.count)
            .field("ids", &self.ids)
            .field("custom_queue", &self.queue.is_some())
            .finish()
    }
}

impl ClusterBuilder {
    /// How many shards in all. Defaults to [`ShardCount::Auto`].
    pub fn shard_count(mut self, count: ShardCount) -> Self {
        self.count = count;
        self
    }

    /// Which shard ids this process runs (`from..to` of the count), when the bot's shards
    /// are spread over several processes. Defaults to all of them.
    pub fn shards(mut self, ids: Range<u64>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// The identify queue every shard waits on: one shared by every process of the bot when
    /// its shards run in several (the `redis` feature's `RedisQueue`). Defaults to a
    /// [`LocalQueue`] with the `max_concurrency` and session start limit of discovery.
    pub fn identify_queue(mut self, queue: Arc<dyn IdentifyQueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The identify window of the default queue, for tests against a simulator configured
    /// with a shorter one; `slack` is added to it (`None`: a fifth of the window, see
    /// [`LocalQueue::window`]). Defaults to Discord's 5 s.
    pub fn identify_window(mut self, window: Duration, slack: Option<Duration>) -> Self {
        self.window = Some(match slack {
            Some(slack) => Window::with_slack(window, slack),
            None => Window::new(window),
        });
        self
    }

    /// Capacity of the one queue that carries every shard's events to the handler. When
    /// it is full the shards wait (back-pressure), nothing is dropped. Defaults to 1024.
    pub fn event_queue(mut self, capacity: usize) -> Self {
        self.event_queue = capacity.max(1);
        self
    }

    /// Checks the settings and discovers what it must (`GET /gateway/bot` once for the
    /// whole cluster, when the count is automatic, the config has no gateway URL, or the
    /// default queue needs `max_concurrency`).
    ///
    /// Errors: [`Error::Config`] for an empty or out-of-range set of shard ids or a count
    /// of 0; discovery's errors ([`Error::AuthenticationFailed`], [`Error::Discovery`]).
    pub fn build(self) -> Result<Cluster> {
        if let ShardCount::Fixed(0) = self.count {
            return Err(Error::Config(
                "a cluster needs at least one shard: ShardCount::Fixed(0) given".into(),
            ));
        }
        let needs_discovery = self.count == ShardCount::Auto
            || self.config.gateway_url.is_none()
            || self.queue.is_none();
        let discovered = if needs_discovery {
            Some(discover(&self.config, &|d| {
                std::thread::sleep(d);
                true
            })?)
        } else {
            None
        };
        let count = match self.count {
            ShardCount::Fixed(n) => n,
            ShardCount::Auto => discovered.as_ref().map_or(1, |bot| bot.shards.max(1)),
        };
        let ids = self.ids.clone().unwrap_or(0..count);
        check_ids(&ids, count)?;
        let gateway_url = match (&self.config.gateway_url, &discovered) {
            (Some(url), _) => url.clone(),
            (None, Some(bot)) => bot.url.clone(),
            (None, None) => unreachable_url()?,
        };
        let queue: Arc<dyn IdentifyQueue> = match self.queue {
            Some(queue) => queue,
            None => {
                let limit = discovered
                    .as_ref()
                    .and_then(|bot| bot.session_start_limit.clone());
                let mut queue = match &limit {
                    Some(limit) => LocalQueue::from_limit(limit),
                    None => LocalQueue::new(1),
                };
                if let Some(window) = self.window {
                    queue = queue.with_window(window);
                }
                Arc::new(queue)
            }
        };
        let (done, finished) = bounded(0);
        let shared = Arc::new(ClusterShared {
            stop: AtomicBool::new(false),
            wake: bounded(1),
            lineup: RwLock::new(Lineup {
                count,
                ids: ids.clone(),
                handles: Vec::new(),
            }),
            restarts: AtomicU64::new(0),
            finished: Mutex::new(Some(finished)),
        });
        Ok(Cluster {
            config: self.config,
            auto: self.count == ShardCount::Auto && self.ids.is_none(),
            count,
            ids,
            gateway_url,
            queue,
            event_queue: self.event_queue,
            shared,
            _done: done,
        })
    }
}

/// Never reached: without a gateway URL, discovery ran.
fn unreachable_url() -> Result<String> {
    Err(Error::Config(
        "no gateway URL: set ConfigBuilder::gateway_url or let the cluster discover it".into(),
    ))
}

fn check_ids(ids: &Range<u64>, count: u64) -> Result<()> {
    if ids.is_empty() || ids.end > count {
        return Err(Error::Config(format!(
            "shard ids {}..{} do not fit a count of {count}: give a non-empty range from..to with to <= {count}",
            ids.start, ids.end
        )));
    }
    Ok(())
}

/// `GET /gateway/bot` with the config's REST base, token and TLS.
fn discover(config: &Config, sleep: &dyn Fn(Duration) -> bool) -> Result<crate::GatewayBot> {
    let never = || false;
    // The config's TLS connector (built once), shared with the shards' dials.
    let tls = match config
        .api_base
        .starts_with("https://")
        .then(|| config.tls_connector())
    {
        Some(Err(e)) => {
            return Err(Error::Discovery {
                message: format!("TLS setup failed: {e}"),
                source: Some(Box::new(e)),
            })
        }
        Some(Ok(tls)) => Some(tls),
        None => None,
    };
    let opts = crate::rest::RequestOptions {
        timeout: config.handshake_timeout,
        tls: tls.as_ref(),
        on_connected: Arc::new(|_: &std::net::TcpStream| {}),
        aborted: &never,
    };
    crate::rest::gateway_bot(&config.api_base, &config.token, &opts, sleep)
}

/// Many shards of one bot in this process, sharing one identify queue and one event stream.
///
/// ```no_run
/// use syncord::cluster::{Cluster, ShardCount};
/// use syncord::{Config, Event, Intents};
///
/// let config = Config::new(std::env::var("DISCORD_TOKEN").unwrap(), Intents::GUILDS)?;
/// let cluster = Cluster::builder(config).shard_count(ShardCount::Auto).build()?;
/// let handle = cluster.handle(); // Clone + Send + Sync: send commands, read states, stop
/// cluster.run(|shard, event| {
///     if let Event::Dispatch(d) = event {
///         println!("shard {shard}: {} #{}", d.event_type(), d.seq());
///     }
/// })?;
/// # Ok::<(), syncord::Error>(())
/// ```
///
/// Each shard runs on its own thread (`syncord-sh-N`) with its connection's three threads;
/// each keeps its own order and exactly-once promise, and its events reach the handler in
/// that order (events of different shards interleave). The queue between the shards and
/// the handler is bounded ([`ClusterBuilder::event_queue`]): a slow handler slows the
/// shards down, it does not lose events.
pub struct Cluster {
    config: Config,
    auto: bool,
    count: u64,
    ids: Range<u64>,
    gateway_url: String,
    queue: Arc<dyn IdentifyQueue>,
    event_queue: usize,
    shared: Arc<ClusterShared>,
    /// Dropped with the cluster: [`ClusterHandle::wait_stopped`] sees its end.
    _done: Sender<()>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("count", &self.count)
            .field("ids", &self.ids)
            .field("auto", &self.auto)
            .finish()
    }
}

/// How one generation of shards ended.
enum Outcome {
    /// Every shard stopped (shutdown).
    Stopped,
    /// Fatal for the cluster.
    Failed(Error),
    /// Restart with a new count (4011 under an automatic count).
    Reshard,
}

impl Cluster {
    /// Starts a builder from the config every shard uses (its `shard` and `gateway_url`
    /// are set per shard by the cluster; its identify queue is replaced by the cluster's).
    pub fn builder(config: Config) -> ClusterBuilder {
        ClusterBuilder {
            config,
            count: ShardCount::Auto,
            ids: None,
            queue: None,
            window: None,
            event_queue: 1024,
        }
    }

    /// A handle for other threads: commands to a shard or a guild's shard, states,
    /// latencies, shutdown.
    pub fn handle(&self) -> ClusterHandle {
        ClusterHandle {
            shared: self.shared.clone(),
        }
    }

    /// The total shard count this cluster starts with.
    pub fn shard_count(&self) -> u64 {
        self.count
    }

    /// The shard ids this cluster runs.
    pub fn shard_ids(&self) -> Range<u64> {
        self.ids.clone()
    }

    /// Runs every shard and hands each event to `handler(shard_id, event)` on this thread,
    /// until [`ClusterHandle::shutdown`] (returns `Ok` once every shard thread is joined) or
    /// an error that is fatal for the bot (a bad token, a refused shard count; the others
    /// are shut down first). A panic in the handler is logged and the cluster carries on.
    pub fn run<H: FnMut(u64, Event)>(mut self, mut handler: H) -> Result<()> {
        let result = self.generations(&mut handler);
        self.shared.stop.store(true, Ordering::Release);
        drop(self.shared.finished.lock().take());
        result
    }

    fn generations(&mut self, handler: &mut dyn FnMut(u64, Event)) -> Result<()> {
        let (tx, rx) = bounded::<Message>(self.event_queue);
        {
            let reporter_tx = tx.clone();
            self.queue.set_reporter(Reporter::new(move |shard, event| {
                let _ = reporter_tx.send(Message::Event { shard, event });
            }));
        }
        loop {
            let threads = match self.start_generation(&tx) {
                Ok(Some(threads)) => threads,
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            };
            let outcome = self.deliver(&rx, threads.len(), handler);
            for thread in threads {
                let _ = thread.join();
            }
            match outcome {
                Outcome::Stopped => return Ok(()),
                Outcome::Failed(e) => return Err(e),
                Outcome::Reshard => {}
            }
            let old = self.count;
            let shared = self.shared.clone();
            let bot = match discover(&self.config, &|d| shared.sleep(d)) {
                Ok(bot) => bot,
                Err(Error::Stopped) => return Ok(()),
                Err(e) => return Err(e),
            };
            let new = bot.shards.max(1);
            log::warn!(
                "re-sharding: the gateway requires more shards than {old} (close 4011); restarting every shard with {new}"
            );
            self.count = new;
            self.ids = 0..new;
            self.shared.restarts.fetch_add(1, Ordering::AcqRel);
            let lowest = self.ids.start;
            emit(
                handler,
                lowest,
                Event::Error {
                    kind: crate::ErrorKind::Resharded,
                    message: format!(
                        "re-sharding: the gateway closed with 4011 (sharding required) at {old} shards; restarted with {new} (GET /gateway/bot)"
                    ),
                },
            );
        }
    }

    /// Starts one thread per shard id; `None` when a shutdown came first.
    fn start_generation(&self, tx: &Sender<Message>) -> Result<Option<Vec<JoinHandle<()>>>> {
        let mut shards = Vec::new();
        for id in self.ids.clone() {
            let mut config = self.config.clone();
            config.shard = Some([id, self.count]);
            config.gateway_url = Some(self.gateway_url.clone());
            config.identify_queue = Some(super::QueueSlot(self.queue.clone()));
            shards.push((id, Shard::with_config(config)));
        }
        {
            let mut lineup = self.shared.lineup.write();
            if self.shared.stopping() {
                return Ok(None);
            }
            *lineup = Lineup {
                count: self.count,
                ids: self.ids.clone(),
                handles: shards.iter().map(|(_, shard)| shard.handle()).collect(),
            };
        }
        let mut threads = Vec::with_capacity(shards.len());
        for (id, shard) in shards {
            let events = tx.clone();
            let ended = tx.clone();
            let handle = shard.handle();
            let spawned = std::thread::Builder::new()
                .name(format!("syncord-sh-{id}"))
                .spawn(move || {
                    let result = shard.run(move |event| {
                        if events.send(Message::Event { shard: id, event }).is_err() {
                            handle.shutdown();
                        }
                    });
                    let _ = ended.send(Message::Ended { shard: id, result });
                });
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    self.shared.stop_shards();
                    for thread in threads {
                        let _ = thread.join();
                    }
                    return Err(Error::Spawn {
                        thread: format!("syncord-sh-{id}"),
                        source: e,
                    });
                }
            }
        }
        Ok(Some(threads))
    }

    /// Delivers events until all `running` shards have ended.
    fn deliver(
        &self,
        rx: &Receiver<Message>,
        mut running: usize,
        handler: &mut dyn FnMut(u64, Event),
    ) -> Outcome {
        let mut outcome = Outcome::Stopped;
        let mut ending = false;
        while running > 0 {
            let message = match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match message {
                Message::Event { shard, event } => emit(handler, shard, event),
                Message::Ended { shard, result } => {
                    running -= 1;
                    let Err(error) = result else { continue };
                    if ending {
                        continue;
                    }
                    ending = true;
                    outcome = self.classify(shard, error);
                    self.shared.stop_shards();
                }
            }
        }
        outcome
    }

    /// What a shard's fatal error means for the cluster.
    fn classify(&self, shard: u64, error: Error) -> Outcome {
        let close_code = match &error {
            Error::ShardingRequired => 4011,
            Error::InvalidShard { .. } => 4010,
            _ => {
                log::error!("shard {shard} stopped: {error}; stopping the cluster");
                return Outcome::Failed(error);
            }
        };
        if close_code == 4011 && self.auto {
            return Outcome::Reshard;
        }
        let shared = self.shared.clone();
        let recommended = discover(&self.config, &|d| shared.sleep(d))
            .ok()
            .map(|bot| bot.shards);
        let error = Error::ShardCount {
            close_code,
            count: self.count,
            recommended,
        };
        log::error!("shard {shard}: {error}");
        Outcome::Failed(error)
    }

    /// Runs the cluster on a new thread (`syncord-cluster`), `handler` there.
    pub fn spawn<H: FnMut(u64, Event) + Send + 'static>(self, handler: H) -> Result<ClusterThread> {
        let handle = self.handle();
        let thread = std::thread::Builder::new()
            .name("syncord-cluster".into())
            .spawn(move || self.run(handler))
            .map_err(|source| Error::Spawn {
                thread: "syncord-cluster".into(),
                source,
            })?;
        Ok(ClusterThread { handle, thread })
    }

    /// Runs the cluster on a new thread and hands its events out through a channel (for
    /// `select!`). The channel holds [`ClusterBuilder::event_queue`] events; when it is full
    /// the shards wait. Dropping the receiver shuts the cluster down.
    pub fn spawn_receiver(self) -> Result<(ClusterThread, Receiver<ClusterEvent>)> {
        let (tx, rx) = bounded(self.event_queue);
        let handle = self.handle();
        let thread = self.spawn(move |shard, event| {
            if tx.send(ClusterEvent { shard, event }).is_err() {
                handle.shutdown();
            }
        })?;
        Ok((thread, rx))
    }
}

/// Calls the handler, isolating its panics.
fn emit(handler: &mut dyn FnMut(u64, Event), shard: u64, event: Event) {
    let name = event.name();
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler(shard, event))) {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        log::error!("shard {shard}: the cluster handler panicked on the {name} event: {message}");
    }
}

/// A cluster running on its own thread, from [`Cluster::spawn`].
#[derive(Debug)]
pub struct ClusterThread {
    handle: ClusterHandle,
    thread: JoinHandle<Result<()>>,
}

impl ClusterThread {
    /// The cluster's handle.
    pub fn handle(&self) -> &ClusterHandle {
        &self.handle
    }

    /// Waits for the cluster to stop and returns what `run` returned.
    pub fn join(self) -> Result<()> {
        self.thread
            .join()
            .map_err(|_| Error::Thread("the cluster thread panicked".into()))?
    }

    /// Shuts every shard down and waits until every shard thread has been joined.
    pub fn shutdown(self) -> Result<()> {
        self.handle.shutdown();
        self.join()
    }
}

/// A cheap, cloneable, `Send + Sync` handle to a [`Cluster`].
#[derive(Clone)]
pub struct ClusterHandle {
    shared: Arc<ClusterShared>,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lineup = self.shared.lineup.read();
        f.debug_struct("ClusterHandle")
            .field("count", &lineup.count)
            .field("ids", &lineup.ids)
            .finish()
    }
}

impl ClusterHandle {
    /// The handle of shard `id`, if this cluster runs it (a re-shard replaces the shards:
    /// take a handle again after one).
    pub fn shard(&self, id: u64) -> Option<ShardHandle> {
        let lineup = self.shared.lineup.read();
        let index = id.checked_sub(lineup.ids.start)?;
        lineup.handles.get(usize::try_from(index).ok()?).cloned()
    }

    /// The total shard count (of every process of the bot).
    pub fn shard_count(&self) -> u64 {
        self.shared.lineup.read().count
    }

    /// The shard ids this cluster runs.
    pub fn shard_ids(&self) -> Range<u64> {
        self.shared.lineup.read().ids.clone()
    }

    /// How many times the cluster restarted with a new count (4011 under
    /// [`ShardCount::Auto`]).
    pub fn restarts(&self) -> u64 {
        self.shared.restarts.load(Ordering::Acquire)
    }

    /// The shard that receives guild `guild_id`'s events: `(guild_id >> 22) % count`
    /// (Discord: Gateway → Sharding → Sharding Formula).
    pub fn shard_for_guild(&self, guild_id: u64) -> u64 {
        shard_for_guild(guild_id, self.shard_count())
    }

    /// Sends a command on shard `id` ([`ShardHandle::send`]). [`Error::Config`] if this
    /// cluster does not run that shard.
    pub fn send_to<C: CommandPayload>(&self, id: u64, command: &C) -> Result<()> {
        match self.shard(id) {
            Some(shard) => shard.send(command),
            None => Err(self.not_here(id, None)),
        }
    }

    /// Sends a command on the shard of guild `guild_id`. [`Error::Config`] if that shard
    /// runs in another process.
    pub fn send_to_guild<C: CommandPayload>(&self, guild_id: u64, command: &C) -> Result<()> {
        let id = self.shard_for_guild(guild_id);
        match self.shard(id) {
            Some(shard) => shard.send(command),
            None => Err(self.not_here(id, Some(guild_id))),
        }
    }

    fn not_here(&self, id: u64, guild: Option<u64>) -> Error {
        let ids = self.shard_ids();
        let whose = guild.map_or(String::new(), |g| format!(" (guild {g}'s shard)"));
        Error::Config(format!(
            "shard {id}{whose} is not run by this cluster, which runs shards {}..{} of {}: send it from the process that runs it",
            ids.start,
            ids.end,
            self.shard_count()
        ))
    }

    /// Every shard's state, by id.
    pub fn states(&self) -> Vec<(u64, ShardState)> {
        self.each(ShardHandle::state)
    }

    /// Every shard's heartbeat latency, by id.
    pub fn latencies(&self) -> Vec<(u64, Latency)> {
        self.each(ShardHandle::latency)
    }

    fn each<T>(&self, f: impl Fn(&ShardHandle) -> T) -> Vec<(u64, T)> {
        let lineup = self.shared.lineup.read();
        lineup
            .ids
            .clone()
            .zip(lineup.handles.iter().map(f))
            .collect()
    }

    /// Every shard's counters, and their sum.
    pub fn metrics(&self) -> ClusterMetrics {
        let shards = self.each(ShardHandle::metrics);
        let mut total = ShardMetrics::default();
        for (_, metrics) in &shards {
            total.add(metrics);
        }
        ClusterMetrics {
            shard_count: self.shard_count(),
            restarts: self.restarts(),
            shards,
            total,
        }
    }

    /// Shuts every shard down (each closes with 1000). Returns at once, from any thread,
    /// including inside the handler: [`Cluster::run`] returns once every shard thread is
    /// joined ([`ClusterThread::shutdown`] waits for that).
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::Release);
        let _ = self.shared.wake.0.try_send(());
        self.shared.stop_shards();
    }

    /// Waits up to `timeout` for the cluster's loop to return; true if it did.
    pub fn wait_stopped(&self, timeout: Duration) -> bool {
        let finished = self.shared.finished.lock().clone();
        match finished {
            Some(rx) => matches!(
                rx.recv_timeout(timeout),
                Err(RecvTimeoutError::Disconnected)
            ),
            None => true,
        }
    }
}

/// A snapshot of a cluster's counters ([`ClusterHandle::metrics`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterMetrics {
    /// The total shard count.
    pub shard_count: u64,
    /// Restarts with a new count (re-sharding).
    pub restarts: u64,
    /// Each shard's counters, by id (counted since the current generation of shards
    /// started).
    pub shards: Vec<(u64, ShardMetrics)>,
    /// Their sum (queue depths added, the highest latency).
    pub total: ShardMetrics,
}

/// `(guild_id >> 22) % count` (Discord: Gateway → Sharding → Sharding Formula).
pub fn shard_for_guild(guild_id: u64, count: u64) -> u64 {
    (guild_id >> 22) % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guilds_route_by_the_sharding_formula() {
        assert_eq!(shard_for_guild(0, 16), 0);
        assert_eq!(shard_for_guild(5 << 22, 4), 1);
        assert_eq!(shard_for_guild(81_384_788_765_712_384, 16), 2);
        assert_eq!(shard_for_guild(123, 0), 0);
    }

    #[test]
    fn handles_are_send_sync_clone() {
        fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<ClusterHandle>();
        fn assert_send<T: Send>() {}
        assert_send::<Cluster>();
    }

    #[test]
    fn shard_ids_must_fit_the_count() {
        assert!(check_ids(&(0..4), 4).is_ok());
        assert!(check_ids(&(4..4), 4).is_err());
        let text = check_ids(&(2..5), 4).unwrap_err().to_string();
        assert!(text.contains("to <= 4"), "{text}");
    }
}
