//! Many shards: a [`Cluster`] runs shards `from..to` of a bot's shard count in this
//! process, and an [`IdentifyQueue`] spaces their Identify payloads (Discord: Gateway →
//! Sharding, and Rate Limiting → Max Concurrency).
//!
//! - One `GET /gateway/bot` for the whole cluster: the count (when automatic), the gateway
//!   URL, `max_concurrency` and the session start limit.
//! - Shard `id` identifies in bucket `id % max_concurrency`, one per bucket per 5 s, buckets
//!   in order; Resumes never wait. The default queue is [`LocalQueue`] (this process); for
//!   shards in several processes or machines, a queue they share (`RedisQueue`, cargo
//!   feature `redis`).
//! - The session start limit is never exceeded (Discord resets the token of a bot that
//!   does): below 10 % every start is logged at `warn`, and at zero the shard waits for
//!   the reset and says so ([`Event::SessionStartLimit`](crate::Event::SessionStartLimit)).
//! - Close 4011 (sharding required) under [`ShardCount::Auto`] re-reads the count and
//!   restarts every shard with it; with a fixed count, 4011 and 4010 stop the cluster with
//!   [`Error::ShardCount`](crate::Error::ShardCount), which names the count to use.

mod local;
mod queue;
#[cfg(feature = "redis")]
mod redis;
mod shards;
mod window;

pub(crate) use local::process_default;
pub use local::LocalQueue;
pub(crate) use queue::{CachedFilter, EventFilter, QueueSlot, Wants};
pub use queue::{IdentifyQueue, Reporter, StopSignal};
#[cfg(feature = "redis")]
pub use redis::RedisQueue;
pub use shards::{
    shard_for_guild, Cluster, ClusterBuilder, ClusterEvent, ClusterHandle, ClusterMetrics,
    ClusterThread, ShardCount,
};
pub use window::IDENTIFY_WINDOW;
