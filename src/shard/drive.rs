//! One connection, from the dial to its end: the handshake (Hello, then Identify or Resume,
//! then READY or RESUMED), and every dispatch delivered exactly once and in order.

use super::connection::{FromReader, Priority};
use super::event::{Dispatch, Event};
use super::reader::Decoding;
use super::runner::Runner;
use super::wire::{Discord, DiscordReader};
use super::ShardState;
use crate::engine::{LinkOptions, LinkThreads, WriterOptions};
use crate::policy::{close_frame, reaction, BadInput, Ended, Reaction};
use crate::protocol::{Identify, OpCode, Outgoing, Ready, Resume};
use crate::session::Delivery;
use crate::transport::{DialRequest, WsUrl};
use crate::{Compression, ErrorKind};
use crossbeam_channel::{at, never, select};
use std::time::{Duration, Instant};

/// Where the current connection is in its handshake.
enum Phase {
    AwaitingHello,
    AwaitingReady,
    Active,
}

impl<H: FnMut(Event)> Runner<H> {
    /// Dials and drives one connection to its end. Returns how it ended and, if it reached
    /// READY/RESUMED, for how long it was active.
    pub(super) fn connection(&mut self, url: WsUrl, resume: bool) -> (Ended, Option<Duration>) {
        let full_url = url.with_query(self.config.compression.query_value());
        self.shared.set_state(ShardState::Connecting);
        self.handler.emit(Event::Connecting {
            attempt: self.policy.attempt(),
            url: full_url.clone(),
            resume,
        });
        let user_agent = crate::rest::user_agent();
        let tls = match url.secure.then(|| self.config.tls_connector()) {
            Some(Err(e)) => return (Ended::Dial(format!("TLS setup failed: {e}")), None),
            Some(Ok(tls)) => Some(tls),
            None => None,
        };
        let dialed = self.config.adapter.0.dial(&DialRequest {
            url: &full_url,
            headers: &[("User-Agent", &user_agent)],
            connect_timeout: self.config.dial_timeout,
            handshake_timeout: self.config.handshake_timeout,
            max_message_size: self.config.max_message_size,
            tls: tls.as_ref(),
            cancel: &self.shared.stop.cancel,
        });
        self.shared.stop.cancel.clear();
        if let Some(resumable) = self.shared.stop_requested() {
            return (Ended::Shutdown { resumable }, None);
        }
        let conn = match dialed {
            Ok(conn) => conn,
            Err(e) => return (Ended::Dial(e.0), None),
        };
        self.handler.emit(Event::Connected);
        self.generation += 1;
        let opts = LinkOptions::<Discord> {
            label: self.config.shard_id().to_string(),
            event_queue: self.config.event_queue,
            state: self.shared.session.clone(),
            reader: DiscordReader {
                chunks: self.shared.chunks.clone(),
                decoding: Decoding {
                    compression: self.config.compression,
                    payload_compression: self.config.payload_compression,
                    limit: self.config.max_message_size,
                },
                filter: self.config.event_filter.clone(),
            },
            commands: self.commands.clone(),
            bell: self.shared.commands.bell().clone(),
            writer: WriterOptions {
                rate_limit: self.config.rate_limit,
                retry: self.shared.retry.clone(),
            },
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
        let leftovers = link.stop_and_join(close_frame(&ended));
        if !matches!(ended, Ended::Shutdown { .. }) {
            // Nothing read before the disconnect is lost.
            for message in leftovers {
                match message {
                    FromReader::Dispatch(dispatch) => {
                        self.on_dispatch(dispatch, &link, &mut active_since);
                    }
                    FromReader::Unhandled { first, last } => self.on_unhandled(first, last),
                    FromReader::Notice(event) => self.handler.emit(event),
                    FromReader::Hello | FromReader::Ended(_) => {}
                }
            }
        }
        (ended, active_since.map(|since: Instant| since.elapsed()))
    }

    /// Delivers one connection's events until it ends.
    fn drive(
        &mut self,
        link: &LinkThreads<Discord>,
        resume: bool,
        active_since: &mut Option<Instant>,
    ) -> Ended {
        let mut phase = Phase::AwaitingHello;
        let mut deadline = at(Instant::now() + self.config.hello_timeout);
        loop {
            if let Some(resumable) = self.shared.stop_requested() {
                return Ended::Shutdown { resumable };
            }
            if self.handler.failed() {
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
                    recv(self.shared.stop.woken()) -> _ => continue,
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
                    let resuming = {
                        let mut session = self.shared.session.lock();
                        let id = session.resumable().map(|s| s.id.clone());
                        id.filter(|_| resume).map(|id| (id, session.begin_resume()))
                    };
                    let first = if let Some((session_id, seq)) = resuming {
                        self.shared.set_state(ShardState::Resuming);
                        let d = Resume {
                            token: self.config.token.clone(),
                            session_id,
                            seq,
                        };
                        Outgoing::new(OpCode::RESUME, d).to_json()
                    } else {
                        self.shared.set_state(ShardState::Identifying);
                        // Heartbeats go on while the shard waits for its turn.
                        if !self.wait_identify_turn() {
                            let resumable = self.shared.stop_requested().unwrap_or(true);
                            return Ended::Shutdown { resumable };
                        }
                        Outgoing::new(OpCode::IDENTIFY, self.identify()).to_json()
                    };
                    let _ = link.priority.send(Priority::Session(first));
                    phase = Phase::AwaitingReady;
                    deadline = at(Instant::now() + self.config.ready_timeout);
                }
                FromReader::Dispatch(dispatch) => {
                    if self.on_dispatch(dispatch, link, active_since) {
                        phase = Phase::Active;
                        deadline = never();
                    }
                }
                FromReader::Unhandled { first, last } => self.on_unhandled(first, last),
                FromReader::Notice(event) => self.handler.emit(event),
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
    fn on_dispatch(
        &mut self,
        mut dispatch: Dispatch,
        link: &LinkThreads<Discord>,
        active_since: &mut Option<Instant>,
    ) -> bool {
        // The reader kept only what a handler wants (and the session events).
        let session_event = SessionEvent::of(dispatch.event_type());
        // The reader left most dispatches' `d` for this thread to scan.
        if let Err(message) = dispatch.finish() {
            // Only this payload is lost: the reader already acted on its `op`, `s` and `t`.
            if reaction(BadInput::MalformedAfterData) == Reaction::Skip {
                self.handler.emit(Event::Error {
                    kind: ErrorKind::SkippedPayload,
                    message,
                });
            }
            return false;
        }
        let seq = dispatch.seq();
        let mut notice = None;
        if session_event == Some(SessionEvent::Ready) {
            let ready = dispatch.data::<Ready>();
            let mut session = self.shared.session.lock();
            match ready {
                Ok(ready) => {
                    session.on_ready(
                        Some(ready.session_id.clone()),
                        ready.resume_gateway_url.clone(),
                        self.gateway_url.as_deref(),
                    );
                    notice = Some(Event::Ready(Box::new(ready)));
                }
                Err(e) => {
                    // Delivered all the same; only resuming it later is impossible.
                    session.on_ready(None, None, None);
                    if reaction(BadInput::ReadyWithoutSession) == Reaction::DeliverWithError {
                        notice = Some(Event::Error {
                            kind: ErrorKind::ReadyWithoutSession,
                            message: format!(
                                "READY without a usable session_id ({e}); this session cannot be resumed"
                            ),
                        });
                    }
                }
            }
        }
        if session_event.is_some() {
            self.policy.on_active();
            *active_since = Some(Instant::now());
            // Active before the handler hears of it: it may send commands right away.
            self.shared.set_state(ShardState::Active);
            link.session_active();
        }
        if let Some(event) = notice {
            self.handler.emit(event);
        }
        // Counted as delivered once handed over: a session exported from inside the handler
        // resumes after this event, not with it.
        let (delivery, replayed) = {
            let mut session = self.shared.session.lock();
            let replayed = session.replayed();
            (session.on_dispatch(seq), replayed)
        };
        match delivery {
            Delivery::Duplicate { last } => {
                log::warn!(
                    "shard {}: dropped a duplicate dispatch {} s={seq} (already delivered up to {last})",
                    self.config.shard_id(),
                    dispatch.event_type(),
                );
                return session_event.is_some();
            }
            Delivery::Gap { expected } => self.sequence_gap(expected, seq),
            Delivery::Deliver => {}
        }
        if session_event == Some(SessionEvent::Resumed) {
            self.handler.emit(Event::Resumed { replayed });
        }
        self.handler.emit(Event::Dispatch(dispatch));
        session_event.is_some()
    }

    /// `expected` (and maybe more) never arrived before `received`: logged and told.
    fn sequence_gap(&mut self, expected: u64, received: u64) {
        log::warn!(
            "shard {}: sequence gap: expected {expected}, received {received}",
            self.config.shard_id(),
        );
        self.handler.emit(Event::SequenceGap { expected, received });
    }

    /// Counts dispatches `first..=last`, which no handler wants, for the session: as if each
    /// had been delivered, so Resume and heartbeats carry the last of them.
    fn on_unhandled(&mut self, first: u64, last: u64) {
        let delivery = self.shared.session.lock().on_unhandled(first, last);
        match delivery {
            Delivery::Duplicate { last: delivered } => log::warn!(
                "shard {}: unhandled dispatches s={first}..={last} overlap what was already delivered (up to {delivered})",
                self.config.shard_id(),
            ),
            Delivery::Gap { expected } => self.sequence_gap(expected, first),
            Delivery::Deliver => {}
        }
    }
}

/// The dispatches that make a session active ("Ready" and "Resumed" in Discord's Gateway
/// Events page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SessionEvent {
    Ready,
    Resumed,
}

impl SessionEvent {
    pub(super) fn of(name: &str) -> Option<SessionEvent> {
        match name {
            "READY" => Some(SessionEvent::Ready),
            "RESUMED" => Some(SessionEvent::Resumed),
            _ => None,
        }
    }
}
