//! The reconnect decision as a small state machine: everything the caller's loop used to
//! keep as loose state (attempt counter, failed resumes, a refusing resume URL, an
//! oversized message met twice, identical failures in a row) and every rule over it, from
//! how a connection ended to a [`Plan`] the runner carries out.

use super::{decide, Action, Backoff, Ended, Facts, Wait};
use crate::protocol::Intents;
use crate::{Error, ErrorKind};
use std::ops::RangeInclusive;
use std::time::Duration;

/// After this many discovery rounds in a row fail (each with its own retries), `run` ends
/// with the error: something is wrong that waiting will not fix soon.
pub(crate) const MAX_DISCOVERY_FAILURES: u32 = 3;

/// After this many resume attempts in a row fail, a new session is identified instead.
pub(crate) const MAX_FAILED_RESUMES: u32 = 3;

/// How one connection attempt went, as the runner saw it.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    /// How it ended.
    pub ended: Ended,
    /// It tried to resume (rather than identify).
    pub resumed: bool,
    /// How long it was up after READY/RESUMED; `None` if it never got there.
    pub active_for: Option<Duration>,
    /// The last sequence number delivered when it ended.
    pub last_seq: u64,
    /// Whether there is a session to resume (or to lose).
    pub has_session: bool,
}

/// The settings the decision depends on.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub intents: Intents,
    pub shard: Option<[u64; 2]>,
    pub backoff: Backoff,
    pub invalid_session_delay: RangeInclusive<Duration>,
    pub max_message_size: usize,
}

/// What the runner does next, in this order: tell the user each of `warnings` (an
/// `Event::Error` and a `warn` log line), announce op 9, skip past or abandon the session,
/// then stop or reconnect.
#[derive(Debug)]
pub(crate) struct Plan {
    pub warnings: Vec<(ErrorKind, String)>,
    /// op 9 arrived: `Event::InvalidSession { resumable }`.
    pub invalid_session: Option<bool>,
    /// Move the session past this sequence number without delivering it.
    pub skip_to: Option<u64>,
    /// Give the session up, announcing `Event::SessionLost` with this reason.
    pub abandon: Option<String>,
    /// Drop the session silently (it ended on the server with our close 1000).
    pub forget: bool,
    pub next: Next,
}

/// Stop, or connect again.
#[derive(Debug)]
pub(crate) enum Next {
    /// `run` returns `Ok`.
    Exit,
    /// `run` returns this fatal error.
    Stop(Error),
    /// Wait `delay`, then make connection attempt `attempt`.
    Reconnect { attempt: u32, delay: Duration },
}

/// The state the reconnect decision carries from one connection to the next.
#[derive(Debug, Default)]
pub(crate) struct ReconnectPolicy {
    attempt: u32,
    failed_resumes: u32,
    /// The resume URL refused connections or is unusable: resume via the gateway URL.
    avoid_resume_url: bool,
    /// The last delivered seq when a message exceeded the size limit: met again at the
    /// same place, the replay would fail forever, so that dispatch is skipped.
    too_large_after: Option<u64>,
    streak: FailureStreak,
    discovery_failures: u32,
}

impl ReconnectPolicy {
    /// A discovery round failed: true when it is time to give up.
    pub fn discovery_failed(&mut self) -> bool {
        self.discovery_failures += 1;
        self.discovery_failures >= MAX_DISCOVERY_FAILURES
    }

    /// Discovery answered: the count starts over.
    pub fn discovery_succeeded(&mut self) {
        self.discovery_failures = 0;
    }

    /// The number of the connection attempt being made (0 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether a resume should dial the session's resume URL (else the gateway URL).
    pub fn use_resume_url(&self) -> bool {
        !self.avoid_resume_url
    }

    /// The resume URL cannot be used (not `wss://`, or it would downgrade TLS).
    pub fn resume_url_unusable(&mut self) {
        self.avoid_resume_url = true;
    }

    /// READY or RESUMED arrived: the session works again.
    pub fn on_active(&mut self) {
        self.failed_resumes = 0;
        self.avoid_resume_url = false;
    }

