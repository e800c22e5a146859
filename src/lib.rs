//! syncord: a blocking, thread-based Discord Gateway client.
#![deny(missing_docs)]

mod config;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod protocol;
mod ratelimit;
mod rest;
mod shard;
#[cfg(feature = "sim")]
pub mod sim;
mod token;
mod transport;

pub use config::{Compression, Config, ConfigBuilder, WhileDisconnected, DEFAULT_API_BASE};
pub use error::{Error, Result};
pub use protocol::Intents;
pub use ratelimit::GATEWAY_SEND_LIMIT;
pub use rest::{GatewayBot, SessionStartLimit};
pub use shard::{
    Backoff, Dispatch, Event, GuildMembers, MembersRequest, Session, Shard, ShardHandle,
    ShardState, ShardThread,
};
pub use token::Token;
