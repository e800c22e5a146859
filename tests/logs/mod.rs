//! Captures this test binary's log lines (`LEVEL target: message`) so tests can wait for a
//! warning. Waits have timeouts; nothing sleeps.
#![allow(dead_code)]

use log::{Level, Metadata, Record};
use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

struct Capture {
    lines: Mutex<Vec<String>>,
    added: Condvar,
}

static CAPTURE: Capture = Capture {
    lines: Mutex::new(Vec::new()),
    added: Condvar::new(),
};

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            CAPTURE.lines.lock().push(line);
            CAPTURE.added.notify_all();
        }
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (once per binary; later calls do nothing).
pub fn capture() {
    if log::set_logger(&Logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The first captured line that matches, waiting up to `timeout` for it.
pub fn wait_for(timeout: Duration, predicate: impl Fn(&str) -> bool) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let mut lines = CAPTURE.lines.lock();
    let mut seen = 0;
    loop {
        if let Some(line) = lines[seen..].iter().find(|l| predicate(l)) {
            return Some(line.clone());
        }
        seen = lines.len();
        if CAPTURE.added.wait_until(&mut lines, deadline).timed_out() {
            return lines[seen..].iter().find(|l| predicate(l)).cloned();
        }
    }
}
