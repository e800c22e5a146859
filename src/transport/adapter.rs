//! The websocket-engine seam: what a websocket library implements so that the shard's
//! threads can run on it.

use bytes::Bytes;
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Opens websocket connections: the one thing a websocket library must provide to carry a
/// shard. [`TungsteniteAdapter`](super::TungsteniteAdapter) (tungstenite + native-tls) is the
/// default; [`MemoryAdapter`](super::memory::MemoryAdapter) is a scripted double for tests.
///
/// A connection is used by three threads at once (reader, heartbeat through the writer, and
/// the writer), so everything takes `&self`; see [`WebSocketConnection`] for the contract.
///
/// How another websocket crate plugs in: wrap its client in a type that implements
/// [`WebSocketConnection`], and give the shard an adapter that dials it.
///
/// ```
/// use std::sync::Arc;
/// use syncord::transport::{
///     DialError, DialRequest, Message, TransportError, WebSocketAdapter, WebSocketConnection,
/// };
/// use syncord::{Config, Intents};
///
/// /// Another websocket library's client, adapted.
/// struct OtherSocket { /* the library's connection, behind a lock or split halves */ }
///
/// impl WebSocketConnection for OtherSocket {
///     fn try_read(&self) -> Result<Option<Message>, TransportError> {
///         Ok(None) // the next buffered or readable message, without blocking
///     }
///     fn wait_readable(&self) -> Result<(), TransportError> {
///         Err(TransportError::Eof) // block until readable, or until `shutdown`
///     }
///     fn send(&self, _message: Message) -> Result<(), TransportError> {
///         Ok(())
///     }
///     fn close(&self, _code: u16, _reason: &str) {}
///     fn shutdown(&self) {}
/// }
///
/// struct OtherAdapter;
///
/// impl WebSocketAdapter for OtherAdapter {
///     fn dial(&self, request: &DialRequest<'_>) -> Result<Box<dyn WebSocketConnection>, DialError> {
///         // Send every header of `request.headers` (the User-Agent among them), honour
///         // the timeouts, and give up when `request.cancel` fires.
///         let _ = (request.url, request.headers);
///         Ok(Box::new(OtherSocket {}))
///     }
/// }
///
/// let config = Config::builder("token", Intents::GUILDS)
///     .websocket_adapter(Arc::new(OtherAdapter))
///     .build()?;
/// # let _ = config;
/// # Ok::<(), syncord::Error>(())
/// ```
pub trait WebSocketAdapter: Send + Sync + 'static {
    /// Connects to `request.url` (a `ws://` or `wss://` URL with its query string), sends
    /// `request.headers` with the upgrade, and completes the websocket handshake within the
    /// request's timeouts. Must return promptly once `request.cancel` is cancelled.
    fn dial(&self, request: &DialRequest<'_>) -> Result<Box<dyn WebSocketConnection>, DialError>;
}

/// One open websocket, shared by the shard's reader and writer threads.
///
/// The contract that lets the reader wait for a message while the writer writes:
/// - [`try_read`](Self::try_read) never blocks for long: it returns a message that is
///   buffered or readable now, or `Ok(None)`. It may hold a lock briefly, never across a
///   wait for the network, so a concurrent [`send`](Self::send) gets through.
/// - [`wait_readable`](Self::wait_readable) blocks until a read may make progress *without*
///   holding anything [`send`](Self::send) needs, and returns (with an error, or `Ok` so
///   the next read reports the error) once [`shutdown`](Self::shutdown) or
///   [`close`](Self::close) is called from another thread.
/// - [`send`](Self::send) writes and flushes one whole message; messages from different
///   threads never interleave on the wire. A peer that accepts no bytes for a long time
///   (tens of seconds) is an error, not an endless wait.
/// - A close frame from the peer is reported by `try_read` as
///   [`TransportError::Closed`] with its code.
pub trait WebSocketConnection: Send + Sync {
    /// The next message if one is available without waiting, else `Ok(None)`.
    fn try_read(&self) -> Result<Option<Message>, TransportError>;

    /// Blocks until the connection is readable (or has failed, or was shut down).
    fn wait_readable(&self) -> Result<(), TransportError>;

    /// Writes and flushes one message.
    fn send(&self, message: Message) -> Result<(), TransportError>;

    /// Writes a text message that carries a secret (Identify and Resume carry the token).
    /// An adapter whose library logs frame contents must write this one without logging;
    /// the default just calls [`send`](Self::send).
    fn send_secret(&self, text: &str) -> Result<(), TransportError> {
        self.send(Message::text(text.to_owned()))
    }

    /// Sends a websocket ping. Defaults to [`send`](Self::send) of [`Message::Ping`].
    fn ping(&self, payload: Bytes) -> Result<(), TransportError> {
        self.send(Message::Ping(payload))
    }

    /// Sends a close frame with `code` and `reason` (best effort, briefly), then shuts the
    /// connection down like [`shutdown`](Self::shutdown).
    fn close(&self, code: u16, reason: &str);

    /// Drops the connection at once (no close frame) and wakes a blocked
    /// [`wait_readable`](Self::wait_readable).
    fn shutdown(&self);
}

