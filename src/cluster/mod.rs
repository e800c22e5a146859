//! Many shards: the identify queue every shard waits on before it identifies.

mod queue;

pub(crate) use queue::{EventFilter, QueueSlot};
pub use queue::{IdentifyQueue, StopSignal};
