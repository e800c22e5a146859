//! The caller's loop: dial, drive one connection, classify how it ended, back off, resume
//! or identify (DESIGN.md §1–2). The only place that decides to reconnect.

use super::event::{Dispatch, Event};
use super::link::{Command, FromReader, LinkOptions, LinkThreads, Priority};
use super::policy::{decide, Action, Ended, Facts, FailureStreak, Wait};
use super::writer::WriterOptions;
use super::{Session, ShardState, Shared};
use crate::protocol::{Identify, OpCode, Outgoing, Ready, Resume};
use crate::transport::{DialRequest, WsUrl};
use crate::{Compression, Config, Error, Result};
use crossbeam_channel::{at, never, select, Receiver};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// After this many resume attempts in a row fail, identify a new session instead.
const MAX_FAILED_RESUMES: u32 = 3;

/// Why there is no URL to connect to.
enum NoUrl {
    /// Discovery failed for now: treat like a failed dial.
    Retry(Ended),
    /// Stop `run` with this result.
    Stop(Result<()>),
}

/// Where the current connection is in its handshake.
enum Phase {
    AwaitingHello,
    AwaitingReady,
    Active,
}

pub(crate) struct Runner<H> {
    config: Config,
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    handler: H,
    /// The session as of the last delivered dispatch.
    session: Option<Session>,
    /// The last sequence number delivered in this session (0 = none).
    last_seq: u64,
    /// The discovered (or configured) gateway URL, cached for the process lifetime.
    gateway_url: Option<String>,
    generation: u64,
    attempt: u32,
    failed_resumes: u32,
    /// The resume URL refused connections: resume via the gateway URL instead.
    avoid_resume_url: bool,
    /// The last delivered seq when a message exceeded the size limit: if the next one
    /// fails at the same place, the replay would fail forever, so it is skipped.
    too_large_after: Option<u64>,
    /// The seq sent in the last Resume, to count the replayed dispatches.
    resumed_from: u64,
    /// Set when the handler panicked and the config says that is fatal.
    handler_failure: Option<Error>,
    /// Connections in a row that ended the same way before READY.
    streak: FailureStreak,
}

impl<H: FnMut(Event)> Runner<H> {
    pub fn new(
        config: Config,
        shared: Arc<Shared>,
        commands: Receiver<Command>,
        handler: H,
    ) -> Self {
        let session = config.session.clone();
        let last_seq = session.as_ref().map_or(0, |s| s.seq);
        Runner {
            gateway_url: config.gateway_url.clone(),
            config,
            shared,
            commands,
            handler,
            session,
            last_seq,
            generation: 0,
            attempt: 0,
            failed_resumes: 0,
            avoid_resume_url: false,
            too_large_after: None,
            resumed_from: 0,
            handler_failure: None,
            streak: FailureStreak::default(),
        }
    }

