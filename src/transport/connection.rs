//! One websocket connection shared by the reader and writer threads.
//!
//! tungstenite's `WebSocket` cannot be split, so both threads share it behind a lock. The
//! socket is non-blocking after the handshake: the reader waits for readability with
//! `poll(2)` *without* holding the lock, then reads messages until `WouldBlock`, releasing
//! the lock fairly between messages so a waiting writer (a heartbeat) gets in at once.
//! Shutting the TCP socket down wakes a reader parked in `poll` (crate docs, "Threads").

use super::adapter::{
    DialError, DialRequest, Message as WsMessage, Text, TransportError, WebSocketAdapter,
    WebSocketConnection,
};
use super::read_ahead::ReadAhead;
use super::upgrade::{request_target, upgrade};
use super::url::WsUrl;
use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long a write may wait for the socket to accept bytes before the connection is
/// considered dead.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(30);

/// The byte stream under a websocket: TCP, read ahead, maybe TLS.
pub(crate) type Stream = MaybeTlsStream<ReadAhead<TcpStream>>;

/// A connected, handshaken websocket.
pub(crate) struct Connection {
    ws: Mutex<WebSocket<Stream>>,
    /// A second handle to the same socket: its fd is polled, and `shutdown` wakes the reader.
    tcp: TcpStream,
}

fn resolve(url: &WsUrl) -> Result<Vec<SocketAddr>, DialError> {
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, url.port)
        .to_socket_addrs()
        .map_err(|e| DialError(format!("DNS lookup of {host} failed: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(DialError(format!("DNS lookup of {host} found no address")));
    }
    Ok(addrs)
}

/// Connects to the first address that answers within `timeout`, checking `aborted` every
/// 50 ms so that a shutdown never waits for a slow connect.
fn connect_tcp(
    addrs: &[SocketAddr],
    timeout: Duration,
    aborted: &dyn Fn() -> bool,
) -> Result<TcpStream, DialError> {
    let mut last = None;
    for addr in addrs {
        match connect_one(*addr, timeout, aborted) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(format!("connect to {addr} failed: {e}")),
        }
        if aborted() {
            break;
        }
    }
    Err(DialError(last.unwrap_or_else(|| "no address".into())))
}

fn connect_one(
    addr: SocketAddr,
    timeout: Duration,
    aborted: &dyn Fn() -> bool,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock
                || e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream: TcpStream = socket.into();
    let deadline = Instant::now() + timeout;
    loop {
        if aborted() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "shutting down"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
        }
        if poll_ready(&stream, libc::POLLOUT, left.min(Duration::from_millis(50)))? {
            break;
        }
    }
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    stream.peer_addr()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// The default adapter: tungstenite over TCP, with native-tls for `wss://`.
///
/// Reads go through a read-ahead buffer (one `recv` per burst instead of per frame); after
/// the handshake the socket is non-blocking, the reader waits in `poll(2)` without holding
/// the websocket's lock, and releases the lock fairly between messages so a writer (a
/// heartbeat) gets in at once.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TungsteniteAdapter;

impl WebSocketAdapter for TungsteniteAdapter {
    fn dial(&self, request: &DialRequest<'_>) -> Result<Box<dyn WebSocketConnection>, DialError> {
        Ok(Box::new(Connection::dial(request)?))
    }
}

