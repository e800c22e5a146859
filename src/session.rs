//! The session's one owner: its id, resume URL and the last sequence number delivered, with
//! the duplicate and gap checks (Discord: Gateway → Resuming). No I/O: the caller's loop
//! tells it what arrived and acts on its answers; every other thread reads the one
//! published copy ([`SessionCell`]).

use serde::{Deserialize, Serialize};

/// A resumable session: hand it to [`ConfigBuilder::session`](crate::ConfigBuilder::session)
/// in a new process to resume instead of identifying (Discord: Gateway → Resuming).
///
/// ```
/// let session = syncord::Session {
///     id: "abc".into(),
///     seq: 42,
///     resume_url: "wss://gateway-us-east1-b.discord.gg".into(),
/// };
/// let saved = serde_json::to_string(&session).unwrap();
/// let restored: syncord::Session = serde_json::from_str(&saved).unwrap();
/// assert_eq!(restored, session);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `session_id` from READY.
    pub id: String,
    /// The last sequence number delivered to the handler.
    pub seq: u64,
    /// `resume_gateway_url` from READY (without query string).
    pub resume_url: String,
}

/// What to do with a dispatch, as far as the session is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The next one: deliver it.
    Deliver,
    /// Already delivered (a replay overlapping what was delivered): drop it.
    Duplicate {
        /// The last sequence number delivered.
        last: u64,
    },
    /// Deliver it, but `expected` (and maybe more) never arrived.
    Gap {
        /// The sequence number that should have come.
        expected: u64,
    },
}

/// The session as the caller's loop knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SessionTracker {
    /// Id and resume URL once READY gave them (`seq` in it is kept equal to `last_seq`).
    session: Option<Session>,
    /// The last sequence number delivered in this session (0 = none yet).
    last_seq: u64,
    /// `last_seq` when the current Resume was sent, to count the replayed dispatches.
    resumed_from: u64,
}

impl SessionTracker {
    /// Starts from an exported session (resumed on the first connection), or from none.
    pub fn new(exported: Option<Session>) -> SessionTracker {
        SessionTracker {
            last_seq: exported.as_ref().map_or(0, |s| s.seq),
            session: exported,
            resumed_from: 0,
        }
    }

