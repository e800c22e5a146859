//! Slack's Socket Mode on syncord's engine (feature `slack`): the same transport, the same
//! connection threads and the same backoff as the Discord shard, with Slack's rules
//! (Slack: Using Socket Mode).

mod client;
mod dedupe;
pub mod dispatch;
mod event;
pub mod model;
mod wire;

pub use client::{RespondError, SlackHandle, SocketMode};
pub use dispatch::{SlackContext, SlackDispatcher, SlackModel};
pub use event::{Envelope, SlackEvent};
pub use wire::MAX_ACK_BYTES;
