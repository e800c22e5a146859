//! The stop request a client's handle and its caller's loop share: it interrupts backoff
//! sleeps, a websocket dial and a discovery request in progress, whatever the protocol.

use crate::transport::DialCancel;
use crossbeam_channel::{bounded, Receiver, Sender};
use parking_lot::Mutex;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNNING: u8 = 0;
const SHUTDOWN: u8 = 1;
const SHUTDOWN_RESUMABLE: u8 = 2;

/// Whether a stop was asked for, and the means to interrupt whatever the loop waits on.
pub(crate) struct Stop {
    mode: AtomicU8,
    wake: (Sender<()>, Receiver<()>),
    /// The socket of a discovery request in progress, so a stop can abort it.
    dialing: Mutex<Option<TcpStream>>,
    /// Fired by a stop: interrupts a websocket dial in progress.
    pub cancel: DialCancel,
}

impl Default for Stop {
    fn default() -> Stop {
        Stop {
            mode: AtomicU8::new(RUNNING),
            wake: bounded(1),
            dialing: Mutex::new(None),
            cancel: DialCancel::new(),
        }
    }
}

impl Stop {
    /// `None` while running; `Some(resumable)` once a stop was asked for.
    pub fn requested(&self) -> Option<bool> {
        match self.mode.load(Ordering::Acquire) {
            RUNNING => None,
            SHUTDOWN => Some(false),
            _ => Some(true),
        }
    }

    /// Asks for a stop (the first request wins) and interrupts every wait.
    pub fn request(&self, resumable: bool) {
        let mode = if resumable {
            SHUTDOWN_RESUMABLE
        } else {
            SHUTDOWN
        };
        let _ = self
            .mode
            .compare_exchange(RUNNING, mode, Ordering::AcqRel, Ordering::Acquire);
        let _ = self.wake.0.try_send(());
        self.cancel.cancel();
        if let Some(socket) = self.dialing.lock().as_ref() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Ready once a stop was asked for (for a `select!` beside other channels).
    pub fn woken(&self) -> &Receiver<()> {
        &self.wake.1
    }

    /// Waits `delay`, returning false as soon as a stop is asked for.
    pub fn sleep(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        while self.requested().is_none() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            let _ = self.wake.1.recv_timeout(deadline - now);
        }
        false
    }

    /// A callback that lets a stop abort a request on this socket (owned, because ureq
    /// keeps it in its TLS connector).
    pub fn abort_registration(self: &Arc<Self>) -> Arc<dyn Fn(&TcpStream) + Send + Sync> {
        let stop = self.clone();
        Arc::new(move |tcp: &TcpStream| {
            *stop.dialing.lock() = tcp.try_clone().ok();
            if stop.requested().is_some() {
                let _ = tcp.shutdown(std::net::Shutdown::Both);
            }
        })
    }

    /// The request on the registered socket is over.
    pub fn request_done(&self) {
        self.dialing.lock().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_wins_and_interrupts_a_sleep() {
        let stop = Arc::new(Stop::default());
        assert_eq!(stop.requested(), None);
        assert!(
            stop.sleep(Duration::from_millis(1)),
            "no stop: the sleep ran out"
        );
        let s = stop.clone();
        let sleeper = std::thread::spawn(move || s.sleep(Duration::from_secs(60)));
        stop.request(true);
        stop.request(false);
        assert!(!sleeper.join().unwrap(), "interrupted");
        assert_eq!(stop.requested(), Some(true));
        assert!(stop.cancel.is_cancelled());
    }
}
