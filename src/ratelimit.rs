//! The gateway send limiter: never more than `limit` payloads in any `window` on one
//! connection, with room kept for heartbeats (Discord: Gateway → Rate Limiting). Pure logic; the writer
//! thread asks it before every send.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Discord's limit: 120 payloads per 60 s per connection, every opcode counted.
pub const GATEWAY_SEND_LIMIT: (u32, Duration) = (120, Duration::from_secs(60));

/// A sliding-window limiter over the times of the last sends.
#[derive(Debug)]
pub(crate) struct SendLimiter {
    limit: u32,
    window: Duration,
    /// Sends kept free for heartbeats, Identify/Resume and answers to op 1.
    reserved: u32,
    sent: VecDeque<Instant>,
}

impl SendLimiter {
    /// A limiter for `limit` sends per `window`, reserving room for the heartbeats of
    /// `heartbeat_interval` (unknown before Hello: assume the window's worth of one a second).
    ///
    /// The window is stretched by 5 %: the server counts arrival times, and a payload delayed
    /// on the way could otherwise land in the same window as later ones.
    pub fn new(limit: u32, window: Duration, heartbeat_interval: Option<Duration>) -> SendLimiter {
        let mut limiter = SendLimiter {
            limit: limit.max(1),
            window: window + window / 20,
            reserved: 0,
            // Grows to `limit` if it must; a huge limit must not allocate up front.
            sent: VecDeque::with_capacity((limit as usize).min(256)),
        };
        limiter.set_heartbeat_interval(heartbeat_interval);
        limiter
    }

    /// Recomputes the reserve once Hello told the heartbeat interval: the beats that fit in
    /// one window, plus one for Identify/Resume and one for a server op 1 request.
    pub fn set_heartbeat_interval(&mut self, interval: Option<Duration>) {
        let beats = match interval {
            Some(interval) if !interval.is_zero() => {
                (self.window.as_nanos() / interval.as_nanos()) as u32 + 1
            }
            _ => self.window.as_secs() as u32 + 1,
        };
        // Never reserve more than half: user commands must always get room. (Heartbeats
        // faster than limit/2 per window, as only test setups use, exceed the limit anyway.)
        self.reserved = (beats + 2).min(self.limit / 2);
    }

    fn expire(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
    }

    fn budget(&self, priority: bool) -> u32 {
        if priority {
            self.limit
        } else {
            self.limit - self.reserved
        }
    }

    /// When a send of this class may go: `now`, or the instant the oldest counted send
    /// leaves the window.
    pub fn next_slot(&mut self, now: Instant, priority: bool) -> Instant {
        self.expire(now);
        let budget = self.budget(priority) as usize;
        if self.sent.len() < budget {
            return now;
        }
        // The send that must expire first is the one `budget` places from the end.
        let blocking = self.sent[self.sent.len() - budget];
        blocking + self.window
    }

    /// Whether a send of this class may go now.
    #[cfg(test)]
    pub fn ready(&mut self, now: Instant, priority: bool) -> bool {
        self.next_slot(now, priority) <= now
    }

    /// Counts a send made at `now`.
    pub fn record(&mut self, now: Instant) {
        self.expire(now);
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn user_commands_leave_room_for_heartbeats() {
        let start = Instant::now();
        let mut limiter = SendLimiter::new(120, MINUTE, Some(Duration::from_millis(41_250)));
        // 60 s / 41.25 s → 1 beat + 1, plus Identify and op 1: 4 reserved.
        let mut user = 0;
        while limiter.ready(start, false) {
            limiter.record(start);
            user += 1;
        }
        assert_eq!(user, 116);
        let mut priority = 0;
        while limiter.ready(start, true) {
            limiter.record(start);
            priority += 1;
        }
        assert_eq!(priority, 4, "heartbeats still have their reserve");
        assert!(!limiter.ready(start, true));
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let start = Instant::now();
        let mut limiter = SendLimiter::new(120, MINUTE, Some(Duration::from_secs(40)));
        let mut sends = Vec::new();
        let mut now = start;
        // A user command every 100 ms for 5 minutes, sent as soon as allowed.
        for i in 0..3000u32 {
            let wanted = start + Duration::from_millis(100) * i;
            now = now.max(wanted);
            now = limiter.next_slot(now, false);
            limiter.record(now);
            sends.push(now);
        }
        for (i, t) in sends.iter().enumerate() {
            let in_window = sends[i..].iter().take_while(|u| **u < *t + MINUTE).count();
            // Even the stretched window keeps every real 60 s window under the limit.
            assert!(
                in_window <= 120,
                "{in_window} sends within a minute of send {i}"
            );
        }
        // Steady state rate: the user budget per window.
        let last_minute = sends.iter().filter(|t| **t > now - MINUTE).count();
        assert!((100..=120).contains(&last_minute), "{last_minute}");
    }

    #[test]
    fn next_slot_is_when_the_oldest_blocking_send_expires() {
        let start = Instant::now();
        let mut limiter = SendLimiter::new(
            3,
            Duration::from_millis(9524),
            Some(Duration::from_secs(100)),
        );
        let window = limiter.window;
        assert!(window.abs_diff(Duration::from_secs(10)) < Duration::from_millis(1));
        // Reserve is capped at half the limit (1), so users get 2 sends per window.
        limiter.record(start);
        assert_eq!(limiter.next_slot(start, false), start);
        limiter.record(start + Duration::from_secs(1));
        let one = start + Duration::from_secs(1);
        assert_eq!(limiter.next_slot(one, false), start + window);
        assert_eq!(limiter.next_slot(one, true), one);
        limiter.record(start + Duration::from_secs(2));
        assert_eq!(
            limiter.next_slot(start + Duration::from_secs(2), true),
            start + window
        );
        assert!(limiter.ready(start + window, true));
    }

    #[test]
    fn reserve_follows_the_heartbeat_interval() {
        let mut limiter = SendLimiter::new(120, Duration::from_secs(1), None);
        limiter.set_heartbeat_interval(Some(Duration::from_millis(100)));
        assert_eq!(limiter.reserved, 13, "1.05 s window: 10 beats + 1 + 2");
        limiter.set_heartbeat_interval(Some(Duration::from_millis(41_250)));
        assert_eq!(limiter.reserved, 3);
        limiter.set_heartbeat_interval(Some(Duration::from_millis(1)));
        assert_eq!(limiter.reserved, 60, "never more than half");
    }
}
