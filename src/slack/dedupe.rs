//! Which deliveries were seen before: Slack delivers Events API payloads at least once
//! (Slack: The Events API → Retries; SLACK.md §5), so the client drops the second copy of an
//! event before handlers see it. Pure: the caller passes the time.
//!
//! The key is `payload.event_id`, unique across workspaces (Slack: The Events API); envelopes
//! without one (interactive, slash commands) are keyed by `envelope_id`. Keys are kept for a
//! window of at least 10 minutes (Slack's last retry comes about 5 minutes after the first
//! delivery: a 5-minute window processed events twice) and at most `capacity` of them, the
//! oldest forgotten first, so memory stays bounded whatever the traffic.

// The Socket Mode client deduplicates with it before delivering (its reader is being
// written alongside); until it does, only the tests use it.
#![cfg_attr(not(test), allow(dead_code))]

use super::event::Envelope;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a delivery is remembered by default.
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The shortest window allowed: Slack retries up to about 5 minutes after the first try.
pub(crate) const MIN_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How many deliveries are remembered by default (some megabytes at most).
pub(crate) const DEFAULT_CAPACITY: usize = 100_000;

/// What a delivery is recognised by. Two namespaces, so an `envelope_id` can never be
/// mistaken for an `event_id`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Key {
    Event(Arc<str>),
    Envelope(Arc<str>),
}

impl Key {
    fn of(envelope: &Envelope) -> Key {
        match &envelope.event_id {
            Some(event_id) => Key::Event(event_id.clone()),
            None => Key::Envelope(envelope.envelope_id.clone()),
        }
    }
}

/// Remembers deliveries for a window, bounded in count.
#[derive(Debug)]
pub(crate) struct Dedupe {
    window: Duration,
    capacity: usize,
    /// When each remembered key was first seen.
    seen: HashMap<Key, Instant>,
    /// The same keys, oldest first.
    order: VecDeque<(Key, Instant)>,
}

impl Default for Dedupe {
    fn default() -> Dedupe {
        Dedupe::new(DEFAULT_WINDOW, DEFAULT_CAPACITY)
    }
}

