//! The identify window a queue keeps per bucket, and the slack it adds: one value both
//! queues hold, so the hold arithmetic lives in one place.

use std::time::Duration;

/// Discord's identify window: one Identify per bucket per 5 s (Gateway → Rate Limiting and
/// Sharding → Max Concurrency).
pub const IDENTIFY_WINDOW: Duration = Duration::from_secs(5);

/// How long a bucket stays used after a grant: the window, plus a slack for the time
/// between the grant and the Identify (spent dialing, it varies from one shard to the next).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    window: Duration,
    hold: Duration,
}

impl Window {
    /// `window` with the default slack, a fifth of it.
    pub(crate) fn new(window: Duration) -> Window {
        Window::with_slack(window, window / 5)
    }

    /// `window` with `slack` added to it.
    pub(crate) fn with_slack(window: Duration, slack: Duration) -> Window {
        Window {
            window,
            hold: window.saturating_add(slack),
        }
    }

    /// The window itself, without its slack.
    pub(crate) fn window(self) -> Duration {
        self.window
    }

    /// The window plus its slack: how long a bucket stays used after a grant.
    pub(crate) fn hold(self) -> Duration {
        self.hold
    }
}

/// The two public window setters both queues offer, written once: `window` (documented by
/// the caller) and `window_and_slack`. The queue must keep its `Window` in `self.window`.
macro_rules! window_setters {
    ($(#[$window_doc:meta])* $queue:ident) => {
        $(#[$window_doc])*
        #[must_use]
        pub fn window(mut self, window: Duration) -> $queue {
            self.window = Window::new(window);
            self
        }

        /// The window and the slack added to it, explicitly.
        #[must_use]
        pub fn window_and_slack(mut self, window: Duration, slack: Duration) -> $queue {
            self.window = Window::with_slack(window, slack);
            self
        }
    };
}
pub(crate) use window_setters;

impl Default for Window {
    /// Discord's 5 s, plus 1 s slack.
    fn default() -> Window {
        Window::new(IDENTIFY_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_holds_discords_window_plus_a_fifth() {
        let window = Window::default();
        assert_eq!(window.window(), Duration::from_secs(5));
        assert_eq!(window.hold(), Duration::from_secs(6));
        assert_eq!(
            Window::new(Duration::from_millis(100)).hold(),
            Duration::from_millis(120)
        );
    }

    #[test]
    fn an_explicit_slack_is_added_and_saturates() {
        let window = Window::with_slack(Duration::from_millis(30), Duration::ZERO);
        assert_eq!(window.hold(), Duration::from_millis(30));
        assert_eq!(
            Window::with_slack(Duration::MAX, Duration::from_secs(1)).hold(),
            Duration::MAX
        );
    }
}
