//! The caller's loop: connect, hand the connection to [`Runner::connection`], ask the
//! policy what to do about how it ended, and carry that plan out. It decides nothing
//! itself: every rule is in [`crate::policy`].

use super::event::Event;
use super::handler::Handler;
use super::{ShardState, Shared};
use crate::engine::{Command, CommandReceiver};
use crate::policy::{
    reaction, Attempt, BadInput, Ended, Next, Reaction, ReconnectPolicy, Settings,
};
use crate::transport::WsUrl;
use crate::{Config, Error, ErrorKind, Result};
use std::sync::Arc;
use std::time::Duration;

/// Why there is no URL to connect to.
enum NoUrl {
    /// Discovery failed for now: treat like a failed dial.
    Retry(Ended),
    /// Stop `run` with this result.
    Stop(Result<()>),
}

pub(crate) struct Runner<H> {
    pub(super) config: Config,
    pub(super) shared: Arc<Shared>,
    pub(super) commands: CommandReceiver,
    pub(super) handler: Handler<H>,
    /// The discovered (or configured) gateway URL, cached for the process lifetime.
    pub(super) gateway_url: Option<String>,
    pub(super) generation: u64,
    pub(super) policy: ReconnectPolicy,
    /// `max_concurrency` from discovery, for the default identify queue.
    max_concurrency: Option<u64>,
    /// The process's default identify queue, once this shard has looked it up.
    default_queue: Option<Arc<crate::cluster::LocalQueue>>,
}

impl<H: FnMut(Event)> Runner<H> {
    pub fn new(config: Config, shared: Arc<Shared>, commands: CommandReceiver, handler: H) -> Self {
        let handler = Handler::new(
            handler,
            config.shard_id(),
            config.slow_handler_warning,
            config.stop_on_handler_panic,
        );
        Runner {
            gateway_url: config.gateway_url.clone(),
            config,
            shared,
            commands,
            handler,
            generation: 0,
            policy: ReconnectPolicy::default(),
            max_concurrency: None,
            default_queue: None,
        }
    }

    /// Runs the shard until it stops, then hands back every command it could not send.
    pub fn run(mut self) -> Result<()> {
        let result = self.run_connections();
        self.shared.set_state(match result {
            Ok(()) => ShardState::Stopped,
            Err(_) => ShardState::FatallyClosed,
        });
        self.hand_back_unsent();
        result
    }

    /// Commands accepted with `Ok` but never written go back to the handler, one
    /// [`Event::Unsent`] each, so none is lost in silence.
    fn hand_back_unsent(&mut self) {
        let unsent: Vec<Command> = self
            .shared
            .retry
            .lock()
            .drain(..)
            .chain(self.commands.drain())
            .collect();
        if unsent.is_empty() {
            return;
        }
        log::warn!(
            "shard {}: {} queued commands were not sent because the shard stopped",
            self.config.shard_id(),
            unsent.len()
        );
        for command in unsent {
            self.handler.emit(Event::Unsent {
                payload: command.json,
            });
        }
    }

    fn run_connections(&mut self) -> Result<()> {
        let settings = Settings {
            intents: self.config.intents,
            shard: self.config.shard,
            backoff: self.config.backoff.clone(),
            invalid_session_delay: self.config.invalid_session_delay.clone(),
            max_message_size: self.config.max_message_size,
        };
        loop {
            if self.shared.stop_requested().is_some() {
                return Ok(());
            }
            let resume = self.shared.session.lock().resumable().is_some();
            let (ended, active_for) = match self.connect_url(resume) {
                Ok(url) => self.connection(url, resume),
                Err(NoUrl::Retry(ended)) => (ended, None),
                Err(NoUrl::Stop(result)) => return result,
            };
            if let Some(error) = self.handler.take_failure() {
                return Err(error);
            }
            // Not connected any more, whatever the handler hears next.
            if !matches!(ended, Ended::Shutdown { .. }) {
                self.shared.set_state(ShardState::Reconnecting {
                    attempt: self.policy.attempt().saturating_add(1),
                });
            }
            log::info!(
                "shard {}: connection ended: {}",
                self.config.shard_id(),
                ended.describe()
            );
            self.handler.emit(Event::Disconnected {
                code: ended.close_code(),
                reason: ended.describe(),
            });
            let (last_seq, has_session) = {
                let session = self.shared.session.lock();
                (session.last_seq(), session.resumable().is_some())
            };
            let attempt = Attempt {
                ended,
                resumed: resume,
                active_for,
                last_seq,
                has_session,
            };
            let plan = self.policy.after(&attempt, &settings, fastrand::f64());
            for (kind, warning) in plan.warnings {
                log::warn!("shard {}: {warning}", self.config.shard_id());
                self.handler.emit(Event::Error {
                    kind,
                    message: warning,
                });
            }
            if let Some(resumable) = plan.invalid_session {
                self.handler.emit(Event::InvalidSession { resumable });
            }
            if let Some(seq) = plan.skip_to {
                self.shared.session.lock().skip_to(seq);
            }
            if let Some(reason) = plan.abandon {
                self.abandon_session(reason);
            }
            if plan.forget {
                self.shared.session.lock().abandon();
            }
            let (attempt, delay) = match plan.next {
                Next::Exit => return Ok(()),
                Next::Stop(error) => {
                    log::error!("shard {}: stopping: {error}", self.config.shard_id());
                    return Err(error);
                }
                Next::Reconnect { attempt, delay } => (attempt, delay),
            };
            self.shared.set_state(ShardState::Reconnecting { attempt });
            self.handler.emit(Event::Reconnecting { attempt, delay });
            if !self.shared.sleep_unless_stopped(delay) {
                return Ok(());
            }
        }
    }

