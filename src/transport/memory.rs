//! An in-memory websocket: a scripted connection pair with no sockets, for unit tests of
//! code that runs on a [`WebSocketConnection`] (the shard's threads, or a user's own).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use syncord::transport::memory::MemoryAdapter;
//! use syncord::transport::Message;
//! use syncord::{Config, Event, Intents, Shard};
//!
//! let (adapter, peers) = MemoryAdapter::new();
//! let config = Config::builder("token", Intents::GUILDS)
//!     .gateway_url("ws://127.0.0.1:1") // never dialed: the adapter answers
//!     .websocket_adapter(Arc::new(adapter))
//!     .build()?;
//! let shard = Shard::with_config(config);
//! let handle = shard.handle();
//! let server = std::thread::spawn(move || {
//!     // Play the gateway: Hello, wait for Identify, READY.
//!     let peer = peers.recv_timeout(Duration::from_secs(5)).expect("the shard dialed");
//!     peer.send_text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#);
//!     let identify = peer.recv_text(Duration::from_secs(5)).expect("Identify");
//!     assert!(identify.contains(r#""op":2"#));
//!     peer.send_text(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"a","resume_gateway_url":"ws://127.0.0.1:1","user":{"id":"1","username":"bot"}}}"#);
//!     peer
//! });
//! shard
//!     .run(|event| {
//!         if let Event::Ready(_) = event {
//!             handle.shutdown();
//!         }
//!     })
//!     .unwrap();
//! let peer = server.join().unwrap();
//! assert_eq!(peer.closed_with(Duration::from_secs(5)), Some(1000));
//! # Ok::<(), syncord::Error>(())
//! ```