impl Connection {
    /// Dials `request.url` (already carrying its query string) and completes the handshake.
    pub fn dial(request: &DialRequest<'_>) -> Result<Self, DialError> {
        let url = WsUrl::parse(request.url).map_err(|e| DialError(e.to_string()))?;
        let addrs = resolve(&url)?;
        let aborted = || request.cancel.is_cancelled();
        let tcp = connect_tcp(&addrs, request.connect_timeout, &aborted)?;
        let setup = |e: io::Error| DialError(format!("socket setup failed: {e}"));
        tcp.set_nodelay(true).map_err(setup)?;
        tcp.set_read_timeout(Some(request.handshake_timeout))
            .map_err(setup)?;
        tcp.set_write_timeout(Some(request.handshake_timeout))
            .map_err(setup)?;
        let shared = tcp.try_clone().map_err(setup)?;
        // A shutdown mid-handshake shuts the socket down, which fails the blocked read.
        let abort = tcp.try_clone().map_err(setup)?;
        request.cancel.on_cancel(move || {
            let _ = abort.shutdown(Shutdown::Both);
        });

        let config = WebSocketConfig::default()
            .max_message_size(Some(request.max_message_size))
            .max_frame_size(Some(request.max_message_size))
            // Idle shards should not hold 128 KiB per direction; messages still grow the
            // buffer as needed.
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let domain = url.host.trim_start_matches('[').trim_end_matches(']');
        let mut stream: Stream = if url.secure {
            let tls = match request.tls {
                Some(tls) => tls.clone(),
                None => native_tls::TlsConnector::new()
                    .map_err(|e| DialError(format!("TLS setup failed: {e}")))?,
            };
            let tls_stream = tls
                .connect(domain, ReadAhead::new(tcp))
                .map_err(|e| match e {
                    native_tls::HandshakeError::Failure(e) => {
                        DialError(format!("TLS handshake failed: {e}"))
                    }
                    native_tls::HandshakeError::WouldBlock(_) => {
                        DialError("TLS handshake timed out".into())
                    }
                })?;
            MaybeTlsStream::NativeTls(tls_stream)
        } else {
            MaybeTlsStream::Plain(ReadAhead::new(tcp))
        };
        let default_port = if url.secure { 443 } else { 80 };
        let host_header = if url.port == default_port {
            url.host.clone()
        } else {
            format!("{}:{}", url.host, url.port)
        };
        let upgraded = upgrade(
            &mut stream,
            &host_header,
            request_target(request.url),
            request.headers,
        );
        request.cancel.clear();
        if request.cancel.is_cancelled() {
            return Err(DialError("shutting down".into()));
        }
        let leftover = upgraded?;
        let ws = WebSocket::from_partially_read(stream, leftover, Role::Client, Some(config));
        Connection::from_parts(ws, shared).map_err(setup)
    }

    /// Wraps a handshaken websocket and a second handle to its TCP socket (both ends use
    /// this: the client after dialing, the simulator after accepting).
    pub fn from_parts(ws: WebSocket<Stream>, tcp: TcpStream) -> io::Result<Connection> {
        tcp.set_read_timeout(None)?;
        tcp.set_write_timeout(None)?;
        tcp.set_nonblocking(true)?;
        Ok(Connection {
            ws: Mutex::new(ws),
            tcp,
        })
    }

    /// The websocket under its lock and the TCP handle beside it: how the simulator writes
    /// hand-made frames below the websocket layer (`sim::conn`).
    #[cfg(feature = "sim")]
    pub fn raw_parts(&self) -> (MutexGuard<'_, WebSocket<Stream>>, &TcpStream) {
        (self.ws.lock(), &self.tcp)
    }

    /// Blocks until one message arrives or the connection fails.
    ///
    /// After [`Connection::shutdown`] this returns an error promptly. (The simulator's
    /// blocking side uses it; the client polls with `try_read`.)
    #[cfg(feature = "sim")]
    pub fn read(&self) -> Result<Message, tungstenite::Error> {
        loop {
            if let Some(message) = self.try_read()? {
                return Ok(message);
            }
            self.wait_readable()?;
        }
    }

