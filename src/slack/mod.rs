//! Slack's Socket Mode ([`SocketMode`]) and legacy RTM ([`Rtm`]) on syncord's engine
//! (feature `slack`): the same transport, the same connection threads, the same stop and
//! backoff as the Discord shard, with Slack's rules (Slack: Using Socket Mode; Legacy RTM
//! API).

mod client;
mod config;
mod connection;
mod dedupe;
pub mod dispatch;
mod event;
mod link;
pub mod model;
mod open;
mod policy;
mod rtm;
mod runner;
mod wire;

pub use client::{RespondError, SlackHandle, SlackThread, SocketMode};
pub use config::{SlackConfig, SlackConfigBuilder, SlackToken, DEFAULT_SLACK_API_BASE};
pub use dispatch::{SlackContext, SlackDispatcher, SlackModel};
pub use event::{Envelope, Reply, RtmMessage, SlackEvent};
pub use rtm::{Rtm, RtmHandle, MAX_RTM_MESSAGE_BYTES, MAX_RTM_TEXT_CHARS};
pub use wire::MAX_ACK_BYTES;