impl Dedupe {
    /// Remembers deliveries for `window` (at least [`MIN_WINDOW`]), at most `capacity` of
    /// them (at least one).
    pub fn new(window: Duration, capacity: usize) -> Dedupe {
        Dedupe {
            window: window.max(MIN_WINDOW),
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `envelope` repeats a delivery seen within the window; a first delivery is
    /// remembered from `now` on. A repeat does not extend the window: Slack's retries are
    /// timed from the first delivery.
    pub fn is_duplicate(&mut self, envelope: &Envelope, now: Instant) -> bool {
        self.forget_expired(now);
        let key = Key::of(envelope);
        if self.seen.contains_key(&key) {
            return true;
        }
        while self.seen.len() >= self.capacity {
            let Some((oldest, _)) = self.order.pop_front() else {
                break;
            };
            self.seen.remove(&oldest);
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((key, now));
        false
    }

    /// How many deliveries are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some((key, at)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            self.seen.remove(key);
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::wire::{parse, Frame};

    fn events_api(envelope_id: &str, event_id: &str, retry_attempt: u32) -> Envelope {
        envelope(&format!(
            r#"{{"envelope_id":"{envelope_id}","type":"events_api","accepts_response_payload":false,"retry_attempt":{retry_attempt},"retry_reason":"{}","payload":{{"type":"event_callback","event_id":"{event_id}","event":{{"type":"message","text":"hi"}}}}}}"#,
            if retry_attempt > 0 { "timeout" } else { "" }
        ))
    }

    fn interactive(envelope_id: &str) -> Envelope {
        envelope(&format!(
            r#"{{"envelope_id":"{envelope_id}","type":"interactive","accepts_response_payload":true,"payload":{{"type":"block_actions"}}}}"#
        ))
    }

    fn envelope(text: &str) -> Envelope {
        match parse(text) {
            Ok(Frame::Envelope(envelope)) => envelope,
            other => panic!("not an envelope: {other:?}"),
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn deliveries_and_whether_they_are_duplicates() {
        // (what, envelope, minutes after the start, duplicate?)
        let cases: Vec<(&str, Envelope, u64, bool)> = vec![
            ("first delivery", events_api("n1", "Ev1", 0), 0, false),
            ("another event", events_api("n2", "Ev2", 0), 0, false),
            (
                "Slack's retry: same event_id, new envelope_id",
                events_api("n3", "Ev1", 1),
                1,
                true,
            ),
            (
                "the same envelope re-sent with retry_attempt 0",
                events_api("n1", "Ev1", 0),
                1,
                true,
            ),
            (
                "the last retry, 5 minutes on",
                events_api("n4", "Ev1", 3),
                5,
                true,
            ),
            (
                "an envelope_id that equals an event_id is another delivery",
                interactive("Ev2"),
                6,
                false,
            ),
            (
                "still a duplicate just inside the window",
                events_api("n5", "Ev1", 3),
                14,
                true,
            ),
            (
                "forgotten after the window (15 minutes)",
                events_api("n6", "Ev1", 0),
                15,
                false,
            ),
            (
                "and remembered again from then on",
                events_api("n7", "Ev1", 1),
                16,
                true,
            ),
        ];
        let start = Instant::now();
        let mut dedupe = Dedupe::default();
        for (what, envelope, minutes, duplicate) in cases {
            let now = start + MINUTE * minutes as u32;
            assert_eq!(dedupe.is_duplicate(&envelope, now), duplicate, "{what}");
        }
    }

    #[test]
    fn interactive_deliveries_are_keyed_by_envelope_id() {
        let now = Instant::now();
        let mut dedupe = Dedupe::default();
        assert!(!dedupe.is_duplicate(&interactive("i1"), now));
        assert!(dedupe.is_duplicate(&interactive("i1"), now + MINUTE));
        assert!(!dedupe.is_duplicate(&interactive("i2"), now + MINUTE));
    }

    #[test]
    fn a_full_memory_forgets_the_oldest_first() {
        let now = Instant::now();
        let mut dedupe = Dedupe::new(DEFAULT_WINDOW, 3);
        for (n, id) in ["Ev1", "Ev2", "Ev3", "Ev4"].iter().enumerate() {
            let at = now + Duration::from_secs(n as u64);
            assert!(!dedupe.is_duplicate(&events_api("n", id, 0), at), "{id}");
        }
        assert_eq!(dedupe.len(), 3, "bounded");
        let later = now + Duration::from_secs(10);
        assert!(dedupe.is_duplicate(&events_api("n", "Ev4", 1), later));
        assert!(dedupe.is_duplicate(&events_api("n", "Ev2", 1), later));
        // Ev1 was evicted to make room for Ev4: it counts as new (and evicts Ev2 in turn).
        assert!(!dedupe.is_duplicate(&events_api("n", "Ev1", 1), later));
        assert_eq!(dedupe.len(), 3);
        assert!(!dedupe.is_duplicate(&events_api("n", "Ev2", 2), later));
    }

    #[test]
    fn windows_shorter_than_ten_minutes_are_raised_to_ten() {
        let now = Instant::now();
        let mut dedupe = Dedupe::new(MINUTE, 10);
        assert!(!dedupe.is_duplicate(&events_api("n1", "Ev1", 0), now));
        assert!(
            dedupe.is_duplicate(&events_api("n2", "Ev1", 3), now + MINUTE * 9),
            "a retry 9 minutes on is still caught"
        );
        assert!(!dedupe.is_duplicate(&events_api("n3", "Ev1", 0), now + MINUTE * 10));
    }

    #[test]
    fn expired_keys_are_dropped_from_memory() {
        let now = Instant::now();
        let mut dedupe = Dedupe::default();
        for n in 0..100 {
            dedupe.is_duplicate(&events_api("n", &format!("Ev{n}"), 0), now);
        }
        assert_eq!(dedupe.len(), 100);
        dedupe.is_duplicate(&interactive("i"), now + DEFAULT_WINDOW);
        assert_eq!(dedupe.len(), 1, "only the newest remains");
    }

    #[test]
    fn a_clock_that_goes_back_does_not_panic_or_forget() {
        let now = Instant::now() + MINUTE;
        let mut dedupe = Dedupe::default();
        assert!(!dedupe.is_duplicate(&events_api("n", "Ev1", 0), now));
        assert!(dedupe.is_duplicate(&events_api("n", "Ev1", 1), now - MINUTE));
    }
}
