//! The one error type, and which errors are fatal.

use crate::protocol::CloseCode;
use std::time::Duration;

/// Everything that can go wrong in syncord.
///
/// [`Error::is_fatal`] answers the question every caller has: will retrying help?
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token was rejected (close 4004, or HTTP 401 from discovery). Fatal: check the
    /// token the shard was given, or reset it in the Developer Portal (Bot → Reset Token).
    #[error("authentication failed: the token is invalid ({source_of_truth}); check the token given to the shard, or reset it in the Developer Portal under Bot → Reset Token")]
    AuthenticationFailed {
        /// Where the rejection came from, e.g. "gateway close 4004" or "HTTP 401".
        source_of_truth: &'static str,
    },
    /// The gateway closed with 4010: the `shard` in the config is invalid. Fatal.
    #[error("invalid shard (close 4010): {}; the id must be below the count, and the count must be one Discord accepts (GET /gateway/bot gives the recommended `shards`)", describe_shard(*.shard))]
    InvalidShard {
        /// The `[id, count]` that was sent.
        shard: Option<[u64; 2]>,
    },
    /// The gateway closed with 4011: the bot is in too many guilds for one shard. Fatal.
    #[error("sharding required (close 4011): this bot is in too many guilds for one session; run several shards (shard count from GET /gateway/bot)")]
    ShardingRequired,
    /// A [`Cluster`](crate::cluster::Cluster) cannot go on with its shard count: the gateway
    /// closed a shard with 4011 (sharding required) while the count was fixed (or this
    /// process runs only part of the shards), or with 4010 (invalid shard: the count is not
    /// one Discord accepts for this bot). Fatal: restart with the count it names.
    #[error("{}", shard_count_message(*close_code, *count, *recommended))]
    ShardCount {
        /// 4010 or 4011.
        close_code: u16,
        /// The shard count the cluster ran with.
        count: u64,
        /// Discord's recommended count (`shards` of `GET /gateway/bot`), when it could be read.
        recommended: Option<u64>,
    },
    /// The gateway closed with 4012. Fatal; a bug in syncord if it ever happens.
    #[error("invalid API version (close 4012): the gateway refused v=10")]
    InvalidApiVersion,
    /// The gateway closed with 4013: the intents contain undefined bits. Fatal.
    #[error("invalid intents (close 4013): {bits} contains bits Discord does not define; build the intents from the named `Intents` flags (e.g. `Intents::non_privileged()`) instead of a raw number")]
    InvalidIntents {
        /// The intents bitfield that was sent.
        bits: u64,
    },
    /// The gateway closed with 4014: a privileged intent is not enabled for this app. Fatal.
    #[error("disallowed intents (close 4014): the privileged intents {requested:?} were requested; enable them in the Developer Portal (your app → Bot → Privileged Gateway Intents) or remove them from the config")]
    DisallowedIntents {
        /// The privileged intents that were requested.
        requested: Vec<&'static str>,
    },
    /// A URL in the config, from discovery or from READY is unusable or insecure.
    #[error("invalid {what} {url:?}: {why}")]
    InvalidUrl {
        /// Which URL: "gateway URL", "API base", …
        what: &'static str,
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// REST gateway discovery failed after its retries.
    #[error("gateway discovery failed: {message}")]
    Discovery {
        /// What failed, e.g. `GET /gateway/bot answered HTTP 503: …` (never the token).
        message: String,
        /// The local cause, when there is one (the TLS connector could not be built).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Slack refused to open a Socket Mode connection for a reason retrying cannot fix.
    #[error("Slack refused the connection ({error}): {advice}")]
    SlackRefused {
        /// Slack's `error` code (`invalid_auth`, `link_disabled`, …).
        error: String,
        /// What to fix.
        advice: &'static str,
    },
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// [`ConfigBuilder::build`](crate::ConfigBuilder::build) found a setting out of range.
    /// Fatal: change the setting it names.
    #[error("invalid setting `{setting}`: {problem}")]
    InvalidSetting {
        /// The builder method whose value is wrong, e.g. `"shard"` or `"hello_timeout"`.
        setting: &'static str,
        /// What is wrong and what is accepted (never the token itself).
        problem: String,
    },
    /// A command was larger than the gateway accepts; nothing was sent and the connection
    /// is unaffected.
    #[error("payload of {size} bytes exceeds the gateway's limit of {limit} bytes")]
    PayloadTooLarge {
        /// The encoded size.
        size: usize,
        /// The limit (4096).
        limit: usize,
    },
    /// The opcode may not be sent by a client.
    #[error("opcode {0} cannot be sent by a client")]
    NotSendable(u8),
    /// The JSON given to `send_raw` is not valid JSON.
    #[error("invalid command JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// The command is invalid (e.g. a member request nonce over 32 bytes).
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    /// Waiting for an answer (e.g. member chunks) took longer than the timeout.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// The command queue stayed full for the whole send timeout.
    #[error(
        "command queue full for {0:?}; the shard is sending at its rate limit or is disconnected"
    )]
    QueueFull(Duration),
    /// The shard is not connected and the command policy is to fail fast.
    #[error("the shard is not connected")]
    NotConnected,
    /// The shard has stopped (shut down or ended with an error); nothing more can be sent.
    #[error("the shard has stopped")]
    Stopped,
    /// The connection closed with a code that syncord treats as fatal but has no variant for.
    #[error("the gateway closed the connection with {code:?}: {reason}")]
    FatalClose {
        /// The close code.
        code: CloseCode,
        /// The close reason text.
        reason: String,
    },
    /// The event handler panicked and the shard is configured to stop on panics.
    #[error("the event handler panicked on {event}: {message}")]
    HandlerPanicked {
        /// The event being handled.
        event: String,
        /// The panic message.
        message: String,
    },
    /// A thread syncord runs on (e.g. `spawn()`'s runner) panicked.
    #[error("shard thread failed: {0}")]
    Thread(String),
    /// The operating system refused to start a thread (usually: out of memory or over the
    /// process's thread limit). The shard or cluster did not start.
    #[error("could not start the thread {thread}: {source}")]
    Spawn {
        /// The thread's name, e.g. `syncord-sh-3`.
        thread: String,
        /// Why the OS refused.
        #[source]
        source: std::io::Error,
    },
}

