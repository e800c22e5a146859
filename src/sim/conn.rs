//! One accepted websocket connection as the simulator holds it: compression, the deadlines
//! the simulator keeps for it, and the closing handshake (RFC 6455 §5.5.1, §7).

#[cfg(feature = "zstd")]
use super::deflate::ZstdStreamEncoder;
use super::deflate::{payload_zlib, ZlibStreamEncoder};
use crate::transport::{wait_for, Connection};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// How a connection compresses what it sends ("Transport Compression" and "Payload
/// Compression" in Discord's Gateway page).
pub(crate) enum SimEncoder {
    Plain {
        payload_compression: bool,
    },
    Zlib(ZlibStreamEncoder),
    #[cfg(feature = "zstd")]
    Zstd(ZstdStreamEncoder),
}

/// Payloads at least this large go out compressed under payload compression.
const PAYLOAD_COMPRESSION_THRESHOLD: usize = 1024;

/// How long the simulator waits for the client to answer its close frame before it shuts
/// the socket down anyway.
pub(crate) const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// When the simulator acts on a connection by itself; the timer thread
/// ([`super::timer`]) carries these out, so the connection's thread can block in `read`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deadlines {
    /// No heartbeat by then: close with 4009 (the code is the simulator's choice: Discord's
    /// Gateway page, "Sending Heartbeats", says only that such a client is disconnected).
    pub heartbeat: Option<Instant>,
    /// Op 7 was sent and the client is still here then: close with 4000 ("Reconnect" in
    /// Discord's Gateway Events page).
    pub reconnect: Option<Instant>,
    /// A close handshake is under way: shut TCP down then if it has not finished.
    pub closing: Option<Instant>,
}

impl Deadlines {
    pub fn earliest(&self) -> Option<Instant> {
        [self.heartbeat, self.reconnect, self.closing]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Wakes the timer thread ([`super::timer`]) when a deadline earlier than the ones it sleeps towards is armed.
#[derive(Default)]
pub(crate) struct Timer {
    /// True when something changed since the timer last looked.
    pub(super) changed: Mutex<bool>,
    pub(super) wakeup: Condvar,
}

impl Timer {
    pub fn notify(&self) {
        *self.changed.lock() = true;
        self.wakeup.notify_one();
    }
}

/// One accepted websocket connection.
pub(crate) struct SimConn {
    pub id: u64,
    pub conn: Connection,
    /// Held while a payload is compressed and sent, so the stream stays in order.
    pub encoder: Mutex<SimEncoder>,
    pub zlib_frame_size: usize,
    /// The session this connection is authenticated for (`None` before Identify/Resume and
    /// again after op 9: "Invalid Session" in Discord's Gateway Events page).
    pub session: Mutex<Option<String>>,
    /// Receive times in the rate-limit window.
    pub sends: Mutex<VecDeque<Instant>>,
    /// Whether the simulator has sent its close frame: an incoming close is then the echo.
    closing: AtomicBool,
    pub deadlines: Mutex<Deadlines>,
    timer: Arc<Timer>,
}

impl SimConn {
    pub fn new(
        id: u64,
        conn: Connection,
        encoder: SimEncoder,
        zlib_frame_size: usize,
        timer: Arc<Timer>,
    ) -> SimConn {
        SimConn {
            timer,
            id,
            conn,
            encoder: Mutex::new(encoder),
            zlib_frame_size,
            session: Mutex::new(None),
            sends: Mutex::new(VecDeque::new()),
            closing: AtomicBool::new(false),
            deadlines: Mutex::new(Deadlines::default()),
        }
    }

    /// Writes `bytes` below the websocket layer (through TLS if any): how the simulator
    /// sends hand-made frames.
    pub fn write_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let (mut ws, tcp) = self.conn.raw_parts();
        let _ = ws.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut written = 0;
        while written < bytes.len() {
            match ws.get_mut().write(&bytes[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    wait_for(tcp, libc::POLLOUT, Some(Duration::from_millis(50)))?;
                }
                Err(e) => return Err(e),
            }
        }
        ws.get_mut().flush()
    }

    /// Writes `bytes` straight to the socket, bypassing the websocket layer, then drops the
    /// connection: how the simulator cuts a connection mid-frame.
    pub fn write_raw_and_drop(&self, bytes: &[u8]) {
        let (_ws, mut tcp) = self.conn.raw_parts();
        let _ = tcp.write_all(bytes);
        let _ = tcp.shutdown(Shutdown::Both);
    }

    /// Changes the deadlines, waking the timer if one of them is now earlier than all before.
    pub fn arm(&self, change: impl FnOnce(&mut Deadlines)) {
        let mut deadlines = self.deadlines.lock();
        let before = deadlines.earliest();
        change(&mut deadlines);
        let after = deadlines.earliest();
        drop(deadlines);
        if after.is_some_and(|a| before.is_none_or(|b| a < b)) {
            self.timer.notify();
        }
    }

    /// Sends one gateway payload, compressed as this connection asked.
    pub fn send_text(&self, json: &str) -> bool {
        let mut encoder = self.encoder.lock();
        match &mut *encoder {
            SimEncoder::Plain {
                payload_compression: true,
            } if json.len() >= PAYLOAD_COMPRESSION_THRESHOLD => self
                .conn
                .send(Message::binary(payload_zlib(json.as_bytes())))
                .is_ok(),
            SimEncoder::Plain { .. } => self.conn.send(Message::text(json)).is_ok(),
            SimEncoder::Zlib(zlib) => {
                // Large messages span several frames, as Discord sends them.
                let compressed = zlib.encode(json.as_bytes());
                compressed
                    .chunks(self.zlib_frame_size)
                    .all(|part| self.conn.send(Message::binary(part.to_vec())).is_ok())
            }
            #[cfg(feature = "zstd")]
            SimEncoder::Zstd(zstd) => {
                let compressed = zstd.encode(json.as_bytes()).to_vec();
                self.conn.send(Message::binary(compressed)).is_ok()
            }
        }
    }

    /// Sends bytes as they are, bypassing compression (hostile input).
    pub fn send_raw_binary(&self, bytes: &[u8]) -> bool {
        let _encoder = self.encoder.lock();
        self.conn.send(Message::binary(bytes.to_vec())).is_ok()
    }

    /// Claims the right to close: true once, for the first caller. From then on an
    /// incoming close frame is the client's echo.
    pub fn claim_close(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }

    /// Sends the close frame (after [`SimConn::claim_close`]) and leaves the socket open for
    /// the client's answer, which the connection's thread reads (RFC 6455 §5.5.1: the
    /// client echoes it, then the server closes TCP); the timer shuts TCP down if no answer
    /// comes in time.
    pub fn send_close(&self, code: u16, reason: &str) {
        self.arm(|d| d.closing = Some(Instant::now() + CLOSE_HANDSHAKE_TIMEOUT));
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        // Not in the middle of a compressed payload.
        let _encoder = self.encoder.lock();
        let _ = self.conn.send(Message::Close(Some(frame)));
    }

    /// Whether the simulator has sent its close frame on this connection.
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// After the client's close frame: lets tungstenite send the queued reply (it does so
    /// on the next read, then reports the connection closed), so the client sees the
    /// closing handshake completed instead of a reset (RFC 6455 §5.5.1). Bounded by the
    /// timer, which shuts TCP down if the socket takes no data.
    pub fn finish_close(&self) {
        self.arm(|d| d.closing = Some(Instant::now() + CLOSE_HANDSHAKE_TIMEOUT));
        while self.conn.read().is_ok() {}
    }
}