/// A websocket message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message (always valid UTF-8).
    Text(Text),
    /// A binary message (compressed gateway payloads arrive this way).
    Binary(Bytes),
    /// A ping; adapters answer pings themselves, the shard ignores them.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Text>) -> Message {
        Message::Text(text.into())
    }
}

/// The text of a text message: UTF-8 bytes, shared without copying.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks or inherits UTF-8 validity.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Bytes already known to be UTF-8 (tungstenite checked them).
    pub(crate) fn from_utf8_bytes(text: tungstenite::Utf8Bytes) -> Text {
        Text(Bytes::from(text))
    }
}

impl TryFrom<Bytes> for Text {
    type Error = std::str::Utf8Error;

    /// Checks that `bytes` are UTF-8.
    fn try_from(bytes: Bytes) -> Result<Text, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Text(bytes))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(Bytes::from(text))
    }
}

impl From<&'static str> for Text {
    fn from(text: &'static str) -> Text {
        Text(Bytes::from_static(text.as_bytes()))
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Why reading or writing a connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer sent a close frame (RFC 6455 §5.5.1), with its code if it had one.
    #[error("closed by the peer with {code:?}: {reason}")]
    Closed {
        /// The close code (Discord's 4000–4014, or a websocket code such as 1000).
        code: Option<u16>,
        /// The close reason text.
        reason: String,
    },
    /// The connection ended without a close frame.
    #[error("the connection dropped without a close frame")]
    Eof,
    /// A send refused because the connection is closing: the peer's close frame has been
    /// read (the read side reports it, with its code), or ours has been sent.
    #[error("the connection is closing")]
    Closing,
    /// A message exceeded the size limit.
    #[error("message too large: {0}")]
    TooLarge(String),
    /// The peer broke the websocket protocol (bad frame, invalid UTF-8 in a text frame…).
    #[error("websocket protocol error: {0}")]
    Protocol(String),
    /// A socket read or write failed (including a peer that accepted nothing for too long).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a dial failed, worded for logs and lifecycle events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DialError(pub String);

/// What [`WebSocketAdapter::dial`] is asked to do.
#[derive(Debug)]
#[non_exhaustive]
pub struct DialRequest<'a> {
    /// The URL to connect to, with its query string (`v`, `encoding`, `compress`).
    pub url: &'a str,
    /// Headers to send with the upgrade request (`User-Agent`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The longest the TCP connect may take.
    pub connect_timeout: Duration,
    /// The longest the TLS and websocket handshakes may take together.
    pub handshake_timeout: Duration,
    /// The largest message (and frame) to accept, in bytes.
    pub max_message_size: usize,
    /// The TLS connector to use for `wss://`, if the config has one (other adapters may
    /// ignore it and use their own TLS).
    pub tls: Option<&'a native_tls::TlsConnector>,
    /// Fires when the shard is shut down mid-dial: stop and return an error.
    pub cancel: &'a DialCancel,
}

/// Lets a shutdown interrupt a dial in progress. An adapter checks
/// [`is_cancelled`](Self::is_cancelled) between steps and registers with
/// [`on_cancel`](Self::on_cancel) what unblocks it (shutting its socket down).
#[derive(Clone, Default)]
pub struct DialCancel {
    inner: Arc<CancelInner>,
}

#[derive(Default)]
struct CancelInner {
    cancelled: AtomicBool,
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl DialCancel {
    /// A fresh, uncancelled handle.
    pub fn new() -> DialCancel {
        DialCancel::default()
    }

    /// Whether the dial should stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    /// Runs `hook` when the dial is cancelled, or at once if it already is. A later call
    /// replaces an earlier hook that has not run.
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) {
        let mut slot = self.inner.hook.lock();
        if self.is_cancelled() {
            drop(slot);
            hook();
        } else {
            *slot = Some(Box::new(hook));
        }
    }

    /// Cancels: every later check says so and the registered hook runs.
    pub(crate) fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Release);
        let hook = self.inner.hook.lock().take();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Drops the hook of a dial that has finished.
    pub(crate) fn clear(&self) {
        self.inner.hook.lock().take();
    }
}

impl fmt::Debug for DialCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialCancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The adapter a config holds: an `Arc` so configs stay cheap to clone.
#[derive(Clone)]
pub(crate) struct AdapterSlot(pub Arc<dyn WebSocketAdapter>);

impl fmt::Debug for AdapterSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebSocketAdapter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_registered_after_cancel_runs_at_once() {
        let cancel = DialCancel::new();
        cancel.cancel();
        let (tx, rx) = crossbeam_channel::bounded(1);
        cancel.on_cancel(move || tx.send(()).unwrap());
        assert!(rx.try_recv().is_ok());
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn cancel_runs_the_registered_hook_once_and_clear_drops_it() {
        let cancel = DialCancel::new();
        let (tx, rx) = crossbeam_channel::unbounded();
        let tx2 = tx.clone();
        cancel.on_cancel(move || tx.send(1).unwrap());
        cancel.clear();
        cancel.on_cancel(move || tx2.send(2).unwrap());
        cancel.cancel();
        cancel.cancel();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn text_refuses_bytes_that_are_not_utf8() {
        assert!(Text::try_from(Bytes::from_static(b"\xff")).is_err());
        let text = Text::try_from(Bytes::from_static("é".as_bytes())).unwrap();
        assert_eq!(text.as_str(), "é");
    }
}
