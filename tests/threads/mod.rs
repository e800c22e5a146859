//! This process's client threads, read from /proc, for the tests that check that a shard or
//! a cluster leaves none behind.

#![allow(dead_code)] // Each test binary uses part of it.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One test at a time in a binary that counts threads: every shard thread of the process
/// counts, whichever test started it.
pub fn serial() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names (`comm`, cut by Linux to 15 bytes) of this process's threads started by
/// syncord's client side, sorted; the simulator's own `syncord-sim-*` threads are left out.
pub fn client_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task is readable") {
        let Ok(task) = task else { continue };
        // A thread may exit between listing and reading: skip it.
        let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let name = comm.trim_end().to_owned();
        if name.starts_with("syncord-") && !name.starts_with("syncord-sim") {
            names.push(name);
        }
    }
    names.sort();
    names
}

/// Joined threads leave /proc a moment after `join` returns: waits up to `within` for
/// that, then fails naming the threads left. There is no event to wait on for the
/// kernel's view, so this polls.
pub fn assert_client_threads_gone(within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left = client_threads();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "threads still running after the shards stopped: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