    pub fn run(mut self) -> Result<()> {
        loop {
            if self.shared.stop_requested().is_some() {
                return Ok(());
            }
            let resume = self.session.is_some();
            if !resume && !self.wait_identify_turn() {
                return Ok(());
            }
            let (ended, active_for) = match self.connect_url(resume) {
                Ok(url) => self.connection(url, resume),
                Err(NoUrl::Retry(ended)) => (ended, None),
                Err(NoUrl::Stop(result)) => return result,
            };
            if let Some(error) = self.handler_failure.take() {
                return Err(error);
            }
            // Not connected any more, whatever the handler hears next.
            if !matches!(ended, Ended::Shutdown { .. }) {
                self.shared.set_state(ShardState::Reconnecting {
                    attempt: self.attempt.saturating_add(1),
                });
            }
            log::info!(
                "shard {}: connection ended: {}",
                self.config.shard_id(),
                ended.describe()
            );
            self.emit(Event::Disconnected {
                code: ended.close_code(),
                reason: ended.describe(),
            });
            if let Some(warning) = self.streak.record(&ended, active_for.is_some()) {
                log::warn!("shard {}: {warning}", self.config.shard_id());
                self.emit(Event::Error { message: warning });
            }
            if resume && active_for.is_none() {
                self.failed_resumes += 1;
                if matches!(ended, Ended::Dial(_)) {
                    self.avoid_resume_url = true;
                }
            }
            if active_for.is_some_and(|d| d >= self.config.backoff.reset_after) {
                self.attempt = 0;
            }
            let facts = Facts {
                intents: self.config.intents,
                shard: self.config.shard,
            };
            let (resume_next, wait) = match decide(&ended, &facts) {
                Action::Exit => {
                    if ended == (Ended::Shutdown { resumable: false }) {
                        // Closing with 1000 ended the session on the server.
                        self.forget_session();
                    }
                    return Ok(());
                }
                Action::Stop(error) => {
                    log::error!("shard {}: stopping: {error}", self.config.shard_id());
                    return Err(error);
                }
                Action::Reconnect {
                    resume,
                    forget_session,
                    wait,
                } => (resume && !forget_session, wait),
            };
            if let Ended::InvalidSession { resumable } = ended {
                self.emit(Event::InvalidSession { resumable });
            }
            if let Ended::TooLarge(_) = ended {
                self.skip_repeated_oversize_message();
            }
            if !resume_next {
                self.abandon_session(ended.describe());
            } else if self.failed_resumes >= MAX_FAILED_RESUMES {
                self.abandon_session(format!(
                    "{} resume attempts in a row failed (the last: {})",
                    self.failed_resumes,
                    ended.describe()
                ));
            }
            self.attempt = self.attempt.saturating_add(1);
            let delay = match wait {
                Wait::Immediately => Duration::ZERO,
                // The first retry after a connection that worked goes at once.
                Wait::Backoff if self.attempt == 1 && active_for.is_some() => Duration::ZERO,
                Wait::Backoff => self.config.backoff.delay(self.attempt),
                Wait::InvalidSession => {
                    let range = &self.config.invalid_session_delay;
                    let (lo, hi) = (*range.start(), (*range.end()).max(*range.start()));
                    lo + (hi - lo).mul_f64(fastrand::f64())
                }
            };
            self.shared.set_state(ShardState::Reconnecting {
                attempt: self.attempt,
            });
            self.emit(Event::Reconnecting {
                attempt: self.attempt,
                delay,
            });
            if !self.sleep(delay) {
                return Ok(());
            }
        }
    }

    /// Waits for this shard's turn in the identify queue, if it has one; false when a
    /// shutdown came first.
    fn wait_identify_turn(&self) -> bool {
        let Some(queue) = &self.config.identify_queue else {
            return true;
        };
        let [id, count] = self.config.shard.unwrap_or([0, 1]);
        let shared = self.shared.clone();
        let sleep = move |d: Duration| shared.sleep_unless_stopped(d);
        queue
            .0
            .wait_turn(id, count, &crate::cluster::StopSignal::new(&sleep))
            && self.shared.stop_requested().is_none()
    }

    /// A message over `max_message_size` ends the connection; the resume replays it. The
    /// second time it fails at the same position, resume past it (and say so) rather than
    /// loop forever.
    fn skip_repeated_oversize_message(&mut self) {
        if self.too_large_after != Some(self.last_seq) {
            self.too_large_after = Some(self.last_seq);
            return;
        }
        let Some(session) = &mut self.session else {
            return;
        };
        let skipped = self.last_seq + 1;
        self.too_large_after = None;
        self.last_seq = skipped;
        session.seq = skipped;
        self.shared.delivered_seq.store(skipped, Ordering::Release);
        log::error!(
            "shard {}: dispatch s={skipped} exceeds max_message_size twice; skipping it",
            self.config.shard_id()
        );
        self.emit(Event::Error {
            message: format!(
                "skipped dispatch s={skipped}: it exceeds max_message_size ({} bytes) and could never be received",
                self.config.max_message_size
            ),
        });
    }

    /// Gives the session up for a new one, and says so: events after its last delivered
    /// `s` are lost.
    fn abandon_session(&mut self, reason: String) {
        if let Some(session) = self.session.take() {
            log::warn!(
                "shard {}: session lost after s={}: {reason}; identifying a new session",
                self.config.shard_id(),
                self.last_seq
            );
            self.emit(Event::SessionLost {
                session_id: session.id,
                last_seq: self.last_seq,
                reason,
            });
        }
        self.forget_session();
    }

    fn forget_session(&mut self) {
        self.session = None;
        self.last_seq = 0;
        self.failed_resumes = 0;
        self.avoid_resume_url = false;
        *self.shared.session.lock() = None;
        self.shared.delivered_seq.store(0, Ordering::Release);
    }

    /// Waits `delay`, returning false if shutdown was requested meanwhile.
    fn sleep(&self, delay: Duration) -> bool {
        self.shared.sleep_unless_stopped(delay)
    }

