//! One websocket connection as the Slack simulator holds it: writes from any thread, the
//! closing handshake, silence, and what its end makes of it (closed, or a ghost).

use super::frame::{close_payload, encode_frame, opcode};
use super::record::{ConnId, ConnKind};
use parking_lot::Mutex;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a write may block before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Websocket open both ways.
    Open,
    /// The simulator sent its close frame and waits for the echo.
    ServerClosing,
    /// The client closed and the simulator answered; TCP may stay open (SLACK.md §2.5).
    ClientClosed,
    /// TCP is gone.
    Ended,
}

pub(crate) struct ConnState {
    pub phase: Phase,
    pub hello_sent: bool,
    /// Set when TCP died without a closing handshake: counted until then.
    pub ghost_until: Option<Instant>,
    /// RTM send bucket: tokens left and when it was last refilled.
    pub rtm_tokens: f64,
    pub rtm_refilled: Instant,
}

pub(crate) struct SlackConn {
    pub id: ConnId,
    pub kind: ConnKind,
    pub opened_at: Instant,
    /// `debug_info.host` of this connection.
    pub host: String,
    pub state: Mutex<ConnState>,
    writer: Mutex<TcpStream>,
    /// A second handle, shut down without taking the writer's lock.
    tcp: TcpStream,
    silent: AtomicBool,
}

impl SlackConn {
    pub fn new(id: ConnId, kind: ConnKind, tcp: &TcpStream) -> std::io::Result<SlackConn> {
        let writer = tcp.try_clone()?;
        writer.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let now = Instant::now();
        Ok(SlackConn {
            id,
            kind,
            opened_at: now,
            host: format!("applink-sim-{}", id.0),
            state: Mutex::new(ConnState {
                phase: Phase::Open,
                hello_sent: false,
                ghost_until: None,
                rtm_tokens: 0.0,
                rtm_refilled: now,
            }),
            writer: Mutex::new(writer),
            tcp: tcp.try_clone()?,
            silent: AtomicBool::new(false),
        })
    }

    pub fn is_silent(&self) -> bool {
        self.silent.load(Ordering::Acquire)
    }

    pub fn go_silent(&self) {
        self.silent.store(true, Ordering::Release);
    }

    pub fn phase(&self) -> Phase {
        self.state.lock().phase
    }

    /// Whether it still counts towards the app's connections (open, or a ghost not yet
    /// expired).
    pub fn counted(&self, now: Instant) -> bool {
        let state = self.state.lock();
        state.phase == Phase::Open || state.ghost_until.is_some_and(|t| t > now)
    }

    pub fn is_ghost(&self, now: Instant) -> bool {
        self.state.lock().ghost_until.is_some_and(|t| t > now)
    }

    /// Writes bytes as they are; a failed write shuts TCP down (the reader then ends).
    fn write_bytes(&self, bytes: &[u8]) -> bool {
        let mut writer = self.writer.lock();
        let written = writer.write_all(bytes).and_then(|()| writer.flush());
        if written.is_err() {
            self.shutdown();
        }
        written.is_ok()
    }

    /// Sends one frame if the connection is open and not silent.
    pub fn send_frame(&self, op: u8, payload: &[u8]) -> bool {
        let state = self.state.lock();
        if state.phase != Phase::Open || self.is_silent() {
            return false;
        }
        self.write_bytes(&encode_frame(op, payload))
    }

    /// Sends one text frame if the connection is open and not silent.
    pub fn send_text(&self, text: &str) -> bool {
        self.send_frame(opcode::TEXT, text.as_bytes())
    }

    /// Sends `hello` and marks it sent in one step under the state lock, so a delivery
    /// routed after the client has read `hello` always finds the connection ready (with
    /// the flag set after the write, a test that pushed on seeing `hello` could race it
    /// and have its envelope recorded as lost).
    pub fn send_hello(&self, text: &str) -> bool {
        let mut state = self.state.lock();
        let sent = state.phase == Phase::Open
            && !self.is_silent()
            && self.write_bytes(&encode_frame(opcode::TEXT, text.as_bytes()));
        state.hello_sent |= sent;
        sent
    }

    /// Writes the first half of `text`'s frame, then drops TCP (a cut mid-frame).
    pub fn send_half_then_drop(&self, text: &str) -> bool {
        let state = self.state.lock();
        let sent = state.phase == Phase::Open && !self.is_silent() && {
            let frame = encode_frame(opcode::TEXT, text.as_bytes());
            self.write_bytes(&frame[..frame.len() / 2])
        };
        drop(state);
        self.shutdown();
        sent
    }

    /// Starts the closing handshake: true if the connection was open. The close frame is
    /// not written on a silent connection (nothing is).
    pub fn start_close(&self, code: u16, reason: &str) -> bool {
        let mut state = self.state.lock();
        if state.phase != Phase::Open {
            return false;
        }
        state.phase = Phase::ServerClosing;
        if !self.is_silent() {
            self.write_bytes(&encode_frame(opcode::CLOSE, &close_payload(code, reason)));
        }
        true
    }

    /// Answers a client's close frame with the same code; false if the connection was not
    /// open (then nothing is sent).
    pub fn answer_close(&self, code: Option<u16>) -> bool {
        let mut state = self.state.lock();
        if state.phase != Phase::Open {
            return false;
        }
        state.phase = Phase::ClientClosed;
        if !self.is_silent() {
            let payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
            self.write_bytes(&encode_frame(opcode::CLOSE, &payload));
        }
        true
    }

    /// Shuts TCP down (the reader wakes with an end of stream).
    pub fn shutdown(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}