    /// Waits for this shard's turn in its identify queue (the config's, or the process's
    /// default for this bot and gateway); false when a shutdown came first. Called between
    /// Hello and Identify, as twilight and discord.js do: a dial that fails spends no turn.
    pub(super) fn wait_identify_turn(&mut self) -> bool {
        let queue = match &self.config.identify_queue {
            Some(queue) => queue.0.clone(),
            None => {
                let gateway = self.gateway_url.as_deref().unwrap_or_default();
                let max_concurrency = self.max_concurrency.unwrap_or(1);
                let queue = self.default_queue.get_or_insert_with(|| {
                    crate::cluster::process_default(&self.config.token, gateway, max_concurrency)
                });
                queue.clone()
            }
        };
        let [id, count] = self.config.shard.unwrap_or([0, 1]);
        let shared = self.shared.clone();
        let sleep = move |d: Duration| shared.sleep_unless_stopped(d);
        queue.wait_turn(id, count, &crate::cluster::StopSignal::new(&sleep))
            && self.shared.stop_requested().is_none()
    }

    /// Gives the session up for a new one, and says so: events after its last delivered
    /// `s` are lost.
    fn abandon_session(&mut self, reason: String) {
        let lost = self.shared.session.lock().abandon();
        if let Some((session_id, last_seq)) = lost {
            log::warn!(
                "shard {}: session lost after s={last_seq}: {reason}; identifying a new session",
                self.config.shard_id(),
            );
            self.handler.emit(Event::SessionLost {
                session_id,
                last_seq,
                reason,
            });
        }
    }

    /// The URL for the next connection, discovering the gateway URL if needed.
    fn connect_url(&mut self, resume: bool) -> Result<WsUrl, NoUrl> {
        let session = self.shared.session.lock().resumable().cloned();
        if resume && self.policy.use_resume_url() {
            if let Some(session) = session {
                let gateway_is_tls = self
                    .gateway_url
                    .as_deref()
                    .and_then(|url| WsUrl::parse(url).ok())
                    .is_some_and(|url| url.secure);
                let unusable = match WsUrl::parse(&session.resume_url) {
                    Ok(url) if gateway_is_tls && !url.secure => format!(
                        "not using the resume URL {:?}: it would downgrade a TLS session to plain text",
                        session.resume_url
                    ),
                    Ok(url) => return Ok(url),
                    Err(e) => format!("not using the resume URL: {e}"),
                };
                if reaction(BadInput::InsecureResumeUrl) == Reaction::AvoidUrl {
                    self.handler.emit(Event::Error {
                        kind: ErrorKind::RefusedResumeUrl,
                        message: unusable,
                    });
                    self.policy.resume_url_unusable();
                }
            }
        }
        let url = match &self.gateway_url {
            Some(url) => url.clone(),
            None => {
                let shared = self.shared.clone();
                let sleep = move |d: Duration| shared.sleep_unless_stopped(d);
                let stopping = || self.shared.stop_requested().is_some();
                // Discovery shares the config's TLS connector (built once) with the dials.
                let secure = self.config.api_base.starts_with("https://");
                let tls = match secure.then(|| self.config.tls_connector()) {
                    Some(Err(e)) => {
                        return Err(NoUrl::Retry(Ended::Dial(format!("TLS setup failed: {e}"))))
                    }
                    Some(Ok(tls)) => Some(tls),
                    None => None,
                };
                self.shared.set_state(ShardState::Discovering);
                let opts = crate::rest::RequestOptions {
                    timeout: self.config.handshake_timeout,
                    tls: tls.as_ref(),
                    on_connected: self.shared.stop.abort_registration(),
                    aborted: &stopping,
                };
                let found = crate::rest::gateway_bot(
                    &self.config.api_base,
                    &self.config.token,
                    &opts,
                    &sleep,
                );
                self.shared.stop.request_done();
                match found {
                    Ok(bot) => {
                        self.policy.discovery_succeeded();
                        self.max_concurrency =
                            bot.session_start_limit.map(|limit| limit.max_concurrency);
                        self.gateway_url = Some(bot.url.clone());
                        bot.url
                    }
                    Err(Error::Stopped) => return Err(NoUrl::Stop(Ok(()))),
                    // Transient failures (after discovery's own retries) are retried a few
                    // times with backoff, each one reported; then `run` ends with the error.
                    Err(e @ Error::Discovery { .. }) => {
                        let give_up = self.policy.discovery_failed();
                        let message = e.to_string();
                        if give_up {
                            return Err(NoUrl::Stop(Err(e)));
                        }
                        self.handler.emit(Event::Error {
                            kind: ErrorKind::Discovery,
                            message: message.clone(),
                        });
                        return Err(NoUrl::Retry(Ended::Dial(message)));
                    }
                    // A bad token or URL will not fix itself: end `run` with it.
                    Err(e) => return Err(NoUrl::Stop(Err(e))),
                }
            }
        };
        WsUrl::parse(&url).map_err(|e| NoUrl::Stop(Err(e)))
    }
}