    /// The URL for the next connection, discovering the gateway URL if needed.
    fn connect_url(&mut self, resume: bool) -> Result<WsUrl, NoUrl> {
        if resume && !self.avoid_resume_url {
            if let Some(session) = &self.session {
                let gateway_is_tls = self
                    .gateway_url
                    .as_deref()
                    .and_then(|url| WsUrl::parse(url).ok())
                    .is_some_and(|url| url.secure);
                match WsUrl::parse(&session.resume_url) {
                    Ok(url) if gateway_is_tls && !url.secure => {
                        self.emit(Event::Error {
                            message: format!(
                                "not using the resume URL {:?}: it would downgrade a TLS session to plain text",
                                session.resume_url
                            ),
                        });
                        self.avoid_resume_url = true;
                    }
                    Ok(url) => return Ok(url),
                    Err(e) => {
                        self.emit(Event::Error {
                            message: format!("not using the resume URL: {e}"),
                        });
                        self.avoid_resume_url = true;
                    }
                }
            }
        }
        let url = match &self.gateway_url {
            Some(url) => url.clone(),
            None => {
                let shared = self.shared.clone();
                let sleep = move |d: Duration| shared.sleep_unless_stopped(d);
                let stopping = || self.shared.stop_requested().is_some();
                let opts = crate::rest::RequestOptions {
                    timeout: self.config.handshake_timeout,
                    tls: self.config.tls.as_ref(),
                    on_connected: std::sync::Arc::new(self.abort_registration()),
                    aborted: &stopping,
                };
                let found = crate::rest::gateway_bot(
                    &self.config.api_base,
                    &self.config.token,
                    &opts,
                    &sleep,
                );
                self.shared.dialing.lock().take();
                match found {
                    Ok(bot) => {
                        self.gateway_url = Some(bot.url.clone());
                        bot.url
                    }
                    Err(Error::Stopped) => return Err(NoUrl::Stop(Ok(()))),
                    // Discovery failures are transient: back off and try again.
                    Err(Error::Discovery(e)) => return Err(NoUrl::Retry(Ended::Dial(e))),
                    // A bad token or URL will not fix itself: end `run` with it.
                    Err(e) => return Err(NoUrl::Stop(Err(e))),
                }
            }
        };
        WsUrl::parse(&url).map_err(|e| NoUrl::Stop(Err(e)))
    }