    /// The decision after a connection attempt ended; `jitter` in [0, 1) is the random draw
    /// for the wait.
    pub fn after(&mut self, attempt: &Attempt, settings: &Settings, jitter: f64) -> Plan {
        let ended = &attempt.ended;
        let mut plan = Plan {
            warnings: Vec::new(),
            invalid_session: None,
            skip_to: None,
            abandon: None,
            forget: false,
            next: Next::Exit,
        };
        if let Some(warning) = self.streak.record(ended, attempt.active_for.is_some()) {
            plan.warnings.push((ErrorKind::RepeatedFailures, warning));
        }
        if attempt.resumed && attempt.active_for.is_none() {
            self.failed_resumes += 1;
            // A resume URL that cannot even be dialed: the gateway URL resumes too.
            if matches!(ended, Ended::Dial(_)) {
                self.avoid_resume_url = true;
            }
        }
        // A connection that stayed up long enough starts the backoff over.
        if attempt
            .active_for
            .is_some_and(|up| up >= settings.backoff.reset_after)
        {
            self.attempt = 0;
        }
        let facts = Facts {
            intents: settings.intents,
            shard: settings.shard,
        };
        let (resume, wait) = match decide(ended, &facts) {
            Action::Exit => {
                // Closing with 1000 ended the session on the server.
                plan.forget = *ended == (Ended::Shutdown { resumable: false });
                return plan;
            }
            Action::Stop(error) => {
                plan.next = Next::Stop(error);
                return plan;
            }
            Action::Reconnect {
                resume,
                forget_session,
                wait,
            } => (resume && !forget_session, wait),
        };
        if let Ended::InvalidSession { resumable } = ended {
            plan.invalid_session = Some(*resumable);
        }
        if let Ended::TooLarge(_) = ended {
            if self.too_large_after == Some(attempt.last_seq) && attempt.has_session {
                let skipped = attempt.last_seq + 1;
                self.too_large_after = None;
                plan.skip_to = Some(skipped);
                plan.warnings.push((
                    ErrorKind::OversizedMessage,
                    format!(
                        "skipped dispatch s={skipped}: it exceeds max_message_size ({} bytes) and could never be received",
                        settings.max_message_size
                    ),
                ));
            } else {
                self.too_large_after = Some(attempt.last_seq);
            }
        }
        if attempt.has_session {
            if !resume {
                plan.abandon = Some(ended.describe());
            } else if self.failed_resumes >= MAX_FAILED_RESUMES {
                plan.abandon = Some(format!(
                    "{} resume attempts in a row failed (the last: {})",
                    self.failed_resumes,
                    ended.describe()
                ));
            }
        }
        if plan.abandon.is_some() || !resume {
            self.failed_resumes = 0;
            self.avoid_resume_url = false;
        }
        self.attempt = self.attempt.saturating_add(1);
        let delay = match wait {
            Wait::Immediately => Duration::ZERO,
            // The first retry after a connection that worked goes at once.
            Wait::Backoff if self.attempt == 1 && attempt.active_for.is_some() => Duration::ZERO,
            Wait::Backoff => settings.backoff.delay_with(self.attempt, jitter),
            // Discord: a random 1–5 s before the next Identify or Resume after op 9.
            Wait::InvalidSession => {
                let range = &settings.invalid_session_delay;
                let (lo, hi) = (*range.start(), (*range.end()).max(*range.start()));
                lo + (hi - lo).mul_f64(jitter.clamp(0.0, 1.0))
            }
        };
        plan.next = Next::Reconnect {
            attempt: self.attempt,
            delay,
        };
        plan
    }
}

/// The close frame to send when the runner ends a connection: 1000 only for a shutdown that
/// ends the session, 4000 (resumable) otherwise; none when the connection is already gone.
pub(crate) fn close_frame(ended: &Ended) -> Option<(u16, &'static str)> {
    match ended {
        Ended::Shutdown { resumable: false } => Some((1000, "shutting down")),
        Ended::Shutdown { resumable: true } => Some((4000, "shutting down, will resume")),
        Ended::Closed { .. } | Ended::Eof | Ended::Io(_) => None,
        _ => Some((4000, "reconnecting")),
    }
}

/// After this many connections in a row end the same way before READY, the user is told.
pub(crate) const REPEATED_FAILURES: u32 = 3;

/// Counts connections in a row that ended the same way before READY or RESUMED, so that a
/// loop of identical failures (a server that refuses every connection with the same code)
/// is reported once instead of retried in silence.
#[derive(Debug, Default)]
pub(crate) struct FailureStreak {
    last: Option<String>,
    count: u32,
}

