//! The connection: dialing (tungstenite + native-tls), the read/write handle shared by the
//! reader and writer threads, decompression, URL checks, and the hook discovery puts on
//! ureq's connections.

mod connection;
#[cfg(any(test, feature = "sim"))]
pub(crate) mod deflate;
mod inflate;
mod read_ahead;
mod ureq_hook;
mod url;

pub(crate) use connection::{Connection, DialOptions, Stream};
pub(crate) use inflate::{inflate_payload, InflateError, Inflater};
pub(crate) use read_ahead::ReadAhead;
pub(crate) use ureq_hook::{HeadGuard, Hook};
pub(crate) use url::{check_api_base, WsUrl};
