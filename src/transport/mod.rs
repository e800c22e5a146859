//! The connection: dialing (tungstenite + native-tls), the read/write handle shared by the
//! reader and writer threads, the discovery HTTP GET, and URL checks.

mod connection;
mod http;
mod url;

pub(crate) use connection::{Connection, DialOptions};
pub(crate) use http::{get, RequestOptions, Response};
pub(crate) use url::{check_api_base, WsUrl};