    /// The session to resume, if there is one.
    pub fn resumable(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The last sequence number delivered (0 = none): what heartbeats and Resume carry.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// A Resume is being sent: returns the sequence number it carries.
    pub fn begin_resume(&mut self) -> u64 {
        self.resumed_from = self.last_seq;
        self.last_seq
    }

    /// READY arrived with its dispatch's `seq`. A new session numbers from 1 again; without a
    /// `session_id` there is nothing to resume later. The resume URL falls back to
    /// `gateway_url` when READY has none.
    pub fn on_ready(
        &mut self,
        session_id: Option<String>,
        resume_url: Option<String>,
        gateway_url: Option<&str>,
    ) {
        self.last_seq = 0;
        self.resumed_from = 0;
        self.session = session_id.map(|id| Session {
            id,
            seq: 0,
            resume_url: resume_url
                .or_else(|| gateway_url.map(str::to_owned))
                .unwrap_or_default(),
        });
    }

    /// A dispatch with sequence number `seq` is about to be delivered: whether it should be.
    pub fn on_dispatch(&mut self, seq: u64) -> Delivery {
        let last = self.last_seq;
        if last > 0 && seq <= last {
            return Delivery::Duplicate { last };
        }
        self.set_seq(seq);
        if last > 0 && seq > last + 1 {
            Delivery::Gap { expected: last + 1 }
        } else {
            Delivery::Deliver
        }
    }

    /// Dispatches `first..=last` (consecutive) went by with no handler: what
    /// [`SessionTracker::on_dispatch`] says of the first, and the session moves to `last`.
    pub fn on_unhandled(&mut self, first: u64, last: u64) -> Delivery {
        let delivery = self.on_dispatch(first);
        if last > self.last_seq {
            self.set_seq(last);
        }
        delivery
    }

    /// How many dispatches the server replayed since the Resume was sent.
    pub fn replayed(&self) -> u64 {
        self.last_seq.saturating_sub(self.resumed_from)
    }

    /// Moves past `seq` without delivering it (a dispatch that can never be received).
    pub fn skip_to(&mut self, seq: u64) {
        if self.session.is_some() && seq > self.last_seq {
            self.set_seq(seq);
        }
    }

    /// Gives the session up: returns its id and the last delivered seq, if there was one.
    pub fn abandon(&mut self) -> Option<(String, u64)> {
        let last = self.last_seq;
        let lost = self.session.take().map(|s| (s.id, last));
        *self = SessionTracker::default();
        lost
    }

    /// The exportable session, as of the last delivered dispatch.
    pub fn snapshot(&self) -> Option<Session> {
        self.session.clone()
    }

    fn set_seq(&mut self, seq: u64) {
        self.last_seq = seq;
        if let Some(session) = &mut self.session {
            session.seq = seq;
        }
    }
}

/// The one published copy of the session, for every thread (the handle's `session()`, the
/// writer's heartbeats); only the caller's loop changes it.
pub(crate) type SessionCell = std::sync::Arc<parking_lot::Mutex<SessionTracker>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// One thing the caller's loop tells the tracker.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Ready,
        Resume,
        Dispatch(u64),
        /// A run of unhandled dispatches, `first..=last`.
        Unhandled(u64, u64),
    }

    /// Runs `steps` and returns, for each dispatch, what the tracker said, and the last seq.
    fn run(start: Option<Session>, steps: &[Step]) -> (Vec<Delivery>, u64) {
        let mut tracker = SessionTracker::new(start);
        let mut out = vec![];
        for step in steps {
            match *step {
                Step::Ready => tracker.on_ready(Some("s".into()), None, Some("wss://g")),
                Step::Resume => {
                    tracker.begin_resume();
                }
                Step::Dispatch(seq) => out.push(tracker.on_dispatch(seq)),
                Step::Unhandled(first, last) => out.push(tracker.on_unhandled(first, last)),
            }
        }
        (out, tracker.last_seq())
    }

    #[test]
    fn sequences_table() {
        use Delivery::*;
        use Step::*;
        let exported = Session {
            id: "old".into(),
            seq: 5,
            resume_url: "wss://r".into(),
        };
        // (case, exported session, steps, what each dispatch gets, last seq after)
        type Row = (&'static str, Option<Session>, Vec<Step>, Vec<Delivery>, u64);
        let table: Vec<Row> = vec![
            (
                "in order",
                None,
                vec![Ready, Dispatch(1), Dispatch(2), Dispatch(3)],
                vec![Deliver, Deliver, Deliver],
                3,
            ),
            (
                "duplicate",
                None,
                vec![Ready, Dispatch(1), Dispatch(2), Dispatch(2)],
                vec![Deliver, Deliver, Duplicate { last: 2 }],
                2,
            ),
            (
                "gap",
                None,
                vec![Ready, Dispatch(1), Dispatch(4), Dispatch(5)],
                vec![Deliver, Gap { expected: 2 }, Deliver],
                5,
            ),
            (
                "replay overlapping what was delivered",
                Some(exported.clone()),
                vec![Resume, Dispatch(4), Dispatch(5), Dispatch(6), Dispatch(7)],
                vec![
                    Duplicate { last: 5 },
                    Duplicate { last: 5 },
                    Deliver,
                    Deliver,
                ],
                7,
            ),
            (
                // A payload that failed its scan is never handed to the tracker.
                "skipped payload",
                None,
                vec![Ready, Dispatch(1), Dispatch(3)],
                vec![Deliver, Gap { expected: 2 }],
                3,
            ),
            (
                "unhandled runs count as delivered",
                None,
                vec![Ready, Dispatch(1), Unhandled(2, 9), Dispatch(10)],
                vec![Deliver, Deliver, Deliver],
                10,
            ),
            (
                "a gap before an unhandled run",
                None,
                vec![Ready, Dispatch(1), Unhandled(4, 6), Dispatch(7)],
                vec![Deliver, Gap { expected: 2 }, Deliver],
                7,
            ),
            (
                "a replayed unhandled run, partly new",
                Some(exported.clone()),
                vec![Resume, Unhandled(3, 8), Dispatch(8), Dispatch(9)],
                vec![Duplicate { last: 5 }, Duplicate { last: 8 }, Deliver],
                9,
            ),
            (
                "a new READY numbers from one again",
                Some(exported),
                vec![Dispatch(6), Ready, Dispatch(1)],
                vec![Deliver, Deliver],
                1,
            ),
        ];
        for (name, start, steps, want, last) in table {
            assert_eq!(run(start, &steps), (want, last), "{name}");
        }
    }

    #[test]
    fn ready_without_session_id_delivers_but_cannot_resume() {
        let mut tracker = SessionTracker::new(None);
        tracker.on_ready(None, Some("wss://r".into()), None);
        assert_eq!(tracker.on_dispatch(1), Delivery::Deliver);
        assert_eq!(tracker.resumable(), None);
        assert_eq!(tracker.snapshot(), None);
    }

    #[test]
    fn the_resume_url_falls_back_to_the_gateway_url() {
        let mut tracker = SessionTracker::new(None);
        tracker.on_ready(Some("a".into()), None, Some("wss://g"));
        assert_eq!(
            tracker.resumable().map(|s| s.resume_url.as_str()),
            Some("wss://g")
        );
    }

    #[test]
    fn replayed_counts_from_the_resume() {
        let mut tracker = SessionTracker::new(Some(Session {
            id: "a".into(),
            seq: 10,
            resume_url: String::new(),
        }));
        assert_eq!(tracker.begin_resume(), 10);
        for seq in 11..=13 {
            tracker.on_dispatch(seq);
        }
        assert_eq!(tracker.replayed(), 3);
        assert_eq!(tracker.snapshot().map(|s| s.seq), Some(13));
    }

    #[test]
    fn abandon_returns_the_lost_session_once() {
        let mut tracker = SessionTracker::new(None);
        tracker.on_ready(Some("a".into()), None, None);
        tracker.on_dispatch(1);
        tracker.on_dispatch(2);
        assert_eq!(tracker.abandon(), Some(("a".into(), 2)));
        assert_eq!(tracker.abandon(), None);
        assert_eq!(tracker.last_seq(), 0);
    }

    #[test]
    fn skip_moves_past_an_undeliverable_dispatch() {
        let mut tracker = SessionTracker::new(None);
        tracker.on_ready(Some("a".into()), None, None);
        tracker.on_dispatch(1);
        tracker.skip_to(2);
        assert_eq!(tracker.on_dispatch(3), Delivery::Deliver);
    }
}
