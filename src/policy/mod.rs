//! How a connection ended, and what happens next: the close-code table ([`decide`]) and
//! the state around it ([`ReconnectPolicy`]: attempts, failed resumes, the resume URL,
//! repeated failures, the session). Pure logic, tested as tables; the runner only carries
//! its plans out (Discord: Gateway → Disconnections and Resuming, Opcodes and Status
//! Codes → Gateway Close Event Codes).

mod backoff;
mod hostile;
mod reconnect;

pub use backoff::Backoff;
pub(crate) use hostile::{reaction, BadInput, Reaction};
pub(crate) use reconnect::{close_frame, Attempt, Next, ReconnectPolicy, Settings};

use crate::protocol::{CloseAction, CloseCode, Intents};
use crate::Error;

/// Every way a connection can end, as reported to the caller's loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The server sent a close frame.
    Closed { code: Option<u16>, reason: String },
    /// The TCP connection ended without a close frame.
    Eof,
    /// A read or write failed.
    Io(String),
    /// A heartbeat was due and nothing had arrived since the previous one.
    Zombie,
    /// op 7 Reconnect.
    Reconnect,
    /// op 9 Invalid Session.
    InvalidSession { resumable: bool },
    /// DNS, TCP connect, TLS or websocket handshake failed, or discovery did.
    Dial(String),
    /// The server sent something the client cannot accept (bad frame, corrupt stream…).
    Protocol(String),
    /// A message exceeded `max_message_size` (checked while inflating).
    TooLarge(String),
    /// A phase took too long: no Hello, or no READY/RESUMED.
    Timeout(&'static str),
    /// The user asked the shard to stop.
    Shutdown { resumable: bool },
}

impl Ended {
    /// A short description for logs and the `Disconnected` event.
    pub fn describe(&self) -> String {
        match self {
            Ended::Closed {
                code: Some(code),
                reason,
            } => {
                let name = CloseCode(*code).name().unwrap_or("unknown code");
                format!("closed by the gateway with {code} ({name}): {reason}")
            }
            Ended::Closed { code: None, .. } => "closed by the gateway without a code".into(),
            Ended::Eof => "connection dropped without a close frame".into(),
            Ended::Io(e) => format!("I/O error: {e}"),
            Ended::Zombie => "zombie connection: nothing received since the last heartbeat".into(),
            Ended::Reconnect => "the gateway asked for a reconnect (op 7)".into(),
            Ended::InvalidSession { resumable } => {
                format!("invalid session (op 9, resumable: {resumable})")
            }
            Ended::Dial(e) => format!("could not connect: {e}"),
            Ended::Protocol(e) => format!("protocol error: {e}"),
            Ended::TooLarge(e) => format!("message too large: {e}"),
            Ended::Timeout(phase) => format!("timed out waiting for {phase}"),
            Ended::Shutdown { resumable: false } => "shut down".into(),
            Ended::Shutdown { resumable: true } => "shut down, session kept for resuming".into(),
        }
    }

    /// The close code received from the server, if any.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Ended::Closed { code, .. } => *code,
            _ => None,
        }
    }
}

/// How long to wait before the next connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Reconnect at once (op 7; the first retry after a healthy connection).
    Immediately,
    /// Exponential backoff by attempt number.
    Backoff,
    /// The random 1–5 s wait after op 9 (PROTOCOL.md §4.6).
    InvalidSession,
}

/// What the caller's loop does next.
#[derive(Debug)]
pub(crate) enum Action {
    /// Connect again; resume the session if `resume` and one exists, else identify.
    /// `forget_session` drops the session first (it can never be resumed).
    Reconnect {
        resume: bool,
        forget_session: bool,
        wait: Wait,
    },
    /// Stop `run` with this error.
    Stop(Error),
    /// Stop `run` with `Ok` (shutdown).
    Exit,
}

/// Facts about the config that fatal errors report.
pub(crate) struct Facts {
    pub intents: Intents,
    pub shard: Option<[u64; 2]>,
}

/// The policy: reason → action.
pub(crate) fn decide(ended: &Ended, facts: &Facts) -> Action {
    let resume = |wait| Action::Reconnect {
        resume: true,
        forget_session: false,
        wait,
    };
    let identify = |wait| Action::Reconnect {
        resume: false,
        forget_session: true,
        wait,
    };
    match ended {
        Ended::Shutdown { .. } => Action::Exit,
        Ended::Reconnect => resume(Wait::Immediately),
        Ended::InvalidSession { resumable: true } => resume(Wait::InvalidSession),
        Ended::InvalidSession { resumable: false } => identify(Wait::InvalidSession),
        Ended::Closed { code: None, .. }
        | Ended::Eof
        | Ended::Io(_)
        | Ended::Zombie
        | Ended::Dial(_)
        | Ended::Protocol(_)
        | Ended::TooLarge(_)
        | Ended::Timeout(_) => resume(Wait::Backoff),
        Ended::Closed {
            code: Some(code),
            reason,
        } => match CloseCode(*code).action() {
            CloseAction::Resume => resume(Wait::Backoff),
            CloseAction::Reidentify => identify(Wait::Backoff),
            CloseAction::Fatal => Action::Stop(fatal_error(*code, reason, facts)),
        },
    }
}