    /// One message if one is already buffered or readable without blocking, else `None`.
    pub fn try_read(&self) -> Result<Option<Message>, tungstenite::Error> {
        let mut ws = self.ws.lock();
        let result = ws.read();
        // A writer waiting for the lock (a heartbeat) gets it before the next read.
        MutexGuard::unlock_fair(ws);
        match result {
            Ok(message) => Ok(Some(message)),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Blocks until the socket has data (or has failed); wakes after [`Connection::shutdown`].
    pub fn wait_readable(&self) -> io::Result<()> {
        wait_for(&self.tcp, libc::POLLIN, None)
    }

    /// Writes and flushes one message, waiting (outside the lock) while the socket is full.
    pub fn send(&self, message: Message) -> Result<(), tungstenite::Error> {
        let mut ws = self.ws.lock();
        let mut result = ws.send(message);
        let deadline = Instant::now() + WRITE_STALL_LIMIT;
        loop {
            match result {
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    MutexGuard::unlock_fair(ws);
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(tungstenite::Error::Io(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the socket accepted no data for 30 s",
                        )));
                    }
                    wait_for(&self.tcp, libc::POLLOUT, Some(left))?;
                    ws = self.ws.lock();
                    result = ws.flush();
                }
                other => return other,
            }
        }
    }

    /// Sends a text message that carries the token (Identify, Resume).
    ///
    /// tungstenite logs every frame's payload at trace level, so this frame is built and
    /// masked here (RFC 6455 §5.2) and written straight to the stream, after flushing
    /// whatever tungstenite had queued so the order on the wire is kept.
    pub fn send_secret(&self, text: &str) -> Result<(), tungstenite::Error> {
        // RFC 6455 §5.3: the mask must be unpredictable, so it comes from the OS CSPRNG.
        let mut mask = [0u8; 4];
        getrandom::fill(&mut mask).map_err(|e| {
            tungstenite::Error::Io(io::Error::other(format!("no random mask: {e}")))
        })?;
        let frame = masked_text_frame(text.as_bytes(), mask);
        let deadline = Instant::now() + WRITE_STALL_LIMIT;
        let stalled = || {
            tungstenite::Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the socket accepted no data for 30 s",
            ))
        };
        let mut ws = self.ws.lock();
        loop {
            match ws.flush() {
                Ok(()) => break,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    MutexGuard::unlock_fair(ws);
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(stalled());
                    }
                    wait_for(&self.tcp, libc::POLLOUT, Some(left))?;
                    ws = self.ws.lock();
                }
                Err(e) => return Err(e),
            }
        }
        // The lock is held until the whole frame is out: nothing may interleave with it.
        let mut written = 0;
        while written < frame.len() {
            match ws.get_mut().write(&frame[written..]) {
                Ok(0) => return Err(tungstenite::Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(stalled());
                    }
                    wait_for(&self.tcp, libc::POLLOUT, Some(left))?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(tungstenite::Error::Io(e)),
            }
        }
        ws.get_mut().flush().map_err(tungstenite::Error::Io)
    }

    /// Sends a close frame with `code` (best effort, bounded wait), then shuts the socket
    /// down, which also wakes the reader.
    pub fn close(&self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: WsCloseCode::from(code),
            reason: reason.into(),
        };
        let mut ws = self.ws.lock();
        let mut result = ws.close(Some(frame));
        let deadline = Instant::now() + Duration::from_millis(200);
        while let Err(tungstenite::Error::Io(e)) = &result {
            if e.kind() != io::ErrorKind::WouldBlock || Instant::now() >= deadline {
                break;
            }
            MutexGuard::unlock_fair(ws);
            let _ = wait_for(&self.tcp, libc::POLLOUT, Some(Duration::from_millis(50)));
            ws = self.ws.lock();
            result = ws.flush();
        }
        drop(ws);
        self.shutdown();
    }

    /// Shuts the TCP connection down without a close frame (a resumable drop).
    pub fn shutdown(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

impl WebSocketConnection for Connection {
    fn try_read(&self) -> Result<Option<WsMessage>, TransportError> {
        loop {
            return match Connection::try_read(self) {
                Ok(Some(Message::Text(text))) => {
                    Ok(Some(WsMessage::Text(Text::from_utf8_bytes(text))))
                }
                Ok(Some(Message::Binary(bytes))) => Ok(Some(WsMessage::Binary(bytes))),
                Ok(Some(Message::Ping(bytes))) => Ok(Some(WsMessage::Ping(bytes))),
                Ok(Some(Message::Pong(bytes))) => Ok(Some(WsMessage::Pong(bytes))),
                Ok(Some(Message::Close(frame))) => Err(TransportError::Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                }),
                // Raw frames only appear when writing; never returned by a read.
                Ok(Some(Message::Frame(_))) => continue,
                Ok(None) => Ok(None),
                Err(e) => Err(transport_error(e)),
            };
        }
    }

    fn wait_readable(&self) -> Result<(), TransportError> {
        Connection::wait_readable(self).map_err(TransportError::Io)
    }

    fn send(&self, message: WsMessage) -> Result<(), TransportError> {
        let message = match message {
            // SAFETY: `Text` only holds UTF-8.
            WsMessage::Text(text) => Message::Text(unsafe {
                tungstenite::Utf8Bytes::from_bytes_unchecked(text.into_bytes())
            }),
            WsMessage::Binary(bytes) => Message::Binary(bytes),
            WsMessage::Ping(bytes) => Message::Ping(bytes),
            WsMessage::Pong(bytes) => Message::Pong(bytes),
        };
        Connection::send(self, message).map_err(transport_error)
    }

    fn send_secret(&self, text: &str) -> Result<(), TransportError> {
        Connection::send_secret(self, text).map_err(transport_error)
    }

    fn ping(&self, payload: Bytes) -> Result<(), TransportError> {
        Connection::send(self, Message::Ping(payload)).map_err(transport_error)
    }

    fn close(&self, code: u16, reason: &str) {
        Connection::close(self, code, reason);
    }

    fn shutdown(&self) {
        Connection::shutdown(self);
    }
}

