//! The websocket seam, and the tungstenite + native-tls implementation behind it.
//!
//! A shard reads and writes its connection only through [`WebSocketConnection`], opened by a
//! [`WebSocketAdapter`]: [`TungsteniteAdapter`] by default
//! ([`ConfigBuilder::websocket_adapter`](crate::ConfigBuilder::websocket_adapter) sets
//! another). [`memory`] is a scripted in-memory double for tests. Everything else here
//! (decompression, URL checks, the hook discovery puts on ureq's connections) is internal.

mod adapter;
mod connection;
mod inflate;
pub mod memory;
mod read_ahead;
mod upgrade;
mod ureq_hook;
mod url;

pub(crate) use adapter::AdapterSlot;
pub use adapter::{
    DialCancel, DialError, DialRequest, Message, Text, TransportError, WebSocketAdapter,
    WebSocketConnection,
};
pub use connection::TungsteniteAdapter;
#[cfg(feature = "sim")]
pub(crate) use connection::{wait_for, Connection, Stream};
pub(crate) use inflate::{inflate_payload, InflateError, Inflater};
#[cfg(feature = "sim")]
pub(crate) use read_ahead::ReadAhead;
#[cfg(feature = "fuzzing")]
pub(crate) use ureq_hook::HeadGuard;
pub(crate) use ureq_hook::Hook;
pub(crate) use url::{check_api_base, WsUrl};