/// What an [`Event::Error`](crate::Event::Error) reports: something syncord handled and
/// carried on from, for a program to match on (the `message` is for people).
///
/// ```
/// use syncord::{ErrorKind, Event};
/// fn on_event(event: &Event) {
///     match event {
///         Event::Error { kind: ErrorKind::HandlerPanicked, message } => eprintln!("bug: {message}"),
///         Event::Error { kind, message } => eprintln!("{}: {message}", kind.name()),
///         _ => {}
///     }
/// }
/// # on_event(&Event::Connected);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A malformed payload from the gateway was dropped (see the crate docs' "Hostile input"
    /// table); the connection goes on. The message names what was wrong.
    SkippedPayload,
    /// A dispatch over [`max_message_size`](crate::ConfigBuilder::max_message_size) was met
    /// twice at the same place while resuming and is skipped: it can never be received. The
    /// message names its `s`.
    OversizedMessage,
    /// READY came without a usable `session_id`: it was delivered, but this session cannot
    /// be resumed.
    ReadyWithoutSession,
    /// The session's `resume_gateway_url` is not used (not `wss://`, or it would downgrade
    /// TLS); the shard resumes through the gateway URL instead.
    RefusedResumeUrl,
    /// Several connection attempts in a row ended the same way before READY; retries go
    /// on. The message says what to check.
    RepeatedFailures,
    /// Gateway discovery (`GET /gateway/bot`) failed for now; it is retried with backoff
    /// before `run` ends with [`Error::Discovery`].
    Discovery,
    /// An event handler panicked; the shard (or dispatcher) carried on.
    HandlerPanicked,
    /// A dispatch (or a Slack payload) did not parse as the model its typed dispatcher
    /// handlers take; they were skipped for it.
    UnparsedDispatch,
    /// The shared identify queue (e.g. Redis) is unreachable; the shard waits for it
    /// before identifying.
    IdentifyQueue,
    /// A [`Cluster`](crate::cluster::Cluster) restarted its shards with a new count after
    /// close 4011.
    Resharded,
    /// Slack: opening a connection failed for now (`apps.connections.open` or `rtm.connect`
    /// refused or unreachable); it is retried with backoff.
    OpenFailed,
    /// Slack: the connection meant to replace one that Slack is about to close could not be
    /// opened, ended, or sent no `hello` in time; the current connection carries on and the
    /// client reconnects when it closes.
    ReplacementFailed,
    /// Slack: the RTM server sent an `error` event; the connection is replaced.
    ServerError,
    /// Slack: a responder's answer or an acknowledgement was not sent as asked (a second
    /// answer, an answer the envelope does not accept, a failed send).
    ResponseNotSent,
}