impl FailureStreak {
    /// Records how a connection ended (`reached_ready`: it got READY or RESUMED). Returns
    /// the warning to give, exactly once per streak, when the streak reaches
    /// [`REPEATED_FAILURES`].
    pub fn record(&mut self, ended: &Ended, reached_ready: bool) -> Option<String> {
        if reached_ready || matches!(ended, Ended::Shutdown { .. }) {
            *self = FailureStreak::default();
            return None;
        }
        let key = ended.describe();
        if self.last.as_deref() == Some(key.as_str()) {
            self.count += 1;
        } else {
            self.last = Some(key);
            self.count = 1;
        }
        (self.count == REPEATED_FAILURES).then(|| {
            format!(
                "{} connection attempts in a row ended the same way before READY: {}; {}. Still retrying with backoff",
                self.count,
                ended.describe(),
                advice(ended)
            )
        })
    }
}

/// What to check when every connection ends the same way.
fn advice(ended: &Ended) -> &'static str {
    match ended {
        Ended::Closed {
            code: Some(4002), ..
        } => "the gateway could not decode what it was sent: if it is not Discord's gateway, check that it accepts this client (its User-Agent, encoding and compression)",
        Ended::Closed { code: Some(4001), .. } => "the gateway does not know an opcode it was sent: check that the server speaks gateway v10",
        Ended::Closed { .. } => "check the close code against Discord's table of gateway close codes",
        Ended::Dial(_) => "check the gateway URL, the network, proxies and TLS certificates",
        Ended::Timeout(_) => "check that the URL is a Discord gateway (v10) and that the server is not overloaded",
        Ended::Protocol(_) | Ended::TooLarge(_) => "check the compression setting and max_message_size",
        _ => "check the network and the gateway URL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            intents: Intents::GUILDS,
            shard: Some([0, 1]),
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(8),
                reset_after: Duration::from_secs(60),
            },
            invalid_session_delay: Duration::from_secs(1)..=Duration::from_secs(5),
            max_message_size: 1000,
        }
    }

    fn closed(code: u16) -> Ended {
        Ended::Closed {
            code: Some(code),
            reason: String::new(),
        }
    }

    /// An attempt that never reached READY.
    fn failed(ended: Ended, resumed: bool) -> Attempt {
        Attempt {
            ended,
            resumed,
            active_for: None,
            last_seq: 7,
            has_session: true,
        }
    }

    /// An attempt that was up for `secs` seconds.
    fn worked(ended: Ended, secs: u64) -> Attempt {
        Attempt {
            active_for: Some(Duration::from_secs(secs)),
            ..failed(ended, true)
        }
    }

    fn delay(plan: &Plan) -> Duration {
        match plan.next {
            Next::Reconnect { delay, .. } => delay,
            ref other => panic!("expected a reconnect, got {other:?}"),
        }
    }

    fn attempt_number(plan: &Plan) -> u32 {
        match plan.next {
            Next::Reconnect { attempt, .. } => attempt,
            ref other => panic!("expected a reconnect, got {other:?}"),
        }
    }

    #[test]
    fn the_first_retry_after_a_working_connection_goes_at_once_then_backoff_grows() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        let plan = policy.after(&worked(Ended::Eof, 1), &s, 0.0);
        assert_eq!((attempt_number(&plan), delay(&plan)), (1, Duration::ZERO));
        // jitter 0 waits half the ceiling: 2 s, 4 s, then the 8 s cap.
        for (attempt, want) in [(2, 1), (3, 2), (4, 4), (5, 4)] {
            let plan = policy.after(&failed(Ended::Eof, true), &s, 0.0);
            assert_eq!(attempt_number(&plan), attempt);
            assert_eq!(delay(&plan), Duration::from_secs(want), "attempt {attempt}");
        }
    }

    #[test]
    fn a_connection_up_for_reset_after_starts_the_attempts_over() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        for _ in 0..4 {
            policy.after(&failed(Ended::Eof, false), &s, 0.5);
        }
        assert_eq!(policy.attempt(), 4);
        let short = policy.after(&worked(Ended::Eof, 59), &s, 0.5);
        assert_eq!(attempt_number(&short), 5, "59 s is not enough");
        let long = policy.after(&worked(Ended::Eof, 60), &s, 0.5);
        assert_eq!((attempt_number(&long), delay(&long)), (1, Duration::ZERO));
    }

    #[test]
    fn op_7_reconnects_at_once_and_op_9_waits_within_the_configured_range() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        let plan = policy.after(&failed(Ended::Reconnect, false), &s, 0.9);
        assert_eq!(delay(&plan), Duration::ZERO);
        for (jitter, want) in [(0.0, 1000), (0.5, 3000), (0.999, 4996)] {
            let plan = policy.after(
                &worked(Ended::InvalidSession { resumable: true }, 1),
                &s,
                jitter,
            );
            assert_eq!(plan.invalid_session, Some(true));
            assert_eq!(delay(&plan).as_millis(), want, "jitter {jitter}");
            assert!(plan.abandon.is_none());
        }
    }

    #[test]
    fn three_failed_resumes_abandon_the_session() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        let timeout = || failed(Ended::Timeout("Hello"), true);
        assert!(policy.after(&timeout(), &s, 0.0).abandon.is_none());
        assert!(policy.after(&timeout(), &s, 0.0).abandon.is_none());
        let plan = policy.after(&timeout(), &s, 0.0);
        let reason = plan.abandon.expect("the third failure abandons");
        assert!(reason.contains("3 resume attempts"), "{reason}");
        // The count starts over with the new session.
        assert!(policy.after(&timeout(), &s, 0.0).abandon.is_none());
    }

    #[test]
    fn a_working_connection_resets_the_failed_resumes() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        policy.after(&failed(Ended::Eof, true), &s, 0.0);
        policy.after(&failed(Ended::Eof, true), &s, 0.0);
        policy.on_active();
        policy.after(&failed(Ended::Eof, true), &s, 0.0);
        assert!(policy
            .after(&failed(Ended::Eof, true), &s, 0.0)
            .abandon
            .is_none());
    }

    #[test]
    fn a_resume_url_that_cannot_be_dialed_is_avoided_until_the_session_works() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        assert!(policy.use_resume_url());
        policy.after(&failed(Ended::Eof, true), &s, 0.0);
        assert!(
            policy.use_resume_url(),
            "a dropped connection says nothing of the URL"
        );
        policy.after(&failed(Ended::Dial("refused".into()), true), &s, 0.0);
        assert!(!policy.use_resume_url());
        policy.on_active();
        assert!(policy.use_resume_url());
        policy.resume_url_unusable();
        assert!(!policy.use_resume_url());
    }

    #[test]
    fn session_ending_reasons_abandon_and_others_keep_the_session() {
        let s = settings();
        // (how it ended, abandoned)
        let table = [
            (Ended::InvalidSession { resumable: false }, true),
            (Ended::InvalidSession { resumable: true }, false),
            (closed(4003), true),
            (closed(4006), true),
            (closed(4007), true),
            (closed(4009), true),
            (closed(4000), false),
            (closed(1001), false),
            (Ended::Zombie, false),
            (Ended::Reconnect, false),
        ];
        for (ended, abandoned) in table {
            let mut policy = ReconnectPolicy::default();
            let plan = policy.after(&worked(ended.clone(), 1), &s, 0.0);
            assert_eq!(plan.abandon.is_some(), abandoned, "{ended:?}");
            // Without a session there is nothing to lose.
            let mut policy = ReconnectPolicy::default();
            let none = Attempt {
                has_session: false,
                ..worked(ended.clone(), 1)
            };
            assert!(policy.after(&none, &s, 0.0).abandon.is_none(), "{ended:?}");
        }
    }

    #[test]
    fn an_oversized_message_met_twice_at_the_same_place_is_skipped() {
        let mut policy = ReconnectPolicy::default();
        let s = settings();
        let too_large = |last_seq| Attempt {
            last_seq,
            ..worked(Ended::TooLarge("2000 bytes".into()), 1)
        };
        assert_eq!(policy.after(&too_large(7), &s, 0.0).skip_to, None);
        let plan = policy.after(&too_large(7), &s, 0.0);
        assert_eq!(plan.skip_to, Some(8));
        let (kind, warning) = &plan.warnings[0];
        assert_eq!(*kind, ErrorKind::OversizedMessage);
        assert!(warning.contains("s=8"), "{:?}", plan.warnings);
        // Met at another place: a fresh first time.
        assert_eq!(policy.after(&too_large(9), &s, 0.0).skip_to, None);
        assert_eq!(policy.after(&too_large(10), &s, 0.0).skip_to, None);
    }

    #[test]
    fn shutdowns_exit_and_only_a_clean_one_forgets_the_session() {
        let s = settings();
        let plan = ReconnectPolicy::default().after(
            &worked(Ended::Shutdown { resumable: false }, 1),
            &s,
            0.0,
        );
        assert!(matches!(plan.next, Next::Exit) && plan.forget);
        let plan = ReconnectPolicy::default().after(
            &worked(Ended::Shutdown { resumable: true }, 1),
            &s,
            0.0,
        );
        assert!(matches!(plan.next, Next::Exit) && !plan.forget);
    }

    #[test]
    fn fatal_close_codes_stop_with_their_error() {
        let plan = ReconnectPolicy::default().after(&failed(closed(4014), false), &settings(), 0.0);
        assert!(matches!(
            plan.next,
            Next::Stop(Error::DisallowedIntents { .. })
        ));
    }

    #[test]
    fn discovery_gives_up_after_three_failed_rounds_in_a_row() {
        let mut policy = ReconnectPolicy::default();
        assert!(!policy.discovery_failed());
        assert!(!policy.discovery_failed());
        policy.discovery_succeeded();
        assert!(!policy.discovery_failed());
        assert!(!policy.discovery_failed());
        assert!(policy.discovery_failed());
    }

    #[test]
    fn close_frames_table() {
        let table = [
            (Ended::Shutdown { resumable: false }, Some(1000)),
            (Ended::Shutdown { resumable: true }, Some(4000)),
            (closed(4000), None),
            (Ended::Eof, None),
            (Ended::Io("reset".into()), None),
            (Ended::Zombie, Some(4000)),
            (Ended::Reconnect, Some(4000)),
            (Ended::InvalidSession { resumable: false }, Some(4000)),
            (Ended::Timeout("READY"), Some(4000)),
            (Ended::Protocol("bad frame".into()), Some(4000)),
            (Ended::TooLarge("big".into()), Some(4000)),
        ];
        for (ended, code) in table {
            assert_eq!(close_frame(&ended).map(|(c, _)| c), code, "{ended:?}");
        }
    }

    #[test]
    fn a_streak_of_identical_failures_warns_once_at_the_threshold() {
        let spacebar = closed(4002);
        let mut streak = FailureStreak::default();
        // (how the attempt ended, reached READY, warns)
        let table = [
            (spacebar.clone(), false, false),
            (spacebar.clone(), false, false),
            (spacebar.clone(), false, true),
            (spacebar.clone(), false, false),
            (spacebar.clone(), false, false),
            // A different failure starts a new streak.
            (Ended::Dial("refused".into()), false, false),
            (Ended::Dial("refused".into()), false, false),
            (Ended::Dial("refused".into()), false, true),
            // A connection that reached READY ends the streak.
            (Ended::Dial("refused".into()), true, false),
            (Ended::Dial("refused".into()), false, false),
            (Ended::Dial("refused".into()), false, false),
            // A shutdown also resets it.
            (Ended::Shutdown { resumable: true }, false, false),
            (Ended::Dial("refused".into()), false, false),
            (Ended::Dial("refused".into()), false, false),
            (Ended::Dial("refused".into()), false, true),
        ];
        for (row, (ended, ready, warns)) in table.into_iter().enumerate() {
            let warning = streak.record(&ended, ready);
            assert_eq!(
                warning.is_some(),
                warns,
                "row {row}: {ended:?} -> {warning:?}"
            );
        }
    }

    #[test]
    fn the_streak_warning_names_the_reason_and_what_to_check() {
        let mut streak = FailureStreak::default();
        let warning = (0..REPEATED_FAILURES)
            .filter_map(|_| streak.record(&closed(4002), false))
            .last()
            .expect("a warning");
        assert!(warning.contains("4002"), "{warning}");
        assert!(warning.contains("User-Agent"), "{warning}");
        assert!(warning.contains("retrying"), "{warning}");
    }
}