/// tungstenite's errors in the adapter's terms.
fn transport_error(e: tungstenite::Error) -> TransportError {
    use tungstenite::error::ProtocolError;
    use tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => TransportError::Eof,
        E::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ) =>
        {
            TransportError::Eof
        }
        E::Io(e) => TransportError::Io(e),
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => TransportError::Eof,
        E::Protocol(ProtocolError::SendAfterClosing) => TransportError::Closing,
        E::Capacity(e) => TransportError::TooLarge(e.to_string()),
        e => TransportError::Protocol(e.to_string()),
    }
}

/// A final, masked text frame as a client sends it (RFC 6455 §5.2).
fn masked_text_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x81);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Waits up to `timeout` for `events`; true if the socket became ready (or failed).
fn poll_ready(tcp: &TcpStream, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    poll(
        tcp,
        events,
        timeout.as_millis().clamp(1, i32::MAX as u128) as i32,
    )
}

/// Waits until the socket is ready for `events` (or has failed/hung up), or `timeout`.
pub(crate) fn wait_for(
    tcp: &TcpStream,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let timeout_ms = timeout.map_or(-1, |t| t.as_millis().clamp(1, i32::MAX as u128) as i32);
    poll(tcp, events, timeout_ms).map(|_| ())
}

/// poll(2) on one socket, retried on EINTR; true if it became ready (or failed).
fn poll(tcp: &TcpStream, events: libc::c_short, timeout_ms: i32) -> io::Result<bool> {
    let mut fds = libc::pollfd {
        fd: tcp.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd for a socket the caller owns, for the duration of the call.
        let n = unsafe { libc::poll(&mut fds, 1, timeout_ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{masked_text_frame, transport_error};
    use crate::transport::TransportError;
    use tungstenite::error::ProtocolError;

    #[test]
    fn a_send_refused_while_closing_is_told_apart_from_a_failed_write() {
        // The writer stops without a report on `Closing` (the reader reports the close and
        // its code); any other failure ends the connection.
        let closing = tungstenite::Error::Protocol(ProtocolError::SendAfterClosing);
        assert!(matches!(transport_error(closing), TransportError::Closing));
        let reset = tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert!(matches!(transport_error(reset), TransportError::Eof));
        let broken = tungstenite::Error::Io(std::io::ErrorKind::BrokenPipe.into());
        assert!(matches!(transport_error(broken), TransportError::Io(_)));
    }

    #[test]
    fn masked_frame_matches_rfc_6455_example() {
        // RFC 6455 §5.7: a masked "Hello".
        let frame = masked_text_frame(b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(
            frame,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }

    #[test]
    fn masked_frame_uses_extended_lengths() {
        let frame = masked_text_frame(&[b'a'; 300], [0; 4]);
        assert_eq!(&frame[..4], &[0x81, 0x80 | 126, 0x01, 0x2c]);
        assert_eq!(frame.len(), 4 + 4 + 300);
        let frame = masked_text_frame(&vec![b'a'; 70_000], [0; 4]);
        assert_eq!(frame[1], 0x80 | 127);
        assert_eq!(frame.len(), 2 + 8 + 4 + 70_000);
    }
}