impl ErrorKind {
    /// A short stable name: `skipped_payload`, `handler_panicked`, …
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::SkippedPayload => "skipped_payload",
            ErrorKind::OversizedMessage => "oversized_message",
            ErrorKind::ReadyWithoutSession => "ready_without_session",
            ErrorKind::RefusedResumeUrl => "refused_resume_url",
            ErrorKind::RepeatedFailures => "repeated_failures",
            ErrorKind::Discovery => "discovery",
            ErrorKind::HandlerPanicked => "handler_panicked",
            ErrorKind::UnparsedDispatch => "unparsed_dispatch",
            ErrorKind::IdentifyQueue => "identify_queue",
            ErrorKind::Resharded => "resharded",
            ErrorKind::OpenFailed => "open_failed",
            ErrorKind::ReplacementFailed => "replacement_failed",
            ErrorKind::ServerError => "server_error",
            ErrorKind::ResponseNotSent => "response_not_sent",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `shard 3 of 2`, or that none was set.
fn describe_shard(shard: Option<[u64; 2]>) -> String {
    match shard {
        Some([id, count]) => format!("shard {id} of {count} was sent"),
        None => "no shard was set (the gateway then expects one shard)".to_owned(),
    }
}

impl Error {
    /// An [`Error::Discovery`] without a local cause.
    pub(crate) fn discovery(message: impl Into<String>) -> Error {
        Error::Discovery {
            message: message.into(),
            source: None,
        }
    }

    /// Whether retrying cannot help: the token, config or application must change first.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Error::PayloadTooLarge { .. }
                | Error::QueueFull(_)
                | Error::NotConnected
                | Error::InvalidJson(_)
                | Error::NotSendable(_)
                | Error::InvalidCommand(_)
                | Error::TimedOut(_)
        )
    }
}

fn shard_count_message(close_code: u16, count: u64, recommended: Option<u64>) -> String {
    let advice = match recommended {
        Some(n) => format!("use {n} shards (the `shards` GET /gateway/bot recommends now)"),
        None => "use the shard count GET /gateway/bot recommends (`shards`)".to_owned(),
    };
    match close_code {
        4011 => format!(
            "sharding required (close 4011): {count} shards are too few for this bot's guilds; {advice}, or let the cluster pick the count (ShardCount::Auto)"
        ),
        _ => format!(
            "invalid shard count (close {close_code}): Discord does not accept {count} shards for this bot; {advice} (bots under large-bot sharding need a multiple of the number Discord assigned them)"
        ),
    }
}

/// `Result` with syncord's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_static() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<Error>();
    }

    #[test]
    fn errors_name_the_setting_and_what_to_do() {
        let api = crate::transport::check_api_base("http://example.com/api/v10").unwrap_err();
        assert!(api.to_string().starts_with("invalid API base"), "{api}");
        let gateway = crate::transport::WsUrl::parse("ftp://gateway").unwrap_err();
        assert!(
            gateway.to_string().starts_with("invalid gateway URL"),
            "{gateway}"
        );
        let auth = Error::AuthenticationFailed {
            source_of_truth: "gateway close 4004",
        };
        // The library cannot know where the token came from.
        assert!(!auth.to_string().contains("DISCORD_TOKEN"), "{auth}");
        let intents = Error::InvalidIntents { bits: 1 << 40 };
        assert!(intents.to_string().contains("Intents::"), "{intents}");
        let shard = Error::InvalidShard { shard: None };
        assert!(shard.to_string().contains("no shard was set"), "{shard}");
    }

    #[test]
    fn errors_with_a_local_cause_expose_it_through_source() {
        use std::error::Error as _;
        let json = serde_json::from_str::<serde_json::Value>("{not json").unwrap_err();
        let shown = json.to_string();
        let err = Error::InvalidJson(json);
        assert_eq!(err.to_string(), format!("invalid command JSON: {shown}"));
        assert!(err.source().is_some_and(|s| s.is::<serde_json::Error>()));

        let err = Error::Spawn {
            thread: "syncord-sh-3".into(),
            source: std::io::Error::from(std::io::ErrorKind::OutOfMemory),
        };
        assert!(err
            .to_string()
            .starts_with("could not start the thread syncord-sh-3: "));
        assert!(err.source().is_some_and(|s| s.is::<std::io::Error>()));
        assert!(err.is_fatal());

        // Discovery keeps its message; a cause only when there is a local one.
        let err = Error::discovery("GET /gateway/bot answered HTTP 503: busy");
        assert_eq!(
            err.to_string(),
            "gateway discovery failed: GET /gateway/bot answered HTTP 503: busy"
        );
        assert!(err.source().is_none());
        let err = Error::Discovery {
            message: "TLS setup failed: no roots".into(),
            source: Some(Box::new(std::io::Error::other("no roots"))),
        };
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("no roots")
        );
    }

    #[test]
    fn disallowed_intents_names_what_to_enable() {
        let err = Error::DisallowedIntents {
            requested: vec!["MESSAGE_CONTENT"],
        };
        let text = err.to_string();
        assert!(text.contains("MESSAGE_CONTENT") && text.contains("Developer Portal"));
        assert!(err.is_fatal());
        assert!(!Error::QueueFull(Duration::from_secs(1)).is_fatal());
    }
}
