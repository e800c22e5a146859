//! The accept loop both simulators run: one thread per accepted TCP connection, their
//! handles kept so that dropping a simulator joins every one of them.

use parking_lot::Mutex;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// A simulator's two long-lived threads, named `{prefix}-accept` and `{prefix}-timer`. When
/// the timer cannot start, `stop` ends the acceptor, which is joined before the error comes
/// back.
pub(crate) fn spawn_accept_and_timer(
    prefix: &str,
    accept: impl FnOnce() + Send + 'static,
    timer: impl FnOnce() + Send + 'static,
    stop: impl FnOnce(),
) -> std::io::Result<(JoinHandle<()>, JoinHandle<()>)> {
    let acceptor = std::thread::Builder::new()
        .name(format!("{prefix}-accept"))
        .spawn(accept)?;
    match std::thread::Builder::new()
        .name(format!("{prefix}-timer"))
        .spawn(timer)
    {
        Ok(timer) => Ok((acceptor, timer)),
        Err(e) => {
            stop();
            let _ = acceptor.join();
            Err(e)
        }
    }
}

/// The connection threads of one simulator.
#[derive(Default)]
pub(crate) struct ConnThreads(Mutex<Vec<JoinHandle<()>>>);

impl ConnThreads {
    /// Joins every connection thread started so far.
    pub fn join_all(&self) {
        let threads: Vec<_> = self.0.lock().drain(..).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Accepts until `stopping` is set (the simulator then connects once to wake the loop),
/// numbering connections from `next_id` and serving each on its own thread, named
/// `<name>-<id>`.
pub(crate) fn accept_loop(
    listener: TcpListener,
    stopping: &AtomicBool,
    next_id: &AtomicU64,
    threads: &ConnThreads,
    name: &str,
    serve: impl Fn(TcpStream, u64) + Clone + Send + 'static,
) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = next_id.fetch_add(1, Ordering::AcqRel);
        let serve = serve.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-{id}"))
            .stack_size(512 * 1024)
            .spawn(move || serve(stream, id));
        if let Ok(handle) = spawned {
            let mut threads = threads.0.lock();
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
    }
}