use super::adapter::{
    DialError, DialRequest, Message, TransportError, WebSocketAdapter, WebSocketConnection,
};
use crossbeam_channel::{bounded, select, unbounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// What travels from one end to the other.
enum Wire {
    Message(Message),
    Close(u16, String),
}

/// An adapter whose every dial succeeds with a fresh in-memory connection; the server end
/// of each ([`MemoryPeer`]) arrives on the receiver [`MemoryAdapter::new`] returns.
#[derive(Debug)]
pub struct MemoryAdapter {
    peers: Sender<MemoryPeer>,
    refuse: Mutex<u32>,
}

impl MemoryAdapter {
    /// An adapter and the receiver of the server end of each connection it makes.
    pub fn new() -> (MemoryAdapter, Receiver<MemoryPeer>) {
        let (peers, rx) = unbounded();
        let adapter = MemoryAdapter {
            peers,
            refuse: Mutex::new(0),
        };
        (adapter, rx)
    }

    /// Makes the next `count` dials fail, as a refused connection would.
    pub fn refuse_next(&self, count: u32) {
        *self.refuse.lock() = count;
    }
}

impl WebSocketAdapter for MemoryAdapter {
    fn dial(&self, request: &DialRequest<'_>) -> Result<Box<dyn WebSocketConnection>, DialError> {
        {
            let mut refuse = self.refuse.lock();
            if *refuse > 0 {
                *refuse -= 1;
                return Err(DialError("connection refused (memory adapter)".into()));
            }
        }
        let (client, peer) = pair(request);
        self.peers
            .send(peer)
            .map_err(|_| DialError("nobody holds the memory adapter's peers".into()))?;
        Ok(Box::new(client))
    }
}

/// A connected pair: the client end and the server end.
fn pair(request: &DialRequest<'_>) -> (MemoryConnection, MemoryPeer) {
    let (to_client, from_server) = unbounded();
    let (to_server, from_client) = unbounded();
    let (stop, stopped) = bounded::<()>(0);
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let client = MemoryConnection {
        incoming: from_server,
        stash: Mutex::new(None),
        outgoing: to_server,
        stop: Mutex::new(Some(stop)),
        stopped: stopped.clone(),
    };
    let peer = MemoryPeer {
        url: request.url.to_owned(),
        headers,
        to_client: Mutex::new(Some(to_client)),
        from_client,
        client_gone: stopped,
    };
    (client, peer)
}

/// The client end, given to the shard.
struct MemoryConnection {
    incoming: Receiver<Wire>,
    /// A message `wait_readable` took off the channel, for the next `try_read`.
    stash: Mutex<Option<Wire>>,
    outgoing: Sender<Wire>,
    /// Dropped on shutdown: wakes `wait_readable` and tells the peer.
    stop: Mutex<Option<Sender<()>>>,
    stopped: Receiver<()>,
}

impl MemoryConnection {
    fn is_shut_down(&self) -> bool {
        self.stop.lock().is_none()
    }

    fn deliver(wire: Wire) -> Result<Option<Message>, TransportError> {
        match wire {
            Wire::Message(message) => Ok(Some(message)),
            Wire::Close(code, reason) => Err(TransportError::Closed {
                code: Some(code),
                reason,
            }),
        }
    }
}

impl WebSocketConnection for MemoryConnection {
    fn try_read(&self) -> Result<Option<Message>, TransportError> {
        if let Some(wire) = self.stash.lock().take() {
            return MemoryConnection::deliver(wire);
        }
        if self.is_shut_down() {
            return Err(TransportError::Eof);
        }
        match self.incoming.try_recv() {
            Ok(wire) => MemoryConnection::deliver(wire),
            Err(crossbeam_channel::TryRecvError::Empty) => Ok(None),
            Err(crossbeam_channel::TryRecvError::Disconnected) => Err(TransportError::Eof),
        }
    }

    fn wait_readable(&self) -> Result<(), TransportError> {
        if self.stash.lock().is_some() {
            return Ok(());
        }
        select! {
            recv(self.incoming) -> wire => {
                if let Ok(wire) = wire {
                    *self.stash.lock() = Some(wire);
                }
                // A hung-up peer: the next read reports it.
                Ok(())
            }
            recv(self.stopped) -> _ => Ok(()),
        }
    }

    fn send(&self, message: Message) -> Result<(), TransportError> {
        if self.is_shut_down() {
            return Err(TransportError::Eof);
        }
        self.outgoing
            .send(Wire::Message(message))
            .map_err(|_| TransportError::Eof)
    }

    fn close(&self, code: u16, reason: &str) {
        if !self.is_shut_down() {
            let _ = self.outgoing.send(Wire::Close(code, reason.to_owned()));
        }
        self.shutdown();
    }

    fn shutdown(&self) {
        self.stop.lock().take();
    }
}

/// The server end of an in-memory connection: what a test scripts.
pub struct MemoryPeer {
    url: String,
    headers: Vec<(String, String)>,
    to_client: Mutex<Option<Sender<Wire>>>,
    from_client: Receiver<Wire>,
    client_gone: Receiver<()>,
}

impl MemoryPeer {
    /// The URL the client dialed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value of the upgrade header `name` (case-insensitive), if the client sent it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sends a message to the client; false once the client end is gone.
    pub fn send(&self, message: Message) -> bool {
        self.to_client
            .lock()
            .as_ref()
            .is_some_and(|tx| tx.send(Wire::Message(message)).is_ok())
    }

    /// Sends a text message to the client.
    pub fn send_text(&self, text: &str) -> bool {
        self.send(Message::text(text.to_owned()))
    }

    /// Sends a close frame with `code`; the client's next read reports it.
    pub fn close(&self, code: u16, reason: &str) -> bool {
        self.to_client
            .lock()
            .as_ref()
            .is_some_and(|tx| tx.send(Wire::Close(code, reason.to_owned())).is_ok())
    }

    /// Hangs up without a close frame: the client reads end-of-stream.
    pub fn hang_up(&self) {
        self.to_client.lock().take();
    }

    /// The next message the client sent, waiting up to `timeout`; `None` on timeout, when the
    /// client closed, or when it hung up.
    pub fn recv(&self, timeout: Duration) -> Option<Message> {
        match self.from_client.recv_timeout(timeout) {
            Ok(Wire::Message(message)) => Some(message),
            Ok(Wire::Close(..)) | Err(_) => None,
        }
    }

    /// The next text message the client sent, skipping other kinds, within `timeout`.
    pub fn recv_text(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Message::Text(text) => return Some(text.as_str().to_owned()),
                _ => continue,
            }
        }
    }

    /// Waits up to `timeout` for the client to close; the close code it sent, skipping any
    /// messages before it. `None` on timeout or if it hung up without a close frame.
    pub fn closed_with(&self, timeout: Duration) -> Option<u16> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.from_client.recv_deadline(deadline) {
                Ok(Wire::Close(code, _)) => return Some(code),
                Ok(Wire::Message(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Whether the client has shut its end down, waiting up to `timeout` for it.
    pub fn wait_client_gone(&self, timeout: Duration) -> bool {
        matches!(
            self.client_gone.recv_timeout(timeout),
            Err(RecvTimeoutError::Disconnected)
        )
    }
}

impl std::fmt::Debug for MemoryPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryPeer")
            .field("url", &self.url)
            .finish()
    }
}
