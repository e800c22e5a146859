//! The server scaffolding both simulators share: an ephemeral port of 127.0.0.1, an accept
//! loop serving each connection on its own thread, a timer thread, and a stop that wakes and
//! joins every one of them when the simulator is dropped.

use parking_lot::Mutex;
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What a simulator's state does when its [`Server`] stops, besides ending the accept loop.
pub(crate) trait ShutDown: Send + Sync + 'static {
    /// Wakes the timer thread (it sees [`AcceptState::is_stopping`]) and shuts every
    /// connection down, so that their threads end and can be joined.
    fn shut_down(&self);
}

/// The accept loop's side of a simulator's state: its port, whether it is stopping and the
/// connections accepted so far.
pub(crate) struct AcceptState {
    port: u16,
    stopping: AtomicBool,
    next_conn: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl AcceptState {
    fn new(port: u16) -> AcceptState {
        AcceptState {
            port,
            stopping: AtomicBool::new(false),
            // Connections are numbered from 1.
            next_conn: AtomicU64::new(1),
            threads: Mutex::default(),
        }
    }

    /// The port the simulator listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the simulator is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Connections accepted so far (websocket and HTTP).
    pub fn accepted(&self) -> u64 {
        self.next_conn.load(Ordering::Acquire) - 1
    }

    /// Ends the accept loop: it is blocked in `accept`, so a connection wakes it.
    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }

    fn join_connection_threads(&self) {
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// A running simulator server: its state `S` (which it derefs to), its accept thread
/// (`{prefix}-accept`, connections on `{prefix}-conn-<id>`) and its timer thread
/// (`{prefix}-timer`). Dropping it stops and joins them all.
pub(crate) struct Server<S: ShutDown> {
    state: Arc<S>,
    accept: Arc<AcceptState>,
    acceptor: Option<JoinHandle<()>>,
    timer: Option<JoinHandle<()>>,
}

impl<S: ShutDown> Server<S> {
    /// Binds an ephemeral port of 127.0.0.1, builds the state with `new_state` (which keeps
    /// the [`AcceptState`] it is given), then starts the accept loop, calling `serve` for
    /// each connection, and the timer thread, running `run_timer`.
    pub fn start(
        prefix: &str,
        new_state: impl FnOnce(&Arc<AcceptState>) -> std::io::Result<S>,
        serve: fn(&Arc<S>, TcpStream, u64),
        run_timer: fn(&Arc<S>),
    ) -> std::io::Result<Server<S>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let accept = Arc::new(AcceptState::new(listener.local_addr()?.port()));
        let state = Arc::new(new_state(&accept)?);
        let acceptor = std::thread::Builder::new()
            .name(format!("{prefix}-accept"))
            .spawn({
                let (state, accept) = (state.clone(), accept.clone());
                let conn_prefix = format!("{prefix}-conn");
                move || {
                    accept_loop(listener, &accept, &conn_prefix, move |tcp, id| {
                        serve(&state, tcp, id)
                    })
                }
            })?;
        let mut server = Server {
            state,
            accept,
            acceptor: Some(acceptor),
            timer: None,
        };
        // On an error the server is dropped, which stops and joins the acceptor.
        let state = server.state.clone();
        server.timer = Some(
            std::thread::Builder::new()
                .name(format!("{prefix}-timer"))
                .spawn(move || run_timer(&state))?,
        );
        Ok(server)
    }
}

impl<S: ShutDown> Deref for Server<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S: ShutDown> Drop for Server<S> {
    fn drop(&mut self) {
        self.accept.stop();
        self.state.shut_down();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        if let Some(timer) = self.timer.take() {
            let _ = timer.join();
        }
        self.accept.join_connection_threads();
    }
}

/// Accepts until [`AcceptState::stop`], numbering connections and serving each on its own
/// thread, named `<name>-<id>`.
fn accept_loop(
    listener: TcpListener,
    accept: &AcceptState,
    name: &str,
    serve: impl Fn(TcpStream, u64) + Clone + Send + 'static,
) {
    for stream in listener.incoming() {
        if accept.is_stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = accept.next_conn.fetch_add(1, Ordering::AcqRel);
        let serve = serve.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-{id}"))
            .stack_size(512 * 1024)
            .spawn(move || serve(stream, id));
        if let Ok(handle) = spawned {
            let mut threads = accept.threads.lock();
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
    }
}
