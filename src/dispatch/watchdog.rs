//! The slow-handler watchdog: a thread per running shard that reports a handler still
//! running past the threshold *while it runs* (what discord.py's "heartbeat blocked" warning
//! does), naming the event and for how long. It sleeps in a condition variable while no
//! handler runs and wakes only at the threshold of the call in progress: no polling.

use crate::Dispatch;
use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a handler call is handling, for messages: the event's name (up to 48 bytes, enough
/// for every Discord event) and `s`, copied so that marking a call costs no allocation.
#[derive(Clone, Copy)]
pub(crate) struct Label {
    name: [u8; 48],
    len: u8,
    truncated: bool,
    /// `None` for lifecycle events.
    seq: Option<u64>,
}

impl Label {
    pub fn dispatch(dispatch: &Dispatch) -> Label {
        Label::new(dispatch.event_type(), Some(dispatch.seq()))
    }

    pub fn lifecycle(name: &'static str) -> Label {
        Label::new(name, None)
    }

    /// A label for `name` (an event or envelope type), with its sequence number if any.
    pub fn new(name: &str, seq: Option<u64>) -> Label {
        let mut len = name.len().min(48);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; 48];
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        Label {
            name: bytes,
            len: len as u8,
            truncated: len < name.len(),
            seq,
        }
    }

    fn name(&self) -> &str {
        std::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = if self.truncated { "…" } else { "" };
        match self.seq {
            Some(seq) => write!(f, "{}{more} (s={seq})", self.name()),
            None => write!(f, "the {}{more} event", self.name()),
        }
    }
}

struct Call {
    label: Option<Label>,
    started: Instant,
    /// Counts calls, so the watchdog tells one long call from several short ones.
    id: u64,
    stop: bool,
}

struct Shared {
    call: Mutex<Call>,
    wake: Condvar,
    /// The watchdog waits for a call to start: `begin` must wake it.
    parked: AtomicBool,
    threshold: Duration,
}

/// The runner's side: marks each handler call's start and end.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    /// Who runs the handlers, for log lines (`shard 3`, `slack`).
    who: Arc<str>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog thread `thread_name` for `threshold`; its log lines start with
    /// `who` (`shard 3`, `slack`).
    pub fn start(
        thread_name: String,
        who: Arc<str>,
        threshold: Duration,
    ) -> std::io::Result<Watchdog> {
        let shared = Arc::new(Shared {
            call: Mutex::new(Call {
                label: None,
                started: Instant::now(),
                id: 0,
                stop: false,
            }),
            wake: Condvar::new(),
            parked: AtomicBool::new(false),
            threshold,
        });
        let thread = {
            let shared = shared.clone();
            let who = who.clone();
            std::thread::Builder::new()
                .name(thread_name)
                .spawn(move || watch(&shared, &who, threshold))?
        };
        Ok(Watchdog {
            shared,
            who,
            thread: Some(thread),
        })
    }

    /// A handler starts on `label`.
    pub fn begin(&self, label: Label) {
        {
            let mut call = self.shared.call.lock();
            call.label = Some(label);
            call.started = Instant::now();
            call.id = call.id.wrapping_add(1);
        }
        if self.shared.parked.load(Ordering::Acquire) {
            self.shared.wake.notify_one();
        }
    }

    /// The handler returned (or panicked); one that ran past the threshold is reported with
    /// how long it took in all (whether or not the watchdog got to it while it ran).
    pub fn end(&self) {
        let mut call = self.shared.call.lock();
        let label = call.label.take();
        let took = call.started.elapsed();
        if let (true, Some(label)) = (took >= self.shared.threshold, label) {
            drop(call);
            log::warn!(
                "{}: a handler for {label} returned after {took:.1?}; events waited meanwhile",
                self.who
            );
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.call.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(shared: &Shared, who: &str, threshold: Duration) {
    let mut call = shared.call.lock();
    loop {
        if call.stop {
            return;
        }
        if call.label.is_none() {
            // Idle: sleep until a handler starts (`begin` wakes us) or we are stopped.
            shared.parked.store(true, Ordering::Release);
            shared.wake.wait(&mut call);
            shared.parked.store(false, Ordering::Release);
            continue;
        }
        let (id, started) = (call.id, call.started);
        let mut report_at = threshold;
        loop {
            // A threshold too large for the clock means never.
            let Some(deadline) = started.checked_add(report_at) else {
                shared.parked.store(true, Ordering::Release);
                while !call.stop && call.id == id && call.label.is_some() {
                    shared.wake.wait(&mut call);
                }
                shared.parked.store(false, Ordering::Release);
                break;
            };
            // Not parked: calls starting and ending meanwhile need not wake us, we look
            // again at the deadline.
            let _ = shared.wake.wait_until(&mut call, deadline);
            if call.stop || call.id != id || call.label.is_none() {
                break;
            }
            if Instant::now() < deadline {
                continue;
            }
            if let Some(label) = &call.label {
                log::warn!(
                    "{who}: a handler for {label} has been running for {:.1?} and has not returned; events wait meanwhile",
                    started.elapsed()
                );
            }
            // Again at twice the time, and so on, while it still runs.
            report_at = report_at.saturating_mul(2);
        }
    }
}
