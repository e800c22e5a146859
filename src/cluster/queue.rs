//! The identify queue: who may send Identify when (Discord: Gateway → Rate Limiting and
//! Sharding → Max Concurrency).

use std::fmt;
use std::time::Duration;

/// Spaces Identify payloads. A shard calls [`IdentifyQueue::wait_turn`] before every
/// connection that will identify a new session (never before a Resume) and dials only once
/// it returns `true`.
///
/// Implementations must block until the shard may go, and return `false` promptly once
/// `stop` says the shard is stopping.
pub trait IdentifyQueue: Send + Sync + 'static {
    /// Blocks until shard `shard_id` of `shard_count` may identify; `false` if the shard
    /// began stopping first (it will not identify).
    fn wait_turn(&self, shard_id: u64, shard_count: u64, stop: &StopSignal<'_>) -> bool;
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
#[derive(Clone)]
pub(crate) struct EventFilter(pub std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventFilter")
    }
}
