//! The connection: dialing (tungstenite + native-tls), the read/write handle shared by the
//! reader and writer threads, and URL checks.

mod connection;
mod url;

pub(crate) use connection::{Connection, DialOptions};
pub(crate) use url::{check_api_base, WsUrl};
