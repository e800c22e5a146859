//! The connection: dialing (tungstenite + native-tls), the read/write handle shared by the
//! reader and writer threads, decompression, and URL checks.

mod connection;
#[cfg(any(test, feature = "sim"))]
pub(crate) mod deflate;
mod inflate;
mod read_ahead;
mod url;

pub(crate) use connection::{Connection, DialOptions, Stream};
pub(crate) use inflate::{inflate_payload, InflateError, Inflater};
pub(crate) use read_ahead::ReadAhead;
pub(crate) use url::{check_api_base, WsUrl};
