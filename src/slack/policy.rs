//! What the Socket Mode client does about each `disconnect` reason and each failed
//! attempt: pure tables, tested row by row (SLACK.md §2.5 and §4, from Slack's Using Socket
//! Mode page and the issues other clients ran into).

use crate::Backoff;
use std::time::Duration;

/// What a `disconnect` message asks of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnDisconnect {
    /// Open the next connection now and close this one once the new `hello` arrived
    /// (make-before-break: Slack: "generate an additional connection before the restart").
    Replace,
    /// Close this connection first, then wait: opening another first would raise the count
    /// Slack complains about and loop (bolt-js #2225).
    CloseThenWait,
    /// Socket Mode is off for the app: stop with advice.
    Stop,
}

/// The `disconnect` table; unknown reasons are treated like `refresh_requested`.
pub(crate) fn on_disconnect(reason: &str) -> OnDisconnect {
    match reason {
        "too_many_websockets" => OnDisconnect::CloseThenWait,
        "link_disabled" => OnDisconnect::Stop,
        // "warning", "refresh_requested", and any reason Slack adds later.
        _ => OnDisconnect::Replace,
    }
}

/// Why the last attempt did not leave a connection up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A connection that had said `hello` ended: reconnect at once.
    EndedAfterHello,
    /// Opening the URL, dialing or the wait for `hello` failed.
    Failed,
    /// `apps.connections.open` answered 429 with this wait.
    RateLimited(Duration),
    /// Slack said `too_many_websockets`.
    TooManyWebsockets,
}

/// How long to wait before attempt `streak` + 1, given why the last one ended: the shared
/// [`Backoff`] (exponential growth with half jitter, 1 s to 60 s by default for Slack);
/// `Retry-After` and the too-many-websockets wait are floors (SLACK.md §4.3).
pub(crate) fn delay(
    failure: Failure,
    streak: u32,
    backoff: &Backoff,
    too_many_wait: Duration,
    jitter: f64,
) -> Duration {
    let backed_off = || backoff.delay_with(streak, jitter);
    match failure {
        Failure::EndedAfterHello => Duration::ZERO,
        Failure::Failed => backed_off(),
        Failure::RateLimited(wait) => wait.max(backed_off()),
        Failure::TooManyWebsockets => too_many_wait.max(backed_off()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_disconnect_reason_has_one_reaction() {
        for (reason, expected) in [
            ("warning", OnDisconnect::Replace),
            ("refresh_requested", OnDisconnect::Replace),
            ("something_new", OnDisconnect::Replace),
            ("", OnDisconnect::Replace),
            ("too_many_websockets", OnDisconnect::CloseThenWait),
            ("link_disabled", OnDisconnect::Stop),
        ] {
            assert_eq!(on_disconnect(reason), expected, "{reason}");
        }
    }

    #[test]
    fn delays_per_failure() {
        let backoff = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::ZERO,
        };
        let thirty = Duration::from_secs(30);
        let d = |failure, streak, jitter| delay(failure, streak, &backoff, thirty, jitter);
        assert_eq!(d(Failure::EndedAfterHello, 5, 0.9), Duration::ZERO);
        // Half jitter: from half the ceiling to the ceiling, which doubles up to 60 s.
        assert_eq!(d(Failure::Failed, 1, 0.0), Duration::from_millis(500));
        assert!(d(Failure::Failed, 1, 0.999) <= backoff.ceiling(1));
        assert!(d(Failure::Failed, 30, 0.999) <= Duration::from_secs(60));
        assert!(d(Failure::Failed, 3, 0.5) > d(Failure::Failed, 1, 0.5));
        // Floors.
        let limited = Failure::RateLimited(Duration::from_secs(7));
        assert_eq!(d(limited, 1, 0.0), Duration::from_secs(7));
        assert_eq!(
            d(limited, 7, 0.999),
            d(Failure::Failed, 7, 0.999),
            "backoff above it wins"
        );
        assert_eq!(d(Failure::TooManyWebsockets, 1, 0.0), thirty);
        assert!(d(Failure::TooManyWebsockets, 30, 0.999) >= thirty);
    }
}