    /// A callback that lets `shutdown` abort a dial or request on this socket.
    fn abort_registration(&self) -> impl Fn(&std::net::TcpStream) + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |tcp: &std::net::TcpStream| {
            let mut slot = shared.dialing.lock();
            *slot = tcp.try_clone().ok();
            if shared.stop_requested().is_some() {
                let _ = tcp.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Dials and drives one connection to its end. Returns how it ended and, if it reached
    /// READY/RESUMED, for how long it was active.
    fn connection(&mut self, url: WsUrl, resume: bool) -> (Ended, Option<Duration>) {
        let full_url = url.with_query(self.config.compression.query_value());
        self.shared.set_state(ShardState::Connecting);
        self.emit(Event::Connecting {
            attempt: self.attempt,
            url: full_url.clone(),
            resume,
        });
        let user_agent = crate::rest::user_agent();
        let dialed = self.config.adapter.0.dial(&DialRequest {
            url: &full_url,
            headers: &[("User-Agent", &user_agent)],
            connect_timeout: self.config.dial_timeout,
            handshake_timeout: self.config.handshake_timeout,
            max_message_size: self.config.max_message_size,
            tls: self.config.tls.as_ref(),
            cancel: &self.shared.cancel,
        });
        self.shared.cancel.clear();
        if let Some(resumable) = self.shared.stop_requested() {
            return (Ended::Shutdown { resumable }, None);
        }
        let conn = match dialed {
            Ok(conn) => conn,
            Err(e) => return (Ended::Dial(e.0), None),
        };
        self.emit(Event::Connected);
        self.generation += 1;
        let opts = LinkOptions {
            shard_id: self.config.shard_id(),
            event_queue: self.config.event_queue,
            initial_seq: self.last_seq,
            commands: self.commands.clone(),
            writer: WriterOptions {
                rate_limit: self.config.rate_limit,
                retry: self.shared.retry.clone(),
            },
            chunks: self.shared.chunks.clone(),
            compression: self.config.compression,
            payload_compression: self.config.payload_compression,
            max_message_size: self.config.max_message_size,
            latency: self.shared.latency.clone(),
            metrics: self.shared.metrics.clone(),
        };
        let mut link = match LinkThreads::start(conn, self.generation, opts) {
            Ok(link) => link,
            Err(e) => return (Ended::Io(format!("could not start threads: {e}")), None),
        };
        let mut active_since = None;
        *self.shared.events.lock() = Some(link.events.clone());
        let ended = self.drive(&link, resume, &mut active_since);
        self.shared.events.lock().take();
        let close = match &ended {
            Ended::Shutdown { resumable: false } => Some((1000, "shutting down")),
            Ended::Shutdown { resumable: true } => Some((4000, "shutting down, will resume")),
            Ended::Closed { .. } | Ended::Eof | Ended::Io(_) => None,
            _ => Some((4000, "reconnecting")),
        };
        let leftovers = link.stop_and_join(close);
        if !matches!(ended, Ended::Shutdown { .. }) {
            // Nothing read before the disconnect is lost (DESIGN.md §2).
            for message in leftovers {
                match message {
                    FromReader::Dispatch(dispatch) => {
                        self.on_dispatch(dispatch, &link.link.seq, &mut active_since);
                    }
                    FromReader::Notice(event) => self.emit(event),
                    FromReader::Hello | FromReader::Ended(_) => {}
                }
            }
        }
        (ended, active_since.map(|since: Instant| since.elapsed()))
    }

    /// Delivers one connection's events until it ends.
    fn drive(
        &mut self,
        link: &LinkThreads,
        resume: bool,
        active_since: &mut Option<Instant>,
    ) -> Ended {
        let mut phase = Phase::AwaitingHello;
        let mut deadline = at(Instant::now() + self.config.hello_timeout);
        loop {
            if let Some(resumable) = self.shared.stop_requested() {
                return Ended::Shutdown { resumable };
            }
            if self.handler_failure.is_some() {
                return Ended::Shutdown { resumable: true };
            }
            let message = match link.events.try_recv() {
                Ok(message) => message,
                Err(_) => select! {
                    recv(link.events) -> message => match message {
                        Ok(message) => message,
                        Err(_) => return Ended::Io("the reader thread stopped".into()),
                    },
                    recv(link.reports) -> report => match report {
                        Ok(report) if report.generation == self.generation => return report.ended,
                        _ => continue,
                    },
                    recv(self.shared.wake.1) -> _ => continue,
                    recv(deadline) -> _ => {
                        return Ended::Timeout(match phase {
                            Phase::AwaitingHello => "Hello",
                            _ if resume => "RESUMED",
                            _ => "READY",
                        })
                    }
                },
            };
            link.made_room();
            match message {
                FromReader::Hello => {
                    if !matches!(phase, Phase::AwaitingHello) {
                        continue;
                    }
                    let first = if let (true, Some(session)) = (resume, &self.session) {
                        self.shared.set_state(ShardState::Resuming);
                        self.resumed_from = self.last_seq;
                        let d = Resume {
                            token: self.config.token.clone(),
                            session_id: session.id.clone(),
                            seq: self.last_seq,
                        };
                        Outgoing::new(OpCode::RESUME, d).to_json()
                    } else {
                        self.shared.set_state(ShardState::Identifying);
                        Outgoing::new(OpCode::IDENTIFY, self.identify()).to_json()
                    };
                    let _ = link.priority.send(Priority::Session(first));
                    phase = Phase::AwaitingReady;
                    deadline = at(Instant::now() + self.config.ready_timeout);
                }
                FromReader::Dispatch(dispatch) => {
                    if self.on_dispatch(dispatch, &link.link.seq, active_since) {
                        phase = Phase::Active;
                        deadline = never();
                    }
                }
                FromReader::Notice(event) => self.emit(event),
                FromReader::Ended(ended) => return ended,
            }
            if !link.reports.is_empty() {
                if let Ok(report) = link.reports.try_recv() {
                    if report.generation == self.generation {
                        return report.ended;
                    }
                }
            }
        }
    }

    fn identify(&self) -> Identify {
        let mut identify = Identify::new(self.config.token.clone(), self.config.intents);
        identify.properties = self.config.properties.clone();
        identify.large_threshold = self.config.large_threshold;
        identify.shard = self.config.shard;
        identify.presence = self.config.presence.clone();
        if self.config.payload_compression && self.config.compression == Compression::None {
            identify.compress = Some(true);
        }
        identify
    }

    /// Delivers a dispatch exactly once and in order; returns true if it made the session
    /// active (READY or RESUMED).
    /// Delivers one dispatch; `heartbeat_seq` is the connection's `s` for heartbeats.
    fn on_dispatch(
        &mut self,
        mut dispatch: Dispatch,
        heartbeat_seq: &AtomicU64,
        active_since: &mut Option<Instant>,
    ) -> bool {
        let name = dispatch.event_type();
        let session_event = name == "READY" || name == "RESUMED";
        // A dispatch nobody handles is counted for the session, not scanned or delivered.
        let wanted = session_event
            || self
                .config
                .event_filter
                .as_ref()
                .is_none_or(|wants| (wants.0)(name));
        // The reader left most dispatches' `d` for this thread to scan.
        if let Err(message) = if wanted { dispatch.finish() } else { Ok(()) } {
            // The reader took its `s` for heartbeats; unless a later one came since, the
            // heartbeat goes back to the last good one.
            let _ = heartbeat_seq.compare_exchange(
                dispatch.seq(),
                self.last_seq,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            self.emit(Event::Error { message });
            return false;
        }
        let seq = dispatch.seq();
        let name = dispatch.event_type();
        let mut activated = false;
        let mut notice = None;
        if name == "READY" {
            // A new session numbers from 1 again.
            self.last_seq = 0;
            match dispatch.data::<Ready>() {
                Ok(ready) => {
                    let resume_url = ready
                        .resume_gateway_url
                        .clone()
                        .or_else(|| self.gateway_url.clone())
                        .unwrap_or_default();
                    let session = Session {
                        id: ready.session_id.clone(),
                        seq,
                        resume_url,
                    };
                    *self.shared.session.lock() = Some(session.clone());
                    self.session = Some(session);
                    notice = Some(Event::Ready(Box::new(ready)));
                }
                Err(e) => {
                    self.session = None;
                    *self.shared.session.lock() = None;
                    notice = Some(Event::Error {
                        message: format!("READY without a usable session_id ({e}); this session cannot be resumed"),
                    });
                }
            }
            activated = true;
        } else if name == "RESUMED" {
            activated = true;
        }
        if activated {
            self.failed_resumes = 0;
            self.avoid_resume_url = false;
            *active_since = Some(Instant::now());
            // Active before the handler hears of it: it may send commands right away.
            self.shared.set_state(ShardState::Active);
        }
        if let Some(event) = notice {
            self.emit(event);
        }
        if self.last_seq > 0 && seq <= self.last_seq {
            log::warn!(
                "shard {}: dropped a duplicate dispatch {name} s={seq} (already delivered up to {})",
                self.config.shard_id(),
                self.last_seq
            );
            return activated;
        }
        if self.last_seq > 0 && seq > self.last_seq + 1 {
            log::warn!(
                "shard {}: sequence gap: expected {}, received {seq}",
                self.config.shard_id(),
                self.last_seq + 1
            );
            self.emit(Event::SequenceGap {
                expected: self.last_seq + 1,
                received: seq,
            });
        }
        if name == "RESUMED" {
            self.emit(Event::Resumed {
                replayed: self.last_seq.saturating_sub(self.resumed_from),
            });
        }
        self.last_seq = seq;
        if let Some(session) = &mut self.session {
            session.seq = seq;
        }
        // Counted as delivered once handed over: a session exported from inside the handler
        // resumes after this event, not with it.
        self.shared.delivered_seq.store(seq, Ordering::Release);
        if wanted {
            self.emit(Event::Dispatch(dispatch));
        }
        activated
    }

    /// Calls the handler, isolating panics and timing slow calls.
    fn emit(&mut self, event: Event) {
        let label = match &event {
            Event::Dispatch(d) => Label::Dispatch(d.clone()),
            other => Label::Lifecycle(other.name()),
        };
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.handler)(event)));
        let took = started.elapsed();
        if took >= self.config.slow_handler_warning {
            log::warn!(
                "shard {}: the handler took {took:.1?} on {}; events wait meanwhile",
                self.config.shard_id(),
                label.describe()
            );
        }
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            let event = label.describe();
            log::error!(
                "shard {}: the handler panicked on {event}: {message}",
                self.config.shard_id()
            );
            if self.config.stop_on_handler_panic {
                self.handler_failure = Some(Error::HandlerPanicked { event, message });
            } else {
                let report = Event::Error {
                    message: format!("the handler panicked on {event}: {message}"),
                };
                let _ = catch_unwind(AssertUnwindSafe(|| (self.handler)(report)));
            }
        }
    }
}

/// What an event was, kept for messages after the event has moved into the handler.
enum Label {
    Dispatch(Dispatch),
    Lifecycle(&'static str),
}

impl Label {
    fn describe(&self) -> String {
        match self {
            Label::Dispatch(d) => format!("{} (s={})", d.event_type(), d.seq()),
            Label::Lifecycle(name) => format!("the {name} event"),
        }
    }
}