fn fatal_error(code: u16, reason: &str, facts: &Facts) -> Error {
    match code {
        4004 => Error::AuthenticationFailed {
            source_of_truth: "gateway close 4004",
        },
        4010 => Error::InvalidShard { shard: facts.shard },
        4011 => Error::ShardingRequired,
        4012 => Error::InvalidApiVersion,
        4013 => Error::InvalidIntents {
            bits: facts.intents.bits(),
        },
        4014 => Error::DisallowedIntents {
            requested: facts.intents.privileged().names(),
        },
        _ => Error::FatalClose {
            code: CloseCode(code),
            reason: reason.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            intents: Intents::GUILDS | Intents::MESSAGE_CONTENT,
            shard: Some([3, 2]),
        }
    }

    #[derive(Debug, PartialEq)]
    enum Expect {
        Resume(Wait),
        Identify(Wait),
        Fatal,
        Exit,
    }

    fn outcome(ended: Ended) -> Expect {
        match decide(&ended, &facts()) {
            Action::Reconnect {
                resume: true,
                forget_session: false,
                wait,
            } => Expect::Resume(wait),
            Action::Reconnect {
                resume: false,
                forget_session: true,
                wait,
            } => Expect::Identify(wait),
            Action::Reconnect { .. } => panic!("inconsistent action for {ended:?}"),
            Action::Stop(e) => {
                assert!(e.is_fatal());
                Expect::Fatal
            }
            Action::Exit => Expect::Exit,
        }
    }

    fn closed(code: u16) -> Ended {
        Ended::Closed {
            code: Some(code),
            reason: String::new(),
        }
    }

    #[test]
    fn close_codes_table() {
        use Expect::*;
        let table = [
            (4000, Resume(Wait::Backoff)),
            (4001, Resume(Wait::Backoff)),
            (4002, Resume(Wait::Backoff)),
            (4003, Identify(Wait::Backoff)),
            (4004, Fatal),
            (4005, Resume(Wait::Backoff)),
            (4006, Identify(Wait::Backoff)),
            (4007, Identify(Wait::Backoff)),
            (4008, Resume(Wait::Backoff)),
            (4009, Identify(Wait::Backoff)),
            (4010, Fatal),
            (4011, Fatal),
            (4012, Fatal),
            (4013, Fatal),
            (4014, Fatal),
            (1000, Resume(Wait::Backoff)),
            (1001, Resume(Wait::Backoff)),
            (1006, Resume(Wait::Backoff)),
            (4999, Resume(Wait::Backoff)),
        ];
        for (code, want) in table {
            assert_eq!(outcome(closed(code)), want, "close code {code}");
        }
    }

    #[test]
    fn other_reasons_table() {
        use Expect::*;
        let table = [
            (
                Ended::Closed {
                    code: None,
                    reason: String::new(),
                },
                Resume(Wait::Backoff),
            ),
            (Ended::Eof, Resume(Wait::Backoff)),
            (Ended::Io("reset".into()), Resume(Wait::Backoff)),
            (Ended::Zombie, Resume(Wait::Backoff)),
            (Ended::Reconnect, Resume(Wait::Immediately)),
            (
                Ended::InvalidSession { resumable: true },
                Resume(Wait::InvalidSession),
            ),
            (
                Ended::InvalidSession { resumable: false },
                Identify(Wait::InvalidSession),
            ),
            (Ended::Dial("refused".into()), Resume(Wait::Backoff)),
            (Ended::Protocol("bad frame".into()), Resume(Wait::Backoff)),
            (Ended::TooLarge("70 MB".into()), Resume(Wait::Backoff)),
            (Ended::Timeout("Hello"), Resume(Wait::Backoff)),
            (Ended::Shutdown { resumable: false }, Exit),
            (Ended::Shutdown { resumable: true }, Exit),
        ];
        for (ended, want) in table {
            let text = format!("{ended:?}");
            assert_eq!(outcome(ended), want, "{text}");
        }
    }

    #[test]
    fn fatal_errors_say_what_to_fix() {
        let Action::Stop(e) = decide(&closed(4014), &facts()) else {
            panic!("4014 must stop")
        };
        assert!(e.to_string().contains("MESSAGE_CONTENT"));
        let Action::Stop(e) = decide(&closed(4010), &facts()) else {
            panic!("4010 must stop")
        };
        assert!(e.to_string().contains("[3, 2]"));
        let Action::Stop(e) = decide(&closed(4011), &facts()) else {
            panic!("4011 must stop")
        };
        assert!(e.to_string().contains("sharding required"));
    }
}
